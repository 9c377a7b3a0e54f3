//! Parley's gRPC edge: the `chat.v1` services as tonic services, plus health, reflection (v1 and v1alpha),
//! grpc-web and CORS, all on one port.
//!
//! **Boundary:** this is the only library that knows tonic and the generated `api` types. It stays thin:
//! each RPC converts its request, calls one domain function and converts the result. Business rules live
//! in the domain crates; every domain error becomes a `tonic::Status` in one function ([`status`]).
//!
//! [`App`] wires one node's domain services together; [`serve`] runs them, [`serve_metrics`] serves its
//! metrics. [`Admin`] wires the operator's commands (`parleyd admin`), which run in a process of their own.

mod admin;
mod app;
mod convert;
mod health;
mod incoming;
mod layer;
mod observe;
mod peers;
mod scrape;
mod server;
mod services;
mod status;
mod web;

pub use admin::Admin;
pub use app::{App, Config, Error, TlsConfig, TransportLimits};
pub use scrape::serve_metrics;
pub use server::serve;

// The binaries configure the domain crates through these, so that they depend on the gateway only.
pub use auth::{AuthConfig, HashingConfig, Managed, Registration, SessionRecord, ThrottleConfig};
pub use cluster::{ClusterConfig, Link as ClusterLink};
pub use limits::{Kind as RateKind, Quota, RateConfig};
pub use messaging::MessagingConfig;
pub use storage::{Backend, Db, DbConfig, redact};
pub use types::{Millis, RoomId, SessionId};
