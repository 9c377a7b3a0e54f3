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
//!
//! Each writer is supervised (`tasks::Supervisor`): if it panics, the sends of the batch it held get their
//! reply channel dropped, which their callers answer with UNAVAILABLE (retrying with the same
//! `client_message_id` is safe: the batch either committed whole or not at all), and a new writer takes over
//! the same queue, which the supervisor's closure keeps. Waiting to enqueue is bounded too: a full queue
//! refuses the send after `enqueue_timeout`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bus::{Bus, Event, Topic};
use storage::{Conn, Db};
use tasks::Supervisor;
use tokio::sync::{Mutex, mpsc, oneshot};
use types::{Millis, RoomId};

use crate::batch::{self, Appended, Dedup, Draft};
use crate::indexer::Indexer;

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
    enqueue_timeout: Duration,
}

/// Why a send could not be queued.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The writer's queue stayed full for the whole enqueue timeout.
    Full,
    /// The writers have stopped (the node is shutting down).
    Stopped,
}

/// How the writers work.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriterConfig {
    pub(crate) count: usize,
    pub(crate) batch_max: usize,
    pub(crate) queue: usize,
    pub(crate) enqueue_timeout: Duration,
}

impl Writers {
    /// Starts `config.count` supervised writers; each ends when its queue is dropped or the node stops.
    pub(crate) fn spawn(
        db: &Db,
        bus: &Bus,
        indexer: &Arc<Indexer>,
        config: WriterConfig,
        metrics: &metrics::Messaging,
        supervisor: &Supervisor,
    ) -> Self {
        let batch_max = config.batch_max.max(1);
        let queues = (0..config.count.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(config.queue.max(1));
                // The queue outlives any one writer task: a writer that panics is replaced by one that
                // carries on with the same queue.
                let rx = Arc::new(Mutex::new(rx));
                let writer =
                    Writer { db: db.clone(), bus: bus.clone(), indexer: indexer.clone(), metrics: metrics.clone() };
                supervisor.spawn("send writer", move || run(writer.clone(), rx.clone(), batch_max));
                tx
            })
            .collect();
        Self { queues, enqueue_timeout: config.enqueue_timeout }
    }

    /// Queues a send with the writer that owns its room.
    ///
    /// # Errors
    /// [`Refused`] when the queue stays full or the writers have stopped.
    pub(crate) async fn send(&self, job: Job) -> Result<(), Refused> {
        let bytes = job.room.as_bytes();
        // UUIDv7: the last bytes are random, so they spread rooms evenly.
        let shard = usize::from(bytes[15]) % self.queues.len();
        self.queues[shard].send_timeout(job, self.enqueue_timeout).await.map_err(|e| match e {
            mpsc::error::SendTimeoutError::Timeout(_) => Refused::Full,
            mpsc::error::SendTimeoutError::Closed(_) => Refused::Stopped,
        })
    }
}

/// Batches a writer stores in a row on one connection before it hands the connection back to the pool.
/// Checking a connection out costs a round trip (the pool verifies it), so a busy writer keeps its own;
/// the limit lets other writers have it (SQLite has one write connection).
const BATCHES_PER_CHECKOUT: usize = 8;

/// What a writer task works with.
#[derive(Debug, Clone)]
struct Writer {
    db: Db,
    bus: Bus,
    indexer: Arc<Indexer>,
    metrics: metrics::Messaging,
}

