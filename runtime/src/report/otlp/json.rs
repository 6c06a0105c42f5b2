//! The OTLP JSON encoding (`http/json`), written by hand as the OTLP specification's JSON
//! mapping says: the protobuf messages' fields in lowerCamelCase, trace and span ids as hex
//! (not base64), enums as their integers, 64-bit integers as decimal strings.

use std::fmt::Write as _;

use super::model::{self, Span};
use crate::report::Batch;
use crate::tag::TagRef;

/// A JSON string, escaped.
fn string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A `KeyValue`.
fn attribute(out: &mut String, name: &str, value: TagRef<'_>) {
    out.push_str("{\"key\":");
    string(out, name);
    out.push_str(",\"value\":{");
    match value {
        TagRef::Str(s) => {
            out.push_str("\"stringValue\":");
            string(out, s);
        }
        TagRef::Bool(b) => {
            let _ = write!(out, "\"boolValue\":{b}");
        }
        TagRef::I64(i) => {
            let _ = write!(out, "\"intValue\":\"{i}\"");
        }
        // Protobuf's JSON writes the values JSON has no number for as strings.
        TagRef::F64(d) if d.is_nan() => out.push_str("\"doubleValue\":\"NaN\""),
        TagRef::F64(d) if d.is_infinite() => {
            let sign = if d > 0.0 { "" } else { "-" };
            let _ = write!(out, "\"doubleValue\":\"{sign}Infinity\"");
        }
        TagRef::F64(d) => {
            let _ = write!(out, "\"doubleValue\":{d:?}");
        }
    }
    out.push_str("}}");
}

fn attributes<'a>(out: &mut String, values: impl IntoIterator<Item = (&'a str, TagRef<'a>)>) {
    out.push_str("\"attributes\":[");
    for (i, (name, value)) in values.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        attribute(out, name, value);
    }
    out.push(']');
}

fn span(out: &mut String, span: &Span<'_>) {
    let record = span.record;
    // Always 32 and 16 digits (a Jaeger id's text drops a zero high half).
    let trace_id = record.trace_id().to_u128();
    let _ = write!(
        out,
        "{{\"traceId\":\"{trace_id:032x}\",\"spanId\":\"{:016x}\"",
        record.span_id().get()
    );
    if let Some(state) = record.trace_state() {
        out.push_str(",\"traceState\":");
        string(out, state);
    }
    if let Some(parent) = record.parent_id() {
        let _ = write!(out, ",\"parentSpanId\":\"{:016x}\"", parent.get());
    }
    let _ = write!(out, ",\"flags\":{},\"name\":", span.flags());
    string(out, record.operation_name());
    let _ = write!(
        out,
        ",\"kind\":{},\"startTimeUnixNano\":\"{}\",\"endTimeUnixNano\":\"{}\",",
        span.kind, span.start_unix_nano, span.end_unix_nano
    );
    attributes(
        out,
        span.attributes
            .iter()
            .map(|(name, value)| (*name, TagRef::from(value))),
    );
    out.push_str(",\"events\":[");
    for (i, event) in span.events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"timeUnixNano\":\"{}\",\"name\":",
            event.time_unix_nano
        );
        string(out, event.name);
        out.push(',');
        attributes(out, event.attributes.iter().copied());
        out.push('}');
    }
    out.push_str("],\"links\":[");
    if let Some(parent) = record.parent_id().filter(|_| span.follows_from) {
        let _ = write!(
            out,
            "{{\"traceId\":\"{trace_id:032x}\",\"spanId\":\"{:016x}\",",
            parent.get()
        );
        attributes(out, [("opentracing.ref_type", TagRef::Str("follows_from"))]);
        out.push('}');
    }
    out.push(']');
    if let Some(text) = span.error {
        let _ = write!(
            out,
            ",\"status\":{{\"code\":{},\"message\":",
            model::STATUS_ERROR
        );
        string(out, text);
        out.push('}');
    }
    out.push('}');
}

/// `ExportTraceServiceRequest`, one resource with one scope.
pub(super) fn request(out: &mut String, batch: &Batch<'_>) {
    out.push_str("{\"resourceSpans\":[{\"resource\":{");
    attributes(out, model::resource(batch.process()));
    out.push_str("},\"scopeSpans\":[{\"scope\":{\"name\":");
    string(out, model::SCOPE_NAME);
    out.push_str(",\"version\":");
    string(out, model::VERSION);
    out.push_str("},\"spans\":[");
    for (i, mapped) in model::spans(batch).enumerate() {
        if i > 0 {
            out.push(',');
        }
        span(out, &mapped);
    }
    out.push_str("]}]}]}");
}

/// The `partialSuccess` of a JSON answer: `rejectedSpans` (a string or a number) and
/// `errorMessage`. Read leniently: anything else in the body says nothing was rejected.
pub(super) fn partial_success(body: &[u8]) -> (u64, String) {
    let text = String::from_utf8_lossy(body);
    let after = |key: &str| -> Option<&str> {
        let at = text.find(key)? + key.len();
        let rest = text[at..].trim_start().strip_prefix(':')?;
        Some(rest.trim_start())
    };
    let rejected = after("\"rejectedSpans\"")
        .and_then(|rest| {
            let rest = rest.strip_prefix('"').unwrap_or(rest);
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            rest[..end].parse().ok()
        })
        .unwrap_or(0);
    let message = after("\"errorMessage\"")
        .and_then(|rest| rest.strip_prefix('"'))
        .map(|rest| {
            let mut message = String::new();
            let mut chars = rest.chars();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => match chars.next() {
                        Some('n') => message.push('\n'),
                        Some('t') => message.push('\t'),
                        Some(c) => message.push(c),
                        None => break,
                    },
                    c => message.push(c),
                }
            }
            message
        })
        .unwrap_or_default();
    (rejected, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_what_json_asks() {
        let mut out = String::new();
        string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn values_follow_the_json_mapping() {
        let one = |value| {
            let mut out = String::new();
            attribute(&mut out, "k", value);
            out
        };
        assert_eq!(
            one(TagRef::I64(-7)),
            r#"{"key":"k","value":{"intValue":"-7"}}"#
        );
        assert_eq!(
            one(TagRef::Bool(true)),
            r#"{"key":"k","value":{"boolValue":true}}"#
        );
        assert_eq!(
            one(TagRef::F64(1.0)),
            r#"{"key":"k","value":{"doubleValue":1.0}}"#
        );
        assert_eq!(
            one(TagRef::F64(f64::NEG_INFINITY)),
            r#"{"key":"k","value":{"doubleValue":"-Infinity"}}"#
        );
        assert_eq!(
            one(TagRef::Str("v")),
            r#"{"key":"k","value":{"stringValue":"v"}}"#
        );
    }

    #[test]
    fn partial_success_is_read_from_json_answers() {
        assert_eq!(
            partial_success(
                br#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"too \"old\""}}"#
            ),
            (2, "too \"old\"".into())
        );
        assert_eq!(
            partial_success(br#"{"partialSuccess": {"rejectedSpans": 5}}"#),
            (5, String::new())
        );
        assert_eq!(partial_success(b"{}"), (0, String::new()));
        assert_eq!(
            partial_success(b"\xFF\"rejectedSpans\":"),
            (0, String::new())
        );
    }
}
