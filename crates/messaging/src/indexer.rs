//! Keeping the search index in step with the timeline, just after each send instead of inside it: the
//! full-text work inside the send transaction cost about 40% of the send path's throughput (see
//! docs/BENCHMARKS.md, "Issue 19 at full size").
//!
//! Each room's progress is a row of its own (`search_progress`; [`storage::Tx::index_room`] moves it on,
//! up to [`BATCH`] entries a transaction). Three things move it:
//! - the **writer** tells the node's indexer which rooms a committed batch wrote to ([`Indexer::wrote`]);
//!   the indexer's task waits [`GATHER`] so that one transaction indexes many sends, then indexes them;
//! - a **sweep** every [`SWEEP`] (and at start) finds every room whose index lags, whichever node wrote
//!   it: sends of a node that stopped before indexing them, messages stored before search existed;
//! - a **search** first has the rooms it reads caught up ([`Indexer::catch_up`]), so it finds every
//!   message stored before it began, as if the index were written in the send's transaction. (Only a room
//!   more than [`CATCH_UP_BATCHES`] × [`BATCH`] entries behind, as after an upgrade that brought search to
//!   a large history, is searched as far as it is indexed while the sweep works through the rest.)
//!
//! Edits and deletions write their message's search row in their own transaction, and an indexer's
//! insert gives way to a row that is there, so the order in which they meet does not matter.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use storage::Db;
use storage::timeline::SearchScope;
use tasks::Supervisor;
use tokio::sync::Notify;
use tokio::time::{MissedTickBehavior, interval, sleep};
use types::RoomId;

/// Entries looked at per transaction.
const BATCH: i64 = 500;

/// The most transactions a search spends catching a room up.
const CATCH_UP_BATCHES: usize = 8;

/// Transactions the indexer's task spends on one room before it takes the next (and comes back).
const TURN_BATCHES: usize = 16;

/// How long the task waits after a wake-up before it indexes, so that a transaction indexes many sends.
const GATHER: Duration = Duration::from_millis(50);

/// How often every room is checked.
const SWEEP: Duration = Duration::from_secs(30);

/// Rooms a sweep takes at once.
const SWEEP_ROOMS: i64 = 1_000;

/// The node's indexer: the rooms waiting for it, and the wake-up of its task.
#[derive(Debug)]
pub(crate) struct Indexer {
    db: Db,
    waiting: Mutex<HashSet<RoomId>>,
    wake: Notify,
}

impl Indexer {
    pub(crate) fn new(db: Db) -> Arc<Self> {
        Arc::new(Self { db, waiting: Mutex::new(HashSet::new()), wake: Notify::new() })
    }

    /// Rooms that a committed transaction stored text messages in.
    pub(crate) fn wrote(&self, rooms: impl IntoIterator<Item = RoomId>) {
        let mut waiting = self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = waiting.len();
        waiting.extend(rooms);
        if waiting.len() > before {
            self.wake.notify_one();
        }
    }

    /// Indexes what the rooms of `scope` have that the index has not looked at yet (see the module's
    /// documentation for the one exception).
    ///
    /// # Errors
    /// Database errors.
    pub(crate) async fn catch_up(&self, scope: SearchScope) -> Result<(), storage::Error> {
        let behind = self.db.read().await?.unindexed_rooms(Some(scope), SWEEP_ROOMS).await?;
        for room in behind {
            self.index(room, CATCH_UP_BATCHES).await?;
        }
        Ok(())
    }

    /// Indexes `room`, at most `batches` transactions; whether it caught up.
    async fn index(&self, room: RoomId, batches: usize) -> Result<bool, storage::Error> {
        for _ in 0..batches {
            if self.db.transaction(async |tx| tx.index_room(room, BATCH).await).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn take_waiting(&self) -> Vec<RoomId> {
        let mut waiting = self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        waiting.drain().collect()
    }

    /// Starts the node's indexing task; it ends when the node stops.
    pub(crate) fn spawn(self: &Arc<Self>, supervisor: &Supervisor) {
        let stopping = supervisor.stopping().clone();
        let indexer = self.clone();
        supervisor.spawn("search indexer", move || {
            let (indexer, stopping) = (indexer.clone(), stopping.clone());
            async move {
                let mut sweeps = interval(SWEEP);
                sweeps.set_missed_tick_behavior(MissedTickBehavior::Delay);
                loop {
                    let sweep = tokio::select! {
                        () = stopping.cancelled() => return,
                        _ = sweeps.tick() => true,
                        () = indexer.wake.notified() => false,
                    };
                    if !sweep {
                        tokio::select! {
                            () = stopping.cancelled() => return,
                            () = sleep(GATHER) => {}
                        }
                    }
                    if let Err(error) = indexer.pass(sweep).await {
                        tracing::warn!(%error, "search: indexing failed; the next sweep retries");
                    }
                }
            }
        });
    }

    /// Indexes the rooms waiting, and with `sweep` every room behind.
    async fn pass(&self, sweep: bool) -> Result<(), storage::Error> {
        let mut rooms = self.take_waiting();
        if sweep {
            rooms.extend(self.db.read().await?.unindexed_rooms(None, SWEEP_ROOMS).await?);
            rooms.sort_unstable();
            rooms.dedup();
        }
        for room in rooms {
            if !self.index(room, TURN_BATCHES).await? {
                // A long way behind: other rooms get their turn first.
                self.wrote([room]);
            }
        }
        Ok(())
    }
}
