//! `reqwest-middleware` instrumentation: the client span of the tower [`super::ClientLayer`],
//! for `reqwest` clients.

use std::sync::Arc;

use super::client;
use super::response::record_status;
use crate::local::instrument::Instrumented;
use crate::propagation::Propagator;

/// Middleware for `reqwest-middleware` clients: each request gets a `span.kind = client` span
/// under the current span, and its context in the request's headers. A connect failure, a
/// timeout or a 5xx sets `error = true` with a log saying which.
///
/// ```
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(traced::http::TracingMiddleware::new())
///     .build();
/// # drop(client);
/// ```
#[derive(Clone, Debug, Default)]
pub struct TracingMiddleware {
    propagator: Arc<Propagator>,
}

impl TracingMiddleware {
    /// The middleware, writing the default formats (Jaeger and W3C).
    pub fn new() -> Self {
        TracingMiddleware::default()
    }

    /// Writes contexts with `propagator`.
    #[must_use]
    pub fn propagator(mut self, propagator: Propagator) -> Self {
        self.propagator = Arc::new(propagator);
        self
    }
}

/// What went wrong, for the error log: `connect`, `timeout` or `request`, and the innermost
/// cause (without the URL, which may hold a query string).
fn describe(error: &reqwest_middleware::Error) -> (&'static str, String) {
    let reqwest_middleware::Error::Reqwest(e) = error else {
        return ("middleware", error.to_string());
    };
    let (kind, what) = if e.is_timeout() {
        ("timeout", "timed out")
    } else if e.is_connect() {
        ("connect", "connection failed")
    } else {
        ("request", "request failed")
    };
    let mut cause: &dyn std::error::Error = e;
    while let Some(source) = cause.source() {
        cause = source;
    }
    (kind, format!("{what}: {cause}"))
}

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for TracingMiddleware {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let uri: http::Uri = req.url().as_str().parse().unwrap_or_default();
        let method = req.method().clone();
        let span = client::start(&method, &uri, req.headers_mut(), &self.propagator);
        let (result, span) = Instrumented::new(next.run(req, extensions), span).await;
        match &result {
            Ok(response) => record_status(&span, response.status()),
            Err(e) => {
                let (kind, message) = describe(e);
                span.record_error(kind, &message);
            }
        }
        result
    }
}
