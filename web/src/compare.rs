//! What sets a selection of traces apart from a baseline (`/compare`,
//! `/api/v1/compare`): for every value a trace's spans carry (service,
//! span name, status, span and resource attributes), how many of the
//! selection's traces carry it against how many of the baseline's, ranked
//! by the difference of the two proportions; numeric keys of many values
//! as a pair of histograms, ranked by how far apart they lie; and the
//! latency of both, as a histogram a range can be dragged on.
//!
//! The selection is a trace search; the baseline is the rest of the same
//! endpoint's traces in the window (the search's service and operation
//! alone), or of its service's, or every other, the selection left out.
//! Each side is at most `SAMPLE` traces: all of them, or past that a
//! sample spread evenly over the window (the newest of each of `SLICES`
//! equal slices). A key with very many distinct values that are not
//! numbers (an id) says nothing by any one value: it is named as high
//! cardinality instead of ranked.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Serialize;
use store::value::Value;
use store::{SpanView, TraceQuery, TraceSummary};

use crate::params::Baseline;

/// Traces read of each side at most.
pub const SAMPLE: u32 = 300;
/// Equal slices of the window a sample is spread over.
pub const SLICES: u32 = 10;
/// Bars of a histogram.
pub const BINS: usize = 20;
/// Numeric keys shown as histograms at most.
const DISTRIBUTIONS: usize = 6;
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
    /// `endpoint`, `service` or `all`: whose other traces the baseline is.
    pub baseline_of: String,
    /// Traces compared on each side, and whether there were more.
    pub selection: Side,
    pub baseline: Side,
    /// The durations of both sides, in milliseconds: of the operation's
    /// span when the selection names one (the slowest in a trace), else of
    /// the entry span.
    pub latency: Option<Distribution>,
    /// `span` or `entry`: which duration `latency` is.
    pub latency_of: String,
    pub differences: Vec<Difference>,
    /// Numeric keys of many values, furthest apart first.
    pub distributions: Vec<Distribution>,
    pub high_cardinality: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Side {
    pub traces: usize,
    /// More matched: these are a sample spread evenly over the window.
    pub sampled: bool,
}

/// A numeric key's values on both sides as histograms over the same bins.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Distribution {
    pub key: String,
    pub selection_values: usize,
    pub baseline_values: usize,
    /// Bins equal in width, or in ratio (`log`) when the values span an
    /// order of magnitude or more.
    pub log: bool,
    pub bins: Vec<Bin>,
    /// Half the sum of the differences of the two sides' shares per bin
    /// (total variation): 0 alike, 1 apart.
    pub distance: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bin {
    /// `[low, high)`; the last bin holds its `high`.
    pub low: f64,
    pub high: f64,
    pub selection: usize,
    pub baseline: usize,
    pub selection_share: f64,
    pub baseline_share: f64,
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
/// difference first; the numeric keys of many values as distributions,
/// furthest apart first; and the other keys of high cardinality. Pure.
pub fn rank(selection: &[Facts], baseline: &[Facts]) -> Ranked {
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
    // Per key: its distinct values, the traces that carry it, and whether
    // every value is a number.
    let mut keys: BTreeMap<&str, (usize, usize, bool)> = BTreeMap::new();
    for ((key, value), (s, b)) in &counts {
        let k = keys.entry(key.as_str()).or_insert((0, 0, true));
        k.0 += 1;
        k.1 += s + b;
        k.2 &= number(value).is_some();
    }
    let many = |distinct: usize, carried: usize| distinct > DISTINCT && distinct * 2 > carried;
    let numeric: HashSet<&str> = keys
        .iter()
        .filter(|(_, (distinct, _, numbers))| *numbers && *distinct > DISTINCT)
        .map(|(key, _)| *key)
        .collect();
    let high: HashSet<&str> = keys
        .iter()
        .filter(|(key, (distinct, carried, _))| {
            many(*distinct, *carried) && !numeric.contains(*key)
        })
        .map(|(key, _)| *key)
        .collect();
    let share = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let mut differences: Vec<Difference> = counts
        .iter()
        .filter(|((key, _), _)| !high.contains(key.as_str()) && !numeric.contains(key.as_str()))
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
    let values = |side: &[Facts], key: &str| -> Vec<f64> {
        side.iter()
            .flat_map(|facts| facts.iter().filter(move |(k, _)| k == key))
            .filter_map(|(_, v)| number(v))
            .collect()
    };
    let mut distributions: Vec<Distribution> = numeric
        .iter()
        .filter_map(|key| distribution(key, &values(selection, key), &values(baseline, key)))
        .collect();
    distributions.sort_by(|x, y| {
        y.distance
            .total_cmp(&x.distance)
            .then_with(|| x.key.cmp(&y.key))
    });
    distributions.truncate(DISTRIBUTIONS);
    let mut high: Vec<String> = high.into_iter().map(str::to_owned).collect();
    high.sort();
    Ranked {
        differences,
        distributions,
        high_cardinality: high,
    }
}

/// What `rank` finds.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub differences: Vec<Difference>,
    pub distributions: Vec<Distribution>,
    pub high_cardinality: Vec<String>,
}

