//! Full-text search of current message bodies, with each backend's own engine over one column,
//! `message_search.search_text` (a row per live text message), which holds the application's tokens
//! ([`types::text::search_text`]): MySQL and MariaDB an InnoDB `FULLTEXT` index in boolean mode, SQLite an
//! FTS5 table kept in step by triggers. Both engines see the same tokens (CJK as characters and pairs,
//! every token marked with `_`), so both find the same messages. The row is written in the transaction that
//! writes the body (send, edit) and deleted in the one that deletes it, so the index never lags the text.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use types::text::SearchTerm;
use types::{Entry, EntryId, RoomId, UserId};

use super::{EntryRow, entry_columns};
use crate::codes;
use crate::db::{Backend, Conn, Tx};
use crate::error::Result;
use crate::schema::{memberships, message_search, messages, search_backfill};

/// Where to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchScope {
    /// Every room `user` is a member of.
    Member(UserId),
    /// One room (whose access the caller has checked).
    Room(RoomId),
}

/// The engine's query: every term marked `required` (MySQL's boolean mode says `+`; FTS5 requires every
/// term by default, and says nothing); a single token bare, a CJK run of several as a quoted phrase of its
/// pairs in order. A token (lowercase letters and digits, ending in `_`) is a bare word in both syntaxes.
fn engine_query(terms: &[SearchTerm], required: &str) -> String {
    let parts: Vec<String> = terms
        .iter()
        .map(|t| match t {
            SearchTerm::Word(w) => format!("{required}{w}"),
            SearchTerm::Cjk(tokens) if tokens.len() == 1 => format!("{required}{}", tokens[0]),
            SearchTerm::Cjk(tokens) => format!("{required}\"{}\"", tokens.join(" ")),
        })
        .collect();
    parts.join(" ")
}

impl Conn {
    /// The newest text messages (by id, which is time-ordered) in `scope` whose current body has every
    /// term, older than `before` if given, at most `limit`, newest first. Tokens hold only letters, digits
    /// and `_` (see [`types::text`]), so no term can inject syntax into either engine's query.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn search(
        &mut self,
        scope: SearchScope,
        terms: &[SearchTerm],
        before: Option<EntryId>,
        limit: usize,
        viewer: UserId,
    ) -> Result<Vec<Entry>> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        // The one place the two engines differ: how a row is matched.
        let matches = match self.backend() {
            Backend::Mysql => sql::<Bool>("MATCH (message_search.search_text) AGAINST (")
                .bind::<Text, _>(engine_query(terms, "+"))
                .sql(" IN BOOLEAN MODE)"),
            Backend::Sqlite => sql::<Bool>(
                "message_search.doc IN (SELECT rowid FROM message_search_fts WHERE message_search_fts MATCH ",
            )
            .bind::<Text, _>(engine_query(terms, ""))
            .sql(")"),
        };
        let before = before.map_or_else(|| vec![0xff; 17], |id| id.to_vec());
        let rooms: Vec<Vec<u8>> = match scope {
            SearchScope::Room(room) => vec![room.to_vec()],
            SearchScope::Member(user) => {
                let query =
                    memberships::table.filter(memberships::user_id.eq(user.to_vec())).select(memberships::room_id);
                self.load(query).await?
            }
        };
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let query = message_search::table
            .inner_join(
                messages::table
                    .on(messages::room_id.eq(message_search::room_id).and(messages::seq.eq(message_search::seq))),
            )
            .filter(matches)
            .filter(message_search::room_id.eq_any(rooms))
            .filter(message_search::id.lt(before))
            .order(message_search::id.desc())
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .select(entry_columns());
        let rows: Vec<EntryRow> = self.load(query).await?;
        self.entries(rows, Some(viewer)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_require_every_term_and_keep_cjk_runs_in_order() {
        let terms = types::text::search_terms("Tokyo 東京タ");
        assert_eq!(engine_query(&terms, "+"), "+tokyo_ +\"東京_ 京タ_\"");
        assert_eq!(engine_query(&terms, ""), "tokyo_ \"東京_ 京タ_\"");
        assert_eq!(engine_query(&types::text::search_terms("猫 and"), ""), "猫__ and_");
    }
}

/// A search row to insert. Owned, because SQLite inserts on the connection's blocking thread.
#[derive(Insertable, Clone)]
#[diesel(table_name = message_search)]
pub(crate) struct SearchRow {
    pub(crate) room_id: Vec<u8>,
    pub(crate) seq: i64,
    pub(crate) id: Vec<u8>,
    pub(crate) search_text: String,
}

impl SearchRow {
    /// The row of a text message, with its body's tokens.
    pub(crate) fn of(e: &Entry) -> Self {
        Self {
            room_id: e.room_id.to_vec(),
            seq: e.seq,
            id: e.id.to_vec(),
            search_text: types::text::search_text(&e.body),
        }
    }
}

