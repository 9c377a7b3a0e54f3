//! Several nodes that behave as one, over NATS (core NATS only: no JetStream is needed).
//!
//! - **The bus across nodes.** A node publishes each event of its bus that other nodes need once, on the
//!   subject of its topic (`P.room.<id>`, `P.user.<id>`), and takes in every other node's events through one
//!   wildcard subscription, handing those of topics with local subscribers to its bus ([`bus::Bus::inject`]).
//!   Events stay hints: subscribers still deliver only `cursor + 1`, and the tail check stays the safety net.
//! - **Each node's shared state** ([`Change`]: which users are connected to it and how, how many streams
//!   each has open there). A node numbers the changes of its state and publishes each one; it publishes a
//!   heartbeat with its current version every `heartbeat`. A node that misses a change (a gap in the
//!   numbers, or a heartbeat with a version it does not have) asks for a snapshot. A node not heard from
//!   for `node_timeout` is forgotten: its users and streams disappear from everyone's view. The domain
//!   crates turn these into cluster-wide presence and stream limits.
//! - **Counts** ([`Count`]): requests allowed and failed logins, published as they happen, so that every
//!   node charges them against its own limits too.
//!
//! When NATS is down, nothing here blocks a caller: what cannot be sent is dropped (counted and logged),
//! peers are forgotten after the node timeout, and the connection is retried for ever. When it comes back,
//! heartbeats make every node ask the others for snapshots, and real-time delivery resumes.
//!
//! **Never:** know the rules (who is online, what a limit is); block the bus; be needed for correctness
//! (storage is the truth, every message is a hint or is repeated).

mod peers;
mod wire;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bus::{Bus, Uplink};
use bytes::Bytes;
use futures::StreamExt as _;
use tasks::Supervisor;
use tokio::sync::{mpsc, watch};
use types::{NodeId, SessionId, UserId};

use wire::{Addressed, Beat, Delta, Envelope, Snapshot, State, Subjects, WireEvent};
pub use wire::{Change, Count};

/// How a node reaches the others.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The NATS server(s): `nats://[user:password@]host:port` (or `tls://…`), several separated by commas.
    pub url: String,
    /// The first token of every subject, so that several clusters can share one NATS.
    pub prefix: String,
    /// How often the node says it is alive.
    pub heartbeat: Duration,
    /// How long a node may be silent before the others forget it (at least two heartbeats).
    pub node_timeout: Duration,
    /// Trust this CA (PEM) for the server's certificate; turns TLS on.
    pub ca: Option<PathBuf>,
    /// Present this client certificate and key (PEM) to the server.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// A NATS credentials file (JWT and NKey seed).
    pub creds: Option<PathBuf>,
}

impl ClusterConfig {
    /// Defaults around a URL: prefix `parley`, a heartbeat a second, forgotten after three missed.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "parley".into(),
            heartbeat: Duration::from_secs(1),
            node_timeout: Duration::from_secs(3),
            ca: None,
            client_cert: None,
            creds: None,
        }
    }
}

/// What can go wrong in this crate (for a node, only at start: afterwards failures are logged and retried).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot work.
    #[error("invalid cluster configuration: {0}")]
    Config(String),
    /// [`announce`] could not reach NATS or publish.
    #[error("cannot tell the cluster over NATS: {0}")]
    Unreachable(String),
}

impl types::DomainError for Error {
    fn code(&self) -> types::ErrorCode {
        types::ErrorCode::Internal
    }

    fn reason(&self) -> types::Reason {
        types::Reason::Internal
    }
}

/// The state of the link to NATS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Not connected yet, or connecting again.
    Connecting,
    /// Connected: events cross nodes in real time.
    Connected,
    /// The connection was lost; it is being retried. Nodes serve on; messages cross through the tail check.
    Disconnected,
}

/// What other nodes said that the domain crates must know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A change of `node`'s state (also when `node` is forgotten: every part of its state goes).
    State {
        /// The node.
        node: NodeId,
        /// The change.
        change: Change,
    },
    /// Another node counted this.
    Count(Count),
    /// Sessions of `user` were revoked on another node (the event reaches local streams through the bus
    /// too; this is for caches).
    SessionsRevoked {
        /// The user.
        user: UserId,
        /// The session, or `None` for all of the user's.
        session: Option<SessionId>,
    },
}

