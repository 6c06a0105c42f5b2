//! Finishing an HTTP span with its response: the status code, `error` on a 5xx or a failure,
//! for the server layer and the client service alike.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use http::{HeaderName, HeaderValue, Response};
use pin_project_lite::pin_project;

use crate::local::guard::SpanGuard;
use crate::local::instrument::Instrumented;

pin_project! {
    /// The response future of the traced services: polls the inner one inside the request's
    /// span, and finishes the span with the response (or its error). Dropped first, the span
    /// finishes tagged `cancelled = true`.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Instrumented<F>,
        error_kind: &'static str,
        header: Option<(HeaderName, HeaderValue)>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(
        inner: F,
        span: SpanGuard,
        error_kind: &'static str,
        header: Option<(HeaderName, HeaderValue)>,
    ) -> Self {
        ResponseFuture {
            inner: Instrumented::new(inner, span),
            error_kind,
            header,
        }
    }
}

/// Tags `span` with `status`, failed when it is a server error.
pub(crate) fn record_status(span: &SpanGuard, status: http::StatusCode) {
    span.set_tag("http.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record_error("http.status", &format_args!("HTTP {status}"));
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: std::fmt::Display,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let (mut result, span) = std::task::ready!(this.inner.poll(cx));
        match &mut result {
            Ok(response) => {
                record_status(&span, response.status());
                if let Some((name, value)) = this.header.take() {
                    response.headers_mut().insert(name, value);
                }
            }
            Err(e) => span.record_error(this.error_kind, e),
        }
        Poll::Ready(result)
    }
}
