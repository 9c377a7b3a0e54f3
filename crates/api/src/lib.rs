//! The `chat.v1` contract as Rust: prost messages and tonic clients and servers generated from
//! `proto/chat/v1`. The protos are the source of truth and carry the documentation.
//!
//! **Boundary:** used by the gateway and by client binaries only. Domain crates never see these types; the
//! gateway converts at its edge.

pub mod codec;

/// `package chat.v1`.
#[allow(missing_docs, missing_debug_implementations, clippy::all, clippy::pedantic, rust_2018_idioms)]
pub mod chat {
    /// Version 1 of the chat API.
    pub mod v1 {
        tonic::include_proto!("chat.v1");
    }
}

pub use chat::v1;

/// The encoded `FileDescriptorSet` of `chat.v1`, with source comments, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/chat_v1_descriptor.bin"));