/// Messages waiting for the connection.
const BACKLOG: usize = 8192;

/// This node's end of the cluster. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Cluster {
    core: Arc<Core>,
}

#[derive(Debug)]
struct Core {
    node: NodeId,
    subjects: Subjects,
    /// This node's state and its version, changed and published under one lock so that deltas leave in
    /// version order.
    ledger: Mutex<(u64, State)>,
    peers: Mutex<peers::Peers>,
    out: mpsc::Sender<(String, Bytes)>,
    link: watch::Sender<Link>,
    /// Whether the wildcard subscription is in place (the link counts as connected only from then on).
    subscribed: std::sync::atomic::AtomicBool,
    /// The link's state and the messages dropped, for monitoring.
    metrics: metrics::Cluster,
}

/// What the link task owns; kept here between restarts of the task.
struct Owned {
    uplink: Uplink,
    out: mpsc::Receiver<(String, Bytes)>,
}

impl Cluster {
    /// Joins the cluster: connects to NATS in the background (retrying for ever, so that a node starts
    /// and serves even while NATS is down) and runs the link under `supervisor`. Events from other nodes go
    /// to `bus`; what the domain crates must hear comes out of the returned receiver.
    ///
    /// # Errors
    /// [`Error::Config`] for a URL that does not parse, or a credentials file that cannot be read.
    pub fn start(
        config: ClusterConfig,
        bus: Bus,
        uplink: Uplink,
        metrics: metrics::Cluster,
        supervisor: &Supervisor,
    ) -> Result<(Self, mpsc::Receiver<Inbound>), Error> {
        let creds = checked(&config)?;
        let (out, out_receiver) = mpsc::channel(BACKLOG);
        let (inbound, inbound_receiver) = mpsc::channel(BACKLOG);
        let core = Arc::new(Core {
            node: NodeId::new(),
            subjects: Subjects::new(&config.prefix),
            ledger: Mutex::new((0, State::default())),
            peers: Mutex::default(),
            out,
            link: watch::channel(Link::Connecting).0,
            subscribed: std::sync::atomic::AtomicBool::new(false),
            metrics,
        });
        let owned = Arc::new(tokio::sync::Mutex::new(Owned { uplink, out: out_receiver }));
        let task_core = core.clone();
        supervisor.spawn("cluster link", move || {
            let (core, owned, bus, inbound, config, creds) =
                (task_core.clone(), owned.clone(), bus.clone(), inbound.clone(), config.clone(), creds.clone());
            async move {
                let mut owned = owned.lock().await;
                run(core, &mut owned, bus, inbound, config, creds).await;
            }
        });
        tracing::info!(node = %core.node, "joining the cluster");
        Ok((Self { core }, inbound_receiver))
    }

    /// This node's id in the cluster.
    pub fn node(&self) -> NodeId {
        self.core.node
    }

    /// The link's state, now and as it changes.
    pub fn link(&self) -> watch::Receiver<Link> {
        self.core.link.subscribe()
    }

    /// Changes this node's shared state, and tells the other nodes.
    pub fn set(&self, change: Change) {
        let mut ledger = self.core.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        if !ledger.1.apply(&change) {
            return;
        }
        ledger.0 += 1;
        let delta = Delta { version: ledger.0, change };
        // Sent under the lock, so that deltas leave in version order; one that is dropped shows as a gap.
        self.core.send(self.core.subjects.node(self.core.node, "delta"), &delta);
    }

    /// Tells the other nodes that this node counted `count`.
    pub fn count(&self, count: Count) {
        self.core.send(self.core.subjects.count(), &Envelope { node: self.core.node, body: count });
    }
}

impl Core {
    /// Queues a message for NATS, or drops it (counted) when the queue is full.
    fn send(&self, subject: String, body: &impl serde::Serialize) {
        let Ok(payload) = serde_json::to_vec(body) else { return };
        if self.out.try_send((subject, payload.into())).is_err() {
            self.drop_one();
        }
    }

