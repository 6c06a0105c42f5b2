//! The client side: a `span.kind = client` span around every outgoing request, child of the
//! current span, its context written into the request's headers.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use http::{HeaderMap, Method, Request, Response, Uri};

use super::{sanitize_url, ResponseFuture};
use crate::local::guard::{Callsite, SpanGuard};
use crate::propagation::Propagator;
use crate::tag::{StaticTag, StaticValue};

static CLIENT: Callsite = Callsite {
    name: "HTTP request",
    tags: &[
        StaticTag {
            key: "span.kind",
            value: StaticValue::Str("client"),
        },
        StaticTag {
            key: "component",
            value: StaticValue::Str("traced-http"),
        },
    ],
    follows_from: false,
};

/// Starts the client span of a request to `uri` and writes its context into `headers`.
pub(crate) fn start(
    method: &Method,
    uri: &Uri,
    headers: &mut HeaderMap,
    propagator: &Propagator,
) -> SpanGuard {
    let mut span = SpanGuard::off();
    span.start(&CLIENT);
    if span.is_sampled() {
        span.with_record(|r| r.more().name = Some(format!("HTTP {method}")));
        span.set_tag("http.method", method.as_str().to_owned());
        span.set_tag("http.url", sanitize_url(uri, false));
        if let Some(host) = uri.host() {
            span.set_tag("peer.hostname", host.to_owned());
        }
        let port = uri.port_u16().or(match uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        });
        if let Some(port) = port {
            span.set_tag("peer.port", i64::from(port));
        }
    }
    // Without a span of its own (no tracer, or an unsampled trace), the current context goes:
    // the next service still follows the caller's decision.
    propagator.inject(&span.context(), headers);
    span
}

/// A tower layer tracing outgoing requests (a hyper client, or any `Service` of
/// `http::Request`s): each gets a `span.kind = client` span under the current span, and its
/// context in the request's headers. Tags: `http.method`, `http.url` (no credentials, no
/// query), `http.status_code`, `peer.hostname`, `peer.port`; `error` on a failure or a 5xx,
/// with a log that says which.
#[derive(Clone, Debug, Default)]
pub struct ClientLayer {
    propagator: Arc<Propagator>,
}

impl ClientLayer {
    /// The layer, writing the default formats (Jaeger and W3C).
    pub fn new() -> Self {
        ClientLayer::default()
    }

    /// Writes contexts with `propagator`.
    #[must_use]
    pub fn propagator(mut self, propagator: Propagator) -> Self {
        self.propagator = Arc::new(propagator);
        self
    }
}

impl<S> tower_layer::Layer<S> for ClientLayer {
    type Service = ClientService<S>;

    fn layer(&self, inner: S) -> ClientService<S> {
        ClientService {
            inner,
            propagator: Arc::clone(&self.propagator),
        }
    }
}

/// The service made by [`ClientLayer`].
#[derive(Clone, Debug)]
pub struct ClientService<S> {
    inner: S,
    propagator: Arc<Propagator>,
}

impl<S, B, ResB> tower_service::Service<Request<B>> for ClientService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<ResB>>,
    S::Error: std::fmt::Display,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let uri = req.uri().clone();
        let method = req.method().clone();
        let span = start(&method, &uri, req.headers_mut(), &self.propagator);
        let inner = span.run(|| self.inner.call(req));
        ResponseFuture::new(inner, span, "request", None)
    }
}
