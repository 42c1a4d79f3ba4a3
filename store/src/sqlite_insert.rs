//! The writer's span and trace rows (each span as its narrow row in `spans`
//! and its payload in `spans_payload`, and the batch's pack), stepped
//! through SQLite's C API on the writer's own connection inside its
//! transaction: one statement prepared per batch, stepped once per row. Through sqlx each batch was a multi-row
//! INSERT of some 30 000 parameters: every value copied into sqlx's
//! arguments, then the whole statement parsed and compiled by SQLite, about
//! a third of the writer's time.

use std::ffi::CStr;

use crate::Result;
use crate::model::Batch;
use crate::payload::Stored;
use crate::rows;
use crate::sqlite_scan::Db;

const SPAN: &CStr = c"INSERT INTO spans (trace_id, span_id, parent_span_id, resource_id, \
    scope_id, service, name, kind, start_ns, end_ns, status_code, status_message, is_error, \
    trace_state, flags, request_id, http_route, http_method, http_status, rpc_service, \
    rpc_method, db_system, exception_type, dropped_attributes_count, dropped_events_count, \
    dropped_links_count, wire_bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
    ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)";

/// A span's payload, under the id its narrow row was given.
const PAYLOAD: &CStr =
    c"INSERT INTO spans_payload (id, attributes, events, links) VALUES (?1, ?2, ?3, ?4)";

const PACK: &CStr =
    c"INSERT INTO spans_packed (start_lo, start_hi, spans, data) VALUES (?1, ?2, ?3, ?4)";

/// `services` arrives merged with the row's own (`TRACE_SERVICES`), read
/// after the batch's spans were inserted: the transaction then holds
/// SQLite's write lock, so no other connection changes the row in between.
const TRACE: &CStr = c"INSERT INTO traces (trace_id, start_ns, end_ns, span_count, error_count, \
    root_service, root_name, services) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
    ON CONFLICT (trace_id) DO UPDATE SET \
    start_ns = min(start_ns, excluded.start_ns), \
    end_ns = max(end_ns, excluded.end_ns), \
    span_count = span_count + excluded.span_count, \
    error_count = error_count + excluded.error_count, \
    root_service = coalesce(excluded.root_service, root_service), \
    root_name = coalesce(excluded.root_name, root_name), \
    services = excluded.services";

const TRACE_SERVICES: &CStr = c"SELECT services FROM traces WHERE trace_id = ?1";

const REQUEST_TRACE: &CStr =
    c"INSERT INTO request_traces (request_id, trace_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING";

/// The batch's spans; `payloads` are their encoded payloads, by index;
/// `resource_ids` and `scope_ids` the interned rows of the batch's
/// resources and scopes, by index.
pub(crate) fn spans(
    db: &Db,
    batch: &Batch,
    payloads: &[[Option<Stored>; 3]],
    resource_ids: &[i64],
    scope_ids: &[i64],
) -> Result<()> {
    if payloads.len() != batch.spans.len() {
        return Err(crate::StoreError::Scan(format!(
            "{} span payloads for {} spans",
            payloads.len(),
            batch.spans.len()
        )));
    }
    let mut stmt = db.prepare(SPAN)?;
    let mut payload = db.prepare(PAYLOAD)?;
    for (span, values) in batch.spans.iter().zip(payloads) {
        let d = &span.derived;
        stmt.bind_blob(1, &span.trace_id)?;
        stmt.bind_blob(2, &span.span_id)?;
        match &span.parent_span_id {
            Some(parent) => stmt.bind_blob(3, parent)?,
            None => stmt.bind_null(3)?,
        }
        stmt.bind_int(4, resource_ids[span.resource_idx])?;
        stmt.bind_int(5, scope_ids[span.scope_idx])?;
        stmt.bind_text(6, &batch.resources[span.resource_idx].service)?;
        stmt.bind_text(7, &span.name)?;
        stmt.bind_int(8, i64::from(span.kind.as_i32()))?;
        stmt.bind_int(9, span.start_time_unix_nano)?;
        stmt.bind_int(10, span.end_time_unix_nano)?;
        stmt.bind_int(11, i64::from(span.status.code.as_i32()))?;
        stmt.bind_text(12, &span.status.message)?;
        stmt.bind_int(13, i64::from(d.is_error))?;
        stmt.bind_text(14, &span.trace_state)?;
        stmt.bind_int(15, i64::from(span.flags))?;
        stmt.bind_opt_text(16, d.request_id.as_deref())?;
        stmt.bind_opt_text(17, d.http_route.as_deref())?;
        stmt.bind_opt_text(18, d.http_method.as_deref())?;
        match d.http_status_code {
            Some(code) => stmt.bind_int(19, code)?,
            None => stmt.bind_null(19)?,
        }
        stmt.bind_opt_text(20, d.rpc_service.as_deref())?;
        stmt.bind_opt_text(21, d.rpc_method.as_deref())?;
        stmt.bind_opt_text(22, d.db_system.as_deref())?;
        stmt.bind_opt_text(23, d.exception_type.as_deref())?;
        stmt.bind_int(24, i64::from(span.dropped_attributes_count))?;
        stmt.bind_int(25, i64::from(span.dropped_events_count))?;
        stmt.bind_int(26, i64::from(span.dropped_links_count))?;
        stmt.bind_int(27, i64::from(span.wire_bytes))?;
        stmt.execute()?;
        payload.bind_int(1, db.last_insert_rowid())?;
        for (index, value) in (2..).zip(values) {
            match value {
                Some(Stored::Text(text)) => payload.bind_text(index, text)?,
                Some(Stored::Compressed(blob)) => payload.bind_blob(index, blob)?,
                None => payload.bind_null(index)?,
            }
        }
        payload.execute()?;
    }
    Ok(())
}

/// The batch's spans again, packed into one value for the reports.
pub(crate) fn pack(db: &Db, batch: &Batch) -> Result<()> {
    let Some(pack) = crate::packed::pack(batch) else {
        return Ok(());
    };
    let mut stmt = db.prepare(PACK)?;
    stmt.bind_int(1, pack.start_lo)?;
    stmt.bind_int(2, pack.start_hi)?;
    stmt.bind_int(3, i64::from(pack.spans))?;
    stmt.bind_blob(4, &pack.data)?;
    stmt.execute()
}

/// The batch's changes to its traces' summaries (service lists included)
/// and the traces each request id is in.
pub(crate) fn traces(db: &Db, batch: &Batch) -> Result<()> {
    let deltas = rows::trace_deltas(batch);
    let mut stmt = db.prepare(TRACE)?;
    let mut known = db.prepare(TRACE_SERVICES)?;
    for d in &deltas {
        known.bind_blob(1, &d.trace_id)?;
        let services = match known.first_text()? {
            Some(stored) => rows::service_list::union(&stored, &d.services),
            None => d.services.clone(),
        };
        stmt.bind_blob(1, &d.trace_id)?;
        stmt.bind_int(2, d.start_ns)?;
        stmt.bind_int(3, d.end_ns)?;
        stmt.bind_int(4, d.span_count)?;
        stmt.bind_int(5, d.error_count)?;
        stmt.bind_opt_text(6, d.root_service.as_deref())?;
        stmt.bind_opt_text(7, d.root_name.as_deref())?;
        stmt.bind_text(8, &services)?;
        stmt.execute()?;
    }
    let mut stmt = db.prepare(REQUEST_TRACE)?;
    for (request_id, trace_id) in rows::request_traces(batch) {
        stmt.bind_text(1, request_id)?;
        stmt.bind_blob(2, &trace_id)?;
        stmt.execute()?;
    }
    Ok(())
}
