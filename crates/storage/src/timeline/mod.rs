//! Rooms' timelines: the `messages` table, numbered per room by `seq`.
//!
//! **Invariant:** within a room, seq is 1, 2, 3… with no gaps and no repeats. Every append happens in a
//! transaction that holds the room's row lock ([`Tx::lock_room`]; for a batch of sends,
//! [`Tx::reserve_seqs`]), writes the entries with the numbers after `rooms.last_seq` and moves `last_seq`
//! on, so concurrent appends (on any node) queue on the lock and a rolled-back append leaves no hole.
//!
//! By job: this module appends membership entries and turns rows into entries; [`history`](self) reads
//! pages and ranges; the group-commit statements of the send path are in `sends.rs`.

mod history;
mod search;
mod sends;
mod state;

use std::collections::HashMap;

use diesel::prelude::*;
use types::{Entry, EntryId, EntryKind, MessageState, Millis, Reaction, Role, RoomId, Subject, UserId};

pub use search::SearchScope;
#[cfg(feature = "bench")]
pub(crate) use search::search_row;
pub use sends::{RoomTail, SendKey, SenderMark, TailMember};
pub use state::{MentionRow, NewAction};

use crate::codes;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::schema::{messages, rooms, users};

/// An entry to append; its seq, id and time are assigned when it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// What it records.
    pub kind: EntryKind,
    /// Who sent it or made the change.
    pub sender_id: UserId,
    /// For membership entries: whom it is about, and their role after the change.
    pub subject: Option<(UserId, Option<Role>)>,
    /// Text of a text entry.
    pub body: String,
    /// Idempotency key of a text entry.
    pub client_message_id: Option<String>,
}

impl NewEntry {
    /// A membership entry.
    pub fn membership(kind: EntryKind, sender_id: UserId, subject: UserId, role: Option<Role>) -> Self {
        Self { kind, sender_id, subject: Some((subject, role)), body: String::new(), client_message_id: None }
    }
}

/// The columns of an [`EntryRow`], in its order.
#[diesel::dsl::auto_type]
pub(crate) fn entry_columns() -> _ {
    (
        messages::room_id,
        messages::seq,
        messages::id,
        messages::kind,
        messages::sender_id,
        messages::subject_id,
        messages::subject_role,
        messages::body,
        messages::client_message_id,
        messages::created_at,
        messages::reply_to_seq,
        messages::target_seq,
        messages::emoji,
        messages::emoji_count,
        messages::edited_at,
        messages::deleted_at,
    )
}

/// A stored entry, before its users' names are known.
#[derive(Queryable)]
pub(crate) struct EntryRow {
    room_id: Vec<u8>,
    seq: i64,
    id: Vec<u8>,
    kind: i16,
    sender_id: Vec<u8>,
    subject_id: Option<Vec<u8>>,
    subject_role: Option<i16>,
    body: String,
    client_message_id: Option<String>,
    created_at: i64,
    reply_to_seq: Option<i64>,
    target_seq: Option<i64>,
    emoji: Option<String>,
    emoji_count: Option<i64>,
    edited_at: Option<i64>,
    deleted_at: Option<i64>,
}

/// A user's names, as entries show them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Names {
    pub(crate) username: String,
    pub(crate) display_name: String,
}

impl EntryRow {
    /// Its room and seq.
    pub(crate) fn key(&self) -> (Vec<u8>, i64) {
        (self.room_id.clone(), self.seq)
    }

    fn user_ids(&self) -> Result<Vec<UserId>> {
        let mut ids = vec![UserId::from_slice(&self.sender_id)?];
        if let Some(subject) = &self.subject_id {
            ids.push(UserId::from_slice(subject)?);
        }
        Ok(ids)
    }

