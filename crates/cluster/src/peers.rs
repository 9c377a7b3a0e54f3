//! What this node knows of the other nodes' state, and how it keeps up: deltas in version order, a
//! snapshot when it missed one (or meets a node for the first time), and forgetting a node that has not
//! sent a heartbeat for the node timeout.
//!
//! Everything here is plain bookkeeping without I/O: each method says which changes to report and whether
//! a snapshot must be asked for, and the caller does it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use types::NodeId;

use crate::wire::{Change, State};

#[derive(Debug)]
struct Peer {
    last_heard: Instant,
    /// The version of `state`.
    version: u64,
    state: State,
    /// When a snapshot was last asked for (one at a time, repeated after a while if it never came).
    asked: Option<Instant>,
}

/// What to do after taking in a message.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Changes of a node's state to report.
    pub changes: Vec<Change>,
    /// Ask the node for a snapshot.
    pub ask: bool,
}

/// How long an unanswered snapshot request blocks another.
const ASK_AGAIN: Duration = Duration::from_secs(2);

/// The other nodes.
#[derive(Debug, Default)]
pub(crate) struct Peers {
    peers: HashMap<NodeId, Peer>,
}

impl Peers {
    fn peer(&mut self, node: NodeId, now: Instant) -> &mut Peer {
        let peer = self.peers.entry(node).or_insert_with(|| {
            tracing::info!(%node, "a node joined the cluster");
            Peer { last_heard: now, version: 0, state: State::default(), asked: None }
        });
        peer.last_heard = now;
        peer
    }

    fn ask(peer: &mut Peer, now: Instant) -> bool {
        if peer.asked.is_some_and(|at| now.duration_since(at) < ASK_AGAIN) {
            return false;
        }
        peer.asked = Some(now);
        true
    }

    /// A change numbered `version` from `node`.
    pub(crate) fn delta(&mut self, node: NodeId, version: u64, change: Change, now: Instant) -> Outcome {
        let peer = self.peer(node, now);
        if version <= peer.version {
            return Outcome::default();
        }
        if version == peer.version + 1 {
            peer.version = version;
            let changed = peer.state.apply(&change);
            return Outcome { changes: if changed { vec![change] } else { vec![] }, ask: false };
        }
        // Missed one: only a snapshot can say what.
        Outcome { changes: vec![], ask: Self::ask(peer, now) }
    }

    /// A heartbeat from `node`, whose state is at `version`.
    pub(crate) fn beat(&mut self, node: NodeId, version: u64, now: Instant) -> Outcome {
        let peer = self.peer(node, now);
        let ask = peer.version != version && Self::ask(peer, now);
        Outcome { changes: vec![], ask }
    }

    /// `node`'s whole state at `version`.
    pub(crate) fn snapshot(&mut self, node: NodeId, version: u64, state: State, now: Instant) -> Outcome {
        let peer = self.peer(node, now);
        peer.asked = None;
        if version < peer.version {
            return Outcome::default();
        }
        let changes = peer.state.changes_to(&state);
        peer.state = state;
        peer.version = version;
        Outcome { changes, ask: false }
    }

    /// Forgets the nodes not heard from within `timeout`; the changes that takes, per node.
    pub(crate) fn expire(&mut self, timeout: Duration, now: Instant) -> Vec<(NodeId, Vec<Change>)> {
        let gone: Vec<NodeId> =
            self.peers.iter().filter(|(_, p)| now.duration_since(p.last_heard) > timeout).map(|(n, _)| *n).collect();
        gone.into_iter()
            .filter_map(|node| {
                let peer = self.peers.remove(&node)?;
                tracing::warn!(%node, silent_for = ?now.duration_since(peer.last_heard), "a node stopped sending heartbeats; forgetting its users and streams");
                Some((node, peer.state.changes_to(&State::default())))
            })
            .collect()
    }

    /// How many nodes are known.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.peers.len()
    }
}

#[cfg(test)]
mod tests {
    use types::{PresenceStatus, UserId};

    use super::*;

    fn online(user: UserId) -> Change {
        Change::Presence { user, status: Some(PresenceStatus::Online) }
    }

    #[test]
    fn deltas_apply_in_order_and_a_gap_asks_for_a_snapshot() {
        let (mut peers, node, now) = (Peers::default(), NodeId::new(), Instant::now());
        let (a, b) = (UserId::new(), UserId::new());
        assert_eq!(peers.delta(node, 1, online(a), now).changes, vec![online(a)]);
        assert_eq!(peers.delta(node, 1, online(a), now), Outcome::default(), "a repeat is ignored");
        let gap = peers.delta(node, 3, online(b), now);
        assert!(gap.ask && gap.changes.is_empty());
        assert!(!peers.delta(node, 4, online(b), now).ask, "one request at a time");
        let mut state = State::default();
        state.presence.insert(b, PresenceStatus::Online);
        let synced = peers.snapshot(node, 4, state, now);
        assert_eq!(synced.changes.len(), 2, "a went, b came: {synced:?}");
        assert!(!peers.beat(node, 4, now).ask, "in step");
        assert!(peers.beat(node, 5, now).ask, "behind");
    }

    #[test]
    fn a_silent_node_is_forgotten_with_everything_it_said() {
        let (mut peers, node, now) = (Peers::default(), NodeId::new(), Instant::now());
        let a = UserId::new();
        peers.delta(node, 1, online(a), now);
        peers.delta(node, 2, Change::Streams { user: a, open: 2 }, now);
        assert!(peers.expire(Duration::from_secs(3), now + Duration::from_secs(2)).is_empty());
        let gone = peers.expire(Duration::from_secs(3), now + Duration::from_secs(4));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].1.len(), 2, "offline, and no streams: {gone:?}");
        assert_eq!(peers.len(), 0);
    }
}
