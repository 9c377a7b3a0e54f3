//! How text is compared: the normalised keys that make usernames unique and room names searchable, and the
//! tokens that make message bodies searchable.

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

/// The longest token the search index keeps, in characters (longer words are cut to it, in the text and in
/// queries alike; InnoDB drops tokens over 84).
const MAX_TOKEN_CHARS: usize = 40;

/// Whether `c` is written without spaces between words (Han, kana, Hangul), so that words are found by
/// their characters rather than by separators.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF        // Hiragana, Katakana
        | 0x3400..=0x4DBF      // CJK Extension A
        | 0x4E00..=0x9FFF      // CJK Unified Ideographs
        | 0xAC00..=0xD7AF      // Hangul syllables
        | 0xF900..=0xFAFF      // CJK compatibility ideographs
        | 0x20000..=0x2FA1F    // CJK Extensions B.. and compatibility supplement
    )
}

/// One search token as the index stores it: at least three characters and ending in `_`, so that neither
/// InnoDB's minimum token size (3) nor its stop words ("the", "a"…) drop it. A word never contains `_`
/// (it separates words), so the marker cannot collide with text.
fn token(word: &str) -> String {
    let mut t: String = word.chars().take(MAX_TOKEN_CHARS).collect();
    let pad = 3usize.saturating_sub(t.chars().count()).max(1);
    t.extend(std::iter::repeat_n('_', pad));
    t
}

/// A run of text split into search terms: a word of letters and digits is one term; a run of CJK
/// characters gives each character, and each pair of neighbours, as terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchTerm {
    /// A word, matched whole.
    Word(String),
    /// A run of CJK characters: found where these tokens (its pairs, or its one character) appear in order.
    Cjk(Vec<String>),
}

/// Splits folded `text` into words and CJK runs.
fn runs(text: &str) -> Vec<(bool, Vec<char>)> {
    let mut out: Vec<(bool, Vec<char>)> = Vec::new();
    for c in search_key(text).chars() {
        let cjk = is_cjk(c);
        if !(cjk || c.is_alphanumeric()) {
            out.push((false, Vec::new()));
            continue;
        }
        match out.last_mut() {
            Some((was_cjk, run)) if *was_cjk == cjk => run.push(c),
            _ => out.push((cjk, vec![c])),
        }
    }
    out.retain(|(_, run)| !run.is_empty());
    out
}

fn pairs(run: &[char]) -> Vec<String> {
    run.windows(2).map(|w| token(&w.iter().collect::<String>())).collect()
}

/// A message body as the search index takes it: the tokens of its words, and of each CJK run its single
/// characters and its pairs, separated by spaces. Folded like [`search_key`], so search ignores case and
/// width.
pub fn search_text(body: &str) -> String {
    let mut tokens = Vec::new();
    for (cjk, run) in runs(body) {
        if cjk {
            tokens.extend(run.iter().map(|c| token(&c.to_string())));
            tokens.extend(pairs(&run));
        } else {
            tokens.push(token(&run.iter().collect::<String>()));
        }
    }
    tokens.join(" ")
}

/// A search query as terms that must all be found, in the form of [`search_text`]'s tokens: a word is
/// one token; a CJK run of one character that character, a longer run its pairs, in order.
pub fn search_terms(query: &str) -> Vec<SearchTerm> {
    runs(query)
        .into_iter()
        .map(|(cjk, run)| match (cjk, run.len()) {
            (false, _) => SearchTerm::Word(token(&run.iter().collect::<String>())),
            (true, 1) => SearchTerm::Cjk(vec![token(&run[0].to_string())]),
            (true, _) => SearchTerm::Cjk(pairs(&run)),
        })
        .collect()
}

/// Whether a [`search_text`] has every term: each word as a token, each CJK run's tokens one after
/// another. What both engines' queries ask of their index, so a search can test the newest rows itself.
pub fn matches(search_text: &str, terms: &[SearchTerm]) -> bool {
    let tokens: Vec<&str> = search_text.split(' ').collect();
    terms.iter().all(|term| match term {
        SearchTerm::Word(word) => tokens.contains(&word.as_str()),
        SearchTerm::Cjk(run) => tokens.windows(run.len()).any(|w| w.iter().zip(run).all(|(t, r)| *t == r.as_str())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_matches_words_anywhere_and_cjk_runs_in_order() {
        let text = search_text("Meet me at 東京タワー, OK?");
        assert!(matches(&text, &search_terms("ok meet")));
        assert!(matches(&text, &search_terms("京タワ")));
        assert!(matches(&text, &search_terms("タ")));
        assert!(!matches(&text, &search_terms("ワタ")), "pairs out of order");
        assert!(!matches(&text, &search_terms("meet tower")), "every term is needed");
        assert!(!matches(&text, &search_terms("mee")), "words match whole");
        assert!(!matches("", &search_terms("meet")), "a deleted message has no words");
    }

    #[test]
    fn search_text_folds_case_and_splits_cjk_into_characters_and_pairs() {
        assert_eq!(search_text("Hello, the WORLD!"), "hello_ the_ world_");
        assert_eq!(search_text("a I"), "a__ i__");
        assert_eq!(search_text("東京タワー"), "東__ 京__ タ__ ワ__ ー__ 東京_ 京タ_ タワ_ ワー_");
        assert_eq!(search_text("meet 東京 at 9"), "meet_ 東__ 京__ 東京_ at_ 9__");
        assert_eq!(search_text("snake_case"), "snake_ case_");
    }

    #[test]
    fn search_terms_are_the_texts_tokens() {
        assert_eq!(search_terms("Hello"), vec![SearchTerm::Word("hello_".into())]);
        assert_eq!(search_terms("京"), vec![SearchTerm::Cjk(vec!["京__".into()])]);
        assert_eq!(
            search_terms("東京 tower"),
            vec![SearchTerm::Cjk(vec!["東京_".into()]), SearchTerm::Word("tower_".into())]
        );
        assert!(search_terms(" ,.!").is_empty());
    }

    #[test]
    fn case_and_width_variants_share_a_key() {
        assert_eq!(username_key("Alice"), "alice");
        assert_eq!(username_key("ａｌｉｃｅ"), "alice");
        assert_eq!(username_key("ＡＬＩＣＥ"), "alice");
        assert_eq!(username_key("Straße"), username_key("STRASSE"));
        assert_ne!(username_key("alice"), username_key("alíce"));
    }
}
