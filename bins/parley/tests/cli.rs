//! The `parley` command line against a real server: sign-in and session handling, rooms and messages, and
//! `tail` resuming after the server goes away and comes back.

// A failed expectation in a test is a failed test: panicking is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use testkit::{TestServer, db_test};

/// Runs `parley` as one user (their own config directory) against `server`, with `stdin` as input.
fn parley(server: &str, home: &Path, args: &[&str], stdin: &str) -> anyhow::Result<Output> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["--server", server, "--config-dir", home.to_str().unwrap_or_default()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().map(|mut s| s.write_all(stdin.as_bytes())).transpose()?;
    Ok(child.wait_with_output()?)
}

/// Runs `parley` in a blocking task and insists that it succeeds; returns its standard output.
async fn ok(server: &str, home: &Path, args: &[&str]) -> anyhow::Result<String> {
    let (server, home, args) =
        (server.to_owned(), home.to_owned(), args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>());
    let output = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        parley(&server, &home, &args, "password-1\n")
    })
    .await??;
    let stdout = String::from_utf8(output.stdout)?;
    anyhow::ensure!(output.status.success(), "parley failed: {}{}", stdout, String::from_utf8_lossy(&output.stderr));
    Ok(stdout)
}

/// Runs `parley` and insists that it fails; returns its standard error.
async fn fails(server: &str, home: &Path, args: &[&str]) -> anyhow::Result<String> {
    let (server, home, args) =
        (server.to_owned(), home.to_owned(), args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>());
    let output = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        parley(&server, &home, &args, "")
    })
    .await??;
    anyhow::ensure!(!output.status.success(), "parley {:?} should have failed", output);
    Ok(String::from_utf8(output.stderr)?)
}

db_test!(async fn sign_up_sign_in_and_out(t) {
    let server = TestServer::start(t).await?;
    let home = tempfile::tempdir()?;
    // A config directory that does not exist yet, as on a first run.
    let config = home.path().join("parley");
    let (url, dir) = (server.url.as_str(), config.as_path());
    let out = ok(url, dir, &["register", "alice", "alice@example.com", "--password-stdin"]).await?;
    assert!(out.starts_with("signed in as alice"), "{out}");
    assert_eq!(std::fs::metadata(dir.join("session.json"))?.permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(dir)?.permissions().mode() & 0o777, 0o700);
    let me = ok(url, dir, &["whoami"]).await?;
    assert!(me.starts_with("alice (alice) <alice@example.com>"), "{me}");
    assert_eq!(ok(url, dir, &["logout"]).await?.trim(), "signed out");
    let err = fails(url, dir, &["whoami"]).await?;
    assert_eq!(err.trim(), "parley: not signed in; run parley login (or parley register)");
    let err = fails(url, dir, &["login", "alice", "--password-stdin"]).await?;
    assert_eq!(err.trim(), "parley: unknown username or email, or wrong password");
    ok(url, dir, &["login", "ALICE", "--password-stdin"]).await?;
    assert!(ok(url, dir, &["whoami"]).await?.starts_with("alice "));
    Ok(())
});

db_test!(async fn an_expired_access_token_is_refreshed_without_asking(t) {
    let server = TestServer::start_with(t, |c| c.auth.access_token_ttl = Duration::from_secs(1)).await?;
    let home = tempfile::tempdir()?;
    let (url, dir) = (server.url.as_str(), home.path());
    ok(url, dir, &["register", "alice", "alice@example.com", "--password-stdin"]).await?;
    let before: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("session.json"))?)?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(ok(url, dir, &["whoami"]).await?.starts_with("alice "));
    let after: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("session.json"))?)?;
    assert_ne!(before["refresh_token"], after["refresh_token"], "rotated and saved");
    // And again with the rotated token.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(ok(url, dir, &["whoami"]).await?.starts_with("alice "));
    Ok(())
});

db_test!(async fn rooms_and_messages_from_the_command_line(t) {
    let server = TestServer::start(t).await?;
    let (alice, bob) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let url = server.url.as_str();
    ok(url, alice.path(), &["register", "alice", "alice@example.com", "--password-stdin"]).await?;
    ok(url, bob.path(), &["register", "bob", "bob@example.com", "--password-stdin"]).await?;
    let a = |args: &'static [&'static str]| ok(url, alice.path(), args);

    assert!(a(&["room", "create", "General", "--topic", "everything"]).await?.contains("General"));
    assert_eq!(a(&["send", "general", "hello", "world"]).await?.trim(), "sent #2");
    let history = a(&["history", "general"]).await?;
    assert!(history.contains("[General] #1 ") && history.contains("* alice joined"), "{history}");
    assert!(history.contains("[General] #2 ") && history.contains("alice: hello world"), "{history}");
    let rooms = a(&["rooms"]).await?;
    assert!(rooms.contains("General") && rooms.contains("owner"), "{rooms}");

    // Bob finds it in the directory, joins by name, and is listed.
    assert!(ok(url, bob.path(), &["rooms", "--public"]).await?.contains("General"));
    ok(url, bob.path(), &["room", "join", "general"]).await?;
    let members = a(&["room", "members", "general"]).await?;
    assert!(members.contains("alice") && members.contains("bob"), "{members}");
    a(&["room", "role", "general", "bob", "admin"]).await?;
    assert!(a(&["room", "members", "general"]).await?.lines().any(|l| l.starts_with("bob") && l.contains("admin")));

    // A private room and an invitation; a direct conversation.
    a(&["room", "create", "secret", "--private"]).await?;
    a(&["room", "invite", "secret", "bob"]).await?;
    assert!(ok(url, bob.path(), &["rooms", "--invited"]).await?.contains("secret"));
    ok(url, bob.path(), &["room", "join", "secret"]).await?;
    a(&["room", "remove", "secret", "bob"]).await?;
    assert!(a(&["dm", "bob"]).await?.contains("@bob"));
    assert_eq!(a(&["send", "@bob", "psst"]).await?.trim(), "sent #3");
    assert!(ok(url, bob.path(), &["history", "@alice"]).await?.contains("alice: psst"));

    let err = fails(url, alice.path(), &["send", "nowhere", "hi"]).await?;
    assert!(err.contains("none of your rooms is called \"nowhere\""), "{err}");
    let err = fails(url, alice.path(), &["send", "general", "   "]).await?;
    assert!(err.contains("body: must be 1 to 4000 characters"), "{err}");
    assert_eq!(a(&["who"]).await?.trim(), "nobody is online");
    Ok(())
});

