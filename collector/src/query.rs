//! The query side, on Jaeger query's port (16686): its JSON API (`/api/services`,
//! `/api/services/{service}/operations`, `/api/operations`, `/api/traces` (a search, or the
//! traces named by `traceID` parameters), `/api/traces/{traceID}`, `/api/dependencies`), as
//! Jaeger's query service answers them (its `http_handler.go` and `query_parser.go`: parameters,
//! envelopes, status codes), so its UI and tooling understand it; and the web page at `/`.

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
pub(crate) fn router(store: Arc<Store>, stats: Arc<Stats>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/services", get(services))
        .route("/api/services/{service}/operations", get(operations))
        .route("/api/operations", get(operations_with_kind))
        .route("/api/traces", get(find))
        .route("/api/traces/{id}", get(trace))
        .route("/api/dependencies", get(dependencies))
        .route("/api/stats", get(stats_json))
        .with_state(Api { store, stats })
}

async fn page() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Html(include_str!("web/index.html")),
    )
}

/// A request's parameters, repeated ones included (`traceID=a&traceID=b`).
type Params = Vec<(String, String)>;

/// The first non-empty value of `name`, as Go's `FormValue` gives it.
fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .filter(|(n, v)| n == name && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
        .next()
}

async fn services(State(api): State<Api>) -> Json<json::Envelope<String>> {
    Json(json::counted(api.store.services()))
}

async fn operations(
    State(api): State<Api>,
    Path(service): Path<String>,
) -> Json<json::Envelope<String>> {
    Json(json::counted(api.store.operations(&service)))
}

/// `/api/operations?service=&spanKind=`: `{name, spanKind}` pairs; `service` is required.
async fn operations_with_kind(
    State(api): State<Api>,
    UrlQuery(params): UrlQuery<Params>,
) -> Response {
    let Some(service) = param(&params, "service") else {
        return bad_request("parameter 'service' is required".into());
    };
    let found = api
        .store
        .operations_with_kind(service, param(&params, "spanKind"));
    let data = found
        .into_iter()
        .map(|(name, kind)| json!({"name": name, "spanKind": kind}))
        .collect();
    Json(json::counted::<serde_json::Value>(data)).into_response()
}

/// `/api/dependencies?endTs=&lookback=` (milliseconds; now and 24 hours by default), with
/// `service=` keeping the links to or from it, and each link's failed calls (`errorCount`).
async fn dependencies(State(api): State<Api>, UrlQuery(params): UrlQuery<Params>) -> Response {
    let millis = |name: &str, default: i64| -> Result<i64, String> {
        param(&params, name).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("unable to parse param '{name}': {v:?} is not an integer"))
        })
    };
    let now = now_micros() / 1_000;
    let (end, lookback) = match (millis("endTs", now), millis("lookback", 86_400_000)) {
        (Ok(end), Ok(lookback)) => (end, lookback),
        (Err(e), _) | (_, Err(e)) => return bad_request(e),
    };
    let start = end.saturating_sub(lookback).saturating_mul(1_000);
    let service = param(&params, "service");
    // Jaeger's links, with the failed calls (`errorCount`) added for the service graph.
    let links = api.store.scan(start, end.saturating_mul(1_000), |traces| {
        crate::analysis::dependencies::links(traces)
    });
    let data = links
        .iter()
        .filter(|l| service.is_none_or(|s| s == l.parent || s == l.child))
        .map(crate::analysis::dependencies::Link::to_json)
        .collect();
    Json(json::envelope::<serde_json::Value>(data)).into_response()
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json::error(400, &message))).into_response()
}

fn now_micros() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros(),
    )
    .unwrap_or(i64::MAX)
}

/// A duration parameter: Go's syntax, plus `d` for days (Jaeger's lookbacks), in µs.
fn micros(name: &str, text: &str) -> Result<i64, String> {
    let text = text.trim();
    crate::duration::parse(text)
        .and_then(|d| i64::try_from(d.as_micros()).ok())
        .ok_or_else(|| {
            format!("unable to parse param '{name}': {text:?} is not a duration such as 100ms, 1.5s or 1h")
        })
}

