//! What sets a selection of traces apart from a baseline (`/compare`,
//! `/api/v1/compare`): for every value a trace's spans carry (service,
//! span name, status, span and resource attributes), how many of the
//! selection's traces carry it against how many of the baseline's, ranked
//! by the difference of the two proportions.
//!
//! The selection is a trace search; the baseline is the rest of the same
//! endpoint's traces in the window (the search's service and operation
//! alone), the selection left out. Each side is its newest `SAMPLE`
//! traces. A key with very many distinct values (an id) says nothing by
//! any one value: it is named as high cardinality instead of ranked.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Serialize;
use store::value::Value;
use store::{SpanView, TraceQuery};

/// Traces read of each side at most, the newest.
pub const SAMPLE: u32 = 300;
/// Differences listed at most.
const TOP: usize = 20;
/// A key with more distinct values than this, and more than half as many
/// as the traces that carry it, is high cardinality.
const DISTINCT: usize = 20;
/// Values longer than this are compared by their beginning.
const VALUE_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub start_time_unix_nano: Option<i64>,
    pub end_time_unix_nano: Option<i64>,
    /// Traces compared on each side, and whether there were more.
    pub selection: Side,
    pub baseline: Side,
    pub differences: Vec<Difference>,
    pub high_cardinality: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Side {
    pub traces: usize,
    pub sampled: bool,
}

/// A value more common in the selection than in the baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// `service`, `name`, `status`, or an attribute key.
    pub key: String,
    pub value: String,
    pub selection_traces: usize,
    pub baseline_traces: usize,
    pub selection_share: f64,
    pub baseline_share: f64,
    /// `selection_share - baseline_share`.
    pub difference: f64,
}

/// The (key, value) pairs a trace's spans carry.
pub type Facts = BTreeSet<(String, String)>;

/// What `spans` (one trace's) carry.
pub fn facts<'a>(spans: impl IntoIterator<Item = &'a SpanView>) -> Facts {
    let mut out = Facts::new();
    let text = |value: &Value| -> Option<String> {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Double(d) if d.is_finite() => d.to_string(),
            _ => return None,
        };
        Some(text.chars().take(VALUE_CHARS).collect())
    };
    for span in spans {
        out.insert(("service".to_owned(), span.service.clone()));
        out.insert(("name".to_owned(), span.name.clone()));
        let status = if span.is_error { "error" } else { "ok" };
        out.insert(("status".to_owned(), status.to_owned()));
        for (key, value) in span.attributes.0.iter().chain(&span.resource.0) {
            if key == "service.name" {
                continue;
            }
            if let Some(value) = text(value) {
                out.insert((key.clone(), value));
            }
        }
    }
    out
}

/// The values more common in `selection` than in `baseline`, largest
/// difference first, and the keys of high cardinality. Pure.
pub fn rank(selection: &[Facts], baseline: &[Facts]) -> (Vec<Difference>, Vec<String>) {
    let mut counts: BTreeMap<&(String, String), (usize, usize)> = BTreeMap::new();
    for facts in selection {
        for fact in facts {
            counts.entry(fact).or_default().0 += 1;
        }
    }
    for facts in baseline {
        for fact in facts {
            counts.entry(fact).or_default().1 += 1;
        }
    }
    // Per key: its distinct values, and the traces that carry it.
    let mut keys: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for ((key, _), (s, b)) in &counts {
        let k = keys.entry(key.as_str()).or_default();
        k.0 += 1;
        k.1 += s + b;
    }
    let high: HashSet<&str> = keys
        .iter()
        .filter(|(_, (distinct, carried))| *distinct > DISTINCT && *distinct * 2 > *carried)
        .map(|(key, _)| *key)
        .collect();
    let share = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let mut differences: Vec<Difference> = counts
        .iter()
        .filter(|((key, _), _)| !high.contains(key.as_str()))
        .map(|((key, value), &(s, b))| {
            let (ps, pb) = (share(s, selection.len()), share(b, baseline.len()));
            Difference {
                key: key.clone(),
                value: value.clone(),
                selection_traces: s,
                baseline_traces: b,
                selection_share: ps,
                baseline_share: pb,
                difference: ps - pb,
            }
        })
        .filter(|d| d.difference > 0.0)
        .collect();
    differences.sort_by(|x, y| {
        y.difference
            .total_cmp(&x.difference)
            .then(y.selection_traces.cmp(&x.selection_traces))
            .then_with(|| (&x.key, &x.value).cmp(&(&y.key, &y.value)))
    });
    differences.truncate(TOP);
    let mut high: Vec<String> = high.into_iter().map(str::to_owned).collect();
    high.sort();
    (differences, high)
}

