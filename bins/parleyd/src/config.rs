//! parleyd's configuration: every setting is a flag and a `PARLEY_*` environment variable, parsed once here
//! and passed down as plain values.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use gateway::Quota;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// For people at a terminal.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

/// A size in bytes: a number, or a number with KiB or MiB.
fn parse_bytes(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    let n: usize = number.parse().map_err(|_| format!("{s:?} is not a size such as 65536, 64KiB or 1MiB"))?;
    let scale = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1024,
        "MiB" | "M" => 1024 * 1024,
        other => return Err(format!("{other:?} is not a unit: use KiB or MiB")),
    };
    n.checked_mul(scale).filter(|n| *n > 0).ok_or_else(|| format!("{s:?} is out of range"))
}

/// The Parley chat server: gRPC and grpc-web on one port, SQLite by default, MySQL/MariaDB in production.
#[derive(Parser)]
#[command(name = "parleyd", version, about, long_about = None)]
pub struct Config {
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to listen on (gRPC, grpc-web and the web app share it).
    #[arg(long, env = "PARLEY_LISTEN", value_name = "ADDR", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Directory for the SQLite database and the generated JWT secret; created if missing.
    /// [default: the platform's data directory, e.g. ~/.local/share/parley]
    #[arg(long, global = true, env = "PARLEY_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Database: sqlite://PATH or mysql://USER:PASSWORD@HOST:PORT/DATABASE (MariaDB too); add
    /// ?require_ssl=true to a MySQL URL to require TLS.
    /// [default: sqlite://DATA_DIR/parley.db]
    #[arg(long, global = true, env = "PARLEY_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// MySQL over TLS: verify the server's certificate with this CA (PEM) instead of the public roots.
    /// Turns TLS on for the MySQL connection.
    #[arg(long, global = true, env = "PARLEY_DATABASE_CA", value_name = "FILE")]
    pub database_ca: Option<PathBuf>,

    /// Most database connections open at once.
    #[arg(long, global = true, env = "PARLEY_DB_MAX_CONNECTIONS", value_name = "N", default_value_t = 16)]
    pub db_max_connections: usize,

    /// How long a request waits for a database connection before failing with UNAVAILABLE.
    #[arg(long, global = true, env = "PARLEY_DB_ACQUIRE_TIMEOUT", value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub db_acquire_timeout: Duration,

    /// How long one database statement may take before the call fails with UNAVAILABLE (its connection is
    /// then discarded).
    #[arg(long, global = true, env = "PARLEY_DB_QUERY_TIMEOUT", value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub db_query_timeout: Duration,

    /// How often readiness (grpc.health.v1) checks that the database answers; two failed checks in a row
    /// turn it NOT_SERVING, two good ones SERVING again.
    #[arg(long, env = "PARLEY_HEALTH_CHECK_INTERVAL", value_name = "DURATION", default_value = "2s", value_parser = humantime::parse_duration)]
    pub health_check_interval: Duration,

    /// Key that signs access tokens, at least 32 bytes; every node of a deployment needs the same one.
    /// [default: generated once and kept in DATA_DIR/jwt-secret, mode 0600]
    #[arg(long, env = "PARLEY_JWT_SECRET", value_name = "SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// How long an access token is accepted.
    #[arg(long, env = "PARLEY_ACCESS_TOKEN_TTL", value_name = "DURATION", default_value = "15m", value_parser = humantime::parse_duration)]
    pub access_token_ttl: Duration,

    /// How long a refresh token is accepted (each refresh starts a new period).
    #[arg(long, env = "PARLEY_REFRESH_TOKEN_TTL", value_name = "DURATION", default_value = "30d", value_parser = humantime::parse_duration)]
    pub refresh_token_ttl: Duration,

    /// Failed logins allowed per account from one address within the throttle window.
    #[arg(long, env = "PARLEY_LOGIN_MAX_FAILURES", value_name = "N", default_value_t = 10)]
    pub login_max_failures: usize,

    /// Failed logins allowed per address, across accounts, within the throttle window.
    #[arg(long, env = "PARLEY_LOGIN_MAX_FAILURES_PER_ADDRESS", value_name = "N", default_value_t = 30)]
    pub login_max_failures_per_address: usize,

    /// Failed logins allowed per account from all addresses together within the throttle window.
    #[arg(long, env = "PARLEY_LOGIN_MAX_FAILURES_PER_ACCOUNT", value_name = "N", default_value_t = 100)]
    pub login_max_failures_per_account: usize,

