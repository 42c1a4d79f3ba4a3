//! What the readers return, shaped as the JSON API serves it: ids as
//! lowercase hex, times as integer nanoseconds since the Unix epoch.

use serde::Serialize;

use crate::model::{Event, Exemplar, Link, MetricKind, PointValue, SpanKind, Status};
use crate::value::{Attributes, Value};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub spans: i64,
    pub logs: i64,
    pub metric_points: i64,
    pub traces: i64,
    pub services: i64,
}

/// The oldest time stamped on what is kept of each signal (Unix ns;
/// `None`: nothing kept). For spans, the start of the last span of the
/// oldest pack (retention's measure, seconds from the oldest span).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Oldest {
    pub spans: Option<i64>,
    pub logs: Option<i64>,
    pub metric_points: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScopeView {
    pub name: String,
    pub version: String,
    pub attributes: Attributes,
}

/// What placing a failure in its trace needs of a span, and nothing more:
/// the failures page reads these for a thousand traces at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanNode {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub start_time_unix_nano: i64,
    pub is_error: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpanView {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub service: String,
    pub name: String,
    pub kind: SpanKind,
    pub start_time_unix_nano: i64,
    pub end_time_unix_nano: i64,
    pub duration_ns: i64,
    pub status: Status,
    pub is_error: bool,
    pub attributes: Attributes,
    pub resource: Attributes,
    pub resource_schema_url: String,
    pub scope: ScopeView,
    pub events: Vec<Event>,
    pub links: Vec<Link>,
    pub trace_state: String,
    pub flags: u32,
    pub dropped_attributes_count: u32,
    pub dropped_events_count: u32,
    pub dropped_links_count: u32,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogView {
    pub time_unix_nano: i64,
    pub observed_time_unix_nano: i64,
    pub service: String,
    pub severity_number: i32,
    pub severity_text: String,
    pub body: Value,
    pub event_name: String,
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
    pub flags: u32,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub request_id: Option<String>,
    pub resource: Attributes,
    pub scope: ScopeView,
}

/// A span name a service used, and the kind of those spans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operation {
    pub service: String,
    pub name: String,
    pub kind: crate::model::SpanKind,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceView {
    pub trace_id: String,
    /// Ordered by start time.
    pub spans: Vec<SpanView>,
    /// Log records carrying the trace id, oldest first.
    pub logs: Vec<LogView>,
    /// Spans the trace's summary counts that are no longer stored: older
    /// ones removed by retention, in a trace cut at its boundary.
    pub expired_spans: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricInfo {
    pub name: String,
    pub kind: MetricKind,
    pub unit: String,
    pub description: String,
    /// Distinct (resource, scope, point attributes) combinations.
    pub series_count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricPointView {
    pub name: String,
    pub service: String,
    pub kind: MetricKind,
    pub unit: String,
    pub temporality: i32,
    pub monotonic: bool,
    pub attributes: Attributes,
    pub start_time_unix_nano: i64,
    pub time_unix_nano: i64,
    pub flags: u32,
    #[serde(flatten)]
    pub value: PointValue,
    pub exemplars: Vec<Exemplar>,
}

/// Filters of the log search; `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    pub service: Option<String>,
    /// Words that must all occur in the body.
    pub text: Option<String>,
    pub trace_id: Option<[u8; 16]>,
    pub request_id: Option<String>,
    pub severity_min: Option<i32>,
    /// The record's attributes must pass each of these.
    pub attributes: Vec<AttributeFilter>,
    /// Inclusive lower bound, nanoseconds.
    pub start: Option<i64>,
    /// Exclusive upper bound, nanoseconds.
    pub end: Option<i64>,
    pub limit: u32,
}

/// One row of trace search: the summary kept at ingest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceSummary {
    pub trace_id: String,
    /// `None` until the root span (the one without a parent) has arrived.
    pub root_service: Option<String>,
    pub root_name: Option<String>,
    pub start_time_unix_nano: i64,
    /// How long its entry span took, the latency the caller saw
    /// (docs/adr/0023); a trace without one (stored before it was kept)
    /// has its envelope's.
    pub duration_ns: i64,
    /// From its first span's start to its last span's end, asynchronous
    /// work after the answer included.
    pub trace_duration_ns: i64,
    pub span_count: i64,
    pub error_count: i64,
    /// Every service with a span in the trace, sorted.
    pub services: Vec<String>,
    /// The HTTP status code its entry span answered with, when it says.
    pub http_status_code: Option<i64>,
    /// The first request id seen among its spans.
    pub request_id: Option<String>,
    /// What its failure said where it failed: the exception's message (else
    /// the status message, else the exception type) of the last-started
    /// failed span of the first batch that had one.
    pub error_message: Option<String>,
}

/// Filters of trace search; `None` means "any". Every filter must hold.
#[derive(Debug, Clone, Default)]
pub struct TraceQuery {
    /// A service with at least one span in the trace.
    pub service: Option<String>,
    /// Another service with a span in the trace too: with `service`, the
    /// two ends of a call between services.
    pub also_service: Option<String>,
    /// A span of that name (of `service`, when given) in the trace.
    pub operation: Option<String>,
    /// `Some(true)`: traces with an error span; `Some(false)`: without.
    pub failed: Option<bool>,
    /// Bounds of the entry span's duration (`TraceSummary::duration_ns`).
    pub min_duration_ns: Option<i64>,
    pub max_duration_ns: Option<i64>,
    /// Bounds of the whole envelope (`TraceSummary::trace_duration_ns`).
    pub min_trace_duration_ns: Option<i64>,
    pub max_trace_duration_ns: Option<i64>,
    /// Bounds of the duration of the `operation`'s span: a trace passes
    /// when one span of that name (of `service`) lasted within them. An
    /// endpoint's latency when it is not the trace's entry.
    pub min_span_duration_ns: Option<i64>,
    pub max_span_duration_ns: Option<i64>,
    /// A span of the trace must pass each of these.
    pub attributes: Vec<AttributeFilter>,
    /// Inclusive lower bound of the trace start, nanoseconds.
    pub start: Option<i64>,
    /// Exclusive upper bound of the trace start, nanoseconds.
    pub end: Option<i64>,
    /// Longest first over every match, instead of newest first.
    pub longest_first: bool,
    /// Matches skipped before the first one returned (pages of the longest).
    pub offset: u32,
    pub limit: u32,
}

/// One attribute condition of trace search.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeFilter {
    pub key: String,
    pub comparison: Comparison,
    /// Compared as text for `=` and `!=` (strings as they are, numbers and
    /// booleans as JSON writes them); a number for the orderings.
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// The attribute has this value.
    Equal,
    /// The attribute is present with another value.
    NotEqual,
    /// The attribute is a number, and it compares so to the value.
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

impl AttributeFilter {
    /// `key=value`, `key!=value`, `key>n`, `key>=n`, `key<n`, `key<=n`;
    /// `None` when the text is none of these or an ordering's value is no number.
    pub fn parse(text: &str) -> Option<AttributeFilter> {
        let at = text.find(['=', '!', '<', '>'])?;
        let (key, rest) = text.split_at(at);
        let (comparison, value) = [
            ("!=", Comparison::NotEqual),
            (">=", Comparison::GreaterOrEqual),
            ("<=", Comparison::LessOrEqual),
            ("=", Comparison::Equal),
            (">", Comparison::Greater),
            ("<", Comparison::Less),
        ]
        .into_iter()
        .find_map(|(op, comparison)| rest.strip_prefix(op).map(|value| (comparison, value)))?;
        let (key, value) = (key.trim(), value.trim());
        let ordering = !matches!(comparison, Comparison::Equal | Comparison::NotEqual);
        if key.is_empty() || (ordering && !value.parse::<f64>().is_ok_and(f64::is_finite)) {
            return None;
        }
        Some(AttributeFilter {
            key: key.to_owned(),
            comparison,
            value: value.to_owned(),
        })
    }
}

/// How an id matched in `Reader::request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Match {
    TraceId,
    SpanId,
    RequestId,
}

