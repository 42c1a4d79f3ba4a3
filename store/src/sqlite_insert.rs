//! The writer's span and trace rows (the batch's packs, the packs each
//! trace is in, the traces' summaries), stepped through SQLite's C API on
//! the writer's own connection inside its transaction: one statement
//! prepared per batch, stepped once per row. Through sqlx every value was
//! copied into sqlx's arguments and each multi-row statement parsed and
//! compiled again.

use std::ffi::CStr;

use crate::Result;
use crate::model::Batch;
use crate::packed::Pack;
use crate::rows;
use crate::sqlite_scan::Db;

const PACK: &CStr = c"INSERT INTO span_packs (start_lo, start_hi, spans, data, details, \
    span_filter) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

const TRACE_PACK: &CStr = c"INSERT INTO trace_packs (trace_id, pack) VALUES (?1, ?2)";

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

/// The packs, and for each trace of each the row that names the pack.
pub(crate) fn packs(db: &Db, packs: &[Pack]) -> Result<()> {
    let mut stmt = db.prepare(PACK)?;
    let mut trace = db.prepare(TRACE_PACK)?;
    for pack in packs {
        stmt.bind_int(1, pack.start_lo)?;
        stmt.bind_int(2, pack.start_hi)?;
        stmt.bind_int(3, i64::from(pack.spans))?;
        stmt.bind_blob(4, &pack.data)?;
        stmt.bind_blob(5, &pack.details)?;
        stmt.bind_blob(6, &pack.span_filter)?;
        stmt.execute()?;
        let id = db.last_insert_rowid();
        for trace_id in &pack.traces {
            trace.bind_blob(1, trace_id)?;
            trace.bind_int(2, id)?;
            trace.execute()?;
        }
    }
    Ok(())
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
