//! The telemetry model the store writes and reads: OpenTelemetry's concepts
//! (resource, scope, span, log record, metric point) with none of OTLP's wire
//! types. The collector fills these from OTLP; the web layer reads them back.

use serde::{Deserialize, Serialize};

use crate::value::{Attributes, Value};

pub type TraceId = [u8; 16];
pub type SpanId = [u8; 8];

/// Everything one group commit writes. Items point at their resource and
/// scope by index, so a resource shared by thousands of spans is written once.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub resources: Vec<Resource>,
    pub scopes: Vec<Scope>,
    pub spans: Vec<Span>,
    pub logs: Vec<LogRecord>,
    pub metric_points: Vec<MetricPoint>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty() && self.logs.is_empty() && self.metric_points.is_empty()
    }

    /// Items, not requests, are what a batch is sized by.
    pub fn n_items(&self) -> usize {
        self.spans.len() + self.logs.len() + self.metric_points.len()
    }

    /// How many of each part the batch holds, so that a merged batch can be split again.
    pub(crate) fn shape(&self) -> Shape {
        Shape {
            resources: self.resources.len(),
            scopes: self.scopes.len(),
            spans: self.spans.len(),
            logs: self.logs.len(),
            metric_points: self.metric_points.len(),
        }
    }

    /// Takes the first `shape` worth of parts out of `self` (as `append` put
    /// them in), rebasing the indexes of what remains.
    pub(crate) fn split_front(&mut self, shape: Shape) -> Batch {
        let front = Batch {
            resources: self.resources.drain(..shape.resources).collect(),
            scopes: self.scopes.drain(..shape.scopes).collect(),
            spans: self.spans.drain(..shape.spans).collect(),
            logs: self.logs.drain(..shape.logs).collect(),
            metric_points: self.metric_points.drain(..shape.metric_points).collect(),
        };
        for span in &mut self.spans {
            span.resource_idx -= shape.resources;
            span.scope_idx -= shape.scopes;
        }
        for log in &mut self.logs {
            log.resource_idx -= shape.resources;
            log.scope_idx -= shape.scopes;
        }
        for point in &mut self.metric_points {
            point.resource_idx -= shape.resources;
            point.scope_idx -= shape.scopes;
        }
        front
    }

    /// Shares `wire_len` (the size of the request as received) out over the
    /// items in proportion to the sizes they already carry, whose sum over
    /// every item of the request, refused ones too, was `sized_total`.
    /// Rounded cumulatively, so the shares add up to the request's size
    /// less the share of refused items, and never drift.
    pub fn share_wire_bytes(&mut self, wire_len: u64, sized_total: u64) {
        if sized_total == 0 {
            return;
        }
        let sizes = self
            .spans
            .iter_mut()
            .map(|s| &mut s.wire_bytes)
            .chain(self.logs.iter_mut().map(|l| &mut l.wire_bytes))
            .chain(self.metric_points.iter_mut().map(|p| &mut p.wire_bytes));
        let (mut sized_so_far, mut given) = (0u128, 0u64);
        for size in sizes {
            sized_so_far += u128::from(*size);
            let due = (sized_so_far * u128::from(wire_len) / u128::from(sized_total)) as u64;
            *size = u32::try_from(due - given).unwrap_or(u32::MAX);
            given = due;
        }
    }

    /// Moves `other` to the end of `self`, rebasing its resource and scope indexes.
    pub fn append(&mut self, mut other: Batch) {
        let resource_base = self.resources.len();
        let scope_base = self.scopes.len();
        self.resources.append(&mut other.resources);
        self.scopes.append(&mut other.scopes);
        self.spans.extend(other.spans.into_iter().map(|mut span| {
            span.resource_idx += resource_base;
            span.scope_idx += scope_base;
            span
        }));
        self.logs.extend(other.logs.into_iter().map(|mut log| {
            log.resource_idx += resource_base;
            log.scope_idx += scope_base;
            log
        }));
        self.metric_points
            .extend(other.metric_points.into_iter().map(|mut point| {
                point.resource_idx += resource_base;
                point.scope_idx += scope_base;
                point
            }));
    }
}

/// The part counts of a batch; see `Batch::shape`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Shape {
    pub resources: usize,
    pub scopes: usize,
    pub spans: usize,
    pub logs: usize,
    pub metric_points: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// `service.name`, or `unknown_service` as the OpenTelemetry SDKs name it.
    pub service: String,
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
    pub schema_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    pub name: String,
    pub version: String,
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
    pub schema_url: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub resource_idx: usize,
    pub scope_idx: usize,
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    pub trace_state: String,
    pub flags: u32,
    pub name: String,
    pub kind: SpanKind,
    pub start_time_unix_nano: i64,
    pub end_time_unix_nano: i64,
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
    pub events: Vec<Event>,
    pub dropped_events_count: u32,
    pub links: Vec<Link>,
    pub dropped_links_count: u32,
    pub status: Status,
    pub derived: Derived,
    /// This span's share of the bytes of the export request that carried it.
    pub wire_bytes: u32,
}