/// A log record of a request, with how it was found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestLog {
    #[serde(flatten)]
    pub log: LogView,
    /// `trace_id` when the record carries one of the request's trace ids,
    /// `request_id` when only its request id joins it.
    pub matched_by: Match,
}

/// Everything that belongs to one id: the traces it names and their logs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestView {
    pub id: String,
    /// How the id itself matched (a request id may also be hex).
    pub matched_as: Vec<Match>,
    pub trace_ids: Vec<String>,
    /// Spans of all those traces, by start time.
    pub spans: Vec<SpanView>,
    /// Log records of those traces or with the request id, oldest first.
    pub logs: Vec<RequestLog>,
    /// Spans of those traces that retention removed (see `TraceView`).
    pub expired_spans: u64,
}

/// Requests, errors and duration of one service over a window, counted
/// from the spans that stand for requests and started in the window: server
/// and consumer spans, and roots (a trace's entry, whatever its kind).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceRed {
    pub service: String,
    pub requests: u64,
    pub errors: u64,
    /// Requests per second over the whole window.
    pub rate_per_second: f64,
    /// `errors / requests`, 0 when there were no requests.
    pub error_rate: f64,
    /// Nearest-rank percentiles of the request durations, nanoseconds;
    /// `None` without requests.
    pub p50_ns: Option<i64>,
    pub p95_ns: Option<i64>,
    pub p99_ns: Option<i64>,
    /// Requests in each equal slice of the window, oldest first.
    pub trend: Vec<u64>,
    /// Failed requests in the same slices.
    pub error_trend: Vec<u64>,
    /// The p95 of each slice's requests; a rolled-up minute counts in the
    /// slice its middle falls in.
    pub p95_trend: Vec<Option<i64>>,
}

