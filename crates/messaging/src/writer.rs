//! The send path: writer tasks that turn queued sends into as few transactions as they can (group
//! commit). A send waits in its writer's queue while the previous batch commits; the next batch takes
//! everything queued by then, up to a limit. So under load one fsync serves many messages, and with a
//! single sender the latency is one transaction.
//!
//! Rooms are spread over the writers by id, so each room's sends stay in one queue (and its entries are
//! published in seq order), while transactions for different rooms overlap: on MySQL several commits are
//! then in flight at once, and InnoDB flushes them together. SQLite has one writer (it has one write
//! connection).
//!
//! The writer runs apart from the RPCs that feed it: a client that disconnects mid-send cannot cancel a
//! transaction half way, and its message is stored or not as a whole.

use std::collections::BTreeMap;
use std::sync::Arc;

use bus::{Bus, Event, Topic};
use storage::Db;
use storage::timeline::{self, Appended, Draft};
use tokio::sync::{mpsc, oneshot};
use types::{Millis, RoomId};

/// One queued send.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) room: RoomId,
    pub(crate) draft: Draft,
    pub(crate) reply: oneshot::Sender<Result<Appended, storage::Error>>,
}

/// The queues of the node's writers.
#[derive(Debug)]
pub(crate) struct Writers {
    queues: Vec<mpsc::Sender<Job>>,
}

impl Writers {
    /// Starts `count` writers; each ends when its queue is dropped.
    pub(crate) fn spawn(db: &Db, bus: &Bus, count: usize, batch_max: usize, queue: usize) -> Self {
        let queues = (0..count.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(queue);
                tokio::spawn(run(db.clone(), bus.clone(), rx, batch_max.max(1)));
                tx
            })
            .collect();
        Self { queues }
    }

    /// Queues a send with the writer that owns its room.
    ///
    /// # Errors
    /// The job back when the writer has stopped.
    pub(crate) async fn send(&self, job: Job) -> Result<(), Job> {
        let bytes = job.room.as_bytes();
        // UUIDv7: the last bytes are random, so they spread rooms evenly.
        let shard = usize::from(bytes[15]) % self.queues.len();
        self.queues[shard].send(job).await.map_err(|e| e.0)
    }
}

async fn run(db: Db, bus: Bus, mut queue: mpsc::Receiver<Job>, batch_max: usize) {
    let mut jobs = Vec::with_capacity(batch_max);
    while queue.recv_many(&mut jobs, batch_max).await > 0 {
        commit(&db, &bus, std::mem::take(&mut jobs), true).await;
    }
    tracing::debug!("send queue closed; writer stopped");
}

/// Stores one batch and answers every job in it. If the batch fails as a whole (a connection lost, a
/// deadlock, a concurrent duplicate from another node), each job is retried alone, so that one bad send
/// cannot fail the others; a lone send that lost a race for its idempotency key to another node is tried
/// once more, and then finds the winner's entry.
async fn commit(db: &Db, bus: &Bus, jobs: Vec<Job>, may_retry: bool) {
    // Group by room, rooms in id order (the lock order that keeps concurrent batches deadlock-free), jobs
    // in arrival order within a room.
    let mut by_room: BTreeMap<RoomId, Vec<Job>> = BTreeMap::new();
    for job in jobs {
        by_room.entry(job.room).or_default().push(job);
    }
    let batch: Vec<(RoomId, Vec<Draft>)> =
        by_room.iter().map(|(room, jobs)| (*room, jobs.iter().map(|j| j.draft.clone()).collect())).collect();
    let result = match db.write().await {
        Ok(mut conn) => timeline::append_messages(&mut conn, &batch, Millis::now()).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(outcomes) => {
            for ((_, jobs), outcomes) in by_room.into_iter().zip(outcomes) {
                for (job, outcome) in jobs.into_iter().zip(outcomes) {
                    publish(bus, &outcome);
                    let _ = job.reply.send(Ok(outcome));
                }
            }
        }
        Err(e) if by_room.values().map(Vec::len).sum::<usize>() > 1 => {
            tracing::warn!(error = %e, "batch failed; retrying its sends one by one");
            for job in by_room.into_values().flatten() {
                Box::pin(commit(db, bus, vec![job], true)).await;
            }
        }
        Err(e) if may_retry && e.is_conflict() => {
            Box::pin(commit(db, bus, by_room.into_values().flatten().collect(), false)).await
        }
        Err(e) => {
            // A batch of one: its job gets the error itself.
            if let Some(job) = by_room.into_values().flatten().next() {
                let _ = job.reply.send(Err(e));
            }
        }
    }
}

fn publish(bus: &Bus, outcome: &Appended) {
    if let Appended::Stored(entry) = outcome {
        bus.publish(Topic::Room(entry.room_id), Event::Entry(Arc::new(entry.clone())));
    }
}
