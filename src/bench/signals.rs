//! The log records and metric points the bench sends after the spans, on
//! databases of their own, so that what each signal costs on disk is
//! measured alone: log records as services write them (a few message
//! templates filled with ids, amounts and times, most tied to a trace),
//! and the points an SDK's periodic reader exports (a latency histogram
//! per route, a few gauges and counters per instance).

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use prost::Message as _;

use super::services::{BACKENDS, EDGES, INSTANCES, Service, resource};
use super::workload::Body;
use crate::synth::{Rng, i, s};

/// Which signal a run of `Signals` loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signal {
    Logs,
    Points,
}

impl Signal {
    pub(super) fn path(self) -> &'static str {
        match self {
            Signal::Logs => "/v1/logs",
            Signal::Points => "/v1/metrics",
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Signal::Logs => "log records",
            Signal::Points => "metric points",
        }
    }
}

/// The seconds between two exports of one instance's metrics.
const INTERVAL_S: u64 = 10;
const BUCKETS: [f64; 14] = [
    5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];

fn services() -> impl Iterator<Item = &'static Service> {
    EDGES.iter().chain(BACKENDS.iter())
}

fn service(n: u64) -> &'static Service {
    let all = EDGES.len() + BACKENDS.len();
    services()
        .nth((n % all as u64) as usize)
        .unwrap_or(&EDGES[0])
}

/// `total` items of `signal` in requests of `batch` (points: one
/// instance's export of an interval each), the newest ending now,
/// spread over `spread_ns` before.
pub(super) fn bodies(signal: Signal, total: u64, batch: u32, spread_ns: u64) -> Vec<Body> {
    let now_ns = web::reports::now_ns() as u64 - 120_000_000_000;
    match signal {
        Signal::Logs => {
            let batch = u64::from(batch);
            let every_ns = (spread_ns / total.max(1)).max(1_000);
            (0..total.div_ceil(batch))
                .map(|index| {
                    let first = index * batch;
                    let n = batch.min(total - first);
                    let start = now_ns - (total - first) * every_ns;
                    encode(logs(index, n, start, every_ns).encode_to_vec(), n)
                })
                .collect()
        }
        Signal::Points => {
            let per_request = points_per_export();
            let exports = total.div_ceil(per_request);
            let intervals = exports.div_ceil(services().count() as u64 * INSTANCES);
            let start = now_ns - intervals * INTERVAL_S * 1_000_000_000;
            (0..exports)
                .map(|index| encode(metrics(index, start).encode_to_vec(), per_request))
                .collect()
        }
    }
}

fn encode(bytes: Vec<u8>, items: u64) -> Body {
    Body {
        bytes: Bytes::from(bytes),
        spans: items,
    }
}

fn scope(name: &str) -> InstrumentationScope {
    InstrumentationScope {
        name: name.to_owned(),
        version: "1.0.0".to_owned(),
        ..Default::default()
    }
}

/// Request `index` of log records: `n` of one service instance, the first
/// at `start`, `every_ns` apart.
pub(super) fn logs(index: u64, n: u64, start: u64, every_ns: u64) -> ExportLogsServiceRequest {
    let svc = service(index);
    let mut rng = Rng(index.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let records = (0..n)
        .map(|k| {
            let at = start + k * every_ns;
            let trace = rng.next();
            let route = &EDGES[0].routes[rng.below(EDGES[0].routes.len() as u64) as usize];
            let (severity, text, body) = match rng.below(20) {
                0 => (
                    17,
                    "ERROR",
                    format!(
                        "payment declined for order {}: card_expired (attempt {})",
                        rng.below(10_000_000),
                        1 + rng.below(3)
                    ),
                ),
                1..=2 => (
                    13,
                    "WARN",
                    format!(
                        "slow query on {} took {} ms, rows={}",
                        svc.table,
                        200 + rng.below(2_000),
                        rng.below(5_000)
                    ),
                ),
                3..=9 => (
                    9,
                    "INFO",
                    format!(
                        "order {} placed by customer {} total={}.{:02} EUR items={}",
                        rng.below(10_000_000),
                        rng.below(1_000_000),
                        rng.below(500),
                        rng.below(100),
                        1 + rng.below(9)
                    ),
                ),
                10..=13 => (
                    5,
                    "DEBUG",
                    format!("cache miss for key product:{}", rng.below(50_000)),
                ),
                _ => (
                    9,
                    "INFO",
                    format!(
                        "{} {} {} in {} ms",
                        route.method,
                        route.path,
                        [200, 200, 200, 201, 404][rng.below(5) as usize],
                        1 + rng.below(400)
                    ),
                ),
            };
            LogRecord {
                time_unix_nano: at,
                observed_time_unix_nano: at + 150_000,
                severity_number: severity,
                severity_text: text.to_owned(),
                body: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(body)),
                }),
                attributes: vec![
                    s("http.route", route.route),
                    s("code.function", "handle_request"),
                    i("thread.id", 1 + rng.below(16) as i64),
                ],
                trace_id: trace.to_be_bytes().repeat(2),
                span_id: rng.next().to_be_bytes().to_vec(),
                flags: 1,
                ..Default::default()
            }
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource(svc, index % INSTANCES)),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope(svc.http_scope)),
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// The points of one export: a histogram per route, two gauges, two sums.
fn points_per_export() -> u64 {
    EDGES[0].routes.len() as u64 + 4
}

