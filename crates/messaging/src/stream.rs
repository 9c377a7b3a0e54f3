//! One subscription: a task that replays each room from its cursor, then relays live events, and writes
//! what the subscriber should see into a bounded channel that the gateway streams out.
//!
//! **Invariant:** for each room the task keeps `cursor`, the seq of the last entry it delivered, and only
//! ever delivers `cursor + 1`. An event at or below the cursor is a duplicate and is skipped; one above
//! `cursor + 1` means entries were missed, and they are read from storage first. Because the task
//! subscribes to a room's topic before it first reads the room from storage, the replay-to-live seam can
//! neither skip nor repeat an entry.
//!
//! Memory per subscriber is bounded: the outgoing channel holds `stream_buffer` events; while it is full
//! the task waits, its topics overflow, and it resumes by reading storage from its cursors.

use std::collections::HashMap;
use std::future::{Future as _, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use auth::Identity;
use bus::{Event, RecvError, Subscription as Topic};
use futures::{Stream, StreamExt as _};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval_at};
use tokio_stream::StreamMap;
use tokio_stream::wrappers::ReceiverStream;
use types::{Departure, Entry, EntryKind, Millis, ReadMark, RoomId, UserId};

use crate::sources::Sources;
use crate::{Error, Inner, StreamEvent};

/// The subscriber's end: a stream of events that ends with an error when the subscription must stop
/// (session ended, server stopping), and never ends otherwise.
#[derive(Debug)]
pub struct Subscription {
    events: ReceiverStream<Result<StreamEvent, Error>>,
    /// Whether the stream has ended with an error (or is over).
    ended: bool,
    /// The subscriber's place among their open streams, freed when the subscription is dropped.
    _permit: limits::StreamPermit,
    /// Counts the stream as open while it is.
    _open: metrics::Open,
}

impl Stream for Subscription {
    type Item = Result<StreamEvent, Error>;

    /// Ends with an error, never quietly: the task always says why it stops, so a channel that closes
    /// without a word means the task died (it panicked), and the subscriber is told to subscribe again.
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.events).poll_next(cx) {
            Poll::Ready(Some(Err(e))) => {
                self.ended = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                self.ended = true;
                tracing::error!("a subscription's task stopped without a word; ending its stream with an error");
                Poll::Ready(Some(Err(Error::StreamFailed)))
            }
            other => other,
        }
    }
}

/// Why the task stops.
enum Stop {
    /// The subscriber went away.
    Gone,
    /// Tell the subscriber this, then stop.
    Fail(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Self::Fail(e)
    }
}

impl From<storage::Error> for Stop {
    fn from(e: storage::Error) -> Self {
        Self::Fail(e.into())
    }
}

pub(crate) fn spawn(
    inner: Arc<Inner>,
    who: Identity,
    follow_joins: bool,
    user_topic: Topic,
    start: Vec<(RoomId, i64, Topic)>,
    permit: limits::StreamPermit,
) -> Subscription {
    let (out, events) = mpsc::channel(inner.config.stream_buffer.max(1));
    let open = inner.metrics.stream();
    let mut task = Task {
        inner,
        who,
        follow_joins,
        out,
        cursors: HashMap::with_capacity(start.len()),
        topics: StreamMap::with_capacity(start.len()),
        rejoined: HashMap::new(),
        presence: HashMap::new(),
        sent_since_tick: false,
        sources: Sources::new(),
    };
    let order: Vec<(RoomId, i64)> = start.iter().map(|(room, after, _)| (*room, *after)).collect();
    for (room, after, topic) in start {
        task.cursors.insert(room, after);
        task.topics.insert(room, topic);
    }
    tokio::spawn(async move {
        let out = task.out.clone();
        match task.run(order, user_topic).await {
            Stop::Gone => {}
            Stop::Fail(e) => {
                tracing::debug!(user_id = %task.who.user_id, error = %e, "subscription ended");
                let _ = out.send(Err(e)).await;
            }
        }
    });
    Subscription { events: ReceiverStream::new(events), ended: false, _permit: permit, _open: open }
}