async fn run(writer: Writer, queue: Arc<Mutex<mpsc::Receiver<Job>>>, batch_max: usize) {
    let mut queue = queue.lock().await;
    let mut jobs = Vec::with_capacity(batch_max);
    loop {
        if jobs.is_empty() && queue.recv_many(&mut jobs, batch_max).await == 0 {
            break;
        }
        let mut conn = None;
        for _ in 0..BATCHES_PER_CHECKOUT {
            commit(&writer, &mut conn, std::mem::take(&mut jobs)).await;
            // Keep the connection only while more sends are already waiting.
            while jobs.len() < batch_max {
                match queue.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            if jobs.is_empty() {
                break;
            }
        }
    }
    tracing::debug!("send queue closed; writer stopped");
}

/// Stores one batch and answers every job in it. If the batch fails as a whole for any reason but a
/// repeated send (a connection lost, a deadlock), each job is retried alone, so that one bad send cannot
/// fail the others.
///
/// `conn` is the writer's connection, checked out here if it has none; after a failure it is given back
/// (the pool verifies it before anyone uses it again).
async fn commit(writer: &Writer, conn: &mut Option<Conn>, jobs: Vec<Job>) {
    let Writer { db, bus, indexer, metrics } = writer;
    #[cfg(feature = "fault-injection")]
    if jobs.iter().any(|j| j.draft.body == crate::faults::PANIC_IN_WRITER) {
        panic!("fault injection: a writer panics with its batch in hand");
    }
    // Group by room, rooms in id order (the lock order that keeps concurrent batches deadlock-free), jobs
    // in arrival order within a room.
    let mut by_room: BTreeMap<RoomId, Vec<Job>> = BTreeMap::new();
    for job in jobs {
        by_room.entry(job.room).or_default().push(job);
    }
    let batch: Vec<(RoomId, Vec<Draft>)> =
        by_room.iter().map(|(room, jobs)| (*room, jobs.iter().map(|j| j.draft.clone()).collect())).collect();
    let started = Instant::now();
    let result = store(db, conn, &batch).await;
    if result.is_err() {
        *conn = None;
    }
    match result {
        Ok(outcomes) => {
            let sends = outcomes.iter().map(Vec::len).sum();
            metrics.batch_committed(sends, started.elapsed());
            metrics.sent(outcomes.iter().flatten().filter(|o| matches!(o, Appended::Stored(_))).count());
            indexer.wrote(outcomes.iter().flatten().filter_map(|o| match o {
                Appended::Stored(entry) => Some(entry.room_id),
                _ => None,
            }));
            for ((_, jobs), outcomes) in by_room.into_iter().zip(outcomes) {
                for (job, outcome) in jobs.into_iter().zip(outcomes) {
                    publish(bus, &outcome);
                    let _ = job.reply.send(Ok(outcome));
                }
            }
        }
        Err(storage::Error::Unavailable(why)) => {
            // The database is down or does not answer: every send of the batch gets that answer now (one by
            // one, each would wait for its own timeout). Nothing was stored; the senders retry.
            tracing::warn!(error = %why, "the database is unavailable; the batch's sends are refused");
            for job in by_room.into_values().flatten() {
                let _ = job.reply.send(Err(storage::Error::Unavailable(why.clone())));
            }
        }
        Err(e) if batch.iter().map(|(_, drafts)| drafts.len()).sum::<usize>() > 1 => {
            tracing::warn!(error = %e, "batch failed; retrying its sends one by one");
            for job in by_room.into_values().flatten() {
                Box::pin(commit(writer, conn, vec![job])).await;
            }
        }
        Err(e) => {
            // A batch of one: its job gets the error itself.
            if let Some(job) = by_room.into_values().flatten().next() {
                let _ = job.reply.send(Err(e));
            }
        }
    }
}

/// One batch in as few transactions as it takes: first optimistically, without looking for earlier
/// copies; if a draft turns out to repeat a stored send, again with the lookup, which answers it with the
/// original; and once more if another node stored a copy between that lookup and the insert (the lookup
/// then finds it).
async fn store(
    db: &Db,
    conn: &mut Option<Conn>,
    batch: &[(RoomId, Vec<Draft>)],
) -> Result<Vec<Vec<Appended>>, storage::Error> {
    let mut result = attempt(db, conn, batch, Dedup::Optimistic).await;
    for _ in 0..2 {
        match &result {
            Err(e) if e.is_conflict() => result = attempt(db, conn, batch, Dedup::LookUp).await,
            _ => break,
        }
    }
    result
}

async fn attempt(
    db: &Db,
    conn: &mut Option<Conn>,
    batch: &[(RoomId, Vec<Draft>)],
    dedup: Dedup,
) -> Result<Vec<Vec<Appended>>, storage::Error> {
    let conn = match conn {
        Some(conn) => conn,
        None => conn.insert(db.write().await?),
    };
    let now = Millis::now();
    conn.transaction(async |tx| batch::store(tx, batch, dedup, now).await).await
}

fn publish(bus: &Bus, outcome: &Appended) {
    if let Appended::Stored(entry) = outcome {
        bus.publish(Topic::Room(entry.room_id), Event::Entry(Arc::new(entry.clone())));
    }
}
