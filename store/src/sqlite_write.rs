//! The SQLite writer's transaction, stepped through SQLite's C API on the
//! writer's own connection (`SqliteStore`'s, which sqlx never sees) in one
//! blocking call, from `BEGIN` to `COMMIT`: each statement prepared once
//! per batch and stepped once per row. Through sqlx, every value was copied
//! into sqlx's arguments, each multi-row statement parsed and compiled
//! again, and taking the connection, `BEGIN` and `COMMIT` were each a trip
//! to sqlx's thread and back (docs/adr/0012). The conversion of older
//! databases uses `packs` and `link` on sqlx's connection, lent.

use std::collections::HashMap;
use std::ffi::CStr;

use crate::error::Result;
use crate::log_packs::LogPack;
use crate::model::{Batch, TraceId};
use crate::packed::Pack;
use crate::rollup;
use crate::sqlite_ffi::{Db, Stmt};
use crate::stored_json::json_list;
use crate::trace_lists::{pack_ids, service_list};
use crate::write_rows::{
    self, InternRows, counter_deltas, point_number, point_value_json, request_traces, trace_deltas,
};

/// What one batch becomes, and the ids already known of its resources,
/// scopes and metrics (`None` where not interned yet).
pub(crate) struct Write<'a> {
    pub batch: &'a Batch,
    pub packs: &'a [Pack],
    pub log_packs: &'a [LogPack],
    pub rollups: &'a [(rollup::Key, rollup::Figures)],
    /// The minutes whose report rollups the batch makes stale.
    pub stale: &'a [i64],
    pub rows: &'a InternRows,
    pub cached: [Vec<Option<i64>>; 3],
}

/// Writes the batch in one transaction; returns the ids of its resources,
/// scopes and metrics, in the order of `Write`'s rows.
pub(crate) fn write(db: &Db, w: Write<'_>) -> Result<[Vec<i64>; 3]> {
    transaction(db, |db| {
        let [resources, scopes, metrics] = w.cached;
        let resource_ids = intern(
            db,
            RESOURCE,
            c"SELECT id FROM resources WHERE fingerprint = ?1",
            &w.rows.resources,
            resources,
            |r| r.fingerprint,
            |stmt, r| {
                stmt.bind_int(1, r.fingerprint)?;
                stmt.bind_text(2, &r.service)?;
                stmt.bind_text(3, &r.attributes)?;
                stmt.bind_int(4, r.dropped_attributes_count)?;
                stmt.bind_text(5, &r.schema_url)
            },
        )?;
        let scope_ids = intern(
            db,
            SCOPE,
            c"SELECT id FROM scopes WHERE fingerprint = ?1",
            &w.rows.scopes,
            scopes,
            |s| s.fingerprint,
            |stmt, s| {
                stmt.bind_int(1, s.fingerprint)?;
                stmt.bind_text(2, &s.name)?;
                stmt.bind_text(3, &s.version)?;
                stmt.bind_text(4, &s.attributes)?;
                stmt.bind_int(5, s.dropped_attributes_count)?;
                stmt.bind_text(6, &s.schema_url)
            },
        )?;
        let metric_ids = intern(
            db,
            METRIC,
            c"SELECT id FROM metrics WHERE fingerprint = ?1",
            &w.rows.metrics,
            metrics,
            |m| m.fingerprint,
            |stmt, m| {
                stmt.bind_int(1, m.fingerprint)?;
                stmt.bind_int(2, resource_ids[m.resource_idx])?;
                stmt.bind_int(3, scope_ids[m.scope_idx])?;
                stmt.bind_text(4, &m.name)?;
                stmt.bind_text(5, m.kind)?;
                stmt.bind_text(6, &m.unit)?;
                stmt.bind_text(7, &m.description)?;
                stmt.bind_int(8, i64::from(m.temporality))?;
                stmt.bind_int(9, i64::from(m.monotonic))?;
                stmt.bind_text(10, &m.metadata)
            },
        )?;
        log_packs(db, w.log_packs)?;
        points(db, w.batch, &w.rows.point_metric, &metric_ids)?;
        if !w.batch.spans.is_empty() {
            let trace_packs = packs(db, w.packs)?;
            traces(db, w.batch, &trace_packs)?;
        }
        insert_rollups(db, w.rollups, rollup::Destination::Appended)?;
        mark_stale(db, w.stale)?;
        key_usage(db, w.batch)?;
        operations(db, w.batch)?;
        counters(db, w.batch)?;
        Ok([resource_ids, scope_ids, metric_ids])
    })
}

