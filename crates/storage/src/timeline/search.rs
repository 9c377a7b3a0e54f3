//! Full-text search of current message bodies, with each backend's own engine over one column,
//! `message_search.search_text` (a row per live text message), which holds the application's tokens
//! ([`types::text::search_text`]): MySQL and MariaDB an InnoDB `FULLTEXT` index in boolean mode, SQLite an
//! FTS5 table kept in step by triggers. Both engines see the same tokens (CJK as characters and pairs,
//! every token marked with `_`), so both find the same messages. A sent message's row is written shortly
//! after the send, by the indexer ([`Tx::index_room`]); an edit or deletion writes it in its own
//! transaction. A search first has the indexer catch up with the rooms it looks in (`messaging` does), so
//! it finds every message stored before it began.

use std::collections::HashMap;

use diesel::dsl::sql;
use diesel::expression::IntoSql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use types::text::SearchTerm;
use types::{Entry, EntryId, RoomId, UserId};

use super::{EntryRow, entry_columns};
use crate::codes;
use crate::db::{Backend, Conn, Tx};
use crate::error::Result;
use crate::schema::{memberships, message_search, messages, rooms, search_progress};

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

/// Search rows read at a time by the first step of a search. (Small enough that MariaDB keeps to the `id`
/// index for one big room: at 10,000,000 rows it switched to the primary key and a sort of the whole room
/// above about 5,000.)
const SCAN_CHUNK: i64 = 1_000;

/// The search rows the first step reads before it leaves the rest of the page to the engine, if it has
/// found nothing: a word that is not in these few is rare enough for the engine.
const SCAN_FIRST: usize = 4_000;

/// The most search rows the first step reads while it does find the words: a word that some of the newest
/// rows have can be in very many of the older ones, which the engine would all have to find and sort.
const SCAN_MOST: usize = 40_000;

