//! Login throttling: sliding windows of failed attempts, kept in memory. In a cluster, each node also counts
//! the failures the others count ([`Throttle::count`]), so the windows hold across nodes.
//!
//! Three windows apply to every attempt:
//! - per account *and* source address (the tight one, 10 a minute by default): stops one attacker guessing
//!   one password, while the account's owner, signing in from elsewhere, is not affected;
//! - per source address (30): stops one attacker trying many accounts;
//! - per account from any address (100): slows a distributed attack on one account. Only this one can keep
//!   the owner out, and only while failures keep arriving from many addresses, for one window at most.
//!
//! Throttled attempts are refused before the password is checked and do not count as failures, so
//! throttling ends one window after the attacker's last counted failure.
//!
//! An attempt is counted as a failure *before* its password is checked ([`Throttle::reserve`]) and the
//! count is taken back if it succeeds ([`Throttle::release`]), so a burst of concurrent attempts gets at most
//! as many verdicts as the windows allow: the check and the count happen under one lock.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Limits on failed logins.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleConfig {
    /// Failures allowed per account from one source address within the window.
    pub per_account: usize,
    /// Failures allowed per source address, across accounts, within the window.
    pub per_address: usize,
    /// Failures allowed per account from all addresses together within the window.
    pub per_account_any_address: usize,
    /// The sliding window.
    pub window: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self { per_account: 10, per_address: 30, per_account_any_address: 100, window: Duration::from_secs(60) }
    }
}

/// Above this many tracked keys, stale ones are swept on the next failure (bounds memory under attack).
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug)]
struct Window {
    max: usize,
    span: Duration,
    failures: HashMap<String, VecDeque<Instant>>,
}

impl Window {
    fn new(max: usize, span: Duration) -> Self {
        Self { max: max.max(1), span, failures: HashMap::new() }
    }

    /// How long `key` must wait, if it is over the limit.
    fn wait(&mut self, key: &str, now: Instant) -> Option<Duration> {
        let times = self.failures.get_mut(key)?;
        while times.front().is_some_and(|t| now.duration_since(*t) >= self.span) {
            times.pop_front();
        }
        if times.len() < self.max {
            return None;
        }
        let oldest = *times.front()?;
        Some(self.span.saturating_sub(now.duration_since(oldest)))
    }

    fn fail(&mut self, key: String, now: Instant) {
        if self.failures.len() > SWEEP_ABOVE {
            let span = self.span;
            self.failures.retain(|_, t| t.back().is_some_and(|last| now.duration_since(*last) < span));
        }
        let times = self.failures.entry(key).or_default();
        times.push_back(now);
        // Only the newest `max` failures can matter.
        while times.len() > self.max {
            times.pop_front();
        }
    }

    fn forget(&mut self, key: &str) {
        self.failures.remove(key);
    }

    /// Takes back the newest failure of `key`.
    fn take_back_newest(&mut self, key: &str) {
        if let Some(times) = self.failures.get_mut(key) {
            times.pop_back();
        }
    }

    /// Takes back one failure of `key` counted at `at`.
    fn take_back(&mut self, key: &str, at: Instant) {
        if let Some(times) = self.failures.get_mut(key)
            && let Some(i) = times.iter().rposition(|t| *t == at)
        {
            times.remove(i);
        }
    }
}

/// An attempt counted as a failure until it turns out otherwise ([`Throttle::release`]).
#[derive(Debug)]
#[must_use = "an attempt that succeeds must be released"]
pub(crate) struct Reservation {
    account: String,
    address: String,
    at: Instant,
}

#[derive(Debug)]
pub(crate) struct Throttle {
    account_address: Window,
    address: Window,
    account: Window,
}

fn address_key(address: Option<IpAddr>) -> String {
    address.map_or_else(|| "unknown".to_owned(), |a| a.to_string())
}

impl Throttle {
    pub(crate) fn new(config: ThrottleConfig) -> Self {
        Self {
            account_address: Window::new(config.per_account, config.window),
            address: Window::new(config.per_address, config.window),
            account: Window::new(config.per_account_any_address, config.window),
        }
    }

    /// How long an attempt on `account` from `address` must wait, if it must.
    fn wait(&mut self, account: &str, address: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let address = address_key(address);
        [
            self.account_address.wait(&format!("{account}\n{address}"), now),
            self.address.wait(&address, now),
            self.account.wait(account, now),
        ]
        .into_iter()
        .flatten()
        .max()
    }

