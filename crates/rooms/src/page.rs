//! Page sizes and opaque page tokens for keyset pagination.
//!
//! A token names the listing it belongs to and the last key of the page it ends, base64url-encoded so
//! that clients treat it as opaque. A token from one listing is refused by another.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use types::FieldViolation;

/// Page size when the client asks for 0.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// The most a page holds.
pub const MAX_PAGE_SIZE: usize = 200;

/// The page size for a requested `size` (0 → default, above the maximum → the maximum).
pub(crate) fn size(field: &'static str, size: i32) -> Result<usize, FieldViolation> {
    match usize::try_from(size) {
        Err(_) => Err(FieldViolation::new(field, "must not be negative")),
        Ok(0) => Ok(DEFAULT_PAGE_SIZE),
        Ok(n) => Ok(n.min(MAX_PAGE_SIZE)),
    }
}

pub(crate) fn encode(listing: &str, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1|{listing}|{key}"))
}

/// The key in `token`, or `None` for the first page.
pub(crate) fn decode(listing: &str, token: &str) -> Result<Option<String>, FieldViolation> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || FieldViolation::new("page_token", "is not a token from a previous page of this listing");
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
        let token = encode("public", "abc");
        assert_eq!(decode("public", &token), Ok(Some("abc".into())));
        assert!(decode("joined", &token).is_err());
        assert!(decode("public", "not base64!").is_err());
        assert_eq!(decode("public", ""), Ok(None));
    }

    #[test]
    fn sizes_default_and_clamp() {
        assert_eq!(size("page_size", 0), Ok(50));
        assert_eq!(size("page_size", 7), Ok(7));
        assert_eq!(size("page_size", 5000), Ok(200));
        assert!(size("page_size", -1).is_err());
    }
}
