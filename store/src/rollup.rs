//! Rollups (docs/adr/0019): per minute, service and endpoint, the count,
//! errors, total time and a latency sketch of the requests that started
//! in it, made from each batch as it is prepared and written in the
//! batch's transaction. Pages that look across a window add up whole
//! minutes from rollups and read spans only at the window's edges, so
//! their cost follows the window's minutes, not the spans in them.
//!
//! A writer appends its batch's rows; rows of one key are merged later
//! (`Sweeper::merge_rollups`). Readers add up whatever rows there are,
//! merged or not, so the answer is the same either way.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::model::Batch;
use crate::sketch::Sketch;

pub const MINUTE_NS: i64 = 60_000_000_000;

/// What the pages count as a request: a span that serves one (server,
/// consumer) or starts a trace. `kind` is OTLP's number.
pub fn is_request(kind: i32, has_parent: bool) -> bool {
    kind == 2 || kind == 5 || !has_parent
}

/// The minute (since the Unix epoch) a time falls in.
pub fn minute_of(ns: i64) -> i64 {
    ns.div_euclid(MINUTE_NS)
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub minute: i64,
    pub service: String,
    /// The request span's name: its endpoint.
    pub name: String,
    /// The resource's `service.version`, empty when it has none.
    pub version: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub requests: i64,
    pub errors: i64,
    /// The sum of the requests' durations.
    pub duration_ns: i64,
    pub sketch: Sketch,
}

impl Figures {
    pub fn add(&mut self, duration_ns: i64, is_error: bool) {
        self.requests += 1;
        self.errors += i64::from(is_error);
        self.duration_ns = self.duration_ns.saturating_add(duration_ns);
        self.sketch.add(duration_ns);
    }

    pub fn merge(&mut self, other: &Figures) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.duration_ns = self.duration_ns.saturating_add(other.duration_ns);
        self.sketch.merge(&other.sketch);
    }
}

impl Figures {
    /// A stored row's figures; a damaged sketch is an error.
    pub fn of_row(requests: i64, errors: i64, duration_ns: i64, sketch: &[u8]) -> Result<Figures> {
        Ok(Figures {
            requests,
            errors,
            duration_ns,
            sketch: Sketch::decode(sketch)?,
        })
    }
}

pub type Rows = Vec<(Key, Figures)>;

/// Shares of counts (a rolled-up minute's requests spread over the
/// slices of a chart) as whole counts that add up to their rounded sum:
/// each rounded down, then the largest remainders (the first of equal
/// ones) rounded up.
pub fn whole_counts(shares: &[f64]) -> Vec<u64> {
    let mut counts: Vec<u64> = shares.iter().map(|s| s.max(0.0).floor() as u64).collect();
    let total = shares.iter().sum::<f64>().round().max(0.0) as u64;
    let short = total.saturating_sub(counts.iter().sum());
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| {
        shares[b]
            .fract()
            .total_cmp(&shares[a].fract())
            .then(a.cmp(&b))
    });
    for &i in order.iter().take(short as usize) {
        counts[i] += 1;
    }
    counts
}

/// Where rollup rows are written: the minutes' table, as a batch appends
/// them (not merged) or as the sweeper merges them, or the hours' table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Destination {
    Appended,
    Merged,
    Hourly,
}

/// A rollup row as both tables' reads fetch it: minute, service, name,
/// version, requests, errors, duration_ns, sketch.
pub(crate) type Row = (i64, String, String, String, i64, i64, i64, Vec<u8>);

/// The columns a `Row` is read from, in its order.
pub(crate) const ROW_COLUMNS: &str =
    "minute, service, name, version, requests, errors, duration_ns, sketch";

/// A fetched row as its key and figures; a damaged sketch is an error.
pub(crate) fn of_row(row: Row) -> Result<(Key, Figures)> {
    let (minute, service, name, version, requests, errors, duration_ns, sketch) = row;
    let figures = Figures::of_row(requests, errors, duration_ns, &sketch)?;
    Ok((
        Key {
            minute,
            service,
            name,
            version,
        },
        figures,
    ))
}

/// Minutes an hourly rollup row spans; its `minute` is the hour's first.
pub const HOUR_MINUTES: i64 = 60;

/// The first minute of the hour `minute` is in.
pub fn hour_of(minute: i64) -> i64 {
    minute.div_euclid(HOUR_MINUTES) * HOUR_MINUTES
}

/// The whole hours among `minutes`, as minutes (empty when there is none).
pub fn whole_hours(minutes: std::ops::Range<i64>) -> std::ops::Range<i64> {
    let start = hour_of(minutes.start.saturating_add(HOUR_MINUTES - 1));
    let end = hour_of(minutes.end).max(start);
    start..end
}

/// Rows of one hour's minutes as the hour's: one per service and endpoint.
pub fn hourly(hour: i64, rows: impl IntoIterator<Item = (Key, Figures)>) -> Rows {
    merged(rows.into_iter().map(|(key, figures)| {
        (
            Key {
                minute: hour,
                ..key
            },
            figures,
        )
    }))
}

