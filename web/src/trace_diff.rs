//! This trace against a typical one (`/traces/{id}/compare`,
//! `/api/v1/traces/{id}/compare`): the two aligned by the path of
//! (service, operation) from the root to each span, and every path whose
//! calls or self time differ, largest difference in self time first.
//!
//! The typical trace is the median by latency of the traces with the same
//! root (service and operation) that started within an hour of this one,
//! unless one is named (`with`).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use store::{SpanView, TraceQuery};

/// Traces the median is taken among at most.
const CANDIDATES: u32 = 201;
/// Paths listed at most.
const TOP: usize = 30;
const HOUR_NS: i64 = 3_600_000_000_000;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceDiff {
    pub trace_id: String,
    pub typical_trace_id: String,
    /// How the typical trace was chosen.
    pub chosen: String,
    /// The entry spans' durations: the latency each caller saw.
    pub duration_ns: i64,
    pub typical_duration_ns: i64,
    pub paths: Vec<PathDiff>,
}

/// One path of (service › operation) steps from the root, in both traces.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathDiff {
    pub path: Vec<String>,
    pub calls: u64,
    pub typical_calls: u64,
    pub self_ns: i64,
    pub typical_self_ns: i64,
    /// `only_here`, `only_typical`, `more_calls`, `fewer_calls` or
    /// `self_time`.
    pub kind: &'static str,
}

/// Calls and self time per path of one trace.
fn paths(spans: &[SpanView]) -> BTreeMap<Vec<String>, (u64, i64)> {
    let by_id: HashMap<&str, &SpanView> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let mut children_ns: HashMap<&str, i64> = HashMap::new();
    for span in spans {
        if let Some(parent) = span.parent_span_id.as_deref() {
            *children_ns.entry(parent).or_default() += span.duration_ns;
        }
    }
    let mut out: BTreeMap<Vec<String>, (u64, i64)> = BTreeMap::new();
    for span in spans {
        let mut path = vec![format!("{} › {}", span.service, span.name)];
        let mut at = span;
        // Bounded: a broken trace may link spans in a cycle.
        for _ in 0..64 {
            let Some(parent) = at.parent_span_id.as_deref().and_then(|p| by_id.get(p)) else {
                break;
            };
            path.push(format!("{} › {}", parent.service, parent.name));
            at = parent;
        }
        path.reverse();
        let self_ns = (span.duration_ns
            - children_ns.get(span.span_id.as_str()).copied().unwrap_or(0))
        .max(0);
        let entry = out.entry(path).or_default();
        entry.0 += 1;
        entry.1 += self_ns;
    }
    out
}

/// The paths of `here` and `typical` that differ, largest difference in
/// self time first. Pure.
pub fn diff(here: &[SpanView], typical: &[SpanView]) -> Vec<PathDiff> {
    let (a, b) = (paths(here), paths(typical));
    let mut keys: Vec<&Vec<String>> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut rows: Vec<PathDiff> = keys
        .into_iter()
        .filter_map(|path| {
            let (calls, self_ns) = a.get(path).copied().unwrap_or((0, 0));
            let (typical_calls, typical_self_ns) = b.get(path).copied().unwrap_or((0, 0));
            let kind = match (calls, typical_calls) {
                (_, 0) => "only_here",
                (0, _) => "only_typical",
                (c, t) if c > t => "more_calls",
                (c, t) if c < t => "fewer_calls",
                _ if self_ns != typical_self_ns => "self_time",
                _ => return None,
            };
            Some(PathDiff {
                path: path.clone(),
                calls,
                typical_calls,
                self_ns,
                typical_self_ns,
                kind,
            })
        })
        .collect();
    rows.sort_by(|x, y| {
        (y.self_ns - y.typical_self_ns)
            .abs()
            .cmp(&(x.self_ns - x.typical_self_ns).abs())
            .then_with(|| x.path.cmp(&y.path))
    });
    rows.truncate(TOP);
    rows
}