fn number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `selection` and `baseline` over the same `BINS` bins; none when both
/// are empty.
pub fn distribution(key: &str, selection: &[f64], baseline: &[f64]) -> Option<Distribution> {
    let all = selection.iter().chain(baseline);
    let low = all.clone().copied().fold(f64::INFINITY, f64::min);
    let high = all.copied().fold(f64::NEG_INFINITY, f64::max);
    if !low.is_finite() || !high.is_finite() {
        return None;
    }
    let log = low > 0.0 && high / low >= 10.0;
    let edge = |i: usize| {
        let f = i as f64 / BINS as f64;
        match log {
            true => low * (high / low).powf(f),
            false => low + (high - low) * f,
        }
    };
    let index = |v: f64| -> usize {
        let f = match (log, high > low) {
            (_, false) => 0.0,
            (true, true) => (v / low).ln() / (high / low).ln(),
            (false, true) => (v - low) / (high - low),
        };
        ((f * BINS as f64) as usize).min(BINS - 1)
    };
    let mut bins: Vec<Bin> = (0..BINS)
        .map(|i| Bin {
            low: edge(i),
            high: edge(i + 1),
            selection: 0,
            baseline: 0,
            selection_share: 0.0,
            baseline_share: 0.0,
        })
        .collect();
    for &v in selection {
        bins[index(v)].selection += 1;
    }
    for &v in baseline {
        bins[index(v)].baseline += 1;
    }
    let share = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let mut distance = 0.0;
    for bin in &mut bins {
        bin.selection_share = share(bin.selection, selection.len());
        bin.baseline_share = share(bin.baseline, baseline.len());
        distance += (bin.selection_share - bin.baseline_share).abs() / 2.0;
    }
    Some(Distribution {
        key: key.to_owned(),
        selection_values: selection.len(),
        baseline_values: baseline.len(),
        log,
        bins,
        distance,
    })
}

/// At most `SAMPLE` traces of `query` (over its window) that `leave_out`
/// does not hold: all of them, or past that the newest of each of
/// `SLICES` equal slices of the window's stretch that holds data; and
/// whether it was a sample.
async fn sample(
    store: &store::Reader,
    query: &TraceQuery,
    leave_out: &HashSet<String>,
) -> store::Result<(Vec<TraceSummary>, bool)> {
    let fits = SAMPLE + leave_out.len() as u32;
    let newest = store
        .traces(&TraceQuery {
            limit: fits + 1,
            offset: 0,
            longest_first: false,
            ..query.clone()
        })
        .await?;
    let keep = |t: &TraceSummary| !leave_out.contains(&t.trace_id);
    let (Some(start), Some(end)) = (query.start, query.end) else {
        return Ok((
            newest
                .into_iter()
                .filter(keep)
                .take(SAMPLE as usize)
                .collect(),
            false,
        ));
    };
    if newest.len() <= fits as usize {
        let all: Vec<TraceSummary> = newest.into_iter().filter(keep).collect();
        let more = all.len() > SAMPLE as usize;
        return Ok((all.into_iter().take(SAMPLE as usize).collect(), more));
    }
    // Spread over the part of the window that holds data, so that a
    // window reaching past the newest span still samples in full.
    let (start, end) = match store.data_extent(start, end).await? {
        Some((first, last)) => (first.max(start), last.saturating_add(1).min(end)),
        None => (start, end),
    };
    let per = SAMPLE / SLICES;
    let width = ((end - start) / i64::from(SLICES)).max(1);
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(SAMPLE as usize);
    for i in 0..i64::from(SLICES) {
        let from = start + i * width;
        let to = if i == i64::from(SLICES) - 1 {
            end
        } else {
            from + width
        };
        let slice = store
            .traces(&TraceQuery {
                start: Some(from),
                end: Some(to),
                limit: per + (leave_out.len() as u32).min(per * 4),
                offset: 0,
                longest_first: false,
                ..query.clone()
            })
            .await?;
        out.extend(
            slice
                .into_iter()
                .filter(|t| keep(t) && seen.insert(t.trace_id.clone()))
                .take(per as usize),
        );
    }
    Ok((out, true))
}

