//! Faults, under load, against real processes: parleyd killed with SIGKILL, its MariaDB crashed and
//! restarted, its MariaDB frozen (SIGSTOP) for longer than every timeout, and panics injected in a writer
//! and in a subscription (`messaging::faults`, compiled only into test builds).
//!
//! Each test asserts what clients rely on: every acknowledged message is stored exactly once, a retry with
//! the same `client_message_id` never makes a second copy, the timeline stays 1, 2, 3… without gaps, calls
//! fail with UNAVAILABLE or DEADLINE_EXCEEDED (never hang, never INTERNAL), readiness says NOT_SERVING while
//! the database is away and SERVING when it is back, memory stays bounded, and the node recovers by itself.
//!
//! The databases here are private MariaDB servers the tests start (`testkit::MariaDb`), never the shared one.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use api::v1::Visibility;
use api::v1::auth_service_client::AuthServiceClient;
use api::v1::subscribe_response::Event;
use testkit::{MariaDb, db_test};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{Client, Daemon, Register as _, TestServer, expect_code};

/// A private MariaDB and a parleyd on it, with short timeouts so that faults show quickly.
struct Rig {
    mariadb: MariaDb,
    data: tempfile::TempDir,
    daemon: Option<testkit::Daemon>,
}

/// The timeout of each database statement in these tests.
const QUERY_TIMEOUT: &str = "2s";

impl Rig {
    async fn start() -> anyhow::Result<Option<Self>> {
        if !MariaDb::available() {
            return Ok(None);
        }
        let mariadb = MariaDb::start(&[]).await?;
        mariadb.sql("CREATE DATABASE parley CHARACTER SET utf8mb4 COLLATE utf8mb4_bin").await?;
        let mut rig = Self { mariadb, data: tempfile::tempdir()?, daemon: None };
        rig.start_parleyd().await?;
        Ok(Some(rig))
    }

    /// Starts parleyd (again) on the same database and data directory (so the same JWT secret).
    async fn start_parleyd(&mut self) -> anyhow::Result<()> {
        let url = format!("{}/parley", self.mariadb.url());
        let data = self.data.path().to_str().unwrap_or_default().to_owned();
        let args = [
            "--data-dir",
            &data,
            "--database-url",
            &url,
            "--db-query-timeout",
            QUERY_TIMEOUT,
            "--db-acquire-timeout",
            "2s",
            "--request-timeout",
            "8s",
            "--health-check-interval",
            "300ms",
            "--shutdown-grace",
            "1s",
        ];
        self.daemon = Some(Daemon::spawn(&args, &[]).await?);
        Ok(())
    }

    fn daemon(&self) -> anyhow::Result<&testkit::Daemon> {
        self.daemon.as_ref().context("parleyd is not running")
    }

    async fn health(&self) -> anyhow::Result<ServingStatus> {
        let request = HealthCheckRequest { service: String::new() };
        let answer = tokio::time::timeout(Duration::from_secs(5), async {
            HealthClient::new(self.daemon()?.channel().await?).check(request).await.map_err(anyhow::Error::from)
        })
        .await??;
        Ok(answer.into_inner().status())
    }