struct Task {
    inner: Arc<Inner>,
    who: Identity,
    follow_joins: bool,
    out: mpsc::Sender<Result<StreamEvent, Error>>,
    /// Per subscribed room, the seq of the last entry delivered.
    cursors: HashMap<RoomId, i64>,
    topics: StreamMap<RoomId, Topic>,
    /// Rooms the user rejoined while still subscribed, with the seq before the new join: if the old
    /// membership's departure comes through, the room is added back from there.
    rejoined: HashMap<RoomId, i64>,
    /// Per user, the newest presence version delivered.
    presence: HashMap<UserId, u64>,
    sent_since_tick: bool,
    /// A waker per source the task waits on (see [`Source`]), so that an event polls only its own source.
    sources: Sources<{ Source::COUNT }>,
}

/// What the task waits on, in the order it looks at them when several are ready.
#[derive(Clone, Copy)]
enum Source {
    Stopping,
    Closed,
    User,
    Rooms,
    Tick,
}

impl Source {
    const COUNT: usize = 5;
}

/// What the task woke up for.
enum Next {
    Stopping,
    Gone,
    User(Result<Event, RecvError>),
    Room(RoomId, Result<Event, RecvError>),
    Tick,
}

impl Task {
    /// The task's future is what an idle subscription costs, so whatever is large and rare (the start,
    /// user events, the session check, storage reads) is boxed and allocated only while it runs.
    async fn run(&mut self, order: Vec<(RoomId, i64)>, mut user_topic: Topic) -> Stop {
        if let Err(stop) = Box::pin(self.start(order)).await {
            return stop;
        }
        let period = self.inner.config.heartbeat_interval;
        let mut ticks = interval_at(Instant::now() + period, period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let (stopping, out) = (self.inner.stopping.clone(), self.out.clone());
        // Made once and polled only when their sources fire: a `Notified` takes its wait list's lock at
        // every poll.
        let mut stopped = pin!(stopping.cancelled());
        let mut closed = pin!(out.closed());
        loop {
            let next = poll_fn(|cx| {
                let sources = &mut self.sources;
                sources.begin(cx);
                if sources.poll(Source::Stopping as usize, |cx| stopped.as_mut().poll(cx)).is_ready() {
                    return Poll::Ready(Next::Stopping);
                }
                if sources.poll(Source::Closed as usize, |cx| closed.as_mut().poll(cx)).is_ready() {
                    return Poll::Ready(Next::Gone);
                }
                if let Poll::Ready(event) = sources.poll(Source::User as usize, |cx| user_topic.poll_next_unpin(cx)) {
                    return Poll::Ready(Next::User(event.unwrap_or(Err(RecvError::Closed))));
                }
                // A room set that is empty, or whose last topic ended, waits for `add` to flag it.
                let topics = &mut self.topics;
                let room = sources.poll(Source::Rooms as usize, |cx| match topics.poll_next_unpin(cx) {
                    Poll::Ready(Some(event)) => Poll::Ready(event),
                    Poll::Ready(None) | Poll::Pending => Poll::Pending,
                });
                if let Poll::Ready((room, event)) = room {
                    return Poll::Ready(Next::Room(room, event));
                }
                sources.poll(Source::Tick as usize, |cx| ticks.poll_tick(cx).map(|_| Next::Tick))
            })
            .await;
            let step = match next {
                Next::Stopping => Err(Stop::Fail(Error::ShuttingDown)),
                Next::Gone => Err(Stop::Gone),
                Next::User(event) => Box::pin(self.on_user_event(event)).await,
                Next::Room(room, event) => self.on_room_event(room, event).await,
                Next::Tick => Box::pin(self.on_tick()).await,
            };
            if let Err(stop) = step {
                return stop;
            }
        }
    }

    async fn start(&mut self, order: Vec<(RoomId, i64)>) -> Result<(), Stop> {
        self.send(StreamEvent::Ready(order.clone())).await?;
        for (room, _) in order {
            self.catch_up(room, i64::MAX).await?;
        }
        Ok(())
    }

    async fn send(&mut self, event: StreamEvent) -> Result<(), Stop> {
        self.sent_since_tick = true;
        self.out.send(Ok(event)).await.map_err(|_| Stop::Gone)
    }

    /// Delivers the stored entries of `room` after its cursor and up to `up_to`, reading storage a page at
    /// a time (so that a long absence costs no memory).
    async fn catch_up(&mut self, room: RoomId, up_to: i64) -> Result<(), Stop> {
        let page = self.inner.config.replay_page.max(1);
        while let Some(&cursor) = self.cursors.get(&room) {
            if cursor >= up_to {
                break;
            }
            let db = &self.inner.db;
            let viewer = self.who.user_id;
            let entries =
                Box::pin(async { db.read().await?.range(room, cursor, up_to, page, Some(viewer)).await }).await?;
            let full = entries.len() == page;
            for entry in entries {
                self.deliver(Arc::new(entry)).await?;
                if !self.cursors.contains_key(&room) {
                    return Ok(());
                }
            }
            if !full {
                break;
            }
        }
        Ok(())
    }

    /// Delivers the entry that directly follows the room's cursor, and stops the room if the entry records
    /// the subscriber's own departure.
    async fn deliver(&mut self, entry: Arc<Entry>) -> Result<(), Stop> {
        #[cfg(feature = "fault-injection")]
        if entry.body == crate::faults::PANIC_IN_SUBSCRIPTION {
            panic!("fault injection: a subscription's task panics");
        }
        let room = entry.room_id;
        let departure = match (&entry.kind, &entry.subject) {
            (EntryKind::MemberLeft, Some(s)) if s.user_id == self.who.user_id => Some(Departure::Left),
            (EntryKind::MemberRemoved, Some(s)) if s.user_id == self.who.user_id => Some(Departure::Removed),
            _ => None,
        };
        let seq = entry.seq;
        self.cursors.insert(room, seq);
        self.send(StreamEvent::Entry(entry)).await?;
        self.inner.metrics.delivered();
        if let Some(reason) = departure {
            self.remove(room, reason, seq).await?;
        }
        Ok(())
    }

    async fn remove(&mut self, room: RoomId, reason: Departure, last_seq: i64) -> Result<(), Stop> {
        self.cursors.remove(&room);
        self.topics.remove(&room);
        self.send(StreamEvent::RoomRemoved { room_id: room, reason, last_seq }).await?;
        if let Some(after) = self.rejoined.remove(&room).filter(|after| *after >= last_seq) {
            // Rare, and it recurses (adding a room catches it up, which may remove it again): boxed.
            Box::pin(self.add(room, after)).await?;
        }
        Ok(())
    }

    /// Adds a room joined while subscribed to all rooms, from `after`.
    async fn add(&mut self, room: RoomId, after: i64) -> Result<(), Stop> {
        let topic = self.inner.bus.subscribe(bus::Topic::Room(room));
        let view = match self.inner.rooms.get(self.who.user_id, room).await {
            Ok(view) if view.caller_role.is_some() => view,
            // Left again already, or gone: nothing to add.
            Ok(_) | Err(rooms::Error::RoomNotFound) => return Ok(()),
            Err(e) => return Err(Stop::Fail(e.into())),
        };
        self.cursors.insert(room, after);
        self.topics.insert(room, topic);
        self.sources.flag(Source::Rooms as usize);
        self.send(StreamEvent::RoomAdded { room: Box::new(view), after_seq: after }).await?;
        self.catch_up(room, i64::MAX).await
    }

    async fn on_room_event(&mut self, room: RoomId, event: Result<Event, RecvError>) -> Result<(), Stop> {
        let Some(&cursor) = self.cursors.get(&room) else { return Ok(()) };
        match event {
            Ok(Event::Entry(entry)) if entry.seq == cursor + 1 => self.deliver(entry).await,
            Ok(Event::Entry(entry)) if entry.seq > cursor + 1 => self.catch_up(room, entry.seq).await,
            Ok(Event::Entry(_)) => Ok(()),
            Ok(Event::RoomDeleted { .. }) => self.remove(room, Departure::RoomDeleted, cursor).await,
            Ok(Event::Tail { last_seq, .. }) if last_seq > cursor => {
                self.inner.metrics.tail_repaired();
                self.catch_up(room, last_seq).await
            }
            Ok(Event::Presence { presence, version }) => {
                let newer = self.presence.get(&presence.user.id).is_none_or(|v| *v < version);
                if newer {
                    self.presence.insert(presence.user.id, version);
                    self.send(StreamEvent::Presence(presence)).await?;
                }
                Ok(())
            }
            Ok(Event::Typing(typing)) if typing.user_id != self.who.user_id => {
                self.send(StreamEvent::Typing(typing)).await
            }
            Ok(Event::ReadReceipts { room_id, marks }) => self.on_receipts(room_id, marks).await,
            // Overflowed while the subscriber was slow: storage has everything (the marker too, which a
            // lost receipt event may have carried).
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(%room, missed, "subscriber lagged; catching up from storage");
                self.inner.metrics.lagged(metrics::TopicKind::Room);
                self.catch_up(room, i64::MAX).await?;
                if !self.cursors.contains_key(&room) {
                    return Ok(());
                }
                let (db, me) = (&self.inner.db, self.who.user_id);
                let marker = Box::pin(async { db.read().await?.read_marker(room, me).await }).await?;
                match marker {
                    Some(last_read_seq) => self.send(StreamEvent::ReadMarker { room_id: room, last_read_seq }).await,
                    None => Ok(()),
                }
            }
            Ok(_) | Err(RecvError::Closed) => Ok(()),
        }
    }

