//! A text message's state beyond its first text: replies, edits, the tombstone of a deletion, reactions and
//! mentions. Actions on a message are timeline entries of their own ([`NewAction`], appended like any entry)
//! and change the message's row and its `reactions`/`mentions` rows in the same transaction; what an action
//! may do is the `messaging` crate's rule.

use std::collections::HashMap;

use diesel::prelude::*;
use types::{Entry, EntryId, EntryKind, MessageState, Millis, Reaction, RoomId, UserId};

use super::{NewEntryRow, entry_columns};
use crate::codes;
use crate::db::{Conn, Tx};
use crate::error::Result;
use crate::schema::{memberships, mentions, messages, reactions, rooms, users};

/// An action on a message to append: an edit, a deletion, a reaction added or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAction {
    /// [`EntryKind::Edit`], [`EntryKind::Delete`], [`EntryKind::ReactionAdded`] or
    /// [`EntryKind::ReactionRemoved`].
    pub kind: EntryKind,
    /// Who acts.
    pub sender_id: UserId,
    /// The message acted on.
    pub target_seq: i64,
    /// An edit's new text; empty otherwise.
    pub body: String,
    /// An edit's mentions (members named in the new text).
    pub mentions: Vec<UserId>,
    /// A reaction's emoji and the target's count of it after the action.
    pub reaction: Option<Reaction>,
    /// An edit's idempotency key, if the client gave one.
    pub client_message_id: Option<String>,
}

/// A member named in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MentionRow {
    /// The room.
    pub room: RoomId,
    /// The message's seq.
    pub seq: i64,
    /// The member named.
    pub user: UserId,
}

impl Conn {
    /// Fills in the reactions and mentions of the text messages among `entries` (deleted ones have none),
    /// with `mine` set for `viewer`'s reactions, and the mentions of edits: at most one query for each, per
    /// room, and none for a page without messages. A mention is written `@name`, so only texts with an `@`
    /// are looked up for mentions (most pages have none, and skip that query).
    pub(crate) async fn add_message_state(&mut self, entries: &mut [Entry], viewer: Option<UserId>) -> Result<()> {
        #[derive(Default)]
        struct Wanted {
            messages: Vec<i64>,
            named: Vec<i64>,
        }
        let mut by_room: HashMap<RoomId, Wanted> = HashMap::new();
        for e in entries.iter() {
            let live_text = match e.kind {
                EntryKind::Text => e.message.deleted_at.is_none(),
                EntryKind::Edit => !e.body.is_empty(),
                _ => continue,
            };
            if !live_text {
                continue;
            }
            let wanted = by_room.entry(e.room_id).or_default();
            if e.kind == EntryKind::Text {
                wanted.messages.push(e.seq);
            }
            if e.body.contains('@') {
                wanted.named.push(e.seq);
            }
        }
        for (room, wanted) in by_room {
            let mut reactions = if wanted.messages.is_empty() {
                HashMap::new()
            } else {
                self.reactions(room, &wanted.messages, viewer).await?
            };
            let mut mentions =
                if wanted.named.is_empty() { HashMap::new() } else { self.mentions(room, &wanted.named).await? };
            for e in entries.iter_mut().filter(|e| e.room_id == room) {
                e.message.reactions = reactions.remove(&e.seq).unwrap_or_default();
                e.message.mentions = mentions.remove(&e.seq).unwrap_or_default();
            }
        }
        Ok(())
    }

    /// The reactions of these messages of `room`, one per emoji in the order each was first used (by the
    /// millisecond; ties by emoji).
    async fn reactions(
        &mut self,
        room: RoomId,
        seqs: &[i64],
        viewer: Option<UserId>,
    ) -> Result<HashMap<i64, Vec<Reaction>>> {
        let query = reactions::table
            .filter(reactions::room_id.eq(room.to_vec()))
            .filter(reactions::seq.eq_any(seqs))
            .order((reactions::seq, reactions::created_at, reactions::emoji))
            .select((reactions::seq, reactions::emoji, reactions::user_id));
        let rows: Vec<(i64, String, Vec<u8>)> = self.load(query).await?;
        let viewer = viewer.map(|v| v.to_vec());
        let mut out: HashMap<i64, Vec<Reaction>> = HashMap::new();
        for (seq, emoji, user) in rows {
            let list = out.entry(seq).or_default();
            let mine = viewer.as_deref() == Some(user.as_slice());
            match list.iter_mut().find(|r| r.emoji == emoji) {
                Some(r) => {
                    r.count += 1;
                    r.mine |= mine;
                }
                None => list.push(Reaction { emoji, count: 1, mine }),
            }
        }
        Ok(out)
    }