/// The services overview being added up from its requests (server and
/// consumer spans and trace roots), one at a time or a rolled-up minute
/// at a time, whichever way they are read. Percentiles come from a
/// sketch: within `sketch::RELATIVE_ERROR` of the exact ones.
pub struct ServicesTally {
    start: i64,
    end: i64,
    width: f64,
    buckets: usize,
    by_service: std::collections::BTreeMap<String, Tally>,
}

struct Tally {
    durations: crate::sketch::Sketch,
    errors: u64,
    /// Requests read one by one, per slice.
    trend: Vec<u64>,
    /// Requests of rolled-up minutes, shared out per slice.
    shares: Vec<f64>,
    /// Failed requests per slice, rolled-up minutes' shared out as theirs.
    error_shares: Vec<f64>,
    slice_durations: Vec<crate::sketch::Sketch>,
}

impl Tally {
    /// The trend: the requests counted one by one, and the shares rounded
    /// so that they add up to the rolled-up requests (largest remainders
    /// first).
    fn trend(&mut self) -> Vec<u64> {
        let shared = crate::rollup::whole_counts(&self.shares);
        let mut trend = std::mem::take(&mut self.trend);
        for (n, share) in trend.iter_mut().zip(shared) {
            *n += share;
        }
        trend
    }
}

impl ServicesTally {
    /// Every service in `names` is listed, requests or not.
    pub fn new(names: Vec<String>, start: i64, end: i64, buckets: usize) -> ServicesTally {
        let buckets = buckets.max(1);
        let mut tally = ServicesTally {
            start,
            end,
            width: (end - start).max(1) as f64 / buckets as f64,
            buckets,
            by_service: std::collections::BTreeMap::new(),
        };
        for name in names {
            tally.of(&name);
        }
        tally
    }

    fn of(&mut self, service: &str) -> &mut Tally {
        if !self.by_service.contains_key(service) {
            let tally = Tally {
                durations: crate::sketch::Sketch::default(),
                errors: 0,
                trend: vec![0; self.buckets],
                shares: vec![0.0; self.buckets],
                error_shares: vec![0.0; self.buckets],
                slice_durations: vec![crate::sketch::Sketch::default(); self.buckets],
            };
            self.by_service.insert(service.to_owned(), tally);
        }
        self.by_service.get_mut(service).expect("just inserted")
    }