/// Export `index` of metrics: instance `index` of the fleet's, at its
/// interval, cumulative since `start`.
pub(super) fn metrics(index: u64, start: u64) -> ExportMetricsServiceRequest {
    let fleet = services().count() as u64 * INSTANCES;
    let svc = service(index % fleet);
    let instance = (index % fleet) / services().count() as u64;
    let interval = index / fleet;
    let at = start + (interval + 1) * INTERVAL_S * 1_000_000_000;
    let mut rng = Rng(index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let cumulative = AggregationTemporality::Cumulative as i32;
    let histograms = EDGES[0]
        .routes
        .iter()
        .map(|route| {
            let counts: Vec<u64> = (0..=BUCKETS.len())
                .map(|b| (interval + 1) * (20 / (b as u64 + 1)) + rng.below(5))
                .collect();
            HistogramDataPoint {
                attributes: vec![
                    s("http.route", route.route),
                    s("http.request.method", route.method),
                    i("http.response.status_code", 200),
                ],
                start_time_unix_nano: start,
                time_unix_nano: at,
                count: counts.iter().sum(),
                sum: Some(counts.iter().sum::<u64>() as f64 * rng.between(20.0, 80.0)),
                bucket_counts: counts,
                explicit_bounds: BUCKETS.to_vec(),
                ..Default::default()
            }
        })
        .collect();
    let number = |value: number_data_point::Value, attributes| NumberDataPoint {
        attributes,
        start_time_unix_nano: start,
        time_unix_nano: at,
        value: Some(value),
        ..Default::default()
    };
    let metric = |name: &str, unit: &str, data| Metric {
        name: name.to_owned(),
        unit: unit.to_owned(),
        data: Some(data),
        ..Default::default()
    };
    let used = rng.below(20) as i64;
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource(svc, instance)),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope(svc.http_scope)),
                metrics: vec![
                    metric(
                        "http.server.request.duration",
                        "ms",
                        metric::Data::Histogram(Histogram {
                            data_points: histograms,
                            aggregation_temporality: cumulative,
                        }),
                    ),
                    metric(
                        "process.cpu.utilization",
                        "1",
                        metric::Data::Gauge(Gauge {
                            data_points: vec![number(
                                number_data_point::Value::AsDouble(rng.between(0.05, 0.9)),
                                vec![],
                            )],
                        }),
                    ),
                    metric(
                        "process.memory.usage",
                        "By",
                        metric::Data::Gauge(Gauge {
                            data_points: vec![number(
                                number_data_point::Value::AsInt(
                                    200_000_000 + rng.below(50_000_000) as i64,
                                ),
                                vec![],
                            )],
                        }),
                    ),
                    metric(
                        "db.client.connection.count",
                        "{connection}",
                        metric::Data::Sum(Sum {
                            data_points: vec![
                                number(
                                    number_data_point::Value::AsInt(used),
                                    vec![s("db.client.connection.state", "used")],
                                ),
                                number(
                                    number_data_point::Value::AsInt(20 - used),
                                    vec![s("db.client.connection.state", "idle")],
                                ),
                            ],
                            aggregation_temporality: cumulative,
                            is_monotonic: false,
                        }),
                    ),
                ],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_records_and_points_are_valid_and_counted() {
        let rules = collector::Rules::default();
        let bodies = super::bodies(Signal::Logs, 1000, 256, 3_600_000_000_000);
        assert_eq!(bodies.len(), 4);
        assert_eq!(bodies.iter().map(|b| b.spans).sum::<u64>(), 1000);
        let logs = logs(0, 256, 1_000_000_000_000_000_000, 1_000_000);
        let normalized = collector::normalize::logs(logs, &rules);
        assert_eq!((normalized.rejected, normalized.batch.logs.len()), (0, 256));

        let points = metrics(7, 1_000_000_000_000_000_000);
        let normalized = collector::normalize::metrics(points, &rules);
        assert_eq!(normalized.rejected, 0);
        assert_eq!(
            normalized.batch.metric_points.len() as u64,
            points_per_export()
        );
    }
}
