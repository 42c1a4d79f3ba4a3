//! A span row of a database older than packs-only storage (ADR 0011) and
//! the pack a run of them is rewritten into: what SQL migrations could not
//! do (the packs' formats are Rust's). Each backend's conversion runs after
//! the migrations, in one transaction, so a database is either wholly
//! converted or not at all.

use crate::details::SpanDetail;
use crate::error::Result;
use crate::model::{Batch, Derived, Resource, Span, SpanKind, Status, StatusCode};
use crate::packed::Pack;
use crate::value::Attributes;

/// Span rows rewritten into one pack.
pub(crate) const PACK_SPANS: i64 = 1024;

/// The columns of an old span row that `OldSpan` reads; `s` the span rows
/// with their payload, `r` and `sc` their resource and scope.
pub(crate) const OLD_SPAN_COLUMNS: &str = "s.trace_id, s.span_id, s.parent_span_id, \
     coalesce(r.fingerprint, 0) AS resource_fp, coalesce(sc.fingerprint, 0) AS scope_fp, \
     s.service, s.name, s.kind, \
     s.start_ns, s.end_ns, s.status_code, s.status_message, s.is_error, s.trace_state, s.flags, \
     s.request_id, s.http_route, s.http_method, s.http_status, s.rpc_service, s.rpc_method, \
     s.db_system, s.exception_type, s.attributes, s.events, s.links, \
     s.dropped_attributes_count, s.dropped_events_count, s.dropped_links_count, \
     CAST(s.wire_bytes AS BIGINT) AS wire_bytes";

#[derive(sqlx::FromRow)]
pub(crate) struct OldSpan {
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Option<Vec<u8>>,
    resource_fp: i64,
    scope_fp: i64,
    service: String,
    name: String,
    kind: i32,
    start_ns: i64,
    end_ns: i64,
    status_code: i32,
    status_message: String,
    is_error: bool,
    trace_state: String,
    flags: i64,
    request_id: Option<String>,
    http_route: Option<String>,
    http_method: Option<String>,
    http_status: Option<i64>,
    rpc_service: Option<String>,
    rpc_method: Option<String>,
    db_system: Option<String>,
    exception_type: Option<String>,
    attributes: String,
    events: Option<String>,
    links: Option<String>,
    dropped_attributes_count: i64,
    dropped_events_count: i64,
    dropped_links_count: i64,
    wire_bytes: i64,
}

fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// The rows as one pack (`None` for no rows), and how many rows were
/// refused (ids of the wrong length: loupe never wrote such, but one
/// damaged row must not stop every start). The payload is carried over as
/// its stored JSON text, unparsed.
pub(crate) fn pack(rows: Vec<OldSpan>) -> (Result<Option<Pack>>, u64) {
    let total = rows.len();
    let mut batch = Batch::default();
    let mut details = Vec::with_capacity(rows.len());
    // The pack names a span's service through its resource; one resource
    // per distinct (fingerprint, service) keeps each row's own.
    let mut resources: Vec<(i64, String)> = Vec::new();
    for row in rows {
        let ids = (
            crate::read_rows::fixed_id::<16>(&row.trace_id, "trace"),
            crate::read_rows::fixed_id::<8>(&row.span_id, "span"),
            row.parent_span_id
                .as_deref()
                .map(|p| crate::read_rows::fixed_id::<8>(p, "parent span"))
                .transpose(),
        );
        let (Ok(trace_id), Ok(span_id), Ok(parent_span_id)) = ids else {
            continue;
        };
        let key = (row.resource_fp, row.service);
        let resource_idx = match resources.iter().position(|r| *r == key) {
            Some(i) => i,
            None => {
                batch.resources.push(Resource {
                    service: key.1.clone(),
                    attributes: Attributes::default(),
                    dropped_attributes_count: 0,
                    schema_url: String::new(),
                });
                resources.push(key);
                resources.len() - 1
            }
        };
        batch.spans.push(Span {
            resource_idx,
            scope_idx: 0,
            trace_id,
            span_id,
            parent_span_id,
            trace_state: String::new(),
            flags: 0,
            name: row.name,
            kind: SpanKind::from_i32(row.kind),
            start_time_unix_nano: row.start_ns,
            end_time_unix_nano: row.end_ns,
            attributes: Attributes::default(),
            dropped_attributes_count: 0,
            events: Vec::new(),
            dropped_events_count: 0,
            links: Vec::new(),
            dropped_links_count: 0,
            status: Status {
                code: StatusCode::from_i32(row.status_code),
                message: String::new(),
            },
            derived: Derived {
                request_id: None,
                is_error: row.is_error,
                http_route: row.http_route,
                http_method: row.http_method,
                http_status_code: None,
                rpc_service: row.rpc_service,
                rpc_method: row.rpc_method,
                db_system: row.db_system,
                exception_type: None,
            },
            wire_bytes: count(row.wire_bytes),
        });
        details.push(SpanDetail {
            resource: row.resource_fp,
            scope: row.scope_fp,
            status_code: row.status_code,
            status_message: row.status_message,
            trace_state: row.trace_state,
            flags: count(row.flags),
            request_id: row.request_id,
            http_status: row.http_status,
            exception_type: row.exception_type,
            dropped_attributes_count: count(row.dropped_attributes_count),
            dropped_events_count: count(row.dropped_events_count),
            dropped_links_count: count(row.dropped_links_count),
            attributes: row.attributes,
            events: row.events,
            links: row.links,
        });
    }
    let refused = (total - batch.spans.len()) as u64;
    (crate::packed::pack(&batch, &details), refused)
}

/// Logged when the conversion is done.
pub(crate) fn report(converted: u64, skipped: u64) {
    if converted > 0 {
        tracing::info!(spans = converted, "span rows rewritten into packs");
    }
    if skipped > 0 {
        tracing::warn!(
            rows = skipped,
            "span rows with ids of the wrong length were left out of the packs"
        );
    }
}

/// Logged as the conversion goes, so that a long one is seen to progress.
pub(crate) fn progress(spans: u64) {
    if spans >= 1_000_000 && spans % 1_000_000 < PACK_SPANS as u64 {
        tracing::info!(spans, "span rows rewritten into packs so far");
    }
}
