//! Room timelines: sending messages, reading history, and live subscriptions.
//!
//! Parley's promise lives here: **an acknowledged message is never lost, never duplicated, never out of
//! order, and a client that comes back after any absence gets exactly what it missed.**
//!
//! - [`Messaging::send`] returns only after the message is committed (group commit in [`writer`]); a repeat
//!   of the same (room, sender, `client_message_id`) returns the stored original, also after a restart,
//!   because the check is a unique key in the database, not memory.
//! - [`Messaging::subscribe`] replays what is stored after each cursor, then goes live. Live events are
//!   hints: each subscription keeps a cursor per room, skips what it has, and reads any gap from storage,
//!   so a lagging subscriber or a lost bus message costs latency, never an entry.
//! - A node-wide reconciler ([`reconcile`]) periodically compares the stored tail of every room with local
//!   subscribers against what the bus delivered, and hints subscribers to catch up.
//!
//! This crate never sees gRPC types. Errors: [`Error`], mapped through [`types::DomainError`].

mod actions;
mod batch;
mod emoji;
mod error;
mod indexer;
mod mentions;
mod read;
mod reconcile;
mod sources;
mod stream;
mod typing;
mod writer;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use auth::{Auth, Identity};
use batch::{Appended, Draft};
use bus::{Bus, Topic};
use rooms::{RoomView, Rooms};
use storage::Db;
use tasks::Supervisor;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use types::{
    Departure, Entry, FieldViolation, Millis, PageSize, ReadMark, RoomId, TimelinePage, Typing, User, UserId,
    UserPresence, Violations,
};

pub use error::Error;
use error::invalid;
pub use stream::Subscription;

/// Test-only hooks that make a node fail on purpose, compiled only with the `fault-injection` feature (which
/// only the test builds enable): a message with one of these bodies makes the part that handles it panic.
#[cfg(feature = "fault-injection")]
pub mod faults {
    /// The writer that is to store a message with this body panics, with its batch in hand, before writing.
    pub const PANIC_IN_WRITER: &str = "fault injection: panic in the writer";
    /// A subscription that is to deliver a message with this body panics.
    pub const PANIC_IN_SUBSCRIPTION: &str = "fault injection: panic in the subscription";
}

/// The most rooms one Subscribe request may name (an empty list follows all of the caller's rooms).
pub const MAX_SUBSCRIBE_ROOMS: usize = 1000;

/// How the messaging service behaves.
#[derive(Debug, Clone)]
pub struct MessagingConfig {
    /// A stream that has sent nothing for this long sends a heartbeat; also how often a stream checks that
    /// its session is still live.
    pub heartbeat_interval: Duration,
    /// How often the node compares stored timeline tails with what subscribers were told.
    pub reconcile_interval: Duration,
    /// The most sends one transaction stores.
    pub batch_max: usize,
    /// Writer tasks (each with its own transaction in flight); `None` picks 4 on MySQL and 1 on SQLite.
    pub writers: Option<usize>,
    /// Sends that may wait for the writer before senders wait to enqueue.
    pub send_queue: usize,
    /// How long a send waits for room in a full queue before it is refused with RESOURCE_EXHAUSTED.
    pub enqueue_timeout: Duration,
    /// Events buffered per subscriber; a subscriber further behind is caught up from storage.
    pub stream_buffer: usize,
    /// Entries read from storage at a time when replaying or catching up.
    pub replay_page: usize,
    /// Open Subscribe streams a user may have at once (devices and tabs together).
    pub streams_per_user: usize,
    /// How often read receipts are published: each room's marks of one interval go out as one event.
    pub receipt_interval: Duration,
}

impl Default for MessagingConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(20),
            reconcile_interval: Duration::from_secs(5),
            batch_max: 256,
            writers: None,
            send_queue: 4096,
            enqueue_timeout: Duration::from_secs(5),
            stream_buffer: 64,
            replay_page: 200,
            streams_per_user: 16,
            receipt_interval: Duration::from_millis(500),
        }
    }
}

