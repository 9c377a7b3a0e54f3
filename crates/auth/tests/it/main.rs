//! The auth service on real databases (SQLite and MySQL), without gRPC.

// A failed expectation in a test is a failed test: panicking is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
use auth::{Auth, AuthConfig, Error, Registration};
use bus::Bus;
use storage::users::NewUser;
use testdb::db_test;
use types::{Millis, UserId};

fn service(t: &testdb::TestDb) -> anyhow::Result<Auth> {
    Ok(Auth::new(t.db().clone(), Bus::default(), AuthConfig::new(vec![7; 32]))?)
}

db_test!(async fn a_weaker_stored_hash_is_upgraded_at_the_next_login(t) {
    // An account whose hash was made with parameters weaker than today's (m=1024, t=1).
    let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(1024, 1, 1, None)?)
        .hash_password(b"old password")?
        .to_string();
    let id = UserId::new();
    let mut conn = t.db().write().await?;
    conn.insert_user(&NewUser {
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
    let stored = conn.credentials(id).await?.expect("account").password_hash;
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

fn alice() -> Registration<'static> {
    Registration { username: "Alice", email: "Alice@Example.com", password: "password-1", display_name: "" }
}

db_test!(async fn registration_reports_every_bad_field_and_taken_keys_by_name(t) {
    let auth = service(t)?;
    let bad = Registration { username: "al", email: "nope", password: "short", display_name: "" };
    match auth.register(bad).await {
        Err(Error::Invalid(v)) => {
            let fields: Vec<&str> = v.as_slice().iter().map(|v| v.field).collect();
            assert_eq!(fields, ["username", "email", "password"]);
        }
        other => panic!("{other:?}"),
    }
    let (account, _) = auth.register(alice()).await?;
    assert_eq!(account.user.display_name, "Alice", "a blank display name is the username");
    let same_name = Registration { username: "ALICE", email: "other@example.com", ..alice() };
    assert!(matches!(auth.register(same_name).await, Err(Error::Taken("username"))));
    let same_email = Registration { username: "alice2", email: "alice@example.COM", ..alice() };
    assert!(matches!(auth.register(same_email).await, Err(Error::Taken("email"))));
    Ok(())
});

db_test!(async fn unknown_accounts_and_wrong_passwords_fail_alike_until_throttled(t) {
    let mut config = AuthConfig::new(vec![7; 32]);
    config.throttle.per_account = 3;
    let auth = Auth::new(t.db().clone(), Bus::default(), config)?;
    auth.register(alice()).await?;
    let here = Some(std::net::IpAddr::from([10, 0, 0, 1]));
    let there = Some(std::net::IpAddr::from([10, 0, 0, 2]));
    assert!(matches!(auth.login("nobody", "password-1", here).await, Err(Error::BadCredentials)));
    for _ in 0..3 {
        assert!(matches!(auth.login("alice", "wrong password", here).await, Err(Error::BadCredentials)));
    }
    assert!(matches!(auth.login("alice", "password-1", here).await, Err(Error::Throttled { .. })), "locked from here");
    let (account, _) = auth.login("ALICE@example.com", "password-1", there).await?;
    assert_eq!(account.email, "Alice@Example.com", "the owner elsewhere signs in, by email in any case");
    Ok(())
});

db_test!(async fn a_refresh_rotates_and_a_reused_token_ends_the_session(t) {
    let auth = service(t)?;
    let (_, first) = auth.register(alice()).await?;
    let who = auth.authenticate(Some(&format!("Bearer {}", first.access_token))).await?;
    let second = auth.refresh(&first.refresh_token).await?;
    assert_ne!(second.refresh_token, first.refresh_token);
    // The first token again: someone else holds this session's tokens, so it ends for everyone.
    assert!(matches!(auth.refresh(&first.refresh_token).await, Err(Error::RefreshReused)));
    assert!(matches!(auth.refresh(&second.refresh_token).await, Err(Error::RefreshRejected)));
    assert!(!auth.session_is_live(&who).await?);
    assert!(matches!(auth.refresh("prt_not-a-token").await, Err(Error::RefreshRejected)));
    Ok(())
});

db_test!(async fn logout_ends_this_session_one_of_mine_or_all_of_them(t) {
    let auth = service(t)?;
    let (_, phone) = auth.register(alice()).await?;
    let (_, laptop) = auth.login("alice", "password-1", None).await?;
    let (_, tablet) = auth.login("alice", "password-1", None).await?;
    let bearer = |t: &auth::Tokens| format!("Bearer {}", t.access_token);
    let on_phone = auth.authenticate(Some(&bearer(&phone))).await?;
    let (_, other) = auth.register(Registration { username: "bob", email: "bob@example.com", ..alice() }).await?;
    // Someone else's refresh token names no session of mine.
    assert!(matches!(
        auth.logout(&on_phone, auth::LogoutScope::Session(&other.refresh_token)).await,
        Err(Error::UnknownSession)
    ));
    auth.logout(&on_phone, auth::LogoutScope::Session(&laptop.refresh_token)).await?;
    assert!(matches!(auth.authenticate(Some(&bearer(&laptop))).await, Err(Error::SessionEnded)));
    auth.authenticate(Some(&bearer(&tablet))).await?;
    auth.logout(&on_phone, auth::LogoutScope::AllSessions).await?;
    for tokens in [&phone, &tablet] {
        assert!(matches!(auth.authenticate(Some(&bearer(tokens))).await, Err(Error::SessionEnded)));
    }
    Ok(())
});

db_test!(async fn bearer_tokens_are_checked_before_anything_else(t) {
    let auth = service(t)?;
    let (_, tokens) = auth.register(alice()).await?;
    assert!(matches!(auth.authenticate(None).await, Err(Error::MissingCredentials)));
    assert!(matches!(auth.authenticate(Some("Basic abc")).await, Err(Error::MalformedCredentials)));
    assert!(matches!(auth.authenticate(Some("Bearer not.a.jwt")).await, Err(Error::TokenInvalid)));
    let other_key = Auth::new(t.db().clone(), Bus::default(), AuthConfig::new(vec![8; 32]))?;
    assert!(matches!(
        other_key.authenticate(Some(&format!("Bearer {}", tokens.access_token))).await,
        Err(Error::TokenInvalid)
    ));
    Ok(())
});

fn registration<'a>(name: &'a str, email: &'a str) -> Registration<'a> {
    Registration { username: name, email, password: "password-1", display_name: "" }
}

db_test!(async fn a_disabled_account_cannot_sign_in_or_refresh_until_enabled(t) {
    let auth = service(t)?;
    let accounts = auth::Accounts::new(t.db().clone())?;
    let (_, tokens) = auth.register(registration("alice", "alice@example.com")).await?;
    let identity = auth.authenticate(Some(&format!("Bearer {}", tokens.access_token))).await?;

    accounts.disable("alice@example.com").await?;
    assert!(accounts.find("alice").await?.disabled_at.is_some());
    // The right password hears why; a wrong one hears nothing more than for any account.
    assert!(matches!(auth.login("alice", "password-1", None).await, Err(Error::AccountDisabled)));
    assert!(matches!(auth.login("alice", "wrong password", None).await, Err(Error::BadCredentials)));
    assert!(matches!(auth.refresh(&tokens.refresh_token).await, Err(Error::AccountDisabled)));
    // Its session ended (this node's cache learns of it at the next check; a new Auth asks storage).
    assert!(!service(t)?.session_is_live(&identity).await?);

    accounts.enable("alice").await?;
    auth.login("alice", "password-1", None).await?;
    assert!(
        matches!(auth.refresh(&tokens.refresh_token).await, Err(Error::RefreshRejected)),
        "the sessions ended by the disable stay ended"
    );
    Ok(())
});

db_test!(async fn the_operator_creates_accounts_resets_passwords_and_revokes_sessions(t) {
    let auth = service(t)?;
    let accounts = auth::Accounts::new(t.db().clone())?;
    let created = accounts.create(registration("bob", "bob@example.com")).await?;
    assert!(matches!(accounts.create(registration("bob", "other@example.com")).await, Err(Error::Taken("username"))));
    assert!(matches!(
        accounts.create(Registration { password: "short", ..registration("b", "nope") }).await,
        Err(Error::Invalid(v)) if v.as_slice().len() == 3
    ));
    let (_, first) = auth.login("bob", "password-1", None).await?;
    let (_, second) = auth.login("bob", "password-1", None).await?;
    let (user, sessions) = accounts.sessions("bob").await?;
    assert_eq!((user, sessions.len()), (created.user.id, 2));
    assert!(sessions[0].id > sessions[1].id, "newest first");

    // One session: its refresh fails, the other's works.
    let one = auth.authenticate(Some(&format!("Bearer {}", first.access_token))).await?.session_id;
    accounts.revoke("bob", Some(one)).await?;
    assert!(matches!(auth.refresh(&first.refresh_token).await, Err(Error::RefreshRejected)));
    let second = auth.refresh(&second.refresh_token).await?;
    // Someone else's session is not the account's.
    let (_, carol) = auth.register(registration("carol", "carol@example.com")).await?;
    let carols = auth.authenticate(Some(&format!("Bearer {}", carol.access_token))).await?.session_id;
    assert!(matches!(accounts.revoke("bob", Some(carols)).await, Err(Error::NotTheirSession)));
    assert!(matches!(accounts.revoke("nobody", None).await, Err(Error::UnknownUser(_))));

    // A new password: the old one fails, every session ends.
    accounts.reset_password("bob", "a new password").await?;
    assert!(matches!(auth.login("bob", "password-1", None).await, Err(Error::BadCredentials)));
    assert!(matches!(auth.refresh(&second.refresh_token).await, Err(Error::RefreshRejected)));
    auth.login("bob", "a new password", None).await?;
    assert!(matches!(accounts.reset_password("bob", "short").await, Err(Error::Invalid(_))));
    Ok(())
});

db_test!(async fn a_node_learns_of_sessions_revoked_by_another_process_from_storage(t) {
    let bus = Bus::default();
    let auth = Auth::new(t.db().clone(), bus.clone(), AuthConfig::new(vec![7; 32]))?;
    let (account, tokens) = auth.register(registration("dave", "dave@example.com")).await?;
    let identity = auth.authenticate(Some(&format!("Bearer {}", tokens.access_token))).await?;
    let mut events = bus.subscribe(bus::Topic::User(account.user.id));
    let mut watch = auth::RevocationWatch::new();
    assert_eq!(auth.watch_revocations(&mut watch).await?, 0);

    // Another process (its own Accounts on the same database) ends the session.
    auth::Accounts::new(t.db().clone())?.revoke("dave", None).await?;
    assert_eq!(auth.watch_revocations(&mut watch).await?, 1);
    assert!(!auth.session_is_live(&identity).await?, "refused at once after the watch");
    let event = tokio::time::timeout(std::time::Duration::from_secs(1), events.recv()).await??;
    assert!(matches!(event, bus::Event::SessionsRevoked { session: Some(s) } if s == identity.session_id));
    assert_eq!(auth.watch_revocations(&mut watch).await?, 0, "each revocation is announced once");
    Ok(())
});
