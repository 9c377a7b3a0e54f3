//! What a reaction may be: one emoji (a single grapheme made of emoji code points: a pictograph, a flag,
//! a keycap, with its modifiers and joiners) or a `:short_code:` of 1 to 32 of `a-z 0-9 _ + -`. Bounded
//! either way, so a reaction can never carry text.

use types::FieldViolation;
use unicode_segmentation::UnicodeSegmentation as _;

/// The most code points one emoji takes (a family with skin tones is about ten).
const MAX_CODE_POINTS: usize = 16;

fn is_emoji_part(c: char) -> bool {
    matches!(u32::from(c),
        0x1F000..=0x1FAFF   // pictographs, emoticons, transport, flags' regional indicators, supplemental symbols
        | 0x2600..=0x27BF   // miscellaneous symbols and dingbats
        | 0x2300..=0x23FF   // technical (⌚, ⏰…)
        | 0x2B00..=0x2BFF   // arrows and stars (⭐, ⬆…)
        | 0x2190..=0x21FF   // arrows
        | 0x3030 | 0x303D | 0x3297 | 0x3299 | 0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x2122 | 0x2139 | 0x24C2
        | 0x25AA..=0x25FE   // geometric shapes used as emoji
        | 0xFE0F            // emoji presentation selector
        | 0x200D            // zero-width joiner
        | 0x20E3            // combining keycap
        | 0xE0020..=0xE007F // tag characters (subdivision flags)
    )
}

fn is_short_code(s: &str) -> bool {
    let Some(inner) = s.strip_prefix(':').and_then(|s| s.strip_suffix(':')) else { return false };
    (1..=32).contains(&inner.len())
        && inner.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '+' | '-'))
}

fn is_one_emoji(s: &str) -> bool {
    let count = s.chars().count();
    if count == 0 || count > MAX_CODE_POINTS || s.graphemes(true).count() != 1 {
        return false;
    }
    // A keycap is a digit, '#' or '*' followed by the keycap mark; everything else is emoji code points.
    let mut chars = s.chars();
    let first = chars.next();
    let keycap = first.is_some_and(|c| c.is_ascii_digit() || c == '#' || c == '*') && s.ends_with('\u{20E3}');
    if keycap {
        return chars.all(|c| c == '\u{FE0F}' || c == '\u{20E3}');
    }
    s.chars().all(is_emoji_part) && s.chars().any(|c| !matches!(c, '\u{FE0F}' | '\u{200D}' | '\u{20E3}'))
}

/// Checks a reaction's emoji.
///
/// # Errors
/// A violation of `emoji` when it is neither one emoji nor a short code.
pub(crate) fn check(emoji: &str) -> Result<(), FieldViolation> {
    if is_one_emoji(emoji) || is_short_code(emoji) {
        Ok(())
    } else {
        Err(FieldViolation::new("emoji", "must be one emoji or a :short_code: (1 to 32 of a-z, 0-9, _, + and -)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_emoji_or_a_short_code_and_nothing_else() {
        for ok in ["👍", "❤️", "🇫🇷", "👩‍👩‍👧‍👦", "👍🏽", "1️⃣", "⭐", ":party_parrot:", ":+1:"]
        {
            assert!(check(ok).is_ok(), "{ok:?} refused");
        }
        for bad in ["", "👍👍", "a", "hello", ":Party:", "::", ":a b:", "👍 ", "<b>", &":x".repeat(20)] {
            assert!(check(bad).is_err(), "{bad:?} accepted");
        }
    }
}
