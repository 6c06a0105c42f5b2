//! The service dependency graph: who calls whom, how often, and how many of those calls
//! failed, counted from the stored traces as Jaeger's in-memory store counts calls.

use std::collections::{BTreeMap, HashMap};

use crate::model::Span;

/// Calls from one service to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The calling service.
    pub parent: String,
    /// The called one.
    pub child: String,
    /// Spans of `child` whose parent is a span of `parent` (Jaeger's `callCount`).
    pub calls: u64,
    /// Those of them tagged `error = true`.
    pub errors: u64,
}

/// The links of `traces`: for each span whose parent is in its trace and of another service,
/// one call from the parent's service to the span's. Sorted by parent, then child.
pub fn links<T: AsRef<[Span]>>(traces: &[T]) -> Vec<Link> {
    let mut counts: BTreeMap<(&str, &str), (u64, u64)> = BTreeMap::new();
    for trace in traces {
        let trace = trace.as_ref();
        let by_id: HashMap<u64, &Span> = trace.iter().map(|s| (s.span_id, s)).collect();
        for span in trace {
            let Some(parent) = span.parent().and_then(|id| by_id.get(&id)) else {
                continue;
            };
            let (from, to) = (&parent.process.service_name, &span.process.service_name);
            if from != to {
                let count = counts.entry((from, to)).or_default();
                count.0 += 1;
                count.1 += u64::from(span.is_error());
            }
        }
    }
    counts
        .into_iter()
        .map(|((parent, child), (calls, errors))| Link {
            parent: parent.to_owned(),
            child: child.to_owned(),
            calls,
            errors,
        })
        .collect()
}

impl Link {
    /// As Jaeger's `/api/dependencies` gives a link, with `errorCount` added.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "parent": self.parent,
            "child": self.child,
            "callCount": self.calls,
            "errorCount": self.errors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::tests::{failed, span};

    #[test]
    fn calls_and_failed_calls_are_counted_between_services_only() {
        let traces = vec![
            vec![
                span(1, 1, 0, "api", "GET", 0, 100),
                span(1, 2, 1, "catalog", "find", 10, 10),
                failed(span(1, 3, 1, "store", "read", 20, 10)),
                span(1, 4, 3, "store", "decode", 21, 5),
                span(1, 5, 99, "catalog", "orphan", 40, 5),
            ],
            vec![
                span(2, 1, 0, "api", "GET", 0, 100),
                failed(span(2, 2, 1, "catalog", "find", 10, 10)),
                span(2, 3, 1, "catalog", "find", 30, 10),
                span(2, 4, 3, "store", "read", 31, 5),
            ],
        ];
        let all = links(&traces);
        let found: Vec<(&str, &str, u64, u64)> = all
            .iter()
            .map(|l| (l.parent.as_str(), l.child.as_str(), l.calls, l.errors))
            .collect();
        assert_eq!(
            found,
            [
                ("api", "catalog", 3, 1),
                ("api", "store", 1, 1),
                ("catalog", "store", 1, 0)
            ]
        );
        assert_eq!(
            links(&traces)[0].to_json(),
            serde_json::json!({"parent": "api", "child": "catalog", "callCount": 3, "errorCount": 1})
        );
    }
}
