//! Transactions: `Ok` commits, `Err` rolls back, and a connection is usable again after either.

use storage::{Error, Tx};
use testdb::db_test;
use types::UserId;

use crate::support::new_user;

db_test!(async fn ok_commits_and_err_rolls_back(t) {
    let (kept, dropped) = (UserId::new(), UserId::new());
    t.db().transaction(async |tx: &mut Tx<'_>| tx.insert_user(&new_user(kept, "kept", "kept@example.com")).await).await?;
    let failed: Result<(), Error> = t
        .db()
        .transaction(async |tx| {
            tx.insert_user(&new_user(dropped, "dropped", "dropped@example.com")).await?;
            Err(Error::Corrupt("abandon".into()))
        })
        .await;
    assert!(failed.is_err());
    let mut conn = t.db().read().await?;
    assert!(conn.credentials(kept).await?.is_some());
    assert!(conn.credentials(dropped).await?.is_none(), "the failed transaction left nothing");
    Ok(())
});

db_test!(async fn a_failed_statement_inside_rolls_back_the_earlier_ones(t) {
    let mut conn = t.db().write().await?;
    conn.insert_user(&new_user(UserId::new(), "taken", "taken@example.com")).await?;
    let fresh = UserId::new();
    let outcome = conn
        .transaction(async |tx| {
            tx.insert_user(&new_user(fresh, "fresh", "fresh@example.com")).await?;
            tx.insert_user(&new_user(UserId::new(), "taken", "other@example.com")).await
        })
        .await;
    assert!(matches!(outcome, Err(Error::AlreadyExists("username"))), "{outcome:?}");
    assert!(conn.credentials(fresh).await?.is_none());
    // The same connection goes on working.
    conn.insert_user(&new_user(fresh, "fresh", "fresh@example.com")).await?;
    assert!(conn.credentials(fresh).await?.is_some());
    Ok(())
});
