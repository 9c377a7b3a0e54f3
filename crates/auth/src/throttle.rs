//! Login throttling: sliding windows of failed attempts, kept in memory (per node).
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
    pub(crate) fn wait(&mut self, account: &str, address: Option<IpAddr>, now: Instant) -> Option<Duration> {
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

    pub(crate) fn fail(&mut self, account: &str, address: Option<IpAddr>, now: Instant) {
        let address = address_key(address);
        self.account_address.fail(format!("{account}\n{address}"), now);
        self.address.fail(address, now);
        self.account.fail(account.to_owned(), now);
    }

    /// A successful login clears the failures of that account from that address.
    pub(crate) fn succeed(&mut self, account: &str, address: Option<IpAddr>) {
        self.account_address.forget(&format!("{account}\n{}", address_key(address)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)));

    fn config() -> ThrottleConfig {
        ThrottleConfig { per_account: 3, per_address: 5, per_account_any_address: 8, window: Duration::from_secs(60) }
    }

    #[test]
    fn an_account_is_throttled_per_address_and_released_after_the_window() {
        let mut t = Throttle::new(config());
        let start = Instant::now();
        for i in 0..3 {
            assert_eq!(t.wait("alice", A, start), None);
            t.fail("alice", A, start + Duration::from_secs(i));
        }
        let later = start + Duration::from_secs(10);
        assert_eq!(t.wait("alice", A, later), Some(Duration::from_secs(50)));
        assert_eq!(t.wait("alice", B, later), None, "the owner elsewhere is not locked out");
        assert_eq!(t.wait("alice", A, start + Duration::from_secs(60)), None, "released after the window");
    }

    #[test]
    fn an_address_is_throttled_across_accounts() {
        let mut t = Throttle::new(config());
        let now = Instant::now();
        for name in ["a", "b", "c", "d", "e"] {
            t.fail(name, A, now);
        }
        assert!(t.wait("f", A, now).is_some());
        assert!(t.wait("f", B, now).is_none());
    }

    #[test]
    fn success_clears_the_failures_from_that_address() {
        let mut t = Throttle::new(config());
        let now = Instant::now();
        t.fail("alice", A, now);
        t.fail("alice", A, now);
        t.succeed("alice", A);
        t.fail("alice", A, now);
        t.fail("alice", A, now);
        assert_eq!(t.wait("alice", A, now), None);
    }
}
