//! W3C Trace Context (`traceparent`, `tracestate`) and W3C Baggage (`baggage`).

use std::fmt::Write;

use super::baggage::{self, BaggageLimits, Incoming};
use super::carrier::{Extractor, Injector};
use super::Parsed;
use crate::context::Context;
use crate::ids::{SpanId, TraceId};

pub(super) const TRACEPARENT: &str = "traceparent";
pub(super) const TRACESTATE: &str = "tracestate";
pub(super) const BAGGAGE: &str = "baggage";

/// Version 00 is exactly this long; later versions may append fields.
const V00_LEN: usize = 55;
/// Longest `traceparent` accepted from a future version.
const MAX_LEN: usize = 512;
/// Longest `tracestate` passed on: 32 members of up to 256 bytes, as the spec allows.
pub(super) const MAX_TRACESTATE: usize = 32 * 257;
/// Longest `baggage` header read.
const MAX_BAGGAGE_HEADER: usize = 64 * 1024;

pub(super) fn extract(carrier: &dyn Extractor) -> Parsed {
    match carrier.get(TRACEPARENT) {
        None => Parsed::Absent,
        Some(value) => parse(value).map_or(Parsed::Invalid, Parsed::Found),
    }
}

fn lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn parse(value: &str) -> Option<Context> {
    let value = value.trim();
    if value.len() < V00_LEN || value.len() > MAX_LEN || !value.is_ascii() {
        return None;
    }
    let (version, trace, parent, flags) =
        (&value[0..2], &value[3..35], &value[36..52], &value[53..55]);
    let dashes = [2, 35, 52].iter().all(|&i| value.as_bytes()[i] == b'-');
    let rest_ok = match version {
        "00" => value.len() == V00_LEN,
        // A later version: its first fields mean the same; more may follow after a dash.
        _ => value.len() == V00_LEN || value.as_bytes()[V00_LEN] == b'-',
    };
    if !dashes
        || !rest_ok
        || version == "ff"
        || ![version, trace, parent, flags].iter().all(|p| lower_hex(p))
    {
        return None;
    }
    let trace_id: TraceId = trace.parse().ok()?;
    let span_id: SpanId = parent.parse().ok()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Context::remote(trace_id, span_id, flags & 1 == 1)
}

/// The `tracestate` to pass on with a context read from `traceparent`; `Err` when too long.
pub(super) fn tracestate(carrier: &dyn Extractor) -> Option<Result<&str, ()>> {
    let state = carrier.get(TRACESTATE)?.trim();
    Some(if state.len() > MAX_TRACESTATE || !state.is_ascii() {
        Err(())
    } else {
        Ok(state)
    })
}

pub(super) fn extract_baggage(carrier: &dyn Extractor, into: &mut Incoming) {
    let Some(list) = carrier.get(BAGGAGE) else {
        return;
    };
    if list.len() > MAX_BAGGAGE_HEADER {
        into.dropped += 1;
        return;
    }
    for member in list.split(',') {
        // Properties (`;k=v` after the value) are not kept.
        let item = member.split(';').next().unwrap_or_default();
        match item.split_once('=') {
            Some((k, v)) => into.add(k, v, false),
            None if item.trim().is_empty() => {}
            None => into.dropped += 1,
        }
    }
}

pub(super) fn inject(cx: &Context, carrier: &mut dyn Injector, limits: &BaggageLimits) -> u64 {
    if cx.is_valid() {
        let id = cx.trace_id();
        carrier.set(
            TRACEPARENT,
            format!(
                "00-{:016x}{:016x}-{}-{:02x}",
                id.high(),
                id.low(),
                cx.span_id(),
                cx.flags() & 1
            ),
        );
        if let Some(state) = cx.tracestate() {
            carrier.set(TRACESTATE, state.to_owned());
        }
    }
    let mut header = String::new();
    let mut dropped = 0;
    for (key, value) in cx.baggage_items() {
        let value = baggage::encode(value);
        let len = key.len() + 1 + value.len() + usize::from(!header.is_empty());
        if !baggage::is_token(key) || header.len() + len > limits.max_bytes {
            dropped += 1;
            continue;
        }
        if !header.is_empty() {
            header.push(',');
        }
        let _ = write!(header, "{key}={value}");
    }
    if !header.is_empty() {
        carrier.set(BAGGAGE, header);
    }
    dropped
}
