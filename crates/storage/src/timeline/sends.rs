//! The statements of the send path's group commit: a batch of sends to several rooms is stored in one
//! transaction of four statements, whatever its size ([`Tx::reserve_seqs`], [`Tx::room_tails`],
//! [`Tx::insert_messages`], [`Tx::mark_senders_read`]), plus a lookup of earlier copies
//! ([`Conn::sent_messages`]) only when a batch repeats a stored send. Which drafts become entries is decided
//! by the `messaging` crate.
//!
//! All but the insert are kept prepared on their connection ([`Prepared`]): their lists are padded to a
//! power of two, so each has a few shapes. (The insert has one shape per batch size, up to the writers'
//! batch limit: too many to keep.)

use std::collections::HashMap;

use diesel::backend::Backend;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Binary, HasSqlType};
use types::{Entry, EntryKind, Millis, RoomId, UserId};

use super::{EntryRow, NewEntryRow, entry_columns};
use crate::codes;
use crate::db::{Backed, Conn, Tx};
use crate::error::Result;
use crate::prepared::{Prepared, padded};
use crate::schema::{memberships, messages, rooms, users};

/// The unique key of a text message: its room, sender and the sender's `client_message_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SendKey<'a> {
    /// The room.
    pub room: RoomId,
    /// The sender.
    pub sender: UserId,
    /// The sender's idempotency key.
    pub client_message_id: &'a str,
}

/// A room as a batch finds it after [`Tx::reserve_seqs`]: its `last_seq` and count of messages, and which of
/// the batch's senders are members, with their names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomTail {
    /// The room.
    pub room: RoomId,
    /// Its newest seq, including the numbers just reserved.
    pub last_seq: i64,
    /// Its text messages that are not deleted, counting those the numbers were just reserved for.
    pub text_count: i64,
    /// The senders asked about who are members.
    pub members: Vec<TailMember>,
}

/// A sender who is a member of a [`RoomTail`]'s room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailMember {
    /// Their id.
    pub user: UserId,
    /// Their username.
    pub username: String,
    /// Their display name.
    pub display_name: String,
}

/// Lookups of earlier copies per statement (each is a point lookup on the unique key).
const LOOKUPS_PER_QUERY: usize = 200;

/// A room's `last_seq`, with one of the batch's senders who is a member and their name (both `None` when
/// no sender is).
type RoomTailRow = (Vec<u8>, i64, i64, Option<Vec<u8>>, Option<String>, Option<String>);

/// `UPDATE rooms SET last_seq = last_seq + n, text_count = text_count + n, last_message_at = now` for
/// several rooms, each with its own `n`, in one statement; InnoDB locks the rows in key order. Plain SQL,
/// because the per-row amount is a `CASE` over a list of any length, which the query builder cannot express;
/// built per backend because a boxed query is tied to one.
fn reserve_sql<'a, DB>(counts: &'a [(RoomId, i64)], now: i64) -> BoxedSqlQuery<'a, DB, SqlQuery>
where
    DB: Backend + HasSqlType<Binary> + HasSqlType<BigInt>,
    [u8]: ToSql<Binary, DB>,
    i64: ToSql<BigInt, DB>,
{
    let case = format!("CASE id{} ELSE 0 END", " WHEN ? THEN ?".repeat(counts.len()));
    let mut sql = format!(
        "UPDATE rooms SET last_seq = last_seq + {case}, text_count = text_count + {case}, last_message_at = ? \
         WHERE id IN ("
    );
    sql.push_str(&vec!["?"; counts.len()].join(", "));
    sql.push(')');
    let mut query = diesel::sql_query(sql).into_boxed::<DB>();
    for _ in 0..2 {
        for (room, n) in counts {
            query = query.bind::<Binary, _>(room.as_bytes().as_slice()).bind::<BigInt, _>(*n);
        }
    }
    query = query.bind::<BigInt, _>(now);
    for (room, _) in counts {
        query = query.bind::<Binary, _>(room.as_bytes().as_slice());
    }
    query
}

/// A sender's read marker moved on by a send: everything up to `seq`, their newest message of the batch,
/// is read, and `read_count` messages are live up to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderMark {
    /// The room.
    pub room: RoomId,
    /// The sender.
    pub user: UserId,
    /// Their newest message of the batch.
    pub seq: i64,
    /// The room's text messages not deleted up to `seq`.
    pub read_count: i64,
}

