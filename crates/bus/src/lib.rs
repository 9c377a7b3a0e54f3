//! Parley's internal event bus: how one part of a node tells the others (and, later, other nodes) that
//! something happened. Topics are per room and per user; every subscriber of a topic sees every event
//! published to it after it subscribed, in publish order, unless it falls more than the topic's capacity
//! behind, in which case it is told how many it missed ([`RecvError::Lagged`]).
//!
//! **Invariant:** the bus carries hints, never the only copy of anything. The database is the source of
//! truth: a subscriber that lags, or an event that is lost on the way between nodes, must cost latency, not
//! data. Timeline events carry the stored entry only so that the common case needs no query; subscribers
//! detect gaps by `seq` and read what is missing from storage.
//!
//! This crate is the in-process fan-out. A multi-node transport (the `cluster` crate, over NATS) plugs in
//! underneath the same [`Bus`] API without this crate knowing it: a bus made with [`Bus::clustered`] also
//! hands every event that should cross nodes ([`Event::crosses_nodes`]) to an [`Uplink`], which the
//! transport drains and sends on, and the transport delivers other nodes' events to this node's subscribers
//! with [`Bus::inject`]. Handing an event over never blocks: when the uplink is full the event is dropped
//! (and counted), which costs other nodes latency (the tail check), never an entry.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use types::{Departure, Entry, ReadMark, RoomId, SessionId, Typing, User, UserId, UserPresence};

pub use tokio::sync::broadcast::error::RecvError;

/// Where an event goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Everything about one room: its timeline and its members' presence.
    Room(RoomId),
    /// Everything about one user: their memberships and sessions.
    User(UserId),
}

/// Something that happened.
#[derive(Debug, Clone)]
pub enum Event {
    /// A timeline entry was stored (room topic).
    Entry(Arc<Entry>),
    /// The room's timeline reaches at least `last_seq`; subscribers behind it should read storage (room
    /// topic). Published when a node notices entries it was not told about.
    Tail {
        /// The room.
        room_id: RoomId,
        /// The newest seq known to be stored.
        last_seq: i64,
    },
    /// The room no longer exists: the server's operator deleted it (room topic). Published by each node's
    /// tail check when it finds a room with subscribers gone from storage.
    RoomDeleted {
        /// The room.
        room_id: RoomId,
    },
    /// A member of the room changed presence (room topic).
    Presence {
        /// The user's new presence.
        presence: Arc<UserPresence>,
        /// Increases with every change of this user's presence, so that a subscriber who hears of one
        /// change through several rooms delivers it once.
        version: u64,
    },
    /// A member started or stopped typing (room topic). Ephemeral: lost ones simply lapse.
    Typing(Arc<Typing>),
    /// Members' read markers moved (room topic): the marks of a short window, coalesced per room. A lost
    /// one costs only a late receipt; storage has every marker.
    ReadReceipts {
        /// The room.
        room_id: RoomId,
        /// Each member's newest marker in the window.
        marks: Arc<[ReadMark]>,
    },
    /// The user joined a room; its entries from `after_seq` on concern them (user topic).
    Joined {
        /// The room.
        room_id: RoomId,
        /// The seq just before the user's join entry.
        after_seq: i64,
    },
    /// The user's membership of a room ended with the entry `seq` (user topic).
    Departed {
        /// The room.
        room_id: RoomId,
        /// The seq of the entry recording the departure.
        seq: i64,
        /// Why.
        reason: Departure,
    },
    /// Someone invited the user to a room (user topic).
    Invited {
        /// The room.
        room_id: RoomId,
        /// The inviter.
        by: User,
    },
    /// The user's invitation to a room ended without a join (user topic).
    InvitationEnded {
        /// The room.
        room_id: RoomId,
    },
    /// The user's sessions were revoked: one, or all when `session` is `None` (user topic).
    SessionsRevoked {
        /// The revoked session, or `None` for all of them.
        session: Option<SessionId>,
    },
}

impl Event {
    /// Whether other nodes need this event. Everything does except [`Event::Tail`] and
    /// [`Event::RoomDeleted`] (every node runs its own tail check against the shared storage) and
    /// [`Event::Presence`] (presence crosses nodes as each node's state, and every node announces the
    /// cluster-wide result to its own subscribers).
    pub fn crosses_nodes(&self) -> bool {
        !matches!(self, Self::Tail { .. } | Self::RoomDeleted { .. } | Self::Presence { .. })
    }
}

/// How many events a topic buffers for its slowest subscriber before that subscriber lags.
#[derive(Debug, Clone, Copy)]
pub struct Capacity {
    /// For room topics.
    pub room: usize,
    /// For user topics.
    pub user: usize,
}

