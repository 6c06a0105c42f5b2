//! Jaeger's JSON: traces as its query API returns them and its UI's "JSON file" upload reads
//! them (`traceID`, `spans` with `spanID`, `references`, `startTime` and `duration` in
//! microseconds, typed `tags`, `logs`, `processID`; `processes`), and the API's envelope.
//!
//! Written straight from the stored spans by `Serialize` impls rather than through a
//! `serde_json::Value` tree, which cost a map and a string per field (about 30 µs a span).
//! Keys come in sorted order, as `serde_json`'s own maps print them, so a trace reads the same
//! whether it was written here or parsed and printed again (`traced-collector export`).

use std::fmt;
use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Value as Json, json};

use crate::model::{KeyValue, Log, Process, RefKind, Reference, Span, Value};

/// One trace in Jaeger's format, ready to serialize. Processes are numbered `p1`, `p2`, ... in
/// order of first appearance.
pub struct Trace<'a> {
    spans: &'a [Span],
    processes: Vec<&'a Arc<Process>>,
    /// The index in `processes` of each span's process.
    process_of: Vec<usize>,
}

/// One trace in Jaeger's format.
pub fn trace(spans: &[Span]) -> Trace<'_> {
    let mut processes: Vec<&Arc<Process>> = Vec::new();
    let process_of = spans
        .iter()
        .map(|span| {
            // Spans of one batch share their process; other batches of the same process
            // carry an equal one.
            let same = |p: &&Arc<Process>| Arc::ptr_eq(p, &span.process) || ***p == *span.process;
            processes.iter().position(same).unwrap_or_else(|| {
                processes.push(&span.process);
                processes.len() - 1
            })
        })
        .collect();
    Trace {
        spans,
        processes,
        process_of,
    }
}

impl Serialize for Trace<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("processes", &Processes(&self.processes))?;
        map.serialize_entry(
            "spans",
            &Seq(self
                .spans
                .iter()
                .zip(&self.process_of)
                .map(|(span, &p)| SpanJson {
                    span,
                    process: ProcessId(p),
                })),
        )?;
        match self.spans.first() {
            Some(span) => map.serialize_entry("traceID", &Text(&span.trace_id))?,
            None => map.serialize_entry("traceID", "")?,
        }
        map.serialize_entry("warnings", &())?;
        map.end()
    }
}

/// The query API's envelope around `data`.
pub fn envelope<T: Serialize>(data: Vec<T>) -> Envelope<T> {
    Envelope(data)
}

/// The query API's answer: `data` and its count.
pub struct Envelope<T>(Vec<T>);

impl<T: Serialize> Serialize for Envelope<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("data", &self.0)?;
        map.serialize_entry("errors", &())?;
        map.serialize_entry("limit", &0)?;
        map.serialize_entry("offset", &0)?;
        map.serialize_entry("total", &self.0.len())?;
        map.end()
    }
}

/// The query API's answer for an error.
pub fn error(code: u16, message: &str) -> Json {
    json!({"data": [], "total": 0, "limit": 0, "offset": 0, "errors": [{"code": code, "msg": message}]})
}

/// Any iterator of serializable items, as a JSON array, without collecting it first.
struct Seq<I>(I);

impl<I> Serialize for Seq<I>
where
    I: Iterator + Clone,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.clone())
    }
}

/// Anything `Display`, as a JSON string, without an intermediate `String`.
struct Text<T: fmt::Display>(T);

impl<T: fmt::Display> Serialize for Text<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// A span id as Jaeger writes it (16 hex digits).
fn span_id(id: u64) -> Text<traced::SpanId> {
    Text(traced::SpanId::new(id))
}

/// `p1`, `p2`, ...: a process's key in `processes` and a span's `processID`.
#[derive(Clone, Copy)]
struct ProcessId(usize);

impl fmt::Display for ProcessId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0 + 1)
    }
}

impl Serialize for ProcessId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

