//! A trace's spans as the rows of a waterfall: depth-first from the roots,
//! children by start time. A span whose parent never arrived starts a tree
//! of its own, marked "parent missing"; spans caught in a parent cycle do too.

use std::collections::HashMap;

use store::{LogView, SpanView};

use super::format;

/// Indentation classes the stylesheet defines (`d0` … `d24`).
const MAX_DEPTH_CLASS: usize = 24;

pub struct SpanRow {
    pub span_id: String,
    pub depth: usize,
    pub depth_class: usize,
    pub log_depth_class: usize,
    pub service: String,
    pub colour: usize,
    pub name: String,
    /// Bar position and length, in percent of the trace, as SVG attributes.
    pub left: String,
    pub width: String,
    pub duration: String,
    pub is_error: bool,
    pub is_origin: bool,
    pub on_critical_path: bool,
    /// Whether the row can fold its subtree away.
    pub has_children: bool,
    pub parent_missing: bool,
    pub logs: Vec<LogRow>,
}

pub struct LogRow {
    pub time: String,
    /// When it happened, for `<time datetime>`: `time` may be relative.
    pub iso: String,
    pub service: String,
    pub colour: usize,
    pub severity: String,
    pub severity_class: &'static str,
    pub body: String,
    /// How a request found it ("trace id", "request id"), on the request page.
    pub label: Option<&'static str>,
    pub trace_href: Option<String>,
}

impl LogRow {
    pub fn new(log: &LogView, label: Option<&'static str>) -> LogRow {
        // OpenTelemetry's severity ranges name a record that sent only a number.
        let severity = if log.severity_text.is_empty() {
            match log.severity_number {
                1..=4 => "TRACE".to_owned(),
                5..=8 => "DEBUG".to_owned(),
                9..=12 => "INFO".to_owned(),
                13..=16 => "WARN".to_owned(),
                17..=20 => "ERROR".to_owned(),
                21..=24 => "FATAL".to_owned(),
                _ => String::new(),
            }
        } else {
            log.severity_text.clone()
        };
        LogRow {
            time: format::time(log_time(log)),
            iso: format::iso(log_time(log)),
            service: log.service.clone(),
            colour: format::colour(&log.service),
            severity,
            severity_class: format::severity_class(log.severity_number),
            body: format::value(&log.body),
            label,
            trace_href: log.trace_id.as_ref().map(|t| match &log.span_id {
                Some(span) => format::span_href(t, span),
                None => format!("/traces/{t}"),
            }),
        }
    }
}

/// A span as a small waterfall draws it: where its bar starts and how
/// wide it is (percent of the range drawn), its row, colour and failure.
#[derive(Debug, Clone, PartialEq)]
pub struct MiniBar {
    pub x: String,
    pub w: String,
    pub y: usize,
    pub colour: usize,
    pub failed: bool,
}

/// Rows a small waterfall draws at most, and each row's height.
pub const MINI_ROWS: usize = 16;
pub const MINI_ROW_H: usize = 4;

/// `spans` (`(service, start, end, failed)`) as bars over `[start, end)`,
/// the earliest first, `MINI_ROWS` at most: the attempts of one request
/// drawn over one range line up in time.
pub fn mini(spans: &[(&str, i64, i64, bool)], start: i64, end: i64) -> Vec<MiniBar> {
    let mut order: Vec<&(&str, i64, i64, bool)> = spans.iter().collect();
    order.sort_by_key(|s| (s.1, std::cmp::Reverse(s.2)));
    let range = (end - start).max(1) as f64;
    order
        .into_iter()
        .take(MINI_ROWS)
        .enumerate()
        .map(|(row, &(service, from, to, failed))| {
            let x = ((from - start) as f64 / range * 100.0).clamp(0.0, 100.0);
            // A sliver at least, but never past the end.
            let w = ((to - from).max(0) as f64 / range * 100.0)
                .max(0.5)
                .min(100.0 - x);
            MiniBar {
                x: format!("{x:.2}%"),
                w: format!("{w:.2}%"),
                y: row * MINI_ROW_H,
                colour: format::colour(service),
                failed,
            }
        })
        .collect()
}

/// When a record happened: its own time, else when it was observed.
pub fn log_time(log: &LogView) -> i64 {
    if log.time_unix_nano != 0 {
        log.time_unix_nano
    } else {
        log.observed_time_unix_nano
    }
}