    /// The sliding window of login throttling.
    #[arg(long, env = "PARLEY_LOGIN_THROTTLE_WINDOW", value_name = "DURATION", default_value = "1m", value_parser = humantime::parse_duration)]
    pub login_throttle_window: Duration,

    /// Take clients' addresses from x-forwarded-for (only behind a proxy that sets it, such as Envoy).
    #[arg(long, env = "PARLEY_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,

    /// How long a user stays online after their last stream closes (so a quick reconnect does not flap).
    #[arg(long, env = "PARLEY_PRESENCE_GRACE", value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub presence_grace: Duration,

    /// A Subscribe stream idle for this long gets a heartbeat (keeps proxies from closing it).
    #[arg(long, env = "PARLEY_HEARTBEAT_INTERVAL", value_name = "DURATION", default_value = "20s", value_parser = humantime::parse_duration)]
    pub heartbeat_interval: Duration,

    /// Writer tasks that store sends, each with one group-commit transaction in flight (a room's sends
    /// always go to the same writer). [default: 4 on MySQL, 1 on SQLite]
    #[arg(long, env = "PARLEY_SEND_WRITERS", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub send_writers: Option<u16>,

    /// How long open streams and calls get to finish after SIGINT or SIGTERM.
    #[arg(long, env = "PARLEY_SHUTDOWN_GRACE", value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,

    /// A built web app to serve at / (see web/README.md).
    /// [default: ./web/dist when it exists]
    #[arg(long, env = "PARLEY_WEB_DIR", value_name = "DIR")]
    pub web_dir: Option<PathBuf>,

    /// HTTP/2 streams (calls) one connection may have open at once.
    #[arg(long, env = "PARLEY_MAX_CONCURRENT_STREAMS", value_name = "N", default_value_t = 128)]
    pub max_concurrent_streams: u32,

    /// Streams one connection may make the server reset (protocol errors) before it is closed.
    #[arg(long, env = "PARLEY_MAX_LOCAL_ERROR_RESETS", value_name = "N", default_value_t = 1024)]
    pub max_local_error_resets: usize,

    /// Largest request message, in bytes (units KiB and MiB allowed).
    #[arg(long, env = "PARLEY_MAX_REQUEST_SIZE", value_name = "BYTES", default_value = "128KiB", value_parser = parse_bytes)]
    pub max_request_size: usize,

    /// Largest request header list, in bytes (units KiB and MiB allowed).
    #[arg(long, env = "PARLEY_MAX_HEADER_LIST_SIZE", value_name = "BYTES", default_value = "16KiB", value_parser = parse_bytes)]
    pub max_header_list_size: usize,

    /// Open connections at once; more are closed as soon as they are accepted.
    #[arg(long, env = "PARLEY_MAX_CONNECTIONS", value_name = "N", default_value_t = 20_000)]
    pub max_connections: usize,

    /// How long a unary call may take before it fails with DEADLINE_EXCEEDED.
    #[arg(long, env = "PARLEY_REQUEST_TIMEOUT", value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// Subscribe streams one user may have open at once (all devices and tabs).
    #[arg(long, env = "PARLEY_MAX_STREAMS_PER_USER", value_name = "N", default_value_t = 16)]
    pub max_streams_per_user: usize,

    /// Request rate limits (per user, and per address for Register and Login); `off` for load tests. The
    /// failed-login throttle stays on either way.
    #[arg(long, env = "PARLEY_RATE_LIMITS", value_enum, default_value_t = Switch::On)]
    pub rate_limits: Switch,

    /// Sustained rate per user of SendMessage and the actions on messages (edits, deletions, reactions)
    /// together (N/s, N/m or N/h).
    #[arg(long, env = "PARLEY_SEND_RATE", value_name = "RATE", default_value = "10/s")]
    pub send_rate: Quota,
    /// SendMessage burst per user.
    #[arg(long, env = "PARLEY_SEND_BURST", value_name = "N", default_value_t = 30)]
    pub send_burst: u32,

    /// Sustained SetTyping rate per user.
    #[arg(long, env = "PARLEY_TYPING_RATE", value_name = "RATE", default_value = "5/s")]
    pub typing_rate: Quota,
    /// SetTyping burst per user.
    #[arg(long, env = "PARLEY_TYPING_BURST", value_name = "N", default_value_t = 20)]
    pub typing_burst: u32,

    /// Sustained CreateRoom rate per user.
    #[arg(long, env = "PARLEY_ROOM_CREATE_RATE", value_name = "RATE", default_value = "20/h")]
    pub room_create_rate: Quota,
    /// CreateRoom burst per user.
    #[arg(long, env = "PARLEY_ROOM_CREATE_BURST", value_name = "N", default_value_t = 10)]
    pub room_create_burst: u32,