impl Conn {
    /// Inserts search rows in one statement (see [`Conn::insert_all`]).
    pub(crate) async fn insert_search_rows(&mut self, rows: Vec<SearchRow>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.insert_all(message_search::table, rows).await
    }
}

/// The one row of `search_backfill`.
const BACKFILL: i64 = 1;

/// Text messages stored before search existed get their search rows once, from a walk over `messages` in
/// key order whose cursor is the `search_backfill` row (see its migration). These are its steps; the walk
/// itself is `messaging`'s.
impl Tx<'_> {
    /// Locks the walk's cursor until the transaction ends and returns it (the last `(room, seq)` walked), or
    /// `None` when there is nothing to index: the walk is finished, or there were no messages.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn lock_search_backfill(&mut self) -> Result<Option<(RoomId, i64)>> {
        let row = search_backfill::table.find(BACKFILL);
        self.execute(diesel::update(row).set(search_backfill::seq.eq(search_backfill::seq))).await?;
        let cursor: Option<(Vec<u8>, i64)> =
            self.first(row.select((search_backfill::room_id, search_backfill::seq))).await?;
        cursor.map(|(room, seq)| Ok((RoomId::from_slice(&room)?, seq))).transpose()
    }

    /// The key of the first entry after `(room, seq)` in key order (in `room` or a later one), if any.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn entry_after(&mut self, room: RoomId, seq: i64) -> Result<Option<(RoomId, i64)>> {
        let key = room.to_vec();
        let query = messages::table
            .filter(messages::room_id.eq(key.clone()).and(messages::seq.gt(seq)).or(messages::room_id.gt(key)))
            .order((messages::room_id, messages::seq))
            .select((messages::room_id, messages::seq))
            .limit(1);
        let next: Option<(Vec<u8>, i64)> = self.first(query).await?;
        next.map(|(room, seq)| Ok((RoomId::from_slice(&room)?, seq))).transpose()
    }

    /// Walks up to `limit` entries of `room` after `after`, gives each live text message among them that
    /// has no search row its row, and returns the last seq walked (`after` if there were none) and how many
    /// rows it wrote. Call it under the room's lock, so that no edit or deletion of those messages runs
    /// between reading a body and indexing it.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn index_unindexed(&mut self, room: RoomId, after: i64, limit: i64) -> Result<(i64, usize)> {
        let key = room.to_vec();
        let indexed = message_search::table
            .on(message_search::room_id.eq(messages::room_id).and(message_search::seq.eq(messages::seq)));
        let query = messages::table
            .left_join(indexed)
            .filter(messages::room_id.eq(key))
            .filter(messages::seq.gt(after))
            .order(messages::seq)
            .select((
                messages::seq,
                messages::id,
                messages::kind,
                messages::body,
                messages::deleted_at,
                message_search::seq.nullable(),
            ))
            .limit(limit);
        type Walked = (i64, Vec<u8>, i16, String, Option<i64>, Option<i64>);
        let walked: Vec<Walked> = self.load(query).await?;
        let last = walked.last().map_or(after, |w| w.0);
        let text = codes::entry_kind(types::EntryKind::Text);
        let rows: Vec<SearchRow> = walked
            .into_iter()
            .filter(|(_, _, kind, _, deleted_at, row)| *kind == text && deleted_at.is_none() && row.is_none())
            .map(|(seq, id, _, body, _, _)| SearchRow {
                room_id: room.to_vec(),
                seq,
                id,
                search_text: types::text::search_text(&body),
            })
            .collect();
        let written = rows.len();
        self.insert_search_rows(rows).await?;
        Ok((last, written))
    }

    /// Moves the walk's cursor to `(room, seq)`.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn set_search_backfill(&mut self, room: RoomId, seq: i64) -> Result<()> {
        let update = diesel::update(search_backfill::table.find(BACKFILL))
            .set((search_backfill::room_id.eq(room.to_vec()), search_backfill::seq.eq(seq)));
        self.execute(update).await?;
        Ok(())
    }

    /// Ends the walk: every message before the cursor has been looked at, and there are no more.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn finish_search_backfill(&mut self) -> Result<()> {
        self.execute(diesel::delete(search_backfill::table.find(BACKFILL))).await?;
        Ok(())
    }
}

/// The search row of a text message row (for bulk loading; see `bench`).
#[cfg(feature = "bench")]
pub(crate) fn search_row(row: &super::NewEntryRow) -> SearchRow {
    SearchRow {
        room_id: row.room_id.clone(),
        seq: row.seq,
        id: row.id.clone(),
        search_text: types::text::search_text(&row.body),
    }
}
