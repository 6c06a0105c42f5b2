//! Latency and errors per service and operation over a time window, as Jaeger's monitor tab
//! shows them (requests and their rate, errors and their share, p50/p95/p99 durations), but
//! computed from the stored spans: no metrics pipeline needed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Window, percentile};
use crate::model::Span;
use crate::waterfall::format_micros;

/// What one operation of one service did in the window.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationStats {
    /// The service.
    pub service: String,
    /// The operation.
    pub operation: String,
    /// Its spans that started in the window.
    pub requests: u64,
    /// Requests a second, over the window.
    pub rate: f64,
    /// Those tagged `error = true`.
    pub errors: u64,
    /// `errors / requests`.
    pub error_rate: f64,
    /// Median duration, µs (nearest rank).
    pub p50: i64,
    /// 95th percentile, µs.
    pub p95: i64,
    /// 99th percentile, µs.
    pub p99: i64,
}

/// Which spans count.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this service's.
    pub service: Option<String>,
    /// Only spans of this kind (`server` counts the requests a service answered, as Jaeger's
    /// monitor tab does by default).
    pub span_kind: Option<String>,
}

/// Per service and operation, sorted by service then operation: the spans of `traces` that
/// started in `window` and pass `filter`.
pub fn per_operation<T: AsRef<[Span]>>(
    traces: &[T],
    window: Window,
    filter: &Filter,
) -> Vec<OperationStats> {
    let mut groups: BTreeMap<(&str, &str), (Vec<i64>, u64)> = BTreeMap::new();
    let spans = traces.iter().flat_map(AsRef::as_ref).filter(|s| {
        window.contains(s.start_time)
            && filter
                .service
                .as_deref()
                .is_none_or(|name| s.process.service_name == name)
            && filter
                .span_kind
                .as_deref()
                .is_none_or(|kind| s.span_kind() == kind)
    });
    for span in spans {
        let group = groups
            .entry((&span.process.service_name, &span.operation_name))
            .or_default();
        group.0.push(span.duration);
        group.1 += u64::from(span.is_error());
    }
    groups
        .into_iter()
        .map(|((service, operation), (mut durations, errors))| {
            durations.sort_unstable();
            let requests = durations.len() as u64;
            OperationStats {
                service: service.to_owned(),
                operation: operation.to_owned(),
                requests,
                rate: requests as f64 / window.seconds(),
                errors,
                error_rate: errors as f64 / requests as f64,
                p50: percentile(&durations, 50.0),
                p95: percentile(&durations, 95.0),
                p99: percentile(&durations, 99.0),
            }
        })
        .collect()
}

impl OperationStats {
    /// As `/api/latency` gives it (durations in µs, rates per second, `errorRate` a fraction).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "service": self.service,
            "operation": self.operation,
            "requests": self.requests,
            "rate": self.rate,
            "errors": self.errors,
            "errorRate": self.error_rate,
            "p50": self.p50,
            "p95": self.p95,
            "p99": self.p99,
        })
    }
}

/// The table `traced-collector latency` prints.
pub fn render(stats: &[OperationStats], window: Window) -> String {
    if stats.is_empty() {
        return format!(
            "no spans in the {} up to now\n",
            format_micros(window.end - window.start)
        );
    }
    let name = |s: &OperationStats| format!("{} {}", s.service, s.operation);
    let header = "service operation";
    let width = stats
        .iter()
        .map(|s| name(s).chars().count())
        .max()
        .unwrap_or(0)
        .max(header.len());
    let mut out = format!(
        "{:<width$}  {:>8} {:>9} {:>7} {:>7} {:>10} {:>10} {:>10}\n",
        header, "requests", "req/s", "errors", "err %", "p50", "p95", "p99"
    );
    for s in stats {
        let _ = writeln!(
            out,
            "{:<width$}  {:>8} {:>9} {:>7} {:>6.1}% {:>10} {:>10} {:>10}",
            name(s),
            s.requests,
            // A few requests over an hour are a rate well below one a second: keep a digit of it.
            if s.rate < 1.0 {
                format!("{:.3}", s.rate)
            } else {
                format!("{:.2}", s.rate)
            },
            s.errors,
            s.error_rate * 100.0,
            format_micros(s.p50),
            format_micros(s.p95),
            format_micros(s.p99)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::tests::{failed, span};

    fn kind(mut span: Span, kind: &str) -> Span {
        span.tags.push(crate::model::KeyValue {
            key: "span.kind".into(),
            value: crate::model::Value::Str(kind.into()),
        });
        span
    }

    #[test]
    fn counts_rates_and_nearest_rank_percentiles_per_service_and_operation() {
        // 100 requests of 1..=100 ms over 10 s, every tenth failed; a catalog call under each
        // of the first 20; one request before the window, not counted.
        let mut traces: Vec<Vec<Span>> = (1..=100)
            .map(|i| {
                let root = kind(
                    span(i, 1, 0, "api", "GET", i as i64 * 100_000, i as i64 * 1_000),
                    "server",
                );
                let mut trace = vec![if i % 10 == 0 { failed(root) } else { root }];
                if i <= 20 {
                    trace.push(span(i, 2, 1, "catalog", "find", i as i64 * 100_000, 500));
                }
                trace
            })
            .collect();
        traces.push(vec![span(999, 1, 0, "api", "GET", 50_000, 9_000_000)]);
        let window = Window {
            start: 100_000,
            end: 10_100_000,
        };
        let stats = per_operation(&traces, window, &Filter::default());
        assert_eq!(
            stats,
            [
                OperationStats {
                    service: "api".into(),
                    operation: "GET".into(),
                    requests: 100,
                    rate: 10.0,
                    errors: 10,
                    error_rate: 0.1,
                    p50: 50_000,
                    p95: 95_000,
                    p99: 99_000,
                },
                OperationStats {
                    service: "catalog".into(),
                    operation: "find".into(),
                    requests: 20,
                    rate: 2.0,
                    errors: 0,
                    error_rate: 0.0,
                    p50: 500,
                    p95: 500,
                    p99: 500,
                },
            ]
        );
        let servers = Filter {
            span_kind: Some("server".into()),
            ..Filter::default()
        };
        assert_eq!(per_operation(&traces, window, &servers).len(), 1);
        let catalog = Filter {
            service: Some("catalog".into()),
            ..Filter::default()
        };
        assert_eq!(
            per_operation(&traces, window, &catalog)[0].operation,
            "find"
        );

        let text = render(&stats, window);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "service operation  requests     req/s  errors   err %        p50        p95        p99"
        );
        assert_eq!(
            lines[1],
            "api GET                 100     10.00      10   10.0%    50.00ms    95.00ms    99.00ms"
        );
        assert_eq!(
            lines[2],
            "catalog find             20      2.00       0    0.0%      500µs      500µs      500µs"
        );
    }
}
