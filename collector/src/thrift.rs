//! Decoding what Jaeger clients send: `emitBatch` messages (thrift compact or binary, from UDP)
//! and `Batch` structs (thrift binary, from HTTP), for the fixed `jaeger.thrift` schema.
//!
//! Input is untrusted, so this is a decoder of its own rather than a generic one: every length
//! is checked against the bytes that are left before anything is allocated, unknown fields are
//! skipped with a bounded nesting depth, and a field of the wrong type rejects the message. A
//! hostile datagram costs at most its own size, and never a panic or a deep recursion.

use std::sync::Arc;

use traced::TraceId;

use crate::model::{KeyValue, Log, Process, RefKind, Reference, Span, Value};

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

/// The thrift protocol of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Thrift compact (agent port 6831).
    Compact,
    /// Thrift binary (agent port 6832, and the collector's HTTP endpoint).
    Binary,
}

/// Field and element types, whatever their code in the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    /// Compact writes a boolean field's value in its type.
    Bool(Option<bool>),
    Byte,
    I16,
    I32,
    I64,
    Double,
    Binary,
    List,
    Set,
    Map,
    Struct,
}

/// Deeper nesting than jaeger.thrift has is not worth following.
const MAX_DEPTH: usize = 16;

struct Reader<'a> {
    bytes: &'a [u8],
    protocol: Protocol,
    /// Compact field ids are deltas from the previous field of the same struct.
    last_id: i16,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.bytes.len() {
            return bad(format!("{n} bytes announced, {} left", self.bytes.len()));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        bad("a varint longer than 10 bytes")
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn i16(&mut self) -> Result<i16> {
        match self.protocol {
            Protocol::Compact => {
                let n = self.varint()?;
                i16::try_from(unzigzag(n)).or_else(|_| bad("an i16 out of range"))
            }
            Protocol::Binary => Ok(i16::from_be_bytes(self.be()?)),
        }
    }

    fn i32(&mut self) -> Result<i32> {
        match self.protocol {
            Protocol::Compact => {
                let n = self.varint()?;
                i32::try_from(unzigzag(n)).or_else(|_| bad("an i32 out of range"))
            }
            Protocol::Binary => Ok(i32::from_be_bytes(self.be()?)),
        }
    }

    fn i64(&mut self) -> Result<i64> {
        match self.protocol {
            Protocol::Compact => Ok(unzigzag(self.varint()?)),
            Protocol::Binary => Ok(i64::from_be_bytes(self.be()?)),
        }
    }

    fn double(&mut self) -> Result<f64> {
        match self.protocol {
            Protocol::Compact => Ok(f64::from_le_bytes(self.be()?)),
            Protocol::Binary => Ok(f64::from_be_bytes(self.be()?)),
        }
    }

    fn len(&mut self) -> Result<usize> {
        let n = match self.protocol {
            Protocol::Compact => self.varint()?,
            Protocol::Binary => {
                let n = self.i32()?;
                u64::try_from(n).or_else(|_| bad("a negative length"))?
            }
        };
        // Whatever it announces, a length cannot exceed what is left.
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.bytes.len())
            .map_or_else(
                || {
                    bad(format!(
                        "a length of {n} with {} bytes left",
                        self.bytes.len()
                    ))
                },
                Ok,
            )
    }

    fn binary(&mut self) -> Result<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }

    fn string(&mut self) -> Result<String> {
        String::from_utf8(self.binary()?.to_vec()).or_else(|_| bad("a string that is not UTF-8"))
    }

    fn type_of(&self, code: u8) -> Result<Type> {
        Ok(match (self.protocol, code) {
            (Protocol::Compact, 1) => Type::Bool(Some(true)),
            (Protocol::Compact, 2) => Type::Bool(Some(false)),
            (Protocol::Compact, 3) | (Protocol::Binary, 3) => Type::Byte,
            (Protocol::Compact, 4) | (Protocol::Binary, 6) => Type::I16,
            (Protocol::Compact, 5) | (Protocol::Binary, 8) => Type::I32,
            (Protocol::Compact, 6) | (Protocol::Binary, 10) => Type::I64,
            (Protocol::Compact, 7) | (Protocol::Binary, 4) => Type::Double,
            (Protocol::Compact, 8) | (Protocol::Binary, 11) => Type::Binary,
            (Protocol::Compact, 9) | (Protocol::Binary, 15) => Type::List,
            (Protocol::Compact, 10) | (Protocol::Binary, 14) => Type::Set,
            (Protocol::Compact, 11) | (Protocol::Binary, 13) => Type::Map,
            (Protocol::Compact, 12) | (Protocol::Binary, 12) => Type::Struct,
            (Protocol::Binary, 2) => Type::Bool(None),
            _ => return bad(format!("unknown thrift type {code}")),
        })
    }

    /// The next field's id and type, or `None` at the struct's end.
    fn field(&mut self) -> Result<Option<(i16, Type)>> {
        let b = self.byte()?;
        if b == 0 {
            return Ok(None);
        }
        match self.protocol {
            Protocol::Compact => {
                let ty = self.type_of(b & 0x0F)?;
                let delta = i16::from(b >> 4);
                let id = if delta == 0 {
                    self.i16()?
                } else {
                    self.last_id
                        .checked_add(delta)
                        .map_or_else(|| bad("a field id overflow"), Ok)?
                };
                self.last_id = id;
                Ok(Some((id, ty)))
            }
            Protocol::Binary => {
                let ty = self.type_of(b)?;
                Ok(Some((self.i16()?, ty)))
            }
        }
    }

    /// A list's element type and length (a set's too).
    fn list(&mut self) -> Result<(Type, usize)> {
        let (ty, n) = match self.protocol {
            Protocol::Compact => {
                let b = self.byte()?;
                let ty = self.type_of(b & 0x0F)?;
                let n = match b >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                (ty, n)
            }
            Protocol::Binary => {
                let ty = self.byte()?;
                let ty = self.type_of(ty)?;
                let n = self.i32()?;
                (
                    ty,
                    u64::try_from(n).or_else(|_| bad("a negative list length"))?,
                )
            }
        };
        // Every element takes at least a byte.
        match usize::try_from(n) {
            Ok(n) if n <= self.bytes.len() => Ok((ty, n)),
            _ => bad(format!(
                "a list of {n} elements with {} bytes left",
                self.bytes.len()
            )),
        }
    }

    fn bool_value(&mut self, ty: Type) -> Result<bool> {
        match ty {
            Type::Bool(Some(b)) => Ok(b),
            // A list element (compact) or any binary boolean: a byte.
            Type::Bool(None) => Ok(matches!(self.byte()?, 1)),
            _ => bad("expected a bool"),
        }
    }

    /// Skips a value of type `ty`.
    fn skip(&mut self, ty: Type, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return bad("nested too deep");
        }
        match ty {
            Type::Bool(Some(_)) => Ok(()),
            Type::Bool(None) | Type::Byte => self.take(1).map(drop),
            Type::I16 => self.i16().map(drop),
            Type::I32 => self.i32().map(drop),
            Type::I64 => self.i64().map(drop),
            Type::Double => self.take(8).map(drop),
            Type::Binary => self.binary().map(drop),
            Type::List | Type::Set => {
                let (elem, n) = self.list()?;
                let elem = element(elem);
                for _ in 0..n {
                    self.skip(elem, depth + 1)?;
                }
                Ok(())
            }
            Type::Map => {
                let n = match self.protocol {
                    Protocol::Compact => self.varint()?,
                    Protocol::Binary => 0,
                };
                let (k, v, n) = match self.protocol {
                    Protocol::Compact if n == 0 => return Ok(()),
                    Protocol::Compact => {
                        let b = self.byte()?;
                        (self.type_of(b >> 4)?, self.type_of(b & 0x0F)?, n)
                    }
                    Protocol::Binary => {
                        let (k, v) = (self.byte()?, self.byte()?);
                        let n = self.i32()?;
                        (
                            self.type_of(k)?,
                            self.type_of(v)?,
                            u64::try_from(n).or_else(|_| bad("a negative map length"))?,
                        )
                    }
                };
                if n > self.bytes.len() as u64 {
                    return bad("a map longer than the message");
                }
                for _ in 0..n {
                    self.skip(element(k), depth + 1)?;
                    self.skip(element(v), depth + 1)?;
                }
                Ok(())
            }
            Type::Struct => self.each_field(|r, _, ty| r.skip(ty, depth + 1)),
        }
    }

    /// Reads a struct, calling `f` for each field; restores the outer struct's field ids.
    fn each_field(&mut self, mut f: impl FnMut(&mut Self, i16, Type) -> Result<()>) -> Result<()> {
        let outer = std::mem::replace(&mut self.last_id, 0);
        while let Some((id, ty)) = self.field()? {
            f(self, id, ty)?;
        }
        self.last_id = outer;
        Ok(())
    }

    /// A list of structs, each read by `f`.
    fn structs<T>(
        &mut self,
        ty: Type,
        mut f: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Vec<T>> {
        expect(ty, Type::List)?;
        let (elem, n) = self.list()?;
        expect(elem, Type::Struct)?;
        let mut out = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            out.push(f(self)?);
        }
        Ok(out)
    }
}

