//! SQLite's retention steps, on the writer's own connection (so a step
//! and a batch never wait on SQLite's lock for each other: they take
//! turns on the writer's mutex), each one short transaction.

use std::ffi::{CStr, CString};
use std::path::Path;

use crate::error::{Result, StoreError};
use crate::retention::{Space, Step, StepLimits};
use crate::rollup::{self, Destination, Figures, Key};
use crate::sqlite_ffi::{Db, Stmt};
use crate::sqlite_write::{insert_rollups, transaction};

/// Packs whose every span started before `?1`, oldest first.
const PACKS: &CStr = c"DELETE FROM span_packs WHERE id IN \
    (SELECT id FROM span_packs WHERE start_hi < ?1 ORDER BY start_hi LIMIT ?2) RETURNING spans";

/// Summaries of traces whose every span ended before `?1` (through
/// `traces_window`, whose first column is the start).
const TRACES: &CStr = c"DELETE FROM traces WHERE id IN \
    (SELECT id FROM traces WHERE start_ns < ?1 AND end_ns < ?1 LIMIT ?2)";

/// Log packs whose every record was stamped before `?1`, oldest first.
const LOG_PACKS: &CStr = c"DELETE FROM log_packs WHERE id IN \
    (SELECT id FROM log_packs WHERE ts_hi < ?1 ORDER BY ts_hi LIMIT ?2) RETURNING records";

const METRICS: &CStr = c"SELECT id FROM metrics ORDER BY id";

/// One metric stream's points stamped before `?2` (through
/// `metric_points_metric_time`).
const POINTS: &CStr = c"DELETE FROM metric_points WHERE rowid IN \
    (SELECT rowid FROM metric_points WHERE metric_id = ?1 AND time_ns < ?2 LIMIT ?3)";

const COUNTER: &CStr = c"UPDATE counters SET value = max(value - ?1, 0) WHERE name = ?2";

/// Removes, in one transaction, at most `limits` of each kind of data
/// older than `cutoff` (none of a kind whose limit is 0), and takes them
/// off the running totals.
pub(crate) fn step(db: &Db, cutoff: i64, limits: StepLimits) -> Result<Step> {
    transaction(db, |db| {
        let packs = delete_packs(db, PACKS, cutoff, limits.packs)?;
        let traces = delete(db, TRACES, cutoff, limits.traces)?;
        let log_packs = delete_packs(db, LOG_PACKS, cutoff, limits.log_packs)?;

        let mut points = 0;
        if limits.points > 0 {
            let metric_ids = db.prepare(METRICS)?.ints()?;
            let mut stmt = db.prepare(POINTS)?;
            for metric_id in metric_ids {
                if points >= limits.points {
                    break;
                }
                stmt.bind_int(1, metric_id)?;
                stmt.bind_int(2, cutoff)?;
                stmt.bind_int(3, limits.points - points)?;
                stmt.execute()?;
                points += db.changes();
            }
        }

        let step = Step::of(limits, packs, log_packs, [traces, points]);
        let mut counter = db.prepare(COUNTER)?;
        for (name, n) in step.counter_deltas() {
            if n > 0 {
                counter.bind_int(1, n)?;
                counter.bind_text(2, name)?;
                counter.execute()?;
            }
        }
        Ok(step)
    })
}

/// The packs `sql` removes of those older than `cutoff`, at most `limit`
/// (none when it is 0), and the items they held.
fn delete_packs(db: &Db, sql: &CStr, cutoff: i64, limit: i64) -> Result<[i64; 2]> {
    if limit <= 0 {
        return Ok([0, 0]);
    }
    let mut stmt = db.prepare(sql)?;
    stmt.bind_int(1, cutoff)?;
    stmt.bind_int(2, limit)?;
    let held = stmt.ints()?;
    Ok([held.len() as i64, held.iter().sum()])
}

/// Rows `sql` removes of those older than `cutoff`, at most `limit`
/// (none when it is 0).
fn delete(db: &Db, sql: &CStr, cutoff: i64, limit: i64) -> Result<i64> {
    if limit <= 0 {
        return Ok(0);
    }
    let mut stmt = db.prepare(sql)?;
    stmt.bind_int(1, cutoff)?;
    stmt.bind_int(2, limit)?;
    stmt.execute()?;
    Ok(db.changes())
}

/// The oldest minutes with rollup rows not merged yet.
const UNMERGED_MINUTES: &CStr =
    c"SELECT DISTINCT minute FROM rollups WHERE NOT merged ORDER BY minute LIMIT ?1";

/// Every rollup row of a minute, taken out to be merged.
const TAKE_MINUTE: &CStr = c"DELETE FROM rollups WHERE minute = ?1 \
    RETURNING minute, service, name, version, requests, errors, duration_ns, sketch";

/// Rollup rows of minutes before `?1`.
const OLD_ROLLUPS: &CStr = c"DELETE FROM rollups WHERE id IN \
    (SELECT id FROM rollups WHERE minute < ?1 LIMIT ?2)";