/// How a window `[start, end)` is read: the whole minutes in `minutes`
/// from rollups, the times in `spans` from the spans themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cover {
    pub minutes: std::ops::Range<i64>,
    pub spans: Vec<(i64, i64)>,
}

/// Splits a window into the whole minutes rollups hold (those from
/// `from`, the first minute with rollups; `None`: every minute) and the
/// partial minutes at its edges.
pub fn cover(start: i64, end: i64, from: Option<i64>) -> Cover {
    let first = start.div_euclid(MINUTE_NS) + i64::from(start.rem_euclid(MINUTE_NS) != 0);
    let first = first.max(from.unwrap_or(i64::MIN));
    let last = end.div_euclid(MINUTE_NS);
    let (Some(lo), Some(hi)) = (first.checked_mul(MINUTE_NS), last.checked_mul(MINUTE_NS)) else {
        return Cover {
            minutes: 0..0,
            spans: vec![(start, end)],
        };
    };
    if first >= last {
        return Cover {
            minutes: 0..0,
            spans: vec![(start, end)],
        };
    }
    let mut spans = Vec::new();
    if start < lo {
        spans.push((start, lo));
    }
    if hi < end {
        spans.push((hi, end));
    }
    Cover {
        minutes: first..last,
        spans,
    }
}

/// The rollup rows of a batch's requests, one per key, by key.
pub fn of_batch(batch: &Batch) -> Rows {
    let mut by_key: BTreeMap<(i64, &str, &str, &str), Figures> = BTreeMap::new();
    for span in &batch.spans {
        if !is_request(span.kind.as_i32(), span.parent_span_id.is_some()) {
            continue;
        }
        let resource = batch.resources.get(span.resource_idx);
        let service = resource.map_or("", |r| r.service.as_str());
        let version = resource.map_or("", |r| version_of(&r.attributes));
        let key = (
            minute_of(span.start_time_unix_nano),
            service,
            span.name.as_str(),
            version,
        );
        by_key.entry(key).or_default().add(
            span.end_time_unix_nano - span.start_time_unix_nano,
            span.derived.is_error,
        );
    }
    by_key
        .into_iter()
        .map(|((minute, service, name, version), figures)| {
            let key = Key {
                minute,
                service: service.to_owned(),
                name: name.to_owned(),
                version: version.to_owned(),
            };
            (key, figures)
        })
        .collect()
}

/// The operations of a batch's spans: (the first minute of the hour it
/// started in, service, span name, kind as OTLP numbers it), each once, in
/// order (so that writers touch rows in one order).
pub fn operations(batch: &Batch) -> std::collections::BTreeSet<(i64, &str, &str, i32)> {
    batch
        .spans
        .iter()
        .map(|span| {
            let service = batch
                .resources
                .get(span.resource_idx)
                .map_or("", |r| r.service.as_str());
            (
                hour_of(minute_of(span.start_time_unix_nano)),
                service,
                span.name.as_str(),
                span.kind.as_i32(),
            )
        })
        .collect()
}

/// One endpoint of one release of a service over some minutes.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub version: String,
    pub endpoint: String,
    /// The first minute its rollups cover, and the one after the last.
    pub first_minute: i64,
    pub end_minute: i64,
    pub figures: Figures,
}

impl Release {
    pub fn add(&mut self, minutes: std::ops::Range<i64>, figures: &Figures) {
        self.first_minute = self.first_minute.min(minutes.start);
        self.end_minute = self.end_minute.max(minutes.end);
        self.figures.merge(figures);
    }
}

/// A resource's `service.version` (a string, as the semantic conventions
/// have it), else empty.
pub fn version_of(attributes: &crate::value::Attributes) -> &str {
    attributes
        .0
        .iter()
        .find(|(key, _)| key == "service.version")
        .and_then(|(_, value)| match value {
            crate::value::Value::String(s) => Some(s.as_str()),
            _ => None,
        })
        .unwrap_or("")
}

