//! Slow-versus-typical attribution: for one service and operation, what its slow requests
//! spend their critical-path time on that its typical ones do not.
//!
//! The requests (spans of the operation) are split into the slow tail, at or above a
//! percentile of their durations (p95 by default), and the typical ones, at or below the
//! median. Each request's critical path (the stretch of its trace it waited on) is summed per
//! service and operation, averaged over each group, and the operations are ranked by how much
//! of the difference between the groups' mean durations the difference of their mean
//! critical-path time explains. A critical path covers its request's whole duration, so the
//! shares add up to the whole difference.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::critical_path;
use super::percentile;
use crate::model::Span;
use crate::waterfall::format_micros;

/// What is asked: the operation, and where its slow tail starts.
#[derive(Debug, Clone)]
pub struct Question {
    /// The service.
    pub service: String,
    /// Its operation.
    pub operation: String,
    /// The slow tail is at or above this percentile (0-100; 95 by default).
    pub percentile: f64,
}

/// One group of requests (slow or typical).
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Requests in it.
    pub requests: usize,
    /// Their mean duration, µs.
    pub mean: f64,
    /// Its bound: the slow group's shortest or the typical group's longest duration, µs.
    pub bound: i64,
}

/// One service and operation's part in the difference.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    /// The service.
    pub service: String,
    /// The operation.
    pub operation: String,
    /// Its mean time on a slow request's critical path, µs.
    pub slow: f64,
    /// ... on a typical request's.
    pub typical: f64,
    /// `slow - typical`.
    pub difference: f64,
    /// Fraction of the slow requests whose critical path it is on.
    pub in_slow: f64,
    /// ... of the typical ones.
    pub in_typical: f64,
}

/// The answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    /// The operation asked about.
    pub service: String,
    /// ...
    pub operation: String,
    /// The percentile the slow tail starts at.
    pub percentile: f64,
    /// The slow requests.
    pub slow: Group,
    /// The typical requests.
    pub typical: Group,
    /// Every operation on either group's critical paths, the largest difference first.
    pub causes: Vec<Cause>,
    /// Each group's mean critical-path time per call stack (`service operation` frames from
    /// the request down, joined by `;`): the two flame graphs, slow beside typical.
    pub stacks: Vec<Stack>,
}

/// One call stack's mean critical-path time in each group (a flame graph's cell).
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    /// `service operation` frames from the request down, joined by `;`.
    pub frames: String,
    /// Mean µs a slow request spent in it (its own critical-path time, not its children's).
    pub slow: f64,
    /// ... a typical one.
    pub typical: f64,
}

/// A request's duration and critical-path time per operation and per call stack (ids in
/// [`Names`]; a few entries each, summed when a name comes back).
struct Request {
    duration: i64,
    operations: Vec<(u32, i64)>,
    stacks: Vec<(u32, i64)>,
}

/// The names one attribution meets, interned: operations as `(service, operation)`, call stacks
/// as their caller's stack and their last operation. A request's path is then a few integers,
/// not strings: attribution reads every request of an operation.
#[derive(Default)]
struct Names<'a> {
    operation_ids: HashMap<(&'a str, &'a str), u32>,
    operations: Vec<(&'a str, &'a str)>,
    stack_ids: HashMap<(u32, u32), u32>,
    /// Each stack's caller's stack (`NONE` at the request) and its operation.
    stacks: Vec<(u32, u32)>,
}

const NONE: u32 = u32::MAX;

impl<'a> Names<'a> {
    fn operation(&mut self, span: &'a Span) -> u32 {
        let key = (
            span.process.service_name.as_str(),
            span.operation_name.as_str(),
        );
        let next = self.operations.len() as u32;
        *self.operation_ids.entry(key).or_insert_with(|| {
            self.operations.push(key);
            next
        })
    }

    fn stack(&mut self, caller: u32, operation: u32) -> u32 {
        let next = self.stacks.len() as u32;
        *self
            .stack_ids
            .entry((caller, operation))
            .or_insert_with(|| {
                self.stacks.push((caller, operation));
                next
            })
    }

