//! Jaeger's JSON: traces as its query API returns them and its UI's "JSON file" upload reads
//! them (`traceID`, `spans` with `spanID`, `references`, `startTime` and `duration` in
//! microseconds, typed `tags`, `logs`, `processID`; `processes`), and the API's envelope.
//!
//! Written straight from the stored spans by `Serialize` impls rather than through a
//! `serde_json::Value` tree, which cost a map and a string per field (about 30 µs a span).
//! Keys come in sorted order, as `serde_json`'s own maps print them, so a trace reads the same
//! whether it was written here or parsed and printed again (`traced-collector export`).
//!
//! What Jaeger's query service adjusts before answering is adjusted here too, at render time
//! (the store keeps what was sent): tags sorted by key, a log's `event` field first and the
//! others sorted, a span's parent reference first; binary values in base64 and integers past
//! 2^53 as strings, as Go's JSON writes them for Jaeger's UI.

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

/// The query API's envelope around `data`, with `total` 0, as Jaeger's trace search, trace
/// and dependency answers have it.
pub fn envelope<T: Serialize>(data: Vec<T>) -> Envelope<T> {
    Envelope {
        data,
        total: 0,
        errors: Vec::new(),
    }
}

/// The envelope with `total` the number of items, as Jaeger's services and operations answers
/// have it.
pub fn counted<T: Serialize>(data: Vec<T>) -> Envelope<T> {
    let total = data.len();
    Envelope {
        data,
        total,
        errors: Vec::new(),
    }
}

/// The query API's answer: `data`, `total` as Jaeger sets it for the endpoint, `limit` and
/// `offset` 0, and `errors` (`null` when there are none).
pub struct Envelope<T> {
    data: Vec<T>,
    total: usize,
    errors: Vec<ApiError>,
}

impl<T> Envelope<T> {
    /// With these errors (a trace asked for by id and not found, ...).
    pub fn with_errors(mut self, errors: Vec<ApiError>) -> Self {
        self.errors = errors;
        self
    }
}

impl<T: Serialize> Serialize for Envelope<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("data", &self.data)?;
        if self.errors.is_empty() {
            map.serialize_entry("errors", &())?;
        } else {
            map.serialize_entry("errors", &self.errors)?;
        }
        map.serialize_entry("limit", &0)?;
        map.serialize_entry("offset", &0)?;
        map.serialize_entry("total", &self.total)?;
        map.end()
    }
}

/// One of an answer's `errors`: Jaeger's `{code, msg, traceID}`, `code` and `traceID` left
/// out when not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status it stands for, for a failed request.
    pub code: Option<u16>,
    /// What went wrong.
    pub msg: String,
    /// The trace it concerns.
    pub trace_id: Option<String>,
}

impl Serialize for ApiError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(code) = self.code {
            map.serialize_entry("code", &code)?;
        }
        map.serialize_entry("msg", &self.msg)?;
        if let Some(id) = &self.trace_id {
            map.serialize_entry("traceID", id)?;
        }
        map.end()
    }
}

/// The query API's answer for a failed request: `data` null, the error with its status code.
pub fn error(code: u16, message: &str) -> Json {
    json!({"data": null, "total": 0, "limit": 0, "offset": 0, "errors": [{"code": code, "msg": message}]})
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
        map.serialize_entry("tags", &Sorted(&self.0.tags))?;
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
        // Left out when 0, as Jaeger's model has it (`omitempty`).
        if span.flags != 0 {
            map.serialize_entry("flags", &span.flags)?;
        }
        map.serialize_entry("logs", &Seq(span.logs.iter().map(LogJson)))?;
        map.serialize_entry("operationName", &span.operation_name)?;
        map.serialize_entry("processID", &self.process)?;
        map.serialize_entry("references", &References(span))?;
        map.serialize_entry("spanID", &span_id(span.span_id))?;
        map.serialize_entry("startTime", &span.start_time)?;
        map.serialize_entry("tags", &Sorted(&span.tags))?;
        map.serialize_entry("traceID", &Text(&span.trace_id))?;
        map.serialize_entry("warnings", &())?;
        map.end()
    }
}

