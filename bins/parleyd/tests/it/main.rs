//! End-to-end tests: a real parleyd (in-process, on a free loopback port, or the built binary) on a fresh
//! database, driven over real gRPC. Every test that touches storage runs on SQLite and on MySQL (see
//! `testkit`).

// A failed expectation in a test is a failed test: panicking is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

mod actions;
mod admin;
mod auth;
mod cluster;
mod deploy;
mod examples;
mod faults;
mod grpcurl;
mod hardening;
mod messages;
mod metrics;
mod presence;
mod read;
mod reasons;
mod rooms;
mod server;
mod tls;
mod web;
