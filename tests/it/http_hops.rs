//! One request through three axum services, each behind `TraceLayer`, calling the next with a
//! `reqwest` client behind `TracingMiddleware`: one trace, each span the child of its caller,
//! route-template names, HTTP tags, baggage at the last hop, and the caller's sampling decision
//! (unsampled, debug) followed at every hop.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use traced::http::{TraceLayer, TracingMiddleware};
use traced::testing::Capture;
use traced::{Context, SpanRecord, TagValue, traced};

fn client() -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::new())
        .build()
}

/// Serves `router` on an ephemeral loopback port until the test's runtime ends.
async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// The last hop: the image store. Answers with what it sees of the trace.
#[traced(tags(db.type = "disk"))]
fn load_image(id: &str) -> Result<String, String> {
    if id == "broken" {
        return Err("disk on fire".into());
    }
    let cx = Context::current();
    Ok(format!(
        "{id} tenant={} sampled={} debug={}",
        cx.baggage("tenant").unwrap_or("-"),
        cx.is_sampled(),
        cx.is_debug()
    ))
}

async fn store(Path(id): Path<String>) -> Result<String, StatusCode> {
    load_image(&id).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

/// A middle hop: asks `next` and passes the answer back.
#[traced]
async fn fetch(client: &ClientWithMiddleware, url: String) -> Result<(StatusCode, String), String> {
    let response = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    Ok((status, response.text().await.map_err(|e| e.to_string())?))
}

struct Next {
    client: ClientWithMiddleware,
    base: String,
}

async fn forward(State(next): State<Arc<Next>>, Path(id): Path<String>) -> (StatusCode, String) {
    match fetch(&next.client, format!("{}/{id}", next.base)).await {
        Ok(answer) => answer,
        Err(e) => (StatusCode::BAD_GATEWAY, e),
    }
}

/// Three services, C <- B <- A; returns A's address.
async fn gallery() -> SocketAddr {
    let c = serve(
        Router::new()
            .route("/store/{id}", get(store))
            .layer(TraceLayer::new()),
    )
    .await;
    let b = serve(
        Router::new()
            .route("/v0/images/{id}", get(forward))
            .with_state(Arc::new(Next {
                client: client(),
                base: format!("http://{c}/store"),
            }))
            .layer(TraceLayer::new()),
    )
    .await;
    serve(
        Router::new()
            .route("/api/images/{id}", get(forward))
            .route("/health", get(|| async { "ok" }))
            .with_state(Arc::new(Next {
                client: client(),
                base: format!("http://{b}/v0/images"),
            }))
            .layer(TraceLayer::new().filter(|req| req.uri.path() != "/health")),
    )
    .await
}

#[traced(name = "user request")]
async fn user_request(
    cx: &Context,
    client: &ClientWithMiddleware,
    url: String,
) -> (String, Option<String>) {
    let _ = cx;
    let response = client.get(url).send().await.unwrap();
    let trace_id = response
        .headers()
        .get("trace-id")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.text().await.unwrap(), trace_id)
}

fn str_tag(span: &SpanRecord, key: &str) -> Option<String> {
    match span.tag(key)? {
        TagValue::String(s) => Some(s.into_owned()),
        other => Some(format!("{other:?}")),
    }
}

fn one<'a>(spans: &'a [SpanRecord], name: &str) -> &'a SpanRecord {
    let found: Vec<_> = spans
        .iter()
        .filter(|s| s.operation_name() == name)
        .collect();
    assert_eq!(found.len(), 1, "one span named {name:?} in {spans:#?}");
    found[0]
}

