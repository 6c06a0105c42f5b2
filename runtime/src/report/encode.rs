//! traced's own thrift writer for the Jaeger wire (`jaeger.thrift`, `agent.thrift`), both
//! protocols: spans straight from `SpanRecord` to bytes for the reporter's hot loop, and the
//! process, the `Batch` around the spans and the agent's `emitBatch` message.
//!
//! Going through rustracing_jaeger's `jaeger::Span` and thrift_codec's `Struct` allocated every
//! string and every field twice over, and capped a reporter thread well under the million spans
//! a second it must encode; the two crates and theirs were also most of traced's dependency
//! graph. This writes the same bytes (the tests check them against that path, for both
//! protocols) with no allocation but the output buffer.

use super::agent::Protocol;
use super::sink::Process;
use super::thrift::{self, micros, micros_since_epoch, truncate, Limits};
use crate::local::record::{Log, ReferenceKind, SpanRecord};
use crate::tag::{Tag, TagRef};

/// Field types, with their codes in each protocol.
#[derive(Clone, Copy)]
enum Kind {
    I32,
    I64,
    Double,
    Binary,
    List,
    Struct,
}

impl Kind {
    fn compact(self) -> u8 {
        match self {
            Kind::I32 => 5,
            Kind::I64 => 6,
            Kind::Double => 7,
            Kind::Binary => 8,
            Kind::List => 9,
            Kind::Struct => STRUCT,
        }
    }