    /// Waits until readiness says `status`, up to `within`; how long it took.
    async fn health_becomes(&self, status: ServingStatus, within: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        loop {
            if self.health().await.ok() == Some(status) {
                return Ok(started.elapsed());
            }
            anyhow::ensure!(started.elapsed() < within, "readiness did not become {status:?} within {within:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A signed-in client on the current parleyd, for an existing account.
    async fn client(&self, user: &Client) -> anyhow::Result<Client> {
        Client::new(self.daemon()?.channel().await?, user.user.clone(), user.tokens.clone())
    }
}

/// What the senders saw: acknowledged sends (client id → seq) and the ids whose outcome is unknown.
#[derive(Default)]
struct Ledger {
    acknowledged: HashMap<String, i64>,
    unknown: HashSet<String>,
    /// Status codes of failed sends.
    failures: Vec<Code>,
}

/// Senders that send as fast as answers come back until `stop`, each its own numbered ids, recording
/// everything in the ledger. A failed send's id is "unknown" until a retry settles it.
fn senders(
    client: &Client,
    room: &str,
    count: usize,
    stop: &Arc<AtomicBool>,
    ledger: &Arc<Mutex<Ledger>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..count)
        .map(|k| {
            let (client, room, stop, ledger) = (client.clone(), room.to_owned(), stop.clone(), ledger.clone());
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let id = format!("s{k}-{i}");
                    let outcome =
                        tokio::time::timeout(Duration::from_secs(20), client.send_with_id(&room, &id, &id)).await;
                    let failed = {
                        let mut ledger = ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        match outcome {
                            Ok(Ok(m)) => {
                                ledger.acknowledged.insert(id, m.seq);
                                None
                            }
                            Ok(Err(status)) => Some(status.code()),
                            Err(_) => Some(Code::DeadlineExceeded),
                        }
                        .inspect(|code| {
                            ledger.failures.push(*code);
                            ledger.unknown.insert(format!("s{k}-{i}"));
                        })
                    };
                    if failed.is_some() {
                        // A client backs off a little after a failure rather than spin.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            })
        })
        .collect()
}

/// Retries every unknown send until it is acknowledged (same id, so never a second copy).
async fn settle(client: &Client, room: &str, ledger: &Arc<Mutex<Ledger>>) -> anyhow::Result<()> {
    let unknown: Vec<String> = ledger.lock().map(|l| l.unknown.iter().cloned().collect()).unwrap_or_default();
    for id in unknown {
        let deadline = Instant::now() + Duration::from_secs(30);
        let message = loop {
            match client.send_with_id(room, &id, &id).await {
                Ok(m) => break m,
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
                Err(status) => anyhow::bail!("retrying {id}: {status:?}"),
            }
        };
        let mut ledger = ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        ledger.unknown.remove(&id);
        if let Some(seq) = ledger.acknowledged.get(&id) {
            anyhow::ensure!(*seq == message.seq, "{id} was acknowledged as #{seq}, its retry says #{}", message.seq);
        }
        ledger.acknowledged.insert(id, message.seq);
    }
    Ok(())
}

/// Every acknowledged send is stored exactly once at the seq it was acknowledged with, no client id is
/// stored twice, and the timeline is 1..=n without a gap.
async fn assert_exactly_once_and_gapless(
    client: &Client,
    room: &str,
    ledger: &Arc<Mutex<Ledger>>,
) -> anyhow::Result<usize> {
    let timeline = client.timeline(room).await?;
    let seqs: Vec<i64> = timeline.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=timeline.len() as i64).collect::<Vec<_>>(), "the timeline has a gap or a repeat");
    let mut stored: HashMap<&str, i64> = HashMap::new();
    for m in timeline.iter().filter(|m| !m.client_message_id.is_empty()) {
        let earlier = stored.insert(m.client_message_id.as_str(), m.seq);
        assert!(earlier.is_none(), "{} is stored twice (#{earlier:?} and #{})", m.client_message_id, m.seq);
    }
    let ledger = ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    assert!(ledger.unknown.is_empty(), "unsettled sends: {:?}", ledger.unknown);
    for (id, seq) in &ledger.acknowledged {
        assert_eq!(stored.get(id.as_str()), Some(seq), "{id} was acknowledged as #{seq}");
    }
    Ok(ledger.acknowledged.len())
}

/// Registers alice and creates a room, on the rig's parleyd.
async fn alice_and_room(rig: &Rig) -> anyhow::Result<(Client, String)> {
    let response = AuthServiceClient::new(rig.daemon()?.channel().await?)
        .register(api::v1::RegisterRequest {
            username: "alice".into(),
            email: "alice@example.com".into(),
            password: "password-1".into(),
            display_name: String::new(),
        })
        .await?
        .into_inner();
    let alice = Client::new(
        rig.daemon()?.channel().await?,
        response.user.context("user")?,
        response.tokens.context("tokens")?,
    )?;
    let room = alice.create_room("load", Visibility::Public).await?.id;
    Ok((alice, room))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_parleyd_under_load_loses_and_doubles_nothing() -> anyhow::Result<()> {
    let Some(mut rig) = Rig::start().await? else { return Ok(()) };
    let (alice, room) = alice_and_room(&rig).await?;
    let (stop, ledger) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Ledger::default())));
    let load = senders(&alice, &room, 6, &stop, &ledger);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    rig.daemon.take().context("running")?.kill()?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for sender in load {
        sender.await?;
    }
    rig.start_parleyd().await?;
    let alice = rig.client(&alice).await?;
    settle(&alice, &room, &ledger).await?;
    let acknowledged = assert_exactly_once_and_gapless(&alice, &room, &ledger).await?;
    assert!(acknowledged > 20, "the load ran ({acknowledged} sends)");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_crash_under_load_answers_unavailable_and_the_node_recovers() -> anyhow::Result<()> {
    let Some(mut rig) = Rig::start().await? else { return Ok(()) };
    let (alice, room) = alice_and_room(&rig).await?;
    let (stop, ledger) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Ledger::default())));
    let load = senders(&alice, &room, 6, &stop, &ledger);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    rig.mariadb.crash()?;
    let noticed = rig.health_becomes(ServingStatus::NotServing, Duration::from_secs(10)).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    rig.mariadb.restart().await?;
    let back = rig.health_becomes(ServingStatus::Serving, Duration::from_secs(30)).await?;
    // Sends work again at once.
    alice.send(&room, "after the crash").await?;
    stop.store(true, Ordering::Relaxed);
    for sender in load {
        sender.await?;
    }
    let failures = ledger.lock().map(|l| l.failures.clone()).unwrap_or_default();
    assert!(!failures.is_empty(), "the crash was felt");
    assert!(
        failures.iter().all(|c| matches!(c, Code::Unavailable | Code::DeadlineExceeded)),
        "failures must say 'try again', never an internal error: {failures:?}"
    );
    settle(&alice, &room, &ledger).await?;
    assert_exactly_once_and_gapless(&alice, &room, &ledger).await?;
    assert!(rig.daemon.as_mut().context("running")?.exited()?.is_none(), "parleyd kept running");
    testkit::notice(&format!("database crash: not serving after {noticed:?}, serving {back:?} after the restart"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_database_costs_bounded_time_and_memory_and_the_node_recovers() -> anyhow::Result<()> {
    let Some(rig) = Rig::start().await? else { return Ok(()) };
    let (alice, room) = alice_and_room(&rig).await?;
    let (stop, ledger) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Ledger::default())));
    let load = senders(&alice, &room, 6, &stop, &ledger);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let before = rig.daemon()?.rss_kib()?;
    rig.mariadb.pause()?;
    let paused_at = Instant::now();
    // A call made now ends within the configured times (statement 2 s, connection 2 s; the request
    // deadline is 8 s), answered UNAVAILABLE or DEADLINE_EXCEEDED, not left hanging.
    let started = Instant::now();
    let status = expect_code_in(alice.send(&room, "while frozen").await, &[Code::Unavailable, Code::DeadlineExceeded]);
    assert!(started.elapsed() < Duration::from_secs(9), "took {:?}: {status:?}", started.elapsed());
    rig.health_becomes(ServingStatus::NotServing, Duration::from_secs(10)).await?;
    // Frozen for longer than every timeout, under load.
    tokio::time::sleep(Duration::from_secs(8).saturating_sub(paused_at.elapsed())).await;
    let during = rig.daemon()?.rss_kib()?;
    rig.mariadb.resume()?;
    rig.health_becomes(ServingStatus::Serving, Duration::from_secs(30)).await?;
    alice.send(&room, "after the thaw").await?;
    stop.store(true, Ordering::Relaxed);
    for sender in load {
        sender.await?;
    }
    let grown_mib = during.saturating_sub(before) / 1024;
    assert!(grown_mib < 64, "a hung database grew parleyd by {grown_mib} MiB");
    let failures = ledger.lock().map(|l| l.failures.clone()).unwrap_or_default();
    assert!(
        failures.iter().all(|c| matches!(c, Code::Unavailable | Code::DeadlineExceeded)),
        "failures must say 'try again': {failures:?}"
    );
    settle(&alice, &room, &ledger).await?;
    assert_exactly_once_and_gapless(&alice, &room, &ledger).await?;
    Ok(())
}

