//! Jaeger's JSON: traces as its query API returns them and its UI's "JSON file" upload reads
//! them (`traceID`, `spans` with `spanID`, `references`, `startTime` and `duration` in
//! microseconds, typed `tags`, `logs`, `processID`; `processes`), and the API's envelope.

use serde_json::{Value as Json, json};

use crate::model::{KeyValue, Process, RefKind, Span, Value};

fn key_value(kv: &KeyValue) -> Json {
    let (kind, value) = match &kv.value {
        Value::Str(s) => ("string", json!(s)),
        Value::Bool(b) => ("bool", json!(b)),
        Value::I64(i) => ("int64", json!(i)),
        Value::F64(f) => ("float64", json!(f)),
        Value::Binary(b) => (
            "binary",
            json!(b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
        ),
    };
    json!({"key": kv.key, "type": kind, "value": value})
}

fn span_id(id: u64) -> String {
    traced::SpanId::new(id).to_string()
}

/// One trace in Jaeger's format. Processes are numbered `p1`, `p2`, ... in order of first
/// appearance.
pub fn trace(spans: &[Span]) -> Json {
    let mut processes: Vec<&Process> = Vec::new();
    let mut json_spans = Vec::with_capacity(spans.len());
    for span in spans {
        let index = match processes.iter().position(|p| **p == *span.process) {
            Some(i) => i,
            None => {
                processes.push(&span.process);
                processes.len() - 1
            }
        };
        let trace_id = span.trace_id.to_string();
        let mut references: Vec<Json> = Vec::new();
        if span.parent_span_id != 0
            && !span
                .references
                .iter()
                .any(|r| r.span_id == span.parent_span_id)
        {
            references.push(json!({
                "refType": "CHILD_OF", "traceID": trace_id, "spanID": span_id(span.parent_span_id)
            }));
        }
        references.extend(span.references.iter().map(|r| {
            json!({
                "refType": match r.kind { RefKind::ChildOf => "CHILD_OF", RefKind::FollowsFrom => "FOLLOWS_FROM" },
                "traceID": r.trace_id.to_string(),
                "spanID": span_id(r.span_id),
            })
        }));
        json_spans.push(json!({
            "traceID": trace_id,
            "spanID": span_id(span.span_id),
            "flags": span.flags,
            "operationName": span.operation_name,
            "references": references,
            "startTime": span.start_time,
            "duration": span.duration,
            "tags": span.tags.iter().map(key_value).collect::<Vec<_>>(),
            "logs": span.logs.iter().map(|l| json!({
                "timestamp": l.timestamp,
                "fields": l.fields.iter().map(key_value).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "processID": format!("p{}", index + 1),
            "warnings": null,
        }));
    }
    let processes: serde_json::Map<String, Json> = processes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                format!("p{}", i + 1),
                json!({
                    "serviceName": p.service_name,
                    "tags": p.tags.iter().map(key_value).collect::<Vec<_>>(),
                }),
            )
        })
        .collect();
    json!({
        "traceID": spans.first().map(|s| s.trace_id.to_string()).unwrap_or_default(),
        "spans": json_spans,
        "processes": processes,
        "warnings": null,
    })
}

/// The query API's envelope around `data`.
pub fn envelope(data: Json) -> Json {
    let total = data.as_array().map_or(0, Vec::len);
    json!({"data": data, "total": total, "limit": 0, "offset": 0, "errors": null})
}

/// The query API's answer for an error.
pub fn error(code: u16, message: &str) -> Json {
    json!({"data": [], "total": 0, "limit": 0, "offset": 0, "errors": [{"code": code, "msg": message}]})
}
