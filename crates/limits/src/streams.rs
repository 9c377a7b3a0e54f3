//! Open streams per user: a counter per user, taken when a stream opens and given back when its permit is
//! dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use types::UserId;

use crate::Error;

/// At most `max` open streams per user, on this node.
#[derive(Debug, Clone)]
pub struct StreamLimit {
    max: usize,
    open: Arc<Mutex<HashMap<UserId, usize>>>,
}

/// One open stream of a user; dropping it frees its place.
#[derive(Debug)]
pub struct StreamPermit {
    user: UserId,
    open: Arc<Mutex<HashMap<UserId, usize>>>,
}

impl StreamLimit {
    /// At most `max` open streams per user (at least one).
    pub fn new(max: usize) -> Self {
        Self { max: max.max(1), open: Arc::default() }
    }

    /// A place for one more stream of `user`.
    ///
    /// # Errors
    /// [`Error::TooManyStreams`] when the user has the most open already.
    pub fn open(&self, user: UserId) -> Result<StreamPermit, Error> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(user).or_default();
        if *count >= self.max {
            return Err(Error::TooManyStreams(self.max));
        }
        *count += 1;
        Ok(StreamPermit { user, open: self.open.clone() })
    }

    /// How many streams `user` has open.
    pub fn open_streams(&self, user: UserId) -> usize {
        self.open.lock().unwrap_or_else(PoisonError::into_inner).get(&user).copied().unwrap_or(0)
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.user);
            }
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
}
