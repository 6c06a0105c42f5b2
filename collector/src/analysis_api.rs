//! The analysis side of the query port: a trace's critical path (`/api/critical-path/{id}`),
//! latency and errors per operation (`/api/latency`), slow-versus-typical attribution
//! (`/api/attribution`), and the page that draws them with the service graph (`/analysis`).
//! Windows are given as `/api/dependencies` takes them: `endTs` and `lookback` in milliseconds
//! (now and the last hour by default). `format=text` answers with what the terminal commands
//! print.

use std::sync::Arc;

use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use traced::TraceId;

use crate::analysis::{Window, attribution, critical_path, latency};
use crate::json;
use crate::store::Store;

/// The analysis routes, to merge into the query API's router.
pub(crate) fn router(store: Arc<Store>) -> Router {
    Router::new()
        .route("/analysis", get(page))
        .route("/api/critical-path/{id}", get(critical_path))
        .route("/api/latency", get(latency))
        .route("/api/attribution", get(attribution))
        .with_state(store)
}

async fn page() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Html(include_str!("web/analysis.html")),
    )
}

type Params = Vec<(String, String)>;

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .filter(|(n, v)| n == name && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
        .next()
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json::error(400, &message))).into_response()
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

fn wants_text(params: &Params) -> bool {
    param(params, "format") == Some("text")
}

/// `endTs` and `lookback` (ms), as `/api/dependencies` reads them; an hour by default.
fn window(params: &Params) -> Result<Window, String> {
    let millis = |name: &str, default: i64| -> Result<i64, String> {
        param(params, name).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("unable to parse param '{name}': {v:?} is not an integer"))
        })
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let end = millis("endTs", now)?;
    let lookback = millis("lookback", 3_600_000)?;
    Ok(Window::ending(
        end.saturating_mul(1_000),
        lookback.saturating_mul(1_000),
    ))
}

/// The sections (latest first, µs since the epoch) and each span's time on the path.
async fn critical_path(State(store): State<Arc<Store>>, Path(id): Path<String>) -> Response {
    let Ok(trace_id) = id.parse::<TraceId>() else {
        return bad_request(format!("{id:?} is not a trace id"));
    };
    let Some(spans) = store.trace(trace_id) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json::error(404, "trace not found")),
        )
            .into_response();
    };
    let sections = critical_path::of_trace(&critical_path::nodes(&spans));
    let mut per_span: Vec<(u64, i64)> = critical_path::time_per_span(&sections)
        .into_iter()
        .collect();
    per_span.sort_by_key(|&(id, time)| (std::cmp::Reverse(time), id));
    let span_id = |id: u64| format!("{id:016x}");
    Json(json!({
        "data": {
            "traceID": trace_id.to_string(),
            "sections": sections.iter().map(|s| json!({
                "spanID": span_id(s.span_id), "start": s.start, "end": s.end,
            })).collect::<Vec<_>>(),
            "spans": per_span.iter().map(|&(id, time)| json!({
                "spanID": span_id(id), "time": time,
            })).collect::<Vec<_>>(),
        }
    }))
    .into_response()
}

/// `/api/latency?service=&spanKind=&endTs=&lookback=&format=`.
async fn latency(State(store): State<Arc<Store>>, UrlQuery(params): UrlQuery<Params>) -> Response {
    let window = match window(&params) {
        Ok(window) => window,
        Err(e) => return bad_request(e),
    };
    let filter = latency::Filter {
        service: param(&params, "service").map(str::to_owned),
        span_kind: param(&params, "spanKind").map(str::to_owned),
    };
    let stats = store.scan(window.start, window.end, |traces| {
        latency::per_operation(traces, window, &filter)
    });
    if wants_text(&params) {
        return text(latency::render(&stats, window));
    }
    let data = stats.iter().map(latency::OperationStats::to_json).collect();
    Json(json::envelope::<serde_json::Value>(data)).into_response()
}

/// `/api/attribution?service=&operation=&percentile=&endTs=&lookback=&format=`.
async fn attribution(
    State(store): State<Arc<Store>>,
    UrlQuery(params): UrlQuery<Params>,
) -> Response {
    let (Some(service), Some(operation)) = (param(&params, "service"), param(&params, "operation"))
    else {
        return bad_request("parameters 'service' and 'operation' are required".into());
    };
    let percentile = match param(&params, "percentile").map_or(Ok(95.0), str::parse::<f64>) {
        Ok(p) if p > 50.0 && p <= 100.0 => p,
        _ => {
            return bad_request(
                "unable to parse param 'percentile': a number above 50 and at most 100".into(),
            );
        }
    };
    let window = match window(&params) {
        Ok(window) => window,
        Err(e) => return bad_request(e),
    };
    let question = attribution::Question {
        service: service.to_owned(),
        operation: operation.to_owned(),
        percentile,
    };
    let answer = store.scan(window.start, window.end, |traces| {
        attribution::attribute(traces, &question)
    });
    match answer {
        Some(answer) if wants_text(&params) => text(answer.render()),
        Some(answer) => Json(json!({ "data": answer.to_json() })).into_response(),
        None => {
            let message = format!("no {service} {operation} requests in the window");
            if wants_text(&params) {
                return (StatusCode::NOT_FOUND, text(message + "\n")).into_response();
            }
            (StatusCode::NOT_FOUND, Json(json::error(404, &message))).into_response()
        }
    }
}
