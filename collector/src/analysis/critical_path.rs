//! The critical path of a trace, as Jaeger's UI defines it: the chain of span segments the
//! root's end waited on, found by walking back from the root's end through the last-finishing
//! child, then the child that finished before that one started, and so on.
//!
//! As in Jaeger's `computeCriticalPath`:
//! - a child its parent does not wait for is left out with its subtree: one that `FOLLOWS_FROM`
//!   its parent, and a consumer whose parent is a producer (Jaeger's UI prunes the first in
//!   older versions and the second in current ones);
//! - a child reaching outside its parent is cut to the parent's time, and one wholly outside
//!   (an async child that outlived its parent, started after the parent ended) is left out with
//!   its subtree;
//! - overlapping children: from a child's start the walk goes to the child that finished last
//!   before it, so time two children spend in parallel is counted once, for the later one.
//!
//! One difference: a child that ends at exactly the microsecond the next one starts is still
//! waited on (Jaeger asks for strictly before, which gives back-to-back calls' time to their
//! parent).

use std::collections::HashMap;

use crate::model::{RefKind, Span};

/// A span as the critical path needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its id.
    pub id: u64,
    /// Its parent's id, if it has one.
    pub parent: Option<u64>,
    /// Microseconds since the epoch.
    pub start: i64,
    /// Microseconds.
    pub duration: i64,
    /// `false` when its parent does not wait for it (see the module's docs).
    pub blocking: bool,
}

/// A stretch of time one span spent on the critical path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    /// The span.
    pub span_id: u64,
    /// Microseconds since the epoch.
    pub start: i64,
    /// Microseconds since the epoch, after `start`.
    pub end: i64,
}

/// The nodes of stored spans (of one trace).
pub fn nodes(spans: &[Span]) -> Vec<Node> {
    let kinds: HashMap<u64, &str> = spans.iter().map(|s| (s.span_id, s.span_kind())).collect();
    spans
        .iter()
        .map(|s| {
            let parent = s.parent();
            let follows_from = s.parent_span_id == 0
                && s.references
                    .iter()
                    .find(|r| r.trace_id == s.trace_id)
                    .is_some_and(|r| r.kind == RefKind::FollowsFrom);
            let parent_kind = parent.and_then(|p| kinds.get(&p)).copied();
            Node {
                id: s.span_id,
                parent,
                start: s.start_time,
                duration: s.duration,
                blocking: blocking(follows_from, parent_kind, s.span_kind()),
            }
        })
        .collect()
}

/// Whether a parent waits for its child: not when the child follows from it, nor when the
/// parent produces a message the child consumes.
pub fn blocking(follows_from: bool, parent_kind: Option<&str>, kind: &str) -> bool {
    !follows_from && (parent_kind != Some("producer") || kind != "consumer")
}

/// The critical path of every root of a trace (a span whose parent is not in it), roots in
/// order of start: the sections, latest first, as Jaeger lists them.
pub fn of_trace(nodes: &[Node]) -> Vec<Section> {
    let ids: HashMap<u64, usize> = index(nodes);
    let mut roots: Vec<usize> = (0..nodes.len())
        .filter(|&i| {
            nodes[i]
                .parent
                .is_none_or(|p| !ids.contains_key(&p) || p == nodes[i].id)
        })
        .filter(|&i| ids[&nodes[i].id] == i)
        .collect();
    roots.sort_by_key(|&i| (nodes[i].start, nodes[i].id));
    let children = children(nodes, &ids);
    roots
        .into_iter()
        .flat_map(|root| walk(nodes, &children, root))
        .collect()
}

/// The critical path under the span `root` (its end and what it waited on), latest first;
/// empty when `root` is not among `nodes`.
pub fn of_span(nodes: &[Node], root: u64) -> Vec<Section> {
    let tree = Tree::new(nodes);
    tree.index(root)
        .map_or_else(Vec::new, |i| tree.path_under(i))
}

/// A trace's nodes indexed, with each one's blocking children: made once for several walks
/// (an attribution walks under every request of a trace, and looks its spans up).
pub struct Tree<'a> {
    nodes: &'a [Node],
    ids: HashMap<u64, usize>,
    children: Vec<Vec<usize>>,
}