impl Conn {
    /// The newest text messages (by id, which is time-ordered) in `scope` whose current body has every
    /// term, older than `before` if given, at most `limit`, newest first. Tokens hold only letters, digits
    /// and `_` (see [`types::text`]), so no term can inject syntax into either engine's query.
    ///
    /// In two steps, because neither engine's plan serves both kinds of word. First the newest search rows
    /// in scope are read in id order (by the `id` index; [`SCAN_FIRST`] rows, or up to [`SCAN_MOST`] while
    /// they have matches) and matched here ([`types::text::matches`]): a common word fills the page within
    /// a few rows, where the engine would have to find and sort every message that has it. Only a page that
    /// is not full then goes to the engine, for rows older than those read: cheap exactly when the word is
    /// rare. Each step reads keys and tokens alone from `message_search`; the page's entries are read by
    /// key at the end.
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
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
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
        let mut before = before.map_or_else(|| vec![0xff; 17], |id| id.to_vec());
        let mut hits: Vec<(Vec<u8>, i64)> = Vec::with_capacity(limit);
        let mut scanned = 0;
        while hits.len() < limit && scanned < if hits.is_empty() { SCAN_FIRST } else { SCAN_MOST } {
            let newest = message_search::table
                .filter(message_search::room_id.eq_any(&rooms))
                .filter(message_search::id.lt(&before))
                .order(message_search::id.desc())
                .limit(SCAN_CHUNK)
                .select((
                    message_search::room_id,
                    message_search::seq,
                    message_search::id,
                    message_search::search_text,
                ));
            let rows: Vec<(Vec<u8>, i64, Vec<u8>, String)> = self.load(newest).await?;
            scanned += rows.len();
            let ended = rows.len() < usize::try_from(SCAN_CHUNK).unwrap_or(usize::MAX);
            for (room, seq, id, text) in rows {
                if hits.len() == limit {
                    break;
                }
                if types::text::matches(&text, terms) {
                    hits.push((room, seq));
                }
                before = id;
            }
            if ended {
                return self.entries_at(hits, viewer).await;
            }
        }
        if hits.len() < limit {
            let (head, query, tail) = self.engine_match(terms);
            let older = message_search::table
                .filter(sql::<Bool>(head).bind::<Text, _>(query).sql(tail))
                .filter(message_search::room_id.eq_any(&rooms))
                .filter(message_search::id.lt(&before))
                .order(message_search::id.desc())
                .limit(i64::try_from(limit - hits.len()).unwrap_or(i64::MAX))
                .select((message_search::room_id, message_search::seq));
            hits.extend(self.load::<(Vec<u8>, i64), _>(older).await?);
        }
        self.entries_at(hits, viewer).await
    }

    /// The one place the two engines differ: how a row is matched (the condition's SQL before and after
    /// its one bound value, the engine's query).
    fn engine_match(&self, terms: &[SearchTerm]) -> (&'static str, String, &'static str) {
        match self.backend() {
            Backend::Mysql => {
                ("MATCH (message_search.search_text) AGAINST (", engine_query(terms, "+"), " IN BOOLEAN MODE)")
            }
            Backend::Sqlite => (
                "message_search.doc IN (SELECT rowid FROM message_search_fts WHERE message_search_fts MATCH ",
                engine_query(terms, ""),
                ")",
            ),
        }
    }

    /// The page the full-text engine alone gives, in one statement: what a search would be without its
    /// first step (the reference of the search benchmark). Returns the keys found.
    ///
    /// # Errors
    /// Database errors only.
    #[cfg(feature = "bench")]
    pub(crate) async fn search_one_statement(
        &mut self,
        user: UserId,
        terms: &[SearchTerm],
        limit: i64,
    ) -> Result<Vec<(Vec<u8>, i64)>> {
        let rooms = memberships::table.filter(memberships::user_id.eq(user.to_vec())).select(memberships::room_id);
        let (head, query, tail) = self.engine_match(terms);
        let query = message_search::table
            .filter(sql::<Bool>(head).bind::<Text, _>(query).sql(tail))
            .filter(message_search::room_id.eq_any(rooms))
            .order(message_search::id.desc())
            .limit(limit)
            .select((message_search::room_id, message_search::seq));
        self.load(query).await
    }

    /// The entries at `keys`, in that order.
    async fn entries_at(&mut self, keys: Vec<(Vec<u8>, i64)>, viewer: UserId) -> Result<Vec<Entry>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // Every key's room and every key's seq: a few more rows than asked for (one query, by the primary
        // key), the others dropped here.
        let rooms: Vec<&Vec<u8>> = keys.iter().map(|(room, _)| room).collect();
        let seqs: Vec<i64> = keys.iter().map(|(_, seq)| *seq).collect();
        let query = messages::table
            .filter(messages::room_id.eq_any(rooms))
            .filter(messages::seq.eq_any(seqs))
            .select(entry_columns());
        let mut rows: HashMap<(Vec<u8>, i64), EntryRow> =
            self.load::<EntryRow, _>(query).await?.into_iter().map(|row| (row.key(), row)).collect();
        let ordered = keys.iter().filter_map(|key| rows.remove(key)).collect();
        self.entries(ordered, Some(viewer)).await
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

