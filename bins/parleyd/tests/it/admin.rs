//! `parleyd admin …`: the real binary, run as its own process against the database of a running server
//! (on SQLite and on MySQL), and what the server's clients see of each command.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use api::v1::subscribe_response::Event;
use api::v1::{
    AddReactionRequest, ListRoomsRequest, ListRoomsScope, LoginRequest, RefreshTokenRequest, RoomRemovedReason,
    SearchMessagesRequest, Visibility,
};
use testkit::{Nats, TestDb, db_test};
use tokio::io::AsyncWriteExt as _;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::support::{Client, Register as _, TestServer, expect_code, password_of};

fn reason(status: &tonic::Status) -> String {
    status.get_details_error_info().map(|i| i.reason).unwrap_or_default()
}

/// What one run of `parleyd admin` did.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs `parleyd admin ARGS` on the database of `t` (and `extra` flags), with `stdin` on its standard input.
async fn admin(t: &TestDb, args: &[&str], extra: &[&str], stdin: &str) -> anyhow::Result<Run> {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_parleyd"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PARLEY_")) {
        command.env_remove(key);
    }
    let mut child = command
        .arg("admin")
        .args(args)
        .args(["--database-url", t.url()])
        .args(extra)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let mut input = child.stdin.take().context("no stdin")?;
    input.write_all(stdin.as_bytes()).await?;
    drop(input);
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await??;
    Ok(Run {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// As [`admin`], and fails unless the command succeeded; returns its stdout.
async fn admin_ok(t: &TestDb, args: &[&str]) -> anyhow::Result<String> {
    let run = admin(t, args, &[], "").await?;
    anyhow::ensure!(run.ok, "parleyd admin {args:?} failed:\n{}", run.stderr);
    Ok(run.stdout)
}

async fn login(server: &TestServer, user: &str, password: &str) -> Result<api::v1::Tokens, tonic::Status> {
    let request = LoginRequest { login: user.into(), password: password.into() };
    let response = server.auth().await.map_err(|e| tonic::Status::unknown(e.to_string()))?.login(request).await?;
    response.into_inner().tokens.ok_or_else(|| tonic::Status::internal("no tokens"))
}

async fn refresh(server: &TestServer, token: &str) -> Result<api::v1::Tokens, tonic::Status> {
    let request = RefreshTokenRequest { refresh_token: token.into() };
    let response =
        server.auth().await.map_err(|e| tonic::Status::unknown(e.to_string()))?.refresh_token(request).await?;
    response.into_inner().tokens.ok_or_else(|| tonic::Status::internal("no tokens"))
}

/// A stream of all of `user`'s rooms, ready.
async fn following(user: &Client) -> anyhow::Result<crate::support::Events> {
    let mut events = user.subscribe_following(&[], true).await?;
    events.next_where(|e| matches!(e, Event::Ready(_)).then_some(())).await?;
    Ok(events)
}

/// The session id inside an access token.
fn session_of(access_token: &str) -> anyhow::Result<String> {
    let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(access_token)?.claims;
    Ok(claims["sid"].as_str().context("no sid")?.to_owned())
}

db_test!(async fn a_disabled_account_loses_its_streams_and_sign_in_until_it_is_enabled(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    let mut stream = following(&alice).await?;

    let out = admin_ok(t, &["disable", "alice"]).await?;
    assert!(out.contains("disabled alice"), "{out}");
    let started = Instant::now();
    let status = stream.end().await?;
    let ended = started.elapsed();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::Unauthenticated, "SESSION_ENDED"), "{status:?}");
    // The node finds the revoked session in storage within its session-check interval (2 s).
    assert!(ended < Duration::from_secs(4), "the stream ended {ended:?} after the account was disabled");

    let refused = expect_code(login(&server, "alice", &password_of("alice")).await, Code::PermissionDenied);
    assert_eq!(reason(&refused), "ACCOUNT_DISABLED");
    assert!(!refused.message().contains("alice@"), "{}", refused.message());
    let refused = expect_code(refresh(&server, &alice.tokens.refresh_token).await, Code::PermissionDenied);
    assert_eq!(reason(&refused), "ACCOUNT_DISABLED");
    let ended = expect_code(alice.room(&room).await, Code::Unauthenticated);
    assert_eq!(reason(&ended), "SESSION_ENDED");
    // A wrong password learns nothing about the account.
    let wrong = expect_code(login(&server, "alice", "not her password").await, Code::Unauthenticated);
    assert_eq!(reason(&wrong), "BAD_CREDENTIALS");

    let out = admin_ok(t, &["enable", "alice"]).await?;
    assert!(out.contains("enabled alice"), "{out}");
    login(&server, "alice", &password_of("alice")).await?;
    Ok(())
});