/// The selection (`query`) against the rest of its endpoint's traces in
/// the same window.
pub async fn read(store: &store::Reader, query: &TraceQuery) -> store::Result<Comparison> {
    let selection = store
        .traces(&TraceQuery {
            limit: SAMPLE,
            offset: 0,
            longest_first: false,
            ..query.clone()
        })
        .await?;
    let chosen: HashSet<&str> = selection.iter().map(|t| t.trace_id.as_str()).collect();
    // The same endpoint in the same window, the selection left out: read
    // as many more as the selection holds, so that the rest fills a sample.
    let rest = store
        .traces(&TraceQuery {
            service: query.service.clone(),
            operation: query.operation.clone(),
            start: query.start,
            end: query.end,
            limit: SAMPLE + selection.len() as u32,
            ..TraceQuery::default()
        })
        .await?;
    let baseline: Vec<&store::TraceSummary> = rest
        .iter()
        .filter(|t| !chosen.contains(t.trace_id.as_str()))
        .take(SAMPLE as usize)
        .collect();
    let side_facts = |ids: Vec<String>| async move {
        let spans = store.spans_of_traces(&ids).await?;
        let mut by_trace: BTreeMap<&str, Vec<&SpanView>> = BTreeMap::new();
        for span in &spans {
            by_trace
                .entry(span.trace_id.as_str())
                .or_default()
                .push(span);
        }
        Ok::<Vec<Facts>, store::StoreError>(by_trace.into_values().map(facts).collect())
    };
    let selection_facts =
        side_facts(selection.iter().map(|t| t.trace_id.clone()).collect()).await?;
    let baseline_facts = side_facts(baseline.iter().map(|t| t.trace_id.clone()).collect()).await?;
    let (differences, high_cardinality) = rank(&selection_facts, &baseline_facts);
    Ok(Comparison {
        start_time_unix_nano: query.start,
        end_time_unix_nano: query.end,
        selection: Side {
            traces: selection_facts.len(),
            sampled: selection.len() == SAMPLE as usize,
        },
        baseline: Side {
            traces: baseline_facts.len(),
            sampled: baseline.len() == SAMPLE as usize,
        },
        differences,
        high_cardinality,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(pairs: &[(&str, &str)]) -> Facts {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_value_the_selection_shares_ranks_first() {
        // Slow requests all missed the cache on one host; the baseline
        // mostly hit it, on every host.
        let mut selection = Vec::new();
        for i in 0..10 {
            let user = format!("u{i}");
            selection.push(trace(&[
                ("cache.hit", "false"),
                ("host.name", "h2"),
                ("service", "api"),
                ("user.id", &user),
            ]));
        }
        let mut baseline = Vec::new();
        for i in 0..40 {
            let host = format!("h{}", i % 4);
            let hit = if i % 10 == 0 { "false" } else { "true" };
            let user = format!("u{}", 100 + i);
            baseline.push(trace(&[
                ("cache.hit", hit),
                ("host.name", &host),
                ("service", "api"),
                ("user.id", &user),
            ]));
        }
        let (differences, high) = rank(&selection, &baseline);
        let top: Vec<(&str, &str, usize, usize)> = differences
            .iter()
            .map(|d| {
                (
                    d.key.as_str(),
                    d.value.as_str(),
                    d.selection_traces,
                    d.baseline_traces,
                )
            })
            .collect();
        // cache.hit=false: 100 % against 10 %; host h2: 100 % against 25 %;
        // `service=api` is everywhere and sets nothing apart.
        assert_eq!(
            top,
            [("cache.hit", "false", 10, 4), ("host.name", "h2", 10, 10)]
        );
        assert!((differences[0].difference - 0.9).abs() < 1e-12);
        // Fifty users, each once: an id, not a cause.
        assert_eq!(high, ["user.id"]);
        assert_eq!(rank(&[], &[]), (vec![], vec![]));
    }
}