/// Hourly rows of hours that ended by `?1` + an hour.
const OLD_HOURLY: &CStr = c"DELETE FROM rollups_hourly WHERE id IN \
    (SELECT id FROM rollups_hourly WHERE minute <= ?1 LIMIT ?2)";

const HOUR_MERGED: &CStr =
    c"SELECT minute, service, name, version, requests, errors, duration_ns, sketch \
    FROM rollups WHERE minute >= ?1 AND minute < ?2 AND merged";
const DROP_HOUR: &CStr = c"DELETE FROM rollups_hourly WHERE minute = ?1";

/// Every rollup row `stmt` (bound, selecting `rollup::ROW_COLUMNS`) yields.
fn rollup_rows(stmt: &mut Stmt<'_>) -> Result<rollup::Rows> {
    let mut rows = Vec::new();
    stmt.each_row(|mut row| {
        let key = Key {
            minute: row.int(0),
            service: row.text(1)?,
            name: row.text(2)?,
            version: row.text(3)?,
        };
        rows.push((
            key,
            Figures::of_row(row.int(4), row.int(5), row.int(6), row.blob(7))?,
        ));
        Ok(())
    })?;
    Ok(rows)
}

/// Makes the hourly rows of the hour starting at minute `hour` the sum of
/// its merged minute rows.
fn remake_hour(db: &Db, hour: i64) -> Result<()> {
    let mut read = db.prepare(HOUR_MERGED)?;
    read.bind_int(1, hour)?;
    read.bind_int(2, hour + rollup::HOUR_MINUTES)?;
    let rows = rollup_rows(&mut read)?;
    let mut drop = db.prepare(DROP_HOUR)?;
    drop.bind_int(1, hour)?;
    drop.execute()?;
    insert_rollups(db, &rollup::hourly(hour, rows), Destination::Hourly)
}

const OLD_REPORT_ROLLUPS: &CStr = c"DELETE FROM report_rollups WHERE minute IN \
    (SELECT minute FROM report_rollups WHERE minute < ?1 LIMIT ?2)";

const OLD_KEY_USAGE: &CStr = c"DELETE FROM key_usage WHERE (minute, key) IN \
    (SELECT minute, key FROM key_usage WHERE minute < ?1 LIMIT ?2)";

/// Operations of hours that ended by `?1` + an hour.
const OLD_OPERATIONS: &CStr = c"DELETE FROM operations WHERE (minute, service, name, kind) IN \
    (SELECT minute, service, name, kind FROM operations WHERE minute <= ?1 LIMIT ?2)";

