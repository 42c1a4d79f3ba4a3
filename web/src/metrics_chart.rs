//! One metric over time, as the metrics explorer draws it. Pure.
//!
//! - Gauges and non-monotonic sums: the mean of the points in each slice.
//! - Monotonic sums: a rate per second: the increase in each slice (for
//!   cumulative series, between consecutive points, a drop being a restart;
//!   for delta series, the points' values), over the slice's length.
//! - Histograms (explicit and exponential): the bucket counts of each slice
//!   (increases for cumulative series) merged per group, then p50/p95/p99 by
//!   linear interpolation inside the bucket (as Prometheus'
//!   `histogram_quantile`), and the counts of the first group as a heatmap.
//! - Summaries: the mean of each quantile the points carry.
//!
//! A series is a (service, point attributes) pair; `group_by` names a point
//! attribute (or `service`) whose values become the lines.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use store::MetricPointView;
use store::model::{MetricKind, PointValue};
use store::value::Value;

/// Slices of the window a chart is drawn in.
pub const SLICES: usize = 60;
/// Points read for one chart at most (the oldest first).
pub const MAX_POINTS: u32 = 200_000;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    pub kind: String,
    pub unit: String,
    /// What the values of `lines` are (`value`, `rate per second`, `p95`, …).
    pub measure: String,
    pub start_ns: i64,
    pub bucket_ns: i64,
    pub lines: Vec<Line>,
    pub heatmap: Option<Heatmap>,
    pub exemplars: Vec<ExemplarPoint>,
    /// Attribute keys the points carry, for grouping.
    pub keys: Vec<String>,
    pub points: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub label: String,
    /// One value per slice; `None` where the slice had no data.
    pub values: Vec<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Heatmap {
    /// Upper bounds of the histogram buckets (the last is +inf).
    pub bounds: Vec<f64>,
    /// counts[slice][bucket]
    pub counts: Vec<Vec<u64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExemplarPoint {
    pub time_ns: i64,
    pub value: f64,
    pub trace_id: String,
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Int(i) => Some(*i as f64),
        Value::Double(d) if d.is_finite() => Some(*d),
        _ => None,
    }
}

/// (upper bound, count) of each bucket, lowest first.
fn buckets(value: &PointValue) -> Option<Vec<(f64, u64)>> {
    match value {
        PointValue::Histogram(h) => Some(
            h.bucket_counts
                .iter()
                .enumerate()
                .map(|(i, &c)| {
                    (
                        h.explicit_bounds.get(i).copied().unwrap_or(f64::INFINITY),
                        c,
                    )
                })
                .collect(),
        ),
        PointValue::ExponentialHistogram(h) => {
            // Bucket i of the positive range holds (base^i, base^(i+1)].
            let base = 2f64.powf(2f64.powi(-h.scale));
            let mut out = vec![(h.zero_threshold, h.zero_count)];
            for (i, &c) in h.positive.bucket_counts.iter().enumerate() {
                out.push((base.powi(h.positive.offset + i as i32 + 1), c));
            }
            Some(out)
        }
        _ => None,
    }
}

/// Linear interpolation inside the bucket where the rank falls.
pub fn quantile(buckets: &[(f64, u64)], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().map(|b| b.1).sum();
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut seen = 0u64;
    let mut lower = 0.0f64;
    for &(upper, count) in buckets {
        if count > 0 && (seen + count) as f64 >= rank {
            if upper.is_infinite() {
                return Some(lower);
            }
            let inside = (rank - seen as f64) / count as f64;
            return Some(lower + (upper - lower) * inside);
        }
        seen += count;
        if upper.is_finite() {
            lower = upper;
        }
    }
    Some(lower)
}

fn group_of(point: &MetricPointView, group_by: Option<&str>) -> String {
    match group_by {
        None => "all".to_owned(),
        Some("service") => point.service.clone(),
        Some(key) => point
            .attributes
            .get(key)
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_json_string(),
            })
            .unwrap_or_else(|| "(none)".to_owned()),
    }
}

