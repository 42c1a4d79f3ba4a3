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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScopeView {
    pub name: String,
    pub version: String,
    pub attributes: Attributes,
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceView {
    pub trace_id: String,
    /// Ordered by start time.
    pub spans: Vec<SpanView>,
    /// Log records carrying the trace id, oldest first.
    pub logs: Vec<LogView>,
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
    pub duration_ns: i64,
    pub span_count: i64,
    pub error_count: i64,
    /// Every service with a span in the trace, sorted.
    pub services: Vec<String>,
}

/// Filters of trace search; `None` means "any". Every filter must hold.
#[derive(Debug, Clone, Default)]
pub struct TraceQuery {
    /// A service with at least one span in the trace.
    pub service: Option<String>,
    /// A span of that name (of `service`, when given) in the trace.
    pub operation: Option<String>,
    /// `Some(true)`: traces with an error span; `Some(false)`: without.
    pub failed: Option<bool>,
    pub min_duration_ns: Option<i64>,
    pub max_duration_ns: Option<i64>,
    /// Spans with attribute `key` equal to the text `value` (strings as
    /// they are, numbers and booleans as JSON writes them).
    pub attributes: Vec<(String, String)>,
    /// Inclusive lower bound of the trace start, nanoseconds.
    pub start: Option<i64>,
    /// Exclusive upper bound of the trace start, nanoseconds.
    pub end: Option<i64>,
    pub limit: u32,
}

/// How an id matched in `Store::request`.
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
}
