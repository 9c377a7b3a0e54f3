//! Wiring: the domain services of one node, built from the database and the configuration.

use std::sync::Arc;
use std::time::Duration;

use auth::{Auth, AuthConfig};
use bus::Bus;
use storage::Db;
use tokio_util::sync::CancellationToken;

/// Everything a node needs to know, parsed once by the binary.
#[derive(Debug, Clone)]
pub struct Config {
    /// Accounts and tokens.
    pub auth: AuthConfig,
    /// Take the client's address from `x-forwarded-for` (only behind a proxy that sets it, e.g. Envoy).
    pub trust_forwarded_for: bool,
    /// How long open streams and calls get to finish after a shutdown signal.
    pub shutdown_grace: Duration,
}

impl Config {
    /// Defaults around a JWT secret.
    pub fn new(jwt_secret: Vec<u8>) -> Self {
        Self {
            auth: AuthConfig::new(jwt_secret),
            trust_forwarded_for: false,
            shutdown_grace: Duration::from_secs(10),
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
    pub(crate) config: Config,
    /// Cancelled when the node shuts down; long-lived streams end when it is.
    pub(crate) stopping: CancellationToken,
    #[allow(dead_code)]
    pub(crate) db: Db,
    #[allow(dead_code)]
    pub(crate) bus: Bus,
}

impl App {
    /// Builds the services of a node on `db`.
    ///
    /// # Errors
    /// [`Error::Config`] when a setting is unusable (e.g. a short JWT secret).
    pub fn new(db: Db, config: Config) -> Result<Self, Error> {
        let bus = Bus::default();
        let auth = Auth::new(db.clone(), bus.clone(), config.auth.clone()).map_err(|e| Error::Config(e.to_string()))?;
        Ok(Self {
            auth: Arc::new(auth),
            config,
            stopping: CancellationToken::new(),
            db,
            bus,
        })
    }
}
