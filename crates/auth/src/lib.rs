//! Accounts and sessions: registration, password storage, login with throttling, access and refresh
//! tokens, logout, and resolving a bearer token into the caller's [`Identity`].
//!
//! The rules (what a valid username is, how tokens rotate, when a session ends) live here and are tested
//! here and end to end; the gateway only converts requests and calls [`Auth`]. This crate never sees gRPC
//! types, and never stores a password, a refresh token or key material in clear.
//!
//! [`Accounts`] holds the server operator's rules (`parleyd admin`): creating accounts, resetting passwords,
//! disabling and enabling, revoking sessions. [`RevocationWatch`] is how a node learns of sessions ended by
//! another process.
//!
//! Errors: every function returns [`Error`], which maps to the shared error codes through
//! [`types::DomainError`].

mod accounts;
mod hashing;
mod password;
mod revocations;
mod session_cache;
mod throttle;
mod tokens;
mod validate;

use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use bus::{Bus, Event, Topic};
use storage::Db;
use storage::sessions::NewSession;
use storage::users::NewUser;
use types::{Account, DomainError, ErrorCode, FieldViolation, Millis, Reason, SessionId, User, UserId, Violations};

pub use accounts::{Accounts, Managed};
pub use hashing::HashingConfig;
pub use revocations::RevocationWatch;
pub use storage::sessions::SessionRecord;
pub use throttle::ThrottleConfig;

use hashing::Hashing;
use password::{Hasher, Verified};
use session_cache::SessionCache;
use tokens::{Keys, Refused};

/// The other nodes of a cluster, as login throttling sees them: told of every attempt this node counts as
/// a failure and of every success, so that the failure windows hold across nodes. (The cluster transport
/// implements it.) An attempt is shared when it is counted, before its password is checked, so that
/// attempts spread over nodes at once are held back as they would be on one node, give or take one trip
/// between nodes.
pub trait Peers: Send + Sync + std::fmt::Debug + 'static {
    /// An attempt on `account` (its login key) from `address` counts as a failure.
    fn login_failed(&self, account: &str, address: Option<IpAddr>);
    /// A login on `account` from `address` succeeded.
    fn login_succeeded(&self, account: &str, address: Option<IpAddr>);
}

/// How the auth service behaves.
#[derive(Clone)]
pub struct AuthConfig {
    /// The HMAC key that signs access tokens. At least 32 bytes. Every node of one deployment needs the
    /// same key.
    pub jwt_secret: Vec<u8>,
    /// The `iss` claim written and required.
    pub issuer: String,
    /// The `aud` claim written and required.
    pub audience: String,
    /// How long an access token is accepted.
    pub access_token_ttl: Duration,
    /// How long a refresh token is accepted (each refresh starts a new period).
    pub refresh_token_ttl: Duration,
    /// Limits on failed logins.
    pub throttle: ThrottleConfig,
    /// How much password hashing may happen at once.
    pub hashing: HashingConfig,
    /// How long a node trusts its knowledge that a session is live before asking the database again, and how
    /// often it looks for sessions revoked elsewhere ([`RevocationWatch`]): the longest a logout on another
    /// node, or a revocation by `parleyd admin`, takes to reach this one without the cluster's help.
    pub session_check_interval: Duration,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("jwt_secret", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("throttle", &self.throttle)
            .field("hashing", &self.hashing)
            .field("session_check_interval", &self.session_check_interval)
            .finish()
    }
}

impl AuthConfig {
    /// Defaults around `jwt_secret`: 15-minute access tokens, 30-day refresh tokens.
    pub fn new(jwt_secret: Vec<u8>) -> Self {
        Self {
            jwt_secret,
            issuer: "parley".into(),
            audience: "parley".into(),
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            throttle: ThrottleConfig::default(),
            hashing: HashingConfig::default(),
            session_check_interval: Duration::from_secs(2),
        }
    }
}

/// The credentials of one session.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    /// The JWT.
    pub access_token: String,
    /// When it expires.
    pub access_token_expires_at: Millis,
    /// The opaque refresh token.
    pub refresh_token: String,
    /// When it expires.
    pub refresh_token_expires_at: Millis,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token_expires_at", &self.access_token_expires_at)
            .field("refresh_token_expires_at", &self.refresh_token_expires_at)
            .finish_non_exhaustive()
    }
}

/// Who is calling: resolved from the access token on every authenticated call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The caller.
    pub user_id: UserId,
    /// The session the access token belongs to.
    pub session_id: SessionId,
}

