//! chat.v1.AuthService end to end: issue #3's rules.

use std::time::{Duration, Instant};

use api::v1::{GetMeRequest, LoginRequest, LogoutRequest, RefreshTokenRequest, RegisterRequest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use testkit::db_test;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::support::{Register as _, SECRET, TestServer, bearer, expect_code, password_of};

fn registration(username: &str, email: &str, password: &str) -> RegisterRequest {
    RegisterRequest {
        username: username.into(),
        email: email.into(),
        password: password.into(),
        display_name: String::new(),
    }
}

fn login(login: &str, password: &str) -> LoginRequest {
    LoginRequest { login: login.into(), password: password.into() }
}

/// The (field, description) pairs of a status's BadRequest details.
fn violations(status: &tonic::Status) -> Vec<(String, String)> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| (v.field, v.description)).collect())
        .unwrap_or_default()
}

db_test!(async fn registration_opens_a_session_and_get_me_shows_the_email(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    assert_eq!(alice.user.username, "alice");
    assert_eq!(alice.user.display_name, "alice", "display name defaults to the username");
    assert_eq!(alice.user.email, "alice@example.com");
    let me = alice.auth().get_me(alice.req(GetMeRequest {})).await?.into_inner().user.expect("user");
    assert_eq!(me, alice.user);
    Ok(())
});

db_test!(async fn usernames_collide_regardless_of_case_and_width(t) {
    let server = TestServer::start(t).await?;
    let mut auth = server.auth().await?;
    let first = auth.register(registration("Alice", "a1@example.com", "password-1")).await?.into_inner();
    assert_eq!(first.user.expect("user").username, "Alice", "the typed form is kept for display");
    for (i, variant) in ["alice", "ALICE", "ａｌｉｃｅ", "Ａｌｉｃｅ"].into_iter().enumerate() {
        let email = format!("other{i}@example.com");
        let status = expect_code(auth.register(registration(variant, &email, "password-1")).await, Code::AlreadyExists);
        assert_eq!(status.message(), "username is already taken", "{variant}");
    }
    // Any of those forms signs in to the one account.
    for variant in ["alice", "ａｌｉｃｅ"] {
        let user = auth.login(login(variant, "password-1")).await?.into_inner().user.expect("user");
        assert_eq!(user.username, "Alice");
    }
    Ok(())
});

db_test!(async fn emails_collide_regardless_of_case(t) {
    let server = TestServer::start(t).await?;
    let mut auth = server.auth().await?;
    auth.register(registration("alice", "Alice@Example.com", "password-1")).await?;
    let status = expect_code(auth.register(registration("bob", "alice@EXAMPLE.COM", "password-1")).await, Code::AlreadyExists);
    assert_eq!(status.message(), "email is already taken");
    let user = auth.login(login("ALICE@example.com", "password-1")).await?.into_inner().user.expect("user");
    assert_eq!(user.username, "alice");
    assert_eq!(user.email, "Alice@Example.com", "the typed form is kept");
    Ok(())
});

db_test!(async fn every_invalid_field_is_named_with_its_reason(t) {
    let server = TestServer::start(t).await?;
    let mut auth = server.auth().await?;
    let cases: Vec<(RegisterRequest, Vec<(&str, &str)>)> = vec![
        (registration("al", "a@example.com", "password-1"), vec![("username", "must be 3 to 32 characters (is 2)")]),
        (registration(&"a".repeat(33), "a@example.com", "password-1"), vec![("username", "must be 3 to 32 characters (is 33)")]),
        (registration("al ice", "a@example.com", "password-1"), vec![("username", "must contain only letters, digits, '_', '-' and '.'")]),
        (registration("alice", "", "password-1"), vec![("email", "must not be empty")]),
        (registration("alice", "alice.example.com", "password-1"), vec![("email", "must look like name@example.com")]),
        (registration("alice", "alice@localhost", "password-1"), vec![("email", "the part after '@' must be a domain such as example.com")]),
        (registration("alice", "al ice@example.com", "password-1"), vec![("email", "must not contain spaces or control characters")]),
        (registration("alice", &format!("{}@example.com", "a".repeat(65)), "password-1"), vec![("email", "the part before '@' must be 1 to 64 characters")]),
        (registration("alice", &format!("a@{}.com", "b".repeat(250)), "password-1"), vec![("email", "must be at most 254 characters")]),
        (registration("alice", "a@example.com", "short"), vec![("password", "must be 8 to 128 characters (is 5)")]),
        (registration("alice", "a@example.com", &"p".repeat(129)), vec![("password", "must be 8 to 128 characters (is 129)")]),
        (
            RegisterRequest { display_name: "d".repeat(65), ..registration("alice", "a@example.com", "password-1") },
            vec![("display_name", "must be at most 64 characters (is 65)")],
        ),
        (
            registration("x", "y", "z"),
            vec![
                ("username", "must be 3 to 32 characters (is 1)"),
                ("email", "must look like name@example.com"),
                ("password", "must be 8 to 128 characters (is 1)"),
            ],
        ),
    ];
    for (request, expected) in cases {
        let status = expect_code(auth.register(request.clone()).await, Code::InvalidArgument);
        let got = violations(&status);
        let want: Vec<(String, String)> = expected.iter().map(|(f, d)| ((*f).to_owned(), (*d).to_owned())).collect();
        assert_eq!(got, want, "for {request:?}");
        for (field, description) in &want {
            assert!(status.message().contains(&format!("{field}: {description}")), "message {:?}", status.message());
        }
    }
    Ok(())
});

