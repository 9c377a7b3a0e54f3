use storage::Error;
use storage::users::{self, NewUser};
use testkit::db_test;
use types::{Millis, UserId};

fn new_user<'a>(id: UserId, name: &'a str, email: &'a str) -> NewUser<'a> {
    NewUser {
        id,
        username: name,
        username_key: name,
        email,
        email_key: email,
        display_name: name,
        password_hash: "$argon2id$fake",
        created_at: Millis(1_700_000_000_000),
    }
}

db_test!(async fn a_user_reads_back_as_written(t) {
    let mut conn = t.db().write().await?;
    let id = UserId::new();
    users::insert(&mut conn, &new_user(id, "alice", "alice@example.com")).await?;

    let by_name = users::find_account_by_key(&mut conn, "alice").await?.expect("found by username");
    let by_email = users::find_account_by_key(&mut conn, "alice@example.com").await?.expect("found by email");
    assert_eq!(by_name, by_email);
    assert_eq!(by_name.user.id, id);
    assert_eq!(by_name.user.username, "alice");
    assert_eq!(by_name.user.created_at, Millis(1_700_000_000_000));
    assert_eq!(by_name.password_hash, "$argon2id$fake");
    assert_eq!(users::get_account(&mut conn, id).await?, Some(by_name));
    assert_eq!(users::find_account_by_key(&mut conn, "bob").await?, None);
    Ok(())
});

db_test!(async fn taken_keys_are_reported_by_name(t) {
    let mut conn = t.db().write().await?;
    users::insert(&mut conn, &new_user(UserId::new(), "alice", "alice@example.com")).await?;
    let same_name = users::insert(&mut conn, &new_user(UserId::new(), "alice", "other@example.com")).await;
    assert!(matches!(same_name, Err(Error::AlreadyExists("username"))), "{same_name:?}");
    let same_email = users::insert(&mut conn, &new_user(UserId::new(), "bob", "alice@example.com")).await;
    assert!(matches!(same_email, Err(Error::AlreadyExists("email"))), "{same_email:?}");
    Ok(())
});

db_test!(async fn keys_compare_exactly_on_both_backends(t) {
    // MySQL's default collations fold case and accents; the schema uses utf8mb4_bin so that only the
    // application's normalisation decides what is equal, as on SQLite.
    let mut conn = t.db().write().await?;
    users::insert(&mut conn, &new_user(UserId::new(), "jose", "jose@example.com")).await?;
    users::insert(&mut conn, &new_user(UserId::new(), "josé", "JOSE@example.com")).await?;
    assert_eq!(users::find_by_username_key(&mut conn, "josé").await?.map(|u| u.username), Some("josé".into()));
    Ok(())
});