    fn into_entry(self, names: &HashMap<UserId, Names>) -> Result<Entry> {
        let name = |id: &UserId| names.get(id).cloned().unwrap_or_default();
        let sender_id = UserId::from_slice(&self.sender_id)?;
        let subject = match self.subject_id {
            Some(id) => {
                let user_id = UserId::from_slice(&id)?;
                let role = self.subject_role.map(codes::to_role).transpose()?;
                Some(Subject { username: name(&user_id).username, user_id, role })
            }
            None => None,
        };
        let sender = name(&sender_id);
        Ok(Entry {
            id: EntryId::from_slice(&self.id)?,
            room_id: RoomId::from_slice(&self.room_id)?,
            seq: self.seq,
            kind: codes::to_entry_kind(self.kind)?,
            sender_username: sender.username,
            sender_display_name: sender.display_name,
            sender_id,
            subject,
            body: self.body,
            client_message_id: self.client_message_id,
            created_at: Millis(self.created_at),
            message: MessageState {
                reply_to_seq: self.reply_to_seq,
                edited_at: self.edited_at.map(Millis),
                deleted_at: self.deleted_at.map(Millis),
                reactions: Vec::new(),
                mentions: Vec::new(),
            },
            target_seq: self.target_seq,
            reaction: self.emoji.map(|emoji| Reaction { emoji, count: self.emoji_count.unwrap_or(0), mine: false }),
            wire: types::WireCache::default(),
        })
    }
}

/// A row to insert. Owned, because SQLite inserts on the connection's blocking thread.
#[derive(Insertable, Clone)]
#[diesel(table_name = messages)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct NewEntryRow {
    pub(crate) room_id: Vec<u8>,
    pub(crate) seq: i64,
    pub(crate) id: Vec<u8>,
    pub(crate) kind: i16,
    pub(crate) sender_id: Vec<u8>,
    pub(crate) subject_id: Option<Vec<u8>>,
    pub(crate) subject_role: Option<i16>,
    pub(crate) body: String,
    pub(crate) client_message_id: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) reply_to_seq: Option<i64>,
    pub(crate) target_seq: Option<i64>,
    pub(crate) emoji: Option<String>,
    pub(crate) emoji_count: Option<i64>,
}

impl NewEntryRow {
    fn of(e: &Entry) -> Self {
        Self {
            room_id: e.room_id.to_vec(),
            seq: e.seq,
            id: e.id.to_vec(),
            kind: codes::entry_kind(e.kind),
            sender_id: e.sender_id.to_vec(),
            subject_id: e.subject.as_ref().map(|s| s.user_id.to_vec()),
            subject_role: e.subject.as_ref().and_then(|s| s.role).map(codes::role),
            body: e.body.clone(),
            client_message_id: e.client_message_id.clone(),
            created_at: e.created_at.0,
            reply_to_seq: e.message.reply_to_seq,
            target_seq: e.target_seq,
            emoji: e.reaction.as_ref().map(|r| r.emoji.clone()),
            emoji_count: e.reaction.as_ref().map(|r| r.count),
        }
    }
}

impl Conn {
    /// Inserts entry rows in one statement (see [`Conn::insert_all`]).
    pub(crate) async fn insert_entry_rows(&mut self, rows: Vec<NewEntryRow>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.insert_all(messages::table, rows).await
    }

    /// The names of these users.
    pub(crate) async fn names(&mut self, ids: &[UserId]) -> Result<HashMap<UserId, Names>> {
        let mut keys: Vec<&[u8]> = ids.iter().map(|id| id.as_bytes().as_slice()).collect();
        keys.sort_unstable();
        keys.dedup();
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let query =
            users::table.filter(users::id.eq_any(&keys)).select((users::id, users::username, users::display_name));
        let rows: Vec<(Vec<u8>, String, String)> = self.load(query).await?;
        rows.into_iter()
            .map(|(id, username, display_name)| Ok((UserId::from_slice(&id)?, Names { username, display_name })))
            .collect()
    }

