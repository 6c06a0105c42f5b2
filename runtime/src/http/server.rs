//! The server side: a tower layer that gives every request a `span.kind = server` span, child of
//! the caller's context read from the headers, current while the handler runs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use http::{HeaderName, HeaderValue, Method, Request, Response, Uri};

use super::{sanitize_url, ResponseFuture};
#[cfg(feature = "axum")]
use crate::context::Context;
use crate::local::guard::{Callsite, SpanGuard};
use crate::propagation::Propagator;
use crate::tag::{StaticTag, StaticValue};

static SERVER: Callsite = Callsite {
    name: "HTTP request",
    tags: &[
        StaticTag {
            key: "span.kind",
            value: StaticValue::Str("server"),
        },
        StaticTag {
            key: "component",
            value: StaticValue::Str("traced-http"),
        },
    ],
    follows_from: false,
};

/// The route template a request matched (`/v0/images/{id}`), for routers other than axum's to
/// put in the request's extensions before the layer sees it. (axum's `MatchedPath` is read
/// directly with the `axum` feature.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route(pub String);

/// What an operation-name function and a filter see of a request.
#[derive(Debug)]
#[non_exhaustive]
pub struct RequestInfo<'a> {
    /// The method.
    pub method: &'a Method,
    /// The URI as received.
    pub uri: &'a Uri,
    /// The headers.
    pub headers: &'a http::HeaderMap,
    /// The route template the router matched, when it tells.
    pub route: Option<&'a str>,
}

type NameFn = dyn Fn(&RequestInfo<'_>) -> String + Send + Sync;
type FilterFn = dyn Fn(&RequestInfo<'_>) -> bool + Send + Sync;

#[derive(Clone)]
struct Settings {
    propagator: Propagator,
    name: Option<Arc<NameFn>>,
    filter: Option<Arc<FilterFn>>,
    trace_id_header: Option<HeaderName>,
    keep_query: bool,
}

/// A tower layer tracing every request: its span is a child of the context in the request's
/// headers (any format the [`Propagator`] reads), current while the handler runs (so
/// `#[traced]` functions become its children), and available to handlers as a [`Context`] in
/// the request's extensions (`Extension<Context>`, or `Context` itself as an axum extractor with
/// the `axum` feature).
///
/// Names are `HTTP GET /v0/images/{id}`, using the route template when the router gives one, so
/// that ids do not make one operation per request. Tags: `span.kind = server`, `component`,
/// `http.method`, `http.url` (no credentials; no query unless asked), `http.status_code`,
/// `peer.address`, and `error = true` on a 5xx or a failed handler. The trace id goes back in a
/// response header (`trace-id` by default), so a caller can find the trace of its request.
///
/// [`Context`]: crate::Context
#[derive(Clone)]
pub struct TraceLayer {
    settings: Arc<Settings>,
}

impl Default for TraceLayer {
    fn default() -> Self {
        TraceLayer {
            settings: Arc::new(Settings {
                propagator: Propagator::default(),
                name: None,
                filter: None,
                trace_id_header: Some(HeaderName::from_static("trace-id")),
                keep_query: false,
            }),
        }
    }
}

impl std::fmt::Debug for TraceLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceLayer")
            .field("propagator", &self.settings.propagator)
            .field("trace_id_header", &self.settings.trace_id_header)
            .finish_non_exhaustive()
    }
}

impl TraceLayer {
    /// The layer with default settings.
    pub fn new() -> Self {
        TraceLayer::default()
    }

    /// This layer's own settings, to change: copied first if a clone shares them, so that a
    /// builder method never panics and never changes another layer.
    fn settings(&mut self) -> &mut Settings {
        Arc::make_mut(&mut self.settings)
    }

    /// Reads contexts with `propagator` (formats, order, baggage limits).
    #[must_use]
    pub fn propagator(mut self, propagator: Propagator) -> Self {
        self.settings().propagator = propagator;
        self
    }

