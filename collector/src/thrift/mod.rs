//! Decoding what Jaeger clients send: `emitBatch` messages (thrift compact or binary, from UDP)
//! and `Batch` structs (thrift binary, from HTTP), for the fixed `jaeger.thrift` schema.
//!
//! Input is untrusted, so this is a decoder of its own rather than a generic one: every length
//! is checked against the bytes that are left before anything is allocated, unknown fields are
//! skipped with a bounded nesting depth, and a field of the wrong type rejects the message. A
//! hostile datagram costs at most its own size, and never a panic or a deep recursion.
//!
//! `reader.rs` reads the protocols (fields, lists, lengths, skipping); `jaeger.rs` turns
//! `jaeger.thrift`'s structs into the collector's model.

mod jaeger;
mod reader;
#[cfg(test)]
mod tests;

pub use jaeger::{decode_batch, decode_emit_batch};
/// The protocol of the input: the one traced's reporters write with.
pub use traced::report::Protocol;

/// Why a message was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

type Result<T> = std::result::Result<T, DecodeError>;

fn bad<T>(what: impl Into<String>) -> Result<T> {
    Err(DecodeError(what.into()))
}
