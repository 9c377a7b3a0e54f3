//! Sessions revoked elsewhere. A logout on another node reaches this one through the cluster at once, but a
//! session revoked by `parleyd admin` (another process, which cannot reach this node's bus) or by a node
//! whose news NATS lost would otherwise end its open streams only at their next session check (the
//! heartbeat interval, 20 s by default). So every node asks storage, every session-check interval (2 s),
//! which sessions were revoked since it last asked, and ends their streams here: the bound on how long a
//! revoked session's stream stays open is that interval plus one query.
//!
//! Clocks differ between hosts: a revocation is stamped with the clock of the process that made it. The
//! watch therefore looks back [`CLOCK_SKEW`] further than its last look, and remembers what it announced
//! in that window so that it announces each revocation once.

use std::collections::HashMap;
use std::time::Instant;

use bus::{Event, Topic};
use types::{Millis, SessionId};

use crate::{Auth, Error};

/// How far apart the clocks of the nodes and of the host running `parleyd admin` may be.
pub const CLOCK_SKEW_MS: i64 = 10_000;

/// What one node's watch has seen. Start with [`RevocationWatch::new`], then call
/// [`Auth::watch_revocations`] with it periodically.
#[derive(Debug)]
pub struct RevocationWatch {
    /// When the last look started, by this node's clock.
    since: Millis,
    /// Revocations announced whose time is still within the look-back window.
    announced: HashMap<SessionId, Millis>,
}

impl RevocationWatch {
    /// A watch that reports what is revoked from now on (and in the skew window before).
    pub fn new() -> Self {
        Self { since: Millis::now(), announced: HashMap::new() }
    }
}

impl Default for RevocationWatch {
    fn default() -> Self {
        Self::new()
    }
}

impl Auth {
    /// Ends, on this node, the sessions revoked since `watch` last looked (by anyone): they are refused at
    /// once, and their open streams end. Returns how many were new to the watch.
    ///
    /// # Errors
    /// Database errors only (the next call looks again from the same point).
    pub async fn watch_revocations(&self, watch: &mut RevocationWatch) -> Result<usize, Error> {
        let started = Millis::now();
        let from = Millis(watch.since.0 - CLOCK_SKEW_MS);
        let revoked = self.db.read().await?.revoked_since(from).await?;
        let now = Instant::now();
        let mut new = 0;
        for r in revoked {
            if watch.announced.insert(r.session_id, r.at).is_some() {
                continue;
            }
            new += 1;
            self.sessions.put(r.session_id, r.user_id, false, now);
            // Only this node's streams: every node runs its own watch.
            self.bus.inject(Topic::User(r.user_id), Event::SessionsRevoked { session: Some(r.session_id) });
        }
        watch.announced.retain(|_, at| *at >= from);
        watch.since = started;
        Ok(new)
    }
}