    fn drop_one(&self) {
        let dropped = self.metrics.dropped();
        if dropped.is_power_of_two() {
            tracing::warn!(
                dropped,
                "cluster messages dropped (NATS is away or slow); the tail check and snapshots cover them"
            );
        }
    }

    /// Records the link's new state, for the health service and the metrics.
    fn set_link(&self, state: Link) {
        self.metrics.link(state == Link::Connected);
        self.link.send_replace(state);
    }

    fn snapshot(&self) -> Snapshot {
        let ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        Snapshot { version: ledger.0, state: ledger.1.clone() }
    }

    fn peers(&self) -> std::sync::MutexGuard<'_, peers::Peers> {
        self.peers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Checks `config` and reads its credentials file, if it names one.
fn checked(config: &ClusterConfig) -> Result<Option<String>, Error> {
    for url in config.url.split(',') {
        url.trim()
            .parse::<async_nats::ServerAddr>()
            // The URL may hold a password or token: the message names the flag, not the value.
            .map_err(|e| Error::Config(format!("--nats-url is not a NATS server address: {e}")))?;
    }
    if config.prefix.is_empty() || config.prefix.contains(['.', '*', '>', ' ']) {
        return Err(Error::Config(format!("--nats-prefix {:?} must be one subject token", config.prefix)));
    }
    config
        .creds
        .as_ref()
        .map(|path| {
            std::fs::read_to_string(path)
                .map_err(|e| Error::Config(format!("cannot read the NATS credentials {}: {e}", path.display())))
        })
        .transpose()
}

/// The connection options `config` asks for: TLS, client certificate, credentials.
fn options(config: &ClusterConfig, creds: Option<&str>) -> Result<async_nats::ConnectOptions, Error> {
    let mut options = async_nats::ConnectOptions::new();
    if let Some(ca) = &config.ca {
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    if let Some((cert, key)) = &config.client_cert {
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    if let Some(creds) = creds {
        options = options.credentials(creds).map_err(|e| Error::Config(format!("unusable NATS credentials: {e}")))?;
    }
    Ok(options)
}

fn servers(config: &ClusterConfig) -> Vec<async_nats::ServerAddr> {
    config.url.split(',').filter_map(|u| u.trim().parse().ok()).collect()
}

/// Tells every node of the cluster `config` names, from a process that is not one of them (`parleyd admin`),
/// that sessions ended: all of a user's (`None`) or one. The nodes end those sessions' streams and refuse
/// their tokens at once, as for a logout on one of them. Connects, publishes, flushes and disconnects.
///
/// # Errors
/// [`Error::Config`] for an unusable configuration; [`Error::Unreachable`] when NATS cannot be reached or
/// does not take the messages within a few seconds. (Nodes still learn of the sessions from storage, a
/// little later: see `auth::RevocationWatch`.)
pub async fn announce(config: &ClusterConfig, revoked: &[(UserId, Option<SessionId>)]) -> Result<(), Error> {
    let creds = checked(config)?;
    let subjects = Subjects::new(&config.prefix);
    let unreachable = |e: &dyn std::fmt::Display| Error::Unreachable(e.to_string());
    let client = options(config, creds.as_deref())?
        .name("parleyd admin")
        .connection_timeout(ANNOUNCE_TIMEOUT)
        .connect(servers(config))
        .await
        .map_err(|e| unreachable(&e))?;
    // Signed as a node that is none of the running ones, so that every node takes it in.
    let node = NodeId::new();
    let publishing = async {
        for &(user, session) in revoked {
            let envelope = Envelope { node, body: WireEvent::SessionsRevoked { session } };
            let payload = serde_json::to_vec(&envelope).map_err(|e| unreachable(&e))?;
            client
                .publish(subjects.topic(bus::Topic::User(user)), payload.into())
                .await
                .map_err(|e| unreachable(&e))?;
        }
        client.flush().await.map_err(|e| unreachable(&e))
    };
    tokio::time::timeout(ANNOUNCE_TIMEOUT, publishing)
        .await
        .map_err(|_| Error::Unreachable(format!("NATS did not take the messages within {ANNOUNCE_TIMEOUT:?}")))?
}

/// How long [`announce`] waits for NATS.
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(5);

async fn connect(core: &Arc<Core>, config: &ClusterConfig, creds: Option<&str>) -> Option<async_nats::Client> {
    let events_core = core.clone();
    let options = match options(config, creds) {
        Ok(options) => options,
        Err(e) => {
            tracing::error!(error = %e, "not joining the cluster");
            return None;
        }
    };
    let options = options
        .name(format!("parleyd {}", core.node))
        .no_echo()
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(2))
        .ping_interval(Duration::from_secs(5))
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis(100u64.saturating_mul(1 << attempts.min(5))).min(Duration::from_secs(2))
        })
        .event_callback(move |event| {
            let core = events_core.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        tracing::info!("connected to NATS: real-time delivery across nodes is on");
                        if core.subscribed.load(std::sync::atomic::Ordering::SeqCst) {
                            core.set_link(Link::Connected);
                        }
                    }
                    async_nats::Event::Disconnected => {
                        tracing::warn!("lost the connection to NATS: serving on, other nodes' messages arrive through the tail check until it is back");
                        core.set_link(Link::Disconnected);
                    }
                    other => tracing::info!(event = %other, "NATS"),
                }
            }
        });
    match options.connect(servers(config)).await {
        Ok(client) => Some(client),
        Err(e) => {
            tracing::error!(error = %e, "cannot set up the NATS connection; not joining the cluster");
            None
        }
    }
}