/// A registration request.
#[derive(Clone, Copy)]
pub struct Registration<'a> {
    /// 3 to 32 letters, digits, '_', '-', '.'.
    pub username: &'a str,
    /// A plausible address.
    pub email: &'a str,
    /// 8 to 128 characters.
    pub password: &'a str,
    /// Up to 64 characters; empty for the username.
    pub display_name: &'a str,
}

impl std::fmt::Debug for Registration<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("display_name", &self.display_name)
            .finish_non_exhaustive()
    }
}

/// Which sessions a logout ends.
#[derive(Clone, Copy)]
pub enum LogoutScope<'a> {
    /// The session of the access token used for the call.
    ThisSession,
    /// The session that this refresh token belongs to (one of the caller's).
    Session(&'a str),
    /// All of the caller's sessions.
    AllSessions,
}

impl std::fmt::Debug for LogoutScope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::ThisSession => "ThisSession",
            Self::Session(_) => "Session(<refresh token>)",
            Self::AllSessions => "AllSessions",
        })
    }
}

/// What can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Some fields are malformed.
    #[error(transparent)]
    Invalid(#[from] Violations),
    /// The username or email belongs to another account.
    #[error("{0} is already taken")]
    Taken(&'static str),
    /// Unknown login or wrong password: deliberately the same error.
    #[error("unknown username or email, or wrong password")]
    BadCredentials,
    /// Too many failed logins.
    #[error("too many failed sign-in attempts; try again in {} s", retry_after.as_secs().max(1))]
    Throttled {
        /// When to try again.
        retry_after: Duration,
    },
    /// Too many passwords are being checked at once on this server.
    #[error("the server is busy checking passwords; try again in a second")]
    Busy,
    /// No authorization metadata.
    #[error("missing credentials: send the metadata \"authorization: Bearer <access_token>\"")]
    MissingCredentials,
    /// Authorization metadata that is not a bearer token.
    #[error("malformed credentials: the authorization metadata must be \"Bearer <access_token>\"")]
    MalformedCredentials,
    /// The access token expired.
    #[error("access token has expired; get a new one with RefreshToken")]
    TokenExpired,
    /// The access token is forged, corrupted, for another audience, or signed with another key.
    #[error("access token is invalid; sign in again")]
    TokenInvalid,
    /// The access token's session was logged out or revoked.
    #[error("session has ended; sign in again")]
    SessionEnded,
    /// The refresh token is unknown, expired or of an ended session.
    #[error("refresh token is invalid, expired or revoked; sign in again")]
    RefreshRejected,
    /// The refresh token had been used before, so the session was ended.
    #[error("refresh token was already used, so its session has been ended to protect it; sign in again")]
    RefreshReused,
    /// The refresh token given to Logout is not one of the caller's sessions.
    #[error("no session of yours has this refresh token")]
    UnknownSession,
    /// The account was disabled by the server's operator.
    #[error("this account is disabled; ask the server's operator")]
    AccountDisabled,
    /// An operator named a session that is not one of the account's.
    #[error("the account has no session with that id")]
    NotTheirSession,
    /// An operator named an account that does not exist.
    #[error("no account has the username or email {0:?}")]
    UnknownUser(String),
    /// A bug or a resource failure in hashing or signing.
    #[error("crypto failure: {0}")]
    Crypto(String),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
}

impl DomainError for Error {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::InvalidArgument,
            Self::Taken(_) => ErrorCode::AlreadyExists,
            Self::Throttled { .. } | Self::Busy => ErrorCode::ResourceExhausted,
            Self::BadCredentials
            | Self::MissingCredentials
            | Self::MalformedCredentials
            | Self::TokenExpired
            | Self::TokenInvalid
            | Self::SessionEnded
            | Self::RefreshRejected
            | Self::RefreshReused => ErrorCode::Unauthenticated,
            Self::UnknownSession | Self::NotTheirSession | Self::UnknownUser(_) => ErrorCode::NotFound,
            Self::AccountDisabled => ErrorCode::PermissionDenied,
            Self::Crypto(_) => ErrorCode::Internal,
            Self::Storage(e) => e.code(),
        }
    }

    fn reason(&self) -> Reason {
        match self {
            Self::Invalid(_) => Reason::FieldInvalid,
            Self::Taken("username") => Reason::UsernameTaken,
            Self::Taken(_) => Reason::EmailTaken,
            Self::BadCredentials => Reason::BadCredentials,
            Self::Throttled { .. } => Reason::LoginThrottled,
            Self::Busy => Reason::Overloaded,
            Self::MissingCredentials => Reason::CredentialsMissing,
            Self::MalformedCredentials => Reason::CredentialsMalformed,
            Self::TokenExpired => Reason::TokenExpired,
            Self::TokenInvalid => Reason::TokenInvalid,
            Self::SessionEnded => Reason::SessionEnded,
            Self::RefreshRejected => Reason::RefreshTokenInvalid,
            Self::RefreshReused => Reason::RefreshTokenReused,
            Self::UnknownSession | Self::NotTheirSession => Reason::SessionNotFound,
            Self::AccountDisabled => Reason::AccountDisabled,
            Self::UnknownUser(_) => Reason::UserNotFound,
            Self::Crypto(_) => Reason::Internal,
            Self::Storage(e) => e.reason(),
        }
    }

    fn field_violations(&self) -> &[FieldViolation] {
        match self {
            Self::Invalid(v) => v.as_slice(),
            _ => &[],
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after } => Some(*retry_after),
            Self::Busy => Some(Duration::from_secs(1)),
            _ => None,
        }
    }
}