/// One event on a subscription.
#[derive(Debug, Clone)]
pub enum StreamEvent {
    /// First event: the rooms delivered, each with the seq after which its entries follow.
    Ready(Vec<(RoomId, i64)>),
    /// A timeline entry.
    Entry(Arc<Entry>),
    /// A co-member's presence changed.
    Presence(Arc<UserPresence>),
    /// A co-member started or stopped typing.
    Typing(Arc<Typing>),
    /// The subscriber's own read marker in a room moved (on this device or another).
    ReadMarker {
        /// The room.
        room_id: RoomId,
        /// The marker.
        last_read_seq: i64,
    },
    /// Co-members' read markers moved (one room's marks of a short window).
    ReadReceipts {
        /// The room.
        room_id: RoomId,
        /// Each member's newest marker.
        marks: Arc<[ReadMark]>,
    },
    /// Nothing happened for a while.
    Heartbeat(Millis),
    /// A room joined while subscribed to all rooms; its entries after `after_seq` follow.
    RoomAdded {
        /// The room as the subscriber sees it. (Boxed, like the other large payloads, so that the event
        /// stays small: every subscriber's channel reserves room for many of them.)
        room: Box<RoomView>,
        /// Entries after this seq follow.
        after_seq: i64,
    },
    /// A room's entries stop here, because the subscriber left or was removed.
    RoomRemoved {
        /// The room.
        room_id: RoomId,
        /// Why.
        reason: Departure,
        /// The last seq delivered (the departure).
        last_seq: i64,
    },
    /// The subscriber's invitation to a room ended without a join (declined on some device).
    InvitationEnded(RoomId),
    /// Someone invited the subscriber to a room.
    Invited {
        /// The room as the invitee sees it.
        room: Box<RoomView>,
        /// The inviter.
        by: Box<User>,
    },
}

#[derive(Debug)]
struct Inner {
    db: Db,
    bus: Bus,
    rooms: Rooms,
    auth: Arc<Auth>,
    config: MessagingConfig,
    writers: writer::Writers,
    indexer: Arc<indexer::Indexer>,
    streams: limits::StreamLimit,
    typing: typing::Board,
    receipts: Arc<read::Receipts>,
    stopping: CancellationToken,
    metrics: metrics::Messaging,
}

/// The messaging service. Cheap to clone; one per node.
#[derive(Debug, Clone)]
pub struct Messaging {
    inner: Arc<Inner>,
}

impl Messaging {
    /// The service. Starts the node's writer and reconciler, so it must be called within a Tokio runtime;
    /// both stop, and every subscription ends, when `stopping` is cancelled.
    pub fn new(
        db: Db,
        bus: Bus,
        rooms: Rooms,
        auth: Arc<Auth>,
        config: MessagingConfig,
        metrics: metrics::Messaging,
        supervisor: &Supervisor,
    ) -> Self {
        let count = config.writers.unwrap_or(match db.backend() {
            storage::Backend::Mysql => 4,
            storage::Backend::Sqlite => 1,
        });
        let writer_config = writer::WriterConfig {
            count,
            batch_max: config.batch_max,
            queue: config.send_queue,
            enqueue_timeout: config.enqueue_timeout,
        };
        let indexer = indexer::Indexer::new(db.clone());
        indexer.spawn(supervisor);
        let writers = writer::Writers::spawn(&db, &bus, &indexer, writer_config, &metrics, supervisor);
        reconcile::spawn(db.clone(), bus.clone(), config.reconcile_interval, supervisor);
        let stopping = supervisor.stopping().clone();
        let streams = limits::StreamLimit::new(config.streams_per_user);
        let typing = typing::Board::default();
        let receipts = Arc::new(read::Receipts::default());
        read::spawn(receipts.clone(), bus.clone(), config.receipt_interval, supervisor);
        let inner =
            Inner { db, bus, rooms, auth, config, writers, indexer, streams, typing, receipts, stopping, metrics };
        Self { inner: Arc::new(inner) }
    }

    /// Appends a text message from `who` to `room` (a reply to the message at `reply_to_seq`, if given) and
    /// returns it once stored. A repeat of a `client_message_id` that `who` sent to `room` before returns the
    /// original.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a body of other than 1 to 4000 characters or only white space, an id of
    /// other than 1 to 64 characters, or a `reply_to_seq` that names no text message of the room;
    /// [`Error::Rooms`] when `who` may not send there.
    pub async fn send(
        &self,
        who: UserId,
        room: RoomId,
        body: &str,
        client_message_id: &str,
        reply_to_seq: Option<i64>,
    ) -> Result<Entry, Error> {
        let mut violations = Vec::new();
        violations.extend(actions::check_body(body));
        violations.extend(actions::check_client_id(client_message_id));
        if reply_to_seq.is_some_and(|seq| seq < 1) {
            violations.push(FieldViolation::new("reply_to_seq", "must be the seq of a message (0 for none)"));
        }
        Violations::check(violations)?;
        let draft = Draft {
            sender_id: who,
            body: body.to_owned(),
            client_message_id: client_message_id.to_owned(),
            reply_to_seq,
        };
        let (reply, answer) = oneshot::channel();
        self.inner.writers.send(writer::Job { room, draft, reply }).await.map_err(|refused| match refused {
            writer::Refused::Full => Error::Overloaded,
            writer::Refused::Stopped => Error::ShuttingDown,
        })?;
        match answer.await.map_err(|_| Error::Interrupted)?? {
            Appended::Stored(entry) => {
                self.sent_message(&entry);
                self.inner.receipts.mark(room, who, entry.seq);
                Ok(entry)
            }
            Appended::Duplicate(entry) if entry.kind == types::EntryKind::Text => Ok(entry),
            Appended::Duplicate(_) => Err(invalid("client_message_id", "was used before for an edit; use a new one")),
            Appended::BadReply => Err(invalid(
                "reply_to_seq",
                format!("#{} is not a message of this room", reply_to_seq.unwrap_or_default()),
            )),
            Appended::NoRoom => Err(rooms::Error::RoomNotFound.into()),
            Appended::NotMember => {
                // Say why in the room's terms (hidden private room, or a public one to join first).
                self.inner.rooms.access(who, room).await?;
                Err(rooms::Error::NotMember.into())
            }
        }
    }

