//! Thrift encoding of finished spans straight from `SpanRecord` to bytes, for the reporter's
//! hot loop.
//!
//! Going through rustracing_jaeger's `jaeger::Span` and thrift_codec's `Struct` allocates every
//! string and every field twice over, and capped a reporter thread well under the million spans
//! a second it must encode. This writes the same bytes (a test checks them against that path,
//! for both protocols) with no allocation but the output buffer. Everything else (the process,
//! the message around a batch, the rare span cut to fit a datagram) still goes through
//! rustracing_jaeger's types, and [`Envelope`] joins the two.

use rustracing::tag::TagValue;
use rustracing_jaeger::thrift::jaeger;

use super::agent::Protocol;
use super::sink::SinkError;
use super::thrift::{micros, micros_since_epoch, truncate, Limits};
use crate::local::record::{ReferenceKind, SpanRecord};
use crate::tag::StaticValue;

/// Field types, with their codes in each protocol.
#[derive(Clone, Copy)]
enum Kind {
    I32,
    I64,
    Double,
    Binary,
    List,
}

impl Kind {
    fn compact(self) -> u8 {
        match self {
            Kind::I32 => 5,
            Kind::I64 => 6,
            Kind::Double => 7,
            Kind::Binary => 8,
            Kind::List => 9,
        }
    }

    fn binary(self) -> u8 {
        match self {
            Kind::I32 => 8,
            Kind::I64 => 10,
            Kind::Double => 4,
            Kind::Binary => 11,
            Kind::List => 15,
        }
    }
}

/// The struct element type of a list, the same code in both protocols.
const STRUCT: u8 = 12;

/// A thrift writer for one protocol: field headers, values, list headers, struct ends.
struct Writer<'a> {
    out: &'a mut Vec<u8>,
    compact: bool,
    /// Compact field headers are deltas from the previous field id of the same struct.
    last_id: i16,
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        // The low seven bits, with the continuation bit.
        out.push((n as u8 & 0x7F) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn zigzag32(n: i32) -> u64 {
    u64::from(((n << 1) ^ (n >> 31)) as u32)
}

fn zigzag64(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

impl Writer<'_> {
    fn field(&mut self, id: i16, kind: Kind) {
        if self.compact {
            self.field_code(id, kind.compact());
        } else {
            self.out.push(kind.binary());
            self.out.extend_from_slice(&id.to_be_bytes());
        }
    }

    fn field_code(&mut self, id: i16, code: u8) {
        let delta = id - self.last_id;
        if (1..=15).contains(&delta) {
            self.out.push(((delta as u8) << 4) | code);
        } else {
            self.out.push(code);
            varint(self.out, zigzag32(i32::from(id)));
        }
        self.last_id = id;
    }

    fn bool_field(&mut self, id: i16, value: bool) {
        if self.compact {
            // The value is the type: 1 true, 2 false.
            self.field_code(id, if value { 1 } else { 2 });
        } else {
            self.out.push(2);
            self.out.extend_from_slice(&id.to_be_bytes());
            self.out.push(u8::from(value));
        }
    }

    fn i32(&mut self, id: i16, value: i32) {
        self.field(id, Kind::I32);
        if self.compact {
            varint(self.out, zigzag32(value));
        } else {
            self.out.extend_from_slice(&value.to_be_bytes());
        }
    }

    fn i64(&mut self, id: i16, value: i64) {
        self.field(id, Kind::I64);
        if self.compact {
            varint(self.out, zigzag64(value));
        } else {
            self.out.extend_from_slice(&value.to_be_bytes());
        }
    }

    fn f64(&mut self, id: i16, value: f64) {
        self.field(id, Kind::Double);
        if self.compact {
            // Little-endian, as every compact implementation writes it (not as its spec says).
            self.out.extend_from_slice(&value.to_le_bytes());
        } else {
            self.out.extend_from_slice(&value.to_be_bytes());
        }
    }

    fn str(&mut self, id: i16, value: &str) {
        self.field(id, Kind::Binary);
        if self.compact {
            varint(self.out, value.len() as u64);
        } else {
            self.out
                .extend_from_slice(&i32::try_from(value.len()).unwrap_or(i32::MAX).to_be_bytes());
        }
        self.out.extend_from_slice(value.as_bytes());
    }

    /// A list field of `count` structs; each is then written between `begin` and `end`.
    fn list(&mut self, id: i16, count: usize) {
        self.field(id, Kind::List);
        list_header(self.out, self.compact, count);
    }

    fn begin(&mut self) -> i16 {
        std::mem::replace(&mut self.last_id, 0)
    }

    fn end(&mut self, outer: i16) {
        self.out.push(0);
        self.last_id = outer;
    }
}

/// The header of a list of `count` structs.
fn list_header(out: &mut Vec<u8>, compact: bool, count: usize) {
    if compact {
        if count < 15 {
            out.push(((count as u8) << 4) | STRUCT);
        } else {
            out.push(0xF0 | STRUCT);
            varint(out, count as u64);
        }
    } else {
        out.push(STRUCT);
        out.extend_from_slice(&i32::try_from(count).unwrap_or(i32::MAX).to_be_bytes());
    }
}

/// One `jaeger.Tag` struct.
fn tag(w: &mut Writer<'_>, key: &str, value: TagRef<'_>, limits: &Limits) {
    let outer = w.begin();
    w.str(1, key);
    match value {
        TagRef::Str(s) => {
            w.i32(2, 0);
            w.str(3, truncate(s, limits.max_tag_value_length));
        }
        TagRef::F64(v) => {
            w.i32(2, 1);
            w.f64(4, v);
        }
        TagRef::Bool(v) => {
            w.i32(2, 2);
            w.bool_field(5, v);
        }
        TagRef::I64(v) => {
            w.i32(2, 3);
            w.i64(6, v);
        }
    }
    w.end(outer);
}

#[derive(Clone, Copy)]
enum TagRef<'a> {
    Str(&'a str),
    F64(f64),
    Bool(bool),
    I64(i64),
}

impl<'a> From<&'a TagValue> for TagRef<'a> {
    fn from(value: &'a TagValue) -> Self {
        match value {
            TagValue::String(s) => TagRef::Str(s),
            TagValue::Boolean(b) => TagRef::Bool(*b),
            TagValue::Integer(i) => TagRef::I64(*i),
            TagValue::Float(f) => TagRef::F64(*f),
        }
    }
}