/// The auth service. One per node; share it behind an `Arc`.
#[derive(Debug)]
pub struct Auth {
    db: Db,
    bus: Bus,
    hashing: Hashing,
    keys: Keys,
    access_ttl: Duration,
    refresh_ttl: Duration,
    throttle: Mutex<Throttle>,
    sessions: SessionCache,
    peers: OnceLock<Arc<dyn Peers>>,
}

use throttle::Throttle;

impl Auth {
    /// The service.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a secret shorter than 32 bytes; [`Error::Crypto`] if the hasher cannot start.
    pub fn new(db: Db, bus: Bus, config: AuthConfig) -> Result<Self, Error> {
        if config.jwt_secret.len() < 32 {
            return Err(Violations::from(FieldViolation::new("jwt_secret", "must be at least 32 bytes")).into());
        }
        Ok(Self {
            db,
            bus,
            hashing: Hashing::new(Hasher::new().map_err(crypto)?, config.hashing),
            keys: Keys::new(&config.jwt_secret, &config.issuer, &config.audience),
            access_ttl: config.access_token_ttl,
            refresh_ttl: config.refresh_token_ttl,
            throttle: Mutex::new(Throttle::new(config.throttle)),
            sessions: SessionCache::new(config.session_check_interval),
            peers: OnceLock::new(),
        })
    }

    /// Tells `peers` of the failed and successful logins from now on (once; later calls are ignored).
    pub fn share_with(&self, peers: Arc<dyn Peers>) {
        let _ = self.peers.set(peers);
    }

    /// Another node counted an attempt on `account` (its login key) from `address` as a failure.
    pub fn login_failed_elsewhere(&self, account: &str, address: Option<IpAddr>) {
        self.lock_throttle().count(account, address, Instant::now());
    }

    /// A login on `account` from `address` succeeded on another node.
    pub fn login_succeeded_elsewhere(&self, account: &str, address: Option<IpAddr>) {
        self.lock_throttle().succeeded(account, address);
    }

    /// Another node revoked sessions of `user` (one, or all of them): this node refuses them at once too,
    /// instead of when its cache of session checks expires.
    pub fn sessions_ended_elsewhere(&self, user_id: UserId, session: Option<SessionId>) {
        let now = Instant::now();
        match session {
            Some(id) => self.sessions.put(id, user_id, false, now),
            None => self.sessions.end_all_of(user_id, now),
        }
    }

    /// Records on this node that sessions ended, and tells their open streams (on every node, through the
    /// bus).
    fn ended(&self, user_id: UserId, session: Option<SessionId>) {
        self.sessions_ended_elsewhere(user_id, session);
        self.bus.publish(Topic::User(user_id), Event::SessionsRevoked { session });
    }

    /// Creates an account and opens its first session.
    ///
    /// # Errors
    /// [`Error::Invalid`] listing every malformed field; [`Error::Taken`] naming the taken username or email.
    pub async fn register(&self, r: Registration<'_>) -> Result<(Account, Tokens), Error> {
        check_registration(&r)?;
        let password_hash = hash(&self.hashing, r.password).await?;
        let now = Millis::now();
        let id = UserId::new();
        let (session, refresh) = self.new_session(id, now);
        let account = self
            .db
            .transaction(async |tx| {
                let account = insert_account(tx, &r, id, &password_hash, now).await?;
                tx.insert_session(&session).await?;
                Ok::<_, Error>(account)
            })
            .await?;
        tracing::info!(user_id = %id, "registered");
        Ok((account, self.tokens(id, &session, refresh, now)?))
    }