db_test!(async fn passwords_are_used_exactly_as_given(t) {
    let server = TestServer::start(t).await?;
    let mut auth = server.auth().await?;
    let password = "  pässwörd with spaces  ";
    auth.register(registration("alice", "alice@example.com", password)).await?;
    expect_code(auth.login(login("alice", password.trim())).await, Code::Unauthenticated);
    auth.login(login("alice", password)).await?;
    Ok(())
});

db_test!(async fn unknown_users_and_wrong_passwords_get_the_same_answer_in_about_the_same_time(t) {
    let server = TestServer::start(t).await?;
    server.register("alice").await?;
    let mut auth = server.auth().await?;
    let wrong = expect_code(auth.login(login("alice", "wrong password")).await, Code::Unauthenticated);
    let unknown = expect_code(auth.login(login("mallory", "wrong password")).await, Code::Unauthenticated);
    assert_eq!(wrong.message(), unknown.message());
    assert_eq!(wrong.details(), unknown.details());

    // Without a dummy verification an unknown user would answer ~50x faster. Medians of a few attempts
    // each, with a wide bound, so that a noisy machine cannot make this fail.
    let mut time = async |who: &str| -> anyhow::Result<Duration> {
        let mut samples = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            let _ = auth.login(login(who, "wrong password")).await;
            samples.push(start.elapsed());
        }
        samples.sort();
        Ok(samples[2])
    };
    let wrong = time("alice").await?;
    let unknown = time("nobody-at-all").await?;
    let ratio = unknown.as_secs_f64() / wrong.as_secs_f64();
    assert!((0.33..3.0).contains(&ratio), "unknown user {unknown:?} vs wrong password {wrong:?}");
    Ok(())
});

db_test!(async fn refresh_rotates_and_reuse_revokes_the_session(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let mut auth = alice.auth();
    let first = alice.tokens.refresh_token.clone();

    let second = auth.refresh_token(RefreshTokenRequest { refresh_token: first.clone() }).await?.into_inner().tokens.expect("tokens");
    assert_ne!(second.refresh_token, first);
    assert_ne!(second.access_token, alice.tokens.access_token);
    auth.get_me(bearer(GetMeRequest {}, &second.access_token)).await?;

    // Someone presents the first token again: theft. The whole session ends.
    let status = expect_code(auth.refresh_token(RefreshTokenRequest { refresh_token: first }).await, Code::Unauthenticated);
    assert!(status.message().contains("already used"), "{}", status.message());
    let status = expect_code(auth.refresh_token(RefreshTokenRequest { refresh_token: second.refresh_token.clone() }).await, Code::Unauthenticated);
    assert!(status.message().contains("revoked"), "{}", status.message());
    let status = expect_code(auth.get_me(bearer(GetMeRequest {}, &second.access_token)).await, Code::Unauthenticated);
    assert_eq!(status.message(), "session has ended; sign in again");

    // Signing in again works.
    auth.login(login("alice", &password_of("alice"))).await?;
    Ok(())
});

db_test!(async fn garbage_refresh_tokens_are_refused(t) {
    let server = TestServer::start(t).await?;
    let mut auth = server.auth().await?;
    for token in ["", "nonsense", "prt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        expect_code(auth.refresh_token(RefreshTokenRequest { refresh_token: token.into() }).await, Code::Unauthenticated);
    }
    Ok(())
});

