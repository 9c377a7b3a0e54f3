//! Indexing, once, the text messages stored before search existed (the `search_backfill` migration leaves
//! a cursor when there were messages). A task walks `messages` in key order, a room at a time and at most
//! [`BATCH`] entries per transaction, under the room's lock, so that no edit or deletion of a message runs
//! between reading its body and indexing it, and a send to that room waits for one batch at most. Messages
//! that already have their row (sent since) are skipped.
//!
//! The cursor is stored with each batch, so a restart resumes the walk; several nodes may run it at once,
//! taking turns on the cursor's row lock. When the walk reaches the end, the cursor is deleted and later
//! starts do nothing. Until then, search finds old messages from the start of the walk up to the cursor.

use std::time::Duration;

use storage::{Db, Tx};
use tasks::Supervisor;

/// Entries walked per transaction.
const BATCH: i64 = 500;

/// The pause between batches, so that the walk leaves room for live traffic.
const PAUSE: Duration = Duration::from_millis(20);

/// The pause after a failed batch.
const RETRY: Duration = Duration::from_secs(5);

/// What one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing to do: there was no walk, or it had finished before.
    Idle,
    /// Walked a batch and wrote this many search rows.
    Walked(usize),
    /// Reached the end and deleted the cursor.
    Finished,
}

pub(crate) fn spawn(db: Db, supervisor: &Supervisor) {
    let stopping = supervisor.stopping().clone();
    supervisor.spawn("search backfill", move || {
        let (db, stopping) = (db.clone(), stopping.clone());
        async move {
            let mut indexed = 0;
            loop {
                let pause = match step(&db).await {
                    Ok(Step::Idle) => return,
                    Ok(Step::Finished) => {
                        tracing::info!(indexed, "search: finished indexing the messages stored before search existed");
                        return;
                    }
                    Ok(Step::Walked(n)) => {
                        if indexed == 0 && n > 0 {
                            tracing::info!("search: indexing the messages stored before search existed");
                        }
                        indexed += n;
                        PAUSE
                    }
                    Err(error) => {
                        tracing::warn!(%error, "search: indexing older messages failed; will retry");
                        RETRY
                    }
                };
                tokio::select! {
                    () = stopping.cancelled() => return,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    });
}

/// Walks one batch, in one transaction.
///
/// # Errors
/// Database errors only; the batch is then rolled back and the cursor stays where it was.
pub(crate) async fn step(db: &Db) -> Result<Step, storage::Error> {
    db.transaction(async |tx| walk(tx).await).await
}

async fn walk(tx: &mut Tx<'_>) -> Result<Step, storage::Error> {
    let Some((room, seq)) = tx.lock_search_backfill().await? else { return Ok(Step::Idle) };
    let Some((next_room, next_seq)) = tx.entry_after(room, seq).await? else {
        tx.finish_search_backfill().await?;
        return Ok(Step::Finished);
    };
    tx.lock_room(next_room).await?;
    let after = if next_room == room { seq } else { next_seq - 1 };
    let (last, written) = tx.index_unindexed(next_room, after, BATCH).await?;
    tx.set_search_backfill(next_room, last).await?;
    Ok(Step::Walked(written))
}