/// Runs `f` between `BEGIN IMMEDIATE` and `COMMIT`, rolling back when
/// either fails. A transaction some earlier call left open (it panicked)
/// is rolled back first rather than joined.
pub(crate) fn transaction<T>(db: &Db, f: impl FnOnce(&Db) -> Result<T>) -> Result<T> {
    if !db.autocommit() {
        db.exec(c"ROLLBACK")?;
    }
    db.exec(c"BEGIN IMMEDIATE")?;
    let done = f(db).and_then(|value| db.exec(c"COMMIT").map(|()| value));
    if done.is_err() && !db.autocommit() {
        // The error being returned says what went wrong; a failed rollback
        // leaves the transaction to the next call's check above.
        let _ = db.exec(c"ROLLBACK");
    }
    done
}

const RESOURCE: &CStr = c"INSERT INTO resources (fingerprint, service, attributes, \
    dropped_attributes_count, schema_url) VALUES (?1, ?2, ?3, ?4, ?5) \
    ON CONFLICT (fingerprint) DO NOTHING";

const SCOPE: &CStr = c"INSERT INTO scopes (fingerprint, name, version, attributes, \
    dropped_attributes_count, schema_url) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
    ON CONFLICT (fingerprint) DO NOTHING";

const METRIC: &CStr = c"INSERT INTO metrics (fingerprint, resource_id, scope_id, name, kind, \
    unit, description, temporality, monotonic, metadata) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (fingerprint) DO NOTHING";

