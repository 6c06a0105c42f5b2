//! Jaeger's native headers: `uber-trace-id: {trace}:{span}:{parent}:{flags}`, baggage as
//! `uberctx-{key}` headers or one `jaeger-baggage: k=v, k2=v2`, and `jaeger-debug-id`.

use std::borrow::Cow;

use super::baggage::{self, Incoming};
use super::carrier::{Extractor, Injector};
use super::Parsed;
use crate::context::Context;
use crate::ids::{SpanId, TraceId};

pub(super) const TRACE_HEADER: &str = "uber-trace-id";
pub(super) const DEBUG_HEADER: &str = "jaeger-debug-id";
pub(super) const BAGGAGE_HEADER: &str = "jaeger-baggage";
const BAGGAGE_PREFIX: &str = "uberctx-";

/// Longer than any valid value (32 + 16 + 16 + 2 digits and 3 colons, URL-encoded at worst).
const MAX_LEN: usize = 128;
/// Longest debug id kept; it becomes a tag, and the header is untrusted.
const MAX_DEBUG_ID: usize = 256;

pub(super) fn extract(carrier: &dyn Extractor) -> Parsed {
    match carrier.get(TRACE_HEADER) {
        None => Parsed::Absent,
        Some(value) => parse(value).map_or(Parsed::Invalid, Parsed::Found),
    }
}

fn parse(value: &str) -> Option<Context> {
    if value.len() > MAX_LEN {
        return None;
    }
    // Some clients URL-encode the colons.
    let value: Cow<'_, str> = if value.contains('%') {
        Cow::Owned(value.replace("%3A", ":").replace("%3a", ":"))
    } else {
        Cow::Borrowed(value)
    };
    let mut parts = value.trim().split(':');
    let (trace, span, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let trace_id: TraceId = trace.parse().ok()?;
    let span_id: SpanId = span.parse().ok()?;
    // 0 is allowed here: a root's parent.
    if parent.is_empty() || parent.len() > 16 || !parent.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let parent_id = SpanId::new(u64::from_str_radix(parent, 16).ok()?);
    if flags.is_empty() || flags.len() > 2 {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    let cx = Context::remote(trace_id, span_id, false)?.with_flags(flags & 0b11);
    Some(Context { parent_id, ..cx })
}

/// The debug id of a request that asks to be sampled, if it sent a usable one.
pub(super) fn debug_id(carrier: &dyn Extractor) -> Option<Result<&str, ()>> {
    let id = carrier.get(DEBUG_HEADER)?.trim();
    Some(if id.is_empty() || id.len() > MAX_DEBUG_ID {
        Err(())
    } else {
        Ok(id)
    })
}

pub(super) fn extract_baggage(carrier: &dyn Extractor, into: &mut Incoming) {
    carrier.for_each_prefixed(BAGGAGE_PREFIX, &mut |name, value| {
        into.add(&name[BAGGAGE_PREFIX.len()..], value, true);
    });
    if let Some(list) = carrier.get(BAGGAGE_HEADER) {
        for item in list.split(',') {
            match item.split_once('=') {
                Some((k, v)) => into.add(k, v, true),
                None if item.trim().is_empty() => {}
                None => into.dropped += 1,
            }
        }
    }
}

pub(super) fn inject(cx: &Context, carrier: &mut dyn Injector) {
    if cx.is_valid() {
        carrier.set(
            TRACE_HEADER,
            // Ids padded like the span id (as Jaeger's UI shows them), a root's parent as `0`.
            match cx.parent_id() {
                Some(parent) => {
                    format!(
                        "{}:{}:{parent}:{:x}",
                        cx.trace_id(),
                        cx.span_id(),
                        cx.flags()
                    )
                }
                None => format!("{}:{}:0:{:x}", cx.trace_id(), cx.span_id(), cx.flags()),
            },
        );
    }
    for (key, value) in cx.baggage_items() {
        if baggage::is_token(key) {
            carrier.set(
                &format!("{BAGGAGE_PREFIX}{}", key.to_ascii_lowercase()),
                baggage::encode(value).into_owned(),
            );
        }
    }
}
