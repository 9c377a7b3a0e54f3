//! The auth service on real databases (SQLite and MySQL), without gRPC.

// A failed expectation in a test is a failed test: panicking is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
use auth::{Auth, AuthConfig, Error, Registration};
use bus::Bus;
use storage::users::{self, NewUser};
use testkit::db_test;
use types::{Millis, UserId};

fn service(t: &testkit::TestDb) -> anyhow::Result<Auth> {
    Ok(Auth::new(t.db().clone(), Bus::default(), AuthConfig::new(vec![7; 32]))?)
}

db_test!(async fn a_weaker_stored_hash_is_upgraded_at_the_next_login(t) {
    // An account whose hash was made with parameters weaker than today's (m=1024, t=1).
    let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(1024, 1, 1, None)?)
        .hash_password(b"old password")?
        .to_string();
    let id = UserId::new();
    let mut conn = t.db().write().await?;
    users::insert(&mut conn, &NewUser {
        id,
        username: "old",
        username_key: "old",
        email: "old@example.com",
        email_key: "old@example.com",
        display_name: "old",
        password_hash: &weak,
        created_at: Millis::now(),
    })
    .await?;
    drop(conn);

    let auth = service(t)?;
    auth.login("old", "old password", None).await?;
    let mut conn = t.db().read().await?;
    let stored = users::get_account(&mut conn, id).await?.expect("account").password_hash;
    assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
    drop(conn);
    // The new hash still verifies the same password.
    auth.login("old", "old password", None).await?;
    Ok(())
});

db_test!(async fn concurrent_refreshes_of_one_token_rotate_once_and_end_the_session(t) {
    let auth = Arc::new(service(t)?);
    let (_, tokens) = auth
        .register(Registration { username: "alice", email: "a@example.com", password: "password-1", display_name: "" })
        .await?;
    let attempts = (0..4).map(|_| {
        let auth = auth.clone();
        let token = tokens.refresh_token.clone();
        async move { auth.refresh(&token).await }
    });
    let results = futures::future::join_all(attempts).await;
    let rotated: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert!(rotated.len() <= 1, "one token rotated {} times", rotated.len());
    assert!(
        results.iter().any(|r| matches!(r, Err(Error::RefreshReused))),
        "a second presentation must be seen as reuse: {results:?}"
    );
    // Whoever won, the session is over now.
    for token in rotated {
        assert!(matches!(auth.refresh(&token.refresh_token).await, Err(Error::RefreshRejected)));
    }
    Ok(())
});

db_test!(async fn ended_sessions_are_purged_with_their_tokens(t) {
    let auth = service(t)?;
    let (account, tokens) = auth
        .register(Registration { username: "alice", email: "a@example.com", password: "password-1", display_name: "" })
        .await?;
    let who = auth.authenticate(Some(&format!("Bearer {}", tokens.access_token))).await?;
    assert_eq!(who.user_id, account.user.id);
    auth.logout(&who, auth::LogoutScope::ThisSession).await?;
    assert_eq!(auth.purge_ended_sessions(std::time::Duration::from_secs(3600)).await?, 0, "kept for a while");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(auth.purge_ended_sessions(std::time::Duration::ZERO).await?, 1);
    assert!(matches!(auth.refresh(&tokens.refresh_token).await, Err(Error::RefreshRejected)));
    Ok(())
});
