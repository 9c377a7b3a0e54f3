//! Several nodes over NATS that behave as one (issue 16), against a nats-server each test starts on a free
//! port. Most tests run two or three in-process nodes on one test database (so on SQLite and on MySQL);
//! the ones that kill a node with SIGKILL run parleyd processes.
//!
//! The tail check (the safety net that also carries messages between nodes without NATS) is set to a
//! minute unless a test says otherwise, so that what arrives in time can only have come through NATS.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use api::v1::subscribe_response::Event;
use api::v1::{LoginRequest, LogoutRequest, PresenceStatus, SetTypingRequest, Visibility};
use testkit::{Nats, TestDb, db_test};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{Client, Daemon, Events, Register as _, TestServer, eventually, expect_code, password_of};

/// The tail check in these tests: far longer than anything they wait for.
const LONG_TAIL_CHECK: Duration = Duration::from_secs(60);
/// What "real time" means here: far below the default tail check (5 s) and its median (2.1 s, issue 16).
const REAL_TIME: Duration = Duration::from_millis(500);
const HEARTBEAT: Duration = Duration::from_millis(200);
const NODE_TIMEOUT: Duration = Duration::from_secs(1);

/// The health name of the link to the other nodes (`gateway::peers::LINK_SERVICE`).
const LINK: &str = "parley.Cluster";

/// A nats-server and `n` in-process nodes on the database of `t`, each connected; `None` (after a notice)
/// where nats-server is missing outside CI.
async fn cluster(
    t: &TestDb,
    n: usize,
    adjust: impl Fn(&mut gateway::Config),
) -> anyhow::Result<Option<(Nats, Vec<TestServer>)>> {
    if !Nats::available() {
        return Ok(None);
    }
    let nats = Nats::start().await?;
    let mut nodes = Vec::with_capacity(n);
    for _ in 0..n {
        let node = TestServer::start_with(t, |c| {
            c.messaging.reconcile_interval = LONG_TAIL_CHECK;
            c.cluster = Some(gateway::ClusterConfig {
                heartbeat: HEARTBEAT,
                node_timeout: NODE_TIMEOUT,
                ..gateway::ClusterConfig::new(nats.url())
            });
            adjust(c);
        })
        .await?;
        link_becomes(&node.url, ServingStatus::Serving).await?;
        nodes.push(node);
    }
    // Every node has heard every other's heartbeat.
    tokio::time::sleep(HEARTBEAT * 2).await;
    Ok(Some((nats, nodes)))
}

async fn health(url: &str, service: &str) -> anyhow::Result<ServingStatus> {
    let channel = tonic::transport::Channel::from_shared(url.to_owned())?.connect().await?;
    let request = HealthCheckRequest { service: service.into() };
    Ok(HealthClient::new(channel).check(request).await?.into_inner().status())
}

/// Waits until the node's link to the cluster reports `status`.
pub(crate) async fn link_becomes(url: &str, status: ServingStatus) -> anyhow::Result<()> {
    eventually(Duration::from_secs(10), || async { Ok(health(url, LINK).await.ok() == Some(status)) })
        .await
        .with_context(|| format!("the cluster link of {url} did not become {status:?}"))
}

/// The same user, signed in with the same tokens, talking to another node.
async fn on(url: &str, user: &Client) -> anyhow::Result<Client> {
    let channel = tonic::transport::Channel::from_shared(url.to_owned())?.connect().await?;
    Client::new(channel, user.user.clone(), user.tokens.clone())
}

/// A subscription to `room` from its current tail, ready.
async fn watch(user: &Client, room: &str) -> anyhow::Result<Events> {
    let last = user.room(room).await?.last_seq;
    let mut events = user.subscribe(&[(room, last)]).await?;
    events.next_where(|e| matches!(e, Event::Ready(_)).then_some(())).await?;
    Ok(events)
}

/// Sends `body` on `sender`'s node and returns how long it took to reach `events` (on another node).
async fn crossing(sender: &Client, room: &str, events: &mut Events, body: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    sender.send(room, body).await?;
    let got = events.message().await?;
    assert_eq!(got.body, body, "the next message on the other node");
    Ok(started.elapsed())
}