impl<'a> Tree<'a> {
    /// The tree of `nodes`.
    pub fn new(nodes: &'a [Node]) -> Tree<'a> {
        let ids = index(nodes);
        let children = children(nodes, &ids);
        Tree {
            nodes,
            ids,
            children,
        }
    }

    /// The position in `nodes` of the span `id` (the first, when a client sent two with it).
    pub fn index(&self, id: u64) -> Option<usize> {
        self.ids.get(&id).copied()
    }

    /// The critical path under the node at `index`, latest first.
    pub fn path_under(&self, index: usize) -> Vec<Section> {
        walk(self.nodes, &self.children, index)
    }
}

/// Each span's time on the critical path (µs), summed over its sections.
pub fn time_per_span(sections: &[Section]) -> HashMap<u64, i64> {
    let mut time: HashMap<u64, i64> = HashMap::new();
    for s in sections {
        *time.entry(s.span_id).or_default() += s.end - s.start;
    }
    time
}

/// Index of each id (the first span with it, when a client sent two with one id).
fn index(nodes: &[Node]) -> HashMap<u64, usize> {
    let mut ids = HashMap::with_capacity(nodes.len());
    for (i, n) in nodes.iter().enumerate() {
        ids.entry(n.id).or_insert(i);
    }
    ids
}

/// Each span's blocking children, by start (ties by id), so that the first of children ending
/// together is taken, as Jaeger takes the first.
fn children(nodes: &[Node], ids: &HashMap<u64, usize>) -> Vec<Vec<usize>> {
    let mut children = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        if !n.blocking || ids[&n.id] != i {
            continue;
        }
        if let Some(&p) = n.parent.and_then(|p| ids.get(&p))
            && p != i
        {
            children[p].push(i);
        }
    }
    for list in &mut children {
        list.sort_by_key(|&i| (nodes[i].start, nodes[i].id));
    }
    children
}

fn walk(nodes: &[Node], children: &[Vec<usize>], root: usize) -> Vec<Section> {
    // Each span's time cut to its parent's, in preorder so a parent is cut before its children
    // are measured against it; `None` when left out (with everything under it). Vectors by
    // index rather than maps: this runs for every request of an attribution.
    let mut time: Vec<Option<(i64, i64)>> = vec![None; nodes.len()];
    let mut parent_of: Vec<usize> = vec![usize::MAX; nodes.len()];
    let r = &nodes[root];
    time[root] = Some((r.start, r.start + r.duration.max(0)));
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        let Some((p_start, p_end)) = time[p] else {
            continue;
        };
        for &c in &children[p] {
            // A reference cycle in a malformed trace would bring a span back: visit it once.
            if time[c].is_some() {
                continue;
            }
            let n = &nodes[c];
            let (start, end) = (n.start, n.start + n.duration.max(0));
            if start >= p_end || end <= p_start {
                continue;
            }
            time[c] = Some((start.max(p_start), end.min(p_end)));
            parent_of[c] = p;
            stack.push(c);
        }
    }

    let mut path = Vec::new();
    let mut push = |span: usize, start: i64, end: i64| {
        if start != end {
            path.push(Section {
                span_id: nodes[span].id,
                start,
                end,
            });
        }
    };
    let mut current = root;
    // The start of the child the walk came back from: the span waited on something before it.
    let mut returning: Option<i64> = None;
    while let Some((start, end)) = time[current] {
        let until = returning.unwrap_or(end);
        let mut last: Option<(usize, i64)> = None;
        for &c in &children[current] {
            let Some((c_start, c_end)) = time[c] else {
                continue;
            };
            if parent_of[c] != current {
                continue;
            }
            // `c_start < until` keeps a zero-length child from being found again and again.
            let before = returning.is_none_or(|r| c_end <= r && c_start < r);
            if before && last.is_none_or(|(_, e)| c_end > e) {
                last = Some((c, c_end));
            }
        }
        match last {
            Some((child, child_end)) => {
                push(current, child_end, until);
                current = child;
                returning = None;
            }
            None => {
                push(current, start, until);
                if current == root {
                    break;
                }
                returning = Some(start);
                current = parent_of[current];
            }
        }
    }
    path
}

