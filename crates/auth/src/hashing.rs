//! Bounded password hashing. Each argon2id hash takes tens of milliseconds of one core and 19 MiB of memory,
//! so hashing runs on the blocking pool at most `workers` at a time, with at most `queue` waiting; past that
//! a call is refused at once (the client retries later) instead of piling up blocking threads that each
//! hold 19 MiB.

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
            waiting: AtomicUsize::new(0),
            queue: config.queue,
        }
    }

    /// Frees the hasher's working memory not used for `idle` (see [`Hasher::release_idle`]).
    pub(crate) fn release_idle(&self, idle: std::time::Duration) -> usize {
        self.hasher.release_idle(idle)
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
}
