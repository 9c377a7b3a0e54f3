//! What goes over NATS, and under which subjects.
//!
//! **Encoding: JSON** (serde_json). Every message is small (a timeline entry is a few hundred bytes), so a
//! binary format would save little, and JSON buys two things that matter more in a cluster: it is
//! self-describing, so during a rolling upgrade a node tolerates fields it does not know (serde skips
//! them) and a message it cannot read is dropped as an error instead of being misread field by field (which
//! is what a positional format such as postcard or bincode does with a changed struct); and an operator can
//! read the traffic with `nats sub 'parley.>'`. A message that does not decode is logged and dropped: every
//! message here is a hint or is repeated (heartbeats, snapshots), so the cost is latency.
//!
//! Subjects, under the configured prefix `P`:
//! - `P.room.<room id>`, `P.user.<user id>`: bus events ([`Envelope`] of a [`WireEvent`]);
//! - `P.node.<node id>.delta`: one change of that node's state ([`Delta`]);
//! - `P.node.<node id>.beat`: its heartbeat, with the version of its state ([`Beat`]);
//! - `P.node.<node id>.state`: request/reply for its whole state ([`Snapshot`]);
//! - `P.count`: things counted against cluster-wide limits ([`Envelope`] of a [`Count`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use bus::{Event, Topic};
use serde::{Deserialize, Serialize};
use types::{Departure, Entry, NodeId, PresenceStatus, ReadMark, RoomId, SessionId, Typing, User, UserId};

/// A message from one node to all.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Envelope<T> {
    /// The node that sent it (so that a node ignores its own, should the server echo it).
    pub node: NodeId,
    /// What it says.
    pub body: T,
}

/// A bus event that crosses nodes (see [`bus::Event::crosses_nodes`]).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum WireEvent {
    /// A stored timeline entry, whole, so that subscribers elsewhere deliver it without a query.
    Entry(Box<Entry>),
    /// Typing.
    Typing(Typing),
    /// [`Event::ReadReceipts`].
    ReadReceipts { room_id: RoomId, marks: Vec<ReadMark> },
    /// [`Event::Joined`].
    Joined { room_id: RoomId, after_seq: i64 },
    /// [`Event::Departed`].
    Departed { room_id: RoomId, seq: i64, reason: Departure },
    /// [`Event::Invited`].
    Invited { room_id: RoomId, by: User },
    /// [`Event::InvitationEnded`].
    InvitationEnded { room_id: RoomId },
    /// [`Event::SessionsRevoked`].
    SessionsRevoked { session: Option<SessionId> },
}

impl WireEvent {
    /// The wire form of `event`, or `None` for events that stay on their node.
    pub(crate) fn of(event: &Event) -> Option<Self> {
        Some(match event {
            Event::Entry(entry) => Self::Entry(Box::new(Entry::clone(entry))),
            Event::Typing(typing) => Self::Typing(Typing::clone(typing)),
            Event::ReadReceipts { room_id, marks } => Self::ReadReceipts { room_id: *room_id, marks: marks.to_vec() },
            Event::Joined { room_id, after_seq } => Self::Joined { room_id: *room_id, after_seq: *after_seq },
            Event::Departed { room_id, seq, reason } => {
                Self::Departed { room_id: *room_id, seq: *seq, reason: *reason }
            }
            Event::Invited { room_id, by } => Self::Invited { room_id: *room_id, by: by.clone() },
            Event::InvitationEnded { room_id } => Self::InvitationEnded { room_id: *room_id },
            Event::SessionsRevoked { session } => Self::SessionsRevoked { session: *session },
            Event::Tail { .. } | Event::RoomDeleted { .. } | Event::Presence { .. } => return None,
        })
    }