    fn binary(self) -> u8 {
        match self {
            Kind::I32 => 8,
            Kind::I64 => 10,
            Kind::Double => 4,
            Kind::Binary => 11,
            Kind::List => 15,
            Kind::Struct => STRUCT,
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

impl<'a> Writer<'a> {
    fn new(out: &'a mut Vec<u8>, protocol: Protocol) -> Self {
        Writer {
            out,
            compact: protocol == Protocol::Compact,
            last_id: 0,
        }
    }

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
        self.bytes(value);
    }

    /// A string's length and bytes, without a field header.
    fn bytes(&mut self, value: &str) {
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

    /// A struct field; its fields are then written between `begin` and `end`.
    fn struct_field(&mut self, id: i16) -> i16 {
        self.field(id, Kind::Struct);
        self.begin()
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

/// One `jaeger.Tag` struct, in a list.
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

/// The fields of a `jaeger.Span` struct before its tags, as both kinds of span give them.
struct Head<'a> {
    trace_id_low: i64,
    trace_id_high: i64,
    span_id: i64,
    parent_span_id: i64,
    operation_name: &'a str,
    follows_from: bool,
    flags: i32,
    start_time: i64,
    duration: i64,
}

/// Log fields are not cut (the Go client cuts tags only).
const UNLIMITED: Limits = Limits {
    max_tag_value_length: usize::MAX,
};

/// One `jaeger.Span` struct: `tags` (`count` of them) then `logs`, with its stop.
fn span_struct<'t>(
    w: &mut Writer<'_>,
    head: &Head<'_>,
    count: usize,
    tags: impl Iterator<Item = (&'t str, TagRef<'t>)>,
    logs: &[Log],
    limits: &Limits,
) {
    w.i64(1, head.trace_id_low);
    w.i64(2, head.trace_id_high);
    w.i64(3, head.span_id);
    w.i64(4, head.parent_span_id);
    w.str(5, head.operation_name);
    if head.follows_from {
        w.list(6, 1);
        let outer = w.begin();
        w.i32(1, 1);
        w.i64(2, head.trace_id_low);
        w.i64(3, head.trace_id_high);
        w.i64(4, head.parent_span_id);
        w.end(outer);
    }
    w.i32(7, head.flags);
    w.i64(8, head.start_time);
    w.i64(9, head.duration);
    if count > 0 {
        w.list(10, count);
        for (key, value) in tags {
            tag(w, key, value, limits);
        }
    }
    if !logs.is_empty() {
        w.list(11, logs.len());
        for log in logs {
            let outer = w.begin();
            log_fields(w, log);
            w.end(outer);
        }
    }
    w.out.push(0);
}

/// The fields of one `jaeger.Log` struct.
fn log_fields(w: &mut Writer<'_>, log: &Log) {
    w.i64(1, micros_since_epoch(log.time));
    w.list(2, log.fields.len());
    for field in &log.fields {
        tag(w, field.name(), TagRef::Str(field.value()), &UNLIMITED);
    }
}

/// Appends `span` as a `jaeger.Span` struct, byte for byte what thrift_codec writes for
/// rustracing_jaeger's `jaeger::Span` of it.
// Ids are unsigned in Rust and signed in thrift: the bits are kept, as Jaeger clients do.
#[allow(clippy::cast_possible_wrap)]
pub(crate) fn span(out: &mut Vec<u8>, protocol: Protocol, span: &SpanRecord, limits: &Limits) {
    let fixed: &[_] = span.callsite.tags;
    let sampler: &[_] = span.sampler_tags.map_or(&[], |tags| tags);
    let more = span.more.as_deref();
    let tags = fixed
        .iter()
        .chain(sampler)
        .map(|t| (t.key, TagRef::from(t.value)))
        .chain(span.run_time_tags());
    let head = Head {
        trace_id_low: span.trace_id.low() as i64,
        trace_id_high: span.trace_id.high() as i64,
        span_id: span.span_id.get() as i64,
        parent_span_id: span.parent_id.get() as i64,
        operation_name: span.operation_name(),
        follows_from: span.reference_kind() == Some(ReferenceKind::FollowsFrom),
        flags: i32::from(span.flags),
        start_time: (span.wall_start / 1000) as i64,
        duration: micros(span.duration()),
    };
    let count = fixed.len() + sampler.len() + span.run_time_tag_count();
    let logs = more.map_or(&[][..], |m| &m.logs[..]);
    span_struct(
        &mut Writer::new(out, protocol),
        &head,
        count,
        tags,
        logs,
        limits,
    );
}

/// Appends an owned span (one cut to fit a datagram) as a `jaeger.Span` struct; its tags are
/// cut already.
pub(crate) fn owned_span(out: &mut Vec<u8>, protocol: Protocol, span: &thrift::Span) {
    let head = Head {
        trace_id_low: span.trace_id_low,
        trace_id_high: span.trace_id_high,
        span_id: span.span_id,
        parent_span_id: span.parent_span_id,
        operation_name: &span.operation_name,
        follows_from: span.follows_from,
        flags: span.flags,
        start_time: span.start_time,
        duration: span.duration,
    };
    let tags = span
        .tags
        .iter()
        .map(|t| (t.name(), TagRef::from(t.value())));
    span_struct(
        &mut Writer::new(out, protocol),
        &head,
        span.tags.len(),
        tags,
        &span.logs,
        &UNLIMITED,
    );
}

/// Appends one `jaeger.Tag` struct with its stop, as a list holds it.
pub(crate) fn tag_struct(out: &mut Vec<u8>, protocol: Protocol, t: &Tag) {
    tag(
        &mut Writer::new(out, protocol),
        t.name(),
        t.value().into(),
        &UNLIMITED,
    );
}

/// Appends one `jaeger.Log` struct with its stop, as a list holds it.
pub(crate) fn log_struct(out: &mut Vec<u8>, protocol: Protocol, log: &Log) {
    let mut w = Writer::new(out, protocol);
    log_fields(&mut w, log);
    w.out.push(0);
}

/// The fields of a `jaeger.Process` struct: the service name, and the tags when there are any.
fn process(w: &mut Writer<'_>, process: &Process) {
    w.str(1, &process.service_name);
    if !process.tags.is_empty() {
        w.list(2, process.tags.len());
        for t in &process.tags {
            tag(w, t.name(), t.value().into(), &UNLIMITED);
        }
    }
}

/// The agent's `emitBatch` call: a one-way message (type 4, sequence id 0) whose arguments
/// struct holds the batch as field 1.
const EMIT_BATCH: &str = "emitBatch";
const ONEWAY: u8 = 4;

fn message_header(w: &mut Writer<'_>, name: &str) {
    if w.compact {
        // Protocol id, then the type over the version (1), then the sequence id.
        w.out.extend_from_slice(&[0x82, (ONEWAY << 5) | 1, 0]);
        w.bytes(name);
    } else {
        // The strict header: version 1 with the type in the low byte.
        w.out.extend_from_slice(&[0x80, 0x01, 0x00, ONEWAY]);
        w.bytes(name);
        w.out.extend_from_slice(&0i32.to_be_bytes());
    }
}

/// An encoded message (an agent's `emitBatch`, or a collector's `Batch`) cut around its list
/// of spans: a message is `head`, the list header, the spans' bytes, `tail`. Thrift encodes a
/// nested struct without reference to what surrounds it, in both protocols, so the bytes of a
/// span are the same wherever it goes.
pub(crate) struct Envelope {
    head: Vec<u8>,
    tail: &'static [u8],
    compact: bool,
}

impl Envelope {
    /// The agent's `emitBatch(batch)` message, in `protocol`: after the spans come the stops of
    /// the batch struct and of the call's arguments.
    pub(crate) fn emit_batch(p: &Process, protocol: Protocol) -> Envelope {
        let mut head = Vec::new();
        let mut w = Writer::new(&mut head, protocol);
        message_header(&mut w, EMIT_BATCH);
        // The message's body is the arguments struct; the batch is its field 1.
        w.struct_field(1);
        Self::batch_head(&mut w, p);
        Envelope {
            head,
            tail: &[0, 0],
            compact: protocol == Protocol::Compact,
        }
    }

    /// The `jaeger.Batch` struct alone, in thrift binary, as the collector's HTTP endpoint
    /// takes it.
    pub(crate) fn batch(p: &Process) -> Envelope {
        let mut head = Vec::new();
        Self::batch_head(&mut Writer::new(&mut head, Protocol::Binary), p);
        Envelope {
            head,
            tail: &[0],
            compact: false,
        }
    }

    /// A batch struct's fields up to its span list's header: the process, the list's field.
    fn batch_head(w: &mut Writer<'_>, p: &Process) {
        let outer = w.struct_field(1);
        process(w, p);
        w.end(outer);
        w.field(2, Kind::List);
    }

    /// Writes the message holding `count` spans encoded in `spans` into `out`.
    pub(crate) fn write(&self, spans: &[u8], count: usize, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.head);
        list_header(out, self.compact, count);
        out.extend_from_slice(spans);
        out.extend_from_slice(self.tail);
    }

    /// Bytes around the spans at most: head, the longest list header, tail.
    pub(crate) fn overhead(&self) -> usize {
        self.head.len() + 5 + self.tail.len()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rustracing_jaeger::thrift::{agent, jaeger};
    use thrift_codec::data::Struct;
    use thrift_codec::message::Message;
    use thrift_codec::{BinaryEncode, CompactEncode};

    use super::*;
    use crate::tag::TagValue;
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

    /// Spans of every shape: remote and root parents, debug flags, a FollowsFrom reference,
    /// every kind of tag, a value longer than the limits, logs, and a compact list header past
    /// 15 elements.
    fn spans() -> Vec<SpanRecord> {
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
        #[crate::traced(crate = crate)]
        fn many() {
            for i in 0..40 {
                crate::tag(format!("k{i}"), i64::from(i) * -1_000_000_007);
            }
        }
        many();
        let spans = capture.spans();
        assert_eq!(spans.len(), 5);
        spans
    }

    fn library_tag(key: &str, value: &TagValue) -> jaeger::Tag {
        let key = key.to_owned();
        match value {
            TagValue::String(value) => jaeger::Tag::String {
                key,
                value: value.to_string(),
            },
            TagValue::Boolean(value) => jaeger::Tag::Bool { key, value: *value },
            TagValue::Integer(value) => jaeger::Tag::Long { key, value: *value },
            TagValue::Float(value) => jaeger::Tag::Double { key, value: *value },
        }
    }

    fn library_log(log: &Log) -> jaeger::Log {
        jaeger::Log {
            timestamp: micros_since_epoch(log.time()),
            fields: log
                .fields()
                .map(|(k, v)| library_tag(k, &TagValue::from(v.to_owned())))
                .collect(),
        }
    }

    /// rustracing_jaeger's struct for `span`, as its reporter would build it.
    fn library_span(span: &thrift::Span) -> jaeger::Span {
        let references = if span.follows_from {
            vec![jaeger::SpanRef {
                kind: jaeger::SpanRefKind::FollowsFrom,
                trace_id_low: span.trace_id_low,
                trace_id_high: span.trace_id_high,
                span_id: span.parent_span_id,
            }]
        } else {
            Vec::new()
        };
        jaeger::Span {
            trace_id_low: span.trace_id_low,
            trace_id_high: span.trace_id_high,
            span_id: span.span_id,
            parent_span_id: span.parent_span_id,
            operation_name: span.operation_name.clone(),
            references,
            flags: span.flags,
            start_time: span.start_time,
            duration: span.duration,
            tags: span
                .tags
                .iter()
                .map(|t| library_tag(t.name(), t.value()))
                .collect(),
            logs: span.logs.iter().map(library_log).collect(),
        }
    }

    fn library_process(process: &Process) -> jaeger::Process {
        jaeger::Process {
            service_name: process.service_name.clone(),
            tags: process.tags().map(|(k, v)| library_tag(k, v)).collect(),
        }
    }

    fn library_bytes(value: Struct, protocol: Protocol) -> Vec<u8> {
        let mut out = Vec::new();
        match protocol {
            Protocol::Compact => value.compact_encode(&mut out).unwrap(),
            Protocol::Binary => value.binary_encode(&mut out).unwrap(),
        }
        out
    }

    const PROTOCOLS: [Protocol; 2] = [Protocol::Compact, Protocol::Binary];

    #[test]
    fn spans_encode_byte_for_byte_as_through_rustracing_jaeger_and_thrift_codec() {
        let spans = spans();
        for limits in [
            Limits::default(),
            Limits {
                max_tag_value_length: 8,
            },
        ] {
            for protocol in PROTOCOLS {
                for span in &spans {
                    let owned = thrift::span(span, &limits);
                    let theirs = library_bytes(library_span(&owned).into(), protocol);
                    let mut ours = Vec::new();
                    super::span(&mut ours, protocol, span, &limits);
                    assert_eq!(ours, theirs, "{protocol:?} {span:?}");
                    ours.clear();
                    owned_span(&mut ours, protocol, &owned);
                    assert_eq!(ours, theirs, "owned, {protocol:?} {span:?}");
                    for t in &owned.tags {
                        ours.clear();
                        tag_struct(&mut ours, protocol, t);
                        let theirs = library_tag(t.name(), t.value());
                        assert_eq!(ours, library_bytes(theirs.into(), protocol));
                    }
                    for log in &owned.logs {
                        ours.clear();
                        log_struct(&mut ours, protocol, log);
                        assert_eq!(ours, library_bytes(library_log(log).into(), protocol));
                    }
                }
            }
        }
    }

    /// Our `emitBatch` message and collector body against rustracing_jaeger's and
    /// thrift_codec's, for `process` and `spans`.
    fn check_messages(process: &Process, spans: &[SpanRecord]) {
        let limits = Limits::default();
        let batch = jaeger::Batch {
            process: library_process(process),
            spans: spans
                .iter()
                .map(|s| library_span(&thrift::span(s, &limits)))
                .collect(),
        };
        let mut out = Vec::new();
        for protocol in PROTOCOLS {
            let mut encoded = Vec::new();
            for span in spans {
                super::span(&mut encoded, protocol, span, &limits);
            }
            Envelope::emit_batch(process, protocol).write(&encoded, spans.len(), &mut out);
            let message = Message::from(agent::EmitBatchNotification {
                batch: batch.clone(),
            });
            let mut theirs = Vec::new();
            match protocol {
                Protocol::Compact => message.compact_encode(&mut theirs).unwrap(),
                Protocol::Binary => message.binary_encode(&mut theirs).unwrap(),
            }
            assert_eq!(out, theirs, "emitBatch, {protocol:?}");
            if protocol == Protocol::Binary {
                Envelope::batch(process).write(&encoded, spans.len(), &mut out);
                assert_eq!(
                    out,
                    library_bytes(batch.clone().into(), protocol),
                    "collector batch"
                );
            }
        }
    }

    #[test]
    fn batches_and_emit_batch_messages_encode_byte_for_byte_as_through_rustracing_jaeger() {
        let spans = spans();
        let process = Process::new("gallery-api");
        assert!(process.tags.len() >= 2, "{process:?}");
        // Empty, one span, all, and a list past 15 elements.
        let many: Vec<SpanRecord> = spans.iter().cycle().take(20).cloned().collect();
        for spans in [&[][..], &spans[..1], &spans, &many] {
            check_messages(&process, spans);
        }
        // A process with no tags has no tags field.
        let bare = Process {
            service_name: "bare".into(),
            tags: Vec::new(),
        };
        check_messages(&bare, &spans);
    }

    fn any_tag_value() -> impl Strategy<Value = TagValue> {
        prop_oneof![
            "\\PC{0,40}".prop_map(TagValue::from),
            any::<bool>().prop_map(TagValue::Boolean),
            any::<i64>().prop_map(TagValue::Integer),
            any::<f64>().prop_map(TagValue::Float),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_process_encodes_byte_for_byte_as_through_rustracing_jaeger(
            service_name in "\\PC{0,300}",
            tags in prop::collection::vec(("[a-z.]{1,20}", any_tag_value()), 0..20),
        ) {
            let process = Process {
                service_name,
                tags: tags.into_iter().map(|(k, v)| Tag::new(k, v)).collect(),
            };
            check_messages(&process, &[]);
        }
    }
}
