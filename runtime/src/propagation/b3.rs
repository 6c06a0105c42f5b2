//! Zipkin's B3, in its single-header form (`b3: {trace}-{span}-{sampled}-{parent}`) and its
//! multi-header form (`X-B3-TraceId`, `X-B3-SpanId`, `X-B3-ParentSpanId`, `X-B3-Sampled`,
//! `X-B3-Flags`).

use super::carrier::{Extractor, Injector};
use super::Parsed;
use crate::context::Context;
use crate::ids::{SpanId, TraceId};

pub(super) const SINGLE: &str = "b3";
pub(super) const TRACE_ID: &str = "x-b3-traceid";
pub(super) const SPAN_ID: &str = "x-b3-spanid";
pub(super) const PARENT_ID: &str = "x-b3-parentspanid";
pub(super) const SAMPLED: &str = "x-b3-sampled";
pub(super) const FLAGS: &str = "x-b3-flags";

/// The longest valid single header: 32 + 16 + 1 + 16 digits and 3 dashes.
const MAX_SINGLE: usize = 68;

/// What a sender said about sampling.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Decision {
    Deny,
    Accept,
    Debug,
    /// Left to the receiver.
    Defer,
}

fn trace_id(s: &str) -> Option<TraceId> {
    // B3 ids are 16 or 32 lowercase hex digits.
    if (s.len() == 16 || s.len() == 32) && lower_hex(s) {
        s.parse().ok()
    } else {
        None
    }
}

fn span_id(s: &str) -> Option<SpanId> {
    if s.len() == 16 && lower_hex(s) {
        s.parse().ok()
    } else {
        None
    }
}

fn lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The context of a B3 sender. A decision without ids (`b3: 0`) is a context too: a root
/// that is not to be sampled (or, `1` and `d`, that is).
fn context(ids: Option<(TraceId, SpanId, SpanId)>, decision: Decision) -> Option<Context> {
    let Some((trace_id, span_id, parent_id)) = ids else {
        return Some(match decision {
            Decision::Deny => Context::unsampled_root(TraceId::default(), &Context::NONE),
            Decision::Accept => Context::NONE.with_flags(1),
            Decision::Debug => Context::NONE.with_flags(3),
            Decision::Defer => return None,
        });
    };
    let sampled = match decision {
        Decision::Deny => false,
        Decision::Accept | Decision::Debug => true,
        // The sender left it to us: the sampler decides, as for a root of ours.
        Decision::Defer => crate::tracer::get().is_some_and(|t| t.sampler.sample_trace(trace_id)),
    };
    let cx = Context::remote(trace_id, span_id, sampled)?;
    let cx = if decision == Decision::Debug {
        cx.with_flags(3)
    } else {
        cx
    };
    Some(Context { parent_id, ..cx })
}

pub(super) fn extract_single(carrier: &dyn Extractor) -> Parsed {
    let Some(value) = carrier.get(SINGLE) else {
        return Parsed::Absent;
    };
    parse_single(value.trim()).map_or(Parsed::Invalid, Parsed::Found)
}

fn parse_single(value: &str) -> Option<Context> {
    if value.len() > MAX_SINGLE {
        return None;
    }
    let single_decision = |s: &str| match s {
        "0" => Some(Decision::Deny),
        "1" => Some(Decision::Accept),
        "d" => Some(Decision::Debug),
        _ => None,
    };
    let parts: Vec<&str> = value.split('-').collect();
    match parts.as_slice() {
        [decision] => context(None, single_decision(decision)?),
        [trace, span] => context(
            Some((trace_id(trace)?, span_id(span)?, SpanId::new(0))),
            Decision::Defer,
        ),
        [trace, span, decision] => context(
            Some((trace_id(trace)?, span_id(span)?, SpanId::new(0))),
            single_decision(decision)?,
        ),
        [trace, span, decision, parent] => context(
            Some((trace_id(trace)?, span_id(span)?, span_id(parent)?)),
            single_decision(decision)?,
        ),
        _ => None,
    }
}

pub(super) fn extract_multi(carrier: &dyn Extractor) -> Parsed {
    let (trace, span, sampled, flags) = (
        carrier.get(TRACE_ID),
        carrier.get(SPAN_ID),
        carrier.get(SAMPLED),
        carrier.get(FLAGS),
    );
    if trace.is_none() && span.is_none() && sampled.is_none() && flags.is_none() {
        return Parsed::Absent;
    }
    parse_multi(carrier, trace, span, sampled, flags).map_or(Parsed::Invalid, Parsed::Found)
}

fn parse_multi(
    carrier: &dyn Extractor,
    trace: Option<&str>,
    span: Option<&str>,
    sampled: Option<&str>,
    flags: Option<&str>,
) -> Option<Context> {
    let decision = match (flags.map(str::trim), sampled.map(str::trim)) {
        (Some("1"), _) => Decision::Debug,
        (Some("0") | None, None) => Decision::Defer,
        (Some("0") | None, Some("1" | "true")) => Decision::Accept,
        (Some("0") | None, Some("0" | "false")) => Decision::Deny,
        _ => return None,
    };
    let ids = match (trace, span) {
        (None, None) => None,
        (Some(trace), Some(span)) => {
            let parent = match carrier.get(PARENT_ID) {
                Some(parent) => span_id(parent.trim())?,
                None => SpanId::new(0),
            };
            Some((trace_id(trace.trim())?, span_id(span.trim())?, parent))
        }
        // One id without the other: inconsistent.
        _ => return None,
    };
    context(ids, decision)
}

fn decision_of(cx: &Context) -> &'static str {
    if cx.is_debug() {
        "d"
    } else if cx.is_sampled() {
        "1"
    } else {
        "0"
    }
}

pub(super) fn inject_single(cx: &Context, carrier: &mut dyn Injector) {
    if !cx.is_valid() {
        return;
    }
    let mut value = format!("{}-{}-{}", cx.trace_id(), cx.span_id(), decision_of(cx));
    if let Some(parent) = cx.parent_id() {
        value.push('-');
        value.push_str(&parent.to_string());
    }
    carrier.set(SINGLE, value);
}

pub(super) fn inject_multi(cx: &Context, carrier: &mut dyn Injector) {
    if !cx.is_valid() {
        return;
    }
    carrier.set(TRACE_ID, cx.trace_id().to_string());
    carrier.set(SPAN_ID, cx.span_id().to_string());
    if let Some(parent) = cx.parent_id() {
        carrier.set(PARENT_ID, parent.to_string());
    }
    if cx.is_debug() {
        // Debug implies sampled; B3 says not to send both.
        carrier.set(FLAGS, "1".to_owned());
    } else {
        carrier.set(SAMPLED, if cx.is_sampled() { "1" } else { "0" }.to_owned());
    }
}
