//! What the shop's services send, built as their OpenTelemetry Python SDKs
//! would build it: spans and log records gathered per trace, then batched
//! by service and instrumentation scope, under each service's resource;
//! histograms aggregated as the SDK does between two metric exports.
//! Nothing here decides what happens in the shop: `shop` does, and calls
//! these.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Exemplar, Gauge, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, exemplar, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};

use crate::synth::{b, s, splitmix64};

/// The services, in the order the pages will list them.
pub const SERVICES: [&str; 5] = ["gateway", "orders", "payments", "inventory", "notifier"];

/// `http.server.request.duration` buckets, in seconds (the semantic conventions' advice).
const BOUNDS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Instrumentation scopes, named as the Python instrumentations name them
/// (`MANUAL` is the services' own spans and logs).
pub(super) const FASTAPI: &str = "opentelemetry.instrumentation.fastapi";
pub(super) const HTTPX: &str = "opentelemetry.instrumentation.httpx";
pub(super) const ASYNCPG: &str = "opentelemetry.instrumentation.asyncpg";
pub(super) const AIO_PIKA: &str = "opentelemetry.instrumentation.aio_pika";
pub(super) const MANUAL: &str = "shop";
pub(super) const ACCESS_LOG: &str = "uvicorn.access";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Svc {
    Gateway,
    Orders,
    Payments,
    Inventory,
    Notifier,
}

impl Svc {
    pub(super) const ALL: [Svc; 5] = [
        Svc::Gateway,
        Svc::Orders,
        Svc::Payments,
        Svc::Inventory,
        Svc::Notifier,
    ];

    pub(super) fn name(self) -> &'static str {
        SERVICES[self as usize]
    }

    pub(super) fn version(self) -> &'static str {
        ["2.14.1", "1.32.0", "3.2.7", "1.9.4", "0.8.2"][self as usize]
    }

    /// The version running at `at`, the release (`RELEASE`) out at
    /// `released_ns`.
    pub(super) fn version_at(self, at: i64, released_ns: i64) -> &'static str {
        match self == RELEASE.0 && at >= released_ns {
            true => RELEASE.1,
            false => self.version(),
        }
    }

    pub(super) fn port(self) -> i64 {
        [8000, 8001, 8002, 8003, 8004][self as usize]
    }

    /// Resident memory the service idles at, in MiB.
    pub(super) fn base_memory_mib(self) -> f64 {
        [92.0, 148.0, 120.0, 105.0, 74.0][self as usize]
    }
}

/// The one release in the demo's hour: a new `inventory`, which brings a
/// failure of its own (see `shop`).
pub(super) const RELEASE: (Svc, &str) = (Svc::Inventory, "1.10.0");

/// The export requests of one slice of simulated time.
#[derive(Default)]
pub struct Exports {
    pub traces: ExportTraceServiceRequest,
    pub logs: ExportLogsServiceRequest,
    pub metrics: ExportMetricsServiceRequest,
    /// Requests the shop's customers made in the slice (retries included).
    pub requests: u64,
    /// A checkout of the slice that failed, by request id.
    pub failed_request: Option<String>,
}

impl Exports {
    pub fn spans(&self) -> usize {
        self.traces
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum()
    }

    pub fn log_records(&self) -> usize {
        self.logs
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum()
    }
}

#[derive(Default)]
pub(super) struct Hist {
    buckets: [u64; BOUNDS.len() + 1],
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    /// The slowest request since the last export, as an exemplar.
    exemplar: Option<(f64, i64, Vec<u8>, Vec<u8>)>,
}

impl Hist {
    pub(super) fn record(&mut self, seconds: f64, time: i64, trace_id: &[u8], span_id: &[u8]) {
        let bucket = BOUNDS.iter().take_while(|b| seconds > **b).count();
        self.buckets[bucket] += 1;
        if self.count == 0 || seconds < self.min {
            self.min = seconds;
        }
        if self.count == 0 || seconds > self.max {
            self.max = seconds;
        }
        self.count += 1;
        self.sum += seconds;
        if self.exemplar.as_ref().is_none_or(|e| seconds > e.0) {
            self.exemplar = Some((seconds, time, trace_id.to_vec(), span_id.to_vec()));
        }
    }
    /// The cumulative point an export sends; the exemplar goes with it.
    pub(super) fn data_point(
        &mut self,
        attributes: Vec<KeyValue>,
        started: u64,
        at: u64,
    ) -> HistogramDataPoint {
        HistogramDataPoint {
            attributes,
            start_time_unix_nano: started,
            time_unix_nano: at,
            count: self.count,
            sum: Some(self.sum),
            bucket_counts: self.buckets.to_vec(),
            explicit_bounds: BOUNDS.to_vec(),
            min: Some(self.min),
            max: Some(self.max),
            exemplars: self
                .exemplar
                .take()
                .map(|(value, time, trace_id, span_id)| Exemplar {
                    time_unix_nano: time.max(0) as u64,
                    trace_id,
                    span_id,
                    value: Some(exemplar::Value::AsDouble(value)),
                    ..Default::default()
                })
                .into_iter()
                .collect(),
            ..Default::default()
        }
    }
}

