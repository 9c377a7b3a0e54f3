//! A waker per event source, so that a task waiting on several sources polls only the ones that woke it.
//!
//! `tokio::select!` polls every branch each time the task runs: a subscription woken by a live entry also
//! polled the shutdown token, the channel-closed notification, the user's topic and the heartbeat timer,
//! and each of those polls takes a lock (tokio's `Notified` and broadcast receivers lock their wait lists)
//! or touches the timer. With [`Sources`], each source is polled with a waker of its own, which records
//! that this source fired before it wakes the task; the task then polls the sources that fired (and those
//! that were ready last time, which may hold more), as `FuturesUnordered` does for its futures.
//!
//! **Invariant:** a source that returned `Pending` when polled with its own waker is polled again only
//! after that waker fired (or the task [`Sources::flag`]s it, for a source it has just changed, like a new
//! room in a `StreamMap`): a source is never left without a registered waker and an unpolled signal.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures::task::AtomicWaker;

/// The wakers of up to 32 sources, numbered `0..N`.
#[derive(Debug)]
pub(crate) struct Sources<const N: usize> {
    shared: Arc<Shared>,
    wakers: [Waker; N],
    /// The sources [`Sources::poll`] polls: fired, flagged, or ready when last polled.
    pending: u32,
}

#[derive(Debug, Default)]
struct Shared {
    /// One bit per source whose waker fired since the task last looked.
    fired: AtomicU32,
    /// The task's own waker.
    task: AtomicWaker,
}

#[derive(Debug)]
struct Source {
    bit: u32,
    shared: Arc<Shared>,
}

impl Wake for Source {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.shared.fired.fetch_or(self.bit, Ordering::AcqRel);
        self.shared.task.wake();
    }
}

impl<const N: usize> Default for Sources<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Sources<N> {
    const ALL: u32 = if N >= 32 { u32::MAX } else { (1 << N) - 1 };

    /// Every source starts out pending: none has been polled, so none has a waker registered yet.
    pub(crate) fn new() -> Self {
        const { assert!(N > 0 && N <= 32, "between 1 and 32 sources") };
        let shared = Arc::new(Shared::default());
        let wakers = std::array::from_fn(|i| Waker::from(Arc::new(Source { bit: 1 << i, shared: shared.clone() })));
        Self { shared, wakers, pending: Self::ALL }
    }

    /// Starts a poll of the task: registers its waker (`cx`) and adds the sources that fired since the last
    /// call to those [`Sources::poll`] will poll.
    pub(crate) fn begin(&mut self, cx: &Context<'_>) {
        // Register first: a source that fires after the swap below wakes this waker.
        self.shared.task.register(cx.waker());
        self.pending |= self.shared.fired.swap(0, Ordering::AcqRel);
    }

    /// Polls source `i` with its own waker (`poll` polls the source with the context it is given) if it
    /// fired, was flagged, or was ready when last polled; `Pending` otherwise. A source that is ready stays
    /// pending, since it may hold more.
    pub(crate) fn poll<T>(&mut self, i: usize, poll: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
        let bit = 1 << i;
        if self.pending & bit == 0 {
            return Poll::Pending;
        }
        self.pending &= !bit;
        let ready = poll(&mut Context::from_waker(&self.wakers[i]));
        if ready.is_ready() {
            self.pending |= bit;
        }
        ready
    }

    /// Polls source `i` at the next [`Sources::poll`] of it, whether or not it fired: for a source that
    /// the task has changed (a stream added to a set it polls as one source).
    pub(crate) fn flag(&mut self, i: usize) {
        self.pending |= 1 << i;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::future::poll_fn;
    use std::pin::pin;
    use std::sync::atomic::AtomicUsize;

    use tokio::sync::Notify;

    use super::*;

    /// A task waker that counts its wakes.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Starts a poll and returns the sources that `poll` polls, each answering as `ready` says.
    fn polled<const N: usize>(sources: &mut Sources<N>, cx: &Context<'_>, ready: &[usize]) -> Vec<usize> {
        sources.begin(cx);
        let mut polled = Vec::new();
        for i in 0..N {
            let _ = sources.poll(i, |_| {
                polled.push(i);
                if ready.contains(&i) { Poll::Ready(()) } else { Poll::Pending }
            });
        }
        polled
    }

    #[test]
    fn every_source_is_polled_first_then_only_those_that_fired() {
        let count = Arc::new(Count::default());
        let task = Waker::from(count.clone());
        let cx = Context::from_waker(&task);
        let mut sources = Sources::<3>::new();
        assert_eq!(polled(&mut sources, &cx, &[]), [0, 1, 2]);
        assert_eq!(polled(&mut sources, &cx, &[]), Vec::<usize>::new(), "nothing fired");

        sources.wakers[2].wake_by_ref();
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "a source's wake wakes the task");
        // A source may also be woken by value, as a source that stores its waker does.
        let stored = sources.wakers[0].clone();
        stored.wake();
        assert_eq!(polled(&mut sources, &cx, &[]), [0, 2]);
        assert_eq!(polled(&mut sources, &cx, &[]), Vec::<usize>::new(), "what fired is polled once");
    }

    #[test]
    fn a_ready_source_is_polled_again_until_it_is_pending() {
        let task = Waker::from(Arc::new(Count::default()));
        let cx = Context::from_waker(&task);
        let mut sources = Sources::<2>::new();
        assert_eq!(polled(&mut sources, &cx, &[1]), [0, 1]);
        assert_eq!(polled(&mut sources, &cx, &[1]), [1]);
        assert_eq!(polled(&mut sources, &cx, &[]), [1]);
        assert_eq!(polled(&mut sources, &cx, &[]), Vec::<usize>::new());
    }

    #[test]
    fn a_source_not_reached_stays_pending() {
        let task = Waker::from(Arc::new(Count::default()));
        let cx = Context::from_waker(&task);
        let mut sources = Sources::<2>::new();
        sources.begin(&cx);
        // The task returns at source 0's event without looking at source 1.
        assert!(sources.poll(0, |_| Poll::Ready(())).is_ready());
        assert_eq!(polled(&mut sources, &cx, &[]), [0, 1]);
    }

    #[test]
    fn a_flagged_source_is_polled_once_without_firing() {
        let task = Waker::from(Arc::new(Count::default()));
        let cx = Context::from_waker(&task);
        let mut sources = Sources::<2>::new();
        let _ = polled(&mut sources, &cx, &[]);
        sources.flag(1);
        assert_eq!(polled(&mut sources, &cx, &[]), [1]);
        assert_eq!(polled(&mut sources, &cx, &[]), Vec::<usize>::new());
    }

    #[tokio::test]
    async fn a_source_that_fires_wakes_the_task_that_waits_on_it() {
        let notify = Arc::new(Notify::new());
        let mut sources = Sources::<2>::new();
        let mut notified = pin!(notify.notified());
        let notifier = tokio::spawn({
            let notify = notify.clone();
            async move {
                tokio::task::yield_now().await;
                notify.notify_waiters();
            }
        });
        let mut polls = 0;
        poll_fn(|cx| {
            polls += 1;
            sources.begin(cx);
            sources.poll(1, |cx| notified.as_mut().poll(cx))
        })
        .await;
        notifier.await.unwrap();
        // Once to register, once when the notification fired.
        assert_eq!(polls, 2);
    }
}
