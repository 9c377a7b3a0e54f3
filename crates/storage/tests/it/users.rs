use storage::Error;
use testdb::db_test;
use types::{Millis, UserId};

use crate::support::new_user;

db_test!(async fn a_user_reads_back_as_written(t) {
    let mut conn = t.db().write().await?;
    let id = UserId::new();
    conn.insert_user(&new_user(id, "alice", "alice@example.com")).await?;

    let by_name = conn.credentials_by_key("alice").await?.expect("found by username");
    let by_email = conn.credentials_by_key("alice@example.com").await?.expect("found by email");
    assert_eq!(by_name, by_email);
    assert_eq!(by_name.account.user.id, id);
    assert_eq!(by_name.account.user.username, "alice");
    assert_eq!(by_name.account.user.created_at, Millis(1_700_000_000_000));
    assert_eq!(by_name.password_hash, "$argon2id$fake");
    assert_eq!(conn.credentials(id).await?, Some(by_name));
    assert_eq!(conn.credentials_by_key("bob").await?, None);
    assert_eq!(conn.users(&[id, UserId::new()]).await?.len(), 1);
    Ok(())
});

db_test!(async fn taken_keys_are_reported_by_name(t) {
    let mut conn = t.db().write().await?;
    conn.insert_user(&new_user(UserId::new(), "alice", "alice@example.com")).await?;
    let same_name = conn.insert_user(&new_user(UserId::new(), "alice", "other@example.com")).await;
    assert!(matches!(same_name, Err(Error::AlreadyExists("username"))), "{same_name:?}");
    let same_email = conn.insert_user(&new_user(UserId::new(), "bob", "alice@example.com")).await;
    assert!(matches!(same_email, Err(Error::AlreadyExists("email"))), "{same_email:?}");
    Ok(())
});

db_test!(async fn keys_compare_exactly_on_both_backends(t) {
    // MySQL's default collations fold case and accents; the schema uses utf8mb4_bin so that only the
    // application's normalisation decides what is equal, as on SQLite.
    let mut conn = t.db().write().await?;
    conn.insert_user(&new_user(UserId::new(), "jose", "jose@example.com")).await?;
    conn.insert_user(&new_user(UserId::new(), "josé", "JOSE@example.com")).await?;
    assert_eq!(conn.user_by_username_key("josé").await?.map(|u| u.username), Some("josé".into()));
    Ok(())
});

db_test!(async fn last_seen_is_kept_for_users_who_were_ever_connected(t) {
    let mut conn = t.db().write().await?;
    let (a, b) = (UserId::new(), UserId::new());
    conn.insert_user(&new_user(a, "a", "a@example.com")).await?;
    conn.insert_user(&new_user(b, "b", "b@example.com")).await?;
    conn.set_last_seen(&[a], Millis(42)).await?;
    assert_eq!(conn.last_seen(&[a, b]).await?, vec![(a, Millis(42))]);
    conn.set_password_hash(a, "$argon2id$other").await?;
    assert_eq!(conn.credentials(a).await?.map(|c| c.password_hash), Some("$argon2id$other".into()));
    assert!(matches!(conn.set_password_hash(UserId::new(), "x").await, Err(Error::NotFound(_))));
    Ok(())
});