    /// Counts an attempt on `account` from `address` as a failure before its password is checked, unless a
    /// window is full already.
    ///
    /// # Errors
    /// How long to wait, when a window is full (nothing is counted then).
    pub(crate) fn reserve(
        &mut self,
        account: &str,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Result<Reservation, Duration> {
        if let Some(wait) = self.wait(account, address, now) {
            return Err(wait);
        }
        let address = address_key(address);
        self.account_address.fail(format!("{account}\n{address}"), now);
        self.address.fail(address.clone(), now);
        self.account.fail(account.to_owned(), now);
        Ok(Reservation { account: account.to_owned(), address, at: now })
    }

    /// Counts a failure of `account` from `address` that another node counted (whether or not a window is
    /// full here: it happened).
    pub(crate) fn count(&mut self, account: &str, address: Option<IpAddr>, now: Instant) {
        let address = address_key(address);
        self.account_address.fail(format!("{account}\n{address}"), now);
        self.address.fail(address, now);
        self.account.fail(account.to_owned(), now);
    }

    /// A login on `account` from `address` succeeded elsewhere, as after a success here: that pair's
    /// failures are forgotten, and the attempt, which was counted when it began, is taken back from the
    /// address's and the account's windows (the newest failure of each: the other node's clock is not this
    /// one's, and which one goes makes no difference after the window).
    pub(crate) fn succeeded(&mut self, account: &str, address: Option<IpAddr>) {
        let address = address_key(address);
        self.account_address.forget(&format!("{account}\n{address}"));
        self.address.take_back_newest(&address);
        self.account.take_back_newest(account);
    }

    /// The attempt did not fail after all (it succeeded, or its password was never checked): its count is
    /// taken back; after a success, the account's failures from that address are forgotten too.
    pub(crate) fn release(&mut self, r: Reservation, succeeded: bool) {
        let pair = format!("{}\n{}", r.account, r.address);
        if succeeded {
            self.account_address.forget(&pair);
        } else {
            self.account_address.take_back(&pair, r.at);
        }
        self.address.take_back(&r.address, r.at);
        self.account.take_back(&r.account, r.at);
    }
}

#[cfg(test)]
mod tests {
    // A failed expectation in a test is a failed test: panicking is the point.
    #![allow(clippy::expect_used)]

    use super::*;

    const A: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)));

    fn config() -> ThrottleConfig {
        ThrottleConfig { per_account: 3, per_address: 5, per_account_any_address: 8, window: Duration::from_secs(60) }
    }

    /// A failed attempt: reserved and kept.
    fn fail(t: &mut Throttle, account: &str, address: Option<IpAddr>, now: Instant) {
        let _kept = t.reserve(account, address, now).expect("not throttled yet");
    }

    #[test]
    fn an_account_is_throttled_per_address_and_released_after_the_window() {
        let mut t = Throttle::new(config());
        let start = Instant::now();
        for i in 0..3 {
            fail(&mut t, "alice", A, start + Duration::from_secs(i));
        }
        let later = start + Duration::from_secs(10);
        assert_eq!(t.reserve("alice", A, later).map(drop), Err(Duration::from_secs(50)));
        assert!(t.reserve("alice", B, later).is_ok(), "the owner elsewhere is not locked out");
        assert!(t.reserve("alice", A, start + Duration::from_secs(60)).is_ok(), "released after the window");
    }

    #[test]
    fn an_address_is_throttled_across_accounts() {
        let mut t = Throttle::new(config());
        let now = Instant::now();
        for name in ["a", "b", "c", "d", "e"] {
            fail(&mut t, name, A, now);
        }
        assert!(t.reserve("f", A, now).is_err());
        assert!(t.reserve("f", B, now).is_ok());
    }

    #[test]
    fn a_burst_gets_at_most_the_allowed_attempts_and_successes_give_theirs_back() {
        let mut t = Throttle::new(config());
        let now = Instant::now();
        // Five attempts arrive together: the first three are reserved before any is verified.
        let attempts: Vec<_> = (0..5).map(|_| t.reserve("alice", A, now)).collect();
        assert_eq!(attempts.iter().filter(|a| a.is_ok()).count(), 3);
        // One of them turns out to be right: its count is taken back and the pair's failures are forgotten.
        let mut reserved = attempts.into_iter().flatten();
        t.release(reserved.next().expect("one"), true);
        assert!(t.reserve("alice", A, now).is_ok());
    }

    #[test]
    fn failures_counted_on_other_nodes_fill_the_same_windows() {
        let mut t = Throttle::new(config());
        let now = Instant::now();
        t.count("alice", A, now);
        t.count("alice", A, now);
        fail(&mut t, "alice", A, now);
        assert!(t.reserve("alice", A, now).is_err(), "two failures elsewhere and one here fill the window");
        t.succeeded("alice", A);
        assert!(t.reserve("alice", A, now).is_ok(), "a success elsewhere forgets the pair's failures");
    }

    #[test]
    fn successes_elsewhere_never_add_up_to_throttling_an_address() {
        let mut t = Throttle::new(config());
        let now = Instant::now();
        // Many people behind one address sign in successfully on another node: each attempt is counted
        // when it begins and taken back when it succeeds.
        for name in ["a", "b", "c", "d", "e", "f", "g"] {
            t.count(name, A, now);
            t.succeeded(name, A);
        }
        assert!(t.reserve("h", A, now).is_ok(), "the address is not throttled by successes");
    }

    #[test]
    fn an_attempt_never_checked_is_not_a_failure() {
        let mut t = Throttle::new(ThrottleConfig { per_account: 1, ..config() });
        let now = Instant::now();
        let r = t.reserve("alice", A, now).expect("first");
        t.release(r, false);
        assert!(t.reserve("alice", A, now).is_ok());
    }
}