/// Row ids for `rows`: the cached ones as they are; the others inserted
/// unless a row of the same fingerprint exists, then looked up.
fn intern<R>(
    db: &Db,
    insert: &CStr,
    select: &CStr,
    rows: &[R],
    cached: Vec<Option<i64>>,
    fingerprint: impl Fn(&R) -> i64,
    bind: impl Fn(&mut Stmt<'_>, &R) -> Result<()>,
) -> Result<Vec<i64>> {
    if cached.iter().all(Option::is_some) {
        return Ok(cached.into_iter().flatten().collect());
    }
    let mut insert = db.prepare(insert)?;
    let mut select = db.prepare(select)?;
    rows.iter()
        .zip(cached)
        .map(|(row, id)| match id {
            Some(id) => Ok(id),
            None => {
                bind(&mut insert, row)?;
                insert.execute()?;
                select.bind_int(1, fingerprint(row))?;
                select.first_int()?.ok_or_else(|| {
                    crate::error::StoreError::Corrupt(format!(
                        "row {} vanished while interning",
                        fingerprint(row)
                    ))
                })
            }
        })
        .collect()
}

const LOG_PACK: &CStr = c"INSERT INTO log_packs (ts_lo, ts_hi, records, ids, terms, data) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

pub(crate) fn log_packs(db: &Db, packs: &[LogPack]) -> Result<()> {
    if packs.is_empty() {
        return Ok(());
    }
    let mut stmt = db.prepare(LOG_PACK)?;
    for pack in packs {
        stmt.bind_int(1, pack.ts_lo)?;
        stmt.bind_int(2, pack.ts_hi)?;
        stmt.bind_int(3, i64::from(pack.records))?;
        stmt.bind_blob(4, &pack.ids)?;
        stmt.bind_opt_blob(5, pack.terms.as_deref())?;
        stmt.bind_blob(6, &pack.data)?;
        stmt.execute()?;
    }
    Ok(())
}

const POINT: &CStr = c"INSERT INTO metric_points (metric_id, attributes, start_ns, time_ns, \
    flags, number, data, exemplars, wire_bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

fn points(db: &Db, batch: &Batch, point_metric: &[usize], metric_ids: &[i64]) -> Result<()> {
    if batch.metric_points.is_empty() {
        return Ok(());
    }
    let mut stmt = db.prepare(POINT)?;
    for (point, metric_idx) in batch.metric_points.iter().zip(point_metric) {
        stmt.bind_int(1, metric_ids[*metric_idx])?;
        stmt.bind_text(2, &point.attributes.to_json_string())?;
        stmt.bind_int(3, point.start_time_unix_nano)?;
        stmt.bind_int(4, point.time_unix_nano)?;
        stmt.bind_int(5, i64::from(point.flags))?;
        stmt.bind_opt_double(6, point_number(&point.value).filter(|n| n.is_finite()))?;
        stmt.bind_text(7, &point_value_json(&point.value))?;
        stmt.bind_opt_text(8, json_list(&point.exemplars).as_deref())?;
        stmt.bind_int(9, i64::from(point.wire_bytes))?;
        stmt.execute()?;
    }
    Ok(())
}

const PACK: &CStr = c"INSERT INTO span_packs (start_lo, start_hi, spans, data, details, \
    span_filter, terms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// A trace's summary row: its id, service list and pack ids. Read after the
/// batch's packs were inserted: the transaction then holds SQLite's write
/// lock, so no other connection changes the row before it is written back.
const TRACE_KNOWN: &CStr = c"SELECT id, services, packs FROM traces WHERE trace_id = ?1";

const TRACE_PACKS: &CStr = c"UPDATE traces SET packs = ?2 WHERE id = ?1";

const TRACE_NEW: &CStr = c"INSERT INTO traces (trace_id, start_ns, end_ns, span_count, \
    error_count, root_service, root_name, services, packs, entry_rank, entry_start_ns, \
    entry_ns, entry_status, request_id, error_message) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";

/// A known trace's row (`?1` its id, found by `TRACE_KNOWN`) with a batch's
/// delta added; `services` and `packs` arrive merged with the row's own.
/// The batch's entry candidate (`?10`-`?13`, or NULLs) replaces the row's
/// when it is the lesser (`write_rows::Entry`); every right-hand side
/// reads the row as it was. The first request id and error message stay.
const TRACE_ADD: &CStr = c"UPDATE traces SET \
    start_ns = min(start_ns, ?2), \
    end_ns = max(end_ns, ?3), \
    span_count = span_count + ?4, \
    error_count = error_count + ?5, \
    root_service = coalesce(?6, root_service), \
    root_name = coalesce(?7, root_name), \
    services = ?8, \
    packs = ?9, \
    entry_rank = CASE WHEN (?10, ?11) < (coalesce(entry_rank, 9), coalesce(entry_start_ns, 0)) \
        THEN ?10 ELSE entry_rank END, \
    entry_start_ns = CASE WHEN (?10, ?11) < (coalesce(entry_rank, 9), coalesce(entry_start_ns, 0)) \
        THEN ?11 ELSE entry_start_ns END, \
    entry_ns = CASE WHEN (?10, ?11) < (coalesce(entry_rank, 9), coalesce(entry_start_ns, 0)) \
        THEN ?12 ELSE entry_ns END, \
    entry_status = CASE WHEN (?10, ?11) < (coalesce(entry_rank, 9), coalesce(entry_start_ns, 0)) \
        THEN ?13 ELSE entry_status END, \
    request_id = coalesce(request_id, ?14), \
    error_message = coalesce(error_message, ?15) \
    WHERE id = ?1";

const COUNTER: &CStr = c"UPDATE counters SET value = value + ?1 WHERE name = ?2";

const REQUEST_TRACE: &CStr =
    c"INSERT INTO request_traces (request_id, trace_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING";

/// The packs; returns, for each trace they hold, the ids of its packs
/// (`trace_lists::pack_ids`) for its summary row.
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
        stmt.bind_opt_blob(7, pack.terms.as_deref())?;
        stmt.execute()?;
        let id = db.last_insert_rowid();
        for trace_id in &pack.traces {
            pack_ids::push(of_trace.entry(*trace_id).or_default(), id);
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
        let Some((id, _, mut packs)) = known.first_summary()? else {
            continue;
        };
        packs.extend_from_slice(ids);
        update.bind_int(1, id)?;
        update.bind_blob(2, &packs)?;
        update.execute()?;
    }
    Ok(())
}

