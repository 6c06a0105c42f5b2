//! The OTLP protobuf encoding (`http/protobuf`), written by hand: the few messages of
//! `opentelemetry/proto/collector/trace/v1/trace_service.proto` an export needs, straight
//! from the spans to bytes, and the answer's `partial_success` read back.
//!
//! Field numbers are those of opentelemetry-proto's `trace.proto`, `common.proto`,
//! `resource.proto` and `trace_service.proto`.

use super::model::{self, Span};
use crate::report::Batch;
use crate::tag::TagRef;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7F) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, u64::from(field << 3 | u32::from(wire)));
}

fn bytes(out: &mut Vec<u8>, field: u32, value: &[u8]) {
    key(out, field, LEN);
    varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

fn string(out: &mut Vec<u8>, field: u32, value: &str) {
    bytes(out, field, value.as_bytes());
}

fn fixed64(out: &mut Vec<u8>, field: u32, value: u64) {
    key(out, field, FIXED64);
    out.extend_from_slice(&value.to_le_bytes());
}

/// An embedded message: written in place, then its length put before it.
fn message(out: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
    key(out, field, LEN);
    let start = out.len();
    body(out);
    let len = out.len() - start;
    let mut prefix = [0u8; 10];
    let mut n = len as u64;
    let mut size = 0;
    loop {
        prefix[size] = if n >= 0x80 { n as u8 | 0x80 } else { n as u8 };
        size += 1;
        n >>= 7;
        if n == 0 {
            break;
        }
    }
    out.splice(start..start, prefix[..size].iter().copied());
}

/// `KeyValue { key = 1; AnyValue value = 2 }`, `AnyValue { string_value = 1; bool_value = 2;
/// int_value = 3; double_value = 4 }`.
fn attribute(out: &mut Vec<u8>, field: u32, name: &str, value: TagRef<'_>) {
    message(out, field, |out| {
        string(out, 1, name);
        message(out, 2, |out| match value {
            TagRef::Str(s) => string(out, 1, s),
            TagRef::Bool(b) => {
                key(out, 2, VARINT);
                varint(out, u64::from(b));
            }
            TagRef::I64(i) => {
                key(out, 3, VARINT);
                varint(out, i as u64);
            }
            TagRef::F64(d) => fixed64(out, 4, d.to_bits()),
        });
    });
}

/// `Span` (trace.proto).
fn span(out: &mut Vec<u8>, span: &Span<'_>) {
    let record = span.record;
    let trace_id = record.trace_id().to_u128().to_be_bytes();
    bytes(out, 1, &trace_id);
    bytes(out, 2, &record.span_id().get().to_be_bytes());
    if let Some(state) = record.trace_state() {
        string(out, 3, state);
    }
    if let Some(parent) = record.parent_id() {
        bytes(out, 4, &parent.get().to_be_bytes());
    }
    string(out, 5, record.operation_name());
    key(out, 6, VARINT);
    varint(out, span.kind as u64);
    fixed64(out, 7, span.start_unix_nano);
    fixed64(out, 8, span.end_unix_nano);
    for (name, value) in &span.attributes {
        attribute(out, 9, name, TagRef::from(value));
    }
    for event in &span.events {
        // Span.Event { time_unix_nano = 1; name = 2; attributes = 3 }
        message(out, 11, |out| {
            fixed64(out, 1, event.time_unix_nano);
            string(out, 2, event.name);
            for (name, value) in &event.attributes {
                attribute(out, 3, name, *value);
            }
        });
    }
    if let Some(parent) = record.parent_id().filter(|_| span.follows_from) {
        // Span.Link { trace_id = 1; span_id = 2; attributes = 4; flags = 6 }
        message(out, 13, |out| {
            bytes(out, 1, &trace_id);
            bytes(out, 2, &parent.get().to_be_bytes());
            attribute(out, 4, "opentracing.ref_type", TagRef::Str("follows_from"));
        });
    }
    if let Some(text) = span.error {
        // Status { message = 2; code = 3 }
        message(out, 15, |out| {
            if !text.is_empty() {
                string(out, 2, text);
            }
            key(out, 3, VARINT);
            varint(out, model::STATUS_ERROR as u64);
        });
    }
    key(out, 16, FIXED32);
    out.extend_from_slice(&span.flags().to_le_bytes());
}

/// `ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1 }`, one resource
/// (`ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2 }`, `Resource
/// { repeated KeyValue attributes = 1 }`) with one scope (`ScopeSpans { InstrumentationScope
/// scope = 1; repeated Span spans = 2 }`, `InstrumentationScope { name = 1; version = 2 }`).
pub(super) fn request(out: &mut Vec<u8>, batch: &Batch<'_>) {
    message(out, 1, |out| {
        message(out, 1, |out| {
            for (name, value) in model::resource(batch.process()) {
                attribute(out, 1, name, value);
            }
        });
        message(out, 2, |out| {
            message(out, 1, |out| {
                string(out, 1, model::SCOPE_NAME);
                string(out, 2, model::VERSION);
            });
            for mapped in model::spans(batch) {
                message(out, 2, |out| span(out, &mapped));
            }
        });
    });
}

/// A protobuf reader of one message's fields, bounded by the bytes there are.
struct Reader<'a>(&'a [u8]);

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Other,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.0.split_first()?;
            self.0 = rest;
            n |= u64::from(byte & 0x7F) << shift;
            if byte < 0x80 {
                return Some(n);
            }
        }
        None
    }

    fn skip(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(taken)
    }

    /// The next field, `None` at the end or on a malformed one.
    fn next(&mut self) -> Option<(u64, Field<'a>)> {
        if self.0.is_empty() {
            return None;
        }
        let key = self.varint()?;
        let field = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => {
                self.skip(8)?;
                Field::Other
            }
            2 => {
                let len = usize::try_from(self.varint()?).ok()?;
                Field::Bytes(self.skip(len)?)
            }
            5 => {
                self.skip(4)?;
                Field::Other
            }
            _ => return None,
        };
        Some((key >> 3, field))
    }
}

