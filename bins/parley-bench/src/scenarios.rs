//! The scenarios of docs/BENCHMARKS.md. Each starts its own parleyd (a fresh database) and measures
//! its reference in the same run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use api::v1::auth_service_client::AuthServiceClient;
use api::v1::message_service_client::MessageServiceClient;
use api::v1::room_service_client::RoomServiceClient;
use api::v1::{
    CreateRoomRequest, JoinRoomRequest, ListMessagesRequest, ListRoomsRequest, LoginRequest, SearchMessagesRequest,
    SendMessageRequest, SubscribeRequest, Visibility,
};
use futures::StreamExt as _;
use hdrhistogram::Histogram;
use testkit::{Daemon, Nats, TestDb};

use crate::callgrind::Callgrind;
use crate::load::{self, PASSWORD, Room, bearer, connect};
use crate::progress::Progress;
use crate::report::{Better, Row};
use crate::socketio::Socket;
use crate::{peer, reference};

/// Sizes of every scenario.
#[derive(Debug, Clone)]
pub struct Sizes {
    pub duration: Duration,
    pub message_size: usize,
    pub latency_subscribers: usize,
    pub latency_rate: f64,
    pub fanout_subscribers: usize,
    pub fanout_rate: f64,
    pub spread_subscribers: usize,
    pub spread_rate: f64,
    pub senders: usize,
    pub idle_streams: usize,
    /// Connections, each with one stream, in the connections scenario.
    pub connections: usize,
    pub history_messages: u64,
    pub history_queries: usize,
    pub login_concurrency: usize,
    /// Rooms of the unread scenario's reader, each with unread messages.
    pub unread_rooms: usize,
    /// Messages in the search scenario's room.
    pub search_messages: u64,
}

impl Sizes {
    /// The sizes the targets are stated for.
    pub fn full() -> Self {
        Self {
            duration: Duration::from_secs(10),
            message_size: 200,
            latency_subscribers: 100,
            latency_rate: 200.0,
            fanout_subscribers: 1000,
            fanout_rate: 250.0,
            spread_subscribers: 1000,
            spread_rate: 50.0,
            senders: 64,
            idle_streams: 10_000,
            connections: 10_000,
            history_messages: 10_000_000,
            history_queries: 500,
            // Twice the cores: while one login waits for its session's commit, another hashes.
            login_concurrency: 4,
            unread_rooms: 200,
            search_messages: 10_000_000,
        }
    }

    /// A seconds-long smoke run that exercises every code path (CI).
    pub fn quick() -> Self {
        Self {
            duration: Duration::from_secs(2),
            message_size: 200,
            latency_subscribers: 10,
            latency_rate: 50.0,
            fanout_subscribers: 50,
            fanout_rate: 50.0,
            spread_subscribers: 30,
            spread_rate: 20.0,
            senders: 8,
            idle_streams: 300,
            connections: 30,
            history_messages: 5_000,
            history_queries: 30,
            login_concurrency: 2,
            unread_rooms: 20,
            search_messages: 5_000,
        }
    }
}

/// What the scenarios share.
#[derive(Debug, Clone)]
pub struct Env {
    pub parleyd: PathBuf,
    pub this: PathBuf,
    pub mysql: String,
    pub sizes: Sizes,
    /// Run the servers under callgrind and count instructions per delivery (`--callgrind`).
    pub callgrind: Option<Callgrind>,
}

/// A parleyd on a fresh database, and the database (dropped with it).
struct Server {
    daemon: Daemon,
    db: TestDb,
    _data: tempfile::TempDir,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Mysql,
    Sqlite,
}

impl Env {
    async fn parleyd(&self, backend: Backend) -> anyhow::Result<Server> {
        self.parleyd_with(backend, &[]).await
    }

    /// As [`Env::parleyd`], with extra environment variables for the process.
    async fn parleyd_with(&self, backend: Backend, envs: &[(&str, &str)]) -> anyhow::Result<Server> {
        let db = match backend {
            Backend::Mysql => self.mysql_db().await?,
            Backend::Sqlite => TestDb::sqlite().await,
        };
        let (daemon, data) = self.spawn_parleyd(&db, &[], envs).await?;
        Ok(Server { daemon, db, _data: data })
    }

    async fn mysql_db(&self) -> anyhow::Result<TestDb> {
        TestDb::mysql_at(&self.mysql).await.with_context(|| format!("MySQL at {}", storage::redact(&self.mysql)))
    }

    /// A parleyd on `db` with a data directory of its own, the benchmark's settings, and `extra` arguments.
    async fn spawn_parleyd(
        &self,
        db: &TestDb,
        extra: &[&str],
        envs: &[(&str, &str)],
    ) -> anyhow::Result<(Daemon, tempfile::TempDir)> {
        let data = tempfile::tempdir()?;
        let mut args = vec![
            "--data-dir",
            data.path().to_str().unwrap_or_default(),
            "--database-url",
            db.url(),
            "--db-max-connections",
            "16",
            // Load generators are not people: request rate limits would measure themselves, and the
            // memory scenarios hold far more streams per user than anyone's devices would.
            "--rate-limits",
            "off",
            "--max-streams-per-user",
            "1000000",
        ];
        args.extend_from_slice(extra);
        let daemon = self.spawn(&self.parleyd, "parleyd", &args, envs).await?;
        Ok((daemon, data))
    }

