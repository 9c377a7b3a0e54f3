//! What a node counts and measures, for Prometheus: typed handles that each crate records into in its own
//! words (`batch_committed`, `acquired`, `delivered`…), and one [`Registry`] per node that [`Metrics::render`]
//! writes out in the OpenMetrics text format (which Prometheus scrapes as its text exposition format).
//!
//! **Boundary:** this is the only crate that knows the Prometheus client library. The crates that record
//! (storage, messaging, presence, cluster, gateway) see only the handles below; the HTTP endpoint that serves
//! the rendering is the gateway's. There is no global recorder: a node builds one [`Metrics`] and passes
//! each crate its part, so two nodes in one process (as in the tests) count apart.
//!
//! Every handle also has a `Default`, registered nowhere, for code that runs without a node (storage and
//! domain tests): it counts into the void at the price of an atomic add.
//!
//! Every metric is listed, with its type and labels, in `docs/METRICS.md`; a test here keeps the two in step.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// One node's metrics. Cheap to clone; clones share every value.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    rpc: Rpc,
    messaging: Messaging,
    storage: Storage,
    presence: Presence,
    cluster: Option<Cluster>,
}

impl Metrics {
    /// Every metric of a node, registered under the `parley_` prefix. The cluster's are registered only on a
    /// node of a cluster, so that a node alone does not report a link that is down.
    pub fn new(clustered: bool) -> Self {
        let mut registry = Registry::with_prefix("parley");
        let rpc = Rpc::default();
        let messaging = Messaging::default();
        let storage = Storage::default();
        let presence = Presence::default();
        rpc.register(&mut registry);
        messaging.register(&mut registry);
        storage.register(&mut registry);
        presence.register(&mut registry);
        let cluster = clustered.then(|| {
            let cluster = Cluster::default();
            cluster.register(&mut registry);
            cluster
        });
        Self { registry: Arc::new(registry), rpc, messaging, storage, presence, cluster }
    }

    /// Calls, refusals and connections (the gateway's).
    pub fn rpc(&self) -> Rpc {
        self.rpc.clone()
    }

    /// Sends, deliveries, streams and the writer (messaging's).
    pub fn messaging(&self) -> Messaging {
        self.messaging.clone()
    }

    /// The connection pools (storage's).
    pub fn storage(&self) -> Storage {
        self.storage.clone()
    }

    /// Users online (presence's).
    pub fn presence(&self) -> Presence {
        self.presence.clone()
    }

    /// The link to the other nodes (the cluster transport's); on a node alone, a handle registered nowhere.
    pub fn cluster(&self) -> Cluster {
        self.cluster.clone().unwrap_or_default()
    }

    /// Every metric's current value, in the OpenMetrics text format ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut text = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail, and the library's encoders fail only on writer errors.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// Keeps a gauge one higher while it lives.
#[derive(Debug)]
pub struct Open(Gauge);

impl Open {
    fn new(gauge: &Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    method: Arc<str>,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectionLabels {
    method: Arc<str>,
    reason: &'static str,
}

/// Calls, refusals and connections: recorded by the gateway.
#[derive(Debug, Clone)]
pub struct Rpc {
    calls: Family<CallLabels, Histogram>,
    rejections: Family<RejectionLabels, Counter>,
    connections: Gauge,
    connections_refused: Counter,
}

/// Upper bounds of the call-duration buckets, in seconds: from half a millisecond to the default request
/// timeout (30 s).
const CALL_BUCKETS: [f64; 15] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

impl Default for Rpc {
    fn default() -> Self {
        Self {
            calls: Family::new_with_constructor(|| Histogram::new(CALL_BUCKETS)),
            rejections: Family::default(),
            connections: Gauge::default(),
            connections_refused: Counter::default(),
        }
    }
}

impl Rpc {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "rpc_duration_seconds",
            "Time to answer a call (Subscribe: to open or refuse the stream), by method and gRPC status code",
            self.calls.clone(),
        );
        registry.register(
            "limit_rejections",
            "Calls refused by a limit (rate, failed-login throttle, streams per user, request size, overload, deadline), by method and ErrorInfo reason",
            self.rejections.clone(),
        );
        registry.register("connections_open", "Client connections open", self.connections.clone());
        registry.register(
            "connections_refused",
            "Connections closed on accept because the server was at --max-connections",
            self.connections_refused.clone(),
        );
    }

    /// A call to `method` ended with the gRPC status `code` (its canonical name, e.g. `OK`,
    /// `InvalidArgument`) after `took`.
    pub fn call(&self, method: &Arc<str>, code: &'static str, took: Duration) {
        self.calls.get_or_create(&CallLabels { method: method.clone(), code }).observe(seconds(took));
    }

