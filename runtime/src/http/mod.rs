//! HTTP integrations (feature `http`): a tower [`TraceLayer`] for servers (axum, hyper, tonic)
//! and a tower [`ClientLayer`] for outgoing requests (with feature `reqwest`, also
//! `TracingMiddleware` for `reqwest-middleware`). Together they carry one trace across
//! services, as Go's `nethttp.Middleware` and a tracing `RoundTripper` do.
//!
//! ```
//! # #[cfg(feature = "axum")] {
//! use axum::{routing::get, Router};
//! use traced::http::TraceLayer;
//!
//! #[traced::traced]
//! async fn get_all_images() -> Vec<String> {
//!     Vec::new()
//! }
//!
//! // Spans of `#[traced]` functions called by handlers are children of the request's span.
//! let app: Router = Router::new()
//!     .route("/v0/images", get(|| async { get_all_images().await.len().to_string() }))
//!     .layer(TraceLayer::new());
//! # }
//! ```

mod client;
#[cfg(feature = "reqwest")]
mod reqwest;
mod response;
mod server;

pub use client::{ClientLayer, ClientService};
#[cfg(feature = "reqwest")]
pub use reqwest::TracingMiddleware;
pub use response::ResponseFuture;
pub use server::{RequestInfo, Route, TraceLayer, TraceService};

/// `uri` without credentials and, unless `keep_query`, without its query string: URLs end up in
/// span tags, which many people can read.
pub(crate) fn sanitize_url(uri: &http::Uri, keep_query: bool) -> String {
    let mut out = String::new();
    if let Some(scheme) = uri.scheme_str() {
        out.push_str(scheme);
        out.push_str("://");
    }
    if let Some(authority) = uri.authority() {
        // `user:password@host`: the part before `@` goes.
        let host = authority.as_str().rsplit('@').next().unwrap_or_default();
        out.push_str(host);
    }
    out.push_str(uri.path());
    if keep_query {
        if let Some(query) = uri.query() {
            out.push('?');
            out.push_str(query);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::sanitize_url;

    #[test]
    fn urls_lose_credentials_and_by_default_the_query() {
        let uri: http::Uri = "https://ann:secret@example.com:8443/v0/images?token=abc"
            .parse()
            .unwrap();
        assert_eq!(
            sanitize_url(&uri, false),
            "https://example.com:8443/v0/images"
        );
        assert_eq!(
            sanitize_url(&uri, true),
            "https://example.com:8443/v0/images?token=abc"
        );
        let path_only: http::Uri = "/v0/images/7?x=1".parse().unwrap();
        assert_eq!(sanitize_url(&path_only, false), "/v0/images/7");
    }
}