/// One trace being made up: its spans and log records by service and scope.
pub(super) struct Trace {
    pub(super) trace_id: Vec<u8>,
    pub(super) request_id: String,
    pub(super) spans: Vec<(Svc, &'static str, Span)>,
    pub(super) logs: Vec<(Svc, &'static str, LogRecord)>,
    /// A checkout that failed: the shop's client may try it again.
    pub(super) failed: bool,
}

#[derive(Clone, Copy)]
pub(super) enum Sev {
    Info,
    Warn,
    Error,
}

impl Trace {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn make_span(
        &self,
        id: Vec<u8>,
        parent: Option<&[u8]>,
        name: String,
        kind: span::SpanKind,
        start: i64,
        end: i64,
        attributes: Vec<KeyValue>,
    ) -> Span {
        Span {
            trace_id: self.trace_id.clone(),
            span_id: id,
            parent_span_id: parent.map(<[u8]>::to_vec).unwrap_or_default(),
            flags: 0x301, // sampled; parent is remote or not, known
            name,
            kind: kind as i32,
            start_time_unix_nano: start.max(0) as u64,
            end_time_unix_nano: end.max(start).max(0) as u64,
            attributes,
            ..Default::default()
        }
    }

    /// `error`: `Some(message)` marks the span's status ERROR.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn span(
        &mut self,
        svc: Svc,
        scope: &'static str,
        id: Vec<u8>,
        parent: Option<&[u8]>,
        name: String,
        kind: span::SpanKind,
        start: i64,
        end: i64,
        attributes: Vec<KeyValue>,
        error: Option<&str>,
    ) {
        let mut span = self.make_span(id, parent, name, kind, start, end, attributes);
        if let Some(message) = error {
            span.status = Some(Status {
                code: status::StatusCode::Error as i32,
                message: message.to_owned(),
            });
        }
        self.spans.push((svc, scope, span));
    }

    /// Records an exception on the span `id` and sets its status to ERROR.
    pub(super) fn fail(&mut self, id: &[u8], at: i64, kind: &str, message: &str, stack: &str) {
        if let Some((_, _, span)) = self.spans.iter_mut().find(|(_, _, s)| s.span_id == id) {
            span.events.push(span::Event {
                time_unix_nano: at.max(0) as u64,
                name: "exception".into(),
                attributes: vec![
                    s("exception.type", kind),
                    s("exception.message", message),
                    s("exception.stacktrace", stack),
                    b("exception.escaped", true),
                ],
                ..Default::default()
            });
            span.status = Some(Status {
                code: status::StatusCode::Error as i32,
                message: format!("{kind}: {message}"),
            });
        }
    }

    /// A log record; `span` ties it to the trace, `None` leaves only the
    /// request id to find it by.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn log(
        &mut self,
        svc: Svc,
        scope: &'static str,
        at: i64,
        severity: Sev,
        body: String,
        span: Option<&[u8]>,
        mut attributes: Vec<KeyValue>,
    ) {
        let (number, text) = match severity {
            Sev::Info => (SeverityNumber::Info, "INFO"),
            Sev::Warn => (SeverityNumber::Warn, "WARNING"),
            Sev::Error => (SeverityNumber::Error, "ERROR"),
        };
        attributes.push(s("request.id", self.request_id.clone()));
        let at = at.max(0) as u64;
        self.logs.push((
            svc,
            scope,
            LogRecord {
                time_unix_nano: at,
                observed_time_unix_nano: at + 150_000,
                severity_number: number as i32,
                severity_text: text.into(),
                body: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(body)),
                }),
                attributes,
                flags: u32::from(span.is_some()),
                trace_id: span.map(|_| self.trace_id.clone()).unwrap_or_default(),
                span_id: span.map(<[u8]>::to_vec).unwrap_or_default(),
                ..Default::default()
            },
        ));
    }
}

