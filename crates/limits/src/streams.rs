//! Open streams per user: a counter per user, taken when a stream opens and given back when its permit is
//! dropped. In a cluster, the streams a user has open on other nodes count too ([`StreamLimit::remote`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use types::{NodeId, UserId};

use crate::{Error, Peers};

/// At most `max` open streams per user, on this node and (in a cluster) the others together.
#[derive(Debug, Clone)]
pub struct StreamLimit {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    max: usize,
    counts: Mutex<Counts>,
    peers: OnceLock<Arc<dyn Peers>>,
}

#[derive(Debug, Default)]
struct Counts {
    /// Open here, per user.
    open: HashMap<UserId, usize>,
    /// Open on other nodes, per user and node.
    remote: HashMap<UserId, HashMap<NodeId, usize>>,
}

/// One open stream of a user; dropping it frees its place.
#[derive(Debug)]
pub struct StreamPermit {
    user: UserId,
    inner: Arc<Inner>,
}

impl StreamLimit {
    /// At most `max` open streams per user (at least one).
    pub fn new(max: usize) -> Self {
        Self { inner: Arc::new(Inner { max: max.max(1), counts: Mutex::default(), peers: OnceLock::new() }) }
    }

    /// Tells `peers` how many streams each user has open here from now on (once; later calls are ignored).
    pub fn share_with(&self, peers: Arc<dyn Peers>) {
        let _ = self.inner.peers.set(peers);
    }

    /// A place for one more stream of `user`.
    ///
    /// # Errors
    /// [`Error::TooManyStreams`] when the user has the most open already (here and elsewhere together).
    pub fn open(&self, user: UserId) -> Result<StreamPermit, Error> {
        let mut counts = self.inner.lock();
        let elsewhere: usize = counts.remote.get(&user).map_or(0, |nodes| nodes.values().sum());
        let here = counts.open.get(&user).copied().unwrap_or(0);
        if here + elsewhere >= self.inner.max {
            return Err(Error::TooManyStreams(self.inner.max));
        }
        counts.open.insert(user, here + 1);
        self.inner.share(user, here + 1);
        Ok(StreamPermit { user, inner: self.inner.clone() })
    }

    /// How many streams `user` has open, here and elsewhere.
    pub fn open_streams(&self, user: UserId) -> usize {
        let counts = self.inner.lock();
        counts.open.get(&user).copied().unwrap_or(0)
            + counts.remote.get(&user).map_or(0, |nodes| nodes.values().sum::<usize>())
    }

    /// `user` has `open` streams open on the other node `node` (0: none, or the node is gone).
    pub fn remote(&self, node: NodeId, user: UserId, open: usize) {
        let mut counts = self.inner.lock();
        let nodes = counts.remote.entry(user).or_default();
        if open == 0 {
            nodes.remove(&node);
            if nodes.is_empty() {
                counts.remote.remove(&user);
            }
        } else {
            nodes.insert(node, open);
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called under the lock, so that peers hear the counts in the order they happened.
    fn share(&self, user: UserId, open: usize) {
        if let Some(peers) = self.peers.get() {
            peers.streams(user, open);
        }
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut counts = self.inner.lock();
        if let Some(count) = counts.open.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            let left = *count;
            if left == 0 {
                counts.open.remove(&self.user);
            }
            self.inner.share(self.user, left);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_gets_at_most_max_streams_and_a_closed_one_frees_its_place() {
        let limit = StreamLimit::new(2);
        let (alice, bob) = (UserId::new(), UserId::new());
        let first = limit.open(alice);
        let _second = limit.open(alice);
        assert!(matches!(limit.open(alice), Err(Error::TooManyStreams(2))));
        assert!(limit.open(bob).is_ok(), "another user is unaffected");
        drop(first);
        assert!(limit.open(alice).is_ok());
        assert_eq!(limit.open_streams(bob), 0, "bob's permit was dropped at once");
    }

    #[test]
    fn streams_open_on_other_nodes_count_until_those_nodes_say_otherwise() {
        let limit = StreamLimit::new(3);
        let (alice, node) = (UserId::new(), NodeId::new());
        limit.remote(node, alice, 2);
        let _here = limit.open(alice);
        assert!(matches!(limit.open(alice), Err(Error::TooManyStreams(3))));
        limit.remote(node, alice, 0);
        assert!(limit.open(alice).is_ok());
    }
}
