//! The HTTP layers' settings and failure paths: a custom operation name and trace-id header, a
//! handler that fails, `ClientLayer` on a real hyper client, and a client timeout.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{HeaderName, Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use reqwest_middleware::ClientBuilder;
use tower::{Layer as _, ServiceBuilder, ServiceExt as _};
use traced::http::{ClientLayer, TraceLayer, TracingMiddleware};
use traced::testing::Capture;
use traced::{SpanRecord, TagValue};

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

fn str_tag(span: &SpanRecord, key: &str) -> Option<String> {
    match span.tag(key)? {
        TagValue::String(s) => Some(s.into_owned()),
        other => Some(format!("{other:?}")),
    }
}

#[tokio::test]
async fn operation_name_and_trace_id_header_are_configurable() {
    let capture = Capture::install();
    let layer = TraceLayer::new()
        .operation_name(|req| format!("{} {}", req.method, req.route.unwrap_or("?")))
        .trace_id_header(Some(HeaderName::from_static("x-trace")));
    let app = Router::new()
        .route("/v0/images/{id}", get(|| async { "ok" }))
        .layer(layer);
    let response = app
        .oneshot(
            Request::get("/v0/images/9?q=1")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let span = capture.span("GET /v0/images/{id}");
    assert_eq!(response.headers()["x-trace"], span.trace_id().to_string());
    assert!(response.headers().get("trace-id").is_none());
    assert_eq!(str_tag(&span, "http.url").as_deref(), Some("/v0/images/9"));
}

#[tokio::test]
async fn configuring_a_cloned_layer_changes_only_the_clone() {
    let capture = Capture::install();
    let original = TraceLayer::new().operation_name(|_| "original".to_owned());
    // A builder method on a clone (the layer was shared) must neither panic nor reach back.
    let renamed = original.clone().operation_name(|_| "renamed".to_owned());
    for layer in [original, renamed] {
        let app = Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(layer);
        app.oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
    }
    let names: Vec<String> = capture
        .spans()
        .iter()
        .map(|span| span.operation_name().to_owned())
        .collect();
    assert_eq!(names, ["original", "renamed"]);
}

#[tokio::test]
async fn a_failed_handler_marks_the_server_span_failed() {
    let capture = Capture::install();
    let failing = tower::service_fn(|_req: Request<Body>| async {
        Err::<Response<Body>, _>(std::io::Error::other("database unreachable"))
    });
    let result = TraceLayer::new()
        .layer(failing)
        .oneshot(Request::get("/v0/images").body(Body::empty()).unwrap())
        .await;
    assert!(
        result.is_err(),
        "the error goes back to the caller unchanged"
    );
    let span = capture.span("HTTP GET /v0/images");
    assert_eq!(span.tag("error"), Some(TagValue::Boolean(true)));
    assert_eq!(span.tag("http.status_code"), None);
    let log = &span.logs()[0];
    assert_eq!(log.field("error.kind"), Some("handler"));
    assert_eq!(log.field("message"), Some("database unreachable"));
}

#[tokio::test]
async fn client_layer_traces_a_hyper_client_and_its_failures() {
    let capture = Capture::install();
    let addr = serve(
        Router::new()
            .route("/v0/images", get(|| async { "[]" }))
            .layer(TraceLayer::new()),
    )
    .await;
    let hyper: Client<_, Body> = Client::builder(TokioExecutor::new()).build_http();
    let client = ServiceBuilder::new()
        .layer(ClientLayer::new())
        .service(hyper);
    let response = client
        .clone()
        .oneshot(
            Request::get(format!("http://{addr}/v0/images"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let spans = capture.spans();
    let server = spans
        .iter()
        .find(|s| s.operation_name() == "HTTP GET /v0/images")
        .unwrap();
    let client_span = spans
        .iter()
        .find(|s| str_tag(s, "span.kind").as_deref() == Some("client"))
        .unwrap();
    assert_eq!(server.parent_id(), Some(client_span.span_id()));
    assert_eq!(server.trace_id(), client_span.trace_id());
    assert_eq!(client_span.operation_name(), "HTTP GET");
    assert_eq!(
        client_span.tag("http.status_code"),
        Some(TagValue::Integer(200))
    );
    assert_eq!(
        client_span.tag("peer.port"),
        Some(TagValue::Integer(i64::from(addr.port())))
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let refused = client
        .oneshot(
            Request::get(format!("http://{closed}/x"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(refused.is_err());
    let spans = capture.spans();
    let failed = spans
        .iter()
        .find(|s| str_tag(s, "http.url") == Some(format!("http://{closed}/x")))
        .unwrap();
    assert_eq!(failed.tag("error"), Some(TagValue::Boolean(true)));
    assert_eq!(failed.logs()[0].field("error.kind"), Some("request"));
}

#[tokio::test]
async fn a_client_timeout_is_logged_as_one() {
    let capture = Capture::install();
    let addr = serve(Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, Infallible>("late")
        }),
    ))
    .await;
    let client = ClientBuilder::new(
        reqwest::Client::builder()
            .timeout(Duration::from_millis(100))
            .build()
            .unwrap(),
    )
    .with(TracingMiddleware::new())
    .build();
    assert!(
        client
            .get(format!("http://{addr}/slow"))
            .send()
            .await
            .is_err()
    );
    let span = capture.span("HTTP GET");
    assert_eq!(span.tag("error"), Some(TagValue::Boolean(true)));
    assert_eq!(span.logs()[0].field("error.kind"), Some("timeout"));
    assert!(
        span.logs()[0]
            .field("message")
            .unwrap()
            .starts_with("timed out: ")
    );
}