/// In one transaction: removes at most `limit` rollup rows of minutes
/// before `before` (none when `None`), then makes the rows of each key one
/// in at most `minutes` of the oldest minutes with rows not merged yet;
/// returns how many minutes were merged and rows removed.
pub(crate) fn rollup_step(
    db: &Db,
    minutes: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<(i64, i64)> {
    transaction(db, |db| {
        let removed = match before {
            Some(minute) => {
                delete(db, OLD_ROLLUPS, minute, limit)?
                    + delete(db, OLD_HOURLY, minute - rollup::HOUR_MINUTES, limit)?
                    + delete(db, OLD_REPORT_ROLLUPS, minute, limit)?
                    + delete(db, OLD_KEY_USAGE, minute, limit)?
                    + delete(db, OLD_OPERATIONS, minute - rollup::HOUR_MINUTES, limit)?
            }
            None => 0,
        };
        let mut todo = db.prepare(UNMERGED_MINUTES)?;
        todo.bind_int(1, minutes)?;
        let todo = todo.ints()?;
        let mut take = db.prepare(TAKE_MINUTE)?;
        for &minute in &todo {
            take.bind_int(1, minute)?;
            let rows = rollup_rows(&mut take)?;
            insert_rollups(db, &rollup::merged(rows), Destination::Merged)?;
        }
        let hours: std::collections::BTreeSet<i64> =
            todo.iter().map(|&m| rollup::hour_of(m)).collect();
        for hour in hours {
            remake_hour(db, hour)?;
        }
        Ok((todo.len() as i64, removed))
    })
}

/// The last request id of the next chunk after `?1`.
const REQUEST_CHUNK_END: &CStr =
    c"SELECT request_id FROM request_traces WHERE request_id > ?1 ORDER BY request_id LIMIT 1 OFFSET ?2";

/// The rows in `(?1, ?2]` (or past `?1` when `?2` is NULL) whose trace is gone.
const REQUEST_ORPHANS: &CStr = c"DELETE FROM request_traces \
    WHERE request_id > ?1 AND (?2 IS NULL OR request_id <= ?2) \
    AND NOT EXISTS (SELECT 1 FROM traces t WHERE t.trace_id = request_traces.trace_id)";

/// Removes the request-id rows of removed traces among the `chunk` rows
/// after `after`; returns how many, and where the next chunk starts
/// (`None`: the table's end was reached).
pub(crate) fn request_ids(db: &Db, after: &str, chunk: i64) -> Result<(u64, Option<String>)> {
    transaction(db, |db| {
        let mut end = db.prepare(REQUEST_CHUNK_END)?;
        end.bind_text(1, after)?;
        end.bind_int(2, chunk - 1)?;
        let end = end.first_text()?;
        let mut stmt = db.prepare(REQUEST_ORPHANS)?;
        stmt.bind_text(1, after)?;
        stmt.bind_opt_text(2, end.as_deref())?;
        stmt.execute()?;
        Ok((db.changes().max(0) as u64, end))
    })
}

/// The file's pages and the filesystem's room beside `file`.
pub(crate) fn space(db: &Db, file: &Path) -> Result<Space> {
    let pragma = |sql: &CStr| -> Result<u64> {
        Ok(db.prepare(sql)?.first_int()?.unwrap_or(0).max(0) as u64)
    };
    let page_size = pragma(c"PRAGMA page_size")?;
    let disk = file.parent().filter(|dir| !dir.as_os_str().is_empty());
    let disk = rustix::fs::statvfs(disk.unwrap_or(Path::new(".")))
        .map_err(|err| StoreError::Scan(format!("cannot measure the disk's free space: {err}")))?;
    Ok(Space {
        file_bytes: pragma(c"PRAGMA page_count")? * page_size,
        free_bytes: pragma(c"PRAGMA freelist_count")? * page_size,
        disk_available: disk.f_bavail.saturating_mul(disk.f_frsize),
        // 2: INCREMENTAL.
        can_give_back: pragma(c"PRAGMA auto_vacuum")? == 2,
    })
}

/// The oldest and newest time stamped on a pack (its last span's start or
/// log record's time, as retention reads it) or a metric point; `None` when
/// nothing is stored. Each bound is one index's first or last entry.
const TIME_RANGE: &CStr = c"SELECT min(lo), max(hi) FROM ( \
    SELECT (SELECT min(start_hi) FROM span_packs) lo, (SELECT max(start_hi) FROM span_packs) hi \
    UNION ALL SELECT (SELECT min(ts_hi) FROM log_packs), (SELECT max(ts_hi) FROM log_packs) \
    UNION ALL SELECT (SELECT min(time_ns) FROM metric_points p WHERE p.metric_id = m.id), \
        (SELECT max(time_ns) FROM metric_points p WHERE p.metric_id = m.id) FROM metrics m)";

pub(crate) fn time_range(db: &Db) -> Result<Option<(i64, i64)>> {
    let mut stmt = db.prepare(TIME_RANGE)?;
    Ok(stmt.first_pair()?.and_then(|(lo, hi)| lo.zip(hi)))
}

/// Hands free pages worth about `bytes` back to the filesystem (the file
/// shrinks at the next checkpoint); returns the bytes they held.
pub(crate) fn give_back(db: &Db, bytes: u64) -> Result<u64> {
    let page_size = db
        .prepare(c"PRAGMA page_size")?
        .first_int()?
        .unwrap_or(4096)
        .max(512) as u64;
    let free = db
        .prepare(c"PRAGMA freelist_count")?
        .first_int()?
        .unwrap_or(0)
        .max(0) as u64;
    let pages = bytes.div_ceil(page_size).min(free);
    if pages == 0 {
        return Ok(0);
    }
    let sql = CString::new(format!("PRAGMA incremental_vacuum({pages})"))
        .map_err(|_| StoreError::Scan("a number holds no NUL byte".into()))?;
    // Stepped to its end: each step frees some of the pages.
    db.prepare(&sql)?.ints()?;
    Ok(pages * page_size)
}

const PUT_REPORT_ROLLUP: &CStr = c"INSERT INTO report_rollups (minute, data) VALUES (?1, ?2) \
      ON CONFLICT (minute) DO UPDATE SET data = excluded.data";
const DROP_REPORT_ROLLUP: &CStr = c"DELETE FROM report_rollups WHERE minute = ?1";
const DROP_STALE_MARK: &CStr = c"DELETE FROM report_rollups_stale WHERE id = ?1";

/// Stores the report rollups of some minutes (`None`: the minute holds
/// nothing) and removes the stale marks they answer, in one transaction.
pub(crate) fn put_report_rollups(
    db: &Db,
    rows: &[(i64, Option<Vec<u8>>)],
    marks: &[i64],
) -> Result<()> {
    transaction(db, |db| {
        let mut put = db.prepare(PUT_REPORT_ROLLUP)?;
        let mut drop = db.prepare(DROP_REPORT_ROLLUP)?;
        for (minute, data) in rows {
            match data {
                Some(data) => {
                    put.bind_int(1, *minute)?;
                    put.bind_blob(2, data)?;
                    put.execute()?;
                }
                None => {
                    drop.bind_int(1, *minute)?;
                    drop.execute()?;
                }
            }
        }
        let mut unmark = db.prepare(DROP_STALE_MARK)?;
        for &id in marks {
            unmark.bind_int(1, id)?;
            unmark.execute()?;
        }
        Ok(())
    })
}