    /// `nodes` parleyds on one fresh MySQL database and a NATS server of their own, as one cluster.
    async fn cluster(&self, nodes: usize) -> anyhow::Result<Cluster> {
        let db = self.mysql_db().await?;
        anyhow::ensure!(Nats::available(), "the cluster scenario needs nats-server (apt-get install nats-server)");
        let nats = Nats::start().await?;
        let url = nats.url();
        let extra = ["--jwt-secret", "benchmark secret, at least thirty-two bytes long", "--nats-url", &url];
        let (mut daemons, mut dirs) = (Vec::with_capacity(nodes), Vec::with_capacity(nodes));
        for _ in 0..nodes {
            let (daemon, data) = self.spawn_parleyd(&db, &extra, &[]).await?;
            daemons.push(daemon);
            dirs.push(data);
        }
        // Every node has subscribed and heard the others.
        tokio::time::sleep(Duration::from_secs(2)).await;
        Ok(Cluster { daemons, _nats: nats, _db: db, _dirs: dirs })
    }

    async fn reference_server(&self) -> anyhow::Result<Daemon> {
        self.reference_server_with(&[]).await
    }

    async fn reference_server_with(&self, envs: &[(&str, &str)]) -> anyhow::Result<Daemon> {
        self.spawn(&self.this, "reference", &["reference-server"], envs).await
    }

    /// Starts a server binary, under callgrind when counting instructions.
    async fn spawn(&self, binary: &Path, name: &str, args: &[&str], envs: &[(&str, &str)]) -> anyhow::Result<Daemon> {
        match &self.callgrind {
            None => Daemon::spawn(binary, args, envs).await,
            Some(callgrind) => {
                let (valgrind, wrapped) = callgrind.wrap(name, binary, args);
                let wrapped: Vec<&str> = wrapped.iter().map(String::as_str).collect();
                Daemon::spawn(&valgrind, &wrapped, envs).await
            }
        }
    }
}

/// parleyds over NATS on one database (all dropped with it).
struct Cluster {
    daemons: Vec<Daemon>,
    _nats: Nats,
    _db: TestDb,
    _dirs: Vec<tempfile::TempDir>,
}

/// A public room on `server` with a sender and `readers` subscribing users.
async fn room(url: &str, readers: usize) -> anyhow::Result<Room> {
    let channel = connect(url).await?;
    let sender = load::register(&channel, "sender", 1).await?.remove(0);
    let request =
        CreateRoomRequest { name: "bench".into(), topic: String::new(), visibility: Visibility::Public.into() };
    let created =
        RoomServiceClient::new(channel.clone()).create_room(bearer(request, &sender.token)).await?.into_inner();
    let room_id = created.room.context("no room")?.id;
    let users = load::register(&channel, "reader", readers).await?;
    for u in &users {
        RoomServiceClient::new(channel.clone())
            .join_room(bearer(JoinRoomRequest { room_id: room_id.clone() }, &u.token))
            .await?;
    }
    Ok(Room {
        url: url.to_owned(),
        room_id,
        sender: sender.token,
        readers: users.into_iter().map(|u| u.token).collect(),
        subscribe_at: Vec::new(),
    })
}

fn reference_room(url: &str) -> Room {
    Room {
        url: url.to_owned(),
        room_id: "reference".into(),
        sender: String::new(),
        readers: vec![String::new()],
        subscribe_at: Vec::new(),
    }
}

/// 1. Send-to-deliver latency with many subscribers in one room, durable on MySQL.
pub async fn latency(env: &Env) -> anyhow::Result<Vec<Row>> {
    let s = &env.sizes;
    let (subs, rate) = (s.latency_subscribers, s.latency_rate);
    let connections = subs.div_ceil(100);
    let reference = env.reference_server().await?;
    let bare_cpu = measured(env, &reference, &reference_room(&reference.url), subs, connections, rate).await?;
    drop(reference);
    let server = env.parleyd(Backend::Mysql).await?;
    let target = room(&server.daemon.url, subs.min(20)).await?;
    let got_cpu = measured(env, &server.daemon, &target, subs, connections, rate).await?;
    let (got, bare) = (&got_cpu.run, &bare_cpu.run);
    let name = format!("{subs} subscribers, {rate} msg/s, MySQL");
    eprintln!(
        "latency: {name}: parley sent {} delivered {}, reference delivered {}",
        got.sent, got.delivered, bare.delivered
    );
    let scenario = "1 latency";
    Ok(vec![
        Row::new(scenario, "send→deliver p50", "ms", got.percentile_ms(0.5), Better::Lower)
            .reference(bare.percentile_ms(0.5)),
        Row::new(scenario, "send→deliver p99", "ms", got.percentile_ms(0.99), Better::Lower)
            .reference(bare.percentile_ms(0.99))
            .at_most(15.0),
        Row::new(scenario, "send→deliver p99.9", "ms", got.percentile_ms(0.999), Better::Lower)
            .reference(bare.percentile_ms(0.999)),
        Row::new(scenario, "server CPU-s per 100k deliveries", "s", got_cpu.cpu_per_100k(), Better::Lower)
            .reference(bare_cpu.cpu_per_100k()),
        Row::new(scenario, "deliveries lost", "count", got.lost(subs), Better::Lower)
            .reference(bare.lost(subs))
            .at_most(0.0),
    ])
}

