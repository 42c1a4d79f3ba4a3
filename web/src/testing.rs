//! What the unit tests of this crate share.

use store::ScopeView;
use store::SpanView;
use store::model::{SpanKind, Status, StatusCode};
use store::value::Attributes;

/// A span of service `svc` named after its id, with nothing else set; tests
/// change the fields they are about.
pub fn span(trace: &str, id: &str, parent: Option<&str>, start: i64, end: i64) -> SpanView {
    SpanView {
        trace_id: trace.into(),
        span_id: id.into(),
        parent_span_id: parent.map(str::to_owned),
        service: "svc".into(),
        name: id.into(),
        kind: SpanKind::Internal,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        duration_ns: end - start,
        status: Status {
            code: StatusCode::Unset,
            message: String::new(),
        },
        is_error: false,
        attributes: Attributes::default(),
        resource: Attributes::default(),
        resource_schema_url: String::new(),
        scope: ScopeView {
            name: String::new(),
            version: String::new(),
            attributes: Attributes::default(),
        },
        events: vec![],
        links: vec![],
        trace_state: String::new(),
        flags: 0,
        dropped_attributes_count: 0,
        dropped_events_count: 0,
        dropped_links_count: 0,
        request_id: None,
    }
}

/// Marks a span as failed, as ingest would for an ERROR status.
pub fn failed(mut span: SpanView) -> SpanView {
    span.status.code = StatusCode::Error;
    span.is_error = true;
    span
}
