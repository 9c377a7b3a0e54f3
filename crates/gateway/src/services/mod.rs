//! One module per `chat.v1` service. Each RPC converts its request, calls one domain function and converts
//! the result; nothing else.

pub(crate) mod auth;
pub(crate) mod messages;
pub(crate) mod presence;
pub(crate) mod rooms;
pub(crate) mod subscribe;