/// Scenario 7, scenario 1's load across a cluster: three nodes over NATS on one MySQL database, the sender
/// on one node and the subscribers spread over the other two, so that every delivery crosses nodes; next
/// to the same load on one node, in the same run.
pub async fn cluster(env: &Env) -> anyhow::Result<Vec<Row>> {
    let s = &env.sizes;
    let (subs, rate) = (s.latency_subscribers, s.latency_rate);
    let connections = subs.div_ceil(100).max(2);
    let single = env.parleyd(Backend::Mysql).await?;
    let target = room(&single.daemon.url, subs.min(20)).await?;
    let one = load::broadcast(&target, subs, connections, rate, s.duration, s.message_size).await?;
    drop(single);
    let cluster = env.cluster(3).await?;
    let mut target = room(&cluster.daemons[0].url, subs.min(20)).await?;
    target.subscribe_at = cluster.daemons[1..].iter().map(|d| d.url.clone()).collect();
    let got = load::broadcast(&target, subs, connections, rate, s.duration, s.message_size).await?;
    eprintln!(
        "cluster: {subs} subscribers on two nodes, {rate} msg/s sent on a third: sent {} delivered {}; one node delivered {}",
        got.sent, got.delivered, one.delivered
    );
    let scenario = "7 cluster";
    Ok(vec![
        Row::new(scenario, "cross-node send→deliver p50", "ms", got.percentile_ms(0.5), Better::Lower)
            .reference(one.percentile_ms(0.5)),
        Row::new(scenario, "cross-node send→deliver p99", "ms", got.percentile_ms(0.99), Better::Lower)
            .reference(one.percentile_ms(0.99))
            .ratio_at_most(1.5),
        Row::new(scenario, "deliveries/s", "1/s", got.deliveries_per_second(), Better::Higher)
            .reference(one.deliveries_per_second()),
        Row::new(scenario, "deliveries lost", "count", got.lost(subs), Better::Lower).at_most(0.0),
    ])
}

/// 2. Deliveries per second in one room with many subscribers.
pub async fn fanout(env: &Env) -> anyhow::Result<Vec<Row>> {
    let s = &env.sizes;
    let (subs, rate) = (s.fanout_subscribers, s.fanout_rate);
    let connections = subs.div_ceil(100);
    let reference = env.reference_server().await?;
    let bare_cpu = measured(env, &reference, &reference_room(&reference.url), subs, connections, rate).await?;
    drop(reference);
    let server = env.parleyd(Backend::Mysql).await?;
    let target = room(&server.daemon.url, subs.min(50)).await?;
    let got_cpu = measured(env, &server.daemon, &target, subs, connections, rate).await?;
    let (got, bare) = (&got_cpu.run, &bare_cpu.run);
    eprintln!(
        "fanout: parley sent {} delivered {} in {:?}; reference sent {} delivered {} in {:?}",
        got.sent, got.delivered, got.elapsed, bare.sent, bare.delivered, bare.elapsed
    );
    let scenario = "2 fan-out";
    Ok(vec![
        Row::new(
            scenario,
            &format!("deliveries/s, {subs} subscribers"),
            "/s",
            got.deliveries_per_second(),
            Better::Higher,
        )
        .reference(bare.deliveries_per_second())
        .at_least(200_000.0)
        .ratio_at_least(0.5),
        Row::new(scenario, "server CPU-s per 100k deliveries", "s", got_cpu.cpu_per_100k(), Better::Lower)
            .reference(bare_cpu.cpu_per_100k()),
        Row::new(scenario, "deliveries lost", "count", got.lost(subs), Better::Lower)
            .reference(bare.lost(subs))
            .at_most(0.0),
    ])
}

/// A broadcast run with the server's CPU time over it (and its instructions, under `--callgrind`).
struct Measured {
    run: load::Broadcast,
    cpu_seconds: f64,
    instructions: Option<u64>,
}

impl Measured {
    /// Server CPU seconds per 100,000 deliveries.
    fn cpu_per_100k(&self) -> f64 {
        self.cpu_seconds / (self.run.delivered.max(1) as f64) * 100_000.0
    }

    /// Server instructions per delivery, when counted.
    fn instructions_per_delivery(&self) -> Option<f64> {
        self.instructions.map(|n| n as f64 / self.run.delivered.max(1) as f64)
    }
}

async fn measured(
    env: &Env,
    server: &Daemon,
    room: &Room,
    subs: usize,
    connections: usize,
    rate: f64,
) -> anyhow::Result<Measured> {
    let s = &env.sizes;
    let before = server.cpu_seconds()?;
    if let Some(callgrind) = &env.callgrind {
        callgrind.start(server.pid())?;
    }
    let run = load::broadcast(room, subs, connections, rate, s.duration, s.message_size).await?;
    let instructions = env.callgrind.as_ref().map(|c| c.stop(server.pid())).transpose()?;
    Ok(Measured { cpu_seconds: server.cpu_seconds()? - before, run, instructions })
}