db_test!(async fn revoking_a_session_ends_its_refresh_and_leaves_the_others(t) {
    let server = TestServer::start(t).await?;
    let bob = server.register("bob").await?;
    let second = login(&server, "bob", &password_of("bob")).await?;
    let first_session = session_of(&bob.tokens.access_token)?;
    let second_session = session_of(&second.access_token)?;

    let listing = admin_ok(t, &["sessions", "bob@example.com"]).await?;
    assert!(listing.starts_with("bob ("), "{listing}");
    assert!(listing.contains(", enabled"), "{listing}");
    for session in [&first_session, &second_session] {
        let line = listing.lines().find(|l| l.starts_with(session.as_str())).context("a session is missing")?;
        assert!(line.ends_with("live"), "{line}");
    }

    admin_ok(t, &["revoke", "bob", &first_session]).await?;
    let refused = expect_code(refresh(&server, &bob.tokens.refresh_token).await, Code::Unauthenticated);
    assert_eq!(reason(&refused), "REFRESH_TOKEN_INVALID");
    let renewed = refresh(&server, &second.refresh_token).await?;
    let listing = admin_ok(t, &["sessions", "bob"]).await?;
    let line = listing.lines().find(|l| l.starts_with(first_session.as_str())).context("first session")?;
    assert!(line.contains("ended"), "{line}");

    // Someone else's session, a malformed id and an unknown account are refused with a clear word.
    let carol = server.register("carol").await?;
    let run = admin(t, &["revoke", "bob", &session_of(&carol.tokens.access_token)?], &[], "").await?;
    assert!(!run.ok && run.stderr.contains("the account has no session with that id"), "{}", run.stderr);
    let run = admin(t, &["revoke", "bob", "yesterday"], &[], "").await?;
    assert!(!run.ok && run.stderr.contains("not a session id"), "{}", run.stderr);
    let run = admin(t, &["disable", "nobody"], &[], "").await?;
    assert!(!run.ok && run.stderr.contains("no account has the username or email \"nobody\""), "{}", run.stderr);

    admin_ok(t, &["revoke", "bob", "--all"]).await?;
    expect_code(refresh(&server, &renewed.refresh_token).await, Code::Unauthenticated);
    refresh(&server, &carol.tokens.refresh_token).await.context("carol's session is not bob's to lose")?;
    Ok(())
});

db_test!(async fn the_operator_creates_accounts_and_resets_passwords(t) {
    let server = TestServer::start(t).await?;
    let run = admin(t, &["create-user", "dora", "--email", "dora@example.com"], &[], "first password\n").await?;
    assert!(run.ok && run.stdout.starts_with("created dora ("), "{}{}", run.stdout, run.stderr);
    assert!(!run.stderr.contains("first password"), "the password is never echoed or logged");
    login(&server, "dora", "first password").await?;
    let taken = admin(t, &["create-user", "dora", "--email", "other@example.com"], &[], "first password\n").await?;
    assert!(!taken.ok && taken.stderr.contains("username is already taken"), "{}", taken.stderr);
    let bad = admin(t, &["create-user", "x", "--email", "nope"], &[], "short\n").await?;
    assert!(!bad.ok && bad.stderr.contains("username") && bad.stderr.contains("password"), "{}", bad.stderr);

    let dora = login(&server, "dora", "first password").await?;
    let run = admin(t, &["reset-password", "dora"], &[], "second password\n").await?;
    assert!(run.ok, "{}", run.stderr);
    expect_code(login(&server, "dora", "first password").await, Code::Unauthenticated);
    expect_code(refresh(&server, &dora.refresh_token).await, Code::Unauthenticated);
    login(&server, "dora", "second password").await?;
    Ok(())
});

