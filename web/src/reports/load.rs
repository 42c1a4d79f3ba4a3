//! The load report: which endpoints create the load, on which services,
//! where the time of each goes, and which calls between services are slow.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use store::rollup::whole_counts;

use super::analysis::{Analysis, REPEATED_CALLS, SERIES_BUCKETS};
use super::figures::{EndpointAgg, PPM};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    pub since_ns: i64,
    pub until_ns: i64,
    /// Rows are limited to those touching this service, when given.
    pub service: Option<String>,
    pub percentiles: String,
    pub spans: u64,
    pub traces: u64,
    /// Traces whose root span is not in the window: their spans count for
    /// their services, but not as anyone's downstream load.
    pub traces_without_root: u64,
    pub self_ns: i64,
    pub services: Vec<LoadRow>,
    pub endpoints: Vec<LoadRow>,
    pub downstream: Vec<DownstreamRow>,
    pub time_breakdown: Vec<PathRow>,
    pub edges: Vec<EdgeRow>,
    pub repeated_calls: Vec<RepeatedRow>,
}

/// One service (`endpoint` absent) or one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadRow {
    pub service: String,
    pub endpoint: Option<String>,
    pub requests: u64,
    pub rate_per_second: f64,
    pub errors: u64,
    pub error_rate: f64,
    pub p50_ns: Option<i64>,
    pub p95_ns: Option<i64>,
    pub p99_ns: Option<i64>,
    /// Sum of the request durations.
    pub total_ns: i64,
    /// Sum of the self time of every span charged to it.
    pub self_ns: i64,
    /// `self_ns` over the self time of all spans in the window.
    pub self_share: f64,
    pub series: Series,
}

/// Requests, errors and latency percentiles in equal slices of the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub bucket_ns: i64,
    pub requests: Vec<u64>,
    pub errors: Vec<u64>,
    pub p50_ns: Vec<Option<i64>>,
    pub p95_ns: Vec<Option<i64>>,
    pub p99_ns: Vec<Option<i64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownstreamRow {
    pub entry_service: String,
    pub entry_endpoint: String,
    /// Traces rooted at the entry endpoint: its requests.
    pub entry_requests: u64,
    pub service: String,
    pub spans: u64,
    /// Requests (server or consumer spans) the entry caused in `service`.
    pub calls: u64,
    pub self_ns: i64,
    pub errors: u64,
    pub spans_per_request: f64,
    pub calls_per_request: f64,
    pub self_ns_per_request: f64,
}

