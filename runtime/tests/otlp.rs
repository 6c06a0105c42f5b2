//! `OtlpSink` against a receiver no one here wrote the decoder of: OpenTelemetry's generated
//! Python classes (`opentelemetry-proto` from PyPI) parse traced's protobuf, gzip and JSON
//! bodies, and every field is checked against the spans sent. Then the sink on the tracer's
//! real path: a `partial_success` and a refusal counted in `traced::metrics()`.
//!
//! The test installs its peer: a venv under the target directory with the pinned
//! `tests/otlp/requirements.txt` (traced-test-support's, made on first run and whenever they
//! change).
#![cfg(feature = "otlp")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{json, Value};
use traced::report::{Batch, Compression, OtlpProtocol, OtlpSink, Process, Sink};
use traced::testing::Capture;
use traced::{traced, Config, Context, SpanId, SpanRecord, TagValue, TraceId};
use traced_test_support::Peer;

/// One global tracer per process: the tests take turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The venv's python, with the pinned `tests/otlp/requirements.txt` installed.
fn python() -> PathBuf {
    let requirements = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/otlp/requirements.txt");
    traced_test_support::venv("otlp-venv", &requirements).join("python")
}

/// The Python receiver (`tests/otlp/receiver.py`), answering as `answers` say; killed when
/// dropped.
struct Receiver(Peer);

impl Receiver {
    fn start(answers: &[&str]) -> Receiver {
        let mut command = Command::new(python());
        command
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/otlp/receiver.py"))
            .args(answers);
        Receiver(Peer::start(command))
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1/traces", self.0.port)
    }

    /// The next request the receiver decoded.
    fn next(&mut self) -> Value {
        let line = self.0.read_line();
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("a decoded request, not {line:?}"))
    }
}

#[traced(kind = server, tags(db.type = "mongo", rows = 3, ratio = 0.5, ok = true))]
fn handle(cx: &Context) -> usize {
    let _ = cx;
    traced::log_fields([("event", "cache miss"), ("key", "images/7")]);
    let _ = fetch();
    background();
    1
}

#[traced(kind = client)]
fn fetch() -> Result<(), std::fmt::Error> {
    Err(std::fmt::Error)
}

#[traced(follows_from)]
fn background() {}

/// The W3C `tracestate` the remote caller sent.
const TRACESTATE: &str = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";

fn spans() -> Vec<SpanRecord> {
    let capture = Capture::install();
    let remote = Context::remote(
        TraceId::new(0x0af7_6519_16cd_43dd, 0x8448_eb21_1c80_319c),
        SpanId::new(0xb7ad_6b71_6920_3331),
        true,
    )
    .unwrap()
    .with_tracestate(TRACESTATE);
    handle(&remote);
    let spans = capture.take();
    assert_eq!(spans.len(), 3);
    spans
}

fn nanos(time: std::time::SystemTime) -> String {
    time.duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        .to_string()
}

/// An attribute as `MessageToDict` renders it.
fn attribute(key: &str, value: &TagValue) -> Value {
    let value = match value {
        TagValue::String(s) => json!({ "string_value": s }),
        TagValue::Boolean(b) => json!({ "bool_value": b }),
        TagValue::Integer(i) => json!({ "int_value": i.to_string() }),
        TagValue::Float(f) => json!({ "double_value": f }),
    };
    json!({ "key": key, "value": value })
}