db_test!(async fn a_deleted_room_leaves_its_members_streams_and_every_listing(t) {
    let server = TestServer::start_with(t, |c| c.messaging.reconcile_interval = Duration::from_millis(300)).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let room = alice.create_room("doomed", Visibility::Public).await?.id;
    let kept = alice.create_room("kept", Visibility::Public).await?.id;
    bob.join(&room).await?;
    bob.join(&kept).await?;
    let said = alice.send(&room, "a findable farewell, @bob").await?;
    let request = AddReactionRequest { room_id: room.clone(), seq: said.seq, emoji: "👍".into() };
    bob.messages().add_reaction(bob.req(request)).await?;
    let mut stream = following(&bob).await?;

    let out = admin_ok(t, &["delete-room", &room]).await?;
    assert!(out.contains(&format!("deleted room {room}")), "{out}");
    let removed = stream
        .next_where(|e| match e {
            Event::RoomRemoved(r) => Some(r),
            _ => None,
        })
        .await?;
    assert_eq!((removed.room_id.as_str(), removed.reason()), (room.as_str(), RoomRemovedReason::Deleted));
    // The stream goes on for the other rooms.
    alice.send(&kept, "still here").await?;
    assert_eq!(stream.message().await?.body, "still here");

    expect_code(alice.room(&room).await, Code::NotFound);
    expect_code(bob.send(&room, "anyone?").await, Code::NotFound);
    let request = ListRoomsRequest { scope: ListRoomsScope::Joined.into(), page_size: 50, ..Default::default() };
    let listed = bob.rooms().list_rooms(bob.req(request)).await?.into_inner().rooms;
    assert_eq!(listed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [kept.as_str()]);
    let request =
        SearchMessagesRequest { query: "farewell".into(), room_id: String::new(), page_size: 10, page_token: String::new() };
    let found = alice.messages().search_messages(alice.req(request)).await?.into_inner().results;
    assert!(found.is_empty(), "the deleted room's messages are not found: {found:?}");
    let run = admin(t, &["delete-room", &room], &[], "").await?;
    assert!(!run.ok && run.stderr.contains("room not found"), "{}", run.stderr);
    Ok(())
});

db_test!(async fn in_a_cluster_a_disable_ends_streams_on_every_node_at_once(t) {
    if !Nats::available() {
        return Ok(());
    }
    let nats = Nats::start().await?;
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let node = TestServer::start_with(t, |c| {
            // Storage would tell the nodes within this; only NATS can tell them sooner.
            c.auth.session_check_interval = Duration::from_secs(60);
            c.cluster = Some(gateway::ClusterConfig::new(nats.url()));
        })
        .await?;
        crate::cluster::link_becomes(&node.url, tonic_health::pb::health_check_response::ServingStatus::Serving)
            .await?;
        nodes.push(node);
    }
    let erin = nodes[0].register("erin").await?;
    erin.create_room("r", Visibility::Public).await?;
    let mut streams = Vec::new();
    for node in &nodes {
        let channel = tonic::transport::Channel::from_shared(node.url.clone())?.connect().await?;
        let on_node = Client::new(channel, erin.user.clone(), erin.tokens.clone())?;
        streams.push(following(&on_node).await?);
    }

    let run = admin(t, &["disable", "erin"], &["--nats-url", &nats.url()], "").await?;
    assert!(run.ok, "{}", run.stderr);
    let started = Instant::now();
    for stream in &mut streams {
        let status = stream.end().await?;
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    }
    let ended = started.elapsed();
    assert!(ended < Duration::from_millis(500), "the streams ended {ended:?} after the command returned");
    let refused = expect_code(login(&nodes[1], "erin", &password_of("erin")).await, Code::PermissionDenied);
    assert_eq!(reason(&refused), "ACCOUNT_DISABLED");
    Ok(())
});