struct Processes<'a>(&'a [&'a Arc<Process>]);

impl Serialize for Processes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Sorted as text, as a map's keys are: `p1`, `p10`, `p2`.
        let mut keys: Vec<(String, usize)> = (0..self.0.len())
            .map(|i| (ProcessId(i).to_string(), i))
            .collect();
        keys.sort_unstable();
        let mut map = serializer.serialize_map(Some(keys.len()))?;
        for (key, i) in keys {
            let process = self.0[i];
            map.serialize_entry(&key, &ProcessJson(process))?;
        }
        map.end()
    }
}

struct ProcessJson<'a>(&'a Process);

impl Serialize for ProcessJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("serviceName", &self.0.service_name)?;
        map.serialize_entry("tags", &Seq(self.0.tags.iter().map(KeyValueJson)))?;
        map.end()
    }
}

struct SpanJson<'a> {
    span: &'a Span,
    process: ProcessId,
}

impl Serialize for SpanJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let span = self.span;
        let mut map = serializer.serialize_map(Some(11))?;
        map.serialize_entry("duration", &span.duration)?;
        map.serialize_entry("flags", &span.flags)?;
        map.serialize_entry("logs", &Seq(span.logs.iter().map(LogJson)))?;
        map.serialize_entry("operationName", &span.operation_name)?;
        map.serialize_entry("processID", &self.process)?;
        map.serialize_entry("references", &References(span))?;
        map.serialize_entry("spanID", &span_id(span.span_id))?;
        map.serialize_entry("startTime", &span.start_time)?;
        map.serialize_entry("tags", &Seq(span.tags.iter().map(KeyValueJson)))?;
        map.serialize_entry("traceID", &Text(&span.trace_id))?;
        map.serialize_entry("warnings", &())?;
        map.end()
    }
}

/// A span's references, its parent first when only `parent_span_id` names it (Jaeger's UI
/// finds parents among references).
struct References<'a>(&'a Span);

impl Serialize for References<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let span = self.0;
        let parent = (span.parent_span_id != 0
            && !span
                .references
                .iter()
                .any(|r| r.span_id == span.parent_span_id))
        .then_some(Reference {
            kind: RefKind::ChildOf,
            trace_id: span.trace_id,
            span_id: span.parent_span_id,
        });
        serializer.collect_seq(parent.iter().chain(&span.references).map(ReferenceJson))
    }
}

struct ReferenceJson<'a>(&'a Reference);

impl Serialize for ReferenceJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let kind = match self.0.kind {
            RefKind::ChildOf => "CHILD_OF",
            RefKind::FollowsFrom => "FOLLOWS_FROM",
        };
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("refType", kind)?;
        map.serialize_entry("spanID", &span_id(self.0.span_id))?;
        map.serialize_entry("traceID", &Text(&self.0.trace_id))?;
        map.end()
    }
}

struct LogJson<'a>(&'a Log);

impl Serialize for LogJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("fields", &Seq(self.0.fields.iter().map(KeyValueJson)))?;
        map.serialize_entry("timestamp", &self.0.timestamp)?;
        map.end()
    }
}

struct KeyValueJson<'a>(&'a KeyValue);

