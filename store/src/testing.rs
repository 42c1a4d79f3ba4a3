//! What the unit tests build their batches from.

use crate::model::{Derived, Span, SpanKind, Status, StatusCode};
use crate::value::Attributes;

pub(crate) fn span(
    trace: u8,
    span: u8,
    parent: Option<u8>,
    start: i64,
    end: i64,
    error: bool,
) -> Span {
    Span {
        resource_idx: 0,
        scope_idx: 0,
        trace_id: [trace; 16],
        span_id: [span; 8],
        parent_span_id: parent.map(|p| [p; 8]),
        trace_state: String::new(),
        flags: 0,
        name: format!("op{span}"),
        kind: SpanKind::Server,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes: Attributes::default(),
        dropped_attributes_count: 0,
        events: vec![],
        dropped_events_count: 0,
        links: vec![],
        dropped_links_count: 0,
        status: Status {
            code: StatusCode::Unset,
            message: String::new(),
        },
        derived: Derived {
            is_error: error,
            ..Derived::default()
        },
        wire_bytes: 0,
    }
}