    /// Opens a session for the account whose username or email is `login`.
    ///
    /// # Errors
    /// [`Error::BadCredentials`] for an unknown account or a wrong password alike (both take one password
    /// verification); [`Error::Throttled`] after too many failures.
    pub async fn login(&self, login: &str, password: &str, source: Option<IpAddr>) -> Result<(Account, Tokens), Error> {
        // Sizes first, before anything is normalised, looked up or hashed.
        Violations::check([validate::login(login), validate::password_size(password)].into_iter().flatten().collect())?;
        let key = validate::login_key(login);
        // The attempt counts as a failure from now until it turns out otherwise, so that concurrent attempts
        // cannot all get past the throttle before any of them is verified.
        let reservation = self.lock_throttle().reserve(&key, source, Instant::now()).map_err(|retry_after| {
            tracing::info!(?source, "login throttled");
            Error::Throttled { retry_after }
        })?;
        let peers = self.peers.get();
        if let Some(peers) = peers {
            peers.login_failed(&key, source);
        }
        let checked = self.check_password(&key, password).await;
        if !matches!(checked, Err(Error::BadCredentials)) {
            self.lock_throttle().release(reservation, checked.is_ok());
            // An attempt that was never checked (the hashers were busy) stays counted on other nodes: rare,
            // and it errs on the side of caution.
            if let (Some(peers), true) = (peers, checked.is_ok()) {
                peers.login_succeeded(&key, source);
            }
        }
        let (found, verdict) = checked?;
        let user_id = found.account.user.id;
        // Told only to whoever knows the password: to anyone else a disabled account is a wrong password.
        if found.disabled_at.is_some() {
            tracing::info!(%user_id, "sign-in refused: the account is disabled");
            return Err(Error::AccountDisabled);
        }
        let now = Millis::now();
        let mut conn = self.db.write().await?;
        if verdict == Verified::YesButRehash {
            let upgraded = hash(&self.hashing, password).await?;
            conn.set_password_hash(user_id, &upgraded).await?;
            tracing::info!(%user_id, "upgraded password hash parameters");
        }
        let (session, refresh) = self.new_session(user_id, now);
        conn.transaction(async |tx| tx.insert_session(&session).await).await?;
        drop(conn);
        tracing::info!(%user_id, session_id = %session.id, "signed in");
        let tokens = self.tokens(user_id, &session, refresh, now)?;
        Ok((found.account, tokens))
    }