    /// Splits a room's receipts: the subscriber's own mark goes out as their marker, the co-members' as
    /// one receipts event.
    async fn on_receipts(&mut self, room_id: RoomId, marks: Arc<[ReadMark]>) -> Result<(), Stop> {
        let me = self.who.user_id;
        let Some(own) = marks.iter().find(|m| m.user_id == me).copied() else {
            return self.send(StreamEvent::ReadReceipts { room_id, marks }).await;
        };
        self.send(StreamEvent::ReadMarker { room_id, last_read_seq: own.last_read_seq }).await?;
        let others: Arc<[ReadMark]> = marks.iter().filter(|m| m.user_id != me).copied().collect();
        if others.is_empty() { Ok(()) } else { self.send(StreamEvent::ReadReceipts { room_id, marks: others }).await }
    }

    async fn on_user_event(&mut self, event: Result<Event, RecvError>) -> Result<(), Stop> {
        match event {
            Ok(Event::SessionsRevoked { session }) if session.is_none_or(|s| s == self.who.session_id) => {
                Err(Stop::Fail(Error::SessionEnded))
            }
            Ok(Event::Joined { room_id, after_seq }) => {
                if self.cursors.contains_key(&room_id) {
                    self.rejoined.insert(room_id, after_seq);
                    Ok(())
                } else if self.follow_joins {
                    self.add(room_id, after_seq).await
                } else {
                    Ok(())
                }
            }
            Ok(Event::Departed { room_id, seq, reason }) => {
                if self.cursors.contains_key(&room_id) {
                    // Delivering up to the departure stops the room.
                    self.catch_up(room_id, seq).await?;
                    if self.cursors.contains_key(&room_id) {
                        self.remove(room_id, reason, seq).await?;
                    }
                }
                Ok(())
            }
            Ok(Event::Invited { room_id, by }) => match self.inner.rooms.get(self.who.user_id, room_id).await {
                Ok(room) => self.send(StreamEvent::Invited { room: Box::new(room), by: Box::new(by) }).await,
                Err(rooms::Error::RoomNotFound) => Ok(()),
                Err(e) => Err(Stop::Fail(e.into())),
            },
            Ok(Event::InvitationEnded { room_id }) => self.send(StreamEvent::InvitationEnded(room_id)).await,
            Err(RecvError::Lagged(_)) => {
                self.inner.metrics.lagged(metrics::TopicKind::User);
                Err(Stop::Fail(Error::FellBehind))
            }
            Ok(_) | Err(RecvError::Closed) => Ok(()),
        }
    }

    /// Checks that the session is still live (a logout on another node reaches us this way) and keeps the
    /// stream from looking idle.
    async fn on_tick(&mut self) -> Result<(), Stop> {
        if !self.inner.auth.session_is_live(&self.who).await.map_err(Error::from)? {
            return Err(Stop::Fail(Error::SessionEnded));
        }
        if !std::mem::take(&mut self.sent_since_tick) {
            self.send(StreamEvent::Heartbeat(Millis::now())).await?;
            self.sent_since_tick = false;
        }
        Ok(())
    }
}