    pub(crate) fn into_event(self) -> Event {
        match self {
            Self::Entry(entry) => Event::Entry(Arc::new(*entry)),
            Self::Typing(typing) => Event::Typing(Arc::new(typing)),
            Self::ReadReceipts { room_id, marks } => Event::ReadReceipts { room_id, marks: marks.into() },
            Self::Joined { room_id, after_seq } => Event::Joined { room_id, after_seq },
            Self::Departed { room_id, seq, reason } => Event::Departed { room_id, seq, reason },
            Self::Invited { room_id, by } => Event::Invited { room_id, by },
            Self::InvitationEnded { room_id } => Event::InvitationEnded { room_id },
            Self::SessionsRevoked { session } => Event::SessionsRevoked { session },
        }
    }
}

/// One change of a node's shared state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// A user's presence as that node sees it: `None` when they have no connection there (any more).
    Presence {
        /// The user.
        user: UserId,
        /// Online or away; `None`: not connected to that node.
        status: Option<PresenceStatus>,
    },
    /// How many Subscribe streams a user has open on that node.
    Streams {
        /// The user.
        user: UserId,
        /// Open streams there.
        open: u32,
    },
}

/// Something a node counted against a cluster-wide limit, for the others to count too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Count {
    /// One request of `kind` by `subject` was allowed.
    Rate {
        /// The kind of request.
        kind: limits::Kind,
        /// Who made it.
        subject: limits::Subject,
    },
    /// A login attempt on `account` (its login key) from `address` counts as a failure.
    LoginFailed {
        /// The account's login key.
        account: String,
        /// The client's address.
        address: Option<IpAddr>,
    },
    /// A login on `account` from `address` succeeded: that pair's failures are forgotten.
    LoginSucceeded {
        /// The account's login key.
        account: String,
        /// The client's address.
        address: Option<IpAddr>,
    },
}

/// One node's shared state: what its peers need to know to apply cluster-wide rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct State {
    /// Users connected to the node, with their status there.
    pub presence: HashMap<UserId, PresenceStatus>,
    /// Users with open streams on the node, and how many.
    pub streams: HashMap<UserId, u32>,
}

impl State {
    /// Applies `change`; whether anything changed.
    pub(crate) fn apply(&mut self, change: &Change) -> bool {
        match change {
            Change::Presence { user, status: Some(status) } => self.presence.insert(*user, *status) != Some(*status),
            Change::Presence { user, status: None } => self.presence.remove(user).is_some(),
            Change::Streams { user, open: 0 } => self.streams.remove(user).is_some(),
            Change::Streams { user, open } => self.streams.insert(*user, *open) != Some(*open),
        }
    }

    /// The changes that turn `self` into `to`.
    pub(crate) fn changes_to(&self, to: &Self) -> Vec<Change> {
        let mut changes = Vec::new();
        for (user, status) in &to.presence {
            if self.presence.get(user) != Some(status) {
                changes.push(Change::Presence { user: *user, status: Some(*status) });
            }
        }
        for user in self.presence.keys().filter(|u| !to.presence.contains_key(u)) {
            changes.push(Change::Presence { user: *user, status: None });
        }
        for (user, open) in &to.streams {
            if self.streams.get(user) != Some(open) {
                changes.push(Change::Streams { user: *user, open: *open });
            }
        }
        for user in self.streams.keys().filter(|u| !to.streams.contains_key(u)) {
            changes.push(Change::Streams { user: *user, open: 0 });
        }
        changes
    }
}

/// One change of a node's state, numbered: version `n` follows `n - 1`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Delta {
    pub version: u64,
    pub change: Change,
}

/// A node's heartbeat: it is alive, and its state is at `version`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Beat {
    pub version: u64,
}

/// A node's whole state at `version`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    pub version: u64,
    pub state: State,
}

/// The subjects of one cluster (one prefix).
#[derive(Debug, Clone)]
pub(crate) struct Subjects {
    prefix: String,
}

/// What a subject addresses.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Addressed {
    Topic(Topic),
    Delta(NodeId),
    Beat(NodeId),
    State(NodeId),
    Count,
}