/// A span's references, its parent first when only `parent_span_id` names it (Jaeger's UI
/// finds parents among references), else its first `CHILD_OF` reference in the same trace (or
/// the first other one in it) swapped to the front, as Jaeger's query service does.
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
        let mut refs: Vec<&Reference> = parent.iter().chain(&span.references).collect();
        let same_trace = |kind: Option<RefKind>| {
            refs.iter()
                .position(|r| r.trace_id == span.trace_id && kind.is_none_or(|k| r.kind == k))
        };
        if let Some(first) = same_trace(Some(RefKind::ChildOf)).or_else(|| same_trace(None)) {
            refs.swap(0, first);
        }
        serializer.collect_seq(refs.into_iter().map(ReferenceJson))
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
        let fields = &self.0.fields;
        // Jaeger's order: the first string `event` field first, the others sorted by key.
        let event = fields
            .iter()
            .position(|f| f.key == "event" && matches!(f.value, Value::Str(_)));
        let mut order: Vec<&KeyValue> = event.map(|i| &fields[i]).into_iter().collect();
        let mut rest: Vec<&KeyValue> = (0..fields.len())
            .filter(|&i| Some(i) != event)
            .map(|i| &fields[i])
            .collect();
        rest.sort_by(|a, b| a.key.cmp(&b.key));
        order.append(&mut rest);
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("fields", &Seq(order.into_iter().map(KeyValueJson)))?;
        map.serialize_entry("timestamp", &self.0.timestamp)?;
        map.end()
    }
}

/// The largest integer a JavaScript number holds exactly.
const JS_MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Tags sorted by key (stably: equal keys keep their order), as Jaeger's query service sorts
/// them.
struct Sorted<'a>(&'a [KeyValue]);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0.is_sorted_by(|a, b| a.key <= b.key) {
            return serializer.collect_seq(self.0.iter().map(KeyValueJson));
        }
        let mut sorted: Vec<&KeyValue> = self.0.iter().collect();
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        serializer.collect_seq(sorted.into_iter().map(KeyValueJson))
    }
}

/// Standard base64 with padding: how Go's JSON writes Jaeger's binary values.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0_u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
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
                // Past 2^53 a JavaScript number loses digits: Jaeger sends those as text.
                if (-JS_MAX_SAFE_INTEGER..=JS_MAX_SAFE_INTEGER).contains(i) {
                    map.serialize_entry("value", i)?;
                } else {
                    map.serialize_entry("value", &i.to_string())?;
                }
            }
            Value::F64(f) => {
                map.serialize_entry("type", "float64")?;
                map.serialize_entry("value", f)?;
            }
            Value::Binary(bytes) => {
                map.serialize_entry("type", "binary")?;
                map.serialize_entry("value", &base64(bytes))?;
            }
        }
        map.end()
    }
}

impl std::fmt::Debug for Trace<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace").finish_non_exhaustive()
    }
}