db_test!(async fn logout_ends_this_session_and_leaves_the_others(t) {
    let server = TestServer::start(t).await?;
    let phone = server.register("alice").await?;
    let mut auth = phone.auth();
    let laptop = auth.login(login("alice", &password_of("alice"))).await?.into_inner().tokens.expect("tokens");

    auth.logout(phone.req(LogoutRequest::default())).await?;
    // Rejected at once on this node, not only at expiry.
    expect_code(auth.get_me(phone.req(GetMeRequest {})).await, Code::Unauthenticated);
    expect_code(auth.refresh_token(RefreshTokenRequest { refresh_token: phone.tokens.refresh_token.clone() }).await, Code::Unauthenticated);
    auth.get_me(bearer(GetMeRequest {}, &laptop.access_token)).await?;
    auth.refresh_token(RefreshTokenRequest { refresh_token: laptop.refresh_token }).await?;
    Ok(())
});

db_test!(async fn logout_by_refresh_token_ends_that_session(t) {
    let server = TestServer::start(t).await?;
    let phone = server.register("alice").await?;
    let mut auth = phone.auth();
    let laptop = auth.login(login("alice", &password_of("alice"))).await?.into_inner().tokens.expect("tokens");
    auth.logout(phone.req(LogoutRequest { refresh_token: laptop.refresh_token.clone(), all_sessions: false })).await?;
    expect_code(auth.get_me(bearer(GetMeRequest {}, &laptop.access_token)).await, Code::Unauthenticated);
    auth.get_me(phone.req(GetMeRequest {})).await?;

    // Someone else's session cannot be ended this way.
    let bob = server.register("bob").await?;
    let status = expect_code(
        auth.logout(bob.req(LogoutRequest { refresh_token: phone.tokens.refresh_token.clone(), all_sessions: false })).await,
        Code::NotFound,
    );
    assert_eq!(status.message(), "no session of yours has this refresh token");
    auth.get_me(phone.req(GetMeRequest {})).await?;
    Ok(())
});

db_test!(async fn logout_everywhere_ends_every_session(t) {
    let server = TestServer::start(t).await?;
    let phone = server.register("alice").await?;
    let mut auth = phone.auth();
    let laptop = auth.login(login("alice", &password_of("alice"))).await?.into_inner().tokens.expect("tokens");
    let bob = server.register("bob").await?;
    auth.logout(phone.req(LogoutRequest { refresh_token: String::new(), all_sessions: true })).await?;
    expect_code(auth.get_me(phone.req(GetMeRequest {})).await, Code::Unauthenticated);
    expect_code(auth.get_me(bearer(GetMeRequest {}, &laptop.access_token)).await, Code::Unauthenticated);
    expect_code(auth.refresh_token(RefreshTokenRequest { refresh_token: laptop.refresh_token }).await, Code::Unauthenticated);
    auth.get_me(bob.req(GetMeRequest {})).await?;
    Ok(())
});

fn from(address: &str, request: LoginRequest) -> tonic::Request<LoginRequest> {
    let mut request = tonic::Request::new(request);
    if let Ok(value) = address.parse() {
        request.metadata_mut().insert("x-forwarded-for", value);
    }
    request
}

db_test!(async fn failed_logins_are_throttled_per_account_and_address_and_released(t) {
    let window = Duration::from_secs(2);
    let server = TestServer::start_with(t, |c| {
        c.trust_forwarded_for = true;
        c.auth.throttle = gateway::ThrottleConfig { per_account: 3, per_address: 100, per_account_any_address: 100, window };
    })
    .await?;
    server.register("alice").await?;
    let mut auth = server.auth().await?;
    let attacker = "203.0.113.9";
    for _ in 0..3 {
        expect_code(auth.login(from(attacker, login("alice", "guess"))).await, Code::Unauthenticated);
    }
    let throttled_at = Instant::now();
    let status = expect_code(auth.login(from(attacker, login("alice", &password_of("alice")))).await, Code::ResourceExhausted);
    assert!(status.message().starts_with("too many failed sign-in attempts; try again in "), "{}", status.message());
    let retry = status.get_details_retry_info().and_then(|r| r.retry_delay).expect("RetryInfo in the details");
    assert!(retry > Duration::ZERO && retry <= window, "{retry:?}");

    // The owner, signing in from elsewhere, is not locked out.
    auth.login(from("198.51.100.7", login("alice", &password_of("alice")))).await?;

    // After the window, the attacker's address may try again.
    tokio::time::sleep(window.saturating_sub(throttled_at.elapsed()) + Duration::from_millis(100)).await;
    auth.login(from(attacker, login("alice", &password_of("alice")))).await?;
    Ok(())
});

