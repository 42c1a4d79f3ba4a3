//! The writer's span and trace rows (the batch's packs, the traces'
//! summaries with the packs each trace is in) and the counters, stepped through SQLite's C API on
//! the writer's own connection inside its transaction: one statement
//! prepared per batch, stepped once per row. Through sqlx every value was
//! copied into sqlx's arguments and each multi-row statement parsed and
//! compiled again.

use std::collections::HashMap;
use std::ffi::CStr;

use crate::Result;
use crate::model::{Batch, TraceId};
use crate::packed::Pack;
use crate::rows;
use crate::sqlite_scan::Db;

const PACK: &CStr = c"INSERT INTO span_packs (start_lo, start_hi, spans, data, details, \
    span_filter) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

const TRACE_KNOWN: &CStr = c"SELECT services, packs FROM traces WHERE trace_id = ?1";

const TRACE_PACKS: &CStr = c"UPDATE traces SET packs = ?2 WHERE trace_id = ?1";

/// `services` and `packs` arrive merged with the row's own (`TRACE_KNOWN`), read
/// after the batch's spans were inserted: the transaction then holds
/// SQLite's write lock, so no other connection changes the row in between.
const TRACE: &CStr = c"INSERT INTO traces (trace_id, start_ns, end_ns, span_count, error_count, \
    root_service, root_name, services, packs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
    ON CONFLICT (trace_id) DO UPDATE SET \
    start_ns = min(start_ns, excluded.start_ns), \
    end_ns = max(end_ns, excluded.end_ns), \
    span_count = span_count + excluded.span_count, \
    error_count = error_count + excluded.error_count, \
    root_service = coalesce(excluded.root_service, root_service), \
    root_name = coalesce(excluded.root_name, root_name), \
    services = excluded.services, \
    packs = excluded.packs";

const COUNTER: &CStr = c"UPDATE counters SET value = value + ?1 WHERE name = ?2";

const REQUEST_TRACE: &CStr =
    c"INSERT INTO request_traces (request_id, trace_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING";

/// The packs; returns, for each trace they hold, the ids of its packs
/// (`rows::pack_ids`) for its summary row.
pub(crate) fn packs(db: &Db, packs: &[Pack]) -> Result<HashMap<TraceId, Vec<u8>>> {
    let mut stmt = db.prepare(PACK)?;
    let mut of_trace: HashMap<TraceId, Vec<u8>> = HashMap::new();
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
            rows::pack_ids::push(of_trace.entry(*trace_id).or_default(), id);
        }
    }
    Ok(of_trace)
}

/// Adds packs (as `packs` returns them) to the summary rows of their
/// traces, for the conversion of span rows, whose traces have their rows.
pub(crate) fn link(db: &Db, packs: &HashMap<TraceId, Vec<u8>>) -> Result<()> {
    let mut known = db.prepare(TRACE_KNOWN)?;
    let mut update = db.prepare(TRACE_PACKS)?;
    for (trace_id, ids) in packs {
        known.bind_blob(1, trace_id)?;
        let Some((_, mut packs)) = known.first_text_and_blob()? else {
            continue;
        };
        packs.extend_from_slice(ids);
        update.bind_blob(1, trace_id)?;
        update.bind_blob(2, &packs)?;
        update.execute()?;
    }
    Ok(())
}

/// The batch's changes to its traces' summaries (service lists and pack
/// ids included; `packs` from `packs`) and the traces each request id is in.
pub(crate) fn traces(db: &Db, batch: &Batch, packs: &HashMap<TraceId, Vec<u8>>) -> Result<()> {
    let deltas = rows::trace_deltas(batch);
    let mut stmt = db.prepare(TRACE)?;
    let mut known = db.prepare(TRACE_KNOWN)?;
    for d in &deltas {
        known.bind_blob(1, &d.trace_id)?;
        let new_packs = packs.get(&d.trace_id).map_or(&[][..], |p| &p[..]);
        let (services, packs) = match known.first_text_and_blob()? {
            Some((stored, stored_packs)) => (
                rows::service_list::union(&stored, &d.services),
                [stored_packs, new_packs.to_vec()].concat(),
            ),
            None => (d.services.clone(), new_packs.to_vec()),
        };
        stmt.bind_blob(1, &d.trace_id)?;
        stmt.bind_int(2, d.start_ns)?;
        stmt.bind_int(3, d.end_ns)?;
        stmt.bind_int(4, d.span_count)?;
        stmt.bind_int(5, d.error_count)?;
        stmt.bind_opt_text(6, d.root_service.as_deref())?;
        stmt.bind_opt_text(7, d.root_name.as_deref())?;
        stmt.bind_text(8, &services)?;
        stmt.bind_blob(9, &packs)?;
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

/// The batch's additions to the running totals (`rows::counter_deltas`).
pub(crate) fn counters(db: &Db, batch: &Batch) -> Result<()> {
    let mut stmt = db.prepare(COUNTER)?;
    for (name, n) in rows::counter_deltas(batch) {
        if n > 0 {
            stmt.bind_int(1, i64::try_from(n).unwrap_or(i64::MAX))?;
            stmt.bind_text(2, name)?;
            stmt.execute()?;
        }
    }
    Ok(())
}