/// The batch's changes to its traces' summaries (service lists and pack
/// ids included; `packs` from `packs`) and the traces each request id is in.
fn traces(db: &Db, batch: &Batch, packs: &HashMap<TraceId, Vec<u8>>) -> Result<()> {
    let deltas = trace_deltas(batch);
    let mut known = db.prepare(TRACE_KNOWN)?;
    let mut insert = db.prepare(TRACE_NEW)?;
    let mut add = db.prepare(TRACE_ADD)?;
    for d in &deltas {
        known.bind_blob(1, &d.trace_id)?;
        let new_packs = packs.get(&d.trace_id).map_or(&[][..], |p| &p[..]);
        // A known trace is updated through the id found, rather than by an
        // upsert that would look its trace id up in the index again.
        let (stmt, services, packs) = match known.first_summary()? {
            Some((id, stored, mut stored_packs)) => {
                add.bind_int(1, id)?;
                stored_packs.extend_from_slice(new_packs);
                (
                    &mut add,
                    service_list::union(&stored, &d.services),
                    stored_packs,
                )
            }
            None => {
                insert.bind_blob(1, &d.trace_id)?;
                (&mut insert, d.services.clone(), new_packs.to_vec())
            }
        };
        stmt.bind_int(2, d.start_ns)?;
        stmt.bind_int(3, d.end_ns)?;
        stmt.bind_int(4, d.span_count)?;
        stmt.bind_int(5, d.error_count)?;
        stmt.bind_opt_text(6, d.root_service.as_deref())?;
        stmt.bind_opt_text(7, d.root_name.as_deref())?;
        stmt.bind_text(8, &services)?;
        stmt.bind_blob(9, &packs)?;
        match d.entry {
            Some(entry) => {
                stmt.bind_int(10, entry.rank)?;
                stmt.bind_int(11, entry.start_ns)?;
                stmt.bind_int(12, entry.duration_ns)?;
                match entry.status {
                    Some(status) => stmt.bind_int(13, status)?,
                    None => stmt.bind_null(13)?,
                }
            }
            None => {
                for i in 10..=13 {
                    stmt.bind_null(i)?;
                }
            }
        }
        stmt.bind_opt_text(14, d.request_id.as_deref())?;
        stmt.bind_opt_text(15, d.error_message.as_deref())?;
        stmt.execute()?;
    }
    let mut stmt = db.prepare(REQUEST_TRACE)?;
    for (request_id, trace_id) in request_traces(batch) {
        stmt.bind_text(1, request_id)?;
        stmt.bind_blob(2, &trace_id)?;
        stmt.execute()?;
    }
    Ok(())
}

const ROLLUP: &CStr = c"INSERT INTO rollups (minute, service, name, version, requests, \
    errors, duration_ns, sketch, merged) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
const HOURLY: &CStr = c"INSERT INTO rollups_hourly (minute, service, name, version, requests, \
    errors, duration_ns, sketch) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// Inserts rollup rows where `to` says.
pub(crate) fn insert_rollups(
    db: &Db,
    rows: &[(rollup::Key, rollup::Figures)],
    to: rollup::Destination,
) -> Result<()> {
    let (sql, merged) = match to {
        rollup::Destination::Appended => (ROLLUP, Some(false)),
        rollup::Destination::Merged => (ROLLUP, Some(true)),
        rollup::Destination::Hourly => (HOURLY, None),
    };
    let mut stmt = db.prepare(sql)?;
    let mut sketch = Vec::new();
    for (key, figures) in rows {
        sketch.clear();
        figures.sketch.encode(&mut sketch);
        stmt.bind_int(1, key.minute)?;
        stmt.bind_text(2, &key.service)?;
        stmt.bind_text(3, &key.name)?;
        stmt.bind_text(4, &key.version)?;
        stmt.bind_int(5, figures.requests)?;
        stmt.bind_int(6, figures.errors)?;
        stmt.bind_int(7, figures.duration_ns)?;
        stmt.bind_blob(8, &sketch)?;
        if let Some(merged) = merged {
            stmt.bind_int(9, i64::from(merged))?;
        }
        stmt.execute()?;
    }
    Ok(())
}

const STALE: &CStr = c"INSERT INTO report_rollups_stale (minute, at_ns) VALUES (?1, ?2)";

fn mark_stale(db: &Db, minutes: &[i64]) -> Result<()> {
    let mut stmt = db.prepare(STALE)?;
    let at = crate::report_rollups::now_ns();
    for &minute in minutes {
        stmt.bind_int(1, minute)?;
        stmt.bind_int(2, at)?;
        stmt.execute()?;
    }
    Ok(())
}