    /// `service operation` frames from the request down, joined by `;`.
    fn frames(&self, mut stack: u32) -> String {
        let mut frames = Vec::new();
        while stack != NONE {
            let (caller, operation) = self.stacks[stack as usize];
            let (service, name) = self.operations[operation as usize];
            frames.push(format!("{service} {name}"));
            stack = caller;
        }
        frames.reverse();
        frames.join(";")
    }
}

fn add(entries: &mut Vec<(u32, i64)>, id: u32, time: i64) {
    match entries.iter_mut().find(|(known, _)| *known == id) {
        Some((_, sum)) => *sum += time,
        None => entries.push((id, time)),
    }
}

/// The requests of `question`'s operation in `traces`, split and compared; `None` when there
/// is none.
pub fn attribute<T: AsRef<[Span]>>(traces: &[T], question: &Question) -> Option<Attribution> {
    let mut names = Names::default();
    let mut requests: Vec<Request> = Vec::new();
    for trace in traces {
        let trace = trace.as_ref();
        let asked = |s: &Span| {
            s.process.service_name == question.service && s.operation_name == question.operation
        };
        if !trace.iter().any(asked) {
            continue;
        }
        let nodes = critical_path::nodes(trace);
        let tree = critical_path::Tree::new(&nodes);
        for (at, _) in trace.iter().enumerate().filter(|(_, s)| asked(s)) {
            requests.push(request(trace, at, &tree, &mut names));
        }
    }
    if requests.is_empty() {
        return None;
    }
    let mut durations: Vec<i64> = requests.iter().map(|r| r.duration).collect();
    durations.sort_unstable();
    let slow_bound = percentile(&durations, question.percentile);
    let typical_bound = percentile(&durations, 50.0);
    let slow: Vec<&Request> = requests
        .iter()
        .filter(|r| r.duration >= slow_bound)
        .collect();
    let typical: Vec<&Request> = requests
        .iter()
        .filter(|r| r.duration <= typical_bound)
        .collect();

    // Per name: total time and requests it is on, in the slow group [0] and the typical [1].
    let totals = |count: usize, entries: &dyn Fn(&Request) -> &[(u32, i64)]| {
        let mut totals = vec![([0i64; 2], [0usize; 2]); count];
        for (g, group) in [&slow, &typical].into_iter().enumerate() {
            for r in group {
                for &(id, time) in entries(r) {
                    totals[id as usize].0[g] += time;
                    totals[id as usize].1[g] += 1;
                }
            }
        }
        totals
    };
    let sizes = [slow.len() as f64, typical.len() as f64];
    let mut causes: Vec<Cause> = totals(names.operations.len(), &|r| &r.operations)
        .into_iter()
        .enumerate()
        .filter(|(_, (_, on))| on[0] + on[1] > 0)
        .map(|(id, (time, on))| {
            let (service, operation) = names.operations[id];
            let (s, t) = (time[0] as f64 / sizes[0], time[1] as f64 / sizes[1]);
            Cause {
                service: service.to_owned(),
                operation: operation.to_owned(),
                slow: s,
                typical: t,
                difference: s - t,
                in_slow: on[0] as f64 / sizes[0],
                in_typical: on[1] as f64 / sizes[1],
            }
        })
        .collect();
    // Largest difference first; ties by name, for an answer that reads the same every time.
    causes.sort_by(|a, b| {
        b.difference
            .total_cmp(&a.difference)
            .then_with(|| (&a.service, &a.operation).cmp(&(&b.service, &b.operation)))
    });
    let mut stacks: Vec<Stack> = totals(names.stacks.len(), &|r| &r.stacks)
        .into_iter()
        .enumerate()
        .filter(|(_, (_, on))| on[0] + on[1] > 0)
        .map(|(id, (time, _))| Stack {
            frames: names.frames(id as u32),
            slow: time[0] as f64 / sizes[0],
            typical: time[1] as f64 / sizes[1],
        })
        .collect();
    stacks.sort_by(|a, b| a.frames.cmp(&b.frames));

    let mean = |group: &[&Request]| {
        group.iter().map(|r| r.duration as f64).sum::<f64>() / group.len() as f64
    };
    Some(Attribution {
        service: question.service.clone(),
        operation: question.operation.clone(),
        percentile: question.percentile,
        slow: Group {
            requests: slow.len(),
            mean: mean(&slow),
            bound: slow_bound,
        },
        typical: Group {
            requests: typical.len(),
            mean: mean(&typical),
            bound: typical_bound,
        },
        causes,
        stacks,
    })
}

