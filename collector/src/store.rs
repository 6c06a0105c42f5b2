//! The store: recent traces in memory, bounded by spans and by bytes (oldest traces evicted
//! first), spans grouped by trace as they arrive, from any number of processes, in any order.
//! One lock, held briefly: ingest appends a batch, queries copy what they return.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use traced::TraceId;

use crate::model::Span;

/// The store's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Spans kept at most.
    pub max_spans: usize,
    /// Bytes (estimated) kept at most.
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_spans: 200_000,
            max_bytes: 256 << 20,
        }
    }
}

/// What a trace search asks for (Jaeger's query parameters).
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// A span of the trace is from this service.
    pub service: Option<String>,
    /// ... with this operation.
    pub operation: Option<String>,
    /// ... and these tags (values compared as text).
    pub tags: Vec<(String, String)>,
    /// ... lasting at least this long (µs).
    pub min_duration: Option<i64>,
    /// ... and at most this long (µs).
    pub max_duration: Option<i64>,
    /// The trace started at or after this time (µs since the epoch).
    pub start_min: Option<i64>,
    /// ... and at or before this one.
    pub start_max: Option<i64>,
    /// Traces returned at most (newest first).
    pub limit: usize,
}

#[derive(Default)]
struct Trace {
    spans: Vec<Span>,
    bytes: usize,
}

#[derive(Default)]
struct Inner {
    traces: HashMap<TraceId, Trace>,
    /// Trace ids by first arrival, oldest first: the eviction order.
    order: VecDeque<TraceId>,
    spans: usize,
    bytes: usize,
    evicted_traces: u64,
}

/// Recent traces, bounded.
pub struct Store {
    inner: Mutex<Inner>,
    limits: Limits,
}

