//! Traces of known shapes for the analysis tests: ten thumbnail requests across two services,
//! one of them slow because it makes the thumbnail.

use std::sync::Arc;

use traced::TraceId;
use traced_collector::model::{KeyValue, Process, Span, Value as TagValue};

/// Ten minutes ago, in µs since the epoch: inside every default window.
pub(crate) fn base() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_micros() as i64;
    now - 600_000_000
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn span(
    trace: u64,
    id: u64,
    parent: u64,
    service: &str,
    operation: &str,
    start: i64,
    duration: i64,
    error: bool,
) -> Span {
    Span {
        trace_id: TraceId::new(0x16, trace),
        span_id: id,
        parent_span_id: parent,
        operation_name: operation.into(),
        references: Vec::new(),
        flags: 1,
        start_time: start,
        duration,
        tags: if error {
            vec![KeyValue {
                key: "error".into(),
                value: TagValue::Bool(true),
            }]
        } else {
            Vec::new()
        },
        logs: Vec::new(),
        process: Arc::new(Process {
            service_name: service.into(),
            tags: Vec::new(),
        }),
    }
}

/// Ten thumbnail requests, 1 ms apart from `base`: nine read the image (50 ms) in 60 ms, one
/// also makes the thumbnail (640 ms) and takes 700 ms; the tenth read fails.
pub(crate) fn thumbnails(base: i64) -> Vec<Span> {
    (0..10u64)
        .flat_map(|i| {
            let t = base + i as i64 * 1_000_000;
            let slow = i == 0;
            let mut trace = vec![
                span(
                    i,
                    1,
                    0,
                    "gallery-api",
                    "GET /thumbnail",
                    t,
                    if slow { 700_000 } else { 60_000 },
                    false,
                ),
                span(
                    i,
                    2,
                    1,
                    "gallery-store",
                    "read_blob",
                    t + 5_000,
                    50_000,
                    i == 9,
                ),
            ];
            if slow {
                trace.push(span(
                    i,
                    3,
                    1,
                    "gallery-store",
                    "make_thumbnail",
                    t + 55_000,
                    640_000,
                    false,
                ));
            }
            trace
        })
        .collect()
}
