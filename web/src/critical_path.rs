//! The critical path of a trace: the chain of work that decided how long it
//! took. Walking back from a span's end, the child that ended last (before
//! the point reached so far) was being waited for; the walk continues from
//! that child's start. Time no child covers is the span's own. Pure.

use std::collections::HashMap;

use store::SpanView;

/// Marks, by index into `spans`, every span on the critical path of each
/// top-level span (roots, and spans whose parent never arrived).
pub fn find(spans: &[SpanView]) -> Vec<bool> {
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(spans.len());
    for (i, span) in spans.iter().enumerate() {
        index.entry(span.span_id.as_str()).or_insert(i);
    }
    let nodes: Vec<Node> = spans
        .iter()
        .map(|span| Node {
            parent: span
                .parent_span_id
                .as_deref()
                .and_then(|p| index.get(p))
                .copied(),
            start: span.start_time_unix_nano,
            end: span.end_time_unix_nano,
        })
        .collect();
    walk(&nodes).into_iter().map(|t| t.is_some()).collect()
}

/// A span reduced to what the walk needs: its parent's index and its time.
#[derive(Debug, Clone, Copy)]
pub struct Node {
    pub parent: Option<usize>,
    pub start: i64,
    pub end: i64,
}

/// For each node, `None` when it is off the critical path, else the time
/// of the path it holds itself (no child of it on the path covers). The
/// times of one top-level span's path add up to its duration.
pub fn walk(nodes: &[Node]) -> Vec<Option<i64>> {
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    let mut tops = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        match node.parent {
            Some(parent) if parent != i && parent < nodes.len() => children[parent].push(i),
            _ => tops.push(i),
        }
    }
    for list in &mut children {
        // Latest end first; the earlier start wins a tie, as it was waited for longer.
        list.sort_by_key(|&c| (std::cmp::Reverse(nodes[c].end), nodes[c].start));
    }
    let mut own: Vec<Option<i64>> = vec![None; nodes.len()];
    // (span, the point in time its part of the path ends), no recursion:
    // traces can be thousands of spans deep.
    let mut stack: Vec<(usize, i64)> = tops.iter().map(|&t| (t, nodes[t].end)).collect();
    while let Some((i, until)) = stack.pop() {
        if own[i].is_some() {
            continue;
        }
        let node = nodes[i];
        let mut cursor = until.min(node.end);
        let mut covered = 0;
        for &child in &children[i] {
            let c = nodes[child];
            if c.start >= cursor || c.end <= node.start {
                continue;
            }
            let segment_end = cursor.min(c.end);
            covered += segment_end - c.start.max(node.start);
            stack.push((child, segment_end));
            cursor = c.start;
            if cursor <= node.start {
                break;
            }
        }
        own[i] = Some((until.min(node.end) - node.start).max(0) - covered);
    }
    own
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    /// (id, parent, start, end)
    fn spans(shape: &[(&str, Option<&str>, i64, i64)]) -> Vec<SpanView> {
        shape
            .iter()
            .map(|(id, parent, start, end)| testing::span("t", id, *parent, *start, *end))
            .collect()
    }

    fn check(name: &str, shape: &[(&str, Option<&str>, i64, i64)], expected: &[&str]) {
        let spans = spans(shape);
        let got: Vec<&str> = find(&spans)
            .iter()
            .zip(&spans)
            .filter(|(on, _)| **on)
            .map(|(_, s)| s.span_id.as_str())
            .collect();
        assert_eq!(got, expected, "{name}");
    }

    #[test]
    fn path_times_add_up_to_the_root() {
        // r 0..100 waits for a 10..40 then b 50..90; a waits for a1 20..30.
        let nodes = [
            Node {
                parent: None,
                start: 0,
                end: 100,
            },
            Node {
                parent: Some(0),
                start: 10,
                end: 40,
            },
            Node {
                parent: Some(0),
                start: 50,
                end: 90,
            },
            Node {
                parent: Some(1),
                start: 20,
                end: 30,
            },
            Node {
                parent: Some(0),
                start: 12,
                end: 20,
            },
        ];
        assert_eq!(
            walk(&nodes),
            vec![Some(30), Some(20), Some(40), Some(10), None]
        );
    }

    #[test]
    fn paths() {
        check("a lone root", &[("r", None, 0, 10)], &["r"]);
        check(
            "sequential calls are all waited for",
            &[
                ("r", None, 0, 100),
                ("a", Some("r"), 10, 40),
                ("b", Some("r"), 50, 90),
            ],
            &["r", "a", "b"],
        );
        check(
            "of parallel calls only the last to end is waited for",
            &[
                ("r", None, 0, 100),
                ("fast", Some("r"), 10, 30),
                ("slow", Some("r"), 10, 90),
            ],
            &["r", "slow"],
        );
        check(
            "the path goes down the waited-for child",
            &[
                ("r", None, 0, 100),
                ("a", Some("r"), 10, 90),
                ("a1", Some("a"), 20, 50),
                ("a2", Some("a"), 55, 85),
                ("b", Some("r"), 10, 20),
            ],
            &["r", "a", "a1", "a2"],
        );
        check(
            "a child outliving its parent (async) is cut at the parent's end",
            &[
                ("r", None, 0, 50),
                ("async", Some("r"), 40, 500),
                ("early", Some("r"), 5, 30),
            ],
            &["r", "async", "early"],
        );
        check(
            "an orphan subtree has its own path",
            &[
                ("r", None, 0, 10),
                ("o", Some("gone"), 20, 30),
                ("o1", Some("o"), 21, 29),
            ],
            &["r", "o", "o1"],
        );
        check(
            "a parent cycle ends",
            &[("a", Some("b"), 0, 10), ("b", Some("a"), 1, 9)],
            &[],
        );
    }
}
