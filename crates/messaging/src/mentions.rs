//! Mentions: which `@username`s a message's text names.
//!
//! The rules: an `@` that starts the text or follows a character that cannot be part of a word (so
//! `bob@example.com` names nobody), then 3 to 32 username characters (letters, digits, `_`, `-`, `.`); a
//! trailing `.` ends the sentence, not the name. Names compare as usernames do (case and width folded:
//! `@ALICE` and `@ａｌｉｃｅ` name `alice`). Only members of the room count, which storage resolves.

use types::text::username_key;

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// The username keys a text names, each once, in the order first named.
pub(crate) fn named_keys(text: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    let mut before: Option<char> = None;
    for (i, c) in text.char_indices() {
        let starts_word = before.is_none_or(|b| !is_name_char(b) && b != '@');
        if c == '@' && starts_word {
            let rest = &text[i + 1..];
            let end = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
            let name = rest[..end].trim_end_matches('.');
            let len = name.chars().count();
            if (3..=32).contains(&len) {
                let key = username_key(name);
                if key.chars().all(is_name_char) && !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        before = Some(c);
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_at_word_starts_only_and_folded_like_usernames() {
        assert_eq!(named_keys("hi @alice and @Bob."), ["alice", "bob"]);
        assert_eq!(named_keys("@ＡＬＩＣＥ, see this"), ["alice"]);
        assert_eq!(named_keys("mail bob@example.com"), Vec::<String>::new(), "not inside a word");
        assert_eq!(named_keys("@al is too short, @@bob is not a name start"), Vec::<String>::new());
        assert_eq!(named_keys("(@carol) @carol @dave.smith!"), ["carol", "dave.smith"]);
        assert_eq!(named_keys(""), Vec::<String>::new());
    }
}
