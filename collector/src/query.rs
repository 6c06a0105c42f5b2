//! The query side, on Jaeger query's port (16686): its JSON API (`/api/services`,
//! `/api/services/{service}/operations`, `/api/traces`, `/api/traces/{traceID}`), so its tooling
//! understands it, and the web page at `/`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use traced::TraceId;

use crate::ingest::Stats;
use crate::json;
use crate::store::{Query, Store};

#[derive(Clone)]
struct Api {
    store: Arc<Store>,
    stats: Arc<Stats>,
}

/// The query API and the web page.
pub fn router(store: Arc<Store>, stats: Arc<Stats>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/services", get(services))
        .route("/api/services/{service}/operations", get(operations))
        .route("/api/traces", get(find))
        .route("/api/traces/{id}", get(trace))
        .route("/api/stats", get(stats_json))
        .with_state(Api { store, stats })
}

async fn page() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Html(include_str!("web/index.html")),
    )
}

async fn services(State(api): State<Api>) -> Json<json::Envelope<String>> {
    Json(json::envelope(api.store.services()))
}

async fn operations(
    State(api): State<Api>,
    Path(service): Path<String>,
) -> Json<json::Envelope<String>> {
    Json(json::envelope(api.store.operations(&service)))
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json::error(400, &message))).into_response()
}

/// A duration parameter: Go's syntax, plus `d` for days (Jaeger's lookbacks), in µs.
fn micros(name: &str, text: &str) -> Result<i64, String> {
    let text = text.trim();
    let duration = match text.strip_suffix('d').and_then(|d| d.parse::<f64>().ok()) {
        Some(days) => std::time::Duration::try_from_secs_f64(days * 86_400.0).ok(),
        None => traced::parse_duration(text),
    };
    duration
        .and_then(|d| i64::try_from(d.as_micros()).ok())
        .ok_or_else(|| format!("{name}={text:?} is not a duration such as 100ms, 1.5s or 1h"))
}

/// Jaeger's search parameters, as its UI sends them.
fn parse_query(params: &HashMap<String, String>) -> Result<Query, String> {
    let get = |name: &str| params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut query = Query {
        service: get("service").map(str::to_owned),
        operation: get("operation").map(str::to_owned),
        limit: 20,
        ..Query::default()
    };
    if let Some(tags) = get("tags") {
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(tags)
            .map_err(|e| format!("tags={tags:?} is not a JSON object of strings: {e}"))?;
        for (key, value) in object {
            let value = match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            query.tags.push((key, value));
        }
    }
    if let Some(d) = get("minDuration") {
        query.min_duration = Some(micros("minDuration", d)?);
    }
    if let Some(d) = get("maxDuration") {
        query.max_duration = Some(micros("maxDuration", d)?);
    }
    if let Some(limit) = get("limit") {
        query.limit = limit
            .parse()
            .map_err(|_| format!("limit={limit:?} is not a number"))?;
    }
    let number = |name: &str| -> Result<Option<i64>, String> {
        get(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("{name}={v:?} is not a number of µs"))
            })
            .transpose()
    };
    query.start_min = number("start")?;
    query.start_max = number("end")?;
    if let Some(lookback) = get("lookback").filter(|l| *l != "custom") {
        let now = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_micros(),
        )
        .unwrap_or(i64::MAX);
        query.start_min = Some(now - micros("lookback", lookback)?);
    }
    Ok(query)
}

async fn find(
    State(api): State<Api>,
    UrlQuery(params): UrlQuery<HashMap<String, String>>,
) -> Response {
    let query = match parse_query(&params) {
        Ok(query) => query,
        Err(e) => return bad_request(e),
    };
    let found = api.store.find(&query);
    let traces = found.iter().map(|t| json::trace(t)).collect();
    Json(json::envelope(traces)).into_response()
}

async fn trace(State(api): State<Api>, Path(id): Path<String>) -> Response {
    let Ok(trace_id) = id.parse::<TraceId>() else {
        return bad_request(format!("{id:?} is not a trace id"));
    };
    match api.store.trace(trace_id) {
        Some(spans) => Json(json::envelope(vec![json::trace(&spans)])).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json::error(404, "trace not found")),
        )
            .into_response(),
    }
}

async fn stats_json(State(api): State<Api>) -> Json<serde_json::Value> {
    let (spans, bytes, traces, evicted) = api.store.stats();
    let s = &api.stats;
    Json(json!({
        "datagrams": s.datagrams.load(Ordering::Relaxed),
        "requests": s.requests.load(Ordering::Relaxed),
        "spans_received": s.spans.load(Ordering::Relaxed),
        "rejected": s.rejected.load(Ordering::Relaxed),
        "last_rejection": *s.last_rejection.lock().unwrap_or_else(|e| e.into_inner()),
        "spans_stored": spans,
        "bytes_stored": bytes,
        "traces_stored": traces,
        "traces_evicted": evicted,
    }))
}