/// `UPDATE memberships SET last_read_seq = …, read_count = … WHERE (room, user) is one of the marks`, in one
/// statement (a marker never moves back: a row whose marker is already there is left alone). `hint` goes
/// after the table's name (MySQL's index hint, see [`Tx::mark_senders_read`]).
fn marks_sql<'a, DB>(marks: &'a [SenderMark], hint: &str) -> BoxedSqlQuery<'a, DB, SqlQuery>
where
    DB: Backend + HasSqlType<Binary> + HasSqlType<BigInt>,
    [u8]: ToSql<Binary, DB>,
    i64: ToSql<BigInt, DB>,
{
    let when = " WHEN room_id = ? AND user_id = ? THEN ?".repeat(marks.len());
    let mut sql = format!(
        "UPDATE memberships{hint} SET read_count = CASE{when} ELSE read_count END, \
         last_read_seq = CASE{when} ELSE last_read_seq END WHERE "
    );
    sql.push_str(&vec!["(room_id = ? AND user_id = ? AND last_read_seq < ?)"; marks.len()].join(" OR "));
    let mut query = diesel::sql_query(sql).into_boxed::<DB>();
    // `read_count` is set first: on MySQL a later assignment sees the earlier ones' new values, and its
    // `CASE` does not read `last_read_seq`.
    let values: [fn(&SenderMark) -> i64; 3] = [|m| m.read_count, |m| m.seq, |m| m.seq];
    for value in values {
        for m in marks {
            query = query
                .bind::<Binary, _>(m.room.as_bytes().as_slice())
                .bind::<Binary, _>(m.user.as_bytes().as_slice())
                .bind::<BigInt, _>(value(m));
        }
    }
    query
}

impl Conn {
    /// The stored text messages with these keys (earlier copies of sends being retried).
    ///
    /// # Errors
    /// Database errors only.
    pub async fn sent_messages(&mut self, keys: &[SendKey<'_>]) -> Result<Vec<Entry>> {
        let mut found = Vec::new();
        for chunk in keys.chunks(LOOKUPS_PER_QUERY) {
            // Point lookups on the unique key (room, sender, client_message_id), as three lists: the index
            // answers every combination, and the combinations that were not asked for are dropped here.
            let rooms: Vec<&[u8]> = chunk.iter().map(|k| k.room.as_bytes().as_slice()).collect();
            let senders: Vec<&[u8]> = chunk.iter().map(|k| k.sender.as_bytes().as_slice()).collect();
            let ids: Vec<&str> = chunk.iter().map(|k| k.client_message_id).collect();
            let query = messages::table
                .filter(messages::room_id.eq_any(&rooms))
                .filter(messages::sender_id.eq_any(&senders))
                .filter(messages::client_message_id.eq_any(&ids))
                .select(entry_columns());
            let rows: Vec<EntryRow> = self.load(query).await?;
            let entries = self.entries(rows, None).await?;
            found.extend(entries.into_iter().filter(|e| {
                chunk.iter().any(|k| {
                    k.room == e.room_id
                        && k.sender == e.sender_id
                        && e.client_message_id.as_deref() == Some(k.client_message_id)
                })
            }));
        }
        Ok(found)
    }
}

impl Tx<'_> {
    /// Moves each room's `last_seq` on by its count, in one statement that takes the rooms' row locks in key
    /// order (so concurrent batches cannot deadlock). Rooms with a count of 0 are not touched.
    ///
    /// # Errors
    /// Database errors only.
    ///
    /// The numbers are for text messages: each room's count of messages moves on with them, and its
    /// `last_message_at` becomes `now`.
    pub async fn reserve_seqs(&mut self, counts: &[(RoomId, i64)], now: Millis) -> Result<()> {
        let counts: Vec<(RoomId, i64)> = counts.iter().copied().filter(|(_, n)| *n > 0).collect();
        // A repeated room changes nothing (its `WHEN` arm repeats too): a few shapes to keep prepared.
        let counts = padded(&counts);
        if counts.is_empty() {
            return Ok(());
        }
        match self.backed() {
            Backed::Mysql(c) => {
                diesel_async::RunQueryDsl::execute(Prepared(reserve_sql(&counts, now.0)), &mut **c).await?
            }
            Backed::Sqlite(c) => {
                diesel_async::RunQueryDsl::execute(Prepared(reserve_sql(&counts, now.0)), &mut **c).await?
            }
        };
        Ok(())
    }

