//! Wiring: the domain services of one node, built from the database and the configuration.

use std::sync::Arc;
use std::time::Duration;

use auth::{Auth, AuthConfig};
use bus::Bus;
use messaging::{Messaging, MessagingConfig};
use presence::{LocalStore, Presence};
use rooms::Rooms;
use storage::Db;
use tokio_util::sync::CancellationToken;

/// Everything a node needs to know, parsed once by the binary.
#[derive(Debug, Clone)]
pub struct Config {
    /// Accounts and tokens.
    pub auth: AuthConfig,
    /// Sending and subscriptions.
    pub messaging: MessagingConfig,
    /// How long a user stays online after their last stream closes.
    pub presence_grace: Duration,
    /// Take the client's address from `x-forwarded-for` (only behind a proxy that sets it, e.g. Envoy).
    pub trust_forwarded_for: bool,
    /// How long open streams and calls get to finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// How long ended sessions are kept (so that reuse of their refresh tokens is still recognised).
    pub keep_ended_sessions: Duration,
    /// A built web app to serve at `/` (requests that are not gRPC or grpc-web).
    pub web_dir: Option<std::path::PathBuf>,
}

impl Config {
    /// Defaults around a JWT secret.
    pub fn new(jwt_secret: Vec<u8>) -> Self {
        Self {
            auth: AuthConfig::new(jwt_secret),
            messaging: MessagingConfig::default(),
            presence_grace: Duration::from_secs(5),
            trust_forwarded_for: false,
            shutdown_grace: Duration::from_secs(10),
            keep_ended_sessions: Duration::from_secs(7 * 24 * 3600),
            web_dir: None,
        }
    }
}

/// What can stop a node from starting or serving.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A domain service refused its configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The reflection service could not be built (a bug in the embedded descriptors).
    #[error("cannot build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The server failed.
    #[error("server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// One node's services.
#[derive(Debug, Clone)]
pub struct App {
    pub(crate) auth: Arc<Auth>,
    pub(crate) rooms: Rooms,
    pub(crate) messaging: Messaging,
    pub(crate) presence: Presence,
    pub(crate) config: Config,
    /// Cancelled when the node shuts down; long-lived streams and background tasks end when it is.
    pub(crate) stopping: CancellationToken,
}

impl App {
    /// Builds the services of a node on `db` and starts their background tasks. Must be called within a
    /// Tokio runtime.
    ///
    /// # Errors
    /// [`Error::Config`] when a setting is unusable (e.g. a short JWT secret).
    pub fn new(db: Db, config: Config) -> Result<Self, Error> {
        let bus = Bus::default();
        let stopping = CancellationToken::new();
        let auth = Arc::new(
            Auth::new(db.clone(), bus.clone(), config.auth.clone()).map_err(|e| Error::Config(e.to_string()))?,
        );
        let rooms = Rooms::new(db.clone(), bus.clone());
        let presence = Presence::new(
            db.clone(),
            bus.clone(),
            rooms.clone(),
            Arc::new(LocalStore::default()),
            config.presence_grace,
        );
        let messaging =
            Messaging::new(db, bus, rooms.clone(), auth.clone(), config.messaging.clone(), stopping.clone());
        spawn_session_purge(auth.clone(), config.keep_ended_sessions, stopping.clone());
        Ok(Self { auth, rooms, messaging, presence, config, stopping })
    }
}

/// Deletes long-ended sessions once an hour.
fn spawn_session_purge(auth: Arc<Auth>, keep: Duration, stopping: CancellationToken) {
    tokio::spawn(async move {
        let mut hourly = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tokio::select! {
                () = stopping.cancelled() => return,
                _ = hourly.tick() => {}
            }
            match auth.purge_ended_sessions(keep).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions = n, "purged ended sessions"),
                Err(e) => tracing::warn!(error = %e, "purging ended sessions failed"),
            }
        }
    });
}
