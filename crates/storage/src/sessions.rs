//! Login sessions and their refresh tokens.
//!
//! A session is one login. It issues one refresh token at a time; each use (rotation) marks the token used
//! and stores the next. Used tokens are kept until the session is purged, so that a token presented twice can
//! be recognised (what that means is the auth crate's rule).

use diesel::prelude::*;
use types::{Millis, SessionId, UserId};

use crate::db::{Conn, Tx};
use crate::error::Result;
use crate::schema::{refresh_tokens, sessions, users};

/// A session to open, with its first refresh token.
#[derive(Clone)]
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

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
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
    /// Whether its user's account is disabled.
    pub user_disabled: bool,
}

impl SessionState {
    /// Whether the session may still be used at `now`.
    pub fn is_live(&self, now: Millis) -> bool {
        self.revoked_at.is_none() && self.expires_at > now && !self.user_disabled
    }
}

/// One session of a user, as an operator lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRecord {
    /// The session.
    pub id: SessionId,
    /// When it was opened (signed in).
    pub created_at: Millis,
    /// When its refresh token expires.
    pub expires_at: Millis,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Millis>,
}

/// A session revoked, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revoked {
    /// The session.
    pub session_id: SessionId,
    /// Its user.
    pub user_id: UserId,
    /// When it was revoked.
    pub at: Millis,
}

/// A stored refresh token and the session it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredToken {
    /// The session.
    pub session_id: SessionId,
    /// Its user.
    pub user_id: UserId,
    /// When the token expires.
    pub expires_at: Millis,
    /// When the token was used (rotated), if it was.
    pub used_at: Option<Millis>,
    /// Whether the session was revoked.
    pub session_revoked: bool,
    /// Whether the session's user's account is disabled.
    pub user_disabled: bool,
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

/// A refresh token joined with its session and user: session id, user, token expiry, token use, session
/// revocation, account disabled.
type TokenSessionRow = (Vec<u8>, Vec<u8>, i64, Option<i64>, Option<i64>, Option<i64>);

/// A session joined with its user: user, expiry, revocation, account disabled.
type StateRow = (Vec<u8>, i64, Option<i64>, Option<i64>);

impl Conn {
    /// The refresh token whose hash is `hash` (current or used), with its session.
    ///
    /// # Errors
    /// Database errors only; an unknown token is `Ok(None)`.
    pub async fn refresh_token(&mut self, hash: &[u8; 32]) -> Result<Option<StoredToken>> {
        let query = refresh_tokens::table
            .inner_join(sessions::table.inner_join(users::table))
            .filter(refresh_tokens::token_hash.eq(hash.as_slice()))
            .select((
                sessions::id,
                sessions::user_id,
                refresh_tokens::expires_at,
                refresh_tokens::used_at,
                sessions::revoked_at,
                users::disabled_at,
            ));
        let Some((session, user, expires_at, used_at, revoked_at, disabled_at)) =
            self.first::<TokenSessionRow, _>(query).await?
        else {
            return Ok(None);
        };
        Ok(Some(StoredToken {
            session_id: SessionId::from_slice(&session)?,
            user_id: UserId::from_slice(&user)?,
            expires_at: Millis(expires_at),
            used_at: used_at.map(Millis),
            session_revoked: revoked_at.is_some(),
            user_disabled: disabled_at.is_some(),
        }))
    }

