//! Issue 13, tried as an abusive client would, against a real parleyd: a burst of wrong passwords, too many
//! streams, a send flood, a registration spree, oversized fields and messages, and memory that comes back.
//! Each limit is shown to hold for the abuser while another user is unaffected.

use std::time::{Duration, Instant};

use api::v1::auth_service_client::AuthServiceClient;
use api::v1::{LoginRequest, MarkReadRequest, RegisterRequest, SearchMessagesRequest, Visibility};
use futures::StreamExt as _;
use testkit::db_test;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::support::{Daemon, Register as _, TestServer, expect_code};

fn reason(status: &tonic::Status) -> String {
    status.get_details_error_info().map(|i| i.reason).unwrap_or_default()
}

fn registration(name: &str) -> RegisterRequest {
    RegisterRequest {
        username: name.into(),
        email: format!("{name}@example.com"),
        password: "password-1".into(),
        display_name: String::new(),
    }
}

/// A server with the default request limits (test servers run without them unless asked).
async fn limited(t: &testkit::TestDb, adjust: impl FnOnce(&mut gateway::Config)) -> anyhow::Result<TestServer> {
    TestServer::start_with(t, |c| {
        c.rates = gateway::RateConfig::default();
        adjust(c);
    })
    .await
}

db_test!(async fn a_concurrent_burst_of_wrong_passwords_gets_at_most_the_allowed_verdicts(t) {
    let server = TestServer::start_with(t, |c| c.auth.throttle.per_account = 10).await?;
    server.register("alice").await?;
    let channel = server.channel().await?;
    let attempts = (0..40).map(|_| {
        let mut auth = AuthServiceClient::new(channel.clone());
        async move { auth.login(LoginRequest { login: "alice".into(), password: "wrong password".into() }).await }
    });
    let outcomes = futures::future::join_all(attempts).await;
    let verdicts = outcomes.iter().filter(|r| matches!(r, Err(s) if s.code() == Code::Unauthenticated)).count();
    let throttled = outcomes
        .iter()
        .filter(|r| matches!(r, Err(s) if s.code() == Code::ResourceExhausted && reason(s) == "LOGIN_THROTTLED"))
        .count();
    assert_eq!(verdicts, 10, "each of the allowed attempts was verified, and no more");
    assert_eq!(throttled, 30);
    Ok(())
});