impl Subjects {
    pub(crate) fn new(prefix: &str) -> Self {
        Self { prefix: prefix.to_owned() }
    }

    pub(crate) fn all(&self) -> String {
        format!("{}.>", self.prefix)
    }

    pub(crate) fn topic(&self, topic: Topic) -> String {
        match topic {
            Topic::Room(room) => format!("{}.room.{room}", self.prefix),
            Topic::User(user) => format!("{}.user.{user}", self.prefix),
        }
    }

    pub(crate) fn node(&self, node: NodeId, what: &str) -> String {
        format!("{}.node.{node}.{what}", self.prefix)
    }

    pub(crate) fn count(&self) -> String {
        format!("{}.count", self.prefix)
    }

    /// What `subject` addresses, if it is one of ours.
    pub(crate) fn parse(&self, subject: &str) -> Option<Addressed> {
        let rest = subject.strip_prefix(&self.prefix)?.strip_prefix('.')?;
        let mut parts = rest.split('.');
        let addressed = match (parts.next()?, parts.next(), parts.next()) {
            ("room", Some(id), None) => Addressed::Topic(Topic::Room(id.parse().ok()?)),
            ("user", Some(id), None) => Addressed::Topic(Topic::User(id.parse().ok()?)),
            ("count", None, None) => Addressed::Count,
            ("node", Some(id), Some(what)) => {
                let node = id.parse().ok()?;
                match what {
                    "delta" => Addressed::Delta(node),
                    "beat" => Addressed::Beat(node),
                    "state" => Addressed::State(node),
                    _ => return None,
                }
            }
            _ => return None,
        };
        parts.next().is_none().then_some(addressed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn subjects_round_trip() {
        let s = Subjects::new("parley");
        let (room, user, node) = (RoomId::new(), UserId::new(), NodeId::new());
        assert_eq!(s.parse(&s.topic(Topic::Room(room))), Some(Addressed::Topic(Topic::Room(room))));
        assert_eq!(s.parse(&s.topic(Topic::User(user))), Some(Addressed::Topic(Topic::User(user))));
        assert_eq!(s.parse(&s.node(node, "beat")), Some(Addressed::Beat(node)));
        assert_eq!(s.parse(&s.node(node, "state")), Some(Addressed::State(node)));
        assert_eq!(s.parse(&s.count()), Some(Addressed::Count));
        assert_eq!(s.parse("parley.room.nonsense"), None);
        assert_eq!(s.parse("other.count"), None);
        assert_eq!(s.parse("parleyx.count"), None);
    }

    #[test]
    fn state_diffs_replay_to_the_same_state() {
        let (a, b, c) = (UserId::new(), UserId::new(), UserId::new());
        let mut old = State::default();
        old.presence.insert(a, PresenceStatus::Online);
        old.presence.insert(b, PresenceStatus::Away);
        old.streams.insert(a, 2);
        let mut new = State::default();
        new.presence.insert(b, PresenceStatus::Online);
        new.presence.insert(c, PresenceStatus::Online);
        new.streams.insert(c, 1);
        let mut replayed = old.clone();
        for change in old.changes_to(&new) {
            assert!(replayed.apply(&change), "{change:?} changes something");
        }
        assert_eq!(replayed, new);
    }

    #[test]
    fn events_survive_the_wire() {
        let event = Event::Joined { room_id: RoomId::new(), after_seq: 7 };
        let json = serde_json::to_vec(&Envelope { node: NodeId::new(), body: WireEvent::of(&event).unwrap() }).unwrap();
        let back: Envelope<WireEvent> = serde_json::from_slice(&json).unwrap();
        assert!(matches!(back.body.into_event(), Event::Joined { after_seq: 7, .. }));
        assert!(WireEvent::of(&Event::Tail { room_id: RoomId::new(), last_seq: 1 }).is_none());
    }
}
