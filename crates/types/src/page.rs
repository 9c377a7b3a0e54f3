//! Paging: how many items a page holds, which part of a timeline to read, and the opaque tokens that
//! continue a keyset-paged listing.
//!
//! A token names the listing it belongs to and the last key of the page it ends, base64url-encoded so that
//! clients treat it as opaque. A token from one listing is refused by another.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::FieldViolation;

/// How many items one page holds: [`PageSize::DEFAULT`] when the client does not say, never more than
/// [`PageSize::MAX`], never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageSize(usize);

impl PageSize {
    /// Items per page when the client does not say.
    pub const DEFAULT: usize = 50;
    /// The most one page holds.
    pub const MAX: usize = 200;

    /// The page size for a request that asked for `requested` items (`None`: unsaid), clamped to the
    /// maximum.
    pub fn requested(requested: Option<usize>) -> Self {
        Self(requested.filter(|n| *n > 0).unwrap_or(Self::DEFAULT).min(Self::MAX))
    }

    /// Exactly `n` items (at least 1), for internal readers that page by their own size.
    pub fn exactly(n: usize) -> Self {
        Self(n.max(1))
    }

    /// The number of items.
    pub fn get(self) -> usize {
        self.0
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

/// Which page of a room's timeline to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimelinePage {
    /// The newest entries.
    Latest,
    /// Entries with seq below this.
    Before(i64),
    /// Entries with seq above this.
    After(i64),
}

/// The token that continues `listing` after `key`.
pub fn encode_token(listing: &str, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1|{listing}|{key}"))
}

/// The key in `token` (a token made by [`encode_token`] for the same `listing`), or `None` for an empty
/// token (the first page).
///
/// # Errors
/// A violation of `field` when the token is malformed or belongs to another listing.
pub fn decode_token(field: &'static str, listing: &str, token: &str) -> Result<Option<String>, FieldViolation> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || FieldViolation::new(field, "is not a token from a previous page of this listing");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some(l), Some(key)) if l == listing => Ok(Some(key.to_owned())),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_only_within_their_listing() {
        let token = encode_token("public", "abc");
        assert_eq!(decode_token("page_token", "public", &token), Ok(Some("abc".into())));
        assert!(decode_token("page_token", "joined", &token).is_err());
        assert!(decode_token("page_token", "public", "not base64!").is_err());
        assert_eq!(decode_token("page_token", "public", ""), Ok(None));
    }

    #[test]
    fn sizes_default_and_clamp() {
        assert_eq!(PageSize::requested(None).get(), 50);
        assert_eq!(PageSize::requested(Some(0)).get(), 50);
        assert_eq!(PageSize::requested(Some(7)).get(), 7);
        assert_eq!(PageSize::requested(Some(5000)).get(), 200);
        assert_eq!(PageSize::exactly(0).get(), 1);
    }
}