    /// Sustained InviteMember rate per user.
    #[arg(long, env = "PARLEY_INVITE_RATE", value_name = "RATE", default_value = "120/h")]
    pub invite_rate: Quota,
    /// InviteMember burst per user.
    #[arg(long, env = "PARLEY_INVITE_BURST", value_name = "N", default_value_t = 30)]
    pub invite_burst: u32,

    /// Sustained GetDirectRoom rate per user.
    #[arg(long, env = "PARLEY_DIRECT_ROOM_RATE", value_name = "RATE", default_value = "60/h")]
    pub direct_room_rate: Quota,
    /// GetDirectRoom burst per user.
    #[arg(long, env = "PARLEY_DIRECT_ROOM_BURST", value_name = "N", default_value_t = 20)]
    pub direct_room_burst: u32,

    /// Sustained Register rate per client address.
    #[arg(long, env = "PARLEY_REGISTER_RATE", value_name = "RATE", default_value = "20/h")]
    pub register_rate: Quota,
    /// Register burst per client address.
    #[arg(long, env = "PARLEY_REGISTER_BURST", value_name = "N", default_value_t = 5)]
    pub register_burst: u32,

    /// Sustained Login rate per client address (successful or not).
    #[arg(long, env = "PARLEY_LOGIN_RATE", value_name = "RATE", default_value = "60/m")]
    pub login_rate: Quota,
    /// Login burst per client address.
    #[arg(long, env = "PARLEY_LOGIN_BURST", value_name = "N", default_value_t = 20)]
    pub login_burst: u32,

    /// Sustained MarkRead rate per user (clients mark rooms read as the user scrolls).
    #[arg(long, env = "PARLEY_MARK_READ_RATE", value_name = "RATE", default_value = "5/s")]
    pub mark_read_rate: Quota,
    /// MarkRead burst per user.
    #[arg(long, env = "PARLEY_MARK_READ_BURST", value_name = "N", default_value_t = 30)]
    pub mark_read_burst: u32,

    /// Sustained SearchMessages rate per user.
    #[arg(long, env = "PARLEY_SEARCH_RATE", value_name = "RATE", default_value = "30/m")]
    pub search_rate: Quota,
    /// SearchMessages burst per user.
    #[arg(long, env = "PARLEY_SEARCH_BURST", value_name = "N", default_value_t = 10)]
    pub search_burst: u32,

    /// Passwords hashed at once (argon2id: tens of milliseconds of a core and 19 MiB each).
    /// [default: the number of cores]
    #[arg(long, env = "PARLEY_PASSWORD_HASH_WORKERS", value_name = "N")]
    pub password_hash_workers: Option<usize>,

    /// Password hashes that may wait for a worker; more are refused with RESOURCE_EXHAUSTED.
    #[arg(long, env = "PARLEY_PASSWORD_HASH_QUEUE", value_name = "N", default_value_t = 64)]
    pub password_hash_queue: usize,

    /// Serve over TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, env = "PARLEY_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The TLS private key (PEM); needs --tls-cert.
    #[arg(long, env = "PARLEY_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Require client certificates signed by this CA (PEM); needs --tls-cert.
    #[arg(long, env = "PARLEY_TLS_CLIENT_CA", value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    /// How often the node compares every room's stored tail with what its subscribers were told (the safety
    /// net under the bus, and what carries messages between nodes while NATS is away).
    #[arg(long, env = "PARLEY_TAIL_CHECK_INTERVAL", value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub tail_check_interval: Duration,

    /// Join a cluster of nodes over this NATS server: nats://[USER:PASSWORD@]HOST:PORT, tls://… for TLS,
    /// several separated by commas. Without it the node runs alone with its in-process bus.
    #[arg(long, global = true, env = "PARLEY_NATS_URL", value_name = "URL", hide_env_values = true)]
    pub nats_url: Option<String>,

    /// The first token of every NATS subject, so that several clusters can share one NATS.
    #[arg(long, global = true, env = "PARLEY_NATS_PREFIX", value_name = "TOKEN", default_value = "parley")]
    pub nats_prefix: String,

    /// How often the node tells the cluster it is alive.
    #[arg(long, env = "PARLEY_NATS_HEARTBEAT", value_name = "DURATION", default_value = "1s", value_parser = humantime::parse_duration)]
    pub nats_heartbeat: Duration,

    /// How long a node may be silent before the others forget it (its users go offline, its streams stop
    /// counting).
    #[arg(long, env = "PARLEY_NATS_NODE_TIMEOUT", value_name = "DURATION", default_value = "3s", value_parser = humantime::parse_duration)]
    pub nats_node_timeout: Duration,

