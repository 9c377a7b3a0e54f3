//! Statements the driver keeps prepared.
//!
//! Diesel prepares a statement once per connection and reuses it only when the statement's shape is fixed by
//! its type; a statement with a list (`IN (?, ?, …)`), any `UPDATE`, and any raw SQL is prepared before each
//! execution and closed after it. On MySQL that is two round trips per statement instead of one, and the
//! server parses and plans it each time: the send transaction's statements did this on every batch (MariaDB
//! counted as many `Com_stmt_prepare` as `Com_stmt_execute`).
//!
//! [`Prepared`] marks a statement as safe to keep by its SQL text. Each distinct text is one prepared
//! statement per connection for as long as the connection lives, so only statements with few distinct
//! texts may be wrapped: their lists are padded to a power of two ([`padded`]), one text per power. With the
//! writers' batch limit of 256 that is at most 9 texts for a statement with one list and 81 for the room
//! tails' read (rooms × senders), per connection: with the default pool of 16, about 1,600 statements a
//! node in the worst case, against MariaDB's default limit of 16,382 for the whole server.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;

/// A statement that the connection may keep prepared, keyed by its SQL text (see the module's documentation
/// for what may be wrapped).
#[derive(Debug, Clone)]
pub(crate) struct Prepared<Q>(pub(crate) Q);

impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    // Not a fixed shape: the cache keys it by its SQL text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: Backend, Q: QueryFragment<DB>> QueryFragment<DB> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

/// `items` repeated at the end up to the next power of two, for a list whose repeats change nothing (an
/// `IN` list, a set of `WHEN … THEN` arms that agree): so a statement built from it has one of a few
/// shapes.
pub(crate) fn padded<T: Clone>(items: &[T]) -> Vec<T> {
    let mut out = items.to_vec();
    if let Some(last) = items.last() {
        out.resize(items.len().next_power_of_two(), last.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::padded;

    #[test]
    fn pads_to_a_power_of_two_with_the_last_item() {
        assert_eq!(padded::<u8>(&[]), Vec::<u8>::new());
        assert_eq!(padded(&[1]), vec![1]);
        assert_eq!(padded(&[1, 2, 3]), vec![1, 2, 3, 3]);
        assert_eq!(padded(&[1, 2, 3, 4, 5]), vec![1, 2, 3, 4, 5, 5, 5, 5]);
    }
}
