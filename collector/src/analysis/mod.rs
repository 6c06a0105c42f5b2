//! "Where is the slowdown?" over all requests, from the stored traces: the critical path of a
//! trace, the service dependency graph, latency and errors per service and operation, and
//! what the slow tail of an operation spends its time on that the typical requests do not.

pub mod attribution;
pub mod critical_path;
pub mod dependencies;
pub mod latency;

use crate::model::Span;
use crate::store::{Query, Store};

/// A time window, in microseconds since the epoch, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Its first microsecond.
    pub start: i64,
    /// Its last.
    pub end: i64,
}

impl Window {
    /// The window of `lookback` microseconds up to `end`.
    pub fn ending(end: i64, lookback: i64) -> Window {
        Window {
            start: end.saturating_sub(lookback),
            end,
        }
    }

    /// Whether `time` falls in it.
    pub fn contains(&self, time: i64) -> bool {
        (self.start..=self.end).contains(&time)
    }

    /// Its length in seconds, at least a microsecond's worth (a rate's divisor).
    pub fn seconds(&self) -> f64 {
        (self.end - self.start).max(1) as f64 / 1e6
    }
}

/// The stored traces with a span in `window` (a copy: the store's lock is held only while
/// copying).
pub fn traces(store: &Store, window: Window) -> Vec<Vec<Span>> {
    let mut traces = store.find(&Query {
        start_max: Some(window.end),
        limit: usize::MAX,
        ..Query::default()
    });
    traces.retain(|spans| spans.iter().any(|s| window.contains(s.start_time)));
    traces
}

/// The `p`th percentile (0-100) of `sorted` by the nearest-rank method: the smallest value
/// that at least `p`% of the values are at or below. 0 for no values.
pub fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use traced::TraceId;

    use super::*;
    use crate::model::{KeyValue, Process, Value};

    /// A span of trace `trace`, child of `parent` (0: a root), `error`-free.
    pub(crate) fn span(
        trace: u64,
        id: u64,
        parent: u64,
        service: &str,
        operation: &str,
        start: i64,
        duration: i64,
    ) -> Span {
        Span {
            trace_id: TraceId::new(0, trace),
            span_id: id,
            parent_span_id: parent,
            operation_name: operation.into(),
            references: Vec::new(),
            flags: 1,
            start_time: start,
            duration,
            tags: Vec::new(),
            logs: Vec::new(),
            process: Arc::new(Process {
                service_name: service.into(),
                tags: Vec::new(),
            }),
        }
    }

    /// `span` tagged `error = true`.
    pub(crate) fn failed(mut span: Span) -> Span {
        span.tags.push(KeyValue {
            key: "error".into(),
            value: Value::Bool(true),
        });
        span
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), 50);
        assert_eq!(percentile(&values, 95.0), 95);
        assert_eq!(percentile(&values, 99.0), 99);
        assert_eq!(percentile(&values, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[1, 2, 3], 50.0), 2);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn the_window_holds_traces_with_a_span_in_it() {
        let store = Store::new(crate::Limits::default());
        store.add(vec![
            span(1, 1, 0, "api", "a", 100, 10),
            span(2, 1, 0, "api", "a", 500, 10),
            span(3, 1, 0, "api", "a", 50, 1_000),
            span(3, 2, 1, "api", "b", 300, 10),
        ]);
        let mut held: Vec<u64> = traces(&store, Window::ending(400, 200))
            .iter()
            .map(|t| t[0].trace_id.low())
            .collect();
        held.sort();
        assert_eq!(
            held,
            [3],
            "trace 3 started before the window, its child in it"
        );
    }
}