impl From<StaticValue> for TagRef<'static> {
    fn from(value: StaticValue) -> Self {
        match value {
            StaticValue::Str(s) => TagRef::Str(s),
            StaticValue::Bool(b) => TagRef::Bool(b),
            StaticValue::I64(i) => TagRef::I64(i),
            StaticValue::F64(f) => TagRef::F64(f),
        }
    }
}

/// Appends `span` as a `jaeger.Span` struct, byte for byte what thrift_codec writes for
/// `Struct::from(thrift::span(span, limits))`.
// Ids are unsigned in Rust and signed in thrift: the bits are kept, as Jaeger clients do.
#[allow(clippy::cast_possible_wrap)]
pub(crate) fn span(out: &mut Vec<u8>, protocol: Protocol, span: &SpanRecord, limits: &Limits) {
    let mut w = Writer {
        out,
        compact: protocol == Protocol::Compact,
        last_id: 0,
    };
    let (low, high) = (span.trace_id.low() as i64, span.trace_id.high() as i64);
    let parent = span.parent_id.get() as i64;
    w.i64(1, low);
    w.i64(2, high);
    w.i64(3, span.span_id.get() as i64);
    w.i64(4, parent);
    w.str(5, span.operation_name());
    if span.reference_kind() == Some(ReferenceKind::FollowsFrom) {
        w.list(6, 1);
        let outer = w.begin();
        w.i32(1, 1);
        w.i64(2, low);
        w.i64(3, high);
        w.i64(4, parent);
        w.end(outer);
    }
    w.i32(7, i32::from(span.flags));
    w.i64(8, (span.wall_start / 1000) as i64);
    w.i64(9, micros(span.duration()));

    let fixed: &[_] = span.callsite.tags;
    let sampler: &[_] = span.sampler_tags.map_or(&[], |tags| tags);
    let more = span.more.as_deref();
    let dynamic = more.map_or(&[][..], |m| &m.tags[..]);
    let tags = fixed.len() + sampler.len() + dynamic.len();
    if tags > 0 {
        w.list(10, tags);
        for t in fixed.iter().chain(sampler) {
            tag(&mut w, t.key, t.value.into(), limits);
        }
        for t in dynamic {
            tag(&mut w, t.name(), t.value().into(), limits);
        }
    }
    let logs = more.map_or(&[][..], |m| &m.logs[..]);
    if !logs.is_empty() {
        w.list(11, logs.len());
        for log in logs {
            let outer = w.begin();
            w.i64(1, micros_since_epoch(log.time));
            w.list(2, log.fields.len());
            for field in &log.fields {
                tag(
                    &mut w,
                    field.name(),
                    TagRef::Str(field.value()),
                    &Limits {
                        // Log fields are not cut (the Go client cuts tags only).
                        max_tag_value_length: usize::MAX,
                    },
                );
            }
            w.end(outer);
        }
    }
    w.out.push(0);
}

