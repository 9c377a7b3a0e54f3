//! parleyd as a process: starting with no configuration, restarting, refusing bad configuration, shutting
//! down cleanly, and staying within bounded memory under a slow subscriber.

use std::os::unix::fs::PermissionsExt as _;

use api::v1::auth_service_client::AuthServiceClient;
use api::v1::{GetMeRequest, LoginRequest, RegisterRequest, Visibility};
use futures::StreamExt as _;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

use testkit::db_test;

use crate::support::{Client, Daemon, bearer, run_to_exit};

fn register(name: &str) -> RegisterRequest {
    RegisterRequest {
        username: name.into(),
        email: format!("{name}@example.com"),
        password: "password-1".into(),
        display_name: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_with_no_configuration_and_creates_its_data() -> anyhow::Result<()> {
    // No flags but the port: the data directory defaults to the platform's, here pointed at a temp dir.
    let home = tempfile::tempdir()?;
    let xdg = home.path().to_str().unwrap_or_default();
    let daemon = Daemon::spawn(&[], &[("XDG_DATA_HOME", xdg)]).await?;
    let data = home.path().join("parley");
    assert!(data.join("parley.db").is_file(), "{}", daemon.log());
    let secret = std::fs::metadata(data.join("jwt-secret"))?;
    assert_eq!(secret.permissions().mode() & 0o777, 0o600);
    let status = HealthClient::new(daemon.channel().await?)
        .check(HealthCheckRequest { service: String::new() })
        .await?
        .into_inner()
        .status();
    assert_eq!(status, ServingStatus::Serving);
    let log = daemon.log();
    let secret_text = std::fs::read_to_string(data.join("jwt-secret"))?;
    assert!(!log.contains(secret_text.trim()), "the secret must never be logged");
    let (status, log) = daemon.terminate_with_log()?;
    assert!(status.success(), "{status}\n{log}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_data_and_the_jwt_secret() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().to_str().unwrap_or_default();
    let daemon = Daemon::spawn(&["--data-dir", data], &[]).await?;
    let tokens = AuthServiceClient::new(daemon.channel().await?)
        .register(register("alice"))
        .await?
        .into_inner()
        .tokens
        .unwrap_or_default();
    assert!(daemon.terminate()?.success(), "SIGTERM is a clean exit");

    let daemon = Daemon::spawn(&["--data-dir", data], &[]).await?;
    let mut auth = AuthServiceClient::new(daemon.channel().await?);
    // The old access token still verifies: same secret. The account is still there.
    let me = auth.get_me(bearer(GetMeRequest {}, &tokens.access_token)).await?.into_inner().user.unwrap_or_default();
    assert_eq!(me.username, "alice");
    auth.login(LoginRequest { login: "alice".into(), password: "password-1".into() }).await?;
    Ok(())
}

/// The `message`s of a daemon's JSON log lines, with their `version` field where there is one.
fn migration_lines(log: &str) -> Vec<(String, Option<String>)> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "storage::db")
        .map(|v| (v["message"].as_str().unwrap_or_default().to_owned(), v["version"].as_str().map(str::to_owned)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_logs_each_migration_it_runs_and_then_that_the_schema_is_current() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().to_str().unwrap_or_default();
    let envs = [("PARLEY_LOG", "warn,parleyd=info,storage=info")];
    // Versions as diesel takes them from the directory names: the digits before the first '_'.
    let mut versions: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/sqlite"))?
        .map(|e| Ok(e?.file_name().to_string_lossy().split('_').next().unwrap_or_default().replace('-', "")))
        .collect::<anyhow::Result<_>>()?;
    versions.sort();
    assert!(!versions.is_empty());

    let daemon = Daemon::spawn(&["--data-dir", data], &envs).await?;
    let (_, log) = daemon.terminate_with_log()?;
    let lines = migration_lines(&log);
    let ran = |message: &str| -> Vec<String> {
        lines.iter().filter(|(m, _)| m == message).filter_map(|(_, v)| v.clone()).collect()
    };
    assert_eq!(ran("running database migration"), versions, "{log}");
    assert_eq!(ran("applied database migration"), versions, "{log}");

    let daemon = Daemon::spawn(&["--data-dir", data], &envs).await?;
    let (_, log) = daemon.terminate_with_log()?;
    let lines = migration_lines(&log);
    assert_eq!(lines, [("database schema is up to date".to_owned(), None)], "{log}");
    Ok(())
}

/// Runs parleyd with a bad setting and checks it fails with one actionable line and no panic.
fn refuses(args: &[&str], envs: &[(&str, &str)], expected: &str) -> anyhow::Result<()> {
    let (status, stderr) = run_to_exit(args, envs)?;
    assert!(!status.success(), "{args:?} must fail");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
    let errors: Vec<&str> =
        stderr.lines().filter(|l| l.starts_with("parleyd: error: ") || l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line expected, got:\n{stderr}");
    assert!(errors[0].contains(expected), "{:?} does not say {expected:?}", errors[0]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_fails_with_one_line_that_says_what_to_fix() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().to_str().unwrap_or_default();
    let quiet = [("PARLEY_LOG", "off")];

    refuses(
        &["--data-dir", data, "--listen", "127.0.0.1:0", "--database-url", "mysql://parley:secret@127.0.0.1:1/parley"],
        &quiet,
        "cannot open the database mysql://parley:***@127.0.0.1:1/parley",
    )?;
    refuses(
        &["--data-dir", data, "--listen", "127.0.0.1:0", "--database-url", "postgres://x"],
        &quiet,
        "unsupported database url",
    )?;
    let file = dir.path().join("a-file");
    std::fs::write(&file, "")?;
    let under_file = file.join("data");
    refuses(
        &["--data-dir", under_file.to_str().unwrap_or_default(), "--listen", "127.0.0.1:0"],
        &quiet,
        "cannot create data directory",
    )?;
    refuses(
        &["--data-dir", data, "--listen", "not-an-address"],
        &quiet,
        "invalid value 'not-an-address' for '--listen <ADDR>'",
    )?;
    refuses(
        &["--data-dir", data, "--listen", "127.0.0.1:0", "--jwt-secret", "short"],
        &quiet,
        "--jwt-secret must be at least 32 bytes long",
    )?;

    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = taken.local_addr()?.to_string();
    refuses(
        &["--data-dir", data, "--listen", &port],
        &quiet,
        &format!("cannot listen on {port}: Address already in use"),
    )?;
    Ok(())
}

db_test!(async fn a_slow_subscriber_does_not_grow_the_servers_memory(t) {
    // Subscribers that read nothing while 10,000 messages of 2 KB go by. If the server buffered them per
    // subscriber, three of them would hold ~60 MB; bounded buffers hold next to nothing (measured: ~9 MB of
    // growth, mostly SQLite's page cache).
    let dir = tempfile::tempdir()?;
    let daemon = Daemon::spawn(&["--data-dir", dir.path().to_str().unwrap_or_default(), "--database-url", t.url()], &[]).await?;
    let channel = daemon.channel().await?;
    let r = AuthServiceClient::new(channel.clone()).register(register("alice")).await?.into_inner();
    let alice = Client::new(channel, r.user.unwrap_or_default(), r.tokens.unwrap_or_default())?;
    let room = alice.create_room("firehose", Visibility::Public).await?.id;
    let mut sleepers = Vec::new();
    for _ in 0..3 {
        // Each on its own connection, as separate clients would be.
        let own = Client::new(daemon.channel().await?, alice.user.clone(), alice.tokens.clone())?;
        sleepers.push(own.subscribe(&[(&room, 1)]).await?);
    }
    const N: usize = 10_000;
    let body = "x".repeat(2000);
    let before = daemon.rss_kib()?;
    let sends = (0..N).map(|i| {
        let (alice, room, body) = (alice.clone(), room.clone(), body.clone());
        async move { alice.send_with_id(&room, &body, &format!("m{i}")).await }
    });
    let mut sends = futures::stream::iter(sends).buffer_unordered(32);
    while let Some(result) = sends.next().await {
        result?;
    }
    let after = daemon.rss_kib()?;
    let grown_mib = after.saturating_sub(before) / 1024;
    assert!(grown_mib < 40, "server grew by {grown_mib} MiB ({before} KiB -> {after} KiB)");
    // Nothing was lost: each sleeper now gets every message, in order.
    for sleeper in &mut sleepers {
        let seqs: Vec<i64> = sleeper.messages(N).await?.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (2..=N as i64 + 1).collect::<Vec<_>>());
    }
    Ok(())
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_app_is_served_beside_the_api() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = tempfile::tempdir()?;
    std::fs::write(dir.path().join("index.html"), "<!doctype html><title>Parley</title>")?;
    std::fs::create_dir(dir.path().join("assets"))?;
    std::fs::write(dir.path().join("assets/app.js"), "console.log('parley')")?;
    let web = dir.path().to_str().unwrap_or_default();
    let daemon =
        Daemon::spawn(&["--data-dir", data.path().to_str().unwrap_or_default(), "--web-dir", web], &[]).await?;
    let addr = daemon.addr;
    // A plain HTTP/1.1 GET, as a browser's first request is: "BODY\nSTATUS CONTENT-TYPE".
    let get = |path: &str| {
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        async move {
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            let mut stream = tokio::net::TcpStream::connect(addr).await?;
            stream.write_all(request.as_bytes()).await?;
            let mut response = String::new();
            stream.read_to_string(&mut response).await?;
            let (head, body) = response.split_once("\r\n\r\n").unwrap_or_default();
            let status = head.split(' ').nth(1).unwrap_or_default();
            let content_type = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type: ").map(str::to_owned))
                .unwrap_or_default();
            anyhow::Ok(format!("{body}\n{status} {content_type}"))
        }
    };
    assert_eq!(get("/").await?, "<!doctype html><title>Parley</title>\n200 text/html");
    assert_eq!(get("/assets/app.js").await?, "console.log('parley')\n200 text/javascript");
    assert_eq!(
        get("/rooms/some-room").await?,
        "<!doctype html><title>Parley</title>\n200 text/html",
        "app routes get the app"
    );
    // gRPC still answers, and an unknown method is UNIMPLEMENTED, not a page.
    let status = HealthClient::new(daemon.channel().await?)
        .check(HealthCheckRequest { service: String::new() })
        .await?
        .into_inner()
        .status();
    assert_eq!(status, ServingStatus::Serving);
    let mut grpc = tonic::client::Grpc::new(daemon.channel().await?);
    grpc.ready().await?;
    let path = http::uri::PathAndQuery::from_static("/other.v1.NoSuchService/Nothing");
    let codec = tonic_prost::ProstCodec::<HealthCheckRequest, HealthCheckRequest>::default();
    let answer = grpc.unary(tonic::Request::new(HealthCheckRequest::default()), path, codec).await;
    assert_eq!(answer.err().map(|s| s.code()), Some(tonic::Code::Unimplemented));
    Ok(())
}