/// Jaeger's search parameters, as its UI sends them (`tags` JSON objects and `tag=key:value`
/// pairs both), and `lookback` (`1h`, `2d`) as this collector's page sends it.
fn parse_query(params: &Params) -> Result<Query, String> {
    let get = |name: &str| param(params, name);
    let mut query = Query {
        service: get("service").map(str::to_owned),
        operation: get("operation").map(str::to_owned),
        // Jaeger's default.
        limit: 100,
        ..Query::default()
    };
    for (name, value) in params {
        let value = value.trim();
        if name == "tags" && !value.is_empty() {
            let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(value)
                .map_err(|e| {
                    format!("malformed 'tags' parameter, cannot unmarshal JSON: {e} in {value:?}")
                })?;
            for (key, value) in object {
                let value = match value {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                query.tags.push((key, value));
            }
        } else if name == "tag" && !value.is_empty() {
            let Some((key, value)) = value.split_once(':') else {
                return Err(format!(
                    "malformed 'tag' parameter, expecting key:value, received: {value}"
                ));
            };
            query.tags.push((key.to_owned(), value.to_owned()));
        }
    }
    if let Some(d) = get("minDuration") {
        query.min_duration = Some(micros("minDuration", d)?);
    }
    if let Some(d) = get("maxDuration") {
        query.max_duration = Some(micros("maxDuration", d)?);
    }
    if let (Some(min), Some(max)) = (query.min_duration, query.max_duration)
        && max < min
    {
        return Err("'maxDuration' should be greater than 'minDuration'".into());
    }
    if let Some(limit) = get("limit") {
        query.limit = limit
            .parse()
            .map_err(|_| format!("unable to parse param 'limit': {limit:?} is not a number"))?;
    }
    let number = |name: &str| -> Result<Option<i64>, String> {
        get(name)
            .map(|v| {
                v.parse().map_err(|_| {
                    format!("unable to parse param '{name}': {v:?} is not a number of µs")
                })
            })
            .transpose()
    };
    query.start_min = number("start")?;
    query.start_max = number("end")?;
    if let Some(lookback) = get("lookback").filter(|l| *l != "custom") {
        query.start_min = Some(now_micros() - micros("lookback", lookback)?);
    }
    Ok(query)
}

/// `/api/traces`: the traces named by `traceID` parameters when there are any (each one not
/// found is an entry of `errors`; the other parameters are not looked at), else a search.
async fn find(State(api): State<Api>, UrlQuery(params): UrlQuery<Params>) -> Response {
    let ids: Vec<&str> = params
        .iter()
        .filter(|(name, _)| name == "traceID")
        .map(|(_, id)| id.as_str())
        .collect();
    if !ids.is_empty() {
        let mut traces = Vec::new();
        let mut errors = Vec::new();
        for id in ids {
            let Ok(trace_id) = id.parse::<TraceId>() else {
                return bad_request(format!(
                    "cannot parse traceID param: {id:?} is not a trace id"
                ));
            };
            match api.store.trace(trace_id) {
                Some(spans) => traces.push(spans),
                None => errors.push(json::ApiError {
                    code: None,
                    msg: "trace not found".into(),
                    trace_id: Some(trace_id.to_string()),
                }),
            }
        }
        let data = traces.iter().map(|t| json::trace(t)).collect();
        return Json(json::envelope(data).with_errors(errors)).into_response();
    }
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
    let ports: Vec<serde_json::Value> = s
        .udp
        .iter()
        .map(|port| {
            json!({
                "port": port.addr.port(),
                "protocol": format!("{:?}", port.protocol).to_lowercase(),
                "datagrams": port.datagrams.load(Ordering::Relaxed),
                "queue_drops": port.queue_drops.load(Ordering::Relaxed),
                "kernel_drops": port.kernel_drops(),
                "queue_capacity": port.queue_capacity,
                "queue_wait_ms": port.queue_wait.as_millis() as u64,
                "receive_buffer_requested": port.receive_buffer_requested,
                "receive_buffer": port.receive_buffer,
                "receive_buffer_forced": port.forced,
            })
        })
        .collect();
    let sum = |each: &dyn Fn(&serde_json::Value) -> Option<u64>| -> Option<u64> {
        ports.iter().map(each).sum()
    };
    Json(json!({
        "datagrams": sum(&|p| p["datagrams"].as_u64()),
        "datagrams_decoded": s.datagrams.load(Ordering::Relaxed),
        "udp_queue_drops": sum(&|p| p["queue_drops"].as_u64()),
        "udp_kernel_drops": sum(&|p| p["kernel_drops"].as_u64()),
        "udp": ports,
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
