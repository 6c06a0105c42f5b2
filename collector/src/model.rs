//! Spans as the collector keeps them: what Jaeger's thrift `Batch` carries, owned, with the
//! reporting process shared by the spans of one batch.

use std::sync::Arc;

use traced::TraceId;

/// A tag or log field value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string.
    Str(String),
    /// A float.
    F64(f64),
    /// A boolean.
    Bool(bool),
    /// An integer.
    I64(i64),
    /// Bytes.
    Binary(Vec<u8>),
}

impl Value {
    /// The value as Jaeger's query API and UI compare it with a searched tag: as text.
    pub fn to_text(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::F64(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::I64(i) => i.to_string(),
            Value::Binary(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
        }
    }
}

/// A key and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Value,
}

/// A timestamped log of a span.
#[derive(Debug, Clone, PartialEq)]
pub struct Log {
    /// Microseconds since the epoch.
    pub timestamp: i64,
    /// Its fields.
    pub fields: Vec<KeyValue>,
}

/// How a span relates to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    /// The other span waits for this one.
    ChildOf,
    /// It does not.
    FollowsFrom,
}

/// A reference to another span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The relation.
    pub kind: RefKind,
    /// The other span's trace.
    pub trace_id: TraceId,
    /// The other span.
    pub span_id: u64,
}

/// The process (service) that reported spans.
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    /// Its service name.
    pub service_name: String,
    /// Its tags (`hostname`, `ip`, client version, ...).
    pub tags: Vec<KeyValue>,
}

/// One span.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Its trace.
    pub trace_id: TraceId,
    /// Its id.
    pub span_id: u64,
    /// Its parent's id, 0 for a root.
    pub parent_span_id: u64,
    /// What it did.
    pub operation_name: String,
    /// Its references (some clients send the parent only here).
    pub references: Vec<Reference>,
    /// Jaeger flags: 1 sampled, 2 debug.
    pub flags: i32,
    /// Microseconds since the epoch.
    pub start_time: i64,
    /// Microseconds.
    pub duration: i64,
    /// Its tags.
    pub tags: Vec<KeyValue>,
    /// Its logs.
    pub logs: Vec<Log>,
    /// Who reported it.
    pub process: Arc<Process>,
}

impl Span {
    /// The parent's id: `parent_span_id`, or the first reference's span in the same trace.
    pub fn parent(&self) -> Option<u64> {
        if self.parent_span_id != 0 {
            return Some(self.parent_span_id);
        }
        self.references
            .iter()
            .find(|r| r.trace_id == self.trace_id)
            .map(|r| r.span_id)
    }

    /// Its `span.kind` tag (`server`, `client`, `producer`, `consumer`, `internal`), `""`
    /// without one.
    pub fn span_kind(&self) -> &str {
        self.tags
            .iter()
            .find_map(|t| match &t.value {
                Value::Str(kind) if t.key == "span.kind" => Some(kind.as_str()),
                _ => None,
            })
            .unwrap_or("")
    }

    /// `true` when tagged `error = true`.
    pub fn is_error(&self) -> bool {
        self.tags.iter().any(|t| {
            t.key == "error"
                && match &t.value {
                    Value::Bool(b) => *b,
                    Value::Str(s) => s == "true",
                    _ => false,
                }
        })
    }

    /// Roughly the memory it holds, for the store's byte bound.
    pub fn size(&self) -> usize {
        let kv = |kv: &KeyValue| {
            kv.key.len()
                + 32
                + match &kv.value {
                    Value::Str(s) => s.len(),
                    Value::Binary(b) => b.len(),
                    _ => 8,
                }
        };
        std::mem::size_of::<Span>()
            + self.operation_name.len()
            + self.references.len() * std::mem::size_of::<Reference>()
            + self.tags.iter().map(kv).sum::<usize>()
            + self
                .logs
                .iter()
                .map(|l| 32 + l.fields.iter().map(kv).sum::<usize>())
                .sum::<usize>()
    }
}