/// An encoded message (an agent's `emitBatch`, or a collector's `Batch`) cut around its list
/// of spans: a message is `head`, the list header, the spans' bytes, `tail`. Thrift encodes a
/// nested struct without reference to what surrounds it, in both protocols, so the bytes of a
/// span are the same wherever it goes.
pub(crate) struct Envelope {
    head: Vec<u8>,
    tail: Vec<u8>,
    compact: bool,
}

impl Envelope {
    /// Cuts `encoded`, a message whose span list is empty and is followed by `stops` struct
    /// ends.
    pub(crate) fn cut(
        mut encoded: Vec<u8>,
        protocol: Protocol,
        stops: usize,
    ) -> Result<Envelope, SinkError> {
        let compact = protocol == Protocol::Compact;
        let mut empty = Vec::new();
        list_header(&mut empty, compact, 0);
        let tail = vec![0; stops];
        let cut = encoded.len().checked_sub(empty.len() + stops);
        match cut {
            Some(cut) if encoded[cut..] == [empty, tail.clone()].concat()[..] => {
                encoded.truncate(cut);
                Ok(Envelope {
                    head: encoded,
                    tail,
                    compact,
                })
            }
            _ => Err(SinkError::new(
                "unexpected thrift encoding of an empty batch (a thrift_codec change?)",
            )),
        }
    }

    /// Writes the message holding `count` spans encoded in `spans` into `out`.
    pub(crate) fn write(&self, spans: &[u8], count: usize, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.head);
        list_header(out, self.compact, count);
        out.extend_from_slice(spans);
        out.extend_from_slice(&self.tail);
    }

    /// Bytes around the spans at most: head, the longest list header, tail.
    pub(crate) fn overhead(&self) -> usize {
        self.head.len() + 5 + self.tail.len()
    }
}

/// The process as rustracing_jaeger's type, for the envelope.
pub(crate) fn empty_batch(process: jaeger::Process) -> jaeger::Batch {
    jaeger::Batch {
        process,
        spans: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use thrift_codec::data::Struct;
    use thrift_codec::{BinaryEncode, CompactEncode};

    use super::*;
    use crate::testing::Capture;
    use crate::Context;

    #[crate::traced(crate = crate, tags(db.type = "mongo", rows = 3, ratio = 0.5, ok = true, long = "z".repeat(300)))]
    fn handle(cx: &Context) -> Result<(), std::fmt::Error> {
        let _ = cx;
        crate::log_fields([("event", "cache miss"), ("key", "images/7")]);
        background();
        Err(std::fmt::Error)
    }

    #[crate::traced(crate = crate, follows_from)]
    fn background() {}

    fn library_bytes(span: &SpanRecord, protocol: Protocol, limits: &Limits) -> Vec<u8> {
        let value = Struct::from(super::super::thrift::span(span, limits));
        let mut out = Vec::new();
        match protocol {
            Protocol::Compact => value.compact_encode(&mut out).unwrap(),
            Protocol::Binary => value.binary_encode(&mut out).unwrap(),
        }
        out
    }

    #[test]
    fn spans_encode_byte_for_byte_as_through_rustracing_jaeger_and_thrift_codec() {
        let capture = Capture::install();
        let remote = Context::remote(
            crate::TraceId::new(u64::MAX - 5, 0x8000_0000_0000_0001),
            crate::SpanId::new(u64::MAX),
            true,
        )
        .unwrap()
        .with_flags(3);
        let _ = handle(&remote);
        let _ = handle(&Context::NONE);
        // Many tags: a compact list header past 15 elements.
        #[crate::traced(crate = crate)]
        fn many() {
            for i in 0..40 {
                crate::tag(format!("k{i}"), i64::from(i) * -1_000_000_007);
            }
        }
        many();
        let spans = capture.spans();
        assert_eq!(spans.len(), 5);
        for limits in [
            Limits::default(),
            Limits {
                max_tag_value_length: 8,
            },
        ] {
            for protocol in [Protocol::Compact, Protocol::Binary] {
                for span in &spans {
                    let mut ours = Vec::new();
                    super::span(&mut ours, protocol, span, &limits);
                    assert_eq!(
                        ours,
                        library_bytes(span, protocol, &limits),
                        "{protocol:?} {span:?}"
                    );
                }
            }
        }
    }
}