    /// Gives back `unused` of the numbers [`Tx::reserve_seqs`] reserved for `room` (for drafts that are not
    /// stored): its `last_seq` becomes `last_seq` and its count of messages goes down by `unused`. When
    /// `none_stored`, its `last_message_at` goes back to its newest text message's time.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn give_back_seqs(&mut self, room: RoomId, last_seq: i64, unused: i64, none_stored: bool) -> Result<()> {
        let key = room.as_bytes().as_slice();
        let update = diesel::update(rooms::table.find(key))
            .set((rooms::last_seq.eq(last_seq), rooms::text_count.eq(rooms::text_count - unused)));
        self.execute(update).await?;
        if none_stored {
            let newest = messages::table
                .filter(messages::room_id.eq(key))
                .filter(messages::kind.eq(codes::entry_kind(EntryKind::Text)))
                .order(messages::seq.desc())
                .select(messages::created_at)
                .limit(1);
            let at: Option<i64> = self.first(newest).await?;
            self.execute(diesel::update(rooms::table.find(key)).set(rooms::last_message_at.eq(at))).await?;
        }
        Ok(())
    }

    /// Moves senders' read markers to their newest message of the batch, in one statement.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn mark_senders_read(&mut self, marks: &[SenderMark]) -> Result<()> {
        if marks.is_empty() {
            return Ok(());
        }
        // A repeated mark changes nothing: a few shapes to keep prepared.
        let marks = &padded(marks);
        match self.backed() {
            // Told to use the primary key: with a dozen marks MariaDB chose a scan of the whole index, which
            // locks every membership it passes (in other rooms too), so that concurrent batches waited for
            // each other and deadlocked. By the key it locks the marked rows only.
            Backed::Mysql(c) => {
                let sql = Prepared(marks_sql(marks, " FORCE INDEX (PRIMARY)"));
                diesel_async::RunQueryDsl::execute(sql, &mut **c).await?
            }
            Backed::Sqlite(c) => diesel_async::RunQueryDsl::execute(Prepared(marks_sql(marks, "")), &mut **c).await?,
        };
        Ok(())
    }

    /// Each room's `last_seq` with which of `senders` are members and their names, in one statement. Rooms
    /// that do not exist are left out.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn room_tails(&mut self, rooms: &[RoomId], senders: &[UserId]) -> Result<Vec<RoomTail>> {
        // Both lists padded (a repeat in an `IN` list changes nothing): a few shapes to keep prepared.
        let padded_rooms = padded(rooms);
        let room_keys: Vec<&[u8]> = padded_rooms.iter().map(|r| r.as_bytes().as_slice()).collect();
        // A join's condition must own its values.
        let sender_keys: Vec<Vec<u8>> = padded(senders).iter().map(UserId::to_vec).collect();
        let query = rooms::table
            .left_join(
                memberships::table.on(memberships::room_id.eq(rooms::id).and(memberships::user_id.eq_any(sender_keys))),
            )
            .left_join(users::table.on(users::id.nullable().eq(memberships::user_id.nullable())))
            .filter(rooms::id.eq_any(&room_keys))
            .select((
                rooms::id,
                rooms::last_seq,
                rooms::text_count,
                memberships::user_id.nullable(),
                users::username.nullable(),
                users::display_name.nullable(),
            ));
        let rows: Vec<RoomTailRow> = self.load(Prepared(query)).await?;
        let mut tails: Vec<RoomTail> = Vec::with_capacity(rooms.len());
        let mut index: HashMap<RoomId, usize> = HashMap::with_capacity(rooms.len());
        for (room, last_seq, text_count, user, username, display_name) in rows {
            let room = RoomId::from_slice(&room)?;
            let at = *index.entry(room).or_insert_with(|| {
                tails.push(RoomTail { room, last_seq, text_count, members: Vec::new() });
                tails.len() - 1
            });
            if let (Some(user), Some(username), Some(display_name)) = (user, username, display_name) {
                tails[at].members.push(TailMember { user: UserId::from_slice(&user)?, username, display_name });
            }
        }
        Ok(tails)
    }

    /// Sets a room's `last_seq` (to give back numbers reserved for drafts that were not stored).
    ///
    /// # Errors
    /// Database errors only.
    pub async fn set_last_seq(&mut self, room: RoomId, last_seq: i64) -> Result<()> {
        let update = diesel::update(rooms::table.find(room.as_bytes().as_slice())).set(rooms::last_seq.eq(last_seq));
        self.execute(update).await?;
        Ok(())
    }

    /// Stores text entries whose seqs were reserved in this transaction, in one statement. A repeat of a
    /// stored (room, sender, `client_message_id`) makes it fail with a unique-key conflict
    /// ([`crate::Error::is_conflict`]).
    ///
    /// # Errors
    /// Database errors, and the conflict above.
    ///
    /// Their words go into the search index after the transaction, by the indexer ([`Tx::index_room`]).
    pub async fn insert_messages(&mut self, entries: &[Entry]) -> Result<()> {
        self.insert_entry_rows(entries.iter().map(NewEntryRow::of).collect()).await
    }
}
