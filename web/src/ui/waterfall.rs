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
            service: log.service.clone(),
            colour: format::colour(&log.service),
            severity,
            severity_class: format::severity_class(log.severity_number),
            body: format::value(&log.body),
            label,
            trace_href: log.trace_id.as_ref().map(|t| match &log.span_id {
                Some(span) => format!("/traces/{t}#span-{span}"),
                None => format!("/traces/{t}"),
            }),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