    /// The members named in these messages of `room`.
    async fn mentions(&mut self, room: RoomId, seqs: &[i64]) -> Result<HashMap<i64, Vec<UserId>>> {
        let query = mentions::table
            .filter(mentions::room_id.eq(room.to_vec()))
            .filter(mentions::seq.eq_any(seqs))
            .select((mentions::seq, mentions::user_id));
        let rows: Vec<(i64, Vec<u8>)> = self.load(query).await?;
        let mut out: HashMap<i64, Vec<UserId>> = HashMap::new();
        for (seq, user) in rows {
            out.entry(seq).or_default().push(UserId::from_slice(&user)?);
        }
        Ok(out)
    }

    /// The entry of `room` at `seq`, in its current state (reactions marked `mine` for `viewer`).
    ///
    /// # Errors
    /// Database errors only.
    pub async fn entry(&mut self, room: RoomId, seq: i64, viewer: Option<UserId>) -> Result<Option<Entry>> {
        let query = messages::table.find((room.to_vec(), seq)).select(entry_columns());
        let rows: Vec<super::EntryRow> = self.load(query).await?;
        Ok(self.entries(rows, viewer).await?.pop())
    }

    /// The kind of each of these entries of `room` that exist.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn entry_kinds(&mut self, room: RoomId, seqs: &[i64]) -> Result<HashMap<i64, EntryKind>> {
        if seqs.is_empty() {
            return Ok(HashMap::new());
        }
        let query = messages::table
            .filter(messages::room_id.eq(room.to_vec()))
            .filter(messages::seq.eq_any(seqs))
            .select((messages::seq, messages::kind));
        let rows: Vec<(i64, i16)> = self.load(query).await?;
        rows.into_iter().map(|(seq, kind)| Ok((seq, codes::to_entry_kind(kind)?))).collect()
    }

    /// The members of these rooms whose username key is one of `keys`: (room, user, key).
    ///
    /// # Errors
    /// Database errors only.
    pub async fn members_named(&mut self, rooms: &[RoomId], keys: &[String]) -> Result<Vec<(RoomId, UserId, String)>> {
        if rooms.is_empty() || keys.is_empty() {
            return Ok(Vec::new());
        }
        let room_keys: Vec<Vec<u8>> = rooms.iter().map(RoomId::to_vec).collect();
        let query = memberships::table
            .inner_join(users::table)
            .filter(memberships::room_id.eq_any(room_keys))
            .filter(users::username_key.eq_any(keys))
            .select((memberships::room_id, users::id, users::username_key));
        let rows: Vec<(Vec<u8>, Vec<u8>, String)> = self.load(query).await?;
        rows.into_iter()
            .map(|(room, user, key)| Ok((RoomId::from_slice(&room)?, UserId::from_slice(&user)?, key)))
            .collect()
    }
}