const KEY_USAGE: &CStr = c"INSERT INTO key_usage (minute, key, spans, logs, metric_points, \
    spans_wire_bytes, logs_wire_bytes, metric_points_wire_bytes) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (minute, key) DO UPDATE SET \
    spans = spans + excluded.spans, logs = logs + excluded.logs, \
    metric_points = metric_points + excluded.metric_points, \
    spans_wire_bytes = spans_wire_bytes + excluded.spans_wire_bytes, \
    logs_wire_bytes = logs_wire_bytes + excluded.logs_wire_bytes, \
    metric_points_wire_bytes = metric_points_wire_bytes + excluded.metric_points_wire_bytes";

/// What each ingest key sent in the batch, added to its minutes' rows.
fn key_usage(db: &Db, batch: &Batch) -> Result<()> {
    let rows = write_rows::key_usage(batch);
    if rows.is_empty() {
        return Ok(());
    }
    let mut stmt = db.prepare(KEY_USAGE)?;
    for row in &rows {
        stmt.bind_int(1, row.minute)?;
        stmt.bind_text(2, &row.key)?;
        for (i, n) in row.items.iter().chain(&row.wire_bytes).enumerate() {
            stmt.bind_int(3 + i as i32, *n)?;
        }
        stmt.execute()?;
    }
    Ok(())
}

const OPERATION: &CStr = c"INSERT OR IGNORE INTO operations (minute, service, name, kind) \
    VALUES (?1, ?2, ?3, ?4)";

/// The batch's operations, each hour's once.
fn operations(db: &Db, batch: &Batch) -> Result<()> {
    let rows = rollup::operations(batch);
    if rows.is_empty() {
        return Ok(());
    }
    let mut stmt = db.prepare(OPERATION)?;
    for (minute, service, name, kind) in rows {
        stmt.bind_int(1, minute)?;
        stmt.bind_text(2, service)?;
        stmt.bind_text(3, name)?;
        stmt.bind_int(4, i64::from(kind))?;
        stmt.execute()?;
    }
    Ok(())
}

/// The batch's additions to the running totals (`counter_deltas`).
fn counters(db: &Db, batch: &Batch) -> Result<()> {
    let mut stmt = db.prepare(COUNTER)?;
    for (name, n) in counter_deltas(batch) {
        if n > 0 {
            stmt.bind_int(1, i64::try_from(n).unwrap_or(i64::MAX))?;
            stmt.bind_text(2, name)?;
            stmt.execute()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(db: &Db) -> i64 {
        let mut stmt = db.prepare(c"SELECT count(*) FROM t").expect("prepare");
        stmt.first_int().expect("count").expect("a row")
    }

    #[test]
    fn a_transaction_commits_all_or_nothing_and_never_joins_one_left_open() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.db");
        std::fs::write(&path, b"").expect("empty file");
        let db = Db::open_writer(&path, &[("journal_mode", "WAL")]).expect("open");
        db.exec(c"CREATE TABLE t (x INTEGER)").expect("create");

        let failed = transaction(&db, |db| {
            db.exec(c"INSERT INTO t VALUES (1)")?;
            Err::<(), _>(crate::error::StoreError::Scan("refused".into()))
        });
        assert!(failed.is_err());
        assert!(db.autocommit(), "the failed transaction is rolled back");
        assert_eq!(count(&db), 0);

        // As if an earlier write had panicked between BEGIN and COMMIT.
        db.exec(c"BEGIN IMMEDIATE").expect("begin");
        db.exec(c"INSERT INTO t VALUES (2)").expect("insert");
        transaction(&db, |db| db.exec(c"INSERT INTO t VALUES (3)")).expect("commit");
        assert!(db.autocommit());
        let mut only = db.prepare(c"SELECT x FROM t").expect("prepare");
        assert_eq!(only.first_int().expect("row"), Some(3));
        drop(only);
        assert_eq!(count(&db), 1);

        // A statement the database refuses fails the transaction the same way.
        let refused = transaction(&db, |db| {
            db.exec(c"INSERT INTO t VALUES (4)")?;
            db.exec(c"INSERT INTO missing VALUES (5)")
        });
        assert!(refused.is_err());
        assert!(db.autocommit());
        assert_eq!(count(&db), 1);
    }
}
