//! What the Jaeger sinks' thrift (`jaeger.thrift`) shares: its units of time, the limits on
//! what it carries, and a span as an owned struct for the rare one cut to fit a datagram.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::local::record::{Log, ReferenceKind, SpanRecord};
use crate::tag::{Tag, TagValue};

/// Microseconds, as Jaeger's thrift counts durations (saturating).
pub(crate) fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Microseconds since the epoch, as Jaeger's thrift counts times (negative before it).
pub(crate) fn micros_since_epoch(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => micros(d),
        Err(e) => -micros(e.duration()),
    }
}

/// What the encoding may cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// String tag values are cut to this many bytes (at a character boundary), as Jaeger's Go
    /// client does: a tag is for searching, not for holding a request body.
    pub(crate) max_tag_value_length: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_tag_value_length: super::AgentSink::DEFAULT_MAX_TAG_VALUE_LENGTH,
        }
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A finished span as `jaeger.thrift`'s `Span` struct holds it, owned: for the rare span that
/// must be cut to fit a datagram, which the encoder of [`SpanRecord`]s cannot cut.
#[derive(Clone, Debug)]
pub(crate) struct Span {
    pub(crate) trace_id_low: i64,
    pub(crate) trace_id_high: i64,
    pub(crate) span_id: i64,
    pub(crate) parent_span_id: i64,
    pub(crate) operation_name: String,
    /// A `FollowsFrom` reference to the parent, else none (the parent field says `ChildOf`).
    pub(crate) follows_from: bool,
    pub(crate) flags: i32,
    pub(crate) start_time: i64,
    pub(crate) duration: i64,
    /// Tag values already cut to the limits.
    pub(crate) tags: Vec<Tag>,
    pub(crate) logs: Vec<Log>,
}

/// Ids are unsigned in Rust and signed in thrift: the bits are kept, as Jaeger clients do.
#[allow(clippy::cast_possible_wrap)]
pub(crate) fn span(span: &SpanRecord, limits: &Limits) -> Span {
    Span {
        trace_id_low: span.trace_id.low() as i64,
        trace_id_high: span.trace_id.high() as i64,
        span_id: span.span_id.get() as i64,
        parent_span_id: span.parent_id.get() as i64,
        operation_name: span.operation_name().to_owned(),
        follows_from: span.reference_kind() == Some(ReferenceKind::FollowsFrom),
        flags: i32::from(span.flags),
        start_time: micros_since_epoch(span.start_time()),
        duration: micros(span.duration()),
        tags: span
            .tags()
            .map(|(key, value)| {
                let value = match value {
                    TagValue::String(s) => TagValue::String(
                        truncate(&s, limits.max_tag_value_length).to_owned().into(),
                    ),
                    other => other,
                };
                Tag::new(key.to_owned(), value)
            })
            .collect(),
        logs: span.logs().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate("hello", 10), "hello");
        assert_eq!(truncate("hello", 3), "hel");
        assert_eq!(truncate("héllo", 2), "h", "é is two bytes");
        assert_eq!(truncate("héllo", 3), "hé");
    }
}
