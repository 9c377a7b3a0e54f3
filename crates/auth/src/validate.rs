//! What a valid username, email, password and display name are, and the normalised keys that make
//! usernames and emails unique.

use types::FieldViolation;
use types::text::username_key;

const USERNAME_CHARS: &str = "must contain only letters, digits, '_', '-' and '.'";

fn is_username_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// The unique key of an email address: lowercased. (Providers differ on whether the local part is case
/// sensitive; treating it as insensitive avoids two accounts for one mailbox.)
pub(crate) fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// The key to look an account up by, from what the user typed at login: an email if it has an '@'
/// (usernames cannot), else a username.
pub(crate) fn login_key(login: &str) -> String {
    if login.contains('@') { email_key(login) } else { username_key(login) }
}

pub(crate) fn username(username: &str) -> Option<FieldViolation> {
    let len = username.chars().count();
    if !(3..=32).contains(&len) {
        return Some(FieldViolation::new("username", format!("must be 3 to 32 characters (is {len})")));
    }
    // The key is checked too: normalisation can turn a letter into something else (a ligature into
    // several letters and spaces, say).
    if !username.chars().all(is_username_char) || !username_key(username).chars().all(is_username_char) {
        return Some(FieldViolation::new("username", USERNAME_CHARS));
    }
    None
}

pub(crate) fn email(email: &str) -> Option<FieldViolation> {
    let bad = |why: &str| Some(FieldViolation::new("email", why.to_owned()));
    if email.is_empty() {
        return bad("must not be empty");
    }
    if email.chars().count() > 254 {
        return bad("must be at most 254 characters");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("must not contain spaces or control characters");
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return bad("must look like name@example.com");
    };
    if local.is_empty() || local.chars().count() > 64 {
        return bad("the part before '@' must be 1 to 64 characters");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-') && !l.contains('@');
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return bad("the part after '@' must be a domain such as example.com");
    }
    None
}

/// The longest login: an email address can be 254 characters, a username 32.
const LOGIN_MAX: usize = 254;

/// A login that is not too long to be any account's (checked before it is normalised or looked up).
pub(crate) fn login(login: &str) -> Option<FieldViolation> {
    // Bytes first: a string of more than four bytes per allowed character is too long without counting.
    if login.len() > LOGIN_MAX * 4 || login.chars().count() > LOGIN_MAX {
        return Some(FieldViolation::new("login", format!("must be at most {LOGIN_MAX} characters")));
    }
    None
}

/// A password that is not too long to be anyone's (at sign-in, before it is hashed).
pub(crate) fn password_size(password: &str) -> Option<FieldViolation> {
    if password.len() > PASSWORD_MAX * 4 || password.chars().count() > PASSWORD_MAX {
        return Some(FieldViolation::new("password", format!("must be at most {PASSWORD_MAX} characters")));
    }
    None
}

/// The longest password, in characters.
const PASSWORD_MAX: usize = 128;

pub(crate) fn password(password: &str) -> Option<FieldViolation> {
    let len = password.chars().count();
    if !(8..=PASSWORD_MAX).contains(&len) {
        return Some(FieldViolation::new("password", format!("must be 8 to 128 characters (is {len})")));
    }
    None
}

pub(crate) fn display_name(name: &str) -> Option<FieldViolation> {
    let len = name.chars().count();
    if len > 64 {
        return Some(FieldViolation::new("display_name", format!("must be at most 64 characters (is {len})")));
    }
    if name.chars().any(char::is_control) {
        return Some(FieldViolation::new("display_name", "must not contain control characters"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_rules() {
        assert_eq!(username("al"), Some(FieldViolation::new("username", "must be 3 to 32 characters (is 2)")));
        assert!(username(&"a".repeat(33)).is_some());
        assert!(username("alice smith").is_some());
        assert!(username("alice@home").is_some());
        assert!(username("al.ice_-9").is_none());
        assert!(username("Zoë").is_none());
        assert!(username("ａｌｉｃｅ").is_none());
        // A ligature whose normal form has spaces in it.
        assert!(username("ab\u{FDFA}").is_some());
    }

    #[test]
    fn emails_must_be_plausible() {
        assert!(email("alice@example.com").is_none());
        assert!(email("a.b+tag@mail.example.co.uk").is_none());
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "alice@example",
            "alice@exa mple.com",
            "alice@-x.com",
            "alice@example..com",
        ] {
            assert!(email(bad).is_some(), "{bad:?} accepted");
        }
        assert_eq!(email_key("Alice@Example.COM"), "alice@example.com");
    }

    #[test]
    fn passwords_are_counted_in_characters_and_never_trimmed() {
        assert!(password("        ").is_none(), "eight spaces are a password");
        assert!(password("пароль12").is_none());
        assert!(password("short").is_some());
        assert!(password(&"x".repeat(129)).is_some());
        assert!(password(&"é".repeat(128)).is_none(), "128 two-byte characters are fine");
    }

    #[test]
    fn login_keys_tell_emails_from_usernames() {
        assert_eq!(login_key("ALICE@example.com"), "alice@example.com");
        assert_eq!(login_key("ＡＬＩＣＥ"), "alice");
    }
}