/// 2b. Fan-out as browsers and phones connect: one connection per subscriber, with the server's CPU per
/// delivery. (CPU includes opening the streams, for both servers alike.) Beside the bare tonic reference,
/// the Socket.IO peer (Node, memory only) takes the same load over its own protocol, when Node is here.
pub async fn spread(env: &Env) -> anyhow::Result<Vec<Row>> {
    let s = &env.sizes;
    let (subs, rate) = (s.spread_subscribers, s.spread_rate);
    let reference = env.reference_server().await?;
    let bare = measured(env, &reference, &reference_room(&reference.url), subs, subs, rate).await?;
    let bare_peak = mib(reference.peak_rss_kib()?);
    drop(reference);
    let server = env.parleyd(Backend::Mysql).await?;
    let target = room(&server.daemon.url, subs.min(50)).await?;
    let got = measured(env, &server.daemon, &target, subs, subs, rate).await?;
    let got_peak = mib(server.daemon.peak_rss_kib()?);
    drop(server);
    // Under callgrind only the gRPC servers are counted.
    let peer =
        if env.callgrind.is_none() && peer::available()? { Some(measured_peer(subs, rate, s).await?) } else { None };
    eprintln!(
        "spread: parley delivered {} using {:.2} CPU-s; reference delivered {} using {:.2} CPU-s",
        got.run.delivered, got.cpu_seconds, bare.run.delivered, bare.cpu_seconds
    );
    let scenario = "2b spread fan-out";
    let name = format!("{subs} connections × 1 stream, {rate} msg/s");
    let mut rows = vec![
        Row::new(scenario, &format!("send→deliver p50, {name}"), "ms", got.run.percentile_ms(0.5), Better::Lower)
            .reference(bare.run.percentile_ms(0.5))
            .ratio_at_most(1.5),
        Row::new(scenario, "send→deliver p99", "ms", got.run.percentile_ms(0.99), Better::Lower)
            .reference(bare.run.percentile_ms(0.99)),
        Row::new(scenario, "server CPU-s per 100k deliveries", "s", got.cpu_per_100k(), Better::Lower)
            .reference(bare.cpu_per_100k()),
        Row::new(scenario, "server peak RSS", "MiB", got_peak, Better::Lower).reference(bare_peak),
        Row::new(scenario, "deliveries lost", "count", got.run.lost(subs), Better::Lower)
            .reference(bare.run.lost(subs))
            .at_most(0.0),
    ];
    if let (Some(got), Some(bare)) = (got.instructions_per_delivery(), bare.instructions_per_delivery()) {
        rows.push(Row::new(scenario, "instructions per delivery (callgrind)", "", got, Better::Lower).reference(bare));
    }
    if let Some((peer, peer_peak)) = peer {
        eprintln!(
            "spread: the Socket.IO peer sent {} delivered {} using {:.2} CPU-s",
            peer.run.sent, peer.run.delivered, peer.cpu_seconds
        );
        let scenario = "2b vs peer";
        rows.extend([
            Row::new(scenario, "send→deliver p50 (ref: Socket.IO)", "ms", got.run.percentile_ms(0.5), Better::Lower)
                .reference(peer.run.percentile_ms(0.5)),
            Row::new(scenario, "send→deliver p99 (ref: Socket.IO)", "ms", got.run.percentile_ms(0.99), Better::Lower)
                .reference(peer.run.percentile_ms(0.99)),
            Row::new(scenario, "CPU-s per 100k deliveries (ref: Socket.IO)", "s", got.cpu_per_100k(), Better::Lower)
                .reference(peer.cpu_per_100k())
                .ratio_at_most(0.5),
            Row::new(scenario, "server peak RSS (ref: Socket.IO)", "MiB", got_peak, Better::Lower).reference(peer_peak),
            Row::new(scenario, "deliveries lost (ref: Socket.IO)", "count", got.run.lost(subs), Better::Lower)
                .reference(peer.run.lost(subs)),
        ]);
    }
    Ok(rows)
}