/// `ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1 }`,
/// `ExportTracePartialSuccess { int64 rejected_spans = 1; string error_message = 2 }`: the
/// spans rejected and why, from an answer's body. A body that is not such a message says
/// nothing was rejected.
pub(super) fn partial_success(body: &[u8]) -> (u64, String) {
    let (mut rejected, mut message) = (0, String::new());
    let mut response = Reader(body);
    while let Some((field, value)) = response.next() {
        if let (1, Field::Bytes(partial)) = (field, value) {
            let mut partial = Reader(partial);
            while let Some((field, value)) = partial.next() {
                match (field, value) {
                    (1, Field::Varint(n)) => rejected = n,
                    (2, Field::Bytes(text)) => message = String::from_utf8_lossy(text).into(),
                    _ => {}
                }
            }
        }
    }
    (rejected, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tag::TagValue;

    /// A tag value as an attribute, alone.
    fn attribute_bytes(name: &str, value: &TagValue) -> Vec<u8> {
        let mut out = Vec::new();
        attribute(&mut out, 1, name, TagRef::from(value));
        out
    }

    #[test]
    fn varints_and_nested_lengths_are_canonical() {
        let mut out = Vec::new();
        varint(&mut out, 300);
        assert_eq!(out, [0xAC, 0x02]);
        // A 200-byte body: its length takes two bytes, put before it.
        let mut out = Vec::new();
        message(&mut out, 3, |out| out.extend_from_slice(&[7; 200]));
        assert_eq!(&out[..3], &[3 << 3 | 2, 0xC8, 0x01]);
        assert_eq!(out.len(), 203);
        assert!(out[3..].iter().all(|b| *b == 7));
    }

    #[test]
    fn attributes_encode_as_protobuf_writes_them() {
        // The bytes Python's protobuf writes for `Resource.attributes` holding
        // `KeyValue{key: "k", value: {int_value: -1}}`, and so on.
        assert_eq!(
            attribute_bytes("k", &TagValue::Integer(-1)),
            [
                0x0A, 16, 0x0A, 1, b'k', 0x12, 11, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                0xFF, 0xFF, 0x01
            ]
        );
        assert_eq!(
            attribute_bytes("k", &TagValue::Boolean(true)),
            [0x0A, 7, 0x0A, 1, b'k', 0x12, 2, 0x10, 1]
        );
        assert_eq!(
            attribute_bytes("k", &TagValue::String("ab".into())),
            [0x0A, 9, 0x0A, 1, b'k', 0x12, 4, 0x0A, 2, b'a', b'b']
        );
        let double = attribute_bytes("k", &TagValue::Float(0.5));
        assert_eq!(&double[..8], &[0x0A, 14, 0x0A, 1, b'k', 0x12, 9, 0x21]);
        assert_eq!(&double[8..], &0.5f64.to_le_bytes());
    }

    #[test]
    fn partial_success_is_read_and_garbage_is_not() {
        let mut body = Vec::new();
        message(&mut body, 1, |out| {
            key(out, 1, VARINT);
            varint(out, 3);
            string(out, 2, "3 spans too old");
        });
        assert_eq!(partial_success(&body), (3, "3 spans too old".into()));
        assert_eq!(partial_success(&[]), (0, String::new()));
        // A length past the end, an unfinished varint: nothing read, no panic.
        assert_eq!(partial_success(&[0x0A, 0x7F, 0x08]), (0, String::new()));
        assert_eq!(
            partial_success(&[0x0A, 0x02, 0x08, 0xFF]),
            (0, String::new())
        );
    }
}