    /// A call to `method` was refused by a limit, with the `google.rpc.ErrorInfo` reason `reason`.
    pub fn rejected(&self, method: &Arc<str>, reason: &'static str) {
        self.rejections.get_or_create(&RejectionLabels { method: method.clone(), reason }).inc();
    }

    /// A client connection opened; it counts as open until the returned guard is dropped.
    pub fn connection(&self) -> Open {
        Open::new(&self.connections)
    }

    /// A connection was closed on accept, over the connection limit.
    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicLabels {
    topic: &'static str,
}

/// Which kind of bus topic a subscriber fell behind on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicKind {
    /// A room's timeline and presence: the subscriber catches up from storage.
    Room,
    /// A user's memberships and sessions: the stream ends and the client subscribes again.
    User,
}

/// Sends, deliveries, Subscribe streams and the send writers: recorded by messaging.
#[derive(Debug, Clone)]
pub struct Messaging {
    sent: Counter,
    delivered: Counter,
    streams: Gauge,
    batch_sizes: Histogram,
    commit_seconds: Histogram,
    lagged: Family<TopicLabels, Counter>,
    tail_repairs: Counter,
}

const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
const COMMIT_BUCKETS: [f64; 12] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0];

impl Default for Messaging {
    fn default() -> Self {
        Self {
            sent: Counter::default(),
            delivered: Counter::default(),
            streams: Gauge::default(),
            batch_sizes: Histogram::new(BATCH_BUCKETS),
            commit_seconds: Histogram::new(COMMIT_BUCKETS),
            lagged: Family::default(),
            tail_repairs: Counter::default(),
        }
    }
}

impl Messaging {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "messages_sent",
            "Messages stored by SendMessage (repeats of a stored send not counted)",
            self.sent.clone(),
        );
        registry.register("deliveries", "Timeline entries delivered to Subscribe streams", self.delivered.clone());
        registry.register("subscribe_streams_open", "Subscribe streams open", self.streams.clone());
        registry.register(
            "send_batch_size",
            "Sends stored per group-commit transaction of a send writer",
            self.batch_sizes.clone(),
        );
        registry.register(
            "send_commit_seconds",
            "Time a send writer took to store one batch (its transaction, retries included)",
            self.commit_seconds.clone(),
        );
        registry.register(
            "bus_lagged",
            "Times a subscriber fell further behind a bus topic than its buffer holds, by topic kind",
            self.lagged.clone(),
        );
        registry.register(
            "tail_check_repairs",
            "Times the tail check found a subscriber behind the stored timeline and made it catch up",
            self.tail_repairs.clone(),
        );
    }

    /// `n` messages were stored.
    pub fn sent(&self, n: usize) {
        self.sent.inc_by(u64::try_from(n).unwrap_or(u64::MAX));
    }

    /// A timeline entry went out on a stream.
    pub fn delivered(&self) {
        self.delivered.inc();
    }

    /// A Subscribe stream opened; it counts as open until the returned guard is dropped.
    pub fn stream(&self) -> Open {
        Open::new(&self.streams)
    }

    /// A writer stored a batch of `sends` in `took`.
    pub fn batch_committed(&self, sends: usize, took: Duration) {
        self.batch_sizes.observe(sends as f64);
        self.commit_seconds.observe(seconds(took));
    }

    /// A subscriber lagged on a topic of `kind`.
    pub fn lagged(&self, kind: TopicKind) {
        let topic = match kind {
            TopicKind::Room => "room",
            TopicKind::User => "user",
        };
        self.lagged.get_or_create(&TopicLabels { topic }).inc();
    }

    /// The tail check made a subscriber catch up.
    pub fn tail_repaired(&self) {
        self.tail_repairs.inc();
    }
}

/// Which connection pool a wait was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    /// Connections for reads (on MySQL, the one pool).
    Read,
    /// Connections for writes (on SQLite, the single writer; on MySQL, the one pool).
    Write,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: &'static str,
}

impl Pool {
    fn labels(self) -> PoolLabels {
        PoolLabels {
            pool: match self {
                Self::Read => "read",
                Self::Write => "write",
            },
        }
    }
}

/// Waits for database connections: recorded by storage.
#[derive(Debug, Clone)]
pub struct Storage {
    acquire: Family<PoolLabels, Histogram>,
    timeouts: Family<PoolLabels, Counter>,
}

const ACQUIRE_BUCKETS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

impl Default for Storage {
    fn default() -> Self {
        Self { acquire: Family::new_with_constructor(|| Histogram::new(ACQUIRE_BUCKETS)), timeouts: Family::default() }
    }
}