pub fn chart(
    points: &[MetricPointView],
    group_by: Option<&str>,
    start: i64,
    end: i64,
    slices: usize,
) -> Chart {
    let slices = slices.max(1);
    // A series' first cumulative point counts whole when its series started
    // inside the window: all of it happened there.
    let counts_from_zero =
        |p: &MetricPointView| p.start_time_unix_nano > 0 && p.start_time_unix_nano >= start;
    let width = ((end - start) / slices as i64).max(1);
    let slice = |t: i64| (((t - start).max(0) / width) as usize).min(slices - 1);
    let first = points.first();
    let kind = first.map(|p| p.kind);
    let monotonic_sum = kind == Some(MetricKind::Sum) && first.is_some_and(|p| p.monotonic);
    let cumulative = first.is_some_and(|p| p.temporality == 2);
    let mut keys: Vec<String> = points
        .iter()
        .flat_map(|p| p.attributes.0.iter().map(|(k, _)| k.clone()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    keys.insert(0, "service".to_owned());

    // The previous point of each series, for increases of cumulative data.
    let series_key =
        |p: &MetricPointView| format!("{}\u{0}{}", p.service, p.attributes.to_json_string());
    let mut previous: HashMap<String, &MetricPointView> = HashMap::new();

    // group → slice → accumulated (sum, count) for means and rates
    let mut sums: BTreeMap<String, Vec<(f64, u32)>> = BTreeMap::new();
    // group → slice → merged buckets
    let mut merged: BTreeMap<String, Vec<Vec<(f64, u64)>>> = BTreeMap::new();
    // group → quantile → slice → (sum, count)
    let mut summaries: BTreeMap<(String, String), Vec<(f64, u32)>> = BTreeMap::new();
    let mut exemplars = Vec::new();

    for p in points {
        let group = group_of(p, group_by);
        let s = slice(p.time_unix_nano);
        for e in &p.exemplars {
            if let (Some(value), false) = (number(&e.value), e.trace_id.is_empty()) {
                exemplars.push(ExemplarPoint {
                    time_ns: e.time_unix_nano,
                    value,
                    trace_id: hex::encode(&e.trace_id),
                });
            }
        }
        let key = series_key(p);
        let before = previous.insert(key, p);
        match &p.value {
            PointValue::Value(v) => {
                let Some(v) = number(v) else { continue };
                // A monotonic sum counts its increase in the slice it ends in.
                let value = if !monotonic_sum || !cumulative {
                    v
                } else {
                    let prev = before.and_then(|b| match &b.value {
                        PointValue::Value(pv) => number(pv),
                        _ => None,
                    });
                    match prev {
                        Some(prev) if v >= prev => v - prev,
                        Some(_) => v,
                        None if counts_from_zero(p) => v,
                        None => continue,
                    }
                };
                let cell = &mut sums.entry(group).or_insert_with(|| vec![(0.0, 0); slices])[s];
                cell.0 += value;
                cell.1 += 1;
            }
            PointValue::Summary(summary) => {
                for q in &summary.quantile_values {
                    let label = format!("{group} q{}", q.quantile);
                    let cell = &mut summaries
                        .entry((group.clone(), label))
                        .or_insert_with(|| vec![(0.0, 0); slices])[s];
                    cell.0 += q.value;
                    cell.1 += 1;
                }
            }
            value => {
                let Some(mut counts) = buckets(value) else {
                    continue;
                };
                if cumulative {
                    match before.and_then(|b| buckets(&b.value)) {
                        Some(prev) => {
                            let grew = prev.len() == counts.len()
                                && prev.iter().zip(&counts).all(|(a, b)| b.1 >= a.1);
                            if grew {
                                for (c, p) in counts.iter_mut().zip(&prev) {
                                    c.1 -= p.1;
                                }
                            }
                        }
                        None if counts_from_zero(p) => {}
                        None => continue,
                    }
                }
                let cells = merged
                    .entry(group)
                    .or_insert_with(|| vec![Vec::new(); slices]);
                let cell = &mut cells[s];
                if cell.is_empty() {
                    *cell = counts;
                } else if cell.len() == counts.len() {
                    for (c, n) in cell.iter_mut().zip(counts) {
                        c.1 += n.1;
                    }
                }
            }
        }
    }

    let slice_seconds = width as f64 / 1e9;
    let mean = |cells: &[(f64, u32)], rate: bool| {
        cells
            .iter()
            .map(|&(sum, n)| {
                (n > 0).then(|| {
                    if rate {
                        sum / slice_seconds
                    } else {
                        sum / f64::from(n)
                    }
                })
            })
            .collect::<Vec<_>>()
    };
    let mut lines = Vec::new();
    let mut heatmap = None;
    let measure;
    if !merged.is_empty() {
        measure = "p50 · p95 · p99".to_owned();
        for (group, cells) in &merged {
            for (q, name) in [(0.5, "p50"), (0.95, "p95"), (0.99, "p99")] {
                lines.push(Line {
                    label: if group_by.is_some() {
                        format!("{group} {name}")
                    } else {
                        name.to_owned()
                    },
                    values: cells.iter().map(|c| quantile(c, q)).collect(),
                });
            }
        }
        if let Some(cells) = merged.values().next() {
            let bounds: Vec<f64> = cells
                .iter()
                .find(|c| !c.is_empty())
                .map(|c| c.iter().map(|b| b.0).collect())
                .unwrap_or_default();
            heatmap = Some(Heatmap {
                counts: cells
                    .iter()
                    .map(|c| {
                        if c.len() == bounds.len() {
                            c.iter().map(|b| b.1).collect()
                        } else {
                            vec![0; bounds.len()]
                        }
                    })
                    .collect(),
                bounds,
            });
        }
    } else if !summaries.is_empty() {
        measure = "quantiles".to_owned();
        for ((_, label), cells) in &summaries {
            lines.push(Line {
                label: label.clone(),
                values: mean(cells, false),
            });
        }
    } else {
        measure = if monotonic_sum {
            "rate per second"
        } else {
            "mean value"
        }
        .to_owned();
        for (group, cells) in &sums {
            lines.push(Line {
                label: group.clone(),
                values: mean(cells, monotonic_sum),
            });
        }
    }
    Chart {
        kind: kind.map_or("", MetricKind::as_str).to_owned(),
        unit: first.map(|p| p.unit.clone()).unwrap_or_default(),
        measure,
        start_ns: start,
        bucket_ns: width,
        lines,
        heatmap,
        exemplars,
        keys,
        points: points.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::model::{Exemplar, Histogram};
    use store::value::Attributes;

    const S: i64 = 1_000_000_000;

    fn point(
        kind: MetricKind,
        temporality: i32,
        attrs: &[(&str, &str)],
        start: i64,
        time: i64,
        value: PointValue,
    ) -> MetricPointView {
        MetricPointView {
            name: "m".into(),
            service: "svc".into(),
            kind,
            unit: "ms".into(),
            temporality,
            monotonic: kind == MetricKind::Sum,
            attributes: Attributes(
                attrs
                    .iter()
                    .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                    .collect(),
            ),
            start_time_unix_nano: start,
            time_unix_nano: time,
            flags: 0,
            value,
            exemplars: vec![],
        }
    }

    fn int(n: i64) -> PointValue {
        PointValue::Value(Value::Int(n))
    }

    #[test]
    fn cumulative_counters_become_rates_and_restarts_count_from_zero() {
        // Two slices of 10 s. 100 → 150 (slice 0: +50) → 30 (a restart:
        // slice 1 counts the 30 since).
        let points = [
            point(MetricKind::Sum, 2, &[("k", "a")], 0, S, int(100)),
            point(MetricKind::Sum, 2, &[("k", "a")], 0, 5 * S, int(150)),
            point(MetricKind::Sum, 2, &[("k", "a")], 0, 12 * S, int(30)),
        ];
        let c = chart(&points, None, 0, 20 * S, 2);
        assert_eq!(c.measure, "rate per second");
        assert_eq!(c.lines[0].values, vec![Some(5.0), Some(3.0)]);
        let by = chart(&points, Some("k"), 0, 20 * S, 2);
        assert_eq!(
            by.lines
                .iter()
                .map(|l| l.label.as_str())
                .collect::<Vec<_>>(),
            ["a"]
        );
        assert_eq!(by.keys, ["service", "k"]);
    }

    #[test]
    fn delta_counters_count_each_point_whole() {
        let points = [
            point(MetricKind::Sum, 1, &[], 0, S, int(10)),
            point(MetricKind::Sum, 1, &[], 0, 5 * S, int(10)),
            point(MetricKind::Sum, 1, &[], 0, 12 * S, int(20)),
        ];
        let c = chart(&points, None, 0, 20 * S, 2);
        assert_eq!(c.measure, "rate per second");
        assert_eq!(c.lines[0].values, vec![Some(2.0), Some(2.0)]);
    }

    #[test]
    fn a_series_born_in_the_window_counts_from_zero() {
        let points = [point(MetricKind::Sum, 2, &[], 3 * S, 4 * S, int(40))];
        assert_eq!(
            chart(&points, None, 0, 20 * S, 2).lines[0].values,
            vec![Some(4.0), None]
        );
        // Born before the window: its first point only primes it.
        assert!(chart(&points, None, 3 * S + 1, 20 * S, 2).lines.is_empty());
    }

    #[test]
    fn gauges_are_averaged_per_group() {
        let points = [
            point(MetricKind::Gauge, 0, &[("pool", "x")], 0, S, int(2)),
            point(MetricKind::Gauge, 0, &[("pool", "x")], 0, 2 * S, int(4)),
            point(MetricKind::Gauge, 0, &[("pool", "y")], 0, 15 * S, int(7)),
        ];
        let c = chart(&points, Some("pool"), 0, 20 * S, 2);
        let lines: Vec<(&str, &[Option<f64>])> = c
            .lines
            .iter()
            .map(|l| (l.label.as_str(), &l.values[..]))
            .collect();
        assert_eq!(
            lines,
            [("x", &[Some(3.0), None][..]), ("y", &[None, Some(7.0)][..])]
        );
    }

    #[test]
    fn cumulative_histograms_are_differenced_then_read_as_quantiles() {
        let h = |counts: [u64; 3]| {
            PointValue::Histogram(Histogram {
                count: counts.iter().sum(),
                sum: None,
                min: None,
                max: None,
                bucket_counts: counts.to_vec(),
                explicit_bounds: vec![10.0, 20.0],
            })
        };
        let mut last = point(MetricKind::Histogram, 2, &[], 0, 15 * S, h([10, 20, 0]));
        last.exemplars.push(Exemplar {
            filtered_attributes: Attributes::default(),
            time_unix_nano: 14 * S,
            value: Value::Double(17.5),
            trace_id: vec![0xab; 16],
            span_id: vec![1; 8],
        });
        let points = [
            point(MetricKind::Histogram, 2, &[], 0, S, h([10, 0, 0])),
            last,
        ];
        let c = chart(&points, None, 0, 20 * S, 2);
        // Slice 0 only primes the series; slice 1 holds the increase: 0, 20, 0.
        let p50 = c.lines.iter().find(|l| l.label == "p50").unwrap();
        assert_eq!(p50.values, vec![None, Some(15.0)]);
        let heat = c.heatmap.expect("a heatmap");
        assert_eq!(heat.counts[1], vec![0, 20, 0]);
        assert_eq!(
            c.exemplars,
            vec![ExemplarPoint {
                time_ns: 14 * S,
                value: 17.5,
                trace_id: "ab".repeat(16)
            }]
        );
    }

    #[test]
    fn quantiles_interpolate_inside_the_bucket() {
        // 10 in (0,10], 10 in (10,20], none above.
        let b = [(10.0, 10), (20.0, 10), (f64::INFINITY, 0)];
        assert_eq!(quantile(&b, 0.5), Some(10.0));
        assert_eq!(quantile(&b, 0.25), Some(5.0));
        assert_eq!(quantile(&b, 0.95), Some(19.0));
        // A rank in the +inf bucket reads as the highest finite bound.
        assert_eq!(quantile(&[(10.0, 1), (f64::INFINITY, 9)], 0.99), Some(10.0));
        assert_eq!(quantile(&[(10.0, 0)], 0.5), None);
    }
}
