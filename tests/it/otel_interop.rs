//! Against peers no one here wrote: OpenTelemetry's Python SDK. A Python service calls a traced
//! Rust service, which calls a second Python service, with W3C Trace Context over HTTP. The
//! Python services export OTLP/HTTP with the SDK's own exporter to traced-collector's OTLP port;
//! the Rust service exports OTLP there too and, at the same time, Jaeger thrift to its agent
//! port (`Tee`). The collector shows one trace: five spans, each the child of its caller, the
//! Rust spans delivered by both protocols, and the caller's `tracestate` carried through Rust to
//! the last service unchanged.
//!
//! The test installs its peer: a venv under the target directory with the pinned
//! `tests/interop/requirements.txt` (from PyPI), made on first run and whenever they change.

use crate::support;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use reqwest_middleware::ClientBuilder;
use serde_json::Value;
use traced::http::{TraceLayer, TracingMiddleware};
use traced::report::{AgentSink, OtlpSink, Protocol, Tee};
use traced::{Config, Sampler, TraceId, traced};
use traced_collector::Collector;
use traced_collector::model::{Span, Value as TagValue};

/// The `tracestate` the first Python service sends.
const STATE: &str = "py=00f067aa0ba902b7";

#[traced]
async fn ask_leaf(url: String) -> String {
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::new())
        .build();
    let answer = client.get(url).send().await.expect("the leaf answers");
    answer.text().await.expect("a body")
}

fn hex(value: &Value) -> u64 {
    u64::from_str_radix(value.as_str().expect("a hex string"), 16).expect("hex")
}

fn tag<'a>(span: &'a Span, key: &str) -> Option<&'a TagValue> {
    span.tags.iter().find(|t| t.key == key).map(|t| &t.value)
}

#[test]
fn opentelemetry_to_traced_to_opentelemetry_is_one_trace_over_otlp_and_jaeger() {
    let _exclusive = traced::testing::exclusive();
    let python = support::python();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let collector = runtime
        .block_on(Collector::start(traced_collector::Config::ephemeral()))
        .expect("the collector starts");
    let otlp = format!(
        "http://{}",
        collector.otlp_http_addr().expect("an OTLP port")
    );
    let traces = format!("{otlp}/v1/traces");
    let leaf = support::Peer::start("otel_peer.py", &["serve", &traces]);

    let sink = Tee::new(
        OtlpSink::new(&traces).expect("an endpoint"),
        AgentSink::new(collector.udp_compact_addr(), Protocol::Compact).expect("an agent"),
    );
    let tracer = traced::init(
        Config::new("rust-mid")
            .sampler(Sampler::always())
            .sink(sink),
    )
    .expect("installs");
    let leaf_url = format!("http://127.0.0.1:{}/leaf", leaf.port);
    let addr: SocketAddr = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/v0/images", get(move || ask_leaf(leaf_url.clone())))
            .layer(TraceLayer::new());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    });

    let output = Command::new(&python)
        .arg(support::script("otel_peer.py"))
        .args(["call", &format!("http://{addr}/v0/images"), &traces, STATE])
        .output()
        .expect("runs the Python caller");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: Value = serde_json::from_slice(&output.stdout).expect("the caller prints JSON");
    let (root, answer) = (&out["root"], &out["answer"]);
    assert_eq!(
        answer["trace_id"], root["trace_id"],
        "one trace id end to end"
    );
    assert_eq!(
        answer["tracestate"], STATE,
        "the caller's tracestate, through Rust, unchanged"
    );
    assert!(tracer.flush(), "traced's spans sent");
    drop(leaf);

    // Every span arrived: two from Python over OTLP, each of Rust's three twice.
    let trace_id: TraceId = root["trace_id"].as_str().unwrap().parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let arrived = loop {
        let arrived: Vec<Span> = collector.store().scan(0, i64::MAX, |traces| {
            traces
                .iter()
                .flat_map(|t| t.iter())
                .filter(|s| s.trace_id == trace_id)
                .cloned()
                .collect()
        });
        if arrived.len() >= 8 || Instant::now() > deadline {
            break arrived;
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    assert_eq!(arrived.len(), 8, "{arrived:#?}");
    for span in arrived
        .iter()
        .filter(|s| s.process.service_name == "rust-mid")
    {
        let copies: Vec<&Span> = arrived
            .iter()
            .filter(|s| s.span_id == span.span_id)
            .collect();
        let by_otlp = copies
            .iter()
            .filter(|s| tag(s, "otel.scope.name").is_some())
            .count();
        let by_jaeger = copies
            .iter()
            .filter(|s| s.process.tags.iter().any(|t| t.key == "jaeger.version"))
            .count();
        assert_eq!(
            (by_otlp, by_jaeger),
            (1, 1),
            "{}: once by each protocol",
            span.operation_name
        );
        // (The kind too, but OTLP names `internal` where Jaeger leaves the tag out.)
        let what = |s: &Span| {
            (
                s.operation_name.clone(),
                s.parent(),
                s.start_time,
                s.duration,
            )
        };
        assert_eq!(what(copies[0]), what(copies[1]), "both copies say the same");
    }

    // The trace as the query API shows it: one trace, five spans, each the child of its caller
    // (traced's twice, as Jaeger shows spans that arrived twice with different tags).
    let url = format!("http://{}/api/traces/{trace_id}", collector.query_addr());
    let found: Value = runtime
        .block_on(async { reqwest::get(&url).await?.json().await })
        .expect("the query API answers");
    assert_eq!(found["data"].as_array().map(Vec::len), Some(1), "{found:#}");
    let mut ids: Vec<&str> = found["data"][0]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["spanID"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 5, "{found:#}");
    let spans = collector.store().trace(trace_id).expect("the trace");
    let named = |service: &str, name: &str| -> &Span {
        spans
            .iter()
            .find(|s| s.process.service_name == service && s.operation_name == name)
            .unwrap_or_else(|| panic!("{service} {name} in {spans:#?}"))
    };
    let py_root = named("py-root", "GET /v0/images");
    let server = named("rust-mid", "HTTP GET /v0/images");
    let ask = named("rust-mid", "ask_leaf");
    let client = named("rust-mid", "HTTP GET");
    let py_leaf = named("py-leaf", "GET /leaf");
    assert_eq!(py_root.span_id, hex(&root["span_id"]));
    assert_eq!(py_root.parent(), None);
    assert_eq!(server.parent(), Some(py_root.span_id));
    assert_eq!(ask.parent(), Some(server.span_id));
    assert_eq!(client.parent(), Some(ask.span_id));
    assert_eq!(py_leaf.span_id, hex(&answer["span_id"]));
    assert_eq!(py_leaf.parent(), Some(client.span_id));
    assert_eq!(hex(&answer["parent_id"]), client.span_id);
    assert_eq!(
        (
            py_root.span_kind(),
            server.span_kind(),
            client.span_kind(),
            py_leaf.span_kind()
        ),
        ("client", "server", "client", "server")
    );
    assert_eq!(
        tag(py_leaf, "w3c.tracestate"),
        Some(&TagValue::Str(STATE.into())),
        "the last service's span holds the first one's tracestate"
    );
    drop(tracer);
}