impl Storage {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "db_acquire_seconds",
            "Time waited for a database connection from the pool, by pool",
            self.acquire.clone(),
        );
        registry.register(
            "db_acquire_timeouts",
            "Waits for a database connection that gave up after --db-acquire-timeout, by pool",
            self.timeouts.clone(),
        );
    }

    /// A connection of `pool` was had after `waited`.
    pub fn acquired(&self, pool: Pool, waited: Duration) {
        self.acquire.get_or_create(&pool.labels()).observe(seconds(waited));
    }

    /// A wait for a connection of `pool` timed out.
    pub fn acquire_timed_out(&self, pool: Pool) {
        self.timeouts.get_or_create(&pool.labels()).inc();
    }
}

/// Users online: recorded by presence.
#[derive(Debug, Clone, Default)]
pub struct Presence {
    online: Gauge,
}

impl Presence {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "users_online",
            "Users this node shows as online or away (connected here, or within the grace period after)",
            self.online.clone(),
        );
    }

    /// A user this node showed as offline (or never saw) is now online here.
    pub fn user_online(&self) {
        self.online.inc();
    }

    /// A user this node showed as online is now offline here.
    pub fn user_offline(&self) {
        self.online.dec();
    }
}

/// The link to the other nodes: recorded by the cluster transport.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    up: Gauge,
    dropped: Counter,
}

impl Cluster {
    fn register(&self, registry: &mut Registry) {
        registry.register("cluster_link_up", "1 while the node is connected to NATS, else 0", self.up.clone());
        registry.register(
            "cluster_messages_dropped",
            "Messages for other nodes dropped because NATS was away or slow (the tail check covers them)",
            self.dropped.clone(),
        );
    }

    /// The link to NATS is up, or not.
    pub fn link(&self, up: bool) {
        self.up.set(i64::from(up));
    }

    /// A message for other nodes was dropped; returns how many have been, in all.
    pub fn dropped(&self) -> u64 {
        self.dropped.inc() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of the metric families a rendering holds.
    fn families(text: &str) -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn recorded_values_show_in_the_rendering() {
        let metrics = Metrics::new(false);
        let method: Arc<str> = Arc::from("/chat.v1.MessageService/SendMessage");
        metrics.rpc().call(&method, "OK", Duration::from_millis(3));
        metrics.rpc().rejected(&method, "RATE_LIMITED");
        metrics.messaging().sent(2);
        let stream = metrics.messaging().stream();
        metrics.storage().acquired(Pool::Write, Duration::from_micros(300));
        let text = metrics.render();
        assert!(
            text.contains(
                r#"parley_rpc_duration_seconds_count{method="/chat.v1.MessageService/SendMessage",code="OK"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"parley_limit_rejections_total{method="/chat.v1.MessageService/SendMessage",reason="RATE_LIMITED"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains("parley_messages_sent_total 2"), "{text}");
        assert!(text.contains("parley_subscribe_streams_open 1"), "{text}");
        drop(stream);
        assert!(metrics.render().contains("parley_subscribe_streams_open 0"));
        assert!(text.contains(r#"parley_db_acquire_seconds_count{pool="write"} 1"#), "{text}");
        assert!(text.ends_with("# EOF\n"));
        assert!(!text.contains("cluster"), "a node alone has no cluster metrics");
    }

    #[test]
    fn the_docs_list_every_metric_and_no_other() {
        let metrics = Metrics::new(true);
        // A family with labels shows only once it has a series.
        let method: Arc<str> = Arc::from("/m");
        metrics.rpc().call(&method, "OK", Duration::ZERO);
        metrics.rpc().rejected(&method, "TIMEOUT");
        metrics.messaging().lagged(TopicKind::User);
        metrics.storage().acquired(Pool::Read, Duration::ZERO);
        metrics.storage().acquire_timed_out(Pool::Read);
        let text = metrics.render();
        let docs = include_str!("../../../docs/METRICS.md");
        let documented: Vec<String> = docs
            .lines()
            .filter_map(|l| l.strip_prefix("| `parley_"))
            .filter_map(|l| l.split('`').next())
            .map(|name| format!("parley_{name}"))
            .collect();
        // Counters are documented under the name their samples carry.
        let mut registered: Vec<String> = families(&text)
            .into_iter()
            .map(|family| {
                let counter = text.contains(&format!("# TYPE {family} counter"));
                if counter { format!("{family}_total") } else { family }
            })
            .collect();
        registered.sort();
        let mut documented = documented;
        documented.sort();
        assert_eq!(registered, documented, "docs/METRICS.md and the registry differ");
    }
}
