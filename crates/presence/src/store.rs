//! Where presence is kept. [`PresenceStore`] is the one interface the service uses, so that several nodes
//! can later share presence: a shared store would publish each node's entries with a time-to-live that the
//! node refreshes by heartbeat, and treat entries whose node stopped refreshing as offline. The in-process
//! [`LocalStore`] is the single-node implementation.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use types::{Millis, PresenceStatus, UserId};

/// What is known of one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    /// Their status.
    pub status: PresenceStatus,
    /// When last connected (now, while connected).
    pub last_seen_at: Option<Millis>,
}

/// Presence as all nodes see it.
pub trait PresenceStore: Send + Sync + std::fmt::Debug + 'static {
    /// Records `user`'s status as this node sees it.
    fn put(&self, user: UserId, known: Known);
    /// What is known of each of `users`, in order; `None` for users never seen.
    fn get(&self, users: &[UserId]) -> Vec<Option<Known>>;
}

/// The single-node store: a map in memory.
#[derive(Debug, Default)]
pub struct LocalStore {
    users: Mutex<HashMap<UserId, Known>>,
}

impl PresenceStore for LocalStore {
    fn put(&self, user: UserId, known: Known) {
        self.users.lock().unwrap_or_else(PoisonError::into_inner).insert(user, known);
    }

    fn get(&self, users: &[UserId]) -> Vec<Option<Known>> {
        let map = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users.iter().map(|u| map.get(u).copied()).collect()
    }
}
