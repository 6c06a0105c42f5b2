//! Ingest on the ports Jaeger uses, so every Jaeger client reports here unchanged: UDP 6831
//! (agent, thrift compact `emitBatch`) and 6832 (thrift binary), served by [`crate::udp`], and
//! HTTP 14268 (`POST /api/traces`, a thrift binary `Batch`), here. Bad input is rejected and
//! counted; good traffic keeps flowing.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

use crate::store::Store;
use crate::thrift::{self, Protocol};
use crate::udp;

/// The largest batch the HTTP endpoint takes; larger ones are refused (413) before being read.
pub const MAX_BODY: usize = 16 << 20;

/// Ingest counters.
#[derive(Debug, Default)]
pub struct Stats {
    /// Datagrams decoded (or rejected) off the UDP queues; each port counts what it received
    /// and what its queue and the kernel dropped.
    pub datagrams: AtomicU64,
    /// HTTP batches received.
    pub requests: AtomicU64,
    /// Spans stored.
    pub spans: AtomicU64,
    /// Datagrams and requests rejected (undecodable, wrong type, too large, too slow).
    pub rejected: AtomicU64,
    /// Why the last one was.
    pub last_rejection: Mutex<Option<String>>,
    /// The agent ports.
    pub udp: Vec<Arc<udp::Port>>,
}

impl Stats {
    pub(crate) fn reject(&self, why: String) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        *self
            .last_rejection
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(why);
    }
}

/// The media types Jaeger's collector takes a thrift batch in.
const THRIFT_TYPES: [&str; 2] = [
    "application/x-thrift",
    "application/vnd.apache.thrift.binary",
];

/// Checks the `Content-Type` as Jaeger's collector does (Go's `mime.ParseMediaType`: case and
/// parameters ignored), and words a refusal as it does; both refusals are 400 there.
fn thrift_content_type(headers: &HeaderMap) -> Result<(), String> {
    let value = headers
        .get("content-type")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let media_type = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
    };
    let well_formed = match media_type.split_once('/') {
        Some((kind, sub)) => token(kind) && token(sub),
        None => token(&media_type),
    };
    if media_type.is_empty() {
        Err("Cannot parse content type: mime: no media type".into())
    } else if !well_formed {
        Err(format!(
            "Cannot parse content type: mime: invalid media type {media_type:?}"
        ))
    } else if !THRIFT_TYPES.contains(&media_type.as_str()) {
        Err(format!("Unsupported content type: {media_type}"))
    } else {
        Ok(())
    }
}

#[derive(Clone)]
struct Ingest {
    store: Arc<Store>,
    stats: Arc<Stats>,
    body_timeout: Duration,
}

/// The collector's HTTP endpoint.
pub fn http(store: Arc<Store>, stats: Arc<Stats>, body_timeout: Duration) -> Router {
    Router::new()
        .route("/api/traces", post(post_batch))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Ingest {
            store,
            stats,
            body_timeout,
        })
}

async fn post_batch(
    State(ingest): State<Ingest>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> (StatusCode, String) {
    let stats = &ingest.stats;
    stats.requests.fetch_add(1, Ordering::Relaxed);
    if let Err(answer) = thrift_content_type(&headers) {
        stats.reject(format!("HTTP batch: {answer}"));
        return (StatusCode::BAD_REQUEST, format!("{answer}\n"));
    }
    let announced = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BODY as u64) {
        stats.reject(format!(
            "HTTP batch of {} bytes announced",
            announced.unwrap_or(0)
        ));
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a batch is at most {MAX_BODY} bytes\n"),
        );
    }
    let body = tokio::time::timeout(
        ingest.body_timeout,
        axum::body::to_bytes(request.into_body(), MAX_BODY),
    )
    .await;
    let body: Bytes = match body {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => {
            stats.reject(format!("HTTP batch body: {e}"));
            return (StatusCode::PAYLOAD_TOO_LARGE, format!("{e}\n"));
        }
        Err(_) => {
            stats.reject("HTTP batch body too slow".into());
            return (StatusCode::REQUEST_TIMEOUT, "body too slow\n".into());
        }
    };
    match thrift::decode_batch(&body, Protocol::Binary) {
        Ok(spans) => {
            // Counted once stored: a reader of the counter finds the spans.
            let count = spans.len() as u64;
            ingest.store.add(spans);
            stats.spans.fetch_add(count, Ordering::Relaxed);
            (StatusCode::ACCEPTED, String::new())
        }
        Err(e) => {
            stats.reject(format!("HTTP batch of {} bytes: {e}", body.len()));
            (StatusCode::BAD_REQUEST, format!("{e}\n"))
        }
    }
}
