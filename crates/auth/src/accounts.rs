//! What the server's operator does to accounts (`parleyd admin`): create one, reset a password, disable and
//! enable, list and revoke sessions. These run outside any session and without the JWT key, usually in a
//! process of their own against the server's database.
//!
//! The rules: an operator names an account by username or email, as its owner signs in; a new account
//! passes the same checks as a registration; a password reset and a disable end every session of the
//! account (whoever held them must sign in again, and a disabled account cannot); a disabled account keeps
//! its rooms and messages. Running nodes learn of the ended sessions from storage
//! ([`crate::RevocationWatch`]) and, in a cluster, at once over NATS (the gateway's admin wiring announces
//! them).

use storage::Db;
use storage::sessions::SessionRecord;
use types::{Account, Millis, SessionId, UserId};

use crate::hashing::Hashing;
use crate::password::Hasher;
use crate::{Error, HashingConfig, Registration, check_registration, crypto, hash, insert_account, validate};

/// An account as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Managed {
    /// The account.
    pub account: Account,
    /// When it was disabled, if it is.
    pub disabled_at: Option<Millis>,
}

/// Account administration over one database.
#[derive(Debug)]
pub struct Accounts {
    db: Db,
    hashing: Hashing,
}

impl Accounts {
    /// Administration of the accounts in `db`.
    ///
    /// # Errors
    /// [`Error::Crypto`] if the password hasher cannot start.
    pub fn new(db: Db) -> Result<Self, Error> {
        Ok(Self { db, hashing: Hashing::new(Hasher::new().map_err(crypto)?, HashingConfig::default()) })
    }

    /// The account whose username or email is `login`.
    ///
    /// # Errors
    /// [`Error::UnknownUser`] when there is none.
    pub async fn find(&self, login: &str) -> Result<Managed, Error> {
        let found = self.db.read().await?.credentials_by_key(&validate::login_key(login)).await?;
        let found = found.ok_or_else(|| Error::UnknownUser(login.to_owned()))?;
        Ok(Managed { account: found.account, disabled_at: found.disabled_at })
    }

    /// Creates an account, as a registration would, without opening a session.
    ///
    /// # Errors
    /// [`Error::Invalid`] listing every malformed field; [`Error::Taken`] naming a taken username or email.
    pub async fn create(&self, r: Registration<'_>) -> Result<Account, Error> {
        check_registration(&r)?;
        let password_hash = hash(&self.hashing, r.password).await?;
        let id = UserId::new();
        let now = Millis::now();
        let account = self.db.transaction(async |tx| insert_account(tx, &r, id, &password_hash, now).await).await?;
        tracing::info!(user_id = %id, "account created by the operator");
        Ok(account)
    }

    /// Gives the account `login` a new password and ends all its sessions.
    ///
    /// # Errors
    /// [`Error::UnknownUser`]; [`Error::Invalid`] for a password of other than 8 to 128 characters.
    pub async fn reset_password(&self, login: &str, password: &str) -> Result<UserId, Error> {
        types::Violations::check(validate::password(password).into_iter().collect())?;
        let user = self.find(login).await?.account.user.id;
        let password_hash = hash(&self.hashing, password).await?;
        let now = Millis::now();
        self.db
            .transaction(async |tx| {
                tx.set_password_hash(user, &password_hash).await?;
                tx.revoke_sessions_of(user, now).await
            })
            .await?;
        tracing::info!(user_id = %user, "password reset by the operator; sessions ended");
        Ok(user)
    }

    /// Disables the account `login` and ends all its sessions: it cannot sign in or refresh until
    /// [`Accounts::enable`]. Disabling a disabled account changes nothing.
    ///
    /// # Errors
    /// [`Error::UnknownUser`].
    pub async fn disable(&self, login: &str) -> Result<UserId, Error> {
        let found = self.find(login).await?;
        let user = found.account.user.id;
        let now = Millis::now();
        self.db
            .transaction(async |tx| {
                if found.disabled_at.is_none() {
                    tx.set_disabled(user, Some(now)).await?;
                }
                // Also when it was disabled already: a session opened while it was being disabled ends too.
                tx.revoke_sessions_of(user, now).await
            })
            .await?;
        tracing::info!(user_id = %user, "account disabled by the operator; sessions ended");
        Ok(user)
    }

    /// Lets the account `login` sign in again.
    ///
    /// # Errors
    /// [`Error::UnknownUser`].
    pub async fn enable(&self, login: &str) -> Result<UserId, Error> {
        let user = self.find(login).await?.account.user.id;
        self.db.write().await?.set_disabled(user, None).await?;
        tracing::info!(user_id = %user, "account enabled by the operator");
        Ok(user)
    }

    /// The sessions of the account `login` that are kept (ended ones for a week), newest first.
    ///
    /// # Errors
    /// [`Error::UnknownUser`].
    pub async fn sessions(&self, login: &str) -> Result<(UserId, Vec<SessionRecord>), Error> {
        let user = self.find(login).await?.account.user.id;
        Ok((user, self.db.read().await?.sessions_of(user).await?))
    }

    /// Ends one session of the account `login`, or all of them.
    ///
    /// # Errors
    /// [`Error::UnknownUser`]; [`Error::NotTheirSession`] when `session` is not one of the account's.
    pub async fn revoke(&self, login: &str, session: Option<SessionId>) -> Result<UserId, Error> {
        let user = self.find(login).await?.account.user.id;
        let now = Millis::now();
        let mut conn = self.db.write().await?;
        match session {
            Some(id) => {
                let owned = conn.session_state(id).await?.is_some_and(|s| s.user_id == user);
                if !owned {
                    return Err(Error::NotTheirSession);
                }
                conn.revoke_session(id, now).await?;
            }
            None => conn.revoke_sessions_of(user, now).await?,
        }
        tracing::info!(user_id = %user, session_id = ?session, "sessions revoked by the operator");
        Ok(user)
    }
}
