//! From OTLP's wire types to the store's model: pure functions, no IO.
//!
//! Every item is checked on its own. A bad item (wrong id length, absurd
//! timestamp, too many attributes, a value nested too deep) is counted as
//! rejected with the first reason kept for the partial-success message; the
//! rest of the request is kept. Derived facts (service, request id,
//! semantic-convention columns, error flag) are computed here, once.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1 as otlp_metrics;
use opentelemetry_proto::tonic::resource::v1::Resource as OtlpResource;
use opentelemetry_proto::tonic::trace::v1 as otlp_trace;

use store::model::{
    Batch, Buckets, Derived, Event, Exemplar, ExponentialHistogram, Histogram, Link, LogRecord,
    MetricDescriptor, MetricKind, MetricPoint, PointValue, Quantile, Resource, Scope, Span,
    SpanKind, Status, StatusCode, Summary,
};
use store::value::{Attributes, Value};

/// The request-id attribute keys the contract names, in the order they are tried.
pub const DEFAULT_REQUEST_ID_KEYS: &[&str] = &[
    "request_id",
    "request.id",
    "http.request.header.x-request-id",
    // Python's instrumentations spell captured header names with underscores.
    "http.request.header.x_request_id",
    "x-request-id",
    "correlation_id",
];

#[derive(Debug, Clone)]
pub struct Rules {
    pub request_id_keys: Vec<String>,
    /// Attributes one span, event, link, log record or point may carry.
    pub max_attributes: usize,
    /// How deep arrays and maps may nest inside one value.
    pub max_depth: usize,
    /// Bytes one string or bytes value (a log body, an attribute's value,
    /// an element of either) keeps; the rest is cut, a string's cut marked
    /// (`cut`). 0: no limit.
    pub max_value_bytes: usize,
}

/// The default of `Rules::max_value_bytes`: far past any attribute worth
/// reading, and a log body's stack trace.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            request_id_keys: DEFAULT_REQUEST_ID_KEYS
                .iter()
                .map(|k| k.to_string())
                .collect(),
            max_attributes: 1024,
            max_depth: 32,
            max_value_bytes: MAX_VALUE_BYTES,
        }
    }
}

/// What a request became: the batch to store and what was refused.
#[derive(Debug, Default)]
pub struct Normalized {
    pub batch: Batch,
    pub rejected: u64,
    /// The first reason an item was refused, for the partial-success message.
    pub first_rejection: Option<String>,
    /// The encoded size of every item of the request, refused ones too:
    /// what `Batch::share_wire_bytes` shares the request's real size by.
    /// Each kept item carries its own encoded size in `wire_bytes`.
    pub sized_total: u64,
}

impl Normalized {
    fn reject(&mut self, reason: String) {
        self.rejected += 1;
        if self.first_rejection.is_none() {
            self.first_rejection = Some(reason);
        }
    }

    fn push_resource(
        &mut self,
        resource: Option<OtlpResource>,
        schema_url: String,
        rules: &Rules,
    ) -> usize {
        let resource = resource.unwrap_or_default();
        // A resource that cannot be converted still names its items' service;
        // its unconvertible attributes are counted as dropped, never guessed.
        let (attributes, dropped) = attributes_lossy(resource.attributes, rules);
        let service = attributes
            .get("service.name")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("unknown_service")
            .to_owned();
        self.batch.resources.push(Resource {
            service,
            attributes,
            dropped_attributes_count: resource.dropped_attributes_count.saturating_add(dropped),
            schema_url,
        });
        self.batch.resources.len() - 1
    }

    fn push_scope(
        &mut self,
        scope: Option<InstrumentationScope>,
        schema_url: String,
        rules: &Rules,
    ) -> usize {
        let scope = scope.unwrap_or_default();
        let (attributes, dropped) = attributes_lossy(scope.attributes, rules);
        self.batch.scopes.push(Scope {
            name: scope.name,
            version: scope.version,
            attributes,
            dropped_attributes_count: scope.dropped_attributes_count.saturating_add(dropped),
            schema_url,
        });
        self.batch.scopes.len() - 1
    }
}