/// The trace's entry span, as trace search measures latency by
/// (docs/adr/0023): its root, else its earliest server or consumer span,
/// else its earliest span.
fn entry(spans: &[SpanView]) -> Option<&SpanView> {
    use store::model::SpanKind::{Consumer, Server};
    let earliest = |serving: bool| {
        spans
            .iter()
            .filter(move |s| !serving || matches!(s.kind, Server | Consumer))
            .min_by_key(|s| s.start_time_unix_nano)
    };
    spans
        .iter()
        .find(|s| s.parent_span_id.is_none())
        .or_else(|| earliest(true))
        .or_else(|| earliest(false))
}

/// `here` against `with`, or against the median trace of its root's within
/// an hour of it; `None` when there is no other such trace.
pub async fn read(
    store: &store::Reader,
    here: &store::TraceView,
    with: Option<&store::TraceView>,
) -> store::Result<Option<TraceDiff>> {
    let (typical, chosen) = match with {
        Some(with) => (with.clone(), "named".to_owned()),
        None => {
            let Some(root) = entry(&here.spans) else {
                return Ok(None);
            };
            let at = root.start_time_unix_nano;
            let mut candidates = store
                .traces(&TraceQuery {
                    service: Some(root.service.clone()),
                    operation: Some(root.name.clone()),
                    start: Some(at.saturating_sub(HOUR_NS)),
                    end: Some(at.saturating_add(HOUR_NS)),
                    longest_first: true,
                    limit: CANDIDATES,
                    ..TraceQuery::default()
                })
                .await?;
            candidates.retain(|t| t.trace_id != here.trace_id);
            let Some(median) = candidates.get(candidates.len() / 2) else {
                return Ok(None);
            };
            let mut id = [0u8; 16];
            if hex::decode_to_slice(&median.trace_id, &mut id).is_err() {
                return Ok(None);
            }
            let Some(view) = store.trace(&id).await? else {
                return Ok(None);
            };
            let chosen = format!(
                "the median by latency of {} other trace{} of {} › {} within an hour",
                candidates.len(),
                if candidates.len() == 1 { "" } else { "s" },
                root.service,
                root.name
            );
            (view, chosen)
        }
    };
    Ok(Some(TraceDiff {
        trace_id: here.trace_id.clone(),
        typical_trace_id: typical.trace_id.clone(),
        chosen,
        duration_ns: entry(&here.spans).map_or(0, |s| s.duration_ns),
        typical_duration_ns: entry(&typical.spans).map_or(0, |s| s.duration_ns),
        paths: diff(&here.spans, &typical.spans),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(
        trace: &str,
        id: &str,
        parent: Option<&str>,
        service: &str,
        name: &str,
        start: i64,
        end: i64,
    ) -> SpanView {
        let mut span = crate::testing::span(trace, id, parent, start, end);
        span.service = service.into();
        span.name = name.into();
        span
    }

    #[test]
    fn three_extra_calls_are_the_top_difference() {
        // api GET /x calls db SELECT once in the typical trace, four times
        // in this one; its own work is 10 ms longer here.
        let typical = vec![
            span("t", "1", None, "api", "GET /x", 0, 100),
            span("t", "2", Some("1"), "db", "SELECT", 10, 30),
        ];
        let mut here = vec![span("h", "1", None, "api", "GET /x", 0, 190)];
        for i in 0..4 {
            let id = format!("{}", i + 2);
            here.push(span(
                "h",
                &id,
                Some("1"),
                "db",
                "SELECT",
                10 + i * 20,
                30 + i * 20,
            ));
        }
        here.push(span("h", "9", Some("1"), "cache", "GET", 100, 105));
        let rows = diff(&here, &typical);
        let got: Vec<(String, &str, u64, u64)> = rows
            .iter()
            .map(|r| (r.path.join(" / "), r.kind, r.calls, r.typical_calls))
            .collect();
        assert_eq!(
            got,
            [
                ("api › GET /x / db › SELECT".to_owned(), "more_calls", 4, 1),
                ("api › GET /x".to_owned(), "self_time", 1, 1),
                ("api › GET /x / cache › GET".to_owned(), "only_here", 1, 0),
            ]
        );
        // 4 × 20 ms against 20 ms; the root's own 105 ms against 80 ms.
        assert_eq!((rows[0].self_ns, rows[0].typical_self_ns), (80, 20));
        assert_eq!((rows[1].self_ns, rows[1].typical_self_ns), (105, 80));
        assert!(diff(&typical, &typical).is_empty());
    }
}