/// Inside lists, compact booleans are bytes, like binary ones.
fn element(ty: Type) -> Type {
    match ty {
        Type::Bool(_) => Type::Bool(None),
        other => other,
    }
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

fn expect(got: Type, want: Type) -> Result<()> {
    let same = matches!((got, want), (Type::Bool(_), Type::Bool(_))) || got == want;
    if same {
        Ok(())
    } else {
        bad(format!("expected {want:?}, found {got:?}"))
    }
}

/// The value fields of a tag; the one its type names is used.
#[derive(Default)]
struct TagFields {
    string: Option<String>,
    double: Option<f64>,
    boolean: Option<bool>,
    long: Option<i64>,
    binary: Option<Vec<u8>>,
}

fn tag(r: &mut Reader<'_>) -> Result<KeyValue> {
    let (mut key, mut kind) = (String::new(), 0);
    let mut values = TagFields::default();
    r.each_field(|r, id, ty| {
        match id {
            1 => {
                expect(ty, Type::Binary)?;
                key = r.string()?;
            }
            2 => {
                expect(ty, Type::I32)?;
                kind = r.i32()?;
            }
            3 => {
                expect(ty, Type::Binary)?;
                values.string = Some(r.string()?);
            }
            4 => {
                expect(ty, Type::Double)?;
                values.double = Some(r.double()?);
            }
            5 => values.boolean = Some(r.bool_value(ty)?),
            6 => {
                expect(ty, Type::I64)?;
                values.long = Some(r.i64()?);
            }
            7 => {
                expect(ty, Type::Binary)?;
                values.binary = Some(r.binary()?.to_vec());
            }
            _ => r.skip(ty, 1)?,
        }
        Ok(())
    })?;
    let value = match kind {
        0 => Value::Str(values.string.unwrap_or_default()),
        1 => Value::F64(values.double.unwrap_or_default()),
        2 => Value::Bool(values.boolean.unwrap_or_default()),
        3 => Value::I64(values.long.unwrap_or_default()),
        4 => Value::Binary(values.binary.unwrap_or_default()),
        other => return bad(format!("unknown tag type {other}")),
    };
    Ok(KeyValue { key, value })
}

fn process(r: &mut Reader<'_>) -> Result<Process> {
    let mut p = Process {
        service_name: String::new(),
        tags: Vec::new(),
    };
    r.each_field(|r, id, ty| {
        match id {
            1 => {
                expect(ty, Type::Binary)?;
                p.service_name = r.string()?;
            }
            2 => p.tags = r.structs(ty, tag)?,
            _ => r.skip(ty, 1)?,
        }
        Ok(())
    })?;
    if p.service_name.is_empty() {
        return bad("a process without a service name");
    }
    Ok(p)
}

fn i64_field(r: &mut Reader<'_>, ty: Type) -> Result<i64> {
    expect(ty, Type::I64)?;
    r.i64()
}

/// Thrift ids are signed; the bits are the id.
fn unsigned(n: i64) -> u64 {
    u64::from_ne_bytes(n.to_ne_bytes())
}

fn span(r: &mut Reader<'_>, process: &Arc<Process>) -> Result<Span> {
    let (mut low, mut high) = (0, 0);
    let mut s = Span {
        trace_id: TraceId::default(),
        span_id: 0,
        parent_span_id: 0,
        operation_name: String::new(),
        references: Vec::new(),
        flags: 0,
        start_time: 0,
        duration: 0,
        tags: Vec::new(),
        logs: Vec::new(),
        process: process.clone(),
    };
    r.each_field(|r, id, ty| {
        match id {
            1 => low = i64_field(r, ty)?,
            2 => high = i64_field(r, ty)?,
            3 => s.span_id = unsigned(i64_field(r, ty)?),
            4 => s.parent_span_id = unsigned(i64_field(r, ty)?),
            5 => {
                expect(ty, Type::Binary)?;
                s.operation_name = r.string()?;
            }
            6 => {
                s.references = r.structs(ty, |r| {
                    let (mut kind, mut low, mut high, mut span_id) = (0, 0, 0, 0);
                    r.each_field(|r, id, ty| {
                        match id {
                            1 => {
                                expect(ty, Type::I32)?;
                                kind = r.i32()?;
                            }
                            2 => low = i64_field(r, ty)?,
                            3 => high = i64_field(r, ty)?,
                            4 => span_id = unsigned(i64_field(r, ty)?),
                            _ => r.skip(ty, 1)?,
                        }
                        Ok(())
                    })?;
                    Ok(Reference {
                        kind: if kind == 1 {
                            RefKind::FollowsFrom
                        } else {
                            RefKind::ChildOf
                        },
                        trace_id: TraceId::new(unsigned(high), unsigned(low)),
                        span_id,
                    })
                })?;
            }
            7 => {
                expect(ty, Type::I32)?;
                s.flags = r.i32()?;
            }
            8 => s.start_time = i64_field(r, ty)?,
            9 => s.duration = i64_field(r, ty)?,
            10 => s.tags = r.structs(ty, tag)?,
            11 => {
                s.logs = r.structs(ty, |r| {
                    let mut log = Log {
                        timestamp: 0,
                        fields: Vec::new(),
                    };
                    r.each_field(|r, id, ty| {
                        match id {
                            1 => log.timestamp = i64_field(r, ty)?,
                            2 => log.fields = r.structs(ty, tag)?,
                            _ => r.skip(ty, 1)?,
                        }
                        Ok(())
                    })?;
                    Ok(log)
                })?;
            }
            _ => r.skip(ty, 1)?,
        }
        Ok(())
    })?;
    s.trace_id = TraceId::new(unsigned(high), unsigned(low));
    if !s.trace_id.is_valid() || s.span_id == 0 {
        return bad("a span without a trace id or a span id");
    }
    Ok(s)
}

/// Reads a `Batch` struct (its fields; the caller has read the header, if any).
fn batch(r: &mut Reader<'_>) -> Result<Vec<Span>> {
    let mut process_seen: Option<Arc<Process>> = None;
    // Spans may come before the process in a hostile or odd encoding: kept raw until then.
    let mut spans_at: Option<&[u8]> = None;
    let mut spans = Vec::new();
    r.each_field(|r, id, ty| {
        match (id, &process_seen) {
            (1, _) => {
                expect(ty, Type::Struct)?;
                process_seen = Some(Arc::new(process(r)?));
            }
            (2, Some(p)) => {
                let p = p.clone();
                spans = r.structs(ty, |r| span(r, &p))?;
            }
            (2, None) => {
                spans_at = Some(r.bytes);
                r.skip(ty, 1)?;
            }
            _ => r.skip(ty, 1)?,
        }
        Ok(())
    })?;
    let Some(p) = process_seen else {
        return bad("a batch without a process");
    };
    if let Some(bytes) = spans_at {
        let mut again = Reader {
            bytes,
            protocol: r.protocol,
            last_id: 0,
        };
        spans = again.structs(Type::List, |r| span(r, &p))?;
    }
    Ok(spans)
}

/// Decodes a `Batch` struct, as the collector's HTTP endpoint receives it (thrift binary).
pub fn decode_batch(bytes: &[u8], protocol: Protocol) -> Result<Vec<Span>> {
    let mut r = Reader {
        bytes,
        protocol,
        last_id: 0,
    };
    batch(&mut r)
}

/// Decodes an agent's `emitBatch` message, as a UDP datagram carries it.
pub fn decode_emit_batch(bytes: &[u8], protocol: Protocol) -> Result<Vec<Span>> {
    let mut r = Reader {
        bytes,
        protocol,
        last_id: 0,
    };
    let name = match protocol {
        Protocol::Compact => {
            if r.byte()? != 0x82 {
                return bad("not a thrift compact message");
            }
            let _kind_and_version = r.byte()?;
            let _sequence = r.varint()?;
            r.string()?
        }
        Protocol::Binary => {
            let version = r.i32()?;
            if version & !0xFF != (0x8001_0000_u32 as i32) {
                return bad("not a strict thrift binary message");
            }
            let name = r.string()?;
            let _sequence = r.i32()?;
            name
        }
    };
    if name != "emitBatch" {
        return bad(format!("{name:?} is not emitBatch"));
    }
    let mut spans = None;
    r.each_field(|r, id, ty| {
        if id == 1 {
            expect(ty, Type::Struct)?;
            spans = Some(batch(r)?);
        } else {
            r.skip(ty, 1)?;
        }
        Ok(())
    })?;
    spans.map_or_else(|| bad("emitBatch without a batch"), Ok)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rustracing_jaeger::thrift::{agent, jaeger};
    use thrift_codec::data::Struct;
    use thrift_codec::message::Message;
    use thrift_codec::{BinaryEncode, CompactEncode};

    use super::*;

    fn encode(batch: jaeger::Batch, protocol: Protocol) -> Vec<u8> {
        let message = Message::from(agent::EmitBatchNotification { batch });
        let mut out = Vec::new();
        match protocol {
            Protocol::Compact => message.compact_encode(&mut out).unwrap(),
            Protocol::Binary => message.binary_encode(&mut out).unwrap(),
        }
        out
    }

    fn any_tag() -> impl Strategy<Value = jaeger::Tag> {
        let key = "[a-z.]{1,8}";
        prop_oneof![
            (key, "\\PC{0,12}").prop_map(|(key, value)| jaeger::Tag::String { key, value }),
            (key, any::<f64>().prop_filter("comparable", |f| !f.is_nan()))
                .prop_map(|(key, value)| jaeger::Tag::Double { key, value }),
            (key, any::<bool>()).prop_map(|(key, value)| jaeger::Tag::Bool { key, value }),
            (key, any::<i64>()).prop_map(|(key, value)| jaeger::Tag::Long { key, value }),
            (key, proptest::collection::vec(any::<u8>(), 0..8))
                .prop_map(|(key, value)| jaeger::Tag::Binary { key, value }),
        ]
    }

    fn any_span() -> impl Strategy<Value = jaeger::Span> {
        (
            (any::<i64>(), any::<i64>()).prop_filter("a trace id", |(l, h)| *l != 0 || *h != 0),
            any::<i64>().prop_filter("a span id", |s| *s != 0),
            any::<i64>(),
            "\\PC{0,16}",
            proptest::option::of(any::<i64>()),
            (any::<i32>(), any::<i64>(), any::<i64>()),
            proptest::collection::vec(any_tag(), 0..20),
            proptest::collection::vec(
                (any::<i64>(), proptest::collection::vec(any_tag(), 0..3)),
                0..3,
            ),
        )
            .prop_map(
                |(
                    (low, high),
                    span_id,
                    parent,
                    name,
                    reference,
                    (flags, start, duration),
                    tags,
                    logs,
                )| {
                    jaeger::Span {
                        trace_id_low: low,
                        trace_id_high: high,
                        span_id,
                        parent_span_id: parent,
                        operation_name: name,
                        references: reference
                            .map(|span_id| jaeger::SpanRef {
                                kind: jaeger::SpanRefKind::FollowsFrom,
                                trace_id_low: low,
                                trace_id_high: high,
                                span_id,
                            })
                            .into_iter()
                            .collect(),
                        flags,
                        start_time: start,
                        duration,
                        tags,
                        logs: logs
                            .into_iter()
                            .map(|(timestamp, fields)| jaeger::Log { timestamp, fields })
                            .collect(),
                    }
                },
            )
    }

    fn any_batch() -> impl Strategy<Value = jaeger::Batch> {
        (
            "[a-z-]{1,12}",
            proptest::collection::vec(any_tag(), 0..4),
            proptest::collection::vec(any_span(), 0..5),
        )
            .prop_map(|(service_name, tags, spans)| jaeger::Batch {
                process: jaeger::Process { service_name, tags },
                spans,
            })
    }

    fn value_of(tag: &jaeger::Tag) -> (String, Value) {
        match tag.clone() {
            jaeger::Tag::String { key, value } => (key, Value::Str(value)),
            jaeger::Tag::Double { key, value } => (key, Value::F64(value)),
            jaeger::Tag::Bool { key, value } => (key, Value::Bool(value)),
            jaeger::Tag::Long { key, value } => (key, Value::I64(value)),
            jaeger::Tag::Binary { key, value } => (key, Value::Binary(value)),
        }
    }

    fn check(batch: &jaeger::Batch, decoded: &[Span]) -> std::result::Result<(), TestCaseError> {
        prop_assert_eq!(decoded.len(), batch.spans.len());
        for (want, got) in batch.spans.iter().zip(decoded) {
            prop_assert_eq!(got.trace_id.low(), unsigned(want.trace_id_low));
            prop_assert_eq!(got.trace_id.high(), unsigned(want.trace_id_high));
            prop_assert_eq!(got.span_id, unsigned(want.span_id));
            prop_assert_eq!(got.parent_span_id, unsigned(want.parent_span_id));
            prop_assert_eq!(&got.operation_name, &want.operation_name);
            prop_assert_eq!(got.references.len(), want.references.len());
            prop_assert_eq!(
                (got.flags, got.start_time, got.duration),
                (want.flags, want.start_time, want.duration)
            );
            let tags: Vec<(String, Value)> = got
                .tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect();
            prop_assert_eq!(tags, want.tags.iter().map(value_of).collect::<Vec<_>>());
            prop_assert_eq!(got.logs.len(), want.logs.len());
            prop_assert_eq!(&got.process.service_name, &batch.process.service_name);
            prop_assert_eq!(got.process.tags.len(), batch.process.tags.len());
        }
        Ok(())
    }

    proptest! {
        // 1,000 cases in the normal suite; the documented long run sets PROPTEST_CASES=1000000.
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(1000)
        ))]

        #[test]
        fn batches_encoded_by_rustracing_jaeger_decode_intact(batch in any_batch()) {
            for protocol in [Protocol::Compact, Protocol::Binary] {
                let bytes = encode(batch.clone(), protocol);
                let decoded = decode_emit_batch(&bytes, protocol).map_err(|e| TestCaseError::fail(e.0))?;
                check(&batch, &decoded)?;
            }
            let mut body = Vec::new();
            Struct::from(batch.clone()).binary_encode(&mut body).unwrap();
            let decoded = decode_batch(&body, Protocol::Binary).map_err(|e| TestCaseError::fail(e.0))?;
            check(&batch, &decoded)?;
        }

        #[test]
        fn damaged_messages_are_rejected_or_decoded_never_a_panic(
            batch in any_batch(),
            cut in any::<prop::sample::Index>(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        ) {
            for protocol in [Protocol::Compact, Protocol::Binary] {
                let mut bytes = encode(batch.clone(), protocol);
                for (at, value) in &flips {
                    let i = at.index(bytes.len());
                    bytes[i] = *value;
                }
                let len = cut.index(bytes.len() + 1);
                let _ = decode_emit_batch(&bytes[..len], protocol);
                let _ = decode_batch(&bytes[..len], protocol);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            for protocol in [Protocol::Compact, Protocol::Binary] {
                let _ = decode_emit_batch(&bytes, protocol);
                let _ = decode_batch(&bytes, protocol);
            }
        }
    }
}