fn child_of<'a>(spans: &'a [SpanRecord], parent: &SpanRecord, name: &str) -> &'a SpanRecord {
    let found: Vec<_> = spans
        .iter()
        .filter(|s| s.operation_name() == name && s.parent_id() == Some(parent.span_id()))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {name:?} under {}",
        parent.operation_name()
    );
    found[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hops_make_one_trace_with_parents_tags_names_and_baggage() {
    let capture = Capture::install();
    let a = gallery().await;
    let client = client();
    let cx = Context::NONE.with_baggage("tenant", "acme");
    let (body, trace_header) = user_request(
        &cx,
        &client,
        format!("http://{a}/api/images/7?token=secret"),
    )
    .await;
    assert_eq!(body, "7 tenant=acme sampled=true debug=false");
    let health = reqwest::get(format!("http://{a}/health")).await.unwrap();
    assert!(health.headers().get("trace-id").is_none(), "filtered");

    let spans = capture.spans();
    let root = one(&spans, "user request");
    assert_eq!(root.parent_id(), None);
    assert_eq!(trace_header, Some(root.trace_id().to_string()));
    assert!(
        spans.iter().all(|s| s.trace_id() == root.trace_id()),
        "one trace: {spans:#?}"
    );
    let client_a = child_of(&spans, root, "HTTP GET");
    let server_a = child_of(&spans, client_a, "HTTP GET /api/images/{id}");
    let fetch_a = child_of(&spans, server_a, "fetch");
    let client_b = child_of(&spans, fetch_a, "HTTP GET");
    let server_b = child_of(&spans, client_b, "HTTP GET /v0/images/{id}");
    let fetch_b = child_of(&spans, server_b, "fetch");
    let client_c = child_of(&spans, fetch_b, "HTTP GET");
    let server_c = child_of(&spans, client_c, "HTTP GET /store/{id}");
    let load = child_of(&spans, server_c, "load_image");
    assert_eq!(spans.len(), 10, "and no span for /health: {spans:#?}");

    for server in [server_a, server_b, server_c] {
        assert_eq!(str_tag(server, "span.kind").as_deref(), Some("server"));
        assert_eq!(str_tag(server, "component").as_deref(), Some("traced-http"));
        assert_eq!(str_tag(server, "http.method").as_deref(), Some("GET"));
        assert_eq!(server.tag("http.status_code"), Some(TagValue::Integer(200)));
        assert!(
            str_tag(server, "peer.address")
                .unwrap()
                .starts_with("127.0.0.1:")
        );
        assert_eq!(server.tag("error"), None);
    }
    assert_eq!(
        str_tag(server_a, "http.url").as_deref(),
        Some("/api/images/7"),
        "no query string"
    );
    assert_eq!(str_tag(client_a, "span.kind").as_deref(), Some("client"));
    assert_eq!(
        str_tag(client_a, "http.url"),
        Some(format!("http://{a}/api/images/7"))
    );
    assert_eq!(
        str_tag(client_a, "peer.hostname").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        client_a.tag("peer.port"),
        Some(TagValue::Integer(i64::from(a.port())))
    );
    assert_eq!(
        client_c.tag("http.status_code"),
        Some(TagValue::Integer(200))
    );
    assert_eq!(str_tag(load, "db.type").as_deref(), Some("disk"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_and_a_refused_connection_are_errors_with_a_log_saying_which() {
    let capture = Capture::install();
    let a = gallery().await;
    let client = client();
    let (body, _) = user_request(
        &Context::NONE,
        &client,
        format!("http://{a}/api/images/broken"),
    )
    .await;
    assert_eq!(body, "");
    let spans = capture.spans();
    let server_c = one(&spans, "HTTP GET /store/{id}");
    assert_eq!(
        server_c.tag("http.status_code"),
        Some(TagValue::Integer(500))
    );
    assert_eq!(server_c.tag("error"), Some(TagValue::Boolean(true)));
    let client_c = spans
        .iter()
        .find(|s| {
            str_tag(s, "span.kind").as_deref() == Some("client")
                && str_tag(s, "http.url").unwrap().contains("/store/")
        })
        .expect("B's request to C");
    assert_eq!(client_c.tag("error"), Some(TagValue::Boolean(true)));
    assert_eq!(
        client_c.logs()[0].field("message"),
        Some("HTTP 500 Internal Server Error")
    );
    drop(spans);

    // Nothing listens on a port just released.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let refused = client.get(format!("http://{closed}/x")).send().await;
    assert!(refused.is_err());
    let spans = capture.spans();
    let failed = spans
        .iter()
        .find(|s| str_tag(s, "http.url") == Some(format!("http://{closed}/x")))
        .expect("the refused request's span");
    assert_eq!(failed.tag("error"), Some(TagValue::Boolean(true)));
    assert_eq!(failed.logs()[0].field("error.kind"), Some("connect"));
    assert!(
        failed.logs()[0]
            .field("message")
            .unwrap()
            .starts_with("connection failed: ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsampled_and_debug_decisions_survive_every_hop() {
    let capture = Capture::install();
    let a = gallery().await;
    let raw = reqwest::Client::new();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";

    // Unsampled by the caller: nothing is recorded anywhere, and the last hop knows it.
    let body = raw
        .get(format!("http://{a}/api/images/1"))
        .header("uber-trace-id", format!("{trace}:00f067aa0ba902b7:0:0"))
        .send()
        .await
        .unwrap();
    assert_eq!(body.headers()["trace-id"], trace);
    assert_eq!(
        body.text().await.unwrap(),
        "1 tenant=- sampled=false debug=false"
    );
    assert!(capture.spans().is_empty(), "{:#?}", capture.spans());

    // Debug: forced sampling, carried on to every hop.
    let body = raw
        .get(format!("http://{a}/api/images/2"))
        .header("uber-trace-id", format!("{trace}:00f067aa0ba902b7:0:3"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "2 tenant=- sampled=true debug=true");
    let spans = capture.spans();
    assert_eq!(
        spans.len(),
        8,
        "three servers, two fetches, two clients, one load: {spans:#?}"
    );
    assert!(
        spans
            .iter()
            .all(|s| s.trace_id().to_string() == trace && s.flags() == 3)
    );
    let server_a = one(&spans, "HTTP GET /api/images/{id}");
    assert_eq!(
        server_a.parent_id().map(|p| p.to_string()).as_deref(),
        Some("00f067aa0ba902b7")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_tracestate_reaches_every_hop_and_every_span_unchanged() {
    let capture = Capture::install();
    let a = gallery().await;
    // An OpenTelemetry caller: W3C headers only, with vendors' state traced does not read.
    let state = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
    let response = reqwest::Client::new()
        .get(format!("http://{a}/api/images/7"))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("tracestate", state)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let spans = capture.spans();
    let server_a = one(&spans, "HTTP GET /api/images/{id}");
    assert_eq!(
        server_a.parent_id().map(|id| id.to_string()).as_deref(),
        Some("00f067aa0ba902b7")
    );
    let server_c = one(&spans, "HTTP GET /store/{id}");
    let load = child_of(&spans, server_c, "load_image");
    assert_eq!(spans.len(), 8, "{spans:#?}");
    for span in &spans {
        assert_eq!(
            span.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(
            span.trace_state(),
            Some(state),
            "{}: read by each server from its caller's headers",
            span.operation_name()
        );
    }
    assert_eq!(load.trace_state(), Some(state), "after two hops");
}