db_test!(async fn a_user_gets_at_most_the_stream_limit_and_others_are_unaffected(t) {
    let server = TestServer::start_with(t, |c| c.messaging.streams_per_user = 4).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let mut open = Vec::new();
    for _ in 0..4 {
        open.push(alice.subscribe(&[]).await?);
    }
    let status = expect_code(alice.subscribe(&[]).await, Code::ResourceExhausted);
    assert_eq!(reason(&status), "LIMIT_REACHED");
    assert!(status.message().contains("4 open streams"), "{}", status.message());
    let _bobs = bob.subscribe(&[]).await?;
    // Closing one frees its place.
    drop(open.pop());
    let mut again = Err(tonic::Status::unknown("not tried"));
    for _ in 0..50 {
        again = alice.subscribe(&[]).await;
        if again.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    again?;
    Ok(())
});

db_test!(async fn a_send_flood_is_refused_with_a_retry_delay_while_another_user_sends(t) {
    let server = limited(t, |c| {
        if let Some(quotas) = c.rates.quotas.as_mut() {
            quotas.insert(gateway::RateKind::Send, gateway::Quota::new(5, Duration::from_secs(60), 20));
        }
    })
    .await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    bob.join(&room).await?;
    let flood = (0..60).map(|i| {
        let alice = alice.clone();
        let room = room.clone();
        async move { alice.send_with_id(&room, "spam", &format!("s{i}")).await }
    });
    let outcomes = futures::future::join_all(flood).await;
    let sent = outcomes.iter().filter(|r| r.is_ok()).count();
    let refused: Vec<&tonic::Status> = outcomes.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(sent, 20, "the burst goes through");
    assert_eq!(refused.len(), 40);
    for status in refused {
        assert_eq!((status.code(), reason(status).as_str()), (Code::ResourceExhausted, "RATE_LIMITED"));
        let delay = status.get_details_retry_info().and_then(|r| r.retry_delay).unwrap_or_default();
        assert!(delay > Duration::ZERO && delay <= Duration::from_secs(12), "{delay:?}");
    }
    bob.send(&room, "hello, still here").await?;
    Ok(())
});

db_test!(async fn searches_and_read_markers_are_limited_per_user(t) {
    // Bursts of 5 and then one a minute, so that no token comes back while the test runs.
    let server = limited(t, |c| {
        if let Some(quotas) = c.rates.quotas.as_mut() {
            for kind in [gateway::RateKind::Search, gateway::RateKind::MarkRead] {
                quotas.insert(kind, gateway::Quota::new(1, Duration::from_secs(60), 5));
            }
        }
    })
    .await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let room = alice.create_room("r", Visibility::Public).await?.id;
    bob.join(&room).await?;
    let seq = bob.send(&room, "needle in a haystack").await?.seq;
    let search = |who: &crate::support::Client| {
        let request = SearchMessagesRequest { query: "needle".into(), ..Default::default() };
        let mut messages = who.messages();
        let request = who.req(request);
        async move { messages.search_messages(request).await }
    };
    let mark = |who: &crate::support::Client| {
        let mut messages = who.messages();
        let request = who.req(MarkReadRequest { room_id: room.clone(), seq });
        async move { messages.mark_read(request).await }
    };
    for _ in 0..5 {
        assert_eq!(search(&alice).await?.into_inner().results.len(), 1);
        mark(&alice).await?;
    }
    for (what, outcome) in [("search", search(&alice).await.map(|_| ())), ("mark", mark(&alice).await.map(|_| ()))] {
        let Err(status) = outcome else { anyhow::bail!("the {what} over the limit was accepted") };
        assert_eq!((status.code(), reason(&status).as_str()), (Code::ResourceExhausted, "RATE_LIMITED"), "{what}");
        assert!(status.get_details_retry_info().is_some(), "{what}");
    }
    assert_eq!(search(&bob).await?.into_inner().results.len(), 1, "another user still searches");
    mark(&bob).await?;
    Ok(())
});

db_test!(async fn registrations_from_one_address_are_limited(t) {
    let server = limited(t, |_| {}).await?;
    let mut auth = AuthServiceClient::new(server.channel().await?);
    for i in 0..5 {
        auth.register(registration(&format!("user{i}"))).await?;
    }
    let status = expect_code(auth.register(registration("user5")).await, Code::ResourceExhausted);
    assert_eq!(reason(&status), "RATE_LIMITED");
    assert!(status.get_details_retry_info().is_some());
    Ok(())
});

db_test!(async fn oversized_fields_and_messages_are_refused_before_any_work(t) {
    let server = TestServer::start_with(t, |c| c.auth.throttle.per_account = 1).await?;
    let alice = server.register("alice").await?;
    let mut auth = AuthServiceClient::new(server.channel().await?);
    // A request over the size limit never reaches a service.
    let huge = LoginRequest { login: "a".repeat(1 << 20), password: "password-1".into() };
    let status = expect_code(auth.login(huge).await, Code::ResourceExhausted);
    assert_eq!(reason(&status), "REQUEST_TOO_LARGE");
    // Under the size limit but longer than any account's: refused by name, before throttling, lookup or
    // hashing (a throttle of one failure would otherwise lock the next attempt out).
    let started = Instant::now();
    for _ in 0..3 {
        let long = LoginRequest { login: "a".repeat(60_000), password: "password-1".into() };
        let status = expect_code(auth.login(long).await, Code::InvalidArgument);
        let fields: Vec<String> =
            status.get_details_bad_request().map(|b| b.field_violations.into_iter().map(|v| v.field).collect()).unwrap_or_default();
        assert_eq!(fields, ["login"]);
    }
    let long_password = LoginRequest { login: "alice".into(), password: "p".repeat(129) };
    expect_code(auth.login(long_password).await, Code::InvalidArgument);
    auth.login(LoginRequest { login: "alice".into(), password: crate::support::password_of("alice") }).await?;
    // A 128-character Unicode password is fine.
    let unicode = RegisterRequest { password: "пароль".repeat(21) + "ok", ..registration("boris") };
    assert_eq!(unicode.password.chars().count(), 128);
    auth.register(unicode).await?;
    assert!(started.elapsed() < Duration::from_secs(30));
    // Names in invitations and direct rooms, and the Subscribe room list.
    let room = alice.create_room("r", Visibility::Public).await?.id;
    let status = expect_code(alice.invite(&room, &"x".repeat(33)).await, Code::InvalidArgument);
    assert_eq!(reason(&status), "FIELD_INVALID");
    let rooms: Vec<(String, i64)> = (0..1001).map(|_| (types::RoomId::new().to_string(), 0)).collect();
    let cursors: Vec<(&str, i64)> = rooms.iter().map(|(r, s)| (r.as_str(), *s)).collect();
    let status = expect_code(alice.subscribe(&cursors).await, Code::InvalidArgument);
    assert!(status.message().contains("at most 1000 rooms"), "{}", status.message());
    Ok(())
});

db_test!(async fn a_unary_call_has_a_deadline(t) {
    // A deadline shorter than any call: every unary call answers DEADLINE_EXCEEDED, streams are not cut.
    let server = TestServer::start_with(t, |c| c.transport.request_timeout = Duration::from_nanos(1)).await?;
    let mut auth = AuthServiceClient::new(server.channel().await?);
    let status = expect_code(auth.register(registration("alice")).await, Code::DeadlineExceeded);
    assert_eq!(reason(&status), "TIMEOUT");
    Ok(())
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_and_the_rest_keep_working() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let daemon =
        Daemon::spawn(&["--data-dir", data.path().to_str().unwrap_or_default(), "--max-connections", "2"], &[]).await?;
    let first = daemon.channel().await?;
    let second = daemon.channel().await?;
    AuthServiceClient::new(first.clone()).register(registration("alice")).await?;
    AuthServiceClient::new(second.clone()).register(registration("bob")).await?;
    let third = tokio::time::timeout(Duration::from_secs(10), async {
        let channel = daemon.channel().await?;
        AuthServiceClient::new(channel).register(registration("carol")).await.map_err(anyhow::Error::from)
    })
    .await?;
    assert!(third.is_err(), "a third connection is refused");
    AuthServiceClient::new(first).register(registration("dave")).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_comes_back_after_a_burst_of_registrations_and_logins() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let daemon = Daemon::spawn(&["--data-dir", data.path().to_str().unwrap_or_default()], &[]).await?;
    let channel = daemon.channel().await?;
    // Warm up: one of each, so that the baseline includes what any server has after its first hash.
    AuthServiceClient::new(channel.clone()).register(registration("warmup")).await?;
    let before = daemon.rss_kib()?;
    let calls = (0..100).map(|i| {
        let mut auth = AuthServiceClient::new(channel.clone());
        async move {
            let name = format!("user{i}");
            auth.register(registration(&name)).await?;
            auth.login(LoginRequest { login: name, password: "password-1".into() }).await?;
            anyhow::Ok(())
        }
    });
    let mut calls = futures::stream::iter(calls).buffer_unordered(8);
    while let Some(result) = calls.next().await {
        result?;
    }
    let after = daemon.rss_kib()?;
    let grown_mib = after.saturating_sub(before) / 1024;
    testkit::notice(&format!("100 registrations + 100 logins: RSS {before} -> {after} KiB"));
    assert!(grown_mib < 48, "100 registrations and 100 logins grew RSS by {grown_mib} MiB ({before} -> {after} KiB)");
    Ok(())
}
