//! Read markers, read receipts and search.
//!
//! The rules:
//! - A member's read marker never moves back: [`Messaging::mark_read`] to a seq at or before it changes
//!   nothing and answers the marker as it is; a seq beyond the room's newest entry is refused. Sending a
//!   message moves the sender's marker to it (in the send's transaction: `batch::sender_marks`).
//! - Unread counts stay true under concurrency because every change to them takes the room's row lock: a
//!   send (the batch's `reserve_seqs`), a deletion (`actions`), a join (`rooms`) and a marker move (here)
//!   change the room's count of live messages and the member's count of those read in one transaction,
//!   and a listing reads both in one statement. See storage's `Conn::read_states`.
//! - Receipts are coalesced per room and node: marks go on a board, and every `receipt_interval` the board
//!   publishes one event per room that had any, holding each member's newest marker. So a room where 1,000
//!   members each mark read costs each subscriber at most one event per interval, not 1,000; and a member's
//!   own marks, on that same event, reach their other devices as `read_marker` within one interval.
//! - Search finds text messages whose current body has every word of the query, in rooms where the caller
//!   is a member (one room, or all of them), newest first, a page at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bus::{Bus, Event, Topic};
use storage::timeline::SearchScope;
use tasks::Supervisor;
use types::page::{decode_token, encode_token};
use types::text::search_terms;
use types::{Entry, EntryId, PageSize, ReadMark, RoomId, UserId};

use crate::error::invalid;
use crate::{Error, Messaging};

/// The longest query, in characters.
const MAX_QUERY_CHARS: usize = 200;
/// The most terms a query may have (words, and runs of CJK).
const MAX_TERMS: usize = 16;

/// Marks waiting to be published, per room: each member's newest.
#[derive(Debug, Default)]
pub(crate) struct Receipts {
    pending: Mutex<HashMap<RoomId, HashMap<UserId, i64>>>,
}

impl Receipts {
    /// Notes that `user`'s marker in `room` moved to `seq`.
    pub(crate) fn mark(&self, room: RoomId, user: UserId, seq: i64) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let marker = pending.entry(room).or_default().entry(user).or_insert(seq);
        *marker = (*marker).max(seq);
    }

    /// Everything noted since the last call.
    fn take(&self) -> HashMap<RoomId, HashMap<UserId, i64>> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Publishes what is pending: one event per room.
    fn flush(&self, bus: &Bus) {
        for (room_id, marks) in self.take() {
            let mut marks: Vec<ReadMark> =
                marks.into_iter().map(|(user_id, last_read_seq)| ReadMark { user_id, last_read_seq }).collect();
            marks.sort_by_key(|m| m.user_id);
            bus.publish(Topic::Room(room_id), Event::ReadReceipts { room_id, marks: marks.into() });
        }
    }
}

/// Starts the supervised task that publishes the board every `every`.
pub(crate) fn spawn(receipts: Arc<Receipts>, bus: Bus, every: Duration, supervisor: &Supervisor) {
    supervisor.spawn_every("read receipts", every, move || {
        receipts.flush(&bus);
        std::future::ready(())
    });
}

impl Messaging {
    /// Moves `who`'s read marker in `room` forward to `seq` and returns the marker (unchanged when `seq`
    /// is not past it).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a seq below 1 or beyond the room's newest entry; [`Error::Rooms`] when `who`
    /// may not read the room.
    pub async fn mark_read(&self, who: UserId, room: RoomId, seq: i64) -> Result<i64, Error> {
        if seq < 1 {
            return Err(invalid("seq", format!("must be a seq of the room, from 1 (is {seq})")));
        }
        self.inner.rooms.access(who, room).await?;
        let (marker, moved) = self
            .inner
            .db
            .transaction(async |tx| {
                let last_seq = tx.lock_room(room).await?.ok_or(rooms::Error::RoomNotFound)?;
                // Checked again under the lock: the caller may have left since.
                let marker = tx.read_marker(room, who).await?.ok_or(rooms::Error::NotMember)?;
                if seq > last_seq {
                    return Err(invalid("seq", format!("{seq} is beyond the newest entry of the room ({last_seq})")));
                }
                if seq <= marker {
                    return Ok((marker, false));
                }
                let read = tx.text_count(room).await? - tx.live_texts_after(room, seq).await?;
                tx.set_read_marker(room, who, seq, read).await?;
                Ok::<_, Error>((seq, true))
            })
            .await?;
        if moved {
            self.inner.receipts.mark(room, who, marker);
        }
        Ok(marker)
    }

    /// One page of the text messages whose current body has every word of `query`, newest first, in
    /// `room` or (with `None`) every room `who` is a member of; and the token of the next page.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a query of no words, over 200 characters or 16 terms, or a token from another
    /// search; [`Error::Rooms`] when `who` may not read `room`.
    pub async fn search(
        &self,
        who: UserId,
        query: &str,
        room: Option<RoomId>,
        size: PageSize,
        page_token: &str,
    ) -> Result<(Vec<Entry>, Option<String>), Error> {
        let chars = query.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(invalid("query", format!("must be at most {MAX_QUERY_CHARS} characters (is {chars})")));
        }
        let terms = search_terms(query);
        if terms.is_empty() {
            return Err(invalid("query", "must have at least one word"));
        }
        if terms.len() > MAX_TERMS {
            return Err(invalid("query", format!("must have at most {MAX_TERMS} words")));
        }
        // A token belongs to one search: the same query in the same place.
        let listing = format!("search {} {query}", room.map(|r| r.to_string()).unwrap_or_default());
        let not_ours = || invalid("page_token", "is not a token from a previous page of this search");
        let before = match decode_token("page_token", &listing, page_token).map_err(|_| not_ours())? {
            Some(key) => Some(key.parse::<EntryId>().map_err(|_| not_ours())?),
            None => None,
        };
        let scope = match room {
            Some(room) => {
                self.inner.rooms.access(who, room).await?;
                SearchScope::Room(room)
            }
            None => SearchScope::Member(who),
        };
        self.inner.indexer.catch_up(scope).await?;
        let limit = size.get();
        let mut found = self.inner.db.read().await?.search(scope, &terms, before, limit + 1, who).await?;
        let more = found.len() > limit;
        found.truncate(limit);
        let next = if more { found.last().map(|e| encode_token(&listing, &e.id.to_string())) } else { None };
        Ok((found, next))
    }
}
