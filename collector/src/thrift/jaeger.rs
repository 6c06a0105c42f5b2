//! `jaeger.thrift`'s structs (`Batch`, `Process`, `Span`, `SpanRef`, `Log`, `Tag`) and
//! `agent.thrift`'s `emitBatch` message, decoded into the collector's model.

use std::sync::Arc;

use traced::TraceId;

use super::reader::{Reader, Type, expect};
use super::{Protocol, Result, bad};
use crate::model::{KeyValue, Log, Process, RefKind, Reference, Span, Value};

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
pub(super) fn unsigned(n: i64) -> u64 {
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
                spans_at = Some(r.remaining());
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
        let mut again = Reader::new(bytes, r.protocol());
        spans = again.structs(Type::List, |r| span(r, &p))?;
    }
    Ok(spans)
}

/// Decodes a `Batch` struct, as the collector's HTTP endpoint receives it (thrift binary).
pub fn decode_batch(bytes: &[u8], protocol: Protocol) -> Result<Vec<Span>> {
    let mut r = Reader::new(bytes, protocol);
    batch(&mut r)
}

/// Decodes an agent's `emitBatch` message, as a UDP datagram carries it.
pub fn decode_emit_batch(bytes: &[u8], protocol: Protocol) -> Result<Vec<Span>> {
    let mut r = Reader::new(bytes, protocol);
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
