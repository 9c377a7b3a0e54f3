//! Login sessions and their refresh tokens.
//!
//! A session is one login. It issues one refresh token at a time; each use (rotation) marks the token used
//! and issues the next. Used tokens are kept until the session is purged, because presenting one again
//! means two parties hold the session's tokens: the session is then revoked (theft detection).

use diesel::prelude::*;
use diesel_async::{AsyncConnection as _, RunQueryDsl};
use types::{Millis, SessionId, UserId};

use crate::db::{Conn, for_each_backend, run};
use crate::error::{Error, Result};
use crate::schema::{refresh_tokens, sessions};
use crate::users::{NewUser, UserTx as _};

/// A session to open, with its first refresh token.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The new session's id.
    pub id: SessionId,
    /// Whose.
    pub user_id: UserId,
    /// SHA-256 of the first refresh token.
    pub refresh_hash: [u8; 32],
    /// Now.
    pub created_at: Millis,
    /// When the first refresh token expires.
    pub expires_at: Millis,
}

/// What a stored session says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionState {
    /// Whose it is.
    pub user_id: UserId,
    /// When its refresh token expires.
    pub expires_at: Millis,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Millis>,
}

impl SessionState {
    /// Whether the session may still be used at `now`.
    pub fn is_live(&self, now: Millis) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// The result of presenting a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The token was the session's current one: it is now used, and the new token replaces it.
    Rotated {
        /// The session.
        session_id: SessionId,
        /// Its user.
        user_id: UserId,
    },
    /// The token had been used before: the session is now revoked.
    Reused {
        /// The revoked session.
        session_id: SessionId,
        /// Its user.
        user_id: UserId,
    },
    /// The token is unknown, expired, or belongs to a revoked session.
    Rejected,
}

#[derive(Insertable)]
#[diesel(table_name = sessions)]
struct SessionRow<'a> {
    id: &'a [u8],
    user_id: &'a [u8],
    created_at: i64,
    expires_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = refresh_tokens)]
struct TokenRow<'a> {
    token_hash: &'a [u8],
    session_id: &'a [u8],
    created_at: i64,
    expires_at: i64,
}

/// Opens a session.
///
/// # Errors
/// Database errors only.
pub async fn create(conn: &mut Conn, new: &NewSession) -> Result<()> {
    run!(conn, |c| c
        .transaction::<_, Error, _>(async |tx| {
            tx.insert_session(new).await?;
            Ok(())
        })
        .await)
}

/// Creates an account and opens its first session, in one transaction.
///
/// # Errors
/// As [`crate::users::insert`].
pub async fn create_with_user(conn: &mut Conn, user: &NewUser<'_>, session: &NewSession) -> Result<()> {
    run!(conn, |c| c
        .transaction::<_, Error, _>(async |tx| {
            tx.insert_user(user).await?;
            tx.insert_session(session).await?;
            Ok(())
        })
        .await)
}

/// Helpers shared by this module's transactions.
pub(crate) trait SessionTx {
    async fn insert_session(&mut self, new: &NewSession) -> Result<()>;
}

for_each_backend!(impl SessionTx {
    async fn insert_session(&mut self, new: &NewSession) -> Result<()> {
        diesel::insert_into(sessions::table)
            .values(SessionRow {
                id: new.id.as_bytes(),
                user_id: new.user_id.as_bytes(),
                created_at: new.created_at.0,
                expires_at: new.expires_at.0,
            })
            .execute(self)
            .await?;
        diesel::insert_into(refresh_tokens::table)
            .values(TokenRow {
                token_hash: &new.refresh_hash,
                session_id: new.id.as_bytes(),
                created_at: new.created_at.0,
                expires_at: new.expires_at.0,
            })
            .execute(self)
            .await?;
        Ok(())
    }
});

/// A refresh token joined with its session: session id, token expiry, token use, user, session expiry,
/// session revocation.
type TokenSession = (Vec<u8>, i64, Option<i64>, Vec<u8>, i64, Option<i64>);