    /// One page of `room`'s timeline for a member, ascending, with whether more lie beyond it in the
    /// direction asked.
    ///
    /// # Errors
    /// [`Error::Rooms`] when `who` may not read the room.
    pub async fn history(
        &self,
        who: UserId,
        room: RoomId,
        page: TimelinePage,
        size: PageSize,
    ) -> Result<(Vec<Entry>, bool), Error> {
        self.inner.rooms.access(who, room).await?;
        Ok(self.inner.db.read().await?.page(room, page, size.get(), Some(who)).await?)
    }

    /// The limit on open streams per user (the gateway connects it to the other nodes of a cluster).
    pub fn streams(&self) -> &limits::StreamLimit {
        &self.inner.streams
    }

    /// Opens a subscription for `who` to `cursors` (room, after_seq) — or, with none, to every room `who`
    /// has joined, from now on. With no cursors, or with `follow_joins`, rooms `who` joins while the
    /// subscription is open are added to it.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a negative or future `after_seq` or a room named twice; [`Error::Rooms`] when
    /// `who` may not read a room.
    pub async fn subscribe(
        &self,
        who: Identity,
        cursors: Vec<(RoomId, i64)>,
        follow_joins: bool,
    ) -> Result<Subscription, Error> {
        if cursors.len() > MAX_SUBSCRIBE_ROOMS {
            return Err(invalid(
                "rooms",
                format!("must name at most {MAX_SUBSCRIBE_ROOMS} rooms; an empty list follows all your rooms"),
            ));
        }
        let mut seen = HashSet::new();
        for (room, after) in &cursors {
            if *after < 0 {
                return Err(invalid("rooms.after_seq", "must not be negative"));
            }
            if !seen.insert(*room) {
                return Err(invalid("rooms.room_id", format!("room {room} is named twice")));
            }
        }
        let permit = self.inner.streams.open(who.user_id)?;
        let all_rooms = cursors.is_empty();
        let follow_joins = all_rooms || follow_joins;
        // Subscribe to the user's topic before reading memberships, and to each room's topic before reading
        // its tail, so that nothing that happens in between is missed.
        let user_topic = self.inner.bus.subscribe(Topic::User(who.user_id));
        let mut start = Vec::with_capacity(cursors.len());
        if all_rooms {
            let rooms = self.inner.rooms.joined_room_ids(who.user_id).await?;
            let subs: Vec<_> = rooms.iter().map(|r| (*r, self.inner.bus.subscribe(Topic::Room(*r)))).collect();
            let tails: std::collections::HashMap<RoomId, i64> =
                self.inner.db.read().await?.last_seqs(&rooms).await?.into_iter().collect();
            for (room, sub) in subs {
                if let Some(last) = tails.get(&room) {
                    start.push((room, *last, sub));
                }
            }
        } else {
            for (room, after) in cursors {
                let topic = self.inner.bus.subscribe(Topic::Room(room));
                let (found, _) = self.inner.rooms.access(who.user_id, room).await?;
                if after > found.last_seq {
                    return Err(invalid(
                        "rooms.after_seq",
                        format!("{after} is beyond the newest entry of room {room} ({})", found.last_seq),
                    ));
                }
                start.push((room, after, topic));
            }
        }
        Ok(stream::spawn(self.inner.clone(), who, follow_joins, user_topic, start, permit))
    }
}

#[cfg(test)]
mod tests {
    /// Each subscriber's channel allocates its slots a block (32) at a time, whatever it holds, so an
    /// event's size is paid per idle subscription (docs/BENCHMARKS.md, scenario 4). Large payloads are boxed.
    #[test]
    fn stream_events_stay_small() {
        let size = std::mem::size_of::<Result<super::StreamEvent, super::Error>>();
        assert!(size <= 48, "a stream event is {size} bytes; box its large variants");
    }
}