    /// The trend's slice a time falls in (times past the end in the last).
    fn slice(&self, at: i64) -> f64 {
        ((at - self.start) as f64 / self.width).clamp(0.0, self.buckets as f64)
    }

    pub fn add(&mut self, service: &str, duration: i64, is_error: bool, started: i64) {
        let bucket = (self.slice(started) as usize).min(self.buckets - 1);
        let tally = self.of(service);
        tally.durations.add(duration);
        tally.errors += u64::from(is_error);
        tally.trend[bucket] += 1;
        tally.error_shares[bucket] += f64::from(u8::from(is_error));
        tally.slice_durations[bucket].add(duration);
    }

    /// Adds rolled-up minutes (one, or an hour) of a service's requests.
    /// Their requests are shared out over the trend's slices they overlap, in
    /// proportion, so that a trend finer than a minute stays level; the
    /// shares are rounded once, at the end, so that rows of one minute
    /// give the same trend merged or not.
    pub fn add_minutes(
        &mut self,
        service: &str,
        minutes: std::ops::Range<i64>,
        figures: &crate::rollup::Figures,
    ) {
        let from = self.slice(minutes.start.saturating_mul(crate::rollup::MINUTE_NS));
        let to = self.slice(minutes.end.saturating_mul(crate::rollup::MINUTE_NS));
        let requests = figures.requests.max(0) as f64;
        let errors = figures.errors.max(0) as f64;
        let buckets = self.buckets;
        let tally = self.of(service);
        tally.durations.merge(&figures.sketch);
        tally.errors += u64::try_from(figures.errors).unwrap_or(0);
        let middle = (((from + to) / 2.0) as usize).min(buckets - 1);
        tally.slice_durations[middle].merge(&figures.sketch);
        if to <= from {
            // Wholly before or after the window: its edge slice.
            tally.shares[(from as usize).min(buckets - 1)] += requests;
            tally.error_shares[(from as usize).min(buckets - 1)] += errors;
            return;
        }
        let first = (from as usize).min(buckets - 1);
        let last = (to.ceil() as usize).clamp(first + 1, buckets);
        for bucket in first..last {
            let overlap = (to.min((bucket + 1) as f64) - from.max(bucket as f64)).max(0.0);
            tally.shares[bucket] += requests * overlap / (to - from);
            tally.error_shares[bucket] += errors * overlap / (to - from);
        }
    }

    pub fn finish(self) -> Vec<ServiceRed> {
        let window_seconds = (self.end - self.start).max(1) as f64 / 1e9;
        self.by_service
            .into_iter()
            .map(|(service, mut tally)| {
                let requests = tally.durations.count();
                let (errors, p50_ns, p95_ns, p99_ns) = (
                    tally.errors,
                    tally.durations.percentile(0.50),
                    tally.durations.percentile(0.95),
                    tally.durations.percentile(0.99),
                );
                ServiceRed {
                    service,
                    requests,
                    errors,
                    rate_per_second: requests as f64 / window_seconds,
                    error_rate: if requests == 0 {
                        0.0
                    } else {
                        errors as f64 / requests as f64
                    },
                    p50_ns,
                    p95_ns,
                    p99_ns,
                    trend: tally.trend(),
                    error_trend: crate::rollup::whole_counts(&tally.error_shares),
                    p95_trend: tally
                        .slice_durations
                        .iter()
                        .map(|sketch| sketch.percentile(0.95))
                        .collect(),
                }
            })
            .collect()
    }
}