fn attributes(value: &Value) -> BTreeMap<String, Value> {
    value
        .as_array()
        .map(|list| {
            list.iter()
                .map(|a| (a["key"].as_str().unwrap().to_owned(), a["value"].clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_field_reaches_opentelemetrys_own_decoder_in_protobuf_gzip_and_json() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let spans = spans();
    let process = Process::new("gallery-api");
    let batch = Batch::new(&process, &spans);
    let mut receiver = Receiver::start(&["200", "200", "200"]);
    let sink = || {
        OtlpSink::new(&receiver.url())
            .unwrap()
            .header("x-api-key", "s3cr3t")
            .unwrap()
    };
    sink().send(&batch).expect("protobuf accepted");
    sink()
        .compression(Compression::Gzip)
        .send(&batch)
        .expect("gzip accepted");
    sink()
        .protocol(OtlpProtocol::Json)
        .send(&batch)
        .expect("json accepted");
    let (protobuf, gzipped, json) = (receiver.next(), receiver.next(), receiver.next());
    assert_eq!(protobuf["path"], "/v1/traces");
    assert_eq!(protobuf["content_type"], "application/x-protobuf");
    assert_eq!(protobuf["headers"]["x-api-key"], "s3cr3t");
    assert_eq!(gzipped["encoding"], "gzip");
    assert_eq!(json["content_type"], "application/json");
    assert_eq!(
        gzipped["request"], protobuf["request"],
        "the gzipped body decodes to the same request"
    );
    assert_eq!(
        json["request"], protobuf["request"],
        "the JSON body parses (unknown fields refused) to the same request"
    );

    let request = &protobuf["request"];
    let resource_spans = request["resource_spans"].as_array().unwrap();
    assert_eq!(resource_spans.len(), 1);
    let resource = attributes(&resource_spans[0]["resource"]["attributes"]);
    assert_eq!(
        resource["service.name"],
        json!({"string_value": "gallery-api"})
    );
    assert_eq!(
        resource["telemetry.sdk.name"],
        json!({"string_value": "traced"})
    );
    assert_eq!(
        resource["telemetry.sdk.language"],
        json!({"string_value": "rust"})
    );
    assert!(resource.contains_key("host.name"), "{resource:?}");
    assert!(!resource.contains_key("jaeger.version"), "{resource:?}");
    let scope_spans = resource_spans[0]["scope_spans"].as_array().unwrap();
    assert_eq!(scope_spans.len(), 1);
    assert_eq!(scope_spans[0]["scope"]["name"], "traced");
    assert_eq!(
        scope_spans[0]["scope"]["version"],
        env!("CARGO_PKG_VERSION")
    );
    let decoded = scope_spans[0]["spans"].as_array().unwrap();
    assert_eq!(decoded.len(), spans.len());

    for (record, span) in spans.iter().zip(decoded) {
        let name = record.operation_name();
        assert_eq!(span["name"], name);
        assert_eq!(
            span["trace_id"], "0af7651916cd43dd8448eb211c80319c",
            "{name}"
        );
        assert_eq!(span["span_id"], format!("{:016x}", record.span_id().get()));
        assert_eq!(
            span["parent_span_id"],
            format!("{:016x}", record.parent_id().unwrap().get()),
            "{name}"
        );
        assert_eq!(span["flags"], 1, "{name}: sampled");
        assert_eq!(record.trace_state(), Some(TRACESTATE), "{name}");
        assert_eq!(
            span["trace_state"], TRACESTATE,
            "{name}: passed on unchanged"
        );
        assert_eq!(span["start_time_unix_nano"], nanos(record.start_time()));
        assert_eq!(
            span["end_time_unix_nano"],
            nanos(record.start_time() + record.duration())
        );
        let expected: BTreeMap<String, Value> = record
            .tags()
            .filter(|(k, _)| *k != "span.kind" && *k != "error")
            .map(|(k, v)| (k.to_owned(), attribute(k, &v)["value"].clone()))
            .collect();
        assert_eq!(attributes(&span["attributes"]), expected, "{name}");
    }
    let by_name = |name: &str| {
        decoded
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {decoded:#?}"))
    };

    let handle = by_name("handle");
    assert_eq!(handle["kind"], "SPAN_KIND_SERVER");
    assert_eq!(
        handle["parent_span_id"], "b7ad6b7169203331",
        "the remote parent"
    );
    assert_eq!(
        attributes(&handle["attributes"]),
        BTreeMap::from([
            ("db.type".to_owned(), json!({"string_value": "mongo"})),
            ("rows".to_owned(), json!({"int_value": "3"})),
            ("ratio".to_owned(), json!({"double_value": 0.5})),
            ("ok".to_owned(), json!({"bool_value": true})),
        ])
    );
    let log = &spans
        .iter()
        .find(|s| s.operation_name() == "handle")
        .unwrap()
        .logs()[0];
    assert_eq!(
        handle["events"],
        json!([{
            "time_unix_nano": nanos(log.time()),
            "name": "cache miss",
            "attributes": [{"key": "key", "value": {"string_value": "images/7"}}],
        }])
    );
    assert_eq!(handle.get("status"), None, "no error, no status");
    assert_eq!(handle.get("links"), None);

    let fetch = by_name("fetch");
    let fetch_record = spans
        .iter()
        .find(|s| s.operation_name() == "fetch")
        .unwrap();
    let error_log = &fetch_record.logs()[0];
    assert_eq!(fetch["kind"], "SPAN_KIND_CLIENT");
    assert_eq!(fetch["parent_span_id"], handle["span_id"]);
    assert_eq!(
        fetch["status"],
        json!({
            "code": "STATUS_CODE_ERROR",
            "message": "an error occurred when formatting an argument",
        })
    );
    assert_eq!(
        fetch["events"],
        json!([{
            "time_unix_nano": nanos(error_log.time()),
            "name": "exception",
            "attributes": [
                {"key": "exception.type", "value": {"string_value": error_log.field("error.kind").unwrap()}},
                {"key": "exception.message", "value": {"string_value": "an error occurred when formatting an argument"}},
            ],
        }])
    );

    let background = by_name("background");
    assert_eq!(background["kind"], "SPAN_KIND_INTERNAL");
    assert_eq!(background["parent_span_id"], handle["span_id"]);
    assert_eq!(
        background["links"],
        json!([{
            "trace_id": "0af7651916cd43dd8448eb211c80319c",
            "span_id": handle["span_id"],
            "attributes": [{"key": "opentracing.ref_type", "value": {"string_value": "follows_from"}}],
        }]),
        "FollowsFrom: the parent, and a link to it"
    );
}

#[traced]
fn work() {}

#[test]
fn partial_success_and_refusals_are_counted_in_the_metrics() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut receiver =
        Receiver::start(&["200:partial=2:2 spans too old", "429:retry=0", "200", "400"]);
    let sink = OtlpSink::new(&receiver.url())
        .unwrap()
        .retries(3, Duration::from_secs(3600));
    let guard = traced::init(
        Config::new("metrics-test")
            .otlp(sink)
            .flush_interval(Duration::from_secs(60)),
    )
    .unwrap();
    for _ in 0..3 {
        work();
    }
    assert!(traced::flush());
    let metrics = traced::metrics();
    assert_eq!(metrics.spans_reported, 3);
    assert_eq!(metrics.spans_rejected, 2);
    assert_eq!(metrics.spans_failed, 0);
    let error = metrics.last_error.unwrap();
    assert!(
        error.contains("rejected 2 spans: 2 spans too old"),
        "{error}"
    );
    assert_eq!(
        receiver.next()["request"]["resource_spans"][0]["scope_spans"][0]["spans"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Refused for now with Retry-After (the backoff is an hour), then accepted: sent twice,
    // reported once.
    work();
    assert!(traced::flush());
    let (refused, accepted) = (receiver.next(), receiver.next());
    assert_eq!(refused["request"], accepted["request"]);
    let metrics = traced::metrics();
    assert_eq!((metrics.spans_reported, metrics.spans_failed), (4, 0));
    assert_eq!(metrics.batches_sent, 2);

    // Refused for good: not sent again, counted as failed.
    work();
    assert!(traced::flush());
    let metrics = traced::metrics();
    assert_eq!((metrics.spans_reported, metrics.spans_failed), (4, 1));
    let error = metrics.last_error.unwrap();
    assert!(error.contains("answered 400"), "{error}");
    drop(guard);
    receiver.next();
    let rest = receiver.0.finish();
    assert_eq!(rest, "", "no request after the 400");
}