    /// The state of a session, or `None` if there is no such session.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn session_state(&mut self, id: SessionId) -> Result<Option<SessionState>> {
        let query = sessions::table
            .inner_join(users::table)
            .filter(sessions::id.eq(id.as_bytes().as_slice()))
            .select((sessions::user_id, sessions::expires_at, sessions::revoked_at, users::disabled_at));
        let found: Option<StateRow> = self.first(query).await?;
        found
            .map(|(user, expires_at, revoked_at, disabled_at)| {
                Ok(SessionState {
                    user_id: UserId::from_slice(&user)?,
                    expires_at: Millis(expires_at),
                    revoked_at: revoked_at.map(Millis),
                    user_disabled: disabled_at.is_some(),
                })
            })
            .transpose()
    }

    /// The sessions of a user that have not been purged, newest first.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn sessions_of(&mut self, user: UserId) -> Result<Vec<SessionRecord>> {
        let query = sessions::table
            .filter(sessions::user_id.eq(user.as_bytes().as_slice()))
            .order(sessions::id.desc())
            .select((sessions::id, sessions::created_at, sessions::expires_at, sessions::revoked_at));
        let rows: Vec<(Vec<u8>, i64, i64, Option<i64>)> = self.load(query).await?;
        rows.into_iter()
            .map(|(id, created_at, expires_at, revoked_at)| {
                Ok(SessionRecord {
                    id: SessionId::from_slice(&id)?,
                    created_at: Millis(created_at),
                    expires_at: Millis(expires_at),
                    revoked_at: revoked_at.map(Millis),
                })
            })
            .collect()
    }

    /// The sessions revoked at or after `since` (by anyone: this node, another, or another process).
    ///
    /// # Errors
    /// Database errors only.
    pub async fn revoked_since(&mut self, since: Millis) -> Result<Vec<Revoked>> {
        let query = sessions::table.filter(sessions::revoked_at.ge(since.0)).select((
            sessions::id,
            sessions::user_id,
            sessions::revoked_at,
        ));
        let rows: Vec<(Vec<u8>, Vec<u8>, Option<i64>)> = self.load(query).await?;
        rows.into_iter()
            .map(|(session, user, at)| {
                Ok(Revoked {
                    session_id: SessionId::from_slice(&session)?,
                    user_id: UserId::from_slice(&user)?,
                    at: Millis(at.unwrap_or(since.0)),
                })
            })
            .collect()
    }

    /// Revokes one session, unless it is revoked already.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn revoke_session(&mut self, id: SessionId, now: Millis) -> Result<()> {
        let live = sessions::table.find(id.as_bytes().as_slice()).filter(sessions::revoked_at.is_null());
        self.execute(diesel::update(live).set(sessions::revoked_at.eq(now.0))).await?;
        Ok(())
    }

    /// Revokes every live session of a user.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn revoke_sessions_of(&mut self, user: UserId, now: Millis) -> Result<()> {
        let live = sessions::table
            .filter(sessions::user_id.eq(user.as_bytes().as_slice()))
            .filter(sessions::revoked_at.is_null());
        self.execute(diesel::update(live).set(sessions::revoked_at.eq(now.0))).await?;
        Ok(())
    }
}

impl Tx<'_> {
    /// Opens a session with its first refresh token.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn insert_session(&mut self, new: &NewSession) -> Result<()> {
        let session = SessionRow {
            id: new.id.as_bytes(),
            user_id: new.user_id.as_bytes(),
            created_at: new.created_at.0,
            expires_at: new.expires_at.0,
        };
        self.execute(diesel::insert_into(sessions::table).values(session)).await?;
        self.insert_refresh_token(new.id, &new.refresh_hash, new.created_at, new.expires_at).await
    }

    /// Stores a new refresh token of a session.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn insert_refresh_token(
        &mut self,
        session: SessionId,
        hash: &[u8; 32],
        now: Millis,
        expires_at: Millis,
    ) -> Result<()> {
        let token =
            TokenRow { token_hash: hash, session_id: session.as_bytes(), created_at: now.0, expires_at: expires_at.0 };
        self.execute(diesel::insert_into(refresh_tokens::table).values(token)).await?;
        Ok(())
    }

    /// Marks a refresh token used, if nobody has: whether this call did. (The `UPDATE` sees committed rows
    /// even where the transaction reads a snapshot, so of two concurrent claims exactly one succeeds.)
    ///
    /// # Errors
    /// Database errors only.
    pub async fn claim_refresh_token(&mut self, hash: &[u8; 32], now: Millis) -> Result<bool> {
        let unused = refresh_tokens::table.find(hash.as_slice()).filter(refresh_tokens::used_at.is_null());
        Ok(self.execute(diesel::update(unused).set(refresh_tokens::used_at.eq(now.0))).await? == 1)
    }

    /// Moves a session's expiry (each refresh starts a new period).
    ///
    /// # Errors
    /// Database errors only.
    pub async fn extend_session(&mut self, id: SessionId, expires_at: Millis) -> Result<()> {
        let session = sessions::table.find(id.as_bytes().as_slice());
        self.execute(diesel::update(session).set(sessions::expires_at.eq(expires_at.0))).await?;
        Ok(())
    }

    /// Deletes sessions (and their tokens) that expired or were revoked before `before`. Returns how many.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn purge_sessions(&mut self, before: Millis) -> Result<usize> {
        let ended = || sessions::table.filter(sessions::expires_at.lt(before.0).or(sessions::revoked_at.lt(before.0)));
        let tokens = refresh_tokens::table.filter(refresh_tokens::session_id.eq_any(ended().select(sessions::id)));
        self.execute(diesel::delete(tokens)).await?;
        self.execute(diesel::delete(ended())).await
    }
}