pub use crate::sketch::percentile;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_filters_parse() {
        let check = |text: &str, expected: Option<(&str, Comparison, &str)>| {
            let got = AttributeFilter::parse(text);
            let got = got
                .as_ref()
                .map(|f| (f.key.as_str(), f.comparison, f.value.as_str()));
            assert_eq!(got, expected, "{text:?}");
        };
        use Comparison::*;
        check("http.route=/cart", Some(("http.route", Equal, "/cart")));
        check("a=b=c", Some(("a", Equal, "b=c")));
        check("status != 200", Some(("status", NotEqual, "200")));
        check("retries>2", Some(("retries", Greater, "2")));
        check("ms>=1.5", Some(("ms", GreaterOrEqual, "1.5")));
        check("ms<10", Some(("ms", Less, "10")));
        check("ms<=-3", Some(("ms", LessOrEqual, "-3")));
        check("k=", Some(("k", Equal, "")));
        check("ms>fast", None);
        check("ms>NaN", None);
        check("=x", None);
        check("novalue", None);
        check("a!b", None);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let check = |values: &[i64], q: f64, expected: Option<i64>| {
            assert_eq!(percentile(values, q), expected, "{values:?} at {q}");
        };
        check(&[], 0.5, None);
        check(&[7], 0.5, Some(7));
        check(&[7], 0.99, Some(7));
        check(&[1, 2], 0.5, Some(1));
        check(&[1, 2, 3, 4], 0.5, Some(2));
        check(&[1, 2, 3, 4], 0.75, Some(3));
        check(&[1, 2, 3, 4], 0.76, Some(4));
        let hundred: Vec<i64> = (1..=100).collect();
        check(&hundred, 0.5, Some(50));
        check(&hundred, 0.95, Some(95));
        check(&hundred, 0.99, Some(99));
        check(&hundred, 1.0, Some(100));
        check(&hundred, 0.0, Some(1));
    }

    #[test]
    fn red_figures() {
        let mut tally = ServicesTally::new(vec!["idle".into()], 0, 2_000_000_000, 4);
        for (duration, error, at) in [
            (30, false, 0),
            (10, true, 600_000_000),
            (20, false, 1_999_999_999),
            (40, false, 5),
        ] {
            tally.add("api", duration, error, at);
        }
        let red = tally.finish();
        let (api, idle) = (&red[0], &red[1]);
        assert_eq!(
            (
                api.requests,
                api.errors,
                api.rate_per_second,
                api.error_rate
            ),
            (4, 1, 2.0, 0.25)
        );
        assert_eq!(
            (api.p50_ns, api.p95_ns, api.p99_ns),
            (Some(20), Some(40), Some(40))
        );
        assert_eq!(api.trend, vec![2, 1, 0, 1]);
        assert_eq!(
            (idle.requests, idle.error_rate, idle.p50_ns),
            (0, 0.0, None)
        );
    }

    #[test]
    fn a_rolled_up_minute_is_shared_out_over_the_slices_it_overlaps() {
        let m = crate::rollup::MINUTE_NS;
        let figures = |requests| crate::rollup::Figures {
            requests,
            ..Default::default()
        };
        // (window, slices, minutes, requests) → trend
        type Case = ((i64, i64), usize, (i64, i64), i64, Vec<u64>);
        let cases: [Case; 7] = [
            ((0, 4 * m), 4, (1, 2), 10, vec![0, 10, 0, 0]),
            ((0, m), 4, (0, 1), 10, vec![3, 3, 2, 2]),
            ((0, m), 3, (0, 1), 7, vec![3, 2, 2]),
            ((m / 2, 5 * m / 2), 2, (1, 2), 6, vec![3, 3]),
            ((0, 10 * m), 2, (4, 5), 9, vec![9, 0]),
            // An hour's row, over the slices of a day.
            ((0, 240 * m), 4, (60, 120), 8, vec![0, 8, 0, 0]),
            ((0, 240 * m), 8, (60, 120), 8, vec![0, 0, 4, 4, 0, 0, 0, 0]),
        ];
        for ((start, end), slices, (from, to), requests, trend) in cases {
            let mut tally = ServicesTally::new(vec![], start, end, slices);
            tally.add_minutes("s", from..to, &figures(requests));
            let red = tally.finish();
            assert_eq!(
                red[0].trend, trend,
                "minutes {from}..{to} of {start}..{end}"
            );
            assert_eq!(red[0].trend.iter().sum::<u64>(), requests as u64);
        }
    }
}
