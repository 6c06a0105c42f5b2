//! Against a peer no one here wrote: Uber's Python `jaeger-client`. A Python service calls a
//! traced Rust service, which calls a second Python service. Trace ids agree across the three,
//! each parent id is its caller's span id, baggage crosses both hops, and the caller's sampling
//! decision (sampled, unsampled, debug) holds at every hop, into Rust and out of it.
//!
//! The test installs its peer: a venv under the target directory with the pinned
//! `tests/interop/requirements.txt` (from PyPI), made on first run and whenever they change.

use crate::support;

use std::net::SocketAddr;
use std::process::Command;

use axum::Router;
use axum::routing::get;
use reqwest_middleware::ClientBuilder;
use serde_json::Value;
use traced::http::{TraceLayer, TracingMiddleware};
use traced::testing::Capture;
use traced::{Context, SpanRecord, traced};

#[traced]
async fn ask_leaf(url: String) -> String {
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::new())
        .build();
    let answer = client.get(url).send().await.expect("the leaf answers");
    answer.text().await.expect("a body")
}

fn hex(value: &Value) -> u128 {
    u128::from_str_radix(value.as_str().expect("a hex string"), 16).expect("hex")
}

fn id(span: &SpanRecord) -> u128 {
    u128::from(span.span_id().get())
}

fn named<'a>(spans: &'a [SpanRecord], name: &str) -> &'a SpanRecord {
    spans
        .iter()
        .find(|s| s.operation_name() == name)
        .unwrap_or_else(|| panic!("a span {name:?} in {spans:#?}"))
}

#[test]
fn python_to_rust_to_python_is_one_trace_in_every_sampling_mode() {
    let python = support::python();
    let leaf = support::Peer::start("jaeger_peer.py", &["serve"]);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let leaf_url = format!("http://127.0.0.1:{}/leaf", leaf.port);
    let addr: SocketAddr = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route(
                "/v0/images",
                get(move |cx: Context| {
                    let url = leaf_url.clone();
                    async move {
                        assert_eq!(cx.baggage("tenant"), Some("acme corp"));
                        ask_leaf(url).await
                    }
                }),
            )
            .layer(TraceLayer::new());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    });
    let call = |mode: &str| -> Value {
        let output = Command::new(&python)
            .arg(support::script("jaeger_peer.py"))
            .args(["call", &format!("http://{addr}/v0/images"), mode])
            .output()
            .expect("runs the Python caller");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("the caller prints JSON")
    };

    let capture = Capture::install();

    // Sampled: three services, one trace, each span the child of its caller.
    let out = call("sampled");
    let (root, answer) = (&out["root"], &out["answer"]);
    let spans = capture.spans();
    let server = named(&spans, "HTTP GET /v0/images");
    let ask = named(&spans, "ask_leaf");
    let client = named(&spans, "HTTP GET");
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let trace = hex(&root["trace_id"]);
    assert!(spans.iter().all(|s| s.trace_id().to_u128() == trace));
    assert_eq!(hex(&answer["trace_id"]), trace);
    assert_eq!(
        server.parent_id().map(|p| u128::from(p.get())),
        Some(hex(&root["span_id"]))
    );
    assert_eq!(ask.parent_id(), Some(server.span_id()));
    assert_eq!(client.parent_id(), Some(ask.span_id()));
    assert_eq!(hex(&answer["parent_id"]), id(client));
    assert_eq!(answer["flags"], 1);
    assert_eq!(answer["baggage"]["tenant"], "acme corp");
    assert!(spans.iter().all(|s| s.flags() == 1));

    // Unsampled: the decision holds through Rust, which records nothing.
    let out = call("unsampled");
    assert!(
        capture.spans().len() == 3,
        "no new span: {:#?}",
        capture.spans()
    );
    assert_eq!(out["answer"]["flags"], 0);
    assert_eq!(
        hex(&out["answer"]["trace_id"]),
        hex(&out["root"]["trace_id"])
    );
    assert_eq!(out["answer"]["baggage"]["tenant"], "acme corp");

    // Debug: forced sampling, debug flag at every hop.
    let out = call("debug");
    assert_eq!(out["root"]["flags"], 3);
    let spans = capture.spans();
    let new: Vec<_> = spans[3..].to_vec();
    assert_eq!(new.len(), 3, "{new:#?}");
    assert!(
        new.iter()
            .all(|s| s.flags() == 3 && s.trace_id().to_u128() == hex(&out["root"]["trace_id"]))
    );
    assert_eq!(out["answer"]["flags"], 3);
    assert_eq!(
        hex(&out["answer"]["parent_id"]),
        id(named(&new, "HTTP GET"))
    );
    drop(leaf);
}