db_test!(async fn a_message_sent_on_one_node_reaches_a_subscriber_on_another_in_real_time(t) {
    let Some((_nats, nodes)) = cluster(t, 3, |_| {}).await? else { return Ok(()) };
    let alice = nodes[0].register("alice").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    let mut users = Vec::new();
    for (i, node) in nodes.iter().enumerate().skip(1) {
        let user = node.register(&format!("watcher{i}")).await?;
        user.join(&room).await?;
        users.push(user);
    }
    let mut watchers = Vec::new();
    for user in users {
        watchers.push((user.clone(), watch(&user, &room).await?));
    }
    let mut slowest = Duration::ZERO;
    for i in 0..10 {
        let body = format!("m{i}");
        let started = Instant::now();
        alice.send(&room, &body).await?;
        for (_, events) in &mut watchers {
            assert_eq!(events.message().await?.body, body);
            slowest = slowest.max(started.elapsed());
        }
    }
    assert!(slowest < REAL_TIME, "the slowest cross-node delivery took {slowest:?}");
    // Typing crosses nodes too.
    let request = SetTypingRequest { room_id: room.clone(), typing: true };
    alice.messages().set_typing(alice.req(request)).await?;
    let (_, events) = &mut watchers[0];
    let typing = events.next_where(|e| match e { Event::Typing(t) => Some(t), _ => None }).await?;
    assert!(typing.typing && typing.username == "alice", "alice's typing reached another node: {typing:?}");
    testkit::notice(&format!("cross-node delivery: slowest of 20 was {slowest:?}"));
    Ok(())
});

db_test!(async fn joins_and_invitations_on_one_node_reach_streams_on_another(t) {
    let Some((_nats, nodes)) = cluster(t, 2, |_| {}).await? else { return Ok(()) };
    let alice = nodes[0].register("alice").await?;
    let bob_a = nodes[0].register("bob").await?;
    let bob_b = on(&nodes[1].url, &bob_a).await?;
    let mut bobs = bob_b.subscribe_following(&[], true).await?;
    bobs.next_where(|e| matches!(e, Event::Ready(_)).then_some(())).await?;

    let open = alice.create_room("open", Visibility::Public).await?.id;
    bob_a.join(&open).await?;
    let added = bobs.next_where(|e| match e { Event::RoomAdded(a) => Some(a), _ => None }).await?;
    assert_eq!(added.room.map(|r| r.id), Some(open.clone()), "a join on node A reached bob's stream on node B");
    // Bob's own join comes first (from storage), then what is sent to the room, live.
    alice.send(&open, "welcome").await?;
    let texts = bobs.messages(2).await?;
    assert_eq!(texts.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["", "welcome"]);

    let private = alice.create_room("private", Visibility::Private).await?.id;
    alice.invite(&private, "bob").await?;
    let invited = bobs.next_where(|e| match e { Event::InvitationReceived(i) => Some(i), _ => None }).await?;
    assert_eq!(invited.room.map(|r| r.id), Some(private));
    Ok(())
});

db_test!(async fn logout_on_one_node_ends_streams_and_tokens_on_another_at_once(t) {
    // The session cache is trusted for two seconds by default: only the cluster can make this faster.
    let Some((_nats, nodes)) = cluster(t, 2, |_| {}).await? else { return Ok(()) };
    let alice = nodes[0].register("alice").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    let alice_b = on(&nodes[1].url, &alice).await?;
    let mut stream = watch(&alice_b, &room).await?;
    let started = Instant::now();
    let request = LogoutRequest { refresh_token: alice.tokens.refresh_token.clone(), all_sessions: false };
    alice.auth().logout(alice.req(request)).await?;
    let status = stream.end().await?;
    let ended = started.elapsed();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(ended < REAL_TIME, "the stream on node B ended {ended:?} after the logout on node A");
    eventually(REAL_TIME, || async {
        Ok(alice_b.room(&room).await.is_err_and(|s| s.code() == Code::Unauthenticated))
    })
    .await
    .context("node B still accepts the logged-out token")?;
    Ok(())
});

db_test!(async fn presence_is_cluster_wide(t) {
    let grace = Duration::from_millis(400);
    let Some((_nats, nodes)) = cluster(t, 2, |c| c.presence_grace = grace).await? else { return Ok(()) };
    let bob = nodes[0].register("bob").await?;
    let alice_a = nodes[0].register("alice").await?;
    let room = bob.create_room("r", Visibility::Public).await?.id;
    alice_a.join(&room).await?;
    let mut bobs = watch(&bob, &room).await?;
    let alice_b = on(&nodes[1].url, &alice_a).await?;
    let alices = alice_b.subscribe(&[]).await?;
    let status = presence_of(&mut bobs, "alice").await?;
    assert_eq!(status, PresenceStatus::Online, "alice on node B is online on node A");
    let listed = bob
        .presence()
        .list_online_users(bob.req(api::v1::ListOnlineUsersRequest { room_id: room.clone() }))
        .await?
        .into_inner()
        .users;
    assert!(listed.iter().any(|u| u.user.as_ref().is_some_and(|u| u.username == "alice")), "{listed:?}");
    drop(alices);
    let started = Instant::now();
    assert_eq!(presence_of(&mut bobs, "alice").await?, PresenceStatus::Offline);
    assert!(started.elapsed() >= grace / 2, "offline only after the grace period");
    Ok(())
});

