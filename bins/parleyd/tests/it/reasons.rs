//! Every error carries a `google.rpc.ErrorInfo` with a stable reason (listed in `errors.proto`), so that
//! clients branch on it rather than on message text.

use api::v1::{GetMeRequest, LoginRequest, RegisterRequest, Visibility};
use testkit::db_test;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::support::{Register as _, SECRET, TestServer, bearer, expect_code};

/// The reason and domain of a status's ErrorInfo.
fn reason(status: &tonic::Status) -> (String, String) {
    let info = status.get_details_error_info().unwrap_or_else(|| panic!("no ErrorInfo on {status:?}"));
    (info.reason, info.domain)
}

#[track_caller]
fn expect_reason<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: Code, expected: &str) -> tonic::Status {
    let status = expect_code(result, code);
    assert_eq!(reason(&status), (expected.to_owned(), "parley.chat".to_owned()), "{status:?}");
    status
}

db_test!(async fn every_error_names_its_reason(t) {
    let server = TestServer::start(t).await?;
    let alice = server.register("alice").await?;
    let bob = server.register("bob").await?;
    let mut auth = server.auth().await?;

    // Tokens: missing, invalid, expired (the same claims as a real token, with `exp` in the past).
    expect_reason(auth.get_me(GetMeRequest {}).await, Code::Unauthenticated, "CREDENTIALS_MISSING");
    expect_reason(auth.get_me(bearer(GetMeRequest {}, "x.y.z")).await, Code::Unauthenticated, "TOKEN_INVALID");
    let real = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&alice.tokens.access_token)?;
    let mut claims = real.claims.clone();
    claims["exp"] = serde_json::json!(claims["iat"].as_i64().unwrap_or_default() - 120);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = real.header.kid.clone();
    let expired = jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(SECRET))?;
    expect_reason(auth.get_me(bearer(GetMeRequest {}, &expired)).await, Code::Unauthenticated, "TOKEN_EXPIRED");

    // Accounts.
    let taken = RegisterRequest {
        username: "ALICE".into(),
        email: "other@example.com".into(),
        password: "password-1".into(),
        display_name: String::new(),
    };
    expect_reason(auth.register(taken).await, Code::AlreadyExists, "USERNAME_TAKEN");
    let status = expect_reason(
        auth.register(RegisterRequest { username: "x".into(), ..RegisterRequest::default() }).await,
        Code::InvalidArgument,
        "FIELD_INVALID",
    );
    assert!(status.get_details_bad_request().is_some(), "field errors still name their fields");
    let wrong = LoginRequest { login: "alice".into(), password: "wrong password".into() };
    expect_reason(auth.login(wrong).await, Code::Unauthenticated, "BAD_CREDENTIALS");

    // Rooms.
    let private = alice.create_room("secret", Visibility::Private).await?;
    let public = alice.create_room("lobby", Visibility::Public).await?;
    expect_reason(bob.room(&private.id).await, Code::NotFound, "ROOM_NOT_FOUND");
    expect_reason(bob.send(&public.id, "hi").await, Code::PermissionDenied, "NOT_A_MEMBER");
    expect_reason(alice.invite(&public.id, "nobody").await, Code::NotFound, "USER_NOT_FOUND");
    expect_reason(alice.invite(&public.id, "alice").await, Code::AlreadyExists, "ALREADY_A_MEMBER");
    expect_reason(alice.send(&public.id, "").await, Code::InvalidArgument, "FIELD_INVALID");
    expect_reason(alice.send("not-an-id", "hi").await, Code::InvalidArgument, "FIELD_INVALID");
    Ok(())
});

db_test!(async fn throttled_logins_say_so_and_when_to_retry(t) {
    let server = TestServer::start_with(t, |c| c.auth.throttle.per_account = 2).await?;
    server.register("alice").await?;
    let mut auth = server.auth().await?;
    for _ in 0..2 {
        let wrong = LoginRequest { login: "alice".into(), password: "wrong password".into() };
        expect_reason(auth.login(wrong).await, Code::Unauthenticated, "BAD_CREDENTIALS");
    }
    let wrong = LoginRequest { login: "alice".into(), password: "wrong password".into() };
    let status = expect_reason(auth.login(wrong).await, Code::ResourceExhausted, "LOGIN_THROTTLED");
    assert!(status.get_details_retry_info().and_then(|r| r.retry_delay).is_some());
    Ok(())
});
