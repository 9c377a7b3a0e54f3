//! Bounded password hashing. Each argon2id hash takes tens of milliseconds of one core and 19 MiB of memory,
//! so hashing runs on the blocking pool at most `workers` at a time, with at most `queue` waiting; past that
//! a call is refused at once (the client retries later) instead of piling up blocking threads that each
//! hold 19 MiB. The hasher keeps the working memory of finished hashes for the next (see
//! [`crate::password`]) only while hashing goes on: when the last hash in flight ends with none waiting,
//! the memory is freed, so an idle server holds none of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

use crate::password::Hasher;

/// How much hashing may happen at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingConfig {
    /// Hashes computed at once (about one per core).
    pub workers: usize,
    /// Hashes that may wait for a worker; more are refused.
    pub queue: usize,
}

impl Default for HashingConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Self { workers: cores, queue: 64 }
    }
}

/// Why a hash was not computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The queue is full.
    Busy,
    /// The blocking task failed (a panic in the hasher).
    Failed(String),
}

/// The hasher behind a bounded queue.
#[derive(Debug)]
pub(crate) struct Hashing {
    hasher: Arc<Hasher>,
    workers: Semaphore,
    /// The number of workers (the semaphore's permits when none is taken).
    capacity: usize,
    waiting: AtomicUsize,
    queue: usize,
}

/// Counts a waiting caller while it exists.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Hashing {
    pub(crate) fn new(hasher: Hasher, config: HashingConfig) -> Self {
        Self {
            hasher: Arc::new(hasher),
            workers: Semaphore::new(config.workers.max(1)),
            capacity: config.workers.max(1),
            waiting: AtomicUsize::new(0),
            queue: config.queue,
        }
    }

    /// Runs `work` with the hasher on the blocking pool once a worker is free.
    ///
    /// # Errors
    /// [`Refused::Busy`] at once when `queue` callers are waiting already.
    ///
    /// # Cancel safety
    /// Dropping the future before a worker is free gives its place back; after that, the hash is finished on
    /// the blocking pool and its result dropped.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Hasher) -> T + Send + 'static,
    ) -> Result<T, Refused> {
        let permit = match self.workers.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(Refused::Busy);
                }
                let _waiting = Waiting(&self.waiting);
                self.workers.acquire().await.map_err(|e| Refused::Failed(e.to_string()))?
            }
        };
        let hasher = self.hasher.clone();
        let result = tokio::task::spawn_blocking(move || work(&hasher)).await;
        drop(permit);
        if self.waiting.load(Ordering::Acquire) == 0 && self.workers.available_permits() == self.capacity {
            // The last hash of a burst: give its memory back (unmapping 19 MiB blocks is done off the workers).
            let hasher = self.hasher.clone();
            drop(tokio::task::spawn_blocking(move || hasher.release_memory()));
        }
        result.map_err(|e| Refused::Failed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    // A failed expectation in a test is a failed test: panicking is the point.
    #![allow(clippy::expect_used)]

    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_workers_and_the_queue_calls_are_refused_at_once() {
        let hasher = Hasher::with_params(argon2::Params::new(8, 1, 1, None).expect("params")).expect("hasher");
        let hashing = Arc::new(Hashing::new(hasher, HashingConfig { workers: 1, queue: 1 }));
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = Arc::new(std::sync::Mutex::new(wait));
        let slow = |hashing: Arc<Hashing>, wait: Arc<std::sync::Mutex<std::sync::mpsc::Receiver<()>>>| {
            tokio::spawn(async move {
                hashing.run(move |_| drop(wait.lock().map(|w| w.recv_timeout(Duration::from_secs(5))))).await
            })
        };
        let busy = slow(hashing.clone(), wait.clone());
        tokio::time::sleep(Duration::from_millis(50)).await;
        let queued = slow(hashing.clone(), wait.clone());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(hashing.run(|_| ()).await, Err(Refused::Busy), "one working, one waiting: the third is refused");
        release.send(()).expect("send");
        release.send(()).expect("send");
        assert!(busy.await.expect("joined").is_ok());
        assert!(queued.await.expect("joined").is_ok());
        assert_eq!(hashing.run(|_| 7).await, Ok(7), "free again");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn working_memory_is_kept_through_a_burst_and_freed_when_hashing_stops() {
        let hasher = Hasher::with_params(argon2::Params::new(64, 1, 1, None).expect("params")).expect("hasher");
        let hashing = Arc::new(Hashing::new(hasher, HashingConfig { workers: 2, queue: 8 }));
        let burst = (0..8).map(|i| {
            let hashing = hashing.clone();
            tokio::spawn(async move {
                hashing
                    .run(move |h| {
                        let phc = h.hash(&format!("password {i}")).expect("hash");
                        std::thread::sleep(Duration::from_millis(20));
                        (phc, h.pooled())
                    })
                    .await
            })
        });
        let pooled: Vec<usize> =
            futures::future::join_all(burst).await.into_iter().map(|r| r.expect("joined").expect("ran").1).collect();
        assert!(pooled.iter().all(|n| *n <= 2), "a buffer per worker at most: {pooled:?}");
        assert!(pooled.iter().any(|n| *n > 0), "reused during the burst: {pooled:?}");
        // The release runs on the blocking pool just after the last hash.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while hashing.hasher.pooled() > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(hashing.hasher.pooled(), 0, "idle: freed");
    }
}