async fn presence_of(events: &mut Events, username: &str) -> anyhow::Result<PresenceStatus> {
    events
        .next_where(|e| match e {
            Event::PresenceChanged(p) => {
                p.presence.filter(|p| p.user.as_ref().is_some_and(|u| u.username == username)).map(|p| p.status())
            }
            _ => None,
        })
        .await
}

async fn login(node: &TestServer, username: &str, password: &str) -> Result<(), tonic::Status> {
    let mut auth = node.auth().await.map_err(|e| tonic::Status::internal(e.to_string()))?;
    auth.login(LoginRequest { login: username.into(), password: password.into() }).await.map(|_| ())
}

db_test!(async fn failed_logins_are_throttled_across_nodes(t) {
    let Some((_nats, nodes)) = cluster(t, 2, |c| c.auth.throttle.per_account = 4).await? else { return Ok(()) };
    nodes[0].register("alice").await?;
    for node in [&nodes[0], &nodes[0], &nodes[1], &nodes[1]] {
        expect_code(login(node, "alice", "wrong password").await, Code::Unauthenticated);
    }
    // Four failures in all, two per node: on one node alone neither would refuse yet.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for node in &nodes {
        let status = expect_code(login(node, "alice", &password_of("alice")).await, Code::ResourceExhausted);
        assert!(status.message().contains("try again"), "{status:?}");
    }
    Ok(())
});