impl<T> std::fmt::Debug for Envelope<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope").finish_non_exhaustive()
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
                ("bool", &Json::from(true)),
                ("float64", &Json::from(0.5)),
                ("int64", &Json::from(-3)),
                ("float64", &Json::Null),
                ("binary", &Json::from("AP8=")),
                ("string", &Json::from("x")),
            ],
            "sorted by key (b, f, i, nan, raw, s)"
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

    fn keys(list: &Json) -> Vec<&str> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|kv| kv["key"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn binary_values_are_base64_and_integers_past_2_53_are_text_as_jaeger_writes_them() {
        let api = process("api");
        let mut one = span(1, 0, &api);
        one.tags = vec![
            kv("a", Value::Binary(b"Man".to_vec())),
            kv("b", Value::Binary(b"Ma".to_vec())),
            kv("c", Value::Binary(b"M".to_vec())),
            kv("d", Value::Binary(Vec::new())),
            kv("e", Value::Binary(vec![0xfb, 0xff, 0xfe])),
            kv("f", Value::I64((1 << 53) - 1)),
            kv("g", Value::I64(1 << 53)),
            kv("h", Value::I64(i64::MIN)),
        ];
        let json = serde_json::to_value(trace(&[one])).unwrap();
        let values: Vec<&Json> = json["spans"][0]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| &t["value"])
            .collect();
        assert_eq!(
            values,
            [
                &Json::from("TWFu"),
                &Json::from("TWE="),
                &Json::from("TQ=="),
                &Json::from(""),
                &Json::from("+//+"),
                &Json::from(9_007_199_254_740_991_i64),
                &Json::from("9007199254740992"),
                &Json::from("-9223372036854775808"),
            ]
        );
    }

    #[test]
    fn tags_are_sorted_by_key_and_a_logs_string_event_field_comes_first() {
        let api = Arc::new(Process {
            service_name: "api".into(),
            tags: vec![
                kv("ip", Value::Str("10.0.0.1".into())),
                kv("hostname", Value::Str("box".into())),
                kv("client-uuid", Value::Str("42".into())),
            ],
        });
        let mut one = span(1, 0, &api);
        one.tags = vec![
            kv("span.kind", Value::Str("server".into())),
            kv("error", Value::Bool(true)),
            kv("component", Value::Str("http".into())),
            kv("error", Value::Str("second".into())),
        ];
        one.logs = vec![
            Log {
                timestamp: 1,
                fields: vec![
                    kv("stack", Value::Str("...".into())),
                    kv("message", Value::Str("timeout".into())),
                    kv("event", Value::Str("error".into())),
                    kv("error.kind", Value::Str("io".into())),
                ],
            },
            Log {
                timestamp: 2,
                // Only a string `event` goes first.
                fields: vec![
                    kv("z", Value::I64(1)),
                    kv("event", Value::I64(7)),
                    kv("a", Value::I64(2)),
                ],
            },
        ];
        let json = serde_json::to_value(trace(&[one])).unwrap();
        let span = &json["spans"][0];
        assert_eq!(
            keys(&span["tags"]),
            ["component", "error", "error", "span.kind"]
        );
        assert_eq!(
            span["tags"][1]["value"], true,
            "equal keys keep their order"
        );
        assert_eq!(
            keys(&json["processes"]["p1"]["tags"]),
            ["client-uuid", "hostname", "ip"]
        );
        assert_eq!(
            keys(&span["logs"][0]["fields"]),
            ["event", "error.kind", "message", "stack"]
        );
        assert_eq!(keys(&span["logs"][1]["fields"]), ["a", "event", "z"]);
    }

    #[test]
    fn a_spans_child_of_reference_in_its_trace_comes_first_and_zero_flags_are_left_out() {
        let api = process("api");
        let mut one = span(5, 0, &api);
        let other_trace = TraceId::new(1, 2);
        one.references = vec![
            Reference {
                kind: RefKind::ChildOf,
                trace_id: other_trace,
                span_id: 7,
            },
            Reference {
                kind: RefKind::FollowsFrom,
                trace_id: one.trace_id,
                span_id: 8,
            },
            Reference {
                kind: RefKind::ChildOf,
                trace_id: one.trace_id,
                span_id: 9,
            },
        ];
        one.flags = 0;
        let mut two = span(6, 0, &api);
        two.references = vec![
            Reference {
                kind: RefKind::ChildOf,
                trace_id: other_trace,
                span_id: 7,
            },
            Reference {
                kind: RefKind::FollowsFrom,
                trace_id: two.trace_id,
                span_id: 8,
            },
        ];
        let json = serde_json::to_value(trace(&[one, two])).unwrap();
        let span_ids = |i: usize| -> Vec<&str> {
            json["spans"][i]["references"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["spanID"].as_str().unwrap())
                .collect()
        };
        assert_eq!(
            span_ids(0),
            ["0000000000000009", "0000000000000008", "0000000000000007"]
        );
        assert_eq!(
            span_ids(1),
            ["0000000000000008", "0000000000000007"],
            "no CHILD_OF in the trace: its first other reference"
        );
        assert!(json["spans"][0].get("flags").is_none());
        assert_eq!(json["spans"][1]["flags"], 1);
    }

    #[test]
    fn envelopes_carry_total_errors_and_null_data_as_jaeger_sets_them() {
        fn as_json(envelope: &impl Serialize) -> Json {
            serde_json::to_value(envelope).unwrap()
        }
        assert_eq!(
            as_json(&envelope(vec!["a", "b"])),
            json!({"data": ["a", "b"], "errors": null, "limit": 0, "offset": 0, "total": 0})
        );
        assert_eq!(
            as_json(&counted(vec!["a", "b"])),
            json!({"data": ["a", "b"], "errors": null, "limit": 0, "offset": 0, "total": 2})
        );
        let missing = ApiError {
            code: None,
            msg: "trace not found".into(),
            trace_id: Some("00000000000000000000000000000abc".into()),
        };
        assert_eq!(
            as_json(&envelope(Vec::<u8>::new()).with_errors(vec![missing])),
            json!({"data": [], "errors": [{"msg": "trace not found", "traceID": "00000000000000000000000000000abc"}],
                   "limit": 0, "offset": 0, "total": 0})
        );
        assert_eq!(
            error(400, "parameter 'service' is required"),
            json!({"data": null, "errors": [{"code": 400, "msg": "parameter 'service' is required"}],
                   "limit": 0, "offset": 0, "total": 0})
        );
    }
}
