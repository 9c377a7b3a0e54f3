//! Conversions between `chat.v1` messages and domain values, in both directions. Decoding validates only
//! what the wire format leaves open (id syntax, enum values); the rules live in the domain crates.

use api::v1;
use types::{Millis, UserId};

use crate::status::invalid;

pub(crate) fn timestamp(m: Millis) -> prost_types::Timestamp {
    let (seconds, nanos) = m.to_seconds_nanos();
    prost_types::Timestamp { seconds, nanos }
}

pub(crate) fn user(u: &types::User) -> v1::User {
    v1::User {
        id: u.id.to_string(),
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        created_at: Some(timestamp(u.created_at)),
        email: String::new(),
    }
}

pub(crate) fn account(a: &auth::Account) -> v1::User {
    v1::User { email: a.email.clone(), ..user(&a.user) }
}

pub(crate) fn tokens(t: &auth::Tokens) -> v1::Tokens {
    v1::Tokens {
        access_token: t.access_token.clone(),
        access_token_expires_at: Some(timestamp(t.access_token_expires_at)),
        refresh_token: t.refresh_token.clone(),
        refresh_token_expires_at: Some(timestamp(t.refresh_token_expires_at)),
    }
}

/// Parses an id field of a request.
pub(crate) fn id<T: std::str::FromStr>(field: &'static str, value: &str) -> Result<T, tonic::Status> {
    if value.is_empty() {
        return Err(invalid(field, "is required"));
    }
    value.parse().map_err(|_| invalid(field, "is not a valid id"))
}

#[allow(dead_code)]
pub(crate) fn user_id(field: &'static str, value: &str) -> Result<UserId, tonic::Status> {
    id(field, value)
}