#[track_caller]
fn expect_code_in<T: std::fmt::Debug>(result: Result<T, tonic::Status>, codes: &[Code]) -> tonic::Status {
    match result {
        Ok(v) => panic!("expected one of {codes:?}, got Ok({v:?})"),
        Err(status) => {
            assert!(codes.contains(&status.code()), "unexpected status: {status:?}");
            status
        }
    }
}

db_test!(async fn a_panicking_writer_answers_what_it_held_and_is_replaced(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    alice.send_with_id(&room, "before", "before").await?;
    // The doomed send and a few others, at once: they may share its batch. None may hang; each is stored or
    // answered UNAVAILABLE, and a retry settles it.
    let sends = (0..5).map(|i| {
        let alice = alice.clone();
        let room = room.clone();
        async move {
            let body = if i == 0 { messaging::faults::PANIC_IN_WRITER.to_owned() } else { format!("m{i}") };
            let outcome = tokio::time::timeout(Duration::from_secs(10), alice.send_with_id(&room, &body, &format!("c{i}"))).await;
            (i, outcome)
        }
    });
    for (i, outcome) in futures::future::join_all(sends).await {
        let outcome = outcome.map_err(|_| anyhow::anyhow!("send {i} hung"))?;
        if i == 0 {
            expect_code(outcome, Code::Unavailable);
        } else if let Err(status) = outcome {
            assert_eq!(status.code(), Code::Unavailable, "{status:?}");
            alice.send_with_id(&room, &format!("m{i}"), &format!("c{i}")).await?;
        }
    }
    // The writer was replaced: sends go on, and the timeline has no hole where the batch failed.
    alice.send_with_id(&room, "after", "after").await?;
    let timeline = alice.timeline(&room).await?;
    let seqs: Vec<i64> = timeline.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=timeline.len() as i64).collect::<Vec<_>>());
    let ids: Vec<&str> = timeline.iter().map(|m| m.client_message_id.as_str()).filter(|id| !id.is_empty()).collect();
    assert_eq!(ids.len(), 6, "before, four sends, after: {ids:?}");
    assert!(!ids.contains(&"c0"), "the doomed send was not stored");
    Ok(())
});

