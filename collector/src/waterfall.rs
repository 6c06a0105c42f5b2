//! The terminal view of a trace: Jaeger's header (start, duration, services, depth, spans) and
//! its waterfall, one row per span indented by depth, with a bar on the trace's time axis and
//! the slowest span (the most time of its own, children excluded) marked: where the time went.

use std::collections::HashMap;
use std::fmt::Write as _;

/// One span as the waterfall needs it.
#[derive(Debug, Clone)]
pub struct Row {
    /// Its id.
    pub span_id: u64,
    /// Its parent's, if it has one.
    pub parent: Option<u64>,
    /// The service that reported it.
    pub service: String,
    /// Its operation.
    pub operation: String,
    /// Microseconds since the epoch.
    pub start: i64,
    /// Microseconds.
    pub duration: i64,
    /// Tagged `error = true`.
    pub error: bool,
}

/// `µs`, `ms` or `s`, three significant digits or so.
pub fn format_micros(us: i64) -> String {
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.2}ms", us as f64 / 1e3)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}

/// Renders `rows` (one trace) `width` characters wide.
pub fn render(trace_id: &str, rows: &[Row], width: usize) -> String {
    if rows.is_empty() {
        return format!("trace {trace_id}: no spans\n");
    }
    let start = rows.iter().map(|r| r.start).min().unwrap_or(0);
    let end = rows
        .iter()
        .map(|r| r.start + r.duration)
        .max()
        .unwrap_or(start);
    let total = (end - start).max(1);
    let ids: HashMap<u64, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.span_id, i))
        .collect();
    let mut children: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        let parent = r.parent.and_then(|p| ids.get(&p).copied());
        children.entry(parent).or_default().push(i);
    }
    for list in children.values_mut() {
        list.sort_by_key(|&i| (rows[i].start, rows[i].span_id));
    }
    // Depth-first, roots (and spans whose parent is missing) first.
    let mut order: Vec<(usize, usize)> = Vec::new();
    let mut stack: Vec<(usize, usize)> = children
        .get(&None)
        .map(|roots| roots.iter().rev().map(|&i| (i, 0)).collect())
        .unwrap_or_default();
    while let Some((i, depth)) = stack.pop() {
        order.push((i, depth));
        if let Some(kids) = children.get(&Some(i)) {
            stack.extend(kids.iter().rev().map(|&k| (k, depth + 1)));
        }
    }
    // Self time: a span's duration minus the time covered by its children.
    let self_time = |i: usize| {
        let own = rows[i].duration;
        let covered: i64 = children
            .get(&Some(i))
            .map(|kids| kids.iter().map(|&k| rows[k].duration).sum())
            .unwrap_or(0);
        (own - covered).max(0)
    };
    let slowest = (0..rows.len()).max_by_key(|&i| self_time(i)).unwrap_or(0);

    let mut services: Vec<&str> = rows.iter().map(|r| r.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();
    let depth = order.iter().map(|(_, d)| d + 1).max().unwrap_or(1);
    let mut out = format!(
        "trace {trace_id}\n  duration {}  services {}  depth {depth}  spans {}\n\n",
        format_micros(total),
        services.len(),
        rows.len()
    );
    let name_width = (width / 3).clamp(24, 60);
    let bar_width = width.saturating_sub(name_width + 22).max(10);
    for (i, depth) in order {
        let r = &rows[i];
        let mut name = format!("{}{} {}", "  ".repeat(depth), r.service, r.operation);
        if name.chars().count() > name_width {
            name = name.chars().take(name_width - 1).collect::<String>() + "…";
        }
        let from = ((r.start - start) as f64 / total as f64 * bar_width as f64) as usize;
        let len = ((r.duration as f64 / total as f64) * bar_width as f64)
            .round()
            .max(1.0) as usize;
        let from = from.min(bar_width - 1);
        let len = len.min(bar_width - from);
        let bar = format!(
            "{}{}{}",
            " ".repeat(from),
            "█".repeat(len),
            " ".repeat(bar_width - from - len)
        );
        let _ = write!(
            out,
            "{name:<name_width$} │{bar}│ {:>9}",
            format_micros(r.duration)
        );
        if r.error {
            out.push_str(" ✗ error");
        }
        if i == slowest {
            let _ = write!(
                out,
                " ◀ slowest ({} of its own)",
                format_micros(self_time(i))
            );
        }
        out.push('\n');
    }
    out
}

/// Rows of stored spans.
pub fn rows_of(spans: &[crate::model::Span]) -> Vec<Row> {
    spans
        .iter()
        .map(|s| Row {
            span_id: s.span_id,
            parent: s.parent(),
            service: s.process.service_name.clone(),
            operation: s.operation_name.clone(),
            start: s.start_time,
            duration: s.duration,
            error: s.is_error(),
        })
        .collect()
}

/// Rows of a trace in Jaeger's JSON format (what the query API returns, or an exported file).
pub fn rows_of_json(trace: &serde_json::Value) -> Vec<Row> {
    let hex = |v: &serde_json::Value| v.as_str().and_then(|s| u64::from_str_radix(s, 16).ok());
    let processes = &trace["processes"];
    trace["spans"]
        .as_array()
        .map(|spans| {
            spans
                .iter()
                .filter_map(|s| {
                    Some(Row {
                        span_id: hex(&s["spanID"])?,
                        parent: s["references"]
                            .as_array()
                            .and_then(|refs| refs.first())
                            .and_then(|r| hex(&r["spanID"])),
                        service: processes[s["processID"].as_str()?]["serviceName"]
                            .as_str()
                            .unwrap_or("?")
                            .to_owned(),
                        operation: s["operationName"].as_str().unwrap_or("?").to_owned(),
                        start: s["startTime"].as_i64()?,
                        duration: s["duration"].as_i64()?,
                        error: s["tags"].as_array().is_some_and(|tags| {
                            tags.iter().any(|t| {
                                t["key"] == "error" && (t["value"] == true || t["value"] == "true")
                            })
                        }),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u64, parent: Option<u64>, service: &str, start: i64, duration: i64) -> Row {
        Row {
            span_id: id,
            parent,
            service: service.into(),
            operation: format!("op{id}"),
            start,
            duration,
            error: id == 3,
        }
    }

    #[test]
    fn rows_nest_bars_sit_on_the_time_axis_and_the_slowest_self_time_is_marked() {
        let rows = [
            row(3, Some(1), "store", 60, 40),
            row(1, None, "api", 0, 100),
            row(2, Some(1), "catalog", 0, 50),
        ];
        let text = render("abc", &rows, 100);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "trace abc");
        assert!(
            lines[1].contains("duration 100µs")
                && lines[1].contains("services 3")
                && lines[1].contains("depth 2")
                && lines[1].contains("spans 3"),
            "{text}"
        );
        assert!(lines[3].starts_with("api op1"), "{text}");
        assert!(lines[4].starts_with("  catalog op2"), "{text}");
        assert!(lines[5].starts_with("  store op3"), "{text}");
        assert!(lines[5].contains("✗ error"));
        assert!(lines[4].contains("◀ slowest (50µs of its own)"), "{text}");
        // The store's bar starts 60% along the axis.
        let bar = lines[5].split('│').nth(1).unwrap();
        let offset = bar.chars().take_while(|c| *c == ' ').count();
        let width = bar.chars().count();
        assert_eq!(offset, width * 60 / 100, "{text}");
    }

    #[test]
    fn durations_read_like_jaegers() {
        assert_eq!(format_micros(850), "850µs");
        assert_eq!(format_micros(12_340), "12.34ms");
        assert_eq!(format_micros(1_500_000), "1.50s");
    }
}
