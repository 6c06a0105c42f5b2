//! traced's OTLP encoder side by side with opentelemetry-otlp's, on the same 1,024 spans (a
//! name and two tags each, under one parent, as in traced's own `otlp_encode` bench):
//!
//! - `traced/*`: `OtlpSink::body`, from the finished spans straight to bytes;
//! - `opentelemetry-otlp/*`: what opentelemetry-otlp's HTTP exporter does with the batch the
//!   SDK hands it: `SpanData` turned into opentelemetry-proto's prost messages
//!   (`group_spans_by_resource_and_scope`, its transform), then `prost::Message::encode_to_vec`
//!   for `http/protobuf`, `serde_json::to_string_pretty` for `http/json` (as the exporter
//!   calls them). The SDK's `SpanData` are made from
//!   traced's spans beforehand (same ids, names, times, attributes, resource and scope); cloning
//!   the batch for each export is left out of the time, as the exporter owns its batch.
//!
//! Run: `cargo bench --manifest-path benches/peers/Cargo.toml --target-dir target/peers
//! --bench otlp_encode`.

use std::borrow::Cow;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use opentelemetry_sdk::Resource;
use prost::Message;
use traced::report::{Batch, OtlpProtocol, OtlpSink, Process};
use traced::{SpanRecord, TagValue};

/// traced's version, as its resource and scope name it.
const TRACED_VERSION: &str = "0.1.0";

/// Spans per batch: what traced's reporter hands its sink at most.
const BATCH: usize = 1024;

#[traced::traced(tags(db.type = "mongo", rows = 3))]
fn get_all_images(i: u64) -> u64 {
    i
}

#[traced::traced]
fn request() {
    for i in 0..BATCH as u64 - 1 {
        get_all_images(i);
    }
}

fn value(tag: TagValue) -> Value {
    match tag {
        TagValue::String(s) => Value::from(s.into_owned()),
        TagValue::Boolean(b) => Value::Bool(b),
        TagValue::Integer(i) => Value::I64(i),
        TagValue::Float(f) => Value::F64(f),
    }
}

/// The span as OpenTelemetry's SDK would have recorded it.
fn span_data(record: &SpanRecord, scope: &InstrumentationScope) -> SpanData {
    SpanData {
        span_context: SpanContext::new(
            TraceId::from_bytes(record.trace_id().to_u128().to_be_bytes()),
            SpanId::from_bytes(record.span_id().get().to_be_bytes()),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: record.parent_id().map_or(SpanId::INVALID, |p| {
            SpanId::from_bytes(p.get().to_be_bytes())
        }),
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Owned(record.operation_name().to_owned()),
        start_time: record.start_time(),
        end_time: record.start_time() + record.duration(),
        attributes: record
            .tags()
            .map(|(k, v)| KeyValue::new(k.to_owned(), value(v)))
            .collect(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: scope.clone(),
    }
}

fn encode(c: &mut Criterion) {
    let spans = {
        let capture = traced::testing::Capture::install();
        request();
        capture.spans()
    };
    assert_eq!(spans.len(), BATCH);
    let process = Process::new("bench");
    let batch = Batch::new(&process, &spans);

    // The same resource and scope as traced's (service, SDK, the process tags).
    let resource = Resource::builder_empty()
        .with_attributes(
            [
                KeyValue::new("service.name", "bench"),
                KeyValue::new("telemetry.sdk.name", "traced"),
                KeyValue::new("telemetry.sdk.language", "rust"),
                KeyValue::new("telemetry.sdk.version", TRACED_VERSION),
            ]
            .into_iter()
            .chain(
                process
                    .tags()
                    .filter(|(k, _)| *k != "jaeger.version")
                    .map(|(k, v)| {
                        let k = if k == "hostname" { "host.name" } else { k };
                        KeyValue::new(k.to_owned(), value(v.clone()))
                    }),
            ),
        )
        .build();
    let resource = ResourceAttributesWithSchema::from(&resource);
    let scope = InstrumentationScope::builder("traced")
        .with_version(TRACED_VERSION)
        .build();
    let span_data: Vec<SpanData> = spans.iter().map(|s| span_data(s, &scope)).collect();
    let otel_request = |spans: Vec<SpanData>| ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(spans, &resource),
    };

    let protobuf = OtlpSink::new(OtlpSink::DEFAULT_ENDPOINT).expect("a valid endpoint");
    // The same spans: traced's bytes, decoded by opentelemetry-proto, hold what the SDK's
    // request holds (ids, names, times, attributes, resource, scope).
    let traced_request = ExportTraceServiceRequest::decode(&*protobuf.body(&batch)).unwrap();
    let otel = otel_request(span_data.clone());
    let key = |request: &ExportTraceServiceRequest| {
        let resource = &request.resource_spans[0];
        let scope = &resource.scope_spans[0];
        let spans: Vec<_> = scope
            .spans
            .iter()
            .map(|s| {
                (
                    (
                        s.trace_id.clone(),
                        s.span_id.clone(),
                        s.parent_span_id.clone(),
                    ),
                    (
                        s.name.clone(),
                        s.kind,
                        s.start_time_unix_nano,
                        s.end_time_unix_nano,
                    ),
                    s.attributes.clone(),
                )
            })
            .collect();
        let scope = scope
            .scope
            .as_ref()
            .map(|s| (s.name.clone(), s.version.clone()));
        // The SDK's resource is a map: its attributes come in no particular order.
        let mut attributes = resource.resource.clone().unwrap().attributes;
        attributes.sort_by(|a, b| a.key.cmp(&b.key));
        (attributes, scope, spans)
    };
    let (ours, theirs) = (key(&traced_request), key(&otel));
    assert_eq!(ours.0, theirs.0, "the same resource");
    assert_eq!(ours.1, theirs.1, "the same scope");
    assert_eq!(ours.2.len(), theirs.2.len());
    for (a, b) in ours.2.iter().zip(&theirs.2) {
        assert_eq!(a, b, "the same span");
    }
    let json = OtlpSink::new(OtlpSink::DEFAULT_ENDPOINT)
        .unwrap()
        .protocol(OtlpProtocol::Json);
    println!(
        "protobuf: traced {} bytes a batch, opentelemetry-otlp {}",
        protobuf.body(&batch).len(),
        otel_request(span_data.clone()).encode_to_vec().len()
    );
    println!(
        "json: traced {} bytes a batch, opentelemetry-otlp {}",
        json.body(&batch).len(),
        serde_json::to_string_pretty(&otel_request(span_data.clone()))
            .unwrap()
            .len()
    );

    let mut group = c.benchmark_group("otlp_encode");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("traced/protobuf", |b| {
        b.iter(|| black_box(protobuf.body(black_box(&batch))))
    });
    group.bench_function("opentelemetry-otlp/protobuf", |b| {
        b.iter_batched(
            || span_data.clone(),
            |spans| black_box(otel_request(spans).encode_to_vec()),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("traced/json", |b| {
        b.iter(|| black_box(json.body(black_box(&batch))))
    });
    group.bench_function("opentelemetry-otlp/json", |b| {
        b.iter_batched(
            || span_data.clone(),
            |spans| {
                let json = serde_json::to_string_pretty(&otel_request(spans)).unwrap();
                black_box(json.into_bytes())
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