pub fn traces(request: ExportTraceServiceRequest, rules: &Rules) -> Normalized {
    let mut out = Normalized::default();
    for resource_spans in request.resource_spans {
        let resource_idx =
            out.push_resource(resource_spans.resource, resource_spans.schema_url, rules);
        for scope_spans in resource_spans.scope_spans {
            let scope_idx = out.push_scope(scope_spans.scope, scope_spans.schema_url, rules);
            for span in scope_spans.spans {
                let size = encoded_size(&span);
                out.sized_total += u64::from(size);
                match span_from(span, resource_idx, scope_idx, rules) {
                    Ok(span) => out.batch.spans.push(Span {
                        wire_bytes: size,
                        ..span
                    }),
                    Err(reason) => out.reject(reason),
                }
            }
        }
    }
    out
}

pub fn logs(request: ExportLogsServiceRequest, rules: &Rules) -> Normalized {
    let mut out = Normalized::default();
    for resource_logs in request.resource_logs {
        let resource_idx =
            out.push_resource(resource_logs.resource, resource_logs.schema_url, rules);
        for scope_logs in resource_logs.scope_logs {
            let scope_idx = out.push_scope(scope_logs.scope, scope_logs.schema_url, rules);
            for record in scope_logs.log_records {
                let size = encoded_size(&record);
                out.sized_total += u64::from(size);
                match log_from(record, resource_idx, scope_idx, rules) {
                    Ok(log) => out.batch.logs.push(LogRecord {
                        wire_bytes: size,
                        ..log
                    }),
                    Err(reason) => out.reject(reason),
                }
            }
        }
    }
    out
}

pub fn metrics(request: ExportMetricsServiceRequest, rules: &Rules) -> Normalized {
    let mut out = Normalized::default();
    for resource_metrics in request.resource_metrics {
        let resource_idx = out.push_resource(
            resource_metrics.resource,
            resource_metrics.schema_url,
            rules,
        );
        for scope_metrics in resource_metrics.scope_metrics {
            let scope_idx = out.push_scope(scope_metrics.scope, scope_metrics.schema_url, rules);
            for metric in scope_metrics.metrics {
                // A metric's descriptor is shared by its points, so each
                // point is sized as an equal part of the whole metric.
                let size = u64::from(encoded_size(&metric));
                out.sized_total += size;
                let parts = data_points(&metric).max(1);
                let first = out.batch.metric_points.len();
                metric_points_from(metric, resource_idx, scope_idx, rules, &mut out);
                for (i, point) in out.batch.metric_points[first..].iter_mut().enumerate() {
                    // The remainder goes one byte each to the first points.
                    let share = size / parts + u64::from((i as u64) < size % parts);
                    point.wire_bytes = u32::try_from(share).unwrap_or(u32::MAX);
                }
            }
        }
    }
    out
}

fn data_points(metric: &otlp_metrics::Metric) -> u64 {
    use otlp_metrics::metric::Data;
    let n = match &metric.data {
        None => 0,
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
    };
    n as u64
}

fn encoded_size(message: &impl prost::Message) -> u32 {
    u32::try_from(message.encoded_len()).unwrap_or(u32::MAX)
}