/// The request at `trace[at]`: its critical path in interned names. `tree` is the trace's, its
/// nodes in the trace's order.
fn request<'a>(
    trace: &'a [Span],
    at: usize,
    tree: &critical_path::Tree<'_>,
    names: &mut Names<'a>,
) -> Request {
    let span = &trace[at];
    let mut request = Request {
        duration: span.duration,
        operations: Vec::new(),
        stacks: Vec::new(),
    };
    // A second span with the request's id is walked as the first (the tree knows one per id).
    let sections = tree.path_under(tree.index(span.span_id).unwrap_or(at));
    // Each span's stack, found once: from the span up to the request, then back down.
    let mut stack_of: Vec<u32> = vec![NONE; trace.len()];
    for section in &sections {
        let Some(at) = tree.index(section.span_id) else {
            continue;
        };
        if stack_of[at] == NONE {
            let mut chain = vec![at];
            let mut up = at;
            while trace[up].span_id != span.span_id && chain.len() <= trace.len() {
                match trace[up].parent().and_then(|p| tree.index(p)) {
                    Some(parent) if stack_of[parent] == NONE => {
                        chain.push(parent);
                        up = parent;
                    }
                    _ => break,
                }
            }
            let mut caller = trace[up]
                .parent()
                .and_then(|p| tree.index(p))
                .map_or(NONE, |p| stack_of[p]);
            if trace[up].span_id == span.span_id {
                caller = NONE;
            }
            for &i in chain.iter().rev() {
                if stack_of[i] == NONE {
                    let operation = names.operation(&trace[i]);
                    stack_of[i] = names.stack(caller, operation);
                }
                caller = stack_of[i];
            }
        }
        let time = section.end - section.start;
        let operation = names.operation(&trace[at]);
        add(&mut request.operations, operation, time);
        add(&mut request.stacks, stack_of[at], time);
    }
    request
}

fn percent(fraction: f64) -> String {
    format!("{:.0}%", fraction * 100.0)
}

impl Attribution {
    /// The difference between the groups' mean durations, µs.
    pub fn difference(&self) -> f64 {
        self.slow.mean - self.typical.mean
    }

    /// As `/api/attribution` gives it (times in µs, shares as fractions).
    pub fn to_json(&self) -> serde_json::Value {
        let group = |g: &Group| serde_json::json!({"requests": g.requests, "meanDuration": g.mean, "bound": g.bound});
        serde_json::json!({
            "service": self.service,
            "operation": self.operation,
            "percentile": self.percentile,
            "slow": group(&self.slow),
            "typical": group(&self.typical),
            "difference": self.difference(),
            "causes": self.causes.iter().map(|c| serde_json::json!({
                "service": c.service,
                "operation": c.operation,
                "slow": c.slow,
                "typical": c.typical,
                "difference": c.difference,
                "share": if self.difference() > 0.0 { c.difference / self.difference() } else { 0.0 },
                "inSlow": c.in_slow,
                "inTypical": c.in_typical,
            })).collect::<Vec<_>>(),
            "stacks": self.stacks.iter().map(|s| serde_json::json!({
                "frames": s.frames,
                "slow": s.slow,
                "typical": s.typical,
            })).collect::<Vec<_>>(),
        })
    }