/// Presents the refresh token whose hash is `presented`: if it is the session's current token, marks it
/// used and stores `next` (expiring at `next_expires_at`) in its place; if it was used before, revokes the
/// session. All in one transaction, so two concurrent presentations of one token cannot both rotate.
///
/// # Errors
/// Database errors only; every kind of bad token is an `Ok` outcome.
pub async fn rotate(
    conn: &mut Conn,
    presented: &[u8; 32],
    next: &[u8; 32],
    now: Millis,
    next_expires_at: Millis,
) -> Result<Rotation> {
    run!(conn, |c| c
        .transaction::<_, Error, _>(async |tx| {
            let found: Option<TokenSession> = refresh_tokens::table
                .inner_join(sessions::table)
                .filter(refresh_tokens::token_hash.eq(presented.as_slice()))
                .select((
                    sessions::id,
                    refresh_tokens::expires_at,
                    refresh_tokens::used_at,
                    sessions::user_id,
                    sessions::expires_at,
                    sessions::revoked_at,
                ))
                .first(tx)
                .await
                .optional()?;
            let Some((session, token_expires, used_at, user, _session_expires, revoked_at)) = found else {
                return Ok(Rotation::Rejected);
            };
            let (session_id, user_id) = (SessionId::from_slice(&session)?, UserId::from_slice(&user)?);
            if revoked_at.is_some() {
                return Ok(Rotation::Rejected);
            }
            if used_at.is_none() && token_expires <= now.0 {
                // Simply expired: nothing suspicious.
                return Ok(Rotation::Rejected);
            }
            // Claim the token. Zero rows means it was used already: either our read saw that, or a concurrent
            // call claimed it after our read (MySQL reads a snapshot, but the UPDATE sees the committed row).
            // Either way the token was presented twice.
            let claimed = if used_at.is_none() {
                diesel::update(refresh_tokens::table.find(presented.as_slice()))
                    .filter(refresh_tokens::used_at.is_null())
                    .set(refresh_tokens::used_at.eq(now.0))
                    .execute(tx)
                    .await?
            } else {
                0
            };
            if claimed == 0 {
                diesel::update(sessions::table.find(&session)).set(sessions::revoked_at.eq(now.0)).execute(tx).await?;
                return Ok(Rotation::Reused { session_id, user_id });
            }
            diesel::insert_into(refresh_tokens::table)
                .values(TokenRow {
                    token_hash: next,
                    session_id: &session,
                    created_at: now.0,
                    expires_at: next_expires_at.0,
                })
                .execute(tx)
                .await?;
            diesel::update(sessions::table.find(&session))
                .set(sessions::expires_at.eq(next_expires_at.0))
                .execute(tx)
                .await?;
            Ok(Rotation::Rotated { session_id, user_id })
        })
        .await)
}

/// The session a refresh token (current or used) belongs to, and its user.
///
/// # Errors
/// Database errors only.
pub async fn find_by_refresh(conn: &mut Conn, hash: &[u8; 32]) -> Result<Option<(SessionId, UserId)>> {
    let found: Option<(Vec<u8>, Vec<u8>)> = run!(conn, |c| refresh_tokens::table
        .inner_join(sessions::table)
        .filter(refresh_tokens::token_hash.eq(hash.as_slice()))
        .select((sessions::id, sessions::user_id))
        .first(c)
        .await
        .optional())?;
    found.map(|(s, u)| Ok((SessionId::from_slice(&s)?, UserId::from_slice(&u)?))).transpose()
}

/// The state of a session, or `None` if there is no such session.
///
/// # Errors
/// Database errors only.
pub async fn state(conn: &mut Conn, id: SessionId) -> Result<Option<SessionState>> {
    let found: Option<(Vec<u8>, i64, Option<i64>)> = run!(conn, |c| sessions::table
        .find(id.as_bytes().as_slice())
        .select((sessions::user_id, sessions::expires_at, sessions::revoked_at))
        .first(c)
        .await
        .optional())?;
    found
        .map(|(user, expires_at, revoked_at)| {
            Ok(SessionState {
                user_id: UserId::from_slice(&user)?,
                expires_at: Millis(expires_at),
                revoked_at: revoked_at.map(Millis),
            })
        })
        .transpose()
}

/// Revokes one session of `user_id`. Revoking a revoked session changes nothing.
///
/// # Errors
/// [`Error::NotFound`] when the user has no such session.
pub async fn revoke(conn: &mut Conn, user_id: UserId, id: SessionId, now: Millis) -> Result<()> {
    let key = id.as_bytes().as_slice();
    let owner = user_id.as_bytes().as_slice();
    let exists: i64 = run!(conn, |c| c
        .transaction::<_, Error, _>(async |tx| {
            diesel::update(
                sessions::table.find(key).filter(sessions::user_id.eq(owner)).filter(sessions::revoked_at.is_null()),
            )
            .set(sessions::revoked_at.eq(now.0))
            .execute(tx)
            .await?;
            Ok(sessions::table.find(key).filter(sessions::user_id.eq(owner)).count().get_result(tx).await?)
        })
        .await)?;
    if exists == 0 { Err(Error::NotFound("session")) } else { Ok(()) }
}

/// Revokes every live session of a user.
///
/// # Errors
/// Database errors only.
pub async fn revoke_all(conn: &mut Conn, user_id: UserId, now: Millis) -> Result<()> {
    run!(conn, |c| diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id.as_bytes().as_slice()))
            .filter(sessions::revoked_at.is_null())
    )
    .set(sessions::revoked_at.eq(now.0))
    .execute(c)
    .await)?;
    Ok(())
}

/// Deletes sessions (and their tokens) that expired or were revoked before `before`. Returns how many.
///
/// # Errors
/// Database errors only.
pub async fn purge(conn: &mut Conn, before: Millis) -> Result<usize> {
    run!(conn, |c| c
        .transaction::<_, Error, _>(async |tx| {
            let dead = sessions::table
                .filter(sessions::expires_at.lt(before.0).or(sessions::revoked_at.lt(before.0)))
                .select(sessions::id);
            diesel::delete(refresh_tokens::table.filter(refresh_tokens::session_id.eq_any(dead))).execute(tx).await?;
            let n = diesel::delete(
                sessions::table.filter(sessions::expires_at.lt(before.0).or(sessions::revoked_at.lt(before.0))),
            )
            .execute(tx)
            .await?;
            Ok(n)
        })
        .await)
}
