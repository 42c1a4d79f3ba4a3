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
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut tops = Vec::new();
    for (i, span) in spans.iter().enumerate() {
        match span.parent_span_id.as_deref().and_then(|p| index.get(p)) {
            Some(&parent) if parent != i => children[parent].push(i),
            _ => tops.push(i),
        }
    }
    for list in &mut children {
        // Latest end first; the earlier start wins a tie, as it was waited for longer.
        list.sort_by_key(|&c| {
            (
                std::cmp::Reverse(spans[c].end_time_unix_nano),
                spans[c].start_time_unix_nano,
            )
        });
    }
    let mut on_path = vec![false; spans.len()];
    // (span, the point in time its part of the path ends), no recursion:
    // traces can be thousands of spans deep.
    let mut stack: Vec<(usize, i64)> = tops
        .iter()
        .map(|&t| (t, spans[t].end_time_unix_nano))
        .collect();
    while let Some((i, until)) = stack.pop() {
        if std::mem::replace(&mut on_path[i], true) {
            continue;
        }
        let span = &spans[i];
        let mut cursor = until.min(span.end_time_unix_nano);
        for &child in &children[i] {
            let c = &spans[child];
            if c.start_time_unix_nano >= cursor || c.end_time_unix_nano <= span.start_time_unix_nano
            {
                continue;
            }
            stack.push((child, cursor.min(c.end_time_unix_nano)));
            cursor = c.start_time_unix_nano;
            if cursor <= span.start_time_unix_nano {
                break;
            }
        }
    }
    on_path
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