    /// What `traced-collector why` prints: the groups, then each operation that explains at
    /// least 1% of the difference (and a microsecond), largest first.
    pub fn render(&self) -> String {
        let us = |t: f64| format_micros(t.round() as i64);
        let mut out = format!(
            "{} {}: {} slow {} (>= p{} = {}, mean {}) against {} typical (<= p50 = {}, \
             mean {}): {} between typical and slow\n",
            self.service,
            self.operation,
            self.slow.requests,
            if self.slow.requests == 1 {
                "request"
            } else {
                "requests"
            },
            self.percentile,
            format_micros(self.slow.bound),
            us(self.slow.mean),
            self.typical.requests,
            format_micros(self.typical.bound),
            us(self.typical.mean),
            us(self.difference()),
        );
        let explaining: Vec<&Cause> = self
            .causes
            .iter()
            .filter(|c| c.difference.round() >= (self.difference() / 100.0).max(1.0))
            .collect();
        if explaining.is_empty() {
            out.push_str("  no operation takes longer on the slow requests' critical paths\n");
        }
        for c in explaining {
            let _ = writeln!(
                out,
                "  {} ({}): {} of the {} between typical and slow, in {} of slow traces and {} \
                 of typical ones",
                c.operation,
                c.service,
                us(c.difference),
                us(self.difference()),
                percent(c.in_slow),
                percent(c.in_typical),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::tests::span;

    fn ask(traces: &[Vec<Span>]) -> Attribution {
        attribute(
            traces,
            &Question {
                service: "api".into(),
                operation: "GET".into(),
                percentile: 95.0,
            },
        )
        .expect("requests")
    }

    /// `(service, operation, difference, in_slow, in_typical)` of each cause, largest first.
    fn ranked(answer: &Attribution) -> Vec<(&str, &str, f64, f64, f64)> {
        answer
            .causes
            .iter()
            .map(|c| {
                let (s, o) = (c.service.as_str(), c.operation.as_str());
                (s, o, c.difference, c.in_slow, c.in_typical)
            })
            .collect()
    }

    #[test]
    fn a_span_slow_in_one_trace_in_ten_explains_the_whole_difference() {
        // 100 requests: each reads for 50 ms; one in ten also makes a 640 ms thumbnail.
        let traces: Vec<Vec<Span>> = (0..100)
            .map(|i| {
                let slow = i % 10 == 0;
                let t = i * 10_000_000;
                let mut trace = vec![
                    span(
                        i as u64,
                        1,
                        0,
                        "api",
                        "GET",
                        t,
                        if slow { 700_000 } else { 60_000 },
                    ),
                    span(i as u64, 2, 1, "store", "read", t + 5_000, 50_000),
                ];
                if slow {
                    trace.push(span(
                        i as u64,
                        3,
                        1,
                        "store",
                        "make_thumbnail",
                        t + 55_000,
                        640_000,
                    ));
                }
                trace
            })
            .collect();
        let answer = ask(&traces);
        assert_eq!(answer.slow.requests, 10);
        assert_eq!(answer.slow.bound, 700_000);
        assert_eq!(answer.typical.requests, 90);
        assert_eq!(answer.typical.bound, 60_000);
        assert_eq!(answer.difference(), 640_000.0);
        assert_eq!(
            ranked(&answer),
            [
                ("store", "make_thumbnail", 640_000.0, 1.0, 0.0),
                ("api", "GET", 0.0, 1.0, 1.0),
                ("store", "read", 0.0, 1.0, 1.0),
            ]
        );
        assert_eq!(
            answer.render().lines().nth(1),
            Some(
                "  make_thumbnail (store): 640.00ms of the 640.00ms between typical and slow, \
                 in 100% of slow traces and 0% of typical ones"
            )
        );
        let flame: Vec<(&str, f64, f64)> = answer
            .stacks
            .iter()
            .map(|s| (s.frames.as_str(), s.slow, s.typical))
            .collect();
        assert_eq!(
            flame,
            [
                ("api GET", 10_000.0, 10_000.0),
                ("api GET;store make_thumbnail", 640_000.0, 0.0),
                ("api GET;store read", 50_000.0, 50_000.0),
            ]
        );
    }

    #[test]
    fn a_slow_span_beside_a_slower_sibling_is_not_the_cause() {
        // The index lookup and the thumbnail run side by side; on the slow requests the
        // lookup takes 300 ms, but the thumbnail takes 500 and is what the request waits for.
        // Ten requests, so that the one slow request is the nearest-rank p95.
        let traces: Vec<Vec<Span>> = (0..10)
            .map(|i| {
                let slow = i == 0;
                let t = i * 10_000_000;
                let i = i as u64;
                vec![
                    span(
                        i,
                        1,
                        0,
                        "api",
                        "GET",
                        t,
                        if slow { 520_000 } else { 110_000 },
                    ),
                    span(
                        i,
                        2,
                        1,
                        "catalog",
                        "lookup",
                        t + 10_000,
                        if slow { 300_000 } else { 50_000 },
                    ),
                    span(
                        i,
                        3,
                        1,
                        "store",
                        "thumbnail",
                        t + 10_000,
                        if slow { 500_000 } else { 90_000 },
                    ),
                ]
            })
            .collect();
        let answer = ask(&traces);
        assert_eq!((answer.slow.requests, answer.typical.requests), (1, 9));
        assert_eq!(answer.difference(), 410_000.0);
        assert_eq!(
            ranked(&answer),
            [
                ("store", "thumbnail", 410_000.0, 1.0, 1.0),
                ("api", "GET", 0.0, 1.0, 1.0),
            ],
            "the lookup is on no critical path"
        );
    }

    #[test]
    fn a_cause_spread_over_two_services_is_shared_between_them() {
        // Slow requests: the catalog's query takes 300 ms more and the store's read 100 ms
        // more, one after the other; the API itself 4 ms more (under 1%, left out of the text).
        let traces: Vec<Vec<Span>> = (0..30)
            .map(|i| {
                let slow = i % 15 == 0;
                let (query, read) = if slow {
                    (310_000, 120_000)
                } else {
                    (10_000, 20_000)
                };
                let t = i * 10_000_000;
                let i = i as u64;
                vec![
                    span(
                        i,
                        1,
                        0,
                        "api",
                        "GET",
                        t,
                        query + read + if slow { 6_000 } else { 2_000 },
                    ),
                    span(i, 2, 1, "catalog", "query", t + 1_000, query),
                    span(i, 3, 1, "store", "read", t + 1_000 + query, read),
                ]
            })
            .collect();
        let answer = ask(&traces);
        assert_eq!((answer.slow.requests, answer.typical.requests), (2, 28));
        assert_eq!(answer.difference(), 404_000.0);
        assert_eq!(
            ranked(&answer),
            [
                ("catalog", "query", 300_000.0, 1.0, 1.0),
                ("store", "read", 100_000.0, 1.0, 1.0),
                ("api", "GET", 4_000.0, 1.0, 1.0),
            ]
        );
        let text = answer.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "the API's 1% is left out: {text}");
        assert!(
            lines[1].starts_with("  query (catalog): 300.00ms of the 404.00ms"),
            "{text}"
        );
        assert!(
            lines[2].starts_with("  read (store): 100.00ms of the 404.00ms"),
            "{text}"
        );
        let json = answer.to_json();
        assert_eq!(json["causes"][0]["share"], 300.0 / 404.0);
        assert_eq!(json["causes"][1]["share"], 100.0 / 404.0);
        assert_eq!(json["causes"][2]["share"], 4.0 / 404.0);
    }

    #[test]
    fn an_operation_without_requests_has_no_answer() {
        let traces = vec![vec![span(1, 1, 0, "api", "POST", 0, 10)]];
        assert!(ask_none(&traces));
    }

    fn ask_none(traces: &[Vec<Span>]) -> bool {
        attribute(
            traces,
            &Question {
                service: "api".into(),
                operation: "GET".into(),
                percentile: 95.0,
            },
        )
        .is_none()
    }
}