impl Tx<'_> {
    /// Stores `action` as the entry after `last_seq` (read under [`Tx::lock_room`]), with an edit's
    /// mentions, and moves the room's `last_seq` on; returns the stored entry.
    ///
    /// # Errors
    /// Database errors; a repeated (room, sender, `client_message_id`) is a unique-key conflict.
    pub async fn append_action(
        &mut self,
        room: RoomId,
        last_seq: i64,
        action: &NewAction,
        now: Millis,
    ) -> Result<Entry> {
        let names = self.names(&[action.sender_id]).await?;
        let sender = names.get(&action.sender_id).cloned().unwrap_or_default();
        let entry = Entry {
            id: EntryId::new(),
            room_id: room,
            seq: last_seq + 1,
            kind: action.kind,
            sender_id: action.sender_id,
            sender_username: sender.username,
            sender_display_name: sender.display_name,
            subject: None,
            body: action.body.clone(),
            client_message_id: action.client_message_id.clone(),
            created_at: now,
            message: MessageState { mentions: action.mentions.clone(), ..MessageState::default() },
            target_seq: Some(action.target_seq),
            reaction: action.reaction.clone(),
            wire: types::WireCache::default(),
        };
        self.insert_entry_rows(vec![NewEntryRow::of(&entry)]).await?;
        let named: Vec<MentionRow> =
            action.mentions.iter().map(|user| MentionRow { room, seq: entry.seq, user: *user }).collect();
        self.insert_mentions(&named).await?;
        let update = diesel::update(rooms::table.find(room.to_vec())).set(rooms::last_seq.eq(entry.seq));
        self.execute(update).await?;
        Ok(entry)
    }

    /// Gives a message a new text, and the search index its new words (in this transaction).
    ///
    /// # Errors
    /// Database errors only.
    pub async fn set_message_body(&mut self, room: RoomId, seq: i64, body: &str, edited_at: Millis) -> Result<()> {
        let update = diesel::update(messages::table.find((room.to_vec(), seq)))
            .set((messages::body.eq(body), messages::edited_at.eq(edited_at.0)));
        self.execute(update).await?;
        self.set_search_text(room, seq, types::text::search_text(body)).await
    }

    /// Makes a message (not yet deleted) a tombstone: its text and its edits' texts are cleared, its and
    /// their mentions and its reactions deleted, its search row keeps no words, and it is marked deleted at
    /// `at`. It stops counting: the room's count of messages goes down, and so does the read count of every
    /// member whose marker is at or past it (see [`Conn::read_states`]). Call it under the room's lock.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn tombstone(&mut self, room: RoomId, seq: i64, at: Millis) -> Result<()> {
        let key = room.to_vec();
        let target = diesel::update(messages::table.find((key.clone(), seq)))
            .set((messages::body.eq(""), messages::deleted_at.eq(at.0)));
        self.execute(target).await?;
        self.set_search_text(room, seq, String::new()).await?;
        let texts = diesel::update(rooms::table.find(key.clone())).set(rooms::text_count.eq(rooms::text_count - 1));
        self.execute(texts).await?;
        let readers =
            memberships::table.filter(memberships::room_id.eq(key.clone())).filter(memberships::last_read_seq.ge(seq));
        self.execute(diesel::update(readers).set(memberships::read_count.eq(memberships::read_count - 1))).await?;
        let edits = messages::table
            .filter(messages::room_id.eq(key.clone()))
            .filter(messages::target_seq.eq(seq))
            .filter(messages::kind.eq(codes::entry_kind(EntryKind::Edit)));
        let mut texts: Vec<i64> = self.load(edits.clone().select(messages::seq)).await?;
        self.execute(diesel::update(edits).set(messages::body.eq(""))).await?;
        texts.push(seq);
        let named = mentions::table.filter(mentions::room_id.eq(key.clone())).filter(mentions::seq.eq_any(texts));
        self.execute(diesel::delete(named)).await?;
        let its_reactions = reactions::table.filter(reactions::room_id.eq(key)).filter(reactions::seq.eq(seq));
        self.execute(diesel::delete(its_reactions)).await?;
        Ok(())
    }

    /// Records `user`'s `emoji` reaction to a message; whether it is new (a repeat changes nothing).
    ///
    /// # Errors
    /// Database errors only.
    pub async fn add_reaction(
        &mut self,
        room: RoomId,
        seq: i64,
        emoji: &str,
        user: UserId,
        at: Millis,
    ) -> Result<bool> {
        let existing =
            reactions::table.find((room.to_vec(), seq, emoji.to_owned(), user.to_vec())).select(reactions::seq);
        if self.first::<i64, _>(existing).await?.is_some() {
            return Ok(false);
        }
        let row = (
            reactions::room_id.eq(room.to_vec()),
            reactions::seq.eq(seq),
            reactions::emoji.eq(emoji),
            reactions::user_id.eq(user.to_vec()),
            reactions::created_at.eq(at.0),
        );
        self.execute(diesel::insert_into(reactions::table).values(row)).await?;
        Ok(true)
    }

    /// Takes back `user`'s `emoji` reaction; whether there was one.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn remove_reaction(&mut self, room: RoomId, seq: i64, emoji: &str, user: UserId) -> Result<bool> {
        let row = reactions::table.find((room.to_vec(), seq, emoji.to_owned(), user.to_vec()));
        Ok(self.execute(diesel::delete(row)).await? > 0)
    }

    /// How many reacted to a message with `emoji`.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn reaction_count(&mut self, room: RoomId, seq: i64, emoji: &str) -> Result<i64> {
        let query = reactions::table
            .filter(reactions::room_id.eq(room.to_vec()))
            .filter(reactions::seq.eq(seq))
            .filter(reactions::emoji.eq(emoji.to_owned()))
            .count();
        Ok(self.first::<i64, _>(query).await?.unwrap_or(0))
    }

    /// Replaces the members named in a message.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn set_mentions(&mut self, room: RoomId, seq: i64, named: &[UserId]) -> Result<()> {
        let old = mentions::table.filter(mentions::room_id.eq(room.to_vec())).filter(mentions::seq.eq(seq));
        self.execute(diesel::delete(old)).await?;
        let rows: Vec<MentionRow> = named.iter().map(|user| MentionRow { room, seq, user: *user }).collect();
        self.insert_mentions(&rows).await
    }

    /// Records members named in messages, in one statement.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn insert_mentions(&mut self, rows: &[MentionRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let values: Vec<_> = rows
            .iter()
            .map(|m| {
                (mentions::room_id.eq(m.room.to_vec()), mentions::seq.eq(m.seq), mentions::user_id.eq(m.user.to_vec()))
            })
            .collect();
        self.insert_all(mentions::table, values).await
    }
}