db_test!(async fn a_panicking_subscription_ends_its_stream_with_an_error_and_others_go_on(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let room = alice.create_room("r", Visibility::Public).await?;
    let mut doomed = alice.subscribe(&[(&room.id, room.last_seq)]).await?;
    doomed.next_where(|e| matches!(e, Event::Ready(_)).then_some(())).await?;
    let poison = alice.send(&room.id, messaging::faults::PANIC_IN_SUBSCRIPTION).await?;
    let status = doomed.end().await?;
    assert_eq!(status.code(), Code::Unavailable, "an error status, never OK: {status:?}");
    // Subscribing again past it works, and the stream goes on live.
    let mut again = alice.subscribe(&[(&room.id, poison.seq)]).await?;
    alice.send(&room.id, "still here").await?;
    assert_eq!(again.message().await?.body, "still here");
    Ok(())
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_keeps_panicking_stops_the_node_with_an_error() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let mut daemon = Daemon::spawn(&["--data-dir", data.path().to_str().unwrap_or_default()], &[]).await?;
    let channel = daemon.channel().await?;
    let response = AuthServiceClient::new(channel.clone())
        .register(api::v1::RegisterRequest {
            username: "alice".into(),
            email: "alice@example.com".into(),
            password: "password-1".into(),
            display_name: String::new(),
        })
        .await?
        .into_inner();
    let alice = Client::new(channel, response.user.context("user")?, response.tokens.context("tokens")?)?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    for i in 0..(tasks::RESTART_BUDGET + 1) {
        let _ = tokio::time::timeout(
            Duration::from_secs(15),
            alice.send_with_id(&room, messaging::faults::PANIC_IN_WRITER, &format!("p{i}")),
        )
        .await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = daemon.exited()? {
            break status;
        }
        anyhow::ensure!(Instant::now() < deadline, "parleyd did not stop:\n{}", daemon.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success(), "a node that cannot keep its writers exits with a failure status");
    assert!(daemon.log().contains("kept failing"), "{}", daemon.log());
    Ok(())
}