/// The search index is written after the send, not in its transaction: each room's progress is its
/// `search_progress` row (every entry up to `indexed_seq` looked at), and these are the indexer's steps; the
/// indexer itself is `messaging`'s. A search row is written only by an insert that gives way to a row that
/// is already there, and an edit or deletion writes the row itself (insert-or-ignore, then update; see
/// [`Tx::set_search_text`]), so an indexer that read a body just before an edit committed cannot put its
/// older words back: its insert finds the edit's row and writes nothing.
impl Tx<'_> {
    /// Indexes up to `limit` entries of `room` after its progress: gives each live text message among them
    /// that has no search row its row, and moves the progress on. Returns whether the room's index has
    /// reached its newest entry (also when the room is gone). Holds the progress row's lock (which no
    /// send takes) until the transaction ends, so that indexers on several nodes take turns.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn index_room(&mut self, room: RoomId, limit: i64) -> Result<bool> {
        let key = room.to_vec();
        let progress = || search_progress::table.find(key.clone());
        // A write that changes nothing takes the row's lock (see `Tx::lock_room`); the reads after it then
        // see every commit before it.
        self.execute(diesel::update(progress()).set(search_progress::indexed_seq.eq(search_progress::indexed_seq)))
            .await?;
        let Some(indexed) = self.first::<i64, _>(progress().select(search_progress::indexed_seq)).await? else {
            return Ok(true); // the room was deleted
        };
        let last: Option<i64> = self.first(rooms::table.find(key.clone()).select(rooms::last_seq)).await?;
        let Some(last) = last.filter(|last| *last > indexed) else { return Ok(true) };
        let upto = last.min(indexed.saturating_add(limit));
        let indexed_rows = message_search::table
            .on(message_search::room_id.eq(messages::room_id).and(message_search::seq.eq(messages::seq)));
        let query = messages::table
            .left_join(indexed_rows)
            .filter(messages::room_id.eq(key.clone()))
            .filter(messages::seq.gt(indexed).and(messages::seq.le(upto)))
            .filter(messages::kind.eq(codes::entry_kind(types::EntryKind::Text)))
            .filter(messages::deleted_at.is_null())
            .filter(message_search::seq.nullable().is_null())
            .select((messages::seq, messages::id, messages::body));
        let texts: Vec<(i64, Vec<u8>, String)> = self.load(query).await?;
        let rows: Vec<SearchRow> = texts
            .into_iter()
            .map(|(seq, id, body)| SearchRow {
                room_id: key.clone(),
                seq,
                id,
                search_text: types::text::search_text(&body),
            })
            .collect();
        if !rows.is_empty() {
            self.insert_all_new(message_search::table, rows).await?;
        }
        self.execute(diesel::update(progress()).set(search_progress::indexed_seq.eq(upto))).await?;
        Ok(upto == last)
    }

    /// Gives the message at `(room, seq)` the search text `text` (its new words after an edit, none after a
    /// deletion), whether or not the indexer has reached it: the row is inserted if there is none (an
    /// indexer's later insert then gives way to it) and then set.
    ///
    /// # Errors
    /// Database errors only.
    pub(crate) async fn set_search_text(&mut self, room: RoomId, seq: i64, text: String) -> Result<()> {
        let key = room.to_vec();
        let message = messages::table.find((key.clone(), seq)).select((
            messages::room_id,
            messages::seq,
            messages::id,
            text.clone().into_sql::<Text>(),
        ));
        let columns = (message_search::room_id, message_search::seq, message_search::id, message_search::search_text);
        self.execute(diesel::insert_or_ignore_into(message_search::table).values(message).into_columns(columns))
            .await?;
        self.execute(diesel::update(message_search::table.find((key, seq))).set(message_search::search_text.eq(text)))
            .await?;
        Ok(())
    }
}

impl Conn {
    /// Rooms whose newest entries the search index has not looked at yet: in `scope`, or (with `None`) any,
    /// at most `limit`.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn unindexed_rooms(&mut self, scope: Option<SearchScope>, limit: i64) -> Result<Vec<RoomId>> {
        let behind = rooms::table
            .inner_join(search_progress::table)
            .filter(rooms::last_seq.gt(search_progress::indexed_seq))
            .select(rooms::id)
            .limit(limit);
        let keys: Vec<Vec<u8>> = match scope {
            None => self.load(behind).await?,
            Some(SearchScope::Room(room)) => self.load(behind.filter(rooms::id.eq(room.to_vec()))).await?,
            Some(SearchScope::Member(user)) => {
                let joined =
                    memberships::table.filter(memberships::user_id.eq(user.to_vec())).select(memberships::room_id);
                self.load(behind.filter(rooms::id.eq_any(joined))).await?
            }
        };
        keys.iter().map(|k| Ok(RoomId::from_slice(k)?)).collect()
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
