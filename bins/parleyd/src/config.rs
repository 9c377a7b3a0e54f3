//! parleyd's configuration: every setting is a flag and a `PARLEY_*` environment variable, parsed once here
//! and passed down as plain values.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// For people at a terminal.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The Parley chat server: gRPC and grpc-web on one port, SQLite by default, MySQL/MariaDB in production.
#[derive(Parser)]
#[command(name = "parleyd", version, about, long_about = None)]
pub struct Config {
    /// Address to listen on (gRPC, grpc-web and the web app share it).
    #[arg(long, env = "PARLEY_LISTEN", value_name = "ADDR", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Directory for the SQLite database and the generated JWT secret; created if missing.
    /// [default: the platform's data directory, e.g. ~/.local/share/parley]
    #[arg(long, env = "PARLEY_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Database: sqlite://PATH or mysql://USER:PASSWORD@HOST:PORT/DATABASE (MariaDB too).
    /// [default: sqlite://DATA_DIR/parley.db]
    #[arg(long, env = "PARLEY_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Most database connections open at once.
    #[arg(long, env = "PARLEY_DB_MAX_CONNECTIONS", value_name = "N", default_value_t = 16)]
    pub db_max_connections: usize,

    /// How long a request waits for a database connection before failing with UNAVAILABLE.
    #[arg(long, env = "PARLEY_DB_ACQUIRE_TIMEOUT", value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub db_acquire_timeout: Duration,

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

    /// Log format.
    #[arg(long, env = "PARLEY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

    /// Which log lines to keep, as a tracing filter (e.g. "info" or "info,gateway=debug").
    #[arg(long, env = "PARLEY_LOG", value_name = "FILTER", default_value = "info")]
    pub log: String,
}