impl Default for Capacity {
    fn default() -> Self {
        Self { room: 1024, user: 64 }
    }
}

/// The bus. Cheap to clone; clones share topics.
#[derive(Debug, Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    topics: Mutex<HashMap<Topic, broadcast::Sender<Event>>>,
    capacity: Capacity,
    /// Where events for other nodes go, on a clustered bus.
    uplink: Option<mpsc::Sender<(Topic, Event)>>,
    /// Events for other nodes dropped because the uplink was full.
    dropped: AtomicU64,
}

impl Default for Bus {
    fn default() -> Self {
        Self::local(Capacity::default())
    }
}

impl Bus {
    /// An in-process bus.
    pub fn local(capacity: Capacity) -> Self {
        Self::with_uplink(capacity, None)
    }

    /// A bus whose events for other nodes also go to the returned [`Uplink`], which holds up to `backlog`
    /// of them before it drops new ones.
    pub fn clustered(capacity: Capacity, backlog: usize) -> (Self, Uplink) {
        let (sender, receiver) = mpsc::channel(backlog.max(1));
        (Self::with_uplink(capacity, Some(sender)), Uplink { receiver })
    }

    fn with_uplink(capacity: Capacity, uplink: Option<mpsc::Sender<(Topic, Event)>>) -> Self {
        Self {
            inner: Arc::new(Inner { topics: Mutex::new(HashMap::new()), capacity, uplink, dropped: AtomicU64::new(0) }),
        }
    }

    /// Sends `event` to every current subscriber of `topic` on this node, and, on a clustered bus, towards
    /// the other nodes. Never blocks; a topic nobody listens to costs nothing here.
    pub fn publish(&self, topic: Topic, event: Event) {
        if let Some(uplink) = &self.inner.uplink
            && event.crosses_nodes()
            && uplink.try_send((topic, event.clone())).is_err()
        {
            let dropped = self.inner.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "the cluster uplink is full or gone; other nodes will rely on the tail check");
            }
        }
        self.inject(topic, event);
    }

    /// Sends `event`, which came from another node, to this node's subscribers of `topic` only.
    pub fn inject(&self, topic: Topic, event: Event) {
        let mut topics = self.inner.topics.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = topics.get(&topic)
            && sender.send(event).is_err()
        {
            // Every receiver is gone.
            topics.remove(&topic);
        }
    }

    /// Starts receiving the events published to `topic` from now on.
    pub fn subscribe(&self, topic: Topic) -> Subscription {
        let mut topics = self.inner.topics.lock().unwrap_or_else(PoisonError::into_inner);
        let capacity = match topic {
            Topic::Room(_) => self.inner.capacity.room,
            Topic::User(_) => self.inner.capacity.user,
        };
        let receiver = topics.entry(topic).or_insert_with(|| broadcast::channel(capacity).0).subscribe();
        Subscription { receiver: Some(BroadcastStream::new(receiver)), topic, bus: self.inner.clone() }
    }

    /// The rooms that have subscribers on this node.
    pub fn room_topics(&self) -> Vec<RoomId> {
        let topics = self.inner.topics.lock().unwrap_or_else(PoisonError::into_inner);
        topics
            .keys()
            .filter_map(|t| match t {
                Topic::Room(room) => Some(*room),
                Topic::User(_) => None,
            })
            .collect()
    }

    /// Whether `topic` has subscribers on this node (so that an event from another node need not even be
    /// decoded when it has none).
    pub fn has_subscribers(&self, topic: Topic) -> bool {
        self.inner.topics.lock().unwrap_or_else(PoisonError::into_inner).contains_key(&topic)
    }

    /// Events for other nodes dropped so far because the uplink was full.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// How many topics have subscribers (for metrics and tests).
    pub fn topic_count(&self) -> usize {
        self.inner.topics.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// The transport's end of a clustered bus: the events this node published that other nodes need, in order.
#[derive(Debug)]
pub struct Uplink {
    receiver: mpsc::Receiver<(Topic, Event)>,
}

impl Uplink {
    /// The next event to send on, or `None` once every clone of the bus is gone.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn recv(&mut self) -> Option<(Topic, Event)> {
        self.receiver.recv().await
    }
}

/// A subscriber's end of a topic. Dropping it unsubscribes. It is also a [`Stream`] of what
/// [`Subscription::recv`] returns (ending only if the bus is gone).
#[derive(Debug)]
pub struct Subscription {
    receiver: Option<BroadcastStream<Event>>,
    topic: Topic,
    bus: Arc<Inner>,
}

impl Subscription {
    /// The topic.
    pub fn topic(&self) -> Topic {
        self.topic
    }

