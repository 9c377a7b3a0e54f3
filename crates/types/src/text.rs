//! How text is compared: the normalised keys that make usernames unique and room names searchable.

use caseless::default_case_fold_str;
use unicode_normalization::UnicodeNormalization;

/// The unique key of a username: NFKC, then case folding, then NFKC again (Unicode's NFKC_Casefold
/// recipe), so that "Alice", "alice" and the full-width "ａｌｉｃｅ" have one key.
pub fn username_key(username: &str) -> String {
    search_key(username)
}

/// Text folded for case- and width-insensitive comparison (the same recipe as [`username_key`]).
pub fn search_key(text: &str) -> String {
    let folded = default_case_fold_str(&text.nfkc().collect::<String>());
    folded.nfkc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_width_variants_share_a_key() {
        assert_eq!(username_key("Alice"), "alice");
        assert_eq!(username_key("ａｌｉｃｅ"), "alice");
        assert_eq!(username_key("ＡＬＩＣＥ"), "alice");
        assert_eq!(username_key("Straße"), username_key("STRASSE"));
        assert_ne!(username_key("alice"), username_key("alíce"));
    }
}