db_test!(async fn streams_per_user_and_request_rates_hold_across_nodes(t) {
    let send = gateway::Quota::new(1, Duration::from_secs(60), 4);
    let Some((_nats, nodes)) = cluster(t, 2, |c| {
        c.messaging.streams_per_user = 2;
        c.rates = gateway::RateConfig { quotas: Some([(gateway::RateKind::Send, send)].into_iter().collect()) };
    })
    .await?
    else {
        return Ok(());
    };
    let alice = nodes[0].register("alice").await?;
    let alice_b = on(&nodes[1].url, &alice).await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;

    let _on_a = alice.subscribe(&[]).await?;
    let on_b = alice_b.subscribe(&[]).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    expect_code(alice.subscribe(&[]).await, Code::ResourceExhausted);
    drop(on_b);
    eventually(Duration::from_secs(2), || async { Ok(alice.subscribe(&[]).await.is_ok()) })
        .await
        .context("a stream closed on node B frees its place on node A")?;

    for sender in [&alice, &alice, &alice_b, &alice_b] {
        sender.send(&room, "counted").await?;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    expect_code(alice.send(&room, "one too many").await, Code::ResourceExhausted);
    expect_code(alice_b.send(&room, "one too many").await, Code::ResourceExhausted);
    Ok(())
});

db_test!(async fn without_nats_nodes_serve_on_and_real_time_returns_with_it(t) {
    let tail_check = Duration::from_secs(2);
    let Some((mut nats, nodes)) = cluster(t, 2, |c| c.messaging.reconcile_interval = tail_check).await? else {
        return Ok(());
    };
    let alice = nodes[0].register("alice").await?;
    let bob = nodes[1].register("bob").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    bob.join(&room).await?;
    let mut bobs = watch(&bob, &room).await?;

    nats.kill();
    for node in &nodes {
        link_becomes(&node.url, ServingStatus::NotServing).await?;
        assert_eq!(health(&node.url, "").await?, ServingStatus::Serving, "a node without NATS still serves");
    }
    // Messages still cross, through the tail check.
    let slow = crossing(&alice, &room, &mut bobs, "during the outage").await?;
    assert!(slow < tail_check * 2 + Duration::from_secs(1), "took {slow:?}");

    nats.restart().await?;
    for node in &nodes {
        link_becomes(&node.url, ServingStatus::Serving).await?;
    }
    // The first message after the return may race the subscription being renewed on the server.
    crossing(&alice, &room, &mut bobs, "back").await?;
    let mut slowest = Duration::ZERO;
    for i in 0..5 {
        slowest = slowest.max(crossing(&alice, &room, &mut bobs, &format!("after {i}")).await?);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(slowest < Duration::from_millis(300), "real time is back: slowest {slowest:?}");
    testkit::notice(&format!("NATS outage: a message crossed in {slow:?} through the tail check; {slowest:?} after"));
    Ok(())
});

/// parleyd processes on one database and one NATS, sharing a JWT secret.
struct Processes {
    nats: Nats,
    url: String,
    dirs: Vec<tempfile::TempDir>,
}

impl Processes {
    /// A nats-server and two parleyd processes on the database of `t`, each connected; `None` (after a
    /// notice) where nats-server is missing outside CI.
    async fn start(t: &TestDb) -> anyhow::Result<Option<(Self, testkit::Daemon, testkit::Daemon)>> {
        if !Nats::available() {
            return Ok(None);
        }
        let mut cluster = Self { nats: Nats::start().await?, url: t.url().to_owned(), dirs: Vec::new() };
        let a = cluster.spawn().await?;
        let b = cluster.spawn().await?;
        tokio::time::sleep(HEARTBEAT * 2).await;
        Ok(Some((cluster, a, b)))
    }

    async fn spawn(&mut self) -> anyhow::Result<testkit::Daemon> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().to_str().unwrap_or_default().to_owned();
        let secret = String::from_utf8_lossy(testkit::SECRET).into_owned();
        let (nats, heartbeat, timeout) = (self.nats.url(), format!("{}ms", HEARTBEAT.as_millis()), "1s");
        let args = [
            "--data-dir",
            &data,
            "--database-url",
            &self.url,
            "--jwt-secret",
            &secret,
            "--nats-url",
            &nats,
            "--nats-heartbeat",
            &heartbeat,
            "--nats-node-timeout",
            timeout,
            "--presence-grace",
            "500ms",
            "--tail-check-interval",
            "60s",
        ];
        let daemon = Daemon::spawn(&args, &[]).await?;
        link_becomes(&daemon.url, ServingStatus::Serving).await?;
        self.dirs.push(dir);
        Ok(daemon)
    }
}

db_test!(async fn the_users_of_a_killed_node_go_offline_everywhere(t) {
    let Some((_cluster, a, b)) = Processes::start(t).await? else { return Ok(()) };
    let bob = a.register("bob").await?;
    let alice_a = a.register("alice").await?;
    let room = bob.create_room("r", Visibility::Public).await?.id;
    alice_a.join(&room).await?;
    let mut bobs = watch(&bob, &room).await?;
    let alice_b = on(&b.url, &alice_a).await?;
    let _alices = alice_b.subscribe(&[]).await?;
    assert_eq!(presence_of(&mut bobs, "alice").await?, PresenceStatus::Online);

    b.kill()?;
    let started = Instant::now();
    assert_eq!(presence_of(&mut bobs, "alice").await?, PresenceStatus::Offline);
    let healed = started.elapsed();
    // The node timeout (1 s) and a heartbeat, with room for a slow machine; never "never".
    assert!(healed < Duration::from_secs(4), "alice went offline {healed:?} after her node died");
    testkit::notice(&format!("presence healed {healed:?} after a kill -9"));
    Ok(())
});

db_test!(async fn a_node_says_in_its_log_and_health_that_nats_went_and_serves_on(t) {
    let Some((mut cluster, mut a, b)) = Processes::start(t).await? else { return Ok(()) };
    let alice = a.register("alice").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    cluster.nats.kill();
    link_becomes(&a.url, ServingStatus::NotServing).await?;
    assert_eq!(health(&a.url, "").await?, ServingStatus::Serving);
    alice.send(&room, "while NATS is away").await?;
    let alice_b = on(&b.url, &alice).await?;
    assert_eq!(alice_b.timeline(&room).await?.last().map(|m| m.body.clone()).as_deref(), Some("while NATS is away"));
    cluster.nats.restart().await?;
    link_becomes(&a.url, ServingStatus::Serving).await?;
    assert!(a.exited()?.is_none(), "parleyd kept running");
    assert!(a.log().contains("lost the connection to NATS"), "the log says what happened:\n{}", a.log());
    Ok(())
});

db_test!(async fn a_subscriber_whose_node_is_killed_resumes_on_another_and_gets_everything_once(t) {
    let Some((mut cluster, a, b)) = Processes::start(t).await? else { return Ok(()) };
    let alice = a.register("alice").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    let bob_b = b.register("bob").await?;
    bob_b.join(&room).await?;
    let mut bobs = watch(&bob_b, &room).await?;
    let mut seen = Vec::new();
    for i in 0..10 {
        alice.send(&room, &format!("before {i}")).await?;
        seen.push(tokio::time::timeout(REAL_TIME, bobs.message()).await.context("real time before the kill")??.seq);
    }
    b.kill()?;
    for i in 0..10 {
        alice.send(&room, &format!("while away {i}")).await?;
    }
    let c = cluster.spawn().await?;
    let bob_c = on(&c.url, &bob_b).await?;
    let cursor = *seen.last().context("seen")?;
    let mut resumed = bob_c.subscribe(&[(&room, cursor)]).await?;
    seen.extend(resumed.messages(10).await?.iter().map(|m| m.seq));
    alice.send(&room, "live again").await?;
    let live = tokio::time::timeout(REAL_TIME, resumed.message()).await.context("real time after resuming")??;
    seen.push(live.seq);
    let first = seen[0];
    assert_eq!(seen, (first..first + 21).collect::<Vec<_>>(), "every entry once, in order");
    drop(a);
    Ok(())
});