/// Rows of one key made one, by key.
pub fn merged(rows: impl IntoIterator<Item = (Key, Figures)>) -> Rows {
    let mut by_key: BTreeMap<Key, Figures> = BTreeMap::new();
    for (key, figures) in rows {
        match by_key.get_mut(&key) {
            Some(sum) => sum.merge(&figures),
            None => {
                by_key.insert(key, figures);
            }
        }
    }
    by_key.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Resource, SpanKind};
    use crate::testing::span;
    use crate::value::Attributes;

    fn resource(service: &str) -> Resource {
        Resource {
            service: service.into(),
            attributes: Attributes::default(),
            dropped_attributes_count: 0,
            schema_url: String::new(),
        }
    }

    #[test]
    fn shares_become_whole_counts_that_add_up() {
        for (shares, want) in [
            (vec![], vec![]),
            (vec![3.0, 0.0, 2.0], vec![3, 0, 2]),
            (
                vec![0.43, 0.43, 0.43, 0.43, 0.43, 0.43, 0.42],
                vec![1, 1, 1, 0, 0, 0, 0],
            ),
            (vec![1.5, 1.5], vec![2, 1]),
            (vec![0.2, 0.7, 0.1], vec![0, 1, 0]),
        ] {
            assert_eq!(whole_counts(&shares), want, "{shares:?}");
        }
    }

    #[test]
    fn whole_hours_of_minutes() {
        for ((start, end), want) in [
            ((0, 60), (0, 60)),
            ((1, 60), (60, 60)),
            ((1, 121), (60, 120)),
            ((59, 180), (60, 180)),
            ((-61, 0), (-60, 0)),
            ((10, 20), (60, 60)),
        ] {
            let got = whole_hours(start..end);
            assert_eq!((got.start, got.end), want, "{start}..{end}");
            assert!(got.is_empty() || (got.start >= start && got.end <= end));
        }
    }

    #[test]
    fn a_window_is_whole_minutes_from_rollups_and_its_edges_from_spans() {
        let m = MINUTE_NS;
        let cover = |start, end, from| {
            let c = super::cover(start, end, from);
            (c.minutes, c.spans)
        };
        // (start, end, first minute with rollups) → (minutes, span ranges)
        assert_eq!(cover(0, 3 * m, None), (0..3, vec![]));
        assert_eq!(
            cover(10, 3 * m + 5, None),
            (1..3, vec![(10, m), (3 * m, 3 * m + 5)])
        );
        assert_eq!(
            cover(10, m + 5, None),
            (0..0, vec![(10, m + 5)]),
            "no whole minute"
        );
        assert_eq!(cover(10, 2 * m - 1, None), (0..0, vec![(10, 2 * m - 1)]));
        assert_eq!(
            cover(0, 5 * m, Some(2)),
            (2..5, vec![(0, 2 * m)]),
            "before rollups"
        );
        assert_eq!(cover(0, 5 * m, Some(9)), (0..0, vec![(0, 5 * m)]));
        assert_eq!(
            cover(-m - 1, 0, None),
            (-1..0, vec![(-m - 1, -m)]),
            "before 1970"
        );
        let (minutes, spans) = cover(i64::MIN, i64::MAX, None);
        assert_eq!(
            minutes.start * m - i64::MIN,
            spans[0].1 - spans[0].0,
            "whole range"
        );
        assert_eq!(spans[1].1, i64::MAX);
    }

    #[test]
    fn requests_are_rolled_up_by_minute_service_and_name() {
        let m = MINUTE_NS;
        let mut batch = Batch {
            resources: vec![resource("a"), resource("b")],
            ..Batch::default()
        };
        // (resource, name, kind, has parent, start, duration, error)
        let spans = [
            (0, "GET /", SpanKind::Internal, false, 10, 5, false), // a root
            (0, "GET /", SpanKind::Server, true, 20, 7, true),
            (0, "GET /", SpanKind::Server, true, m + 1, 3, false), // next minute
            (0, "query", SpanKind::Client, true, 30, 1, false),    // not a request
            (1, "consume", SpanKind::Consumer, true, 40, 2, false),
            (1, "GET /", SpanKind::Server, true, -1, 4, false), // the minute before 0
        ];
        for (i, (resource, name, kind, parent, start, duration, error)) in
            spans.into_iter().enumerate()
        {
            let mut s = span(
                i as u8,
                i as u8 + 1,
                parent.then_some(99),
                start,
                start + duration,
                error,
            );
            s.resource_idx = resource;
            s.name = name.into();
            s.kind = kind;
            batch.spans.push(s);
        }
        let rows: Vec<(i64, String, String, i64, i64, i64)> = of_batch(&batch)
            .into_iter()
            .map(|(k, f)| {
                (
                    k.minute,
                    k.service,
                    k.name,
                    f.requests,
                    f.errors,
                    f.duration_ns,
                )
            })
            .collect();
        let row = |minute, service: &str, name: &str, n, e, d| {
            (minute, service.to_owned(), name.to_owned(), n, e, d)
        };
        assert_eq!(
            rows,
            vec![
                row(-1, "b", "GET /", 1, 0, 4),
                row(0, "a", "GET /", 2, 1, 12),
                row(0, "b", "consume", 1, 0, 2),
                row(1, "a", "GET /", 1, 0, 3),
            ]
        );

        let twice = merged(of_batch(&batch).into_iter().chain(of_batch(&batch)));
        assert_eq!(twice.len(), 4);
        let (key, figures) = &twice[1];
        assert_eq!((key.minute, figures.requests, figures.errors), (0, 4, 2));
        assert_eq!(figures.sketch.count(), 4);
        assert_eq!(figures.sketch.percentile(1.0), Some(7));
    }
}