/// The link: sends what this node publishes, takes in what the others do, and keeps the heartbeat.
async fn run(
    core: Arc<Core>,
    owned: &mut Owned,
    bus: Bus,
    inbound: mpsc::Sender<Inbound>,
    config: ClusterConfig,
    creds: Option<String>,
) {
    let Some(client) = connect(&core, &config, creds.as_deref()).await else {
        std::future::pending::<()>().await;
        return;
    };
    let subscriber = loop {
        match client.subscribe(core.subjects.all()).await {
            Ok(subscriber) => break subscriber,
            Err(e) => {
                tracing::warn!(error = %e, "cannot subscribe on NATS; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    // Once the server has the subscription, events published anywhere reach this node.
    if client.flush().await.is_ok() && client.connection_state() == async_nats::connection::State::Connected {
        core.set_link(Link::Connected);
    }
    core.subscribed.store(true, std::sync::atomic::Ordering::SeqCst);
    let Owned { uplink, out } = owned;
    tokio::join!(
        send(&core, &client, uplink, out),
        receive(&core, &client, subscriber, &bus, &inbound),
        beat(&core, &client, &config, &inbound),
    );
}

/// Publishes this node's bus events and queued messages while connected; drops them while not.
async fn send(
    core: &Core,
    client: &async_nats::Client,
    uplink: &mut Uplink,
    out: &mut mpsc::Receiver<(String, Bytes)>,
) {
    loop {
        let (subject, payload) = tokio::select! {
            Some((topic, event)) = uplink.recv() => {
                let Some(body) = WireEvent::of(&event) else { continue };
                let Ok(payload) = serde_json::to_vec(&Envelope { node: core.node, body }) else { continue };
                (core.subjects.topic(topic), Bytes::from(payload))
            }
            Some(message) = out.recv() => message,
            else => return,
        };
        if client.connection_state() != async_nats::connection::State::Connected {
            core.drop_one();
            continue;
        }
        if let Err(e) = client.publish(subject, payload).await {
            tracing::debug!(error = %e, "a cluster message was not sent");
            core.drop_one();
        }
    }
}

/// Takes in the other nodes' messages.
async fn receive(
    core: &Arc<Core>,
    client: &async_nats::Client,
    mut subscriber: async_nats::Subscriber,
    bus: &Bus,
    inbound: &mpsc::Sender<Inbound>,
) {
    while let Some(message) = subscriber.next().await {
        let Some(addressed) = core.subjects.parse(&message.subject) else { continue };
        let now = Instant::now();
        let outcome = match addressed {
            Addressed::Topic(topic) => {
                // Most events concern topics nobody here listens to: not even decoded.
                let revocation = matches!(topic, bus::Topic::User(_));
                if !bus.has_subscribers(topic) && !revocation {
                    continue;
                }
                let Some(Envelope { node, body }) = decode::<Envelope<WireEvent>>(&message.payload) else { continue };
                if node == core.node {
                    continue;
                }
                if let (bus::Topic::User(user), WireEvent::SessionsRevoked { session }) = (topic, &body) {
                    let _ = inbound.send(Inbound::SessionsRevoked { user, session: *session }).await;
                }
                bus.inject(topic, body.into_event());
                continue;
            }
            Addressed::Count => {
                let Some(Envelope { node, body }) = decode::<Envelope<Count>>(&message.payload) else { continue };
                if node != core.node {
                    let _ = inbound.send(Inbound::Count(body)).await;
                }
                continue;
            }
            Addressed::State(node) => {
                if let (true, Some(reply)) = (node == core.node, message.reply) {
                    let snapshot = core.snapshot();
                    if let Ok(payload) = serde_json::to_vec(&snapshot) {
                        let _ = client.publish(reply, payload.into()).await;
                    }
                }
                continue;
            }
            Addressed::Delta(node) if node != core.node => {
                let Some(delta) = decode::<Delta>(&message.payload) else { continue };
                (node, core.peers().delta(node, delta.version, delta.change, now))
            }
            Addressed::Beat(node) if node != core.node => {
                let Some(beat) = decode::<Beat>(&message.payload) else { continue };
                (node, core.peers().beat(node, beat.version, now))
            }
            Addressed::Delta(_) | Addressed::Beat(_) => continue,
        };
        let (node, outcome) = outcome;
        report(inbound, node, outcome.changes).await;
        if outcome.ask {
            // Off the receiving loop: a node that does not answer must not hold up everyone else's events.
            let (core, client, inbound) = (core.clone(), client.clone(), inbound.clone());
            tokio::spawn(async move { ask_snapshot(&core, &client, node, &inbound).await });
        }
    }
    tracing::warn!("the NATS subscription ended");
}

/// Asks `node` for its whole state, and takes it in.
async fn ask_snapshot(core: &Core, client: &async_nats::Client, node: NodeId, inbound: &mpsc::Sender<Inbound>) {
    let subject = core.subjects.node(node, "state");
    let answer = tokio::time::timeout(Duration::from_secs(2), client.request(subject, Bytes::new())).await;
    let Ok(Ok(message)) = answer else {
        tracing::debug!(%node, "no snapshot from a node (yet); its next heartbeat asks again");
        return;
    };
    let Some(snapshot) = decode::<Snapshot>(&message.payload) else { return };
    let outcome = core.peers().snapshot(node, snapshot.version, snapshot.state, Instant::now());
    report(inbound, node, outcome.changes).await;
}

async fn report(inbound: &mpsc::Sender<Inbound>, node: NodeId, changes: Vec<Change>) {
    for change in changes {
        let _ = inbound.send(Inbound::State { node, change }).await;
    }
}

/// Says this node is alive every heartbeat, and forgets the nodes that stopped saying so.
async fn beat(core: &Core, client: &async_nats::Client, config: &ClusterConfig, inbound: &mpsc::Sender<Inbound>) {
    let timeout = config.node_timeout.max(config.heartbeat * 2);
    let mut ticks = tokio::time::interval(config.heartbeat);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let subject = core.subjects.node(core.node, "beat");
    loop {
        ticks.tick().await;
        let version = core.ledger.lock().unwrap_or_else(PoisonError::into_inner).0;
        if client.connection_state() == async_nats::connection::State::Connected
            && let Ok(payload) = serde_json::to_vec(&Beat { version })
        {
            let _ = client.publish(subject.clone(), payload.into()).await;
        }
        let gone = core.peers().expire(timeout, Instant::now());
        for (node, changes) in gone {
            report(inbound, node, changes).await;
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Option<T> {
    serde_json::from_slice(payload)
        .inspect_err(|e| tracing::warn!(error = %e, "a cluster message that does not decode was dropped"))
        .ok()
}