    /// Names spans with `f` instead of `HTTP {method} {route or path}` (Go's
    /// `OperationNameFunc`).
    #[must_use]
    pub fn operation_name(
        mut self,
        f: impl Fn(&RequestInfo<'_>) -> String + Send + Sync + 'static,
    ) -> Self {
        self.settings().name = Some(Arc::new(f));
        self
    }

    /// Traces only the requests for which `f` is `true` (leave out health checks).
    #[must_use]
    pub fn filter(mut self, f: impl Fn(&RequestInfo<'_>) -> bool + Send + Sync + 'static) -> Self {
        self.settings().filter = Some(Arc::new(f));
        self
    }

    /// The response header the trace id is written to; `None` writes none.
    #[must_use]
    pub fn trace_id_header(mut self, name: Option<HeaderName>) -> Self {
        self.settings().trace_id_header = name;
        self
    }

    /// Keeps the query string in `http.url` (off by default: queries carry tokens).
    #[must_use]
    pub fn keep_query(mut self, keep: bool) -> Self {
        self.settings().keep_query = keep;
        self
    }
}

impl<S> tower_layer::Layer<S> for TraceLayer {
    type Service = TraceService<S>;

    fn layer(&self, inner: S) -> TraceService<S> {
        TraceService {
            inner,
            settings: Arc::clone(&self.settings),
        }
    }
}

/// The service made by [`TraceLayer`].
#[derive(Clone)]
pub struct TraceService<S> {
    inner: S,
    settings: Arc<Settings>,
}

impl<S> std::fmt::Debug for TraceService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceService").finish_non_exhaustive()
    }
}

fn route<B>(req: &Request<B>) -> Option<&str> {
    #[cfg(feature = "axum")]
    if let Some(path) = req.extensions().get::<axum::extract::MatchedPath>() {
        return Some(path.as_str());
    }
    req.extensions().get::<Route>().map(|r| r.0.as_str())
}

fn peer<B>(req: &Request<B>) -> Option<SocketAddr> {
    #[cfg(feature = "axum")]
    if let Some(info) = req
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(info.0);
    }
    req.extensions().get::<SocketAddr>().copied()
}

impl<S, B, ResB> tower_service::Service<Request<B>> for TraceService<S>
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
        let settings = &self.settings;
        let info = RequestInfo {
            method: req.method(),
            uri: req.uri(),
            headers: req.headers(),
            route: route(&req),
        };
        if settings.filter.as_ref().is_some_and(|keep| !keep(&info)) {
            return ResponseFuture::new(self.inner.call(req), SpanGuard::off(), "handler", None);
        }
        let parent = settings.propagator.extract(req.headers());
        let mut span = SpanGuard::off();
        // Never the ambient span: the caller is in another process, and a request without trace
        // headers is a new root whatever the connection's task has current.
        span.start_remote(&SERVER, &parent);
        if span.is_sampled() {
            let name = match &settings.name {
                Some(name) => name(&info),
                None => format!(
                    "HTTP {} {}",
                    info.method,
                    info.route.unwrap_or(info.uri.path())
                ),
            };
            span.with_record(|r| r.more().name = Some(name));
            span.set_tag("http.method", info.method.as_str().to_owned());
            span.set_tag("http.url", sanitize_url(info.uri, settings.keep_query));
            if let Some(peer) = peer(&req) {
                span.set_tag("peer.address", peer.to_string());
            }
        }
        let cx = span.context();
        let trace_id_header = settings
            .trace_id_header
            .clone()
            .filter(|_| cx.is_valid())
            .and_then(|name| Some((name, HeaderValue::try_from(cx.trace_id().to_string()).ok()?)));
        req.extensions_mut().insert(cx);
        let inner = span.run(|| self.inner.call(req));
        ResponseFuture::new(inner, span, "handler", trace_id_header)
    }
}

#[cfg(feature = "axum")]
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Context {
    type Rejection = std::convert::Infallible;

    /// The request's span context (set by [`TraceLayer`]); without the layer, the current one.
    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Context>()
            .cloned()
            .unwrap_or_else(Context::current))
    }
}