impl Store {
    /// An empty store with these bounds.
    pub fn new(limits: Limits) -> Self {
        Store {
            inner: Mutex::default(),
            limits,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds spans (of one batch, or any), evicting the oldest traces past the bounds.
    pub fn add(&self, spans: Vec<Span>) {
        let mut inner = self.lock();
        for span in spans {
            let size = span.size();
            let id = span.trace_id;
            let trace = match inner.traces.get_mut(&id) {
                Some(trace) => trace,
                None => {
                    inner.order.push_back(id);
                    inner.traces.entry(id).or_default()
                }
            };
            trace.spans.push(span);
            trace.bytes += size;
            inner.spans += 1;
            inner.bytes += size;
        }
        while inner.spans > self.limits.max_spans || inner.bytes > self.limits.max_bytes {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(trace) = inner.traces.remove(&oldest) {
                inner.spans -= trace.spans.len();
                inner.bytes -= trace.bytes;
                inner.evicted_traces += 1;
            }
        }
    }

    /// The spans of one trace, in arrival order, a span delivered twice only once.
    pub fn trace(&self, id: TraceId) -> Option<Vec<Span>> {
        self.lock().traces.get(&id).map(|t| unique(&t.spans))
    }

    /// Every service name, sorted.
    pub fn services(&self) -> Vec<String> {
        let inner = self.lock();
        let mut names: Vec<String> = inner
            .traces
            .values()
            .flat_map(|t| t.spans.iter().map(|s| s.process.service_name.clone()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Every operation of `service`, sorted.
    pub fn operations(&self, service: &str) -> Vec<String> {
        let inner = self.lock();
        let mut names: Vec<String> = inner
            .traces
            .values()
            .flat_map(|t| t.spans.iter())
            .filter(|s| s.process.service_name == service)
            .map(|s| s.operation_name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The traces with a span matching `query`, newest first (by their first span's start).
    pub fn find(&self, query: &Query) -> Vec<Vec<Span>> {
        let inner = self.lock();
        let mut found: Vec<(i64, &Trace)> = inner
            .traces
            .values()
            .filter_map(|t| {
                let start = t.spans.iter().map(|s| s.start_time).min()?;
                let in_window = query.start_min.is_none_or(|min| start >= min)
                    && query.start_max.is_none_or(|max| start <= max);
                (in_window && t.spans.iter().any(|s| matches(s, query))).then_some((start, t))
            })
            .collect();
        found.sort_by_key(|(start, _)| std::cmp::Reverse(*start));
        found
            .into_iter()
            .take(if query.limit == 0 { 20 } else { query.limit })
            .map(|(_, t)| unique(&t.spans))
            .collect()
    }

    /// Every operation of `service` with its span kind (the `span.kind` tag, `""` without
    /// one), those of `span_kind` only when given, sorted.
    pub fn operations_with_kind(
        &self,
        service: &str,
        span_kind: Option<&str>,
    ) -> Vec<(String, String)> {
        let inner = self.lock();
        let mut found: Vec<(String, String)> = inner
            .traces
            .values()
            .flat_map(|t| t.spans.iter())
            .filter(|s| s.process.service_name == service)
            .map(|s| (s.operation_name.clone(), s.span_kind().to_owned()))
            .filter(|(_, kind)| span_kind.is_none_or(|k| k == kind))
            .collect();
        found.sort();
        found.dedup();
        found
    }

    /// Calls `f` with the spans of every trace that has a span starting within `[start, end]`
    /// (µs since the epoch), as they arrived (a span delivered twice is there twice), in no
    /// particular order, holding the lock: for analyses that read every span and keep only what
    /// they compute, which copying 100,000 spans out first would cost more than the analysis.
    /// Ingest waits until `f` returns.
    pub fn scan<R>(&self, start: i64, end: i64, f: impl FnOnce(&[&[Span]]) -> R) -> R {
        let inner = self.lock();
        let traces: Vec<&[Span]> = inner
            .traces
            .values()
            .filter(|t| {
                t.spans
                    .iter()
                    .any(|s| (start..=end).contains(&s.start_time))
            })
            .map(|t| t.spans.as_slice())
            .collect();
        f(&traces)
    }

    /// Spans, bytes (estimated) and traces held, and traces evicted so far.
    pub fn stats(&self) -> (usize, usize, usize, u64) {
        let inner = self.lock();
        (
            inner.spans,
            inner.bytes,
            inner.traces.len(),
            inner.evicted_traces,
        )
    }
}

/// A trace's spans, each once: a span delivered twice (a client's retry, two agents) is shown
/// once, as Jaeger's query service removes spans equal in every field. The first of equals
/// stays where it arrived.
fn unique(spans: &[Span]) -> Vec<Span> {
    let mut kept: HashMap<u64, Vec<usize>> = HashMap::with_capacity(spans.len());
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        let same_id = kept.entry(span.span_id).or_default();
        if same_id.iter().any(|&i| out[i] == *span) {
            continue;
        }
        same_id.push(out.len());
        out.push(span.clone());
    }
    out
}

fn matches(span: &Span, query: &Query) -> bool {
    query
        .service
        .as_deref()
        .is_none_or(|s| span.process.service_name == s)
        && query
            .operation
            .as_deref()
            .is_none_or(|o| span.operation_name == o)
        && query.min_duration.is_none_or(|d| span.duration >= d)
        && query.max_duration.is_none_or(|d| span.duration <= d)
        // Span tags, process tags and log fields, as Jaeger's stores search them.
        && query.tags.iter().all(|(key, value)| {
            span.tags
                .iter()
                .chain(span.process.tags.iter())
                .chain(span.logs.iter().flat_map(|l| l.fields.iter()))
                .any(|t| &t.key == key && t.value.to_text() == *value)
        })
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{KeyValue, Process, Value};

    fn span(trace: u64, id: u64, service: &str, start: i64, duration: i64) -> Span {
        Span {
            trace_id: TraceId::new(0, trace),
            span_id: id,
            parent_span_id: 0,
            operation_name: format!("op{id}"),
            references: Vec::new(),
            flags: 1,
            start_time: start,
            duration,
            tags: vec![KeyValue {
                key: "error".into(),
                value: Value::Bool(id.is_multiple_of(2)),
            }],
            logs: Vec::new(),
            process: Arc::new(Process {
                service_name: service.into(),
                tags: Vec::new(),
            }),
        }
    }

    #[test]
    fn spans_group_by_trace_from_any_process_in_any_order() {
        let store = Store::new(Limits::default());
        store.add(vec![span(1, 2, "api", 10, 5), span(2, 3, "api", 20, 5)]);
        store.add(vec![span(1, 1, "catalog", 5, 50)]);
        assert_eq!(store.trace(TraceId::new(0, 1)).unwrap().len(), 2);
        assert_eq!(store.services(), ["api", "catalog"]);
        assert_eq!(store.operations("api"), ["op2", "op3"]);
        let q = |f: fn(&mut Query)| {
            let mut query = Query::default();
            f(&mut query);
            store
                .find(&query)
                .iter()
                .map(|t| t[0].trace_id.low())
                .collect::<Vec<_>>()
        };
        assert_eq!(q(|_| {}), [2, 1], "newest first");
        assert_eq!(q(|q| q.service = Some("catalog".into())), [1]);
        assert_eq!(q(|q| q.min_duration = Some(40)), [1]);
        assert_eq!(q(|q| q.max_duration = Some(5)), [2, 1]);
        assert_eq!(q(|q| q.tags = vec![("error".into(), "true".into())]), [1]);
        assert_eq!(q(|q| q.start_min = Some(15)), [2]);
        assert_eq!(q(|q| q.limit = 1), [2]);
    }

    #[test]
    fn the_oldest_traces_go_first_past_either_bound() {
        let store = Store::new(Limits {
            max_spans: 3,
            max_bytes: usize::MAX,
        });
        for trace in 1..=4 {
            store.add(vec![span(trace, trace, "api", 0, 1)]);
        }
        assert!(store.trace(TraceId::new(0, 1)).is_none());
        assert_eq!(store.stats().0, 3);
        assert_eq!(store.stats().3, 1);
        let one = span(9, 9, "api", 0, 1).size();
        let store = Store::new(Limits {
            max_spans: usize::MAX,
            max_bytes: one * 2,
        });
        for trace in 1..=3 {
            store.add(vec![span(trace, trace, "api", 0, 1)]);
        }
        assert_eq!(store.stats().2, 2, "bounded by bytes");
        assert!(store.trace(TraceId::new(0, 3)).is_some());
    }

    #[test]
    fn a_span_delivered_twice_is_returned_once_and_a_different_one_with_its_id_stays() {
        let store = Store::new(Limits::default());
        let one = span(1, 1, "api", 10, 5);
        let mut retried = span(1, 2, "api", 11, 5);
        store.add(vec![one.clone(), retried.clone()]);
        store.add(vec![retried.clone(), one.clone()]);
        retried.duration = 6;
        store.add(vec![retried]);
        let spans = store.trace(TraceId::new(0, 1)).unwrap();
        let seen: Vec<(u64, i64)> = spans.iter().map(|s| (s.span_id, s.duration)).collect();
        assert_eq!(
            seen,
            [(1, 5), (2, 5), (2, 6)],
            "equal spans once, in arrival order"
        );
        assert_eq!(store.find(&Query::default())[0].len(), 3);
    }

    #[test]
    fn a_tag_search_matches_span_tags_process_tags_and_log_fields() {
        let store = Store::new(Limits::default());
        let mut by_process = span(1, 1, "api", 10, 5);
        by_process.process = Arc::new(Process {
            service_name: "api".into(),
            tags: vec![KeyValue {
                key: "hostname".into(),
                value: Value::Str("box-1".into()),
            }],
        });
        let mut by_log = span(2, 1, "api", 20, 5);
        by_log.logs = vec![crate::model::Log {
            timestamp: 21,
            fields: vec![KeyValue {
                key: "event".into(),
                value: Value::Str("retry".into()),
            }],
        }];
        let by_tag = span(3, 2, "api", 30, 5);
        store.add(vec![by_process, by_log, by_tag]);
        let find = |key: &str, value: &str| -> Vec<u64> {
            store
                .find(&Query {
                    tags: vec![(key.into(), value.into())],
                    ..Query::default()
                })
                .iter()
                .map(|t| t[0].trace_id.low())
                .collect()
        };
        assert_eq!(find("hostname", "box-1"), [1]);
        assert_eq!(find("event", "retry"), [2]);
        assert_eq!(find("error", "true"), [3]);
        assert_eq!(find("event", "other"), Vec::<u64>::new());
    }

    fn kind(mut span: Span, kind: &str) -> Span {
        span.tags.push(KeyValue {
            key: "span.kind".into(),
            value: Value::Str(kind.into()),
        });
        span
    }

    #[test]
    fn operations_come_with_their_span_kind_and_filter_by_it() {
        let store = Store::new(Limits::default());
        let mut get = kind(span(1, 1, "api", 0, 1), "server");
        get.operation_name = "GET".into();
        let mut call = kind(span(1, 2, "api", 0, 1), "client");
        call.operation_name = "GET".into();
        let mut plain = span(1, 3, "api", 0, 1);
        plain.operation_name = "sweep".into();
        store.add(vec![
            get,
            call,
            plain,
            kind(span(1, 4, "db", 0, 1), "server"),
        ]);
        let pairs = |kind: Option<&str>| store.operations_with_kind("api", kind);
        assert_eq!(
            pairs(None),
            [
                ("GET".to_owned(), "client".to_owned()),
                ("GET".to_owned(), "server".to_owned()),
                ("sweep".to_owned(), String::new()),
            ]
        );
        assert_eq!(
            pairs(Some("server")),
            [("GET".to_owned(), "server".to_owned())]
        );
        assert_eq!(store.operations("api"), ["GET", "sweep"]);
    }
}
