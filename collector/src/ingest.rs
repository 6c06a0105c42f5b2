//! Ingest on the ports Jaeger uses, so every Jaeger client reports here unchanged: UDP 6831
//! (agent, thrift compact `emitBatch`), UDP 6832 (thrift binary), and HTTP 14268
//! (`POST /api/traces`, a thrift binary `Batch`). Bad input is rejected and counted; good
//! traffic keeps flowing.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio::net::UdpSocket;

use crate::store::Store;
use crate::thrift::{self, Protocol};

/// The largest batch the HTTP endpoint takes; larger ones are refused (413) before being read.
pub const MAX_BODY: usize = 16 << 20;
/// How long a client may take to send its body, by default.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Ingest counters.
#[derive(Debug, Default)]
pub struct Stats {
    /// Datagrams received.
    pub datagrams: AtomicU64,
    /// HTTP batches received.
    pub requests: AtomicU64,
    /// Spans stored.
    pub spans: AtomicU64,
    /// Datagrams and requests rejected (undecodable, wrong type, too large, too slow).
    pub rejected: AtomicU64,
    /// Why the last one was.
    pub last_rejection: Mutex<Option<String>>,
}

impl Stats {
    fn reject(&self, why: String) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        *self
            .last_rejection
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(why);
    }
}

/// Receives datagrams on `socket` until the task is aborted.
pub async fn udp(socket: UdpSocket, protocol: Protocol, store: Arc<Store>, stats: Arc<Stats>) {
    // The largest UDP payload: nothing a client sends is cut.
    let mut buffer = vec![0; 65_536];
    loop {
        let Ok(len) = socket.recv(&mut buffer).await else {
            continue;
        };
        stats.datagrams.fetch_add(1, Ordering::Relaxed);
        match thrift::decode_emit_batch(&buffer[..len], protocol) {
            Ok(spans) => {
                stats.spans.fetch_add(spans.len() as u64, Ordering::Relaxed);
                store.add(spans);
            }
            Err(e) => stats.reject(format!("UDP {protocol:?} datagram of {len} bytes: {e}")),
        }
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
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/x-thrift")
        && !content_type.starts_with("application/vnd.apache.thrift.binary")
    {
        stats.reject(format!("HTTP batch with content type {content_type:?}"));
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected application/x-thrift\n".into(),
        );
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
            stats.spans.fetch_add(spans.len() as u64, Ordering::Relaxed);
            ingest.store.add(spans);
            (StatusCode::ACCEPTED, String::new())
        }
        Err(e) => {
            stats.reject(format!("HTTP batch of {} bytes: {e}", body.len()));
            (StatusCode::BAD_REQUEST, format!("{e}\n"))
        }
    }
}
