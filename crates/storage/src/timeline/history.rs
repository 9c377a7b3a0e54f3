//! Reading timelines: pages for `ListMessages`, ranges for subscriptions catching up, and the newest seq
//! of rooms. Every read is one range scan on the `(room_id, seq)` primary key, however deep.

use diesel::prelude::*;
use types::{Entry, RoomId, TimelinePage, UserId};

use super::{EntryRow, entry_columns};
use crate::db::Conn;
use crate::error::Result;
use crate::schema::{messages, rooms};

impl Conn {
    /// One page of a room's timeline in ascending seq, and whether more lie beyond it in the direction
    /// asked.
    ///
    /// Text messages come in their current state, with reactions marked `mine` for `viewer`.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn page(
        &mut self,
        room: RoomId,
        page: TimelinePage,
        limit: usize,
        viewer: Option<UserId>,
    ) -> Result<(Vec<Entry>, bool)> {
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let base = messages::table.filter(messages::room_id.eq(room.to_vec())).select(entry_columns());
        let mut rows: Vec<EntryRow> = match page {
            TimelinePage::Latest => self.load(base.order(messages::seq.desc()).limit(fetch)).await?,
            TimelinePage::Before(seq) => {
                self.load(base.filter(messages::seq.lt(seq)).order(messages::seq.desc()).limit(fetch)).await?
            }
            TimelinePage::After(seq) => {
                self.load(base.filter(messages::seq.gt(seq)).order(messages::seq.asc()).limit(fetch)).await?
            }
        };
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        if !matches!(page, TimelinePage::After(_)) {
            rows.reverse();
        }
        Ok((self.entries(rows, viewer).await?, has_more))
    }

    /// The entries with `after < seq <= up_to`, at most `limit` of them, ascending.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn range(
        &mut self,
        room: RoomId,
        after: i64,
        up_to: i64,
        limit: usize,
        viewer: Option<UserId>,
    ) -> Result<Vec<Entry>> {
        let query = messages::table
            .filter(messages::room_id.eq(room.as_bytes().as_slice()))
            .filter(messages::seq.gt(after))
            .filter(messages::seq.le(up_to))
            .order(messages::seq.asc())
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .select(entry_columns());
        let rows = self.load(query).await?;
        self.entries(rows, viewer).await
    }

    /// The newest seq of each of these rooms (rooms that do not exist are left out).
    ///
    /// # Errors
    /// Database errors only.
    pub async fn last_seqs(&mut self, rooms: &[RoomId]) -> Result<Vec<(RoomId, i64)>> {
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<&[u8]> = rooms.iter().map(|r| r.as_bytes().as_slice()).collect();
        let query = rooms::table.filter(rooms::id.eq_any(&keys)).select((rooms::id, rooms::last_seq));
        let rows: Vec<(Vec<u8>, i64)> = self.load(query).await?;
        rows.into_iter().map(|(id, seq)| Ok((RoomId::from_slice(&id)?, seq))).collect()
    }
}
