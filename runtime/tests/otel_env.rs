//! `OTEL_PROPAGATORS` from the environment, through `Config::from_env` and `init`, chooses the
//! headers of the whole process: the default propagator, and so every layer and client made
//! without one of its own, reads and writes only those. (Its own process: the setting and the
//! environment are process-wide.)
#![cfg(feature = "http")]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::mpsc;

use tower::{service_fn, Layer, ServiceExt};
use traced::http::ClientLayer;
use traced::propagation::Propagator;
use traced::{Context, SpanId, TraceId};

fn written_by_the_default(cx: &Context) -> HashMap<String, String> {
    let mut headers = HashMap::new();
    Propagator::default().inject(cx, &mut headers);
    headers
}

#[traced::traced]
async fn call(
    client: impl tower::Service<http::Request<()>, Response = http::Response<()>, Error = Infallible>,
) {
    client
        .oneshot(http::Request::new(()))
        .await
        .expect("answers");
}

#[test]
fn otel_propagators_choose_the_headers_every_default_layer_reads_and_writes() {
    let remote = Context::remote(TraceId::new(1, 2), SpanId::new(3), true).unwrap();
    let before = written_by_the_default(&remote);
    assert!(
        before.contains_key("uber-trace-id") && before.contains_key("traceparent"),
        "{before:?}"
    );

    std::env::set_var("OTEL_PROPAGATORS", "b3multi");
    std::env::set_var("OTEL_TRACES_EXPORTER", "none");
    let _guard = traced::init(traced::Config::from_env().expect("valid")).expect("installs");

    let after = written_by_the_default(&remote);
    assert_eq!(
        after
            .keys()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>(),
        ["x-b3-sampled", "x-b3-spanid", "x-b3-traceid"].into(),
        "{after:?}"
    );
    let mut w3c = HashMap::new();
    w3c.insert(
        "traceparent".to_owned(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned(),
    );
    assert!(
        !Propagator::default().extract(&w3c).is_valid(),
        "traceparent is not read any more"
    );
    assert_eq!(
        Propagator::default().extract(&after).trace_id(),
        remote.trace_id()
    );

    // A client layer made with no propagator of its own writes B3 multi alone.
    let (sent, received) = mpsc::channel();
    let client = ClientLayer::new().layer(service_fn(move |req: http::Request<()>| {
        sent.send(req.headers().clone()).unwrap();
        async { Ok::<_, Infallible>(http::Response::new(())) }
    }));
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(call(client));
    let headers = received.recv().unwrap();
    let names: Vec<&str> = headers.keys().map(http::HeaderName::as_str).collect();
    assert!(names.contains(&"x-b3-traceid"), "{names:?}");
    assert!(
        !names.contains(&"traceparent") && !names.contains(&"uber-trace-id"),
        "{names:?}"
    );
}