db_test!(async fn one_address_failing_on_many_accounts_is_throttled(t) {
    let server = TestServer::start_with(t, |c| {
        c.trust_forwarded_for = true;
        c.auth.throttle = gateway::ThrottleConfig { per_account: 10, per_address: 4, per_account_any_address: 100, window: Duration::from_secs(60) };
    })
    .await?;
    server.register("alice").await?;
    let mut auth = server.auth().await?;
    for name in ["a1", "a2", "a3", "a4"] {
        expect_code(auth.login(from("203.0.113.9", login(name, "guess"))).await, Code::Unauthenticated);
    }
    expect_code(auth.login(from("203.0.113.9", login("alice", &password_of("alice")))).await, Code::ResourceExhausted);
    auth.login(from("198.51.100.7", login("alice", &password_of("alice")))).await?;
    Ok(())
});

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    exp: i64,
    iat: i64,
    sid: &'a str,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

db_test!(async fn forged_expired_and_foreign_tokens_are_refused(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let mut auth = alice.auth();

    // Take the claims and key id of a real token, then change one thing at a time.
    let real = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&alice.tokens.access_token)?;
    let kid = real.header.kid.clone();
    let sub = real.claims["sub"].as_str().unwrap_or_default().to_owned();
    let sid = real.claims["sid"].as_str().unwrap_or_default().to_owned();
    let now = unix_now();
    let claims = |aud: &'static str, exp: i64| Claims { iss: "parley", aud, sub: &sub, exp, iat: now - 10, sid: &sid };
    let sign = |claims: &Claims<'_>, key: &[u8]| -> anyhow::Result<String> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = kid.clone();
        Ok(jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_secret(key))?)
    };

    // The same claims, correctly signed, are accepted: so each refusal below is for the one change.
    auth.get_me(bearer(GetMeRequest {}, &sign(&claims("parley", now + 600), SECRET)?)).await?;

    let expired = sign(&claims("parley", now - 60), SECRET)?;
    let status = expect_code(auth.get_me(bearer(GetMeRequest {}, &expired)).await, Code::Unauthenticated);
    assert_eq!(status.message(), "access token has expired; get a new one with RefreshToken");

    let wrong_audience = sign(&claims("someone-else", now + 600), SECRET)?;
    let wrong_key = sign(&claims("parley", now + 600), b"another secret that is also thirty-two bytes")?;
    let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#, kid.clone().unwrap_or_default()));
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims("parley", now + 600))?);
    let alg_none = format!("{header}.{body}.");
    let tampered = {
        let mut parts: Vec<String> = alice.tokens.access_token.split('.').map(str::to_owned).collect();
        parts[1] = body.clone();
        parts.join(".")
    };
    for (what, token) in [("wrong audience", wrong_audience), ("wrong key", wrong_key), ("alg none", alg_none), ("tampered", tampered), ("garbage", "x.y.z".into())] {
        let status = expect_code(auth.get_me(bearer(GetMeRequest {}, &token)).await, Code::Unauthenticated);
        assert_eq!(status.message(), "access token is invalid; sign in again", "{what}");
    }

    let status = expect_code(auth.get_me(tonic::Request::new(GetMeRequest {})).await, Code::Unauthenticated);
    assert_eq!(status.message(), "missing credentials: send the metadata \"authorization: Bearer <access_token>\"");
    let mut basic = tonic::Request::new(GetMeRequest {});
    basic.metadata_mut().insert("authorization", "Basic YWxpY2U6cHc=".parse()?);
    let status = expect_code(auth.get_me(basic).await, Code::Unauthenticated);
    assert!(status.message().starts_with("malformed credentials"), "{}", status.message());
    Ok(())
});

db_test!(async fn sign_in_calls_need_no_token_and_every_other_call_does(t) {
    let server = TestServer::start(t).await?;
    let mut auth = server.auth().await?;
    expect_code(auth.logout(LogoutRequest::default()).await, Code::Unauthenticated);
    expect_code(auth.get_me(GetMeRequest {}).await, Code::Unauthenticated);
    expect_code(auth.login(login("nobody", "password-1")).await, Code::Unauthenticated);
    Ok(())
});