/// The Socket.IO peer under scenario 2b's load: the run, with its CPU, and its peak RSS in MiB.
async fn measured_peer(subs: usize, rate: f64, s: &Sizes) -> anyhow::Result<(Measured, f64)> {
    let peer = peer::spawn().await?;
    let before = peer.cpu_seconds()?;
    let run = load::broadcast_socketio(peer.addr, subs, rate, s.duration, s.message_size).await?;
    let cpu_seconds = peer.cpu_seconds()? - before;
    Ok((Measured { run, cpu_seconds, instructions: None }, mib(peer.peak_rss_kib()?)))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// 3. Acknowledged durable sends per second with many concurrent senders, on MySQL and on SQLite.
pub async fn throughput(env: &Env) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for backend in [Backend::Mysql, Backend::Sqlite] {
        let s = &env.sizes;
        let server = env.parleyd(backend).await?;
        let url = &server.daemon.url;
        let channel = connect(url).await?;
        let senders = load::register(&channel, "sender", s.senders).await?;
        // Eight rooms, senders spread over them, as in the reference.
        let mut rooms = Vec::new();
        for i in 0..8 {
            let request = CreateRoomRequest {
                name: format!("room {i}"),
                topic: String::new(),
                visibility: Visibility::Public.into(),
            };
            let r = RoomServiceClient::new(channel.clone())
                .create_room(bearer(request, &senders[0].token))
                .await?
                .into_inner();
            rooms.push(r.room.context("no room")?.id);
        }
        for (i, u) in senders.iter().enumerate().skip(1) {
            let request = JoinRoomRequest { room_id: rooms[i % rooms.len()].clone() };
            RoomServiceClient::new(channel.clone()).join_room(bearer(request, &u.token)).await?;
        }
        let channels = load::connect_many(url, 8).await?;
        let body = "x".repeat(s.message_size);
        let started = Instant::now();
        let loops = senders.iter().enumerate().map(|(i, u)| {
            let mut client = MessageServiceClient::new(channels[i % channels.len()].clone());
            let (room_id, token, body, duration) =
                (rooms[i % rooms.len()].clone(), u.token.clone(), body.clone(), s.duration);
            tokio::spawn(async move {
                let mut acked = 0u64;
                while started.elapsed() < duration {
                    let request = SendMessageRequest {
                        room_id: room_id.clone(),
                        body: body.clone(),
                        client_message_id: format!("t{i}-{acked}"),
                        reply_to_seq: 0,
                    };
                    client.send_message(bearer(request, &token)).await?;
                    acked += 1;
                }
                anyhow::Ok(acked)
            })
        });
        let mut acked = 0;
        for l in futures::future::join_all(loops).await {
            acked += l??;
        }
        let per_second = acked as f64 / started.elapsed().as_secs_f64();
        // The search index is written just after each send: how far behind the sends it ended.
        let sent = Instant::now();
        while !server.db.db().read().await?.unindexed_rooms(None, 1).await?.is_empty() {
            anyhow::ensure!(sent.elapsed() < Duration::from_secs(120), "the search index did not catch up");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let index_lag = sent.elapsed().as_secs_f64() * 1000.0;
        drop(server.daemon);

        // The reference on the same database: plain inserts, one autocommit each, as many at once.
        let user = first_user(&server.db).await?;
        let room_ids: Vec<types::RoomId> = rooms.iter().map(|r| r.parse()).collect::<Result<_, _>>()?;
        let started = Instant::now();
        let inserted =
            storage::bench::insert_loop(server.db.db(), &room_ids, user, &body, s.senders, s.duration).await?;
        let bare = inserted as f64 / started.elapsed().as_secs_f64();
        let name = match backend {
            Backend::Mysql => "durable sends/s, MySQL",
            Backend::Sqlite => "durable sends/s, SQLite",
        };
        let mut row =
            Row::new("3 throughput", &format!("{name}, {} senders", s.senders), "/s", per_second, Better::Higher)
                .reference(bare)
                .ratio_at_least(0.7);
        if backend == Backend::Mysql {
            row = row.at_least(5000.0);
        }
        rows.push(row);
        let lag = format!("search index caught up after the last send, {name}");
        rows.push(Row::new("3 throughput", &lag, "ms", index_lag, Better::Lower));
    }
    Ok(rows)
}

async fn first_user(db: &TestDb) -> anyhow::Result<types::UserId> {
    let found = db.db().read().await?.credentials_by_key("sender-0").await?.context("no sender")?;
    Ok(found.account.user.id)
}

/// 4. Server memory per idle subscription.
pub async fn memory(env: &Env) -> anyhow::Result<Vec<Row>> {
    let streams = env.sizes.idle_streams;
    // Setting glibc's mmap threshold turns off its dynamic adjustment. Without that, freeing one of argon2's
    // 19 MiB buffers (registering the readers hashes 100 passwords) raises the threshold, later buffers
    // come from the heap and stay there, and the streams' allocations then reuse that free memory or not,
    // by chance: the growth measured moved between 0.7 and 15.8 KiB per stream on the same build.
    let fixed_malloc = [("MALLOC_MMAP_THRESHOLD_", "131072")];
    let server = env.parleyd_with(Backend::Sqlite, &fixed_malloc).await?;
    let target = room(&server.daemon.url, 100.min(streams)).await?;
    let parley = idle_streams(&server.daemon, &target, streams, 100).await?.per_stream_kib;
    drop(server);
    let reference = env.reference_server_with(&fixed_malloc).await?;
    let bare = idle_streams(&reference, &reference_room(&reference.url), streams, 100).await?.per_stream_kib;
    Ok(vec![
        Row::new("4 memory", &format!("RSS per idle subscription, {streams} streams"), "KiB", parley, Better::Lower)
            .reference(bare)
            .at_most(10.0),
    ])
}

/// 4b. Server memory per connection: many connections, each with one Subscribe stream, as browsers and
/// phones connect (10,000 at full size); the reference server holds as many connections and streams, and
/// the Socket.IO peer as many connections, each in the room.
pub async fn connections(env: &Env) -> anyhow::Result<Vec<Row>> {
    let n = env.sizes.connections;
    let server = env.parleyd(Backend::Sqlite).await?;
    // Each user costs an argon2 hash to register: the streams are spread over at most 100 of them.
    let target = room(&server.daemon.url, n.min(100)).await?;
    let parley = idle_streams(&server.daemon, &target, n, 1).await?;
    drop(server);
    let reference = env.reference_server().await?;
    let bare = idle_streams(&reference, &reference_room(&reference.url), n, 1).await?;
    drop(reference);
    let peer = if env.callgrind.is_none() && peer::available()? { Some(idle_peer(n).await?) } else { None };
    let scenario = "4b connections";
    let mut rows = vec![
        Row::new(scenario, &format!("RSS per connection, {n} × 1 stream"), "KiB", parley.per_stream_kib, Better::Lower)
            .reference(bare.per_stream_kib)
            .at_most(16.0),
        Row::new(scenario, "of which the connection alone", "KiB", parley.per_connection_kib, Better::Lower)
            .reference(bare.per_connection_kib),
        Row::new(scenario, &format!("server RSS with {n} connections open"), "MiB", mib(parley.rss_kib), Better::Lower)
            .reference(mib(bare.rss_kib)),
    ];
    if let Some(peer) = peer {
        rows.extend([
            Row::new(scenario, "RSS per connection (ref: Socket.IO)", "KiB", parley.per_stream_kib, Better::Lower)
                .reference(peer.per_stream_kib),
            Row::new(
                scenario,
                "of which the connection (ref: Socket.IO)",
                "KiB",
                parley.per_connection_kib,
                Better::Lower,
            )
            .reference(peer.per_connection_kib),
            Row::new(scenario, "server RSS (ref: Socket.IO)", "MiB", mib(parley.rss_kib), Better::Lower)
                .reference(mib(peer.rss_kib)),
        ]);
    }
    Ok(rows)
}

/// What holding idle streams cost a server.
struct Idle {
    /// RSS growth per stream, connections included, KiB.
    per_stream_kib: f64,
    /// RSS growth per connection before any stream was opened on it, KiB.
    per_connection_kib: f64,
    /// RSS with the streams open, KiB.
    rss_kib: u64,
}

impl Idle {
    /// Measured RSS: `before` anything was opened, with the connections open (`connected`), and with the
    /// streams open too (`after`).
    fn new(before: u64, connected: u64, after: u64, connections: usize, streams: usize) -> Self {
        let per = |kib: u64, n: usize| kib as f64 / n.max(1) as f64;
        Self {
            per_stream_kib: per(after.saturating_sub(before), streams),
            per_connection_kib: per(connected.saturating_sub(before), connections),
            rss_kib: after,
        }
    }
}

/// Streams (or connections) opened at once while a scenario sets up: enough to keep the server busy, few
/// enough that neither side queues much.
const OPENING: usize = 32;

/// Runs `opens` [`OPENING`] at a time; fails with the first error.
async fn open_all<T, F>(opens: impl Iterator<Item = F>) -> anyhow::Result<Vec<T>>
where
    F: Future<Output = anyhow::Result<T>>,
{
    futures::stream::iter(opens).buffer_unordered(OPENING).collect::<Vec<_>>().await.into_iter().collect()
}

/// How long a server is given to settle before its RSS is read.
const SETTLE: Duration = Duration::from_secs(2);

/// Opens `n` idle streams, `per_connection` on each connection, and measures the server's RSS growth: once
/// the connections are open, and again with the streams.
async fn idle_streams(server: &Daemon, room: &Room, n: usize, per_connection: usize) -> anyhow::Result<Idle> {
    // Warm up: one connection, one stream, opened and closed.
    {
        let channel = connect(&server.url).await?;
        let mut s = MessageServiceClient::new(channel)
            .subscribe(bearer(SubscribeRequest::default(), &room.readers[0]))
            .await?
            .into_inner();
        s.message().await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = server.rss_kib()?;
    let connections = n.div_ceil(per_connection);
    let channels = open_all((0..connections).map(|_| connect(&server.url))).await?;
    tokio::time::sleep(SETTLE).await;
    let connected = server.rss_kib()?;
    let open = open_all((0..n).map(|i| {
        let mut client = MessageServiceClient::new(channels[i / per_connection].clone());
        let token = room.readers[i % room.readers.len()].clone();
        async move {
            let mut s = client.subscribe(bearer(SubscribeRequest::default(), &token)).await?.into_inner();
            s.message().await?.context("stream ended before ready")?;
            anyhow::Ok(s)
        }
    }))
    .await?;
    tokio::time::sleep(SETTLE).await;
    let after = server.rss_kib()?;
    drop(open);
    Ok(Idle::new(before, connected, after, connections, n))
}

/// As [`idle_streams`] for the Socket.IO peer: `n` connections, then each subscribed to one room.
async fn idle_peer(n: usize) -> anyhow::Result<Idle> {
    let peer = peer::spawn().await?;
    let addr = peer.addr;
    // Warm up, as for the gRPC servers.
    Socket::connect(addr).await?.call("subscribe", &"bench").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = peer.rss_kib()?;
    // Each connection is read by a task of its own from the start, which answers the server's pings (it
    // drops a connection silent for 45 s, and opening 10,000 can take that long).
    let callers =
        open_all((0..n).map(|_| async move { anyhow::Ok(Socket::connect(addr).await?.into_caller()) })).await?;
    tokio::time::sleep(SETTLE).await;
    let connected = peer.rss_kib()?;
    open_all(callers.iter().map(|caller| caller.call("subscribe", &"bench"))).await?;
    tokio::time::sleep(SETTLE).await;
    let after = peer.rss_kib()?;
    drop(callers);
    Ok(Idle::new(before, connected, after, n, n))
}

/// A user (`sender-0`) and a public room of theirs, to be filled by bulk loading.
/// A room to fill straight through storage, owned by the user `sender-0` (who logs in again after a long
/// load: it outlasts an access token).
struct Archive {
    channel: tonic::transport::Channel,
    room_id: String,
    room: types::RoomId,
    user: types::UserId,
}

async fn archive(server: &Server) -> anyhow::Result<Archive> {
    let channel = connect(&server.daemon.url).await?;
    let reader = load::register(&channel, "sender", 1).await?.remove(0);
    let request =
        CreateRoomRequest { name: "archive".into(), topic: String::new(), visibility: Visibility::Public.into() };
    let room_id = RoomServiceClient::new(channel.clone())
        .create_room(bearer(request, &reader.token))
        .await?
        .into_inner()
        .room
        .context("no room")?
        .id;
    let room = room_id.parse()?;
    let user = first_user(&server.db).await?;
    Ok(Archive { channel, room_id, room, user })
}

/// 5. History page latency over a room with a very long timeline, newest page and a deep page.
pub async fn history(env: &Env) -> anyhow::Result<Vec<Row>> {
    let s = &env.sizes;
    let server = env.parleyd(Backend::Mysql).await?;
    let Archive { channel, room_id, room, user } = archive(&server).await?;
    let body = "x".repeat(s.message_size);
    let mut progress = Progress::new("history: loading messages", s.history_messages);
    // 4,000 rows of 14 columns a statement: under MySQL's 65,535 placeholders.
    let loaded = |n| progress.update(n);
    let last = storage::bench::bulk_load(server.db.db(), room, user, s.history_messages, 4_000, &body, loaded).await?;
    progress.finish();
    // Not searched here: keep the indexer from walking the history while its pages are timed.
    storage::bench::skip_indexing(server.db.db(), room).await?;
    let reader = load::login(&channel, "sender-0").await?;
    let deep = 1_000.min(last / 2).max(2);

    let mut client = MessageServiceClient::new(channel);
    let mut through_parley = async |before: i64| -> anyhow::Result<Histogram<u64>> {
        let mut h = Histogram::<u64>::new(3)?;
        for _ in 0..s.history_queries {
            let request = ListMessagesRequest { room_id: room_id.clone(), before_seq: before, after_seq: 0, limit: 50 };
            let t = Instant::now();
            let page = client.list_messages(bearer(request, &reader.token)).await?.into_inner();
            h.record(micros(t.elapsed()))?;
            anyhow::ensure!(page.messages.len() == 50, "short page");
        }
        Ok(h)
    };
    let newest = through_parley(0).await?;
    let deep_page = through_parley(deep).await?;
    let mut conn = server.db.db().read().await?;
    let mut direct = async |before: Option<i64>| -> anyhow::Result<Histogram<u64>> {
        let mut h = Histogram::<u64>::new(3)?;
        for _ in 0..s.history_queries {
            let t = Instant::now();
            let n = storage::bench::history_page(&mut conn, room, user, before, 50).await?;
            h.record(micros(t.elapsed()))?;
            anyhow::ensure!(n == 50, "short page");
        }
        Ok(h)
    };
    let newest_sql = direct(None).await?;
    let deep_sql = direct(Some(deep)).await?;
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let scenario = "5 history";
    let n = s.history_messages;
    Ok(vec![
        Row::new(scenario, &format!("newest page p50, {n} entries"), "ms", ms(&newest, 0.5), Better::Lower)
            .reference(ms(&newest_sql, 0.5)),
        Row::new(scenario, &format!("newest page p99, {n} entries"), "ms", ms(&newest, 0.99), Better::Lower)
            .reference(ms(&newest_sql, 0.99))
            .at_most(10.0),
        Row::new(scenario, &format!("deep page p50 (before {deep})"), "ms", ms(&deep_page, 0.5), Better::Lower)
            .reference(ms(&deep_sql, 0.5)),
        Row::new(scenario, &format!("deep page p99 (before {deep})"), "ms", ms(&deep_page, 0.99), Better::Lower)
            .reference(ms(&deep_sql, 0.99))
            .at_most(10.0),
        Row::new(
            scenario,
            "deep p99 / newest p99",
            "×",
            ms(&deep_page, 0.99) / ms(&newest, 0.99).max(1e-9),
            Better::Lower,
        )
        .at_most(1.2),
    ])
}

/// Scenario 8: ListRooms for a reader in many rooms, each with unread messages (one naming the reader), on
/// MySQL, against the same queries run directly.
pub async fn unread(env: &Env) -> anyhow::Result<Vec<Row>> {
    let s = &env.sizes;
    let server = env.parleyd(Backend::Mysql).await?;
    let channel = connect(&server.daemon.url).await?;
    let mut users = load::register(&channel, "sender", 2).await?;
    let (writer, reader) = (users.remove(0), users.remove(0));
    let mut rooms = RoomServiceClient::new(channel.clone());
    let mut messages = MessageServiceClient::new(channel.clone());
    for i in 0..s.unread_rooms {
        let request = CreateRoomRequest {
            name: format!("room {i}"),
            topic: String::new(),
            visibility: Visibility::Public.into(),
        };
        let id = rooms.create_room(bearer(request, &writer.token)).await?.into_inner().room.context("no room")?.id;
        rooms.join_room(bearer(JoinRoomRequest { room_id: id.clone() }, &reader.token)).await?;
        for (n, body) in ["news", "more news", "@sender-1 have a look"].into_iter().enumerate() {
            let request = SendMessageRequest {
                room_id: id.clone(),
                body: body.into(),
                client_message_id: format!("{i}-{n}"),
                reply_to_seq: 0,
            };
            messages.send_message(bearer(request, &writer.token)).await?;
        }
    }
    let reader_id = server.db.db().read().await?.credentials_by_key("sender-1").await?.context("no reader")?;
    let reader_id = reader_id.account.user.id;
    let mut through_parley = Histogram::<u64>::new(3)?;
    for _ in 0..s.history_queries {
        let request = ListRoomsRequest { page_size: 200, ..Default::default() };
        let t = Instant::now();
        let page = rooms.list_rooms(bearer(request, &reader.token)).await?.into_inner();
        through_parley.record(micros(t.elapsed()))?;
        anyhow::ensure!(page.rooms.len() == s.unread_rooms.min(200), "short page");
        anyhow::ensure!(page.rooms.iter().all(|r| r.unread_count == 3 && r.mention_count == 1), "wrong counts");
    }
    let mut conn = server.db.db().read().await?;
    let mut direct = Histogram::<u64>::new(3)?;
    for _ in 0..s.history_queries {
        let t = Instant::now();
        storage::bench::list_joined(&mut conn, reader_id).await?;
        direct.record(micros(t.elapsed()))?;
    }
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let scenario = "8 unread";
    let n = s.unread_rooms;
    Ok(vec![
        Row::new(scenario, &format!("ListRooms p50, {n} rooms unread"), "ms", ms(&through_parley, 0.5), Better::Lower)
            .reference(ms(&direct, 0.5)),
        Row::new(scenario, &format!("ListRooms p99, {n} rooms unread"), "ms", ms(&through_parley, 0.99), Better::Lower)
            .reference(ms(&direct, 0.99))
            .at_most(20.0),
    ])
}

/// Scenario 9: SearchMessages over a large room on MySQL (a rare word, in one message; a common one, in
/// every message; one in 0.3% of them), against the bare SQL: the one full-text statement.
pub async fn search(env: &Env) -> anyhow::Result<Vec<Row>> {
    let s = &env.sizes;
    let server = env.parleyd(Backend::Mysql).await?;
    let Archive { channel, room, user, .. } = archive(&server).await?;
    let rare_at = i64::try_from(s.search_messages / 2).unwrap_or(1);
    // Every message has the common word and a few of a 1,000-word vocabulary; one has the rare word.
    let body = |seq: i64| {
        let rare = if seq == rare_at { " xylophone" } else { "" };
        format!("common word{} word{} word{}{rare}", seq % 1000, (seq * 7) % 1000, (seq * 13) % 1000)
    };
    let mut progress = Progress::new("search: loading messages", s.search_messages);
    let loaded = |n| progress.update(n);
    let last = storage::bench::bulk_load_searchable(server.db.db(), room, user, s.search_messages, 2_000, body, loaded)
        .await?;
    progress.finish();
    let reader = load::login(&channel, "sender-0").await?;

    let mut client = MessageServiceClient::new(channel);
    let mut through_parley = async |query: &str, want: usize| -> anyhow::Result<Histogram<u64>> {
        let mut h = Histogram::<u64>::new(3)?;
        for _ in 0..s.history_queries {
            let request = SearchMessagesRequest {
                query: query.into(),
                room_id: String::new(),
                page_size: 20,
                page_token: String::new(),
            };
            let t = Instant::now();
            let page = client.search_messages(bearer(request, &reader.token)).await?.into_inner();
            h.record(micros(t.elapsed()))?;
            anyhow::ensure!(page.results.len() == want, "{query}: {} results", page.results.len());
        }
        Ok(h)
    };
    let rare = through_parley("xylophone", 1).await?;
    let common = through_parley("common", 20).await?;
    // A word in about 3 of every 1,000 messages (30,000 of 10,000,000; fewer than a page at `--quick` size).
    let first = last - i64::try_from(s.search_messages).unwrap_or(i64::MAX) + 1;
    let has_word7 = |seq: i64| [seq, seq * 7, seq * 13].iter().any(|n| n % 1000 == 7);
    let middling = through_parley("word7", (first..=last).filter(|seq| has_word7(*seq)).count().min(20)).await?;
    let mut conn = server.db.db().read().await?;
    // The bare SQL: one full-text statement. For a word in every message it takes seconds at full size, so
    // it runs a few times only.
    let mut direct = async |query: &str, times: usize| -> anyhow::Result<Histogram<u64>> {
        let mut h = Histogram::<u64>::new(3)?;
        for _ in 0..times {
            let t = Instant::now();
            storage::bench::search(&mut conn, user, query, 21).await?;
            h.record(micros(t.elapsed()))?;
        }
        Ok(h)
    };
    let rare_sql = direct("xylophone", s.history_queries).await?;
    let common_sql = direct("common", 3).await?;
    let middling_sql = direct("word7", 3).await?;
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let scenario = "9 search";
    let n = s.search_messages;
    Ok(vec![
        Row::new(scenario, &format!("rare word p99, {n} messages"), "ms", ms(&rare, 0.99), Better::Lower)
            .reference(ms(&rare_sql, 0.99))
            .at_most(50.0),
        Row::new(scenario, &format!("common word p99, {n} messages"), "ms", ms(&common, 0.99), Better::Lower)
            .reference(ms(&common_sql, 0.99))
            .at_most(200.0),
        Row::new(scenario, &format!("word in 0.3% p99, {n} messages"), "ms", ms(&middling, 0.99), Better::Lower)
            .reference(ms(&middling_sql, 0.99)),
    ])
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// 6. Logins per second against a bare argon2 verification loop.
pub async fn logins(env: &Env) -> anyhow::Result<Vec<Row>> {
    let s = &env.sizes;
    let server = env.parleyd(Backend::Sqlite).await?;
    let channel = connect(&server.daemon.url).await?;
    load::register(&channel, "sender", 1).await?;
    let started = Instant::now();
    let loops = (0..s.login_concurrency).map(|_| {
        let mut auth = AuthServiceClient::new(channel.clone());
        let duration = s.duration;
        tokio::spawn(async move {
            let mut n = 0u64;
            while started.elapsed() < duration {
                auth.login(LoginRequest { login: "sender-0".into(), password: PASSWORD.into() }).await?;
                n += 1;
            }
            anyhow::Ok(n)
        })
    });
    let mut total = 0;
    for l in futures::future::join_all(loops).await {
        total += l??;
    }
    let per_second = total as f64 / started.elapsed().as_secs_f64();
    drop(server);
    let bare = reference::argon2_loop(s.login_concurrency, s.duration).await?;
    Ok(vec![
        Row::new("6 logins", &format!("logins/s, {} at a time", s.login_concurrency), "/s", per_second, Better::Higher)
            .reference(bare)
            .ratio_at_least(0.85),
    ])
}