db_test!(async fn unread_read_and_search_from_the_command_line(t) {
    let server = TestServer::start(t).await?;
    let (alice, bob) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let url = server.url.as_str();
    ok(url, alice.path(), &["register", "alice", "alice@example.com", "--password-stdin"]).await?;
    ok(url, bob.path(), &["register", "bob", "bob@example.com", "--password-stdin"]).await?;
    let a = |args: &'static [&'static str]| ok(url, alice.path(), args);
    let b = |args: &'static [&'static str]| ok(url, bob.path(), args);
    a(&["room", "create", "General"]).await?;
    b(&["room", "join", "general"]).await?;
    b(&["send", "general", "hello", "@alice"]).await?;
    b(&["send", "general", "東京で会いましょう"]).await?;

    let unread = a(&["unread"]).await?;
    assert!(unread.lines().any(|l| l.starts_with("General") && l.contains(" 2 ") && l.contains(" 1 ")), "{unread}");
    assert_eq!(b(&["unread"]).await?.trim(), "all read");
    assert!(a(&["read", "general"]).await?.contains("General read up to #4"));
    assert_eq!(a(&["unread"]).await?.trim(), "all read");

    let found = a(&["search", "HELLO"]).await?;
    assert!(found.contains("[General] #3 ") && found.contains("bob: hello @alice"), "{found}");
    assert!(a(&["search", "東京", "--room", "general"]).await?.contains("東京で会いましょう"));
    assert_eq!(a(&["search", "nowhere"]).await?.trim(), "nothing found");
    Ok(())
});

/// A running `parley tail` whose lines can be awaited.
struct Tail {
    child: std::process::Child,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Tail {
    fn start(server: &str, home: &Path, args: &[&str]) -> anyhow::Result<Self> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(["--server", server, "--config-dir", home.to_str().unwrap_or_default(), "tail"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self { child, lines })
    }

    /// The next line that contains `needle`, skipping others (presence lines).
    async fn line_with(&mut self, needle: &str) -> anyhow::Result<String> {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(20), self.lines.recv())
                .await?
                .ok_or_else(|| anyhow::anyhow!("tail ended"))?;
            if line.contains(needle) {
                return Ok(line);
            }
        }
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

db_test!(async fn tail_resumes_after_the_server_comes_back_without_gaps_or_repeats(t) {
    let server = TestServer::start(t).await?;
    let addr = server.addr;
    let url = server.url.clone();
    let home = tempfile::tempdir()?;
    let dir = home.path();
    ok(&url, dir, &["register", "alice", "alice@example.com", "--password-stdin"]).await?;
    ok(&url, dir, &["room", "create", "general"]).await?;
    let mut tail = Tail::start(&url, dir, &["general"])?;
    // `tail` shows what comes after it starts: wait until it is following, then send.
    tokio::time::sleep(Duration::from_millis(800)).await;
    ok(&url, dir, &["send", "general", "one"]).await?;
    assert!(tail.line_with("alice: ").await?.ends_with("alice: one"));

    server.stop().await?;
    let server = TestServer::start_at(t, addr, |_| {}).await?;
    for text in ["two", "three", "four"] {
        ok(&server.url, dir, &["send", "general", text]).await?;
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(tail.line_with("alice: ").await?);
    }
    let texts: Vec<&str> = seen.iter().filter_map(|l| l.rsplit("alice: ").next()).collect();
    assert_eq!(texts, ["two", "three", "four"]);
    assert!(seen[0].contains("#3 ") && seen[2].contains("#5 "), "{seen:?}");
    // Nothing repeated afterwards either: the next line is the next message.
    ok(&server.url, dir, &["send", "general", "five"]).await?;
    assert!(tail.line_with("alice: ").await?.ends_with("alice: five"));
    Ok(())
});

db_test!(async fn tail_shows_presence_and_who_lists_the_connected(t) {
    let server = TestServer::start_with(t, |c| c.presence_grace = Duration::from_millis(500)).await?;
    let url = server.url.clone();
    let (alice, bob) = (tempfile::tempdir()?, tempfile::tempdir()?);
    ok(&url, alice.path(), &["register", "alice", "alice@example.com", "--password-stdin"]).await?;
    ok(&url, bob.path(), &["register", "bob", "bob@example.com", "--password-stdin"]).await?;
    ok(&url, alice.path(), &["room", "create", "general"]).await?;
    ok(&url, bob.path(), &["room", "join", "general"]).await?;
    let mut watching = Tail::start(&url, alice.path(), &[])?;
    assert_eq!(watching.line_with("* alice is").await?, "* alice is online");
    let bobs = Tail::start(&url, bob.path(), &["general"])?;
    assert_eq!(watching.line_with("* bob is").await?, "* bob is online");
    let who = ok(&url, alice.path(), &["who", "general"]).await?;
    assert!(who.lines().any(|l| l.starts_with("bob") && l.ends_with("online")), "{who}");
    drop(bobs);
    assert_eq!(watching.line_with("* bob is").await?, "* bob is offline");
    Ok(())
});
