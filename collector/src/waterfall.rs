//! The terminal view of a trace: Jaeger's header (start, duration, services, depth, spans) and
//! its waterfall, one row per span indented by depth, with a bar on the trace's time axis
//! (solid where the span is on the critical path, shaded where nothing waited on it), each
//! span's time on the critical path, and the slowest span (the most time on the critical path)
//! marked: where the time went.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::analysis::critical_path::{self, Node, Section};

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
    /// `false` when its parent does not wait for it (a `FOLLOWS_FROM` reference, or a consumer
    /// of a producer): off the critical path.
    pub blocking: bool,
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
    let nodes: Vec<Node> = rows
        .iter()
        .map(|r| Node {
            id: r.span_id,
            parent: r.parent,
            start: r.start,
            duration: r.duration,
            blocking: r.blocking,
        })
        .collect();
    let path = critical_path::of_trace(&nodes);
    let on_path = critical_path::time_per_span(&path);
    let path_time = |i: usize| on_path.get(&rows[i].span_id).copied().unwrap_or(0);
    // The first of equals in the order shown.
    let slowest = order
        .iter()
        .map(|&(i, _)| i)
        .fold(None, |best: Option<usize>, i| match best {
            Some(b) if path_time(b) >= path_time(i) => Some(b),
            _ => Some(i),
        })
        .filter(|&i| path_time(i) > 0);

    let mut services: Vec<&str> = rows.iter().map(|r| r.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();
    let depth = order.iter().map(|(_, d)| d + 1).max().unwrap_or(1);
    let mut out = format!(
        "trace {trace_id}\n  duration {}  services {}  depth {depth}  spans {}  \
         (█ on the critical path, ░ off it; cp: time on it)\n\n",
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
            bar_of(r, &path, len),
            " ".repeat(bar_width - from - len)
        );
        let cp = match path_time(i) {
            0 => String::new(),
            t => format!("cp {}", format_micros(t)),
        };
        let _ = write!(
            out,
            "{name:<name_width$} │{bar}│ {:>9}  {cp:<12}",
            format_micros(r.duration)
        );
        if r.error {
            out.push_str(" ✗ error");
        }
        if slowest == Some(i) {
            let _ = write!(
                out,
                " ◀ slowest ({} on the critical path)",
                format_micros(path_time(i))
            );
        }
        out.truncate(out.trim_end_matches(' ').len());
        out.push('\n');
    }
    out
}

/// The bar of `row`, `len` columns: solid where it is on the critical path, shaded elsewhere.
/// Each column stands for an equal slice of the span's own time, so the bar's ends match it.
fn bar_of(row: &Row, path: &[Section], len: usize) -> String {
    let sections: Vec<&Section> = path.iter().filter(|s| s.span_id == row.span_id).collect();
    let slice = row.duration.max(1) as f64 / len as f64;
    (0..len)
        .map(|c| {
            let lo = row.start as f64 + c as f64 * slice;
            let hi = lo + slice;
            // Solid when sections cover half the slice, or one lies wholly inside it.
            let covered: f64 = sections
                .iter()
                .map(|s| (s.end as f64).min(hi) - (s.start as f64).max(lo))
                .filter(|overlap| *overlap > 0.0)
                .sum();
            let inside = sections
                .iter()
                .any(|s| s.start as f64 >= lo && s.end as f64 <= hi);
            if covered >= slice / 2.0 || inside {
                '█'
            } else {
                '░'
            }
        })
        .collect()
}

/// Rows of stored spans.
pub fn rows_of(spans: &[crate::model::Span]) -> Vec<Row> {
    let nodes = critical_path::nodes(spans);
    spans
        .iter()
        .zip(nodes)
        .map(|(s, node)| Row {
            span_id: s.span_id,
            parent: s.parent(),
            service: s.process.service_name.clone(),
            operation: s.operation_name.clone(),
            start: s.start_time,
            duration: s.duration,
            error: s.is_error(),
            blocking: node.blocking,
        })
        .collect()
}

/// Rows of a trace in Jaeger's JSON format (what the query API returns, or an exported file).
pub fn rows_of_json(trace: &serde_json::Value) -> Vec<Row> {
    let hex = |v: &serde_json::Value| v.as_str().and_then(|s| u64::from_str_radix(s, 16).ok());
    let processes = &trace["processes"];
    let kind = |s: &serde_json::Value| -> String {
        s["tags"]
            .as_array()
            .and_then(|tags| tags.iter().find(|t| t["key"] == "span.kind"))
            .and_then(|t| t["value"].as_str())
            .unwrap_or("")
            .to_owned()
    };
    let kinds: HashMap<u64, String> = trace["spans"]
        .as_array()
        .map(|spans| {
            spans
                .iter()
                .filter_map(|s| Some((hex(&s["spanID"])?, kind(s))))
                .collect()
        })
        .unwrap_or_default();
    trace["spans"]
        .as_array()
        .map(|spans| {
            spans
                .iter()
                .filter_map(|s| {
                    let reference = s["references"].as_array().and_then(|refs| refs.first());
                    let parent = reference.and_then(|r| hex(&r["spanID"]));
                    Some(Row {
                        span_id: hex(&s["spanID"])?,
                        parent,
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
                        blocking: critical_path::blocking(
                            reference.is_some_and(|r| r["refType"] == "FOLLOWS_FROM"),
                            parent.and_then(|p| kinds.get(&p)).map(String::as_str),
                            &kind(s),
                        ),
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
            blocking: true,
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
        assert!(
            lines[4].contains("cp 50µs")
                && lines[4].ends_with("◀ slowest (50µs on the critical path)"),
            "{text}"
        );
        assert!(
            lines[3].contains("cp 10µs") && lines[5].contains("cp 40µs"),
            "{text}"
        );
        // The store's bar starts 60% along the axis.
        let bar = lines[5].split('│').nth(1).unwrap();
        let offset = bar.chars().take_while(|c| *c == ' ').count();
        let width = bar.chars().count();
        assert_eq!(offset, width * 60 / 100, "{text}");
    }

    #[test]
    fn the_slowest_mark_follows_the_critical_path_past_a_parallel_span_with_more_time_of_its_own() {
        // a (95µs, no children) runs beside b, whose child c takes 93µs and ends last: the root
        // waited on b and c, not on a.
        let rows = [
            row(1, None, "api", 0, 100),
            row(2, Some(1), "api", 0, 95),
            row(4, Some(1), "api", 5, 94),
            row(5, Some(4), "store", 5, 93),
        ];
        let text = render("abc", &rows, 120);
        let line = |op: &str| {
            text.lines()
                .find(|l| l.contains(op))
                .unwrap_or_else(|| panic!("{op}: {text}"))
        };
        assert!(
            line("store op5").ends_with("cp 93µs      ◀ slowest (93µs on the critical path)"),
            "{text}"
        );
        assert!(line("api op4").contains("cp 1µs"), "{text}");
        assert!(line("api op1").contains("cp 6µs"), "{text}");
        let a = line("api op2");
        assert!(!a.contains("cp ") && !a.contains('◀'), "{text}");
        let bar = a.split('│').nth(1).unwrap();
        assert!(
            bar.contains('░') && !bar.contains('█'),
            "nothing waited on a: {text}"
        );
        let c = line("store op5").split('│').nth(1).unwrap();
        assert!(c.contains('█') && !c.contains('░'), "{text}");
    }

    #[test]
    fn durations_read_like_jaegers() {
        assert_eq!(format_micros(850), "850µs");
        assert_eq!(format_micros(12_340), "12.34ms");
        assert_eq!(format_micros(1_500_000), "1.50s");
    }
}