impl std::fmt::Debug for Tree<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u64, parent: Option<u64>, start: i64, duration: i64) -> Node {
        Node {
            id,
            parent,
            start,
            duration,
            blocking: true,
        }
    }

    fn path(nodes: &[Node]) -> Vec<(u64, i64, i64)> {
        of_trace(nodes)
            .iter()
            .map(|s| (s.span_id, s.start, s.end))
            .collect()
    }

    #[test]
    fn sequential_children_each_lie_on_the_path_with_the_parents_gaps() {
        // root 0..100: a 10..40, b 40..90 (back to back with a), the root's own 0..10, 90..100.
        let nodes = [
            node(1, None, 0, 100),
            node(2, Some(1), 10, 30),
            node(3, Some(1), 40, 50),
        ];
        assert_eq!(
            path(&nodes),
            [(1, 90, 100), (3, 40, 90), (2, 10, 40), (1, 0, 10)]
        );
        let time = time_per_span(&of_trace(&nodes));
        assert_eq!(time[&1], 20);
        assert_eq!(time[&2], 30);
        assert_eq!(time[&3], 50);
    }

    #[test]
    fn of_parallel_children_the_later_finishing_one_takes_the_overlap() {
        // a 0..60 and b 10..80 in parallel, c 0..30 beside them: the root waited on b, and
        // before b started on no child (a and c end after b's start): on its own 0..10.
        let nodes = [
            node(1, None, 0, 100),
            node(2, Some(1), 0, 60),
            node(3, Some(1), 10, 70),
            node(4, Some(1), 0, 30),
        ];
        assert_eq!(path(&nodes), [(1, 80, 100), (3, 10, 80), (1, 0, 10)]);
    }

    #[test]
    fn the_walk_goes_down_into_grandchildren_and_back_up() {
        // api 0..100 calls store 10..90, which reads 20..30 then thumbnails 30..85.
        let nodes = [
            node(1, None, 0, 100),
            node(2, Some(1), 10, 80),
            node(3, Some(2), 20, 10),
            node(4, Some(2), 30, 55),
        ];
        assert_eq!(
            path(&nodes),
            [
                (1, 90, 100),
                (2, 85, 90),
                (4, 30, 85),
                (3, 20, 30),
                (2, 10, 20),
                (1, 0, 10)
            ]
        );
        let only_store = of_span(&nodes, 2);
        assert_eq!(only_store.len(), 4);
        assert_eq!(time_per_span(&only_store).values().sum::<i64>(), 80);
    }

    #[test]
    fn async_children_outliving_their_parent_are_cut_to_it_or_left_out() {
        // b starts inside the root and ends after it: cut at the root's end. c starts after
        // the root ended: left out, and its child with it. d follows from the root: left out.
        let mut d = node(5, Some(1), 10, 20);
        d.blocking = false;
        let nodes = [
            node(1, None, 0, 100),
            node(2, Some(1), 50, 200),
            node(3, Some(1), 150, 10),
            node(4, Some(3), 152, 5),
            d,
            node(6, Some(2), 120, 50),
        ];
        assert_eq!(path(&nodes), [(2, 50, 100), (1, 0, 50)]);
    }

    #[test]
    fn a_child_starting_before_its_parent_counts_from_the_parents_start() {
        let nodes = [node(1, None, 100, 100), node(2, Some(1), 50, 100)];
        assert_eq!(path(&nodes), [(1, 150, 200), (2, 100, 150)]);
    }

    #[test]
    fn a_consumer_of_a_producer_and_a_follows_from_child_are_not_waited_on() {
        let span = |id: u64, parent: u64, kind: &str, follows: bool| {
            let mut s = crate::analysis::tests::span(7, id, parent, "svc", "op", 0, 10);
            if !kind.is_empty() {
                s.tags.push(crate::model::KeyValue {
                    key: "span.kind".into(),
                    value: crate::model::Value::Str(kind.into()),
                });
            }
            if follows {
                s.parent_span_id = 0;
                s.references = vec![crate::model::Reference {
                    kind: RefKind::FollowsFrom,
                    trace_id: s.trace_id,
                    span_id: parent,
                }];
            }
            s
        };
        let spans = [
            span(1, 0, "producer", false),
            span(2, 1, "consumer", false),
            span(3, 1, "", true),
            span(4, 1, "client", false),
        ];
        let blocking: Vec<bool> = nodes(&spans).iter().map(|n| n.blocking).collect();
        assert_eq!(blocking, [true, false, false, true]);
        assert_eq!(nodes(&spans)[2].parent, Some(1));
    }

    #[test]
    fn zero_length_children_and_reference_cycles_end_the_walk() {
        let nodes = [
            node(1, None, 0, 100),
            node(2, Some(1), 40, 0),
            node(3, Some(1), 40, 0),
            node(4, Some(5), 10, 10),
            node(5, Some(4), 10, 10),
        ];
        assert_eq!(path(&nodes), [(1, 40, 100), (1, 0, 40)]);
    }

    #[test]
    fn a_deep_chain_is_walked_without_recursion() {
        let nodes: Vec<Node> = (1..=100_000)
            .map(|i| node(i, (i > 1).then(|| i - 1), i as i64, 200_000 - 2 * i as i64))
            .collect();
        let sections = of_trace(&nodes);
        assert_eq!(time_per_span(&sections).values().sum::<i64>(), 199_998);
    }
}
