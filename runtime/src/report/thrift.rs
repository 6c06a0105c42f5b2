//! Finished spans as rustracing_jaeger's thrift types (`jaeger.thrift`), which every Jaeger sink
//! encodes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustracing_jaeger::thrift::jaeger;

use super::sink::Process;
use crate::local::record::{ReferenceKind, SpanRecord};
use crate::tag::TagValue;

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

/// The Go client's default.
pub const DEFAULT_MAX_TAG_VALUE_LENGTH: usize = 256;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_tag_value_length: DEFAULT_MAX_TAG_VALUE_LENGTH,
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

pub(crate) fn tag(key: &str, value: &TagValue, limits: &Limits) -> jaeger::Tag {
    let key = key.to_owned();
    match value {
        TagValue::String(value) => jaeger::Tag::String {
            key,
            value: truncate(value, limits.max_tag_value_length).to_owned(),
        },
        TagValue::Boolean(value) => jaeger::Tag::Bool { key, value: *value },
        TagValue::Integer(value) => jaeger::Tag::Long { key, value: *value },
        TagValue::Float(value) => jaeger::Tag::Double { key, value: *value },
    }
}

/// Ids are unsigned in Rust and signed in thrift: the bits are kept, as Jaeger clients do.
#[allow(clippy::cast_possible_wrap)]
pub(crate) fn span(span: &SpanRecord, limits: &Limits) -> jaeger::Span {
    let trace_id_low = span.trace_id.low() as i64;
    let trace_id_high = span.trace_id.high() as i64;
    let parent_span_id = span.parent_id.get() as i64;
    let references = if span.reference_kind() == Some(ReferenceKind::FollowsFrom) {
        vec![jaeger::SpanRef {
            kind: jaeger::SpanRefKind::FollowsFrom,
            trace_id_low,
            trace_id_high,
            span_id: parent_span_id,
        }]
    } else {
        Vec::new()
    };
    jaeger::Span {
        trace_id_low,
        trace_id_high,
        span_id: span.span_id.get() as i64,
        parent_span_id,
        operation_name: span.operation_name().to_owned(),
        references,
        flags: i32::from(span.flags),
        start_time: micros_since_epoch(span.start_time()),
        duration: micros(span.duration()),
        tags: span.tags().map(|(k, v)| tag(k, &v, limits)).collect(),
        logs: span
            .logs()
            .iter()
            .map(|log| jaeger::Log {
                timestamp: micros_since_epoch(log.time()),
                fields: log.fields.iter().map(jaeger::Tag::from).collect(),
            })
            .collect(),
    }
}

pub(crate) fn process(process: &Process) -> jaeger::Process {
    jaeger::Process {
        service_name: process.service_name.clone(),
        tags: process.tags.iter().map(jaeger::Tag::from).collect(),
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