    /// Exchanges a refresh token for new tokens of the same session.
    ///
    /// # Errors
    /// [`Error::RefreshRejected`] for an unknown, expired or revoked token; [`Error::RefreshReused`] for a
    /// token used before, in which case the whole session is now revoked.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, Error> {
        if !tokens::looks_like_refresh_token(refresh_token) {
            return Err(Error::RefreshRejected);
        }
        let presented = tokens::hash_refresh_token(refresh_token);
        let (next, next_hash) = tokens::new_refresh_token();
        let now = Millis::now();
        let expires_at = now.plus(self.refresh_ttl);
        let rotation =
            self.db.transaction(async |tx| rotate(tx, &presented, &next_hash, now, expires_at).await).await?;
        match rotation {
            Rotation::Rotated { session_id, user_id } => {
                let access_expires = now.plus(self.access_ttl);
                Ok(Tokens {
                    access_token: self.keys.issue(user_id, session_id, now, access_expires).map_err(crypto)?,
                    access_token_expires_at: access_expires,
                    refresh_token: next,
                    refresh_token_expires_at: expires_at,
                })
            }
            Rotation::Reused { session_id, user_id } => {
                tracing::warn!(%user_id, %session_id, "refresh token reused; session revoked");
                self.ended(user_id, Some(session_id));
                Err(Error::RefreshReused)
            }
            Rotation::Rejected => Err(Error::RefreshRejected),
            Rotation::Disabled => Err(Error::AccountDisabled),
        }
    }

    /// Ends sessions of the caller.
    ///
    /// # Errors
    /// [`Error::UnknownSession`] when a refresh token names no session of the caller.
    pub async fn logout(&self, who: &Identity, scope: LogoutScope<'_>) -> Result<(), Error> {
        let now = Millis::now();
        let mut conn = self.db.write().await?;
        let ended = match scope {
            LogoutScope::ThisSession => {
                conn.revoke_session(who.session_id, now).await?;
                Some(who.session_id)
            }
            LogoutScope::Session(token) => {
                let found = conn.refresh_token(&tokens::hash_refresh_token(token)).await?;
                // Only the caller's own sessions: anyone else's is "not found", whatever the token.
                let Some(token) = found.filter(|t| t.user_id == who.user_id) else {
                    return Err(Error::UnknownSession);
                };
                conn.revoke_session(token.session_id, now).await?;
                Some(token.session_id)
            }
            LogoutScope::AllSessions => {
                conn.revoke_sessions_of(who.user_id, now).await?;
                None
            }
        };
        drop(conn);
        tracing::info!(user_id = %who.user_id, session_id = ?ended, "signed out");
        self.ended(who.user_id, ended);
        Ok(())
    }

    /// The caller's account.
    ///
    /// # Errors
    /// [`Error::SessionEnded`] if the account is gone.
    pub async fn me(&self, who: &Identity) -> Result<Account, Error> {
        let found = self.db.read().await?.credentials(who.user_id).await?;
        Ok(found.ok_or(Error::SessionEnded)?.account)
    }

    /// Resolves the value of an `authorization` metadata entry into the caller's identity.
    ///
    /// # Errors
    /// [`Error::MissingCredentials`], [`Error::MalformedCredentials`], [`Error::TokenExpired`],
    /// [`Error::TokenInvalid`] (forged, wrong key or audience, `alg: none`…) or [`Error::SessionEnded`].
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Identity, Error> {
        let value = authorization.ok_or(Error::MissingCredentials)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(Error::MalformedCredentials)?;
        let (user_id, session_id) = self.keys.verify(token).map_err(|r| match r {
            Refused::Expired => Error::TokenExpired,
            Refused::Invalid => Error::TokenInvalid,
        })?;
        let identity = Identity { user_id, session_id };
        if self.session_is_live(&identity).await? { Ok(identity) } else { Err(Error::SessionEnded) }
    }

    /// Whether the identity's session is still live (checked against the database at most once per
    /// `session_check_interval`). Long-lived streams call this periodically.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn session_is_live(&self, who: &Identity) -> Result<bool, Error> {
        let now = Instant::now();
        if let Some((user, live)) = self.sessions.get(who.session_id, now) {
            return Ok(live && user == who.user_id);
        }
        let state = self.db.read().await?.session_state(who.session_id).await?;
        let live = state.is_some_and(|s| s.user_id == who.user_id && s.is_live(Millis::now()));
        self.sessions.put(who.session_id, who.user_id, live, now);
        Ok(live)
    }

    /// Deletes sessions that ended more than `keep` ago. Returns how many.
    ///
    /// # Errors
    /// Database errors only.
    pub async fn purge_ended_sessions(&self, keep: Duration) -> Result<usize, Error> {
        let before = Millis(Millis::now().0 - i64::try_from(keep.as_millis()).unwrap_or(i64::MAX));
        Ok(self.db.transaction(async |tx| tx.purge_sessions(before).await).await?)
    }

    fn new_session(&self, user_id: UserId, now: Millis) -> (NewSession, String) {
        let (refresh, refresh_hash) = tokens::new_refresh_token();
        let session = NewSession {
            id: SessionId::new(),
            user_id,
            refresh_hash,
            created_at: now,
            expires_at: now.plus(self.refresh_ttl),
        };
        (session, refresh)
    }

    fn tokens(&self, user_id: UserId, session: &NewSession, refresh: String, now: Millis) -> Result<Tokens, Error> {
        let access_expires = now.plus(self.access_ttl);
        Ok(Tokens {
            access_token: self.keys.issue(user_id, session.id, now, access_expires).map_err(crypto)?,
            access_token_expires_at: access_expires,
            refresh_token: refresh,
            refresh_token_expires_at: session.expires_at,
        })
    }

    /// The credentials of the account whose login key is `key`, if `password` is theirs; an unknown account
    /// takes the same work as a wrong password.
    async fn check_password(
        &self,
        key: &str,
        password: &str,
    ) -> Result<(storage::users::Credentials, Verified), Error> {
        let found = self.db.read().await?.credentials_by_key(key).await?;
        let verdict = self.verify(password, found.as_ref().map(|c| c.password_hash.clone())).await?;
        match found {
            Some(found) if verdict != Verified::No => Ok((found, verdict)),
            _ => Err(Error::BadCredentials),
        }
    }

    async fn verify(&self, password: &str, phc: Option<String>) -> Result<Verified, Error> {
        let password = password.to_owned();
        let work = move |hasher: &Hasher| match phc {
            Some(phc) => hasher.verify(&password, &phc),
            None => hasher.verify_dummy(&password),
        };
        self.hashing.run(work).await.map_err(refused)
    }

    fn lock_throttle(&self) -> std::sync::MutexGuard<'_, Throttle> {
        self.throttle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The result of presenting a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rotation {
    /// The token was the session's current one: it is now used, and the new token replaces it.
    Rotated { session_id: SessionId, user_id: UserId },
    /// The token had been used before: the session is now revoked.
    Reused { session_id: SessionId, user_id: UserId },
    /// The token is unknown, expired, or belongs to a revoked session.
    Rejected,
    /// The token's account is disabled (its sessions were revoked when it was).
    Disabled,
}