    /// Verify the NATS server's certificate with this CA (PEM); turns TLS on.
    #[arg(long, global = true, env = "PARLEY_NATS_CA", value_name = "FILE")]
    pub nats_ca: Option<PathBuf>,

    /// A client certificate (PEM) to present to NATS; needs --nats-key.
    #[arg(long, global = true, env = "PARLEY_NATS_CERT", value_name = "FILE", requires = "nats_key")]
    pub nats_cert: Option<PathBuf>,

    /// The key of --nats-cert (PEM).
    #[arg(long, global = true, env = "PARLEY_NATS_KEY", value_name = "FILE", requires = "nats_cert")]
    pub nats_key: Option<PathBuf>,

    /// A NATS credentials file (user JWT and NKey seed).
    #[arg(long, global = true, env = "PARLEY_NATS_CREDS", value_name = "FILE")]
    pub nats_creds: Option<PathBuf>,

    /// Serve Prometheus metrics at http://ADDR/metrics (a separate port with no authentication: bind it to a
    /// private address). [default: off]
    #[arg(long, env = "PARLEY_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,

    /// Log format.
    #[arg(long, global = true, env = "PARLEY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

    /// Which log lines to keep, as a tracing filter (e.g. "info" or "info,gateway=debug").
    #[arg(long, global = true, env = "PARLEY_LOG", value_name = "FILTER", default_value = "info")]
    pub log: String,
}

/// What parleyd does other than serve.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Operators' commands, run on the server's database with the server's configuration (the same
    /// --database-url / --data-dir and PARLEY_* variables; with --nats-url, the nodes hear of ended
    /// sessions at once, else within seconds).
    Admin {
        /// The command.
        #[command(subcommand)]
        action: AdminCommand,
    },
}

/// The operators' commands. USER is a username or an email address.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account. The password is read from standard input (its first line), or asked for twice
    /// at a terminal.
    CreateUser {
        /// The username (3 to 32 letters, digits, '_', '-', '.').
        username: String,
        /// The email address.
        #[arg(long)]
        email: String,
        /// The name shown to others [default: the username].
        #[arg(long, default_value = "")]
        display_name: String,
    },
    /// Set a new password (read as for create-user) and end every session of the account.
    ResetPassword {
        /// The account.
        user: String,
    },
    /// Disable an account: it can no longer sign in or refresh, and its sessions and open streams end on
    /// every node.
    Disable {
        /// The account.
        user: String,
    },
    /// Enable a disabled account again (it signs in anew).
    Enable {
        /// The account.
        user: String,
    },
    /// List the sessions of an account (ended ones are kept for a week).
    Sessions {
        /// The account.
        user: String,
    },
    /// End one session of an account (its id from `sessions`), or all of them with --all.
    Revoke {
        /// The account.
        user: String,
        /// The session to end.
        #[arg(required_unless_present = "all")]
        session: Option<String>,
        /// End every session of the account.
        #[arg(long, conflicts_with = "session")]
        all: bool,
    },
    /// Delete a room with its whole timeline, memberships and invitations. Its members' open streams are
    /// told (within the tail-check interval).
    DeleteRoom {
        /// The room's id.
        room: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_commands_take_the_database_flags_before_or_after_them() {
        let after = Config::try_parse_from(["parleyd", "admin", "disable", "alice", "--database-url", "sqlite://x.db"]);
        assert!(after.is_ok_and(|c| c.database_url.as_deref() == Some("sqlite://x.db")
            && matches!(&c.command, Some(Command::Admin { action: AdminCommand::Disable { user } }) if user == "alice")));
        let before = Config::try_parse_from(["parleyd", "--database-url", "sqlite://y.db", "admin", "sessions", "bob"]);
        assert!(before.is_ok_and(|c| c.database_url.as_deref() == Some("sqlite://y.db")));
        assert!(Config::try_parse_from(["parleyd", "admin", "revoke", "bob"]).is_err(), "a session or --all");
        assert!(Config::try_parse_from(["parleyd", "admin", "revoke", "bob", "--all"]).is_ok());
    }

    #[test]
    fn sizes_take_units() {
        assert_eq!(parse_bytes("65536"), Ok(65536));
        assert_eq!(parse_bytes("128KiB"), Ok(128 * 1024));
        assert_eq!(parse_bytes("1MiB"), Ok(1024 * 1024));
        assert!(parse_bytes("0").is_err());
        assert!(parse_bytes("12GB").is_err());
    }
}