impl Serialize for KeyValueJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("key", &self.0.key)?;
        match &self.0.value {
            Value::Str(s) => {
                map.serialize_entry("type", "string")?;
                map.serialize_entry("value", s)?;
            }
            Value::Bool(b) => {
                map.serialize_entry("type", "bool")?;
                map.serialize_entry("value", b)?;
            }
            Value::I64(i) => {
                map.serialize_entry("type", "int64")?;
                map.serialize_entry("value", i)?;
            }
            Value::F64(f) => {
                map.serialize_entry("type", "float64")?;
                map.serialize_entry("value", f)?;
            }
            Value::Binary(_) => {
                map.serialize_entry("type", "binary")?;
                map.serialize_entry("value", &self.0.value.to_text())?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use traced::TraceId;

    fn kv(key: &str, value: Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value,
        }
    }

    fn process(name: &str) -> Arc<Process> {
        Arc::new(Process {
            service_name: name.into(),
            tags: vec![kv("hostname", Value::Str("box".into()))],
        })
    }

    fn span(id: u64, parent: u64, process: &Arc<Process>) -> Span {
        Span {
            trace_id: TraceId::new(0xabc, 0x1234_5678_9abc_def0),
            span_id: id,
            parent_span_id: parent,
            operation_name: format!("op {id} \"quoted\""),
            references: Vec::new(),
            flags: 1,
            start_time: 1_700_000_000_000_000 + i64::try_from(id).unwrap(),
            duration: 10,
            tags: Vec::new(),
            logs: Vec::new(),
            process: Arc::clone(process),
        }
    }

    /// A trace with every kind of field, twelve processes (so `p10` sorts before `p2`), and one
    /// process reported in two batches (equal, not the same `Arc`).
    fn varied() -> Vec<Span> {
        let api = process("api");
        let mut spans = vec![span(1, 0, &api)];
        let root = &mut spans[0];
        root.flags = 3;
        root.tags = vec![
            kv("s", Value::Str("x".into())),
            kv("b", Value::Bool(true)),
            kv("i", Value::I64(-3)),
            kv("f", Value::F64(0.5)),
            kv("nan", Value::F64(f64::NAN)),
            kv("raw", Value::Binary(vec![0, 0xff])),
        ];
        root.logs = vec![Log {
            timestamp: 1_700_000_000_000_001,
            fields: vec![kv("event", Value::Str("error".into()))],
        }];
        let mut follows = span(2, 0, &api);
        follows.references = vec![Reference {
            kind: RefKind::FollowsFrom,
            trace_id: follows.trace_id,
            span_id: 1,
        }];
        spans.push(follows);
        spans.push(span(3, 1, &process("api")));
        for i in 0..11 {
            spans.push(span(10 + i, 1, &process(&format!("service-{i}"))));
        }
        spans
    }

    #[test]
    fn a_trace_is_written_as_serde_json_prints_it_back() {
        let text = serde_json::to_string(&envelope(vec![trace(&varied())])).unwrap();
        let parsed: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(
            serde_json::to_string(&parsed).unwrap(),
            text,
            "keys sorted, values canonical"
        );
    }

    #[test]
    fn every_field_is_in_jaegers_shape() {
        let spans = varied();
        let json = serde_json::to_value(trace(&spans)).unwrap();
        assert_eq!(json["traceID"], "0000000000000abc123456789abcdef0");
        assert_eq!(
            json["processes"].as_object().unwrap().len(),
            12,
            "one api process"
        );
        assert_eq!(json["processes"]["p1"]["serviceName"], "api");
        assert_eq!(json["processes"]["p1"]["tags"][0]["value"], "box");
        let root = &json["spans"][0];
        assert_eq!(root["spanID"], "0000000000000001");
        assert_eq!(root["flags"], 3);
        assert_eq!(root["operationName"], "op 1 \"quoted\"");
        assert_eq!(root["processID"], "p1");
        assert_eq!(root["references"], serde_json::json!([]));
        let tags = &root["tags"];
        let typed: Vec<(&str, &Json)> = tags
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["type"].as_str().unwrap(), &t["value"]))
            .collect();
        assert_eq!(
            typed,
            [
                ("string", &Json::from("x")),
                ("bool", &Json::from(true)),
                ("int64", &Json::from(-3)),
                ("float64", &Json::from(0.5)),
                ("float64", &Json::Null),
                ("binary", &Json::from("00ff")),
            ]
        );
        assert_eq!(root["logs"][0]["timestamp"], 1_700_000_000_000_001_i64);
        assert_eq!(root["logs"][0]["fields"][0]["value"], "error");
        assert_eq!(json["spans"][1]["references"][0]["refType"], "FOLLOWS_FROM");
        let child = &json["spans"][2];
        assert_eq!(
            child["processID"], "p1",
            "an equal process from another batch"
        );
        assert_eq!(
            child["references"],
            serde_json::json!([{
                "refType": "CHILD_OF",
                "traceID": "0000000000000abc123456789abcdef0",
                "spanID": "0000000000000001",
            }])
        );
        assert_eq!(json["spans"][13]["processID"], "p12");
    }
}