pub fn rows(spans: &[SpanView], logs: &[LogView], origin: Option<&str>) -> Vec<SpanRow> {
    let start = spans
        .iter()
        .map(|s| s.start_time_unix_nano)
        .min()
        .unwrap_or(0);
    let end = spans
        .iter()
        .map(|s| s.end_time_unix_nano.max(s.start_time_unix_nano))
        .max()
        .unwrap_or(0);
    let total = (end - start).max(1) as f64;

    let mut index: HashMap<&str, usize> = HashMap::with_capacity(spans.len());
    for (i, span) in spans.iter().enumerate() {
        index.entry(span.span_id.as_str()).or_insert(i);
    }
    let mut children: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    let mut parent_missing = vec![false; spans.len()];
    for (i, span) in spans.iter().enumerate() {
        match span.parent_span_id.as_deref().filter(|p| !p.is_empty()) {
            None => roots.push(i),
            Some(parent) if index.contains_key(parent) => {
                children.entry(parent).or_default().push(i)
            }
            Some(_) => {
                parent_missing[i] = true;
                roots.push(i);
            }
        }
    }

    let mut logs_by_span: HashMap<&str, Vec<&LogView>> = HashMap::new();
    for log in logs {
        if let Some(span_id) = log.span_id.as_deref() {
            logs_by_span.entry(span_id).or_default().push(log);
        }
    }

    let critical = crate::critical_path::find(spans);
    let mut rows = Vec::with_capacity(spans.len());
    let mut visited = vec![false; spans.len()];
    let mut visit = |top: usize, rows: &mut Vec<SpanRow>, visited: &mut Vec<bool>| {
        let mut stack = vec![(top, 0usize)];
        while let Some((i, depth)) = stack.pop() {
            if std::mem::replace(&mut visited[i], true) {
                continue;
            }
            let span = &spans[i];
            let left = (span.start_time_unix_nano - start) as f64 / total * 100.0;
            let width = (span.duration_ns.max(0) as f64 / total * 100.0).max(0.15);
            let depth_class = depth.min(MAX_DEPTH_CLASS);
            let mut span_logs: Vec<&LogView> = if index.get(span.span_id.as_str()) == Some(&i) {
                logs_by_span
                    .remove(span.span_id.as_str())
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            span_logs.sort_by_key(|l| log_time(l));
            rows.push(SpanRow {
                span_id: span.span_id.clone(),
                depth,
                depth_class,
                log_depth_class: (depth + 1).min(MAX_DEPTH_CLASS),
                service: span.service.clone(),
                colour: format::colour(&span.service),
                name: span.name.clone(),
                left: format!("{:.3}", left.clamp(0.0, 100.0)),
                width: format!("{:.3}", width.min(100.0 - left.clamp(0.0, 99.85))),
                duration: format::duration(span.duration_ns),
                is_error: span.is_error,
                is_origin: origin == Some(span.span_id.as_str()),
                on_critical_path: critical[i],
                has_children: children
                    .get(span.span_id.as_str())
                    .is_some_and(|kids| !kids.is_empty()),
                parent_missing: parent_missing[i]
                    || depth == 0
                        && span
                            .parent_span_id
                            .as_deref()
                            .is_some_and(|p| !p.is_empty()),
                logs: span_logs
                    .into_iter()
                    .map(|l| {
                        let mut row = LogRow::new(l, None);
                        // Under a span, the time since the trace began says more.
                        row.time = format!("+{}", format::duration(log_time(l) - start));
                        row
                    })
                    .collect(),
            });
            if let Some(kids) = children.get(span.span_id.as_str()) {
                for &kid in kids.iter().rev() {
                    if !visited[kid] {
                        stack.push((kid, depth + 1));
                    }
                }
            }
        }
    };
    for &root in &roots {
        visit(root, &mut rows, &mut visited);
    }
    // What is left hangs in a parent cycle: show it rather than lose it.
    for i in 0..spans.len() {
        if !visited[i] {
            visit(i, &mut rows, &mut visited);
        }
    }
    rows
}

/// What a waterfall shows of its rows (in `rows`' order): a row, or one
/// placeholder for a run of consecutive rows left out, fetched on demand.
#[derive(Debug, PartialEq, Eq)]
pub enum Shown {
    Row(usize),
    More { first: usize, last: usize },
}

impl Shown {
    /// The same, for rows that start `by` rows further on (a run's rows
    /// within the whole trace's).
    pub fn shifted(self, by: usize) -> Shown {
        match self {
            Shown::Row(i) => Shown::Row(i + by),
            Shown::More { first, last } => Shown::More {
                first: first + by,
                last: last + by,
            },
        }
    }
}

/// Rows shown at once: all when they are at most `budget`. Otherwise the
/// top of the tree, level by level, while the levels fit; then rows of the
/// next level in order until `budget` is reached; and, whatever their depth,
/// each `focus` row with its ancestors (the error origin, a span linked to),
/// unless that path alone is longer than `budget`. The browser's cost grows
/// with the rows in the page, so a trace of 10 000 spans opens as fast as
/// one of `budget`; the runs left out load when asked for.
///
/// Rows are depth-first, so a row's ancestors are the nearest earlier rows
/// of each smaller depth, and a run left out below a shown row stays in its
/// subtree while the depth cut-off holds.
pub fn window(depths: &[usize], focus: &[usize], budget: usize) -> Vec<Shown> {
    let budget = budget.max(1);
    let mut shown = vec![depths.len() <= budget; depths.len()];
    if depths.len() > budget {
        let mut per_depth = std::collections::BTreeMap::<usize, usize>::new();
        for &d in depths {
            *per_depth.entry(d).or_default() += 1;
        }
        let (mut cutoff, mut room) = (None, budget);
        for (&depth, &count) in &per_depth {
            if count > room {
                break;
            }
            cutoff = Some(depth);
            room -= count;
        }
        let next_level = per_depth
            .keys()
            .copied()
            .find(|&d| cutoff.is_none_or(|c| d > c));
        for (i, &d) in depths.iter().enumerate() {
            if cutoff.is_some_and(|c| d <= c) {
                shown[i] = true;
            } else if Some(d) == next_level && room > 0 {
                shown[i] = true;
                room -= 1;
            }
        }
        for &f in focus.iter().filter(|&&f| f < depths.len()) {
            let mut path = vec![f];
            let mut depth = depths[f];
            for j in (0..f).rev() {
                if depth == 0 {
                    break;
                }
                if depths[j] < depth {
                    depth = depths[j];
                    path.push(j);
                }
            }
            if path.len() <= budget {
                for i in path {
                    shown[i] = true;
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < shown.len() {
        if shown[i] {
            out.push(Shown::Row(i));
            i += 1;
        } else {
            let first = i;
            while i < shown.len() && !shown[i] {
                i += 1;
            }
            out.push(Shown::More { first, last: i - 1 });
        }
    }
    out
}

/// A waterfall line as the templates print it.
pub enum Item {
    Row(Box<SpanRow>),
    More(MoreRow),
}

/// The placeholder of a run of rows left out: a button that fetches them.
pub struct MoreRow {
    pub depth: usize,
    pub depth_class: usize,
    pub count: usize,
    pub href: String,
}

/// The lines to print for the rows `shown` picks out of `rows`.
pub fn items(rows: Vec<SpanRow>, shown: &[Shown], trace_id: &str) -> Vec<Item> {
    let mut rows: Vec<Option<SpanRow>> = rows.into_iter().map(Some).collect();
    shown
        .iter()
        .filter_map(|s| match *s {
            Shown::Row(i) => rows.get_mut(i)?.take().map(|r| Item::Row(Box::new(r))),
            Shown::More { first, last } => {
                let run = rows.get(first..=last)?;
                let depth = run.iter().flatten().map(|r| r.depth).min()?;
                let (first, last) = (
                    &run.first()?.as_ref()?.span_id,
                    &run.last()?.as_ref()?.span_id,
                );
                Some(Item::More(MoreRow {
                    depth,
                    depth_class: depth.min(MAX_DEPTH_CLASS),
                    count: run.len(),
                    href: format!("/traces/{trace_id}/rows?first={first}&last={last}"),
                }))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_waterfalls_place_spans_on_the_request_s_range() {
        let bars = mini(
            &[
                ("b", 50, 60, true),
                ("a", 0, 100, false),
                ("a", 200, 200, false),
            ],
            0,
            200,
        );
        let got: Vec<(&str, &str, usize, bool)> = bars
            .iter()
            .map(|b| (b.x.as_str(), b.w.as_str(), b.y, b.failed))
            .collect();
        assert_eq!(
            got,
            [
                ("0.00%", "50.00%", 0, false),
                ("25.00%", "5.00%", 4, true),
                // At the very end, still a sliver wide.
                ("100.00%", "0.00%", 8, false),
            ]
        );
        let many: Vec<(&str, i64, i64, bool)> = (0..40).map(|i| ("a", i, i + 1, false)).collect();
        assert_eq!(mini(&many, 0, 40).len(), MINI_ROWS);
    }

    fn span(id: &str, parent: Option<&str>, start: i64) -> SpanView {
        let mut span = crate::testing::span("t", id, parent, start, start + 10);
        span.name = format!("op-{id}");
        span
    }

    #[test]
    fn tree_orphans_and_cycles() {
        let spans = vec![
            span("a", None, 0),
            span("b", Some("a"), 1),
            span("x", Some("gone"), 2),
            span("c", Some("b"), 3),
            span("d", Some("a"), 4),
            span("p", Some("q"), 5),
            span("q", Some("p"), 6),
        ];
        let rows = rows(&spans, &[], Some("c"));
        let shape: Vec<(&str, usize, bool)> = rows
            .iter()
            .map(|r| (r.span_id.as_str(), r.depth, r.parent_missing))
            .collect();
        assert_eq!(
            shape,
            [
                ("a", 0, false),
                ("b", 1, false),
                ("c", 2, false),
                ("d", 1, false),
                ("x", 0, true),
                ("p", 0, true),
                ("q", 1, false),
            ]
        );
        assert!(rows[2].is_origin);
    }

    #[test]
    fn ten_thousand_deep_spans_do_not_overflow() {
        let mut spans = vec![span("0", None, 0)];
        for i in 1..10_000 {
            spans.push(span(&i.to_string(), Some(&(i - 1).to_string()), i));
        }
        let rows = rows(&spans, &[], None);
        assert_eq!(rows.len(), 10_000);
        assert_eq!(rows[9_999].depth, 9_999);
        assert_eq!(rows[9_999].depth_class, MAX_DEPTH_CLASS);
    }

    #[test]
    fn window_shows_top_levels_and_the_focus_path() {
        use Shown::{More, Row};
        let more = |first, last| More { first, last };
        //     0  1  2  3  4  5  6
        let tree = [0, 1, 2, 2, 1, 2, 2];
        // name, depths, focus, budget, what is shown
        type Case<'a> = (&'a str, &'a [usize], &'a [usize], usize, Vec<Shown>);
        let cases: &[Case] = &[
            ("few rows: all", &tree, &[], 7, (0..7).map(Row).collect()),
            (
                "levels that fit, runs below them",
                &tree,
                &[],
                3,
                vec![Row(0), Row(1), more(2, 3), Row(4), more(5, 6)],
            ),
            (
                "room left: the next level in order",
                &tree,
                &[],
                4,
                vec![Row(0), Row(1), Row(2), more(3, 3), Row(4), more(5, 6)],
            ),
            (
                "the focus row and its ancestors whatever their depth",
                &tree,
                &[6],
                3,
                vec![Row(0), Row(1), more(2, 3), Row(4), more(5, 5), Row(6)],
            ),
            (
                "a wide level: its first rows",
                &[0, 1, 1, 1, 1, 1],
                &[],
                3,
                vec![Row(0), Row(1), Row(2), more(3, 5)],
            ),
            (
                "more roots than room",
                &[0, 0, 0, 0],
                &[],
                2,
                vec![Row(0), Row(1), more(2, 3)],
            ),
            (
                "a focus path longer than the budget is not forced",
                &[0, 1, 2, 3, 4, 5],
                &[5],
                2,
                vec![Row(0), Row(1), more(2, 5)],
            ),
            (
                "a run fetched later starts deeper",
                &[3, 4, 4, 3, 4],
                &[],
                3,
                vec![Row(0), Row(1), more(2, 2), Row(3), more(4, 4)],
            ),
        ];
        for (name, depths, focus, budget, want) in cases {
            assert_eq!(&window(depths, focus, *budget), want, "{name}");
        }
    }

    #[test]
    fn placeholders_name_their_run() {
        let spans: Vec<SpanView> = ["a", "b", "c", "d"]
            .iter()
            .enumerate()
            .map(|(i, id)| span(id, (i > 0).then_some("a"), i as i64))
            .collect();
        let rows = rows(&spans, &[], None);
        let shown = window(&[0, 1, 1, 1], &[], 2);
        let items = items(rows, &shown, "t");
        let printed: Vec<String> = items
            .iter()
            .map(|i| match i {
                Item::Row(r) => r.span_id.clone(),
                Item::More(m) => format!("{} at {}: {}", m.count, m.depth, m.href),
            })
            .collect();
        assert_eq!(printed, ["a", "b", "2 at 1: /traces/t/rows?first=c&last=d"]);
    }
}