    /// The next event.
    ///
    /// # Errors
    /// [`RecvError::Lagged`] with the number of events this subscriber missed (it stays subscribed and
    /// continues with the oldest event still buffered); [`RecvError::Closed`] never happens while the bus
    /// lives.
    ///
    /// # Cancel safety
    /// Cancel safe: an event is either returned or stays for the next call.
    pub async fn recv(&mut self) -> Result<Event, RecvError> {
        futures::StreamExt::next(self).await.unwrap_or(Err(RecvError::Closed))
    }
}

impl Stream for Subscription {
    type Item = Result<Event, RecvError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(receiver) = self.receiver.as_mut() else {
            return Poll::Ready(None);
        };
        Pin::new(receiver)
            .poll_next(cx)
            .map(|item| item.map(|r| r.map_err(|BroadcastStreamRecvError::Lagged(n)| RecvError::Lagged(n))))
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut topics = self.bus.topics.lock().unwrap_or_else(PoisonError::into_inner);
        drop(self.receiver.take());
        if topics.get(&self.topic).is_some_and(|s| s.receiver_count() == 0) {
            topics.remove(&self.topic);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revoked() -> Event {
        Event::SessionsRevoked { session: None }
    }

    #[tokio::test]
    async fn subscribers_get_what_is_published_after_they_subscribe() {
        let bus = Bus::default();
        let user = UserId::new();
        bus.publish(Topic::User(user), revoked());
        let mut sub = bus.subscribe(Topic::User(user));
        bus.publish(Topic::User(user), Event::SessionsRevoked { session: Some(SessionId::new()) });
        assert!(matches!(sub.recv().await, Ok(Event::SessionsRevoked { session: Some(_) })));
    }

    #[tokio::test]
    async fn topics_are_separate() {
        let bus = Bus::default();
        let (a, b) = (UserId::new(), UserId::new());
        let mut sub_a = bus.subscribe(Topic::User(a));
        let _sub_b = bus.subscribe(Topic::User(b));
        bus.publish(Topic::User(b), revoked());
        bus.publish(Topic::User(a), Event::SessionsRevoked { session: Some(SessionId::new()) });
        assert!(matches!(sub_a.recv().await, Ok(Event::SessionsRevoked { session: Some(_) })));
    }

    #[tokio::test]
    async fn a_lagging_subscriber_is_told_how_much_it_missed() {
        let bus = Bus::local(Capacity { room: 4, user: 2 });
        let user = UserId::new();
        let mut sub = bus.subscribe(Topic::User(user));
        for _ in 0..5 {
            bus.publish(Topic::User(user), revoked());
        }
        assert!(matches!(sub.recv().await, Err(RecvError::Lagged(3))));
        assert!(sub.recv().await.is_ok());
    }

    #[tokio::test]
    async fn a_clustered_bus_hands_on_what_crosses_nodes_and_injected_events_stay_here() {
        let (bus, mut uplink) = Bus::clustered(Capacity::default(), 8);
        let (user, room) = (UserId::new(), RoomId::new());
        let mut sub = bus.subscribe(Topic::User(user));
        bus.publish(Topic::User(user), revoked());
        bus.publish(Topic::Room(room), Event::Tail { room_id: room, last_seq: 3 });
        bus.inject(Topic::User(user), Event::SessionsRevoked { session: Some(SessionId::new()) });
        assert!(matches!(sub.recv().await, Ok(Event::SessionsRevoked { session: None })));
        assert!(matches!(sub.recv().await, Ok(Event::SessionsRevoked { session: Some(_) })));
        drop(bus);
        drop(sub);
        let sent: Vec<_> = std::iter::from_fn(|| uplink.receiver.try_recv().ok()).collect();
        assert_eq!(sent.len(), 1, "only the published event that crosses nodes: {sent:?}");
        assert_eq!(sent[0].0, Topic::User(user));
    }

    #[test]
    fn a_full_uplink_drops_and_counts_and_never_blocks() {
        let (bus, _uplink) = Bus::clustered(Capacity::default(), 1);
        let user = UserId::new();
        for _ in 0..3 {
            bus.publish(Topic::User(user), revoked());
        }
        assert_eq!(bus.dropped(), 2);
    }

    #[test]
    fn topics_without_subscribers_are_forgotten() {
        let bus = Bus::default();
        let room = RoomId::new();
        let first = bus.subscribe(Topic::Room(room));
        let second = bus.subscribe(Topic::Room(room));
        assert_eq!(bus.topic_count(), 1);
        drop(first);
        assert_eq!(bus.topic_count(), 1);
        drop(second);
        assert_eq!(bus.topic_count(), 0);
    }
}
