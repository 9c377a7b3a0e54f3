//! The Prometheus endpoint (`--metrics-listen`): a real parleyd process, scraped over HTTP before and after
//! real calls, whose numbers move as the calls say they should.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use api::v1::Visibility;
use testkit::db_test;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::Code;

use crate::support::{Daemon, Register as _, eventually, expect_code};

/// The address the daemon serves metrics on, from its log.
fn metrics_address(daemon: &testkit::Daemon) -> anyhow::Result<String> {
    daemon
        .log()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|v| v["message"].as_str().is_some_and(|m| m.starts_with("serving metrics")))
        .and_then(|v| v["address"].as_str().map(str::to_owned))
        .context("no \"serving metrics\" line in the log")
}

/// `GET path` over HTTP/1.1: the status line and the body.
async fn get(address: &str, path: &str) -> anyhow::Result<(String, String)> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut response)).await??;
    let (head, body) = response.split_once("\r\n\r\n").context("no end of headers")?;
    Ok((head.lines().next().unwrap_or_default().to_owned(), body.to_owned()))
}

/// Every sample of a scrape, by its name and labels as written (`name{a="b"}`).
async fn scrape(address: &str) -> anyhow::Result<HashMap<String, f64>> {
    let (status, body) = get(address, "/metrics").await?;
    anyhow::ensure!(status.contains(" 200 "), "scrape answered {status}");
    anyhow::ensure!(body.ends_with("# EOF\n"), "a scrape is a complete OpenMetrics exposition");
    Ok(body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(series, value)| value.parse().ok().map(|v| (series.to_owned(), v)))
        .collect())
}

fn value(samples: &HashMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

const SEND: &str = "/chat.v1.MessageService/SendMessage";

db_test!(async fn the_metrics_endpoint_counts_calls_sends_deliveries_streams_and_refusals(t) {
    let data = tempfile::tempdir()?;
    let secret = String::from_utf8_lossy(testkit::SECRET).into_owned();
    let args = [
        "--data-dir", data.path().to_str().unwrap_or_default(),
        "--database-url", t.url(),
        "--jwt-secret", &secret,
        "--metrics-listen", "127.0.0.1:0",
        "--presence-grace", "200ms",
        // Three sends, then a refusal.
        "--rate-limits", "on", "--send-burst", "3", "--send-rate", "1/h",
    ];
    let daemon = Daemon::spawn(&args, &[]).await?;
    let address = metrics_address(&daemon)?;
    let before = scrape(&address).await?;
    assert_eq!(value(&before, "parley_messages_sent_total"), 0.0);
    assert_eq!(value(&before, "parley_subscribe_streams_open"), 0.0);

    let alice = daemon.register("alice").await?;
    let bob = daemon.register("bob").await?;
    let room = alice.create_room("metrics", Visibility::Public).await?.id;
    bob.join(&room).await?;
    let last = bob.room(&room).await?.last_seq;
    let mut events = bob.subscribe(&[(&room, last)]).await?;
    for i in 0..3 {
        alice.send(&room, &format!("m{i}")).await?;
    }
    let got = events.messages(3).await?;
    assert_eq!(got.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["m0", "m1", "m2"]);
    expect_code(alice.send(&room, "one too many").await, Code::ResourceExhausted);
    expect_code(alice.room("not-an-id").await, Code::InvalidArgument);

    let after = scrape(&address).await?;
    assert_eq!(value(&after, "parley_messages_sent_total"), 3.0, "three messages stored");
    assert!(value(&after, "parley_deliveries_total") >= 3.0, "bob's stream delivered the three");
    assert_eq!(value(&after, "parley_subscribe_streams_open"), 1.0);
    assert_eq!(value(&after, "parley_users_online"), 1.0, "bob, with his stream open");
    assert!(value(&after, "parley_connections_open") >= 1.0);
    assert_eq!(value(&after, &format!(r#"parley_rpc_duration_seconds_count{{method="{SEND}",code="OK"}}"#)), 3.0);
    assert_eq!(
        value(&after, &format!(r#"parley_rpc_duration_seconds_count{{method="{SEND}",code="ResourceExhausted"}}"#)),
        1.0
    );
    assert_eq!(
        value(&after, &format!(r#"parley_limit_rejections_total{{method="{SEND}",reason="RATE_LIMITED"}}"#)),
        1.0,
        "the refused send counts as a rate-limit rejection"
    );
    assert_eq!(
        value(
            &after,
            r#"parley_rpc_duration_seconds_count{method="/chat.v1.RoomService/GetRoom",code="InvalidArgument"}"#
        ),
        1.0
    );
    assert_eq!(value(&after, "parley_send_batch_size_sum"), 3.0, "the writers stored three sends in all");
    assert!(value(&after, "parley_send_commit_seconds_count") >= 1.0);
    assert!(value(&after, r#"parley_db_acquire_seconds_count{pool="read"}"#) > 0.0);
    assert!(value(&after, r#"parley_db_acquire_seconds_count{pool="write"}"#) > 0.0);
    assert!(!after.keys().any(|k| k.contains("cluster")), "a node alone reports no cluster link");

    // The stream closes: the gauges come back down (bob goes offline after the grace period).
    drop(events);
    eventually(Duration::from_secs(10), || async {
        let now = scrape(&address).await?;
        Ok(value(&now, "parley_subscribe_streams_open") == 0.0 && value(&now, "parley_users_online") == 0.0)
    })
    .await
    .context("the stream and bob's presence did not end in the metrics")?;

    // Only /metrics is served there.
    let (status, _) = get(&address, "/").await?;
    assert!(status.contains(" 404 "), "{status}");
    Ok(())
});