/// A (service, operation)'s share of an entry endpoint's critical path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathRow {
    pub entry_service: String,
    pub entry_endpoint: String,
    pub traces: u64,
    /// Traces walked: all of them, or the first `PATH_SAMPLE` by trace id.
    pub sampled: u64,
    pub service: String,
    pub operation: String,
    pub share_p50: f64,
    pub share_p95: f64,
    pub share_mean: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeRow {
    pub caller: String,
    pub callee: String,
    /// `sync`, `async` (through a queue) or `database`.
    pub kind: String,
    pub calls: u64,
    pub rate_per_second: f64,
    pub errors: u64,
    pub error_rate: f64,
    pub caller_p50_ns: Option<i64>,
    pub caller_p95_ns: Option<i64>,
    pub callee_p50_ns: Option<i64>,
    pub callee_p95_ns: Option<i64>,
    /// Caller less callee per call (network, queueing, pool wait); for
    /// async edges the wait in the queue.
    pub gap_p50_ns: Option<i64>,
    pub gap_p95_ns: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepeatedRow {
    pub service: String,
    pub operation: String,
    pub child_service: String,
    pub child_operation: String,
    /// Parent spans that called the child `threshold` times or more.
    pub parents: u64,
    pub calls: u64,
    pub max_calls: u64,
    pub threshold: u32,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

impl LoadReport {
    pub fn from_analysis(a: &Analysis, service: Option<&str>) -> LoadReport {
        let name = |id: u32| a.names.name(id).to_owned();
        let touches = |s: &str| service.is_none_or(|f| f == s);
        let seconds = a.window.seconds();
        let bucket_ns = (a.window.end - a.window.start) / SERIES_BUCKETS as i64;
        let self_total: i64 = a.endpoints.values().map(|e| e.self_ns).sum();

        let row = |svc: String, endpoint: Option<String>, agg: &EndpointAgg| {
            let mut series = Series {
                bucket_ns,
                requests: vec![0; SERIES_BUCKETS],
                errors: vec![0; SERIES_BUCKETS],
                p50_ns: vec![None; SERIES_BUCKETS],
                p95_ns: vec![None; SERIES_BUCKETS],
                p99_ns: vec![None; SERIES_BUCKETS],
            };
            let mut requests = vec![0.0; SERIES_BUCKETS];
            let mut errors = vec![0.0; SERIES_BUCKETS];
            for (&b, slice) in agg.series.range(..SERIES_BUCKETS as u16) {
                let b = usize::from(b);
                requests[b] = slice.requests;
                errors[b] = slice.errors;
                series.p50_ns[b] = slice.latency.percentile(0.5);
                series.p95_ns[b] = slice.latency.percentile(0.95);
                series.p99_ns[b] = slice.latency.percentile(0.99);
            }
            series.requests = whole_counts(&requests);
            series.errors = whole_counts(&errors);
            LoadRow {
                service: svc,
                endpoint,
                requests: agg.requests,
                rate_per_second: ratio(agg.requests as f64, seconds),
                errors: agg.errors,
                error_rate: ratio(agg.errors as f64, agg.requests as f64),
                p50_ns: agg.latency.percentile(0.5),
                p95_ns: agg.latency.percentile(0.95),
                p99_ns: agg.latency.percentile(0.99),
                total_ns: agg.total_ns,
                self_ns: agg.self_ns,
                self_share: ratio(agg.self_ns as f64, self_total as f64),
                series,
            }
        };

        let mut by_service: BTreeMap<String, EndpointAgg> = BTreeMap::new();
        let mut endpoints = Vec::new();
        for (&(svc, ep), agg) in &a.endpoints {
            by_service.entry(name(svc)).or_default().absorb(agg);
            if touches(a.names.name(svc)) {
                endpoints.push(row(name(svc), Some(name(ep)), agg));
            }
        }
        let services: Vec<LoadRow> = by_service
            .iter()
            .filter(|(svc, _)| touches(svc))
            .map(|(svc, agg)| row(svc.clone(), None, agg))
            .collect();
        endpoints.sort_by(|x, y| {
            y.self_ns
                .cmp(&x.self_ns)
                .then_with(|| (&x.service, &x.endpoint).cmp(&(&y.service, &y.endpoint)))
        });

        let mut downstream: Vec<DownstreamRow> = a
            .downstream
            .iter()
            .filter(|((es, _, s), _)| touches(a.names.name(*es)) || touches(a.names.name(*s)))
            .map(|(&(es, ee, s), d)| {
                let requests = a.entries.get(&(es, ee)).map_or(0, |e| e.traces);
                DownstreamRow {
                    entry_service: name(es),
                    entry_endpoint: name(ee),
                    entry_requests: requests,
                    service: name(s),
                    spans: d.spans,
                    calls: d.calls,
                    self_ns: d.self_ns,
                    errors: d.errors,
                    spans_per_request: ratio(d.spans as f64, requests as f64),
                    calls_per_request: ratio(d.calls as f64, requests as f64),
                    self_ns_per_request: ratio(d.self_ns as f64, requests as f64),
                }
            })
            .collect();
        downstream.sort_by(|x, y| {
            y.self_ns.cmp(&x.self_ns).then_with(|| {
                (&x.entry_service, &x.entry_endpoint, &x.service).cmp(&(
                    &y.entry_service,
                    &y.entry_endpoint,
                    &y.service,
                ))
            })
        });

        let mut time_breakdown = Vec::new();
        for (&(es, ee), entry) in &a.entries {
            let entry_touches = touches(a.names.name(es));
            for (&(s, op), on_path) in &entry.path {
                if !entry_touches && !touches(a.names.name(s)) {
                    continue;
                }
                // Walked traces where it was off the path hold 0 of it.
                let mut all = on_path.shares.clone();
                all.add_n(0, entry.path_traces.saturating_sub(all.count()));
                let share = |q: f64| all.percentile(q).map_or(0.0, |v| v as f64 / PPM);
                time_breakdown.push(PathRow {
                    entry_service: name(es),
                    entry_endpoint: name(ee),
                    traces: entry.traces,
                    sampled: entry.path_traces,
                    service: name(s),
                    operation: name(op),
                    share_p50: share(0.5),
                    share_p95: share(0.95),
                    share_mean: ratio(on_path.sum, entry.path_traces as f64),
                });
            }
        }
        time_breakdown.sort_by(|x, y| {
            (&x.entry_service, &x.entry_endpoint)
                .cmp(&(&y.entry_service, &y.entry_endpoint))
                .then(y.share_mean.total_cmp(&x.share_mean))
                .then_with(|| (&x.service, &x.operation).cmp(&(&y.service, &y.operation)))
        });

        let mut edges: Vec<EdgeRow> = a
            .edges
            .iter()
            .filter(|((c, e, _), _)| touches(a.names.name(*c)) || touches(a.names.name(*e)))
            .map(|(&(c, e, kind), agg)| {
                let (caller, callee, gap) = (&agg.caller, &agg.callee, &agg.gap);
                EdgeRow {
                    caller: name(c),
                    callee: name(e),
                    kind: kind.as_str().to_owned(),
                    calls: agg.calls,
                    rate_per_second: ratio(agg.calls as f64, seconds),
                    errors: agg.errors,
                    error_rate: ratio(agg.errors as f64, agg.calls as f64),
                    caller_p50_ns: caller.percentile(0.5),
                    caller_p95_ns: caller.percentile(0.95),
                    callee_p50_ns: callee.percentile(0.5),
                    callee_p95_ns: callee.percentile(0.95),
                    gap_p50_ns: gap.percentile(0.5),
                    gap_p95_ns: gap.percentile(0.95),
                }
            })
            .collect();
        edges.sort_by(|x, y| (&x.caller, &x.callee, &x.kind).cmp(&(&y.caller, &y.callee, &y.kind)));

        let mut repeated_calls: Vec<RepeatedRow> = a
            .repeated
            .iter()
            .filter(|((s, _, cs, _), _)| touches(a.names.name(*s)) || touches(a.names.name(*cs)))
            .map(|(&(s, op, cs, cop), r)| RepeatedRow {
                service: name(s),
                operation: name(op),
                child_service: name(cs),
                child_operation: name(cop),
                parents: r.parents,
                calls: r.calls,
                max_calls: r.max_calls,
                threshold: REPEATED_CALLS,
            })
            .collect();
        repeated_calls.sort_by(|x, y| {
            y.calls.cmp(&x.calls).then_with(|| {
                (&x.service, &x.operation, &x.child_operation).cmp(&(
                    &y.service,
                    &y.operation,
                    &y.child_operation,
                ))
            })
        });

        LoadReport {
            since_ns: a.window.start,
            until_ns: a.window.end,
            service: service.map(str::to_owned),
            percentiles: "nearest-rank, within 1 %".into(),
            spans: a.spans,
            traces: a.traces,
            traces_without_root: a.traces_without_root,
            self_ns: self_total,
            services,
            endpoints,
            downstream,
            time_breakdown,
            edges,
            repeated_calls,
        }
    }

    /// Entry endpoints whose critical paths were sampled: (service,
    /// endpoint, traces walked, traces in all).
    pub fn sampled_entries(&self) -> Vec<(&str, &str, u64, u64)> {
        let mut seen: HashMap<(&str, &str), (u64, u64)> = HashMap::new();
        for row in &self.time_breakdown {
            if row.sampled < row.traces {
                seen.insert(
                    (&row.entry_service, &row.entry_endpoint),
                    (row.sampled, row.traces),
                );
            }
        }
        let mut out: Vec<_> = seen
            .into_iter()
            .map(|((s, e), (n, of))| (s, e, n, of))
            .collect();
        out.sort();
        out
    }
}