/// Facts computed once at ingest so that searches and reports never parse
/// attributes: the request id and the semantic-convention attributes they use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Derived {
    pub request_id: Option<String>,
    pub is_error: bool,
    pub http_route: Option<String>,
    pub http_method: Option<String>,
    pub http_status_code: Option<i64>,
    pub rpc_service: Option<String>,
    pub rpc_method: Option<String>,
    pub db_system: Option<String>,
    pub exception_type: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    /// OTLP's enum numbering, which is also what the database stores.
    pub fn from_i32(kind: i32) -> SpanKind {
        match kind {
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }

    pub fn as_i32(self) -> i32 {
        match self {
            SpanKind::Unspecified => 0,
            SpanKind::Internal => 1,
            SpanKind::Server => 2,
            SpanKind::Client => 3,
            SpanKind::Producer => 4,
            SpanKind::Consumer => 5,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusCode {
    Unset,
    Ok,
    Error,
}

impl StatusCode {
    pub fn from_i32(code: i32) -> StatusCode {
        match code {
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => StatusCode::Unset,
        }
    }

    pub fn as_i32(self) -> i32 {
        match self {
            StatusCode::Unset => 0,
            StatusCode::Ok => 1,
            StatusCode::Error => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub code: StatusCode,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub time_unix_nano: i64,
    pub name: String,
    pub attributes: Attributes,
    #[serde(default)]
    pub dropped_attributes_count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    #[serde(with = "crate::value::hex_bytes")]
    pub trace_id: Vec<u8>,
    #[serde(with = "crate::value::hex_bytes")]
    pub span_id: Vec<u8>,
    pub trace_state: String,
    pub attributes: Attributes,
    #[serde(default)]
    pub dropped_attributes_count: u32,
    #[serde(default)]
    pub flags: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub resource_idx: usize,
    pub scope_idx: usize,
    /// As sent: 0 when the source did not know the time.
    pub time_unix_nano: i64,
    pub observed_time_unix_nano: i64,
    pub severity_number: i32,
    pub severity_text: String,
    pub body: Value,
    pub event_name: String,
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
    pub flags: u32,
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
    pub request_id: Option<String>,
    /// This record's share of the bytes of the export request that carried it.
    pub wire_bytes: u32,
}

impl LogRecord {
    /// The time the record is ordered and searched by.
    pub fn effective_time(&self) -> i64 {
        log_time(self.time_unix_nano, self.observed_time_unix_nano)
    }
}

/// A log record's time as sent, or when it was observed when the source
/// did not know it (0).
pub fn log_time(time_unix_nano: i64, observed_time_unix_nano: i64) -> i64 {
    if time_unix_nano != 0 {
        time_unix_nano
    } else {
        observed_time_unix_nano
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    Gauge,
    Sum,
    Histogram,
    ExponentialHistogram,
    Summary,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Gauge => "gauge",
            MetricKind::Sum => "sum",
            MetricKind::Histogram => "histogram",
            MetricKind::ExponentialHistogram => "exponential_histogram",
            MetricKind::Summary => "summary",
        }
    }

    pub fn parse(kind: &str) -> Option<MetricKind> {
        Some(match kind {
            "gauge" => MetricKind::Gauge,
            "sum" => MetricKind::Sum,
            "histogram" => MetricKind::Histogram,
            "exponential_histogram" => MetricKind::ExponentialHistogram,
            "summary" => MetricKind::Summary,
            _ => return None,
        })
    }
}

/// What identifies a metric stream apart from its point attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricDescriptor {
    pub name: String,
    pub description: String,
    pub unit: String,
    pub kind: MetricKind,
    /// OTLP's AggregationTemporality (0 unspecified, 1 delta, 2 cumulative).
    pub temporality: i32,
    pub monotonic: bool,
    pub metadata: Attributes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    pub resource_idx: usize,
    pub scope_idx: usize,
    pub metric: MetricDescriptor,
    pub attributes: Attributes,
    pub start_time_unix_nano: i64,
    pub time_unix_nano: i64,
    pub flags: u32,
    pub value: PointValue,
    pub exemplars: Vec<Exemplar>,
    /// This point's share of the bytes of the export request that carried it.
    pub wire_bytes: u32,
}

/// Serialised externally tagged, so a stored point reads
/// `{"value":3}` or `{"histogram":{…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointValue {
    /// Gauge and sum points: `Value::Int` or `Value::Double`.
    Value(Value),
    Histogram(Histogram),
    ExponentialHistogram(ExponentialHistogram),
    Summary(Summary),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub count: u64,
    #[serde(with = "crate::value::double::option")]
    pub sum: Option<f64>,
    #[serde(with = "crate::value::double::option")]
    pub min: Option<f64>,
    #[serde(with = "crate::value::double::option")]
    pub max: Option<f64>,
    pub bucket_counts: Vec<u64>,
    #[serde(with = "crate::value::double::vec")]
    pub explicit_bounds: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExponentialHistogram {
    pub count: u64,
    #[serde(with = "crate::value::double::option")]
    pub sum: Option<f64>,
    #[serde(with = "crate::value::double::option")]
    pub min: Option<f64>,
    #[serde(with = "crate::value::double::option")]
    pub max: Option<f64>,
    pub scale: i32,
    pub zero_count: u64,
    #[serde(with = "crate::value::double")]
    pub zero_threshold: f64,
    pub positive: Buckets,
    pub negative: Buckets,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Buckets {
    pub offset: i32,
    pub bucket_counts: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: u64,
    #[serde(with = "crate::value::double")]
    pub sum: f64,
    pub quantile_values: Vec<Quantile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantile {
    #[serde(with = "crate::value::double")]
    pub quantile: f64,
    #[serde(with = "crate::value::double")]
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exemplar {
    pub filtered_attributes: Attributes,
    pub time_unix_nano: i64,
    pub value: Value,
    #[serde(with = "crate::value::hex_bytes")]
    pub trace_id: Vec<u8>,
    #[serde(with = "crate::value::hex_bytes")]
    pub span_id: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(service: &str, n_logs: usize) -> Batch {
        let resource = Resource {
            service: service.into(),
            attributes: Attributes::default(),
            dropped_attributes_count: 0,
            schema_url: String::new(),
        };
        let scope = Scope {
            name: service.into(),
            version: String::new(),
            attributes: Attributes::default(),
            dropped_attributes_count: 0,
            schema_url: String::new(),
        };
        let logs = (0..n_logs)
            .map(|i| LogRecord {
                resource_idx: i % 2,
                scope_idx: 0,
                time_unix_nano: i as i64,
                observed_time_unix_nano: 0,
                severity_number: 9,
                severity_text: String::new(),
                body: Value::String(format!("{service} {i}")),
                event_name: String::new(),
                attributes: Attributes::default(),
                dropped_attributes_count: 0,
                flags: 0,
                trace_id: None,
                span_id: None,
                request_id: None,
                wire_bytes: 0,
            })
            .collect();
        Batch {
            resources: vec![resource.clone(), resource],
            scopes: vec![scope],
            logs,
            ..Batch::default()
        }
    }

    #[test]
    fn wire_bytes_are_shared_in_proportion_and_add_up() {
        let sized = |sizes: &[u32]| {
            let mut b = batch("a", sizes.len());
            for (log, size) in b.logs.iter_mut().zip(sizes) {
                log.wire_bytes = *size;
            }
            b
        };
        let shares = |b: &Batch| b.logs.iter().map(|l| l.wire_bytes).collect::<Vec<_>>();
        let cases: &[(&[u32], u64, u64, &[u32])] = &[
            // (sizes, wire length, sized total, expected shares)
            (&[10, 10, 10], 30, 30, &[10, 10, 10]),
            (&[1, 1, 1], 10, 3, &[3, 3, 4]),
            (&[50, 50], 40, 100, &[20, 20]),
            (&[30, 10], 80, 50, &[48, 16]),
            (&[0, 0], 100, 0, &[0, 0]),
        ];
        for (sizes, wire, total, expected) in cases {
            let mut b = sized(sizes);
            b.share_wire_bytes(*wire, *total);
            assert_eq!(shares(&b), *expected, "{sizes:?} of {total} over {wire}");
        }
    }

    #[test]
    fn point_numbers_keep_non_finite_values() {
        let summary = Summary {
            count: 1,
            sum: f64::INFINITY,
            quantile_values: vec![Quantile {
                quantile: 0.5,
                value: f64::NAN,
            }],
        };
        let json = serde_json::to_string(&summary).expect("serialises");
        assert_eq!(
            json,
            r#"{"count":1,"sum":{"$double":"Infinity"},"quantile_values":[{"quantile":0.5,"value":{"$double":"NaN"}}]}"#
        );
        let back: Summary = serde_json::from_str(&json).expect("parses");
        assert_eq!(back.sum, f64::INFINITY);
        assert!(back.quantile_values[0].value.is_nan());
        // What earlier versions stored for NaN (`null`) still reads.
        let old: Summary = serde_json::from_str(
            r#"{"count":1,"sum":1.5,"quantile_values":[{"quantile":0.5,"value":null}]}"#,
        )
        .expect("parses a stored null");
        assert!(old.quantile_values[0].value.is_nan());
    }

    #[test]
    fn appended_batches_split_back_into_the_originals() {
        let parts = [batch("a", 3), batch("b", 0), batch("c", 5)];
        let mut merged = Batch::default();
        for part in parts.clone() {
            merged.append(part);
        }
        assert_eq!(
            merged.logs[3].resource_idx, 4,
            "rebased past the resources of a and b"
        );
        for part in &parts {
            let front = merged.split_front(part.shape());
            assert_eq!(front.resources, part.resources);
            assert_eq!(front.scopes, part.scopes);
            assert_eq!(front.logs, part.logs);
        }
        assert!(merged.is_empty() && merged.resources.is_empty());
    }
}