fn scope(name: &str) -> InstrumentationScope {
    InstrumentationScope {
        name: name.to_owned(),
        version: if name == MANUAL || name == ACCESS_LOG {
            String::new()
        } else {
            "0.59b0".into()
        },
        ..Default::default()
    }
}

pub(super) fn gauge(
    name: &str,
    description: &str,
    unit: &str,
    attributes: Vec<KeyValue>,
    at: u64,
    value: f64,
) -> Metric {
    Metric {
        name: name.into(),
        description: description.into(),
        unit: unit.into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint {
                attributes,
                time_unix_nano: at,
                value: Some(number_data_point::Value::AsDouble(value)),
                ..Default::default()
            }],
        })),
        ..Default::default()
    }
}

/// The resource every export of `svc` carries; `instance_salt` makes its
/// instance id.
pub(super) fn resource(svc: Svc, version: &str, instance_salt: u64) -> Resource {
    let instance = splitmix64(instance_salt ^ svc as u64);
    Resource {
        attributes: vec![
            s("service.name", svc.name()),
            s("service.namespace", "shop"),
            s("service.version", version),
            s("service.instance.id", format!("{instance:016x}")),
            s("deployment.environment.name", "demo"),
            s(
                "host.name",
                format!("{}-{:05x}", svc.name(), instance & 0xfffff),
            ),
            s("process.runtime.name", "cpython"),
            s("process.runtime.version", "3.12.7"),
            s("telemetry.sdk.name", "opentelemetry"),
            s("telemetry.sdk.language", "python"),
            s("telemetry.sdk.version", "1.38.0"),
        ],
        ..Default::default()
    }
}

/// Groups the traces' spans and log records by service (and the version
/// that ran them, `RELEASE` out at `released_ns`) and scope, the way each
/// service's SDK batches them.
pub(super) fn pack(traces: Vec<Trace>, instance_salt: u64, released_ns: i64, out: &mut Exports) {
    type ByScope<T> = BTreeMap<(Svc, &'static str), BTreeMap<&'static str, Vec<T>>>;
    let mut spans: ByScope<Span> = BTreeMap::new();
    let mut logs: ByScope<LogRecord> = BTreeMap::new();
    for trace in traces {
        for (svc, scope, span) in trace.spans {
            let version = svc.version_at(span.start_time_unix_nano as i64, released_ns);
            spans
                .entry((svc, version))
                .or_default()
                .entry(scope)
                .or_default()
                .push(span);
        }
        for (svc, scope, record) in trace.logs {
            let version = svc.version_at(record.time_unix_nano as i64, released_ns);
            logs.entry((svc, version))
                .or_default()
                .entry(scope)
                .or_default()
                .push(record);
        }
    }
    for ((svc, version), scopes) in spans {
        out.traces.resource_spans.push(ResourceSpans {
            resource: Some(resource(svc, version, instance_salt)),
            scope_spans: scopes
                .into_iter()
                .map(|(name, spans)| ScopeSpans {
                    scope: Some(scope(name)),
                    spans,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        });
    }
    for ((svc, version), scopes) in logs {
        out.logs.resource_logs.push(ResourceLogs {
            resource: Some(resource(svc, version, instance_salt)),
            scope_logs: scopes
                .into_iter()
                .map(|(name, log_records)| ScopeLogs {
                    scope: Some(scope(name)),
                    log_records,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        });
    }
}

/// One service's metrics, as one export of its SDK.
pub(super) fn resource_metrics(
    svc: Svc,
    version: &str,
    instance_salt: u64,
    metrics: Vec<Metric>,
) -> ResourceMetrics {
    ResourceMetrics {
        resource: Some(resource(svc, version, instance_salt)),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(scope(MANUAL)),
            metrics,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// `http.server.request.duration`, one point per (method, route, status).
pub(super) fn request_durations(points: Vec<HistogramDataPoint>) -> Metric {
    Metric {
        name: "http.server.request.duration".into(),
        description: "Duration of HTTP server requests.".into(),
        unit: "s".into(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: points,
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        })),
        ..Default::default()
    }
}

/// A cumulative, monotonic count since `started`.
pub(super) fn counter(
    name: &str,
    description: &str,
    unit: &str,
    started: u64,
    at: u64,
    value: i64,
) -> Metric {
    Metric {
        name: name.into(),
        description: description.into(),
        unit: unit.into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: vec![NumberDataPoint {
                start_time_unix_nano: started,
                time_unix_nano: at,
                value: Some(number_data_point::Value::AsInt(value)),
                ..Default::default()
            }],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}