    /// Rows as entries, with their users' names and, for text messages, their reactions (marked `mine`
    /// for `viewer`) and mentions.
    pub(crate) async fn entries(&mut self, rows: Vec<EntryRow>, viewer: Option<UserId>) -> Result<Vec<Entry>> {
        let mut ids = Vec::with_capacity(rows.len() * 2);
        for row in &rows {
            ids.extend(row.user_ids()?);
        }
        let names = self.names(&ids).await?;
        let mut entries = rows.into_iter().map(|row| row.into_entry(&names)).collect::<Result<Vec<_>>>()?;
        self.add_message_state(&mut entries, viewer).await?;
        Ok(entries)
    }

    /// Appends a single entry in a transaction of its own (for tests and tools; the send path batches, and
    /// membership changes append in the transaction of the change).
    ///
    /// # Errors
    /// [`Error::NotFound`] when the room does not exist.
    pub async fn append_one(&mut self, room: RoomId, entry: &NewEntry) -> Result<Entry> {
        let now = Millis::now();
        let mut stored = self
            .transaction(async |tx| {
                let last = tx.lock_room(room).await?.ok_or(Error::NotFound("room"))?;
                tx.append(room, last, std::slice::from_ref(entry), 0, now).await
            })
            .await?;
        stored.pop().ok_or(Error::Corrupt("append stored nothing".into()))
    }
}

/// Appends a single entry in a transaction of its own (see [`Conn::append_one`]).
///
/// # Errors
/// [`Error::NotFound`] when the room does not exist.
pub async fn append_one(conn: &mut Conn, room: RoomId, entry: &NewEntry) -> Result<Entry> {
    conn.append_one(room, entry).await
}

impl Tx<'_> {
    /// Locks the room's row until the transaction ends and returns its `last_seq`, or `None` if there is no
    /// such room.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn lock_room(&mut self, room: RoomId) -> Result<Option<i64>> {
        let key = room.as_bytes().as_slice();
        // A write that changes nothing still takes the row's exclusive lock (InnoDB), and makes SQLite's
        // transaction a write transaction from its first statement.
        self.execute(diesel::update(rooms::table.find(key)).set(rooms::last_seq.eq(rooms::last_seq))).await?;
        self.first(rooms::table.find(key).select(rooms::last_seq)).await
    }

    /// Stores `entries` after `last_seq` (read under [`Tx::lock_room`] in this transaction), moves the
    /// room's `last_seq` on and its `member_count` by `member_delta`, and returns the stored entries.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn append(
        &mut self,
        room: RoomId,
        last_seq: i64,
        entries: &[NewEntry],
        member_delta: i64,
        now: Millis,
    ) -> Result<Vec<Entry>> {
        let mut ids: Vec<UserId> = entries.iter().map(|e| e.sender_id).collect();
        ids.extend(entries.iter().filter_map(|e| e.subject.map(|(id, _)| id)));
        let names = self.names(&ids).await?;
        let name = |id: &UserId| names.get(id).cloned().unwrap_or_default();
        let stored: Vec<Entry> = entries
            .iter()
            .zip(last_seq + 1..)
            .map(|(e, seq)| {
                let sender = name(&e.sender_id);
                Entry {
                    id: EntryId::new(),
                    room_id: room,
                    seq,
                    kind: e.kind,
                    sender_id: e.sender_id,
                    sender_username: sender.username,
                    sender_display_name: sender.display_name,
                    subject: e.subject.map(|(user_id, role)| Subject {
                        username: name(&user_id).username,
                        user_id,
                        role,
                    }),
                    body: e.body.clone(),
                    client_message_id: e.client_message_id.clone(),
                    created_at: now,
                    message: MessageState::default(),
                    target_seq: None,
                    reaction: None,
                    wire: types::WireCache::default(),
                }
            })
            .collect();
        self.insert_entry_rows(stored.iter().map(NewEntryRow::of).collect()).await?;
        let count = i64::try_from(stored.len()).map_err(|_| Error::Corrupt("too many entries".into()))?;
        let update = diesel::update(rooms::table.find(room.as_bytes().as_slice()))
            .set((rooms::last_seq.eq(last_seq + count), rooms::member_count.eq(rooms::member_count + member_delta)));
        self.execute(update).await?;
        Ok(stored)
    }
}