/// Presents the refresh token whose hash is `presented`, in `tx`: if it is its session's current token, it
/// is marked used and `next` takes its place; if it was used before, two parties hold the session's tokens,
/// so the session is revoked (theft detection). Two concurrent presentations of one token cannot both
/// rotate: the claim lets one through, and the other counts as reuse.
async fn rotate(
    tx: &mut storage::Tx<'_>,
    presented: &[u8; 32],
    next: &[u8; 32],
    now: Millis,
    next_expires_at: Millis,
) -> Result<Rotation, storage::Error> {
    let Some(token) = tx.refresh_token(presented).await? else {
        return Ok(Rotation::Rejected);
    };
    let (session_id, user_id) = (token.session_id, token.user_id);
    if token.user_disabled {
        return Ok(Rotation::Disabled);
    }
    if token.session_revoked {
        return Ok(Rotation::Rejected);
    }
    if token.used_at.is_none() && token.expires_at <= now {
        // Simply expired: nothing suspicious.
        return Ok(Rotation::Rejected);
    }
    // The expiry is decided from the row first, then the claim: a claim that changes nothing means the token
    // was used, seen by our read or claimed by a concurrent call after it (MySQL reads a snapshot, but the
    // UPDATE sees the committed row). Either way it was presented twice.
    let claimed = token.used_at.is_none() && tx.claim_refresh_token(presented, now).await?;
    if !claimed {
        tx.revoke_session(session_id, now).await?;
        return Ok(Rotation::Reused { session_id, user_id });
    }
    tx.insert_refresh_token(session_id, next, now, next_expires_at).await?;
    tx.extend_session(session_id, next_expires_at).await?;
    Ok(Rotation::Rotated { session_id, user_id })
}

/// Checks every field of a registration at once.
fn check_registration(r: &Registration<'_>) -> Result<(), Error> {
    let violations = [
        validate::username(r.username),
        validate::email(r.email),
        validate::password(r.password),
        validate::display_name(r.display_name),
    ];
    Ok(Violations::check(violations.into_iter().flatten().collect())?)
}

/// Stores the account that `r` (checked, its password hashed into `password_hash`) describes, in `tx`.
async fn insert_account(
    tx: &mut storage::Tx<'_>,
    r: &Registration<'_>,
    id: UserId,
    password_hash: &str,
    now: Millis,
) -> Result<Account, Error> {
    let display_name = if r.display_name.trim().is_empty() { r.username } else { r.display_name };
    let user = NewUser {
        id,
        username: r.username,
        username_key: &types::text::username_key(r.username),
        email: r.email,
        email_key: &validate::email_key(r.email),
        display_name,
        password_hash,
        created_at: now,
    };
    tx.insert_user(&user).await.map_err(|e| match e {
        storage::Error::AlreadyExists(what) => Error::Taken(what),
        other => Error::Storage(other),
    })?;
    let user = User { id, username: r.username.to_owned(), display_name: display_name.to_owned(), created_at: now };
    Ok(Account { user, email: r.email.to_owned() })
}

/// `password` hashed by `hashing` (argon2id, on the blocking pool).
async fn hash(hashing: &Hashing, password: &str) -> Result<String, Error> {
    let password = password.to_owned();
    hashing.run(move |hasher| hasher.hash(&password)).await.map_err(refused)?.map_err(crypto)
}

fn refused(r: hashing::Refused) -> Error {
    match r {
        hashing::Refused::Busy => Error::Busy,
        hashing::Refused::Failed(e) => Error::Crypto(e),
    }
}

fn crypto(e: impl std::fmt::Display) -> Error {
    Error::Crypto(e.to_string())
}
