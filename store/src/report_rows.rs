//! What the load and cost reports read: spans narrowed to what the reports
//! use (unpacked from `span_packs.data`), so a day of spans never has to be
//! held as full views.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{SpanId, TraceId};

/// A span as the reports see it: its place in the trace, its time, and
/// what names it. No attributes, events or links. The names are shared:
/// a million spans repeat a few dozen of them.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSpan {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    pub service: Arc<str>,
    pub name: Arc<str>,
    /// OTLP's SpanKind number (2 server, 3 client, 4 producer, 5 consumer).
    pub kind: i32,
    pub start_ns: i64,
    pub end_ns: i64,
    pub is_error: bool,
    pub http_route: Option<Arc<str>>,
    pub http_method: Option<Arc<str>>,
    pub rpc_service: Option<Arc<str>>,
    pub rpc_method: Option<Arc<str>>,
    pub db_system: Option<Arc<str>>,
    pub wire_bytes: i64,
}

/// The log records one span wrote in the window; `span_id` is `None` for
/// records that carry a trace id only.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanLogs {
    pub trace_id: TraceId,
    pub span_id: Option<SpanId>,
    pub records: u64,
    pub wire_bytes: u64,
}

/// Log records of one source: service, severity and the logger (scope).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogSource {
    pub service: String,
    pub severity_number: i32,
    pub severity_text: String,
    pub scope: String,
    pub records: u64,
    pub wire_bytes: u64,
}

/// The points one metric stream (metric of one resource) received in the
/// window, and how many distinct attribute sets (series) they had.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricUsage {
    pub service: String,
    pub name: String,
    pub kind: String,
    pub points: u64,
    pub wire_bytes: u64,
    pub series: u64,
}

/// What one ingest key sent in a window: the items of each signal and
/// their bytes on the wire.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KeyUsage {
    pub key: String,
    pub spans: u64,
    pub logs: u64,
    pub metric_points: u64,
    pub wire: SignalBytes,
}

/// The stored attributes of a sample of items, for the bytes per key.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeSample {
    /// "span" or "log".
    pub signal: &'static str,
    pub service: String,
    /// The trace a span belongs to, for what repeats within a trace; none
    /// for a log record.
    pub trace_id: Option<crate::model::TraceId>,
    /// A span's name; empty for a log record.
    pub name: String,
    /// As stored: the JSON object of `value::Attributes`.
    pub attributes: String,
}

/// Bytes and bytes received of each signal's tables and indexes, all time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SignalBytes {
    pub spans: u64,
    pub logs: u64,
    pub metric_points: u64,
}

/// Which signal a table or index belongs to, for the bytes each signal
/// occupies; `None` for what all signals share (resources, scopes, counters).
pub(crate) fn signal_of_table(table: &str) -> Option<Signal> {
    if table == "spans"
        || table.starts_with("spans_")
        || table.starts_with("span_packs")
        || table.starts_with("trace")
        || table.starts_with("request_traces")
        || table.starts_with("rollups")
        || table == "payload_dicts"
    {
        Some(Signal::Spans)
    } else if table == "logs" || table.starts_with("logs_") || table.starts_with("log_packs") {
        Some(Signal::Logs)
    } else if table.starts_with("metric") {
        Some(Signal::MetricPoints)
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    Spans,
    Logs,
    MetricPoints,
}

impl SignalBytes {
    /// Sums (table, bytes) by the signal each table belongs to.
    pub(crate) fn of_tables<'a>(sizes: impl IntoIterator<Item = (&'a str, u64)>) -> SignalBytes {
        let mut bytes = SignalBytes::default();
        for (table, size) in sizes {
            match signal_of_table(table) {
                Some(Signal::Spans) => bytes.spans += size,
                Some(Signal::Logs) => bytes.logs += size,
                Some(Signal::MetricPoints) => bytes.metric_points += size,
                None => {}
            }
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_belong_to_their_signal() {
        for (table, signal) in [
            ("spans", Some(Signal::Spans)),
            ("spans_payload", Some(Signal::Spans)),
            ("spans_packed", Some(Signal::Spans)),
            ("span_packs", Some(Signal::Spans)),
            ("traces", Some(Signal::Spans)),
            ("request_traces", Some(Signal::Spans)),
            ("rollups", Some(Signal::Spans)),
            ("rollups_minute", Some(Signal::Spans)),
            ("logs", Some(Signal::Logs)),
            ("logs_fts_data", Some(Signal::Logs)),
            ("log_packs", Some(Signal::Logs)),
            ("log_packs_window", Some(Signal::Logs)),
            ("metric_points", Some(Signal::MetricPoints)),
            ("metrics", Some(Signal::MetricPoints)),
            ("resources", None),
            ("counters", None),
        ] {
            assert_eq!(signal_of_table(table), signal, "{table}");
        }
    }
}
