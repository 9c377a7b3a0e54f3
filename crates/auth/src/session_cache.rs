//! A short-lived cache of whether sessions are live, so that checking a revoked session on every call does
//! not cost a query on every call. An entry is trusted for the configured interval; revocations made on
//! this node update it at once, so a logged-out token is refused here immediately and on other nodes within
//! the interval.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use types::{SessionId, UserId};

/// Above this many entries, stale ones are swept on the next insert.
const SWEEP_ABOVE: usize = 50_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    user: UserId,
    live: bool,
    checked: Instant,
}

#[derive(Debug)]
pub(crate) struct SessionCache {
    fresh_for: Duration,
    entries: Mutex<HashMap<SessionId, Entry>>,
}

impl SessionCache {
    pub(crate) fn new(fresh_for: Duration) -> Self {
        Self { fresh_for, entries: Mutex::new(HashMap::new()) }
    }

    /// Whether the session is live (and whose it is), if known recently enough.
    pub(crate) fn get(&self, id: SessionId, now: Instant) -> Option<(UserId, bool)> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.get(&id).filter(|e| now.duration_since(e.checked) < self.fresh_for).map(|e| (e.user, e.live))
    }

    pub(crate) fn put(&self, id: SessionId, user: UserId, live: bool, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() > SWEEP_ABOVE {
            let fresh_for = self.fresh_for;
            entries.retain(|_, e| now.duration_since(e.checked) < fresh_for);
        }
        entries.insert(id, Entry { user, live, checked: now });
    }

    /// Marks every cached session of `user` as ended (after "log out everywhere").
    pub(crate) fn end_all_of(&self, user: UserId, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        for entry in entries.values_mut().filter(|e| e.user == user) {
            *entry = Entry { user, live: false, checked: now };
        }
    }
}
