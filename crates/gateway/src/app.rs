//! Wiring: the domain services of one node, built from the database and the configuration.

use std::sync::Arc;
use std::time::Duration;

use auth::{Auth, AuthConfig};
use bus::Bus;
use messaging::{Messaging, MessagingConfig};
use presence::{LocalStore, Presence};
use rooms::Rooms;
use storage::Db;
use tasks::Supervisor;
use tokio_util::sync::CancellationToken;

/// Limits on what one connection or call may take, each a flag of parleyd's (see the README's Security
/// section for the defaults and why).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportLimits {
    /// HTTP/2 streams (calls) open at once on one connection.
    pub max_concurrent_streams: u32,
    /// Streams a client may make the server reset (a protocol error) before the connection is closed.
    pub max_local_error_resets: usize,
    /// Largest request message, in bytes.
    pub max_request_bytes: usize,
    /// Largest header list of a request, in bytes.
    pub max_header_list_bytes: u32,
    /// Open connections at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// How long a unary call may take before it fails with DEADLINE_EXCEEDED.
    pub request_timeout: Duration,
}

impl Default for TransportLimits {
    fn default() -> Self {
        Self {
            max_concurrent_streams: 128,
            max_local_error_resets: 1024,
            max_request_bytes: 128 * 1024,
            max_header_list_bytes: 16 * 1024,
            max_connections: 20_000,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Serving over TLS: the server's certificate chain and key, and optionally the CA that client
/// certificates must be signed by (then every client must present one).
#[derive(Clone)]
pub struct TlsConfig {
    /// The certificate chain, PEM.
    pub cert_pem: Vec<u8>,
    /// The private key, PEM.
    pub key_pem: Vec<u8>,
    /// The CA of client certificates, PEM; `None` asks for none.
    pub client_ca_pem: Option<Vec<u8>>,
}

impl TlsConfig {
    /// Builds the TLS settings once, so that a certificate, key or CA that cannot be used (not PEM, a key
    /// that does not match the certificate, a CA file without a certificate) fails at start-up, before
    /// the node says it is listening.
    ///
    /// # Errors
    /// [`Error::Config`] saying what is wrong.
    pub fn check(&self) -> Result<(), Error> {
        match tonic::transport::Server::builder().tls_config(crate::server::server_tls(self)) {
            Ok(_) => Ok(()),
            Err(e) => {
                let mut reason = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    reason = format!("{reason}: {cause}");
                    source = cause.source();
                }
                Err(Error::Config(format!("unusable TLS certificate, key or client CA: {reason}")))
            }
        }
    }
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig").field("client_certificates", &self.client_ca_pem.is_some()).finish_non_exhaustive()
    }
}

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
    /// What one connection or call may take.
    pub transport: TransportLimits,
    /// Request rate limits per user and per address.
    pub rates: limits::RateConfig,
    /// TLS, or plaintext when `None`.
    pub tls: Option<TlsConfig>,
    /// How often readiness (`grpc.health.v1`) checks that the database answers.
    pub health_check_interval: Duration,
    /// The cluster this node is one of, or `None` for a single node with the in-process bus.
    pub cluster: Option<cluster::ClusterConfig>,
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
            transport: TransportLimits::default(),
            rates: limits::RateConfig::default(),
            tls: None,
            health_check_interval: Duration::from_secs(2),
            cluster: None,
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
    /// The server failed, or its TLS configuration is unusable.
    #[error("server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
    /// The cluster link cannot be set up.
    #[error(transparent)]
    Cluster(#[from] cluster::Error),
    /// A background task kept failing and was given up on.
    #[error("the background task {0:?} kept failing; stopping so that a supervisor can restart the node")]
    TaskFailed(&'static str),
    /// An operator's command on accounts failed.
    #[error(transparent)]
    Auth(#[from] auth::Error),
    /// An operator's command on rooms failed.
    #[error(transparent)]
    Rooms(#[from] rooms::Error),
}

/// One node's services.
#[derive(Debug, Clone)]
pub struct App {
    pub(crate) db: Db,
    pub(crate) auth: Arc<Auth>,
    pub(crate) rooms: Rooms,
    pub(crate) messaging: Messaging,
    pub(crate) presence: Presence,
    pub(crate) rates: Arc<limits::RateLimits>,
    pub(crate) config: Config,
    /// Cancelled when the node shuts down; long-lived streams and background tasks end when it is.
    pub(crate) stopping: CancellationToken,
    /// Owns the node's background tasks; `serve` stops with an error if one keeps failing.
    pub(crate) supervisor: Supervisor,
    /// This node's end of the cluster, if it is in one.
    pub(crate) cluster: Option<cluster::Cluster>,
    /// What the node counts and measures (served by [`crate::serve_metrics`]).
    pub(crate) metrics: metrics::Metrics,
}

impl App {
    /// Builds the services of a node on `db` and starts their background tasks. Must be called within a
    /// Tokio runtime.
    ///
    /// # Errors
    /// [`Error::Config`] when a setting is unusable (e.g. a short JWT secret, or a TLS key that does not
    /// match its certificate).
    pub fn new(db: Db, config: Config) -> Result<Self, Error> {
        if let Some(tls) = &config.tls {
            tls.check()?;
        }
        let (bus, uplink) = match &config.cluster {
            Some(_) => {
                let (bus, uplink) = Bus::clustered(bus::Capacity::default(), UPLINK_BACKLOG);
                (bus, Some(uplink))
            }
            None => (Bus::default(), None),
        };
        let metrics = metrics::Metrics::new(config.cluster.is_some());
        let db = db.with_metrics(metrics.storage());
        let stopping = CancellationToken::new();
        let supervisor = Supervisor::new(stopping.clone());
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
            metrics.presence(),
        );
        let messaging = Messaging::new(
            db.clone(),
            bus.clone(),
            rooms.clone(),
            auth.clone(),
            config.messaging.clone(),
            metrics.messaging(),
            &supervisor,
        );
        spawn_session_purge(auth.clone(), config.keep_ended_sessions, &supervisor);
        spawn_revocation_watch(auth.clone(), config.auth.session_check_interval, &supervisor);
        let rates = Arc::new(limits::RateLimits::new(&config.rates));
        spawn_rate_sweep(rates.clone(), &supervisor);
        let cluster_config = config.cluster.clone();
        let cluster_metrics = metrics.cluster();
        let mut app =
            Self { db, auth, rooms, messaging, presence, rates, config, stopping, supervisor, cluster: None, metrics };
        if let (Some(cluster_config), Some(uplink)) = (cluster_config, uplink) {
            let (cluster, inbound) =
                cluster::Cluster::start(cluster_config, bus, uplink, cluster_metrics, &app.supervisor)?;
            crate::peers::share(&app, &cluster);
            crate::peers::route(&app, inbound);
            app.cluster = Some(cluster);
        }
        Ok(app)
    }
}

/// Events for other nodes that may wait for the NATS connection before new ones are dropped.
const UPLINK_BACKLOG: usize = 16_384;

/// Forgets rate-limit state of subjects that are idle again, once a minute (memory stays bounded however
/// many addresses call).
fn spawn_rate_sweep(rates: Arc<limits::RateLimits>, supervisor: &Supervisor) {
    supervisor.spawn_every("rate-limit sweep", Duration::from_secs(60), move || {
        rates.sweep();
        std::future::ready(())
    });
}

/// Ends, on this node, the sessions revoked elsewhere (another node, or `parleyd admin`), every `every`
/// (see `auth::RevocationWatch`).
fn spawn_revocation_watch(auth: Arc<Auth>, every: Duration, supervisor: &Supervisor) {
    supervisor.spawn("revocation watch", move || {
        let auth = auth.clone();
        async move {
            let mut watch = auth::RevocationWatch::new();
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match auth.watch_revocations(&mut watch).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(sessions = n, "ended sessions revoked elsewhere"),
                    Err(e) => tracing::warn!(error = %e, "looking for revoked sessions failed; will retry"),
                }
            }
        }
    });
}

/// Deletes long-ended sessions once an hour.
fn spawn_session_purge(auth: Arc<Auth>, keep: Duration, supervisor: &Supervisor) {
    supervisor.spawn_every("session purge", Duration::from_secs(3600), move || {
        let auth = auth.clone();
        async move {
            match auth.purge_ended_sessions(keep).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions = n, "purged ended sessions"),
                Err(e) => tracing::warn!(error = %e, "purging ended sessions failed"),
            }
        }
    });
}