/// The selection (`query`) against the rest of its endpoint's traces (or
/// its service's, or all) in the same window.
pub async fn read(
    store: &store::Reader,
    query: &TraceQuery,
    baseline_of: Baseline,
) -> store::Result<Comparison> {
    let (selection, selection_sampled) = sample(store, query, &HashSet::new()).await?;
    let chosen: HashSet<String> = selection.iter().map(|t| t.trace_id.clone()).collect();
    let mut rest = TraceQuery {
        start: query.start,
        end: query.end,
        ..TraceQuery::default()
    };
    match baseline_of {
        Baseline::Endpoint => {
            rest.service = query.service.clone();
            rest.operation = query.operation.clone();
        }
        Baseline::Service => rest.service = query.service.clone(),
        Baseline::All => {}
    }
    let (baseline, baseline_sampled) = sample(store, &rest, &chosen).await?;
    // The endpoint's own span, when the selection names one: where it is
    // not the entry, the trace's latency is someone else's.
    let endpoint = |span: &SpanView| {
        query.operation.as_deref() == Some(span.name.as_str())
            && query.service.as_deref().is_none_or(|s| s == span.service)
    };
    let side_facts = |side: &[TraceSummary]| {
        let ids: Vec<String> = side.iter().map(|t| t.trace_id.clone()).collect();
        let entry_ms: Vec<f64> = side.iter().map(|t| t.duration_ns as f64 / 1e6).collect();
        async move {
            let spans = store.spans_of_traces(&ids).await?;
            let mut by_trace: BTreeMap<&str, Vec<&SpanView>> = BTreeMap::new();
            for span in &spans {
                by_trace
                    .entry(span.trace_id.as_str())
                    .or_default()
                    .push(span);
            }
            let millis: Vec<f64> = match query.operation {
                Some(_) => by_trace
                    .values()
                    .filter_map(|spans| {
                        spans
                            .iter()
                            .filter(|s| endpoint(s))
                            .map(|s| s.end_time_unix_nano - s.start_time_unix_nano)
                            .max()
                    })
                    .map(|ns| ns as f64 / 1e6)
                    .collect(),
                None => entry_ms,
            };
            let facts = by_trace.into_values().map(facts).collect();
            Ok::<(Vec<Facts>, Vec<f64>), store::StoreError>((facts, millis))
        }
    };
    let (selection_facts, selection_ms) = side_facts(&selection).await?;
    let (baseline_facts, baseline_ms) = side_facts(&baseline).await?;
    let ranked = rank(&selection_facts, &baseline_facts);
    Ok(Comparison {
        start_time_unix_nano: query.start,
        end_time_unix_nano: query.end,
        baseline_of: baseline_of.as_str().to_owned(),
        selection: Side {
            traces: selection_facts.len(),
            sampled: selection_sampled,
        },
        baseline: Side {
            traces: baseline_facts.len(),
            sampled: baseline_sampled,
        },
        latency: distribution("duration_ms", &selection_ms, &baseline_ms),
        latency_of: match query.operation {
            Some(_) => "span",
            None => "entry",
        }
        .to_owned(),
        differences: ranked.differences,
        distributions: ranked.distributions,
        high_cardinality: ranked.high_cardinality,
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
        let Ranked {
            differences,
            high_cardinality: high,
            ..
        } = rank(&selection, &baseline);
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
        assert_eq!(rank(&[], &[]).differences, vec![]);
    }

    #[test]
    fn numbers_of_many_values_compare_as_histograms() {
        // Slow requests read thousands of rows; the others tens. Status
        // codes are numbers too, but few: ranked as values.
        let side = |rows: std::ops::Range<u32>, status: &str| -> Vec<Facts> {
            rows.map(|n| trace(&[("db.rows", &n.to_string()), ("http.status_code", status)]))
                .collect()
        };
        let selection = side(2000..2030, "200");
        let baseline = side(10..90, "200");
        let ranked = rank(&selection, &baseline);
        assert_eq!(ranked.distributions.len(), 1, "{ranked:?}");
        let rows = &ranked.distributions[0];
        assert_eq!(rows.key, "db.rows");
        assert_eq!((rows.selection_values, rows.baseline_values), (30, 80));
        // 10 to 2029 spans orders of magnitude: bins by ratio, the two
        // sides in different ones.
        assert!(rows.log);
        assert!((rows.distance - 1.0).abs() < 1e-12, "{rows:?}");
        assert!(ranked.high_cardinality.is_empty());
        assert!(ranked.differences.is_empty(), "{:?}", ranked.differences);
        // The same values on both sides are not apart at all.
        let same = distribution("x", &[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!((same.distance, same.log), (0.0, false));
        assert_eq!(same.bins.iter().map(|b| b.selection).sum::<usize>(), 3);
        assert_eq!(distribution("x", &[], &[]), None);
        // One value alone still makes a histogram.
        let one = distribution("x", &[5.0], &[]).unwrap();
        assert_eq!(one.bins[0].selection, 1);
    }
}
