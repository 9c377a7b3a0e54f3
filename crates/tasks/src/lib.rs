//! Background tasks that are owned and watched. Every long-lived task of a node (the send path's writers,
//! the tail reconciler, the health check, periodic clean-ups) runs under a [`Supervisor`]:
//!
//! - a task that **panics** is logged and started again, after a pause that grows from 100 ms to 5 s;
//! - a task that panics **too often** ([`RESTART_BUDGET`] times within [`RESTART_WINDOW`]) is given up on,
//!   and the supervisor's [`Supervisor::failed`] completes with its name, so that the node stops with an
//!   error and the process exits non-zero for its own supervisor (systemd, Kubernetes) to restart it;
//! - every task stops when the node's `stopping` token is cancelled.
//!
//! A task's own state must survive a restart where it matters (the writers keep their queue in the
//! supervisor's hands, see `messaging::writer`), and whatever a panicking task held must be answered, never
//! left hanging (a dropped reply channel is an answer).
//!
//! **Never:** know what the tasks do; hide a panic (each one is logged with the task's name).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Panics a task may have within [`RESTART_WINDOW`] before the supervisor gives up on it.
pub const RESTART_BUDGET: usize = 5;
/// The window of [`RESTART_BUDGET`].
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// Owns a node's background tasks.
#[derive(Debug, Clone)]
pub struct Supervisor {
    stopping: CancellationToken,
    failed: CancellationToken,
    failure: Arc<Mutex<Option<&'static str>>>,
}

impl Supervisor {
    /// A supervisor whose tasks stop when `stopping` is cancelled.
    pub fn new(stopping: CancellationToken) -> Self {
        Self { stopping, failed: CancellationToken::new(), failure: Arc::default() }
    }

    /// The token every task watches to stop.
    pub fn stopping(&self) -> &CancellationToken {
        &self.stopping
    }

    /// Runs the future `make` returns as the task `name`, and again each time it panics (see the crate
    /// docs). The supervision ends when the task returns or `stopping` is cancelled. Must be called within a
    /// Tokio runtime.
    pub fn spawn<F, Fut>(&self, name: &'static str, mut make: F) -> JoinHandle<()>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let this = self.clone();
        tokio::spawn(async move {
            let mut panics: Vec<Instant> = Vec::new();
            let mut pause = Duration::from_millis(100);
            loop {
                let mut task = tokio::spawn(make());
                let outcome = tokio::select! {
                    () = this.stopping.cancelled() => {
                        task.abort();
                        return;
                    }
                    outcome = &mut task => outcome,
                };
                let Err(error) = outcome else { return };
                if !error.is_panic() {
                    return;
                }
                let now = Instant::now();
                panics.retain(|at| now.duration_since(*at) < RESTART_WINDOW);
                panics.push(now);
                if panics.len() > RESTART_BUDGET {
                    tracing::error!(
                        task = name,
                        panics = panics.len(),
                        "task keeps panicking; giving up on it and stopping the node"
                    );
                    this.give_up(name);
                    return;
                }
                tracing::error!(task = name, restart_in = ?pause, "task panicked; restarting it");
                tokio::select! {
                    () = this.stopping.cancelled() => return,
                    () = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        })
    }

    /// Runs the future `tick` returns every `every`, the first at once, as the task `name` (see
    /// [`Supervisor::spawn`]: a panicking tick restarts the schedule). A tick that takes longer than `every`
    /// delays the next instead of making several run back to back.
    pub fn spawn_every<F, Fut>(&self, name: &'static str, every: Duration, tick: F) -> JoinHandle<()>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let tick = Arc::new(tick);
        self.spawn(name, move || {
            let tick = tick.clone();
            async move {
                let mut ticks = tokio::time::interval(every);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticks.tick().await;
                    tick().await;
                }
            }
        })
    }

    fn give_up(&self, name: &'static str) {
        self.failure.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(name);
        self.failed.cancel();
    }

    /// Completes, with the task's name, when a task was given up on.
    pub async fn failed(&self) -> &'static str {
        self.failed.cancelled().await;
        self.failure.lock().unwrap_or_else(PoisonError::into_inner).unwrap_or("unknown")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_periodic_task_ticks_at_once_then_every_interval_until_the_node_stops()
    -> Result<(), tokio::task::JoinError> {
        let stopping = CancellationToken::new();
        let supervisor = Supervisor::new(stopping.clone());
        let ticks = Arc::new(AtomicUsize::new(0));
        let counted = ticks.clone();
        let task = supervisor.spawn_every("ticker", Duration::from_secs(10), move || {
            let ticks = counted.clone();
            async move {
                ticks.fetch_add(1, Ordering::SeqCst);
            }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(ticks.load(Ordering::SeqCst), 1, "the first tick is at once");
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert_eq!(ticks.load(Ordering::SeqCst), 3);
        stopping.cancel();
        task.await?;
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(ticks.load(Ordering::SeqCst), 3, "no tick after the node stops");
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_task_is_restarted_and_one_that_keeps_panicking_stops_the_node() {
        let supervisor = Supervisor::new(CancellationToken::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        supervisor.spawn("flaky", move || {
            let runs = counted.clone();
            async move {
                if runs.fetch_add(1, Ordering::SeqCst) < 2 {
                    panic!("injected");
                }
                std::future::pending::<()>().await;
            }
        });
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3, "two panics, then it ran on");

        supervisor.spawn("broken", || async { panic!("always") });
        assert_eq!(tokio::time::timeout(Duration::from_secs(120), supervisor.failed()).await, Ok("broken"));
    }

    #[tokio::test(start_paused = true)]
    async fn tasks_stop_when_the_node_stops() {
        let stopping = CancellationToken::new();
        let supervisor = Supervisor::new(stopping.clone());
        let handle = supervisor.spawn("forever", std::future::pending);
        stopping.cancel();
        assert!(tokio::time::timeout(Duration::from_secs(1), handle).await.is_ok());
    }
}
