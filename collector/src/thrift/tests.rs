//! The decoders against what rustracing_jaeger and thrift_codec encode, and against hostile
//! input.

use proptest::prelude::*;
use rustracing_jaeger::thrift::{agent, jaeger};
use thrift_codec::data::Struct;
use thrift_codec::message::Message;
use thrift_codec::{BinaryEncode, CompactEncode};

use super::jaeger::unsigned;
use super::*;
use crate::model::{Span, Value};

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