fn span_from(
    span: otlp_trace::Span,
    resource_idx: usize,
    scope_idx: usize,
    rules: &Rules,
) -> Result<Span, String> {
    let trace_id = trace_id(&span.trace_id).ok_or_else(|| bad_id("trace", &span.trace_id))?;
    let span_id = span_id(&span.span_id).ok_or_else(|| bad_id("span", &span.span_id))?;
    let parent_span_id = match span.parent_span_id.len() {
        // An all-zero parent is how some SDKs spell "no parent".
        0 => None,
        8 if span.parent_span_id.iter().all(|b| *b == 0) => None,
        _ => Some(
            span_id_of(&span.parent_span_id)
                .ok_or_else(|| bad_id("parent span", &span.parent_span_id))?,
        ),
    };
    let start = timestamp(span.start_time_unix_nano, "start time")?;
    let end = timestamp(span.end_time_unix_nano, "end time")?;
    if start == 0 {
        return Err("span has no start time".to_owned());
    }
    if end < start {
        return Err(format!("span ends ({end}) before it starts ({start})"));
    }
    let span_attributes = attributes(span.attributes, rules)?;
    let events = span
        .events
        .into_iter()
        .map(|event| {
            Ok(Event {
                time_unix_nano: timestamp(event.time_unix_nano, "event time")?,
                name: event.name,
                attributes: attributes(event.attributes, rules)?,
                dropped_attributes_count: event.dropped_attributes_count,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let links = span
        .links
        .into_iter()
        .map(|link| {
            Ok(Link {
                trace_id: link.trace_id,
                span_id: link.span_id,
                trace_state: link.trace_state,
                attributes: attributes(link.attributes, rules)?,
                dropped_attributes_count: link.dropped_attributes_count,
                flags: link.flags,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let status = span.status.unwrap_or_default();
    let status = Status {
        code: StatusCode::from_i32(status.code),
        message: status.message,
    };
    let kind = SpanKind::from_i32(span.kind);
    let derived = derive_span(&span_attributes, &events, kind, &status, rules);
    Ok(Span {
        resource_idx,
        scope_idx,
        trace_id,
        span_id,
        parent_span_id,
        trace_state: span.trace_state,
        flags: span.flags,
        name: span.name,
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes: span_attributes,
        dropped_attributes_count: span.dropped_attributes_count,
        events,
        dropped_events_count: span.dropped_events_count,
        links,
        dropped_links_count: span.dropped_links_count,
        status,
        derived,
        wire_bytes: 0,
    })
}

/// The error rule: status ERROR, or an `exception` event, or a server span answering 5xx.
fn derive_span(
    attributes: &Attributes,
    events: &[Event],
    kind: SpanKind,
    status: &Status,
    rules: &Rules,
) -> Derived {
    let http_status_code = first_int(
        attributes,
        &["http.response.status_code", "http.status_code"],
    );
    let exception_event = events.iter().find(|e| e.name == "exception");
    let is_error = status.code == StatusCode::Error
        || exception_event.is_some()
        || (kind == SpanKind::Server && http_status_code.is_some_and(|code| code >= 500));
    let exception_type = first_str(attributes, &["exception.type"])
        .or_else(|| exception_event.and_then(|e| first_str(&e.attributes, &["exception.type"])));
    Derived {
        request_id: request_id(attributes, rules),
        is_error,
        http_route: first_str(attributes, &["http.route"]),
        http_method: first_str(attributes, &["http.request.method", "http.method"]),
        http_status_code,
        rpc_service: first_str(attributes, &["rpc.service"]),
        rpc_method: first_str(attributes, &["rpc.method"]),
        db_system: first_str(attributes, &["db.system.name", "db.system"]),
        exception_type,
    }
}

fn log_from(
    record: opentelemetry_proto::tonic::logs::v1::LogRecord,
    resource_idx: usize,
    scope_idx: usize,
    rules: &Rules,
) -> Result<LogRecord, String> {
    let trace_id = match record.trace_id.len() {
        0 => None,
        _ => Some(trace_id(&record.trace_id).ok_or_else(|| bad_id("trace", &record.trace_id))?),
    };
    let span_id = match record.span_id.len() {
        0 => None,
        _ => Some(span_id(&record.span_id).ok_or_else(|| bad_id("span", &record.span_id))?),
    };
    let attributes = attributes(record.attributes, rules)?;
    let body = match record.body {
        Some(body) => value(body, rules, 0)?,
        None => Value::Empty,
    };
    Ok(LogRecord {
        resource_idx,
        scope_idx,
        time_unix_nano: timestamp(record.time_unix_nano, "time")?,
        observed_time_unix_nano: timestamp(record.observed_time_unix_nano, "observed time")?,
        severity_number: record.severity_number,
        severity_text: record.severity_text,
        body,
        event_name: record.event_name,
        request_id: request_id(&attributes, rules),
        attributes,
        dropped_attributes_count: record.dropped_attributes_count,
        flags: record.flags,
        trace_id,
        span_id,
        wire_bytes: 0,
    })
}

fn metric_points_from(
    metric: otlp_metrics::Metric,
    resource_idx: usize,
    scope_idx: usize,
    rules: &Rules,
    out: &mut Normalized,
) {
    use otlp_metrics::metric::Data;
    let Some(data) = metric.data else {
        out.reject(format!("metric {:?} has no data", metric.name));
        return;
    };
    let metadata = match attributes(metric.metadata, rules) {
        Ok(metadata) => metadata,
        Err(reason) => {
            out.reject(reason);
            return;
        }
    };
    let descriptor = |kind, temporality, monotonic| MetricDescriptor {
        name: metric.name.clone(),
        description: metric.description.clone(),
        unit: metric.unit.clone(),
        kind,
        temporality,
        monotonic,
        metadata: metadata.clone(),
    };
    let push = |out: &mut Normalized,
                descriptor: &MetricDescriptor,
                point: Result<(PointCommon, PointValue), String>| match point {
        Ok((common, value)) => out.batch.metric_points.push(MetricPoint {
            resource_idx,
            scope_idx,
            metric: descriptor.clone(),
            attributes: common.attributes,
            start_time_unix_nano: common.start,
            time_unix_nano: common.time,
            flags: common.flags,
            value,
            exemplars: common.exemplars,
            wire_bytes: 0,
        }),
        Err(reason) => out.reject(reason),
    };
    match data {
        Data::Gauge(gauge) => {
            let d = descriptor(MetricKind::Gauge, 0, false);
            for p in gauge.data_points {
                push(out, &d, number_point(p, rules));
            }
        }
        Data::Sum(sum) => {
            let d = descriptor(
                MetricKind::Sum,
                sum.aggregation_temporality,
                sum.is_monotonic,
            );
            for p in sum.data_points {
                push(out, &d, number_point(p, rules));
            }
        }
        Data::Histogram(histogram) => {
            let d = descriptor(
                MetricKind::Histogram,
                histogram.aggregation_temporality,
                false,
            );
            for p in histogram.data_points {
                let point = common(
                    p.attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    p.flags,
                    p.exemplars,
                    rules,
                )
                .map(|c| {
                    (
                        c,
                        PointValue::Histogram(Histogram {
                            count: p.count,
                            sum: p.sum,
                            min: p.min,
                            max: p.max,
                            bucket_counts: p.bucket_counts,
                            explicit_bounds: p.explicit_bounds,
                        }),
                    )
                });
                push(out, &d, point);
            }
        }
        Data::ExponentialHistogram(histogram) => {
            let d = descriptor(
                MetricKind::ExponentialHistogram,
                histogram.aggregation_temporality,
                false,
            );
            for p in histogram.data_points {
                let buckets =
                    |b: Option<otlp_metrics::exponential_histogram_data_point::Buckets>| {
                        let b = b.unwrap_or_default();
                        Buckets {
                            offset: b.offset,
                            bucket_counts: b.bucket_counts,
                        }
                    };
                let value = PointValue::ExponentialHistogram(ExponentialHistogram {
                    count: p.count,
                    sum: p.sum,
                    min: p.min,
                    max: p.max,
                    scale: p.scale,
                    zero_count: p.zero_count,
                    zero_threshold: p.zero_threshold,
                    positive: buckets(p.positive),
                    negative: buckets(p.negative),
                });
                let point = common(
                    p.attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    p.flags,
                    p.exemplars,
                    rules,
                )
                .map(|c| (c, value));
                push(out, &d, point);
            }
        }
        Data::Summary(summary) => {
            let d = descriptor(MetricKind::Summary, 0, false);
            for p in summary.data_points {
                let value = PointValue::Summary(Summary {
                    count: p.count,
                    sum: p.sum,
                    quantile_values: p
                        .quantile_values
                        .into_iter()
                        .map(|q| Quantile {
                            quantile: q.quantile,
                            value: q.value,
                        })
                        .collect(),
                });
                let point = common(
                    p.attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    p.flags,
                    Vec::new(),
                    rules,
                )
                .map(|c| (c, value));
                push(out, &d, point);
            }
        }
    }
}

struct PointCommon {
    attributes: Attributes,
    start: i64,
    time: i64,
    flags: u32,
    exemplars: Vec<Exemplar>,
}

fn common(
    attrs: Vec<KeyValue>,
    start: u64,
    time: u64,
    flags: u32,
    exemplars: Vec<otlp_metrics::Exemplar>,
    rules: &Rules,
) -> Result<PointCommon, String> {
    Ok(PointCommon {
        attributes: attributes(attrs, rules)?,
        start: timestamp(start, "start time")?,
        time: timestamp(time, "time")?,
        flags,
        exemplars: exemplars
            .into_iter()
            .map(|e| {
                Ok(Exemplar {
                    filtered_attributes: attributes(e.filtered_attributes, rules)?,
                    time_unix_nano: timestamp(e.time_unix_nano, "exemplar time")?,
                    value: number(e.value.map(|v| match v {
                        otlp_metrics::exemplar::Value::AsDouble(d) => {
                            otlp_metrics::number_data_point::Value::AsDouble(d)
                        }
                        otlp_metrics::exemplar::Value::AsInt(i) => {
                            otlp_metrics::number_data_point::Value::AsInt(i)
                        }
                    })),
                    trace_id: e.trace_id,
                    span_id: e.span_id,
                })
            })
            .collect::<Result<_, String>>()?,
    })
}

fn number_point(
    p: otlp_metrics::NumberDataPoint,
    rules: &Rules,
) -> Result<(PointCommon, PointValue), String> {
    let value = PointValue::Value(number(p.value));
    common(
        p.attributes,
        p.start_time_unix_nano,
        p.time_unix_nano,
        p.flags,
        p.exemplars,
        rules,
    )
    .map(|c| (c, value))
}

fn number(value: Option<otlp_metrics::number_data_point::Value>) -> Value {
    match value {
        Some(otlp_metrics::number_data_point::Value::AsDouble(d)) => Value::Double(d),
        Some(otlp_metrics::number_data_point::Value::AsInt(i)) => Value::Int(i),
        None => Value::Empty,
    }
}

fn trace_id(bytes: &[u8]) -> Option<[u8; 16]> {
    let id: [u8; 16] = bytes.try_into().ok()?;
    (id != [0; 16]).then_some(id)
}

fn span_id(bytes: &[u8]) -> Option<[u8; 8]> {
    span_id_of(bytes).filter(|id| *id != [0; 8])
}

fn span_id_of(bytes: &[u8]) -> Option<[u8; 8]> {
    bytes.try_into().ok()
}

fn bad_id(what: &str, bytes: &[u8]) -> String {
    if bytes.iter().all(|b| *b == 0) && !bytes.is_empty() {
        format!("invalid {what} id: all zero")
    } else {
        format!("invalid {what} id: {} bytes", bytes.len())
    }
}

/// Nanoseconds since the epoch must fit the database's signed 64-bit integers
/// (until the year 2262).
fn timestamp(nanos: u64, what: &str) -> Result<i64, String> {
    i64::try_from(nanos).map_err(|_| format!("absurd {what}: {nanos}"))
}

fn attributes(kvs: Vec<KeyValue>, rules: &Rules) -> Result<Attributes, String> {
    if kvs.len() > rules.max_attributes {
        return Err(format!(
            "too many attributes: {} > {}",
            kvs.len(),
            rules.max_attributes
        ));
    }
    kvs.into_iter()
        .map(|kv| {
            Ok((
                kv.key,
                kv.value.map_or(Ok(Value::Empty), |v| value(v, rules, 0))?,
            ))
        })
        .collect::<Result<Vec<_>, String>>()
        .map(Attributes)
}

/// For resources and scopes, which are not items of their own: keeps what
/// fits the rules and counts the rest as dropped.
fn attributes_lossy(kvs: Vec<KeyValue>, rules: &Rules) -> (Attributes, u32) {
    let mut dropped = 0u32;
    let mut kept = Vec::with_capacity(kvs.len().min(rules.max_attributes));
    for kv in kvs {
        if kept.len() >= rules.max_attributes {
            dropped = dropped.saturating_add(1);
            continue;
        }
        match kv.value.map_or(Ok(Value::Empty), |v| value(v, rules, 0)) {
            Ok(v) => kept.push((kv.key, v)),
            Err(_) => dropped = dropped.saturating_add(1),
        }
    }
    (Attributes(kept), dropped)
}

fn value(any: AnyValue, rules: &Rules, depth: usize) -> Result<Value, String> {
    if depth > rules.max_depth {
        return Err(format!("value nested deeper than {}", rules.max_depth));
    }
    Ok(match any.value {
        None => Value::Empty,
        Some(any_value::Value::StringValue(s)) => Value::String(cut(s, rules.max_value_bytes)),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(b),
        Some(any_value::Value::IntValue(i)) => Value::Int(i),
        Some(any_value::Value::DoubleValue(d)) => Value::Double(d),
        Some(any_value::Value::BytesValue(mut b)) => {
            if rules.max_value_bytes > 0 {
                b.truncate(rules.max_value_bytes);
            }
            Value::Bytes(b)
        }
        Some(any_value::Value::ArrayValue(array)) => Value::Array(
            array
                .values
                .into_iter()
                .map(|v| value(v, rules, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Some(any_value::Value::KvlistValue(list)) => {
            if list.values.len() > rules.max_attributes {
                return Err(format!("map with too many entries: {}", list.values.len()));
            }
            Value::Map(Attributes(
                list.values
                    .into_iter()
                    .map(|kv| {
                        Ok((
                            kv.key,
                            kv.value
                                .map_or(Ok(Value::Empty), |v| value(v, rules, depth + 1))?,
                        ))
                    })
                    .collect::<Result<_, String>>()?,
            ))
        }
        // An index into a profile's string table: meaningless outside profiles.
        Some(any_value::Value::StringValueStrindex(_)) => Value::Empty,
    })
}

/// `text` kept to `max` bytes (0: whole), cut at a character boundary
/// and marked with how many bytes went, as a reader must see that the
/// value is not whole.
fn cut(mut text: String, max: usize) -> String {
    if max == 0 || text.len() <= max {
        return text;
    }
    let mut at = max;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let gone = text.len() - at;
    text.truncate(at);
    text.push_str(&format!("…[{gone} bytes cut]"));
    text
}

/// The first configured key with a usable value: a non-empty string, the
/// first element of a string array (HTTP header attributes are arrays), or an integer.
fn request_id(attributes: &Attributes, rules: &Rules) -> Option<String> {
    rules
        .request_id_keys
        .iter()
        .find_map(|key| match attributes.get(key)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Array(items) => match items.first()? {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                _ => None,
            },
            Value::Int(i) => Some(i.to_string()),
            _ => None,
        })
}

fn first_str(attributes: &Attributes, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| match attributes.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    })
}

fn first_int(attributes: &Attributes, keys: &[&str]) -> Option<i64> {
    keys.iter().find_map(|key| match attributes.get(key)? {
        Value::Int(i) => Some(*i),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord as OtlpLog, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, span};

    fn kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            key_strindex: 0,
        }
    }

    fn s(text: &str) -> any_value::Value {
        any_value::Value::StringValue(text.into())
    }

    fn int(i: i64) -> any_value::Value {
        any_value::Value::IntValue(i)
    }

    fn span(edit: impl FnOnce(&mut otlp_trace::Span)) -> otlp_trace::Span {
        let mut span = otlp_trace::Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "op".into(),
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: 1_000,
            end_time_unix_nano: 2_000,
            ..otlp_trace::Span::default()
        };
        edit(&mut span);
        span
    }

    fn one(span: otlp_trace::Span) -> Result<Span, String> {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(OtlpResource {
                    attributes: vec![kv("service.name", s("api"))],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: None,
                    spans: vec![span],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        let mut out = traces(request, &Rules::default());
        match out.batch.spans.pop() {
            Some(span) => Ok(span),
            None => Err(out.first_rejection.unwrap_or_default()),
        }
    }

    #[test]
    fn span_validation() {
        let check = |name: &str, edit: fn(&mut otlp_trace::Span), expected: Result<(), &str>| {
            let got = one(span(edit)).map(|_| ());
            match (got, expected) {
                (Ok(()), Ok(())) => {}
                (Err(reason), Err(want)) => assert!(
                    reason.contains(want),
                    "{name}: {reason:?} should contain {want:?}"
                ),
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        };
        check("valid", |_| {}, Ok(()));
        check(
            "short trace id",
            |s| s.trace_id = vec![1; 15],
            Err("invalid trace id: 15 bytes"),
        );
        check(
            "zero trace id",
            |s| s.trace_id = vec![0; 16],
            Err("invalid trace id: all zero"),
        );
        check(
            "missing span id",
            |s| s.span_id = vec![],
            Err("invalid span id: 0 bytes"),
        );
        check(
            "zero span id",
            |s| s.span_id = vec![0; 8],
            Err("invalid span id: all zero"),
        );
        check(
            "long parent id",
            |s| s.parent_span_id = vec![3; 9],
            Err("invalid parent span id"),
        );
        check(
            "zero parent means root",
            |s| s.parent_span_id = vec![0; 8],
            Ok(()),
        );
        check(
            "no start time",
            |s| s.start_time_unix_nano = 0,
            Err("no start time"),
        );
        check(
            "start past 2262",
            |s| s.start_time_unix_nano = u64::MAX,
            Err("absurd start time"),
        );
        check(
            "ends before start",
            |s| s.end_time_unix_nano = 999,
            Err("before it starts"),
        );
        check("zero duration", |s| s.end_time_unix_nano = 1_000, Ok(()));
        check(
            "too many attributes",
            |s| s.attributes = (0..1025).map(|i| kv(&i.to_string(), int(i))).collect(),
            Err("too many attributes"),
        );
        check(
            "too many event attributes",
            |s| {
                s.events = vec![span::Event {
                    attributes: (0..1025).map(|i| kv(&i.to_string(), int(i))).collect(),
                    ..Default::default()
                }]
            },
            Err("too many attributes"),
        );
        check(
            "too deep",
            |s| {
                let mut value = s_val("x");
                for _ in 0..40 {
                    value = any_value::Value::ArrayValue(ArrayValue {
                        values: vec![AnyValue { value: Some(value) }],
                    });
                }
                s.attributes = vec![kv("deep", value)];
            },
            Err("nested deeper than 32"),
        );
    }

    fn s_val(text: &str) -> any_value::Value {
        s(text)
    }

    #[test]
    fn derived_columns() {
        let check = |attributes: Vec<KeyValue>,
                     kind: span::SpanKind,
                     status: i32,
                     events: Vec<&str>,
                     expected: Derived| {
            let got = one(span(|s| {
                s.attributes = attributes;
                s.kind = kind as i32;
                s.status = Some(otlp_trace::Status {
                    code: status,
                    message: String::new(),
                });
                s.events = events
                    .into_iter()
                    .map(|name| span::Event {
                        name: name.into(),
                        attributes: vec![kv("exception.type", s_val("Boom"))],
                        ..Default::default()
                    })
                    .collect();
            }))
            .unwrap()
            .derived;
            assert_eq!(got, expected);
        };
        use span::SpanKind::{Client, Server};
        check(vec![], Server, 0, vec![], Derived::default());
        check(
            vec![],
            Server,
            2,
            vec![],
            Derived {
                is_error: true,
                ..Derived::default()
            },
        );
        check(
            vec![],
            Client,
            0,
            vec!["exception"],
            Derived {
                is_error: true,
                exception_type: Some("Boom".into()),
                ..Derived::default()
            },
        );
        check(vec![], Client, 0, vec!["retry"], Derived::default());
        check(
            vec![
                kv("http.response.status_code", int(503)),
                kv("http.route", s("/a/{id}")),
                kv("http.request.method", s("GET")),
            ],
            Server,
            0,
            vec![],
            Derived {
                is_error: true,
                http_status_code: Some(503),
                http_route: Some("/a/{id}".into()),
                http_method: Some("GET".into()),
                ..Derived::default()
            },
        );
        // A client receiving 5xx is not itself the failure unless it says so.
        check(
            vec![
                kv("http.status_code", s("502")),
                kv("http.method", s("POST")),
            ],
            Client,
            0,
            vec![],
            Derived {
                http_status_code: Some(502),
                http_method: Some("POST".into()),
                ..Derived::default()
            },
        );
        check(
            vec![
                kv("rpc.service", s("Payments")),
                kv("rpc.method", s("Charge")),
                kv("db.system", s("postgresql")),
                kv("exception.type", s("Own")),
            ],
            Client,
            0,
            vec!["exception"],
            Derived {
                is_error: true,
                rpc_service: Some("Payments".into()),
                rpc_method: Some("Charge".into()),
                db_system: Some("postgresql".into()),
                exception_type: Some("Own".into()),
                ..Derived::default()
            },
        );
    }

    #[test]
    fn request_id_keys() {
        let check = |attributes: Vec<KeyValue>, expected: Option<&str>| {
            let got = one(span(|s| s.attributes = attributes))
                .unwrap()
                .derived
                .request_id;
            assert_eq!(got.as_deref(), expected);
        };
        check(vec![], None);
        check(vec![kv("request_id", s("r1"))], Some("r1"));
        check(vec![kv("request.id", s("r2"))], Some("r2"));
        check(vec![kv("x-request-id", s("r3"))], Some("r3"));
        check(
            vec![kv("http.request.header.x_request_id", s("r5"))],
            Some("r5"),
        );
        check(vec![kv("correlation_id", int(77))], Some("77"));
        check(
            vec![kv(
                "http.request.header.x-request-id",
                any_value::Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(s("r4")),
                    }],
                }),
            )],
            Some("r4"),
        );
        check(vec![kv("request_id", s(""))], None);
        // The configured order decides between two keys.
        check(
            vec![
                kv("correlation_id", s("late")),
                kv("request_id", s("early")),
            ],
            Some("early"),
        );
    }

    #[test]
    fn partial_rejection_keeps_the_valid_items() {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: None,
                scope_spans: vec![ScopeSpans {
                    scope: None,
                    spans: vec![
                        span(|_| {}),
                        span(|s| s.trace_id = vec![]),
                        span(|s| s.span_id = vec![9; 8]),
                    ],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        let out = traces(request, &Rules::default());
        assert_eq!(out.batch.spans.len(), 2);
        assert_eq!(out.rejected, 1);
        assert_eq!(
            out.first_rejection.as_deref(),
            Some("invalid trace id: 0 bytes")
        );
        assert_eq!(out.batch.resources[0].service, "unknown_service");
    }

    #[test]
    fn logs_keep_bodies_and_optional_ids() {
        let record = |edit: fn(&mut OtlpLog)| {
            let mut record = OtlpLog {
                time_unix_nano: 5,
                observed_time_unix_nano: 6,
                ..Default::default()
            };
            edit(&mut record);
            record
        };
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: None,
                scope_logs: vec![ScopeLogs {
                    scope: None,
                    log_records: vec![
                        record(|r| {
                            r.body = Some(AnyValue {
                                value: Some(any_value::Value::KvlistValue(KeyValueList {
                                    values: vec![kv("a", int(1))],
                                })),
                            })
                        }),
                        record(|r| {
                            r.trace_id = vec![1; 16];
                            r.span_id = vec![2; 8];
                        }),
                        record(|r| r.trace_id = vec![1; 5]),
                        record(|r| r.attributes = vec![kv("request_id", s("only-rid"))]),
                    ],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        let out = logs(request, &Rules::default());
        assert_eq!(out.rejected, 1);
        assert_eq!(out.batch.logs.len(), 3);
        assert_eq!(
            out.batch.logs[0].body,
            Value::Map(Attributes(vec![("a".into(), Value::Int(1))]))
        );
        assert_eq!(out.batch.logs[0].trace_id, None);
        assert_eq!(out.batch.logs[1].trace_id, Some([1; 16]));
        assert_eq!(out.batch.logs[1].span_id, Some([2; 8]));
        assert_eq!(out.batch.logs[2].request_id.as_deref(), Some("only-rid"));
    }

    #[test]
    fn long_values_are_cut_at_a_character_and_marked() {
        for (text, max, kept) in [
            ("short", 8, "short"),
            ("exactly8", 8, "exactly8"),
            ("ninechars", 8, "ninechar…[1 bytes cut]"),
            // "é" is two bytes: the cut never splits it.
            ("abcdefé", 7, "abcdef…[2 bytes cut]"),
            ("anything at all", 0, "anything at all"),
        ] {
            assert_eq!(cut(text.to_owned(), max), kept, "{text:?} {max}");
        }
        let rules = Rules {
            max_value_bytes: 4,
            ..Rules::default()
        };
        let long = |text: &str| AnyValue {
            value: Some(any_value::Value::StringValue(text.to_owned())),
        };
        let nested = AnyValue {
            value: Some(any_value::Value::ArrayValue(
                opentelemetry_proto::tonic::common::v1::ArrayValue {
                    values: vec![long("123456")],
                },
            )),
        };
        assert_eq!(
            value(nested, &rules, 0),
            Ok(Value::Array(vec![Value::String(
                "1234…[2 bytes cut]".into()
            )]))
        );
        let bytes = AnyValue {
            value: Some(any_value::Value::BytesValue(vec![1, 2, 3, 4, 5, 6])),
        };
        assert_eq!(value(bytes, &rules, 0), Ok(Value::Bytes(vec![1, 2, 3, 4])));
    }

    #[test]
    fn resource_attributes_over_the_limit_are_counted_as_dropped() {
        let rules = Rules {
            max_attributes: 2,
            ..Rules::default()
        };
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(OtlpResource {
                    attributes: vec![
                        kv("service.name", s("api")),
                        kv("a", int(1)),
                        kv("b", int(2)),
                    ],
                    dropped_attributes_count: 1,
                    entity_refs: vec![],
                }),
                scope_spans: vec![],
                schema_url: String::new(),
            }],
        };
        let out = traces(request, &rules);
        assert_eq!(out.batch.resources[0].attributes.len(), 2);
        assert_eq!(out.batch.resources[0].dropped_attributes_count, 2);
        assert_eq!(out.batch.resources[0].service, "api");
    }
}
