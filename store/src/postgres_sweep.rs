//! PostgreSQL's retention steps, each one short transaction. Several
//! processes may sweep one database at once: each step locks only rows no
//! one else holds (`SKIP LOCKED`), so sweepers share the work, and a
//! writer adding to a trace being removed never waits in a cycle with a
//! sweeper, which waits for nobody but the counter rows writers take last.

use sqlx::postgres::PgPool;

use crate::error::Result;
use crate::postgres_write::{Tx, insert_rollups};
use crate::retention::{Step, StepLimits};
use crate::rollup::{self, Destination};

/// The packs `sql` removes of those older than `cutoff`, at most `limit`
/// (none when it is 0), and the items they held.
async fn delete_packs(tx: &mut Tx, sql: &'static str, cutoff: i64, limit: i64) -> Result<[i64; 2]> {
    if limit <= 0 {
        return Ok([0, 0]);
    }
    let held: Vec<i32> = sqlx::query_scalar(sql)
        .bind(cutoff)
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    Ok([held.len() as i64, held.iter().map(|&n| i64::from(n)).sum()])
}

/// Removes, in one transaction, at most `limits` of each kind of data
/// older than `cutoff`, and takes them off the running totals.
pub(crate) async fn step(pool: &PgPool, cutoff: i64, limits: StepLimits) -> Result<Step> {
    let mut tx = pool.begin().await?;
    let packs = delete_packs(
        &mut tx,
        "DELETE FROM span_packs WHERE id IN (SELECT id FROM span_packs WHERE start_hi < $1 \
         ORDER BY start_hi LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING spans",
        cutoff,
        limits.packs,
    )
    .await?;
    let log_packs = delete_packs(
        &mut tx,
        "DELETE FROM log_packs WHERE id IN (SELECT id FROM log_packs WHERE ts_hi < $1 \
         ORDER BY ts_hi LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING records",
        cutoff,
        limits.log_packs,
    )
    .await?;
    let mut delete = async |sql: &'static str, limit: i64| -> Result<i64> {
        if limit <= 0 {
            return Ok(0);
        }
        let done = sqlx::query(sql)
            .bind(cutoff)
            .bind(limit)
            .execute(&mut *tx)
            .await?;
        Ok(done.rows_affected() as i64)
    };
    let traces = delete(
        "DELETE FROM traces WHERE trace_id IN (SELECT trace_id FROM traces \
         WHERE start_ns < $1 AND end_ns < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
        limits.traces,
    )
    .await?;
    let mut points = 0;
    if limits.points > 0 {
        let metric_ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM metrics ORDER BY id")
            .fetch_all(&mut *tx)
            .await?;
        for metric_id in metric_ids {
            if points >= limits.points {
                break;
            }
            points += sqlx::query(
                "DELETE FROM metric_points WHERE ctid = ANY(ARRAY(SELECT ctid FROM metric_points \
                 WHERE metric_id = $1 AND time_ns < $2 LIMIT $3 FOR UPDATE SKIP LOCKED))",
            )
            .bind(metric_id)
            .bind(cutoff)
            .bind(limits.points - points)
            .execute(&mut *tx)
            .await?
            .rows_affected() as i64;
        }
    }
    let step = Step::of(limits, packs, log_packs, [traces, points]);
    // One row a statement, in the writers' order, so that sweepers and
    // writers lock them alike.
    for (name, n) in step.counter_deltas() {
        if n > 0 {
            sqlx::query("UPDATE counters SET value = GREATEST(value - $1, 0) WHERE name = $2")
                .bind(n)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(step)
}

/// Removes the request-id rows of removed traces among the `chunk` rows
/// after `after`; returns how many, and where the next chunk starts
/// (`None`: the table's end was reached).
pub(crate) async fn request_ids(
    pool: &PgPool,
    after: &str,
    chunk: i64,
) -> Result<(u64, Option<String>)> {
    let end: Option<String> = sqlx::query_scalar(
        "SELECT request_id FROM request_traces WHERE request_id > $1 \
         ORDER BY request_id LIMIT 1 OFFSET $2",
    )
    .bind(after)
    .bind(chunk - 1)
    .fetch_optional(pool)
    .await?;
    let removed = sqlx::query(
        "DELETE FROM request_traces r WHERE r.request_id > $1 \
         AND ($2::text IS NULL OR r.request_id <= $2) \
         AND NOT EXISTS (SELECT 1 FROM traces t WHERE t.trace_id = r.trace_id)",
    )
    .bind(after)
    .bind(end.as_deref())
    .execute(pool)
    .await?
    .rows_affected();
    Ok((removed, end))
}

/// Taken for the length of a merge of rollups, so that one process
/// merges at a time (others skip theirs): two merging one minute would
/// wait on each other's rows.
const MERGE_LOCK: i64 = 0x6c6f_7570_6552;

/// In one transaction: removes at most `limit` rollup rows of minutes
/// before `before` (none when `None`), then, unless another process is
/// merging, makes the rows of each key one in at most `minutes` of the
/// oldest minutes with rows not merged yet. A merge takes rows by deleting
/// them: rows another transaction took are not taken twice. Returns how
/// many minutes were merged and rows removed.
pub(crate) async fn rollup_step(
    pool: &PgPool,
    minutes: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<(i64, i64)> {
    let mut tx = pool.begin().await?;
    let mut removed = 0;
    if let Some(minute) = before {
        // Each table's rows of minutes before `minute` (an hourly row's
        // minute is its hour's first: it goes once its whole hour has).
        let old = [
            (
                "DELETE FROM rollups WHERE id IN (SELECT id FROM rollups WHERE minute < $1 \
                 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                minute,
            ),
            (
                "DELETE FROM rollups_hourly WHERE id IN (SELECT id FROM rollups_hourly \
                 WHERE minute <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                minute - rollup::HOUR_MINUTES,
            ),
            (
                "DELETE FROM report_rollups WHERE minute IN (SELECT minute FROM report_rollups \
                 WHERE minute < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                minute,
            ),
            (
                "DELETE FROM key_usage WHERE (minute, key) IN (SELECT minute, key FROM key_usage \
                 WHERE minute < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                minute,
            ),
            (
                "DELETE FROM operations WHERE (minute, service, name, kind) IN (SELECT minute, \
                 service, name, kind FROM operations WHERE minute <= $1 LIMIT $2 \
                 FOR UPDATE SKIP LOCKED)",
                minute - rollup::HOUR_MINUTES,
            ),
        ];
        for (sql, before) in old {
            removed += sqlx::query(sql)
                .bind(before)
                .bind(limit)
                .execute(&mut *tx)
                .await?
                .rows_affected() as i64;
        }
    }
    let mut merged = 0;
    let alone: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(MERGE_LOCK)
        .fetch_one(&mut *tx)
        .await?;
    if alone {
        let todo: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT minute FROM rollups WHERE NOT merged ORDER BY minute LIMIT $1",
        )
        .bind(minutes)
        .fetch_all(&mut *tx)
        .await?;
        let taken = sqlx::query_as::<_, rollup::Row>(sqlx::AssertSqlSafe(format!(
            "DELETE FROM rollups WHERE minute = ANY($1) RETURNING {}",
            rollup::ROW_COLUMNS
        )))
        .bind(&todo)
        .fetch_all(&mut *tx)
        .await?;
        let rows = taken
            .into_iter()
            .map(rollup::of_row)
            .collect::<Result<Vec<_>>>()?;
        insert_rollups(&mut tx, &rollup::merged(rows), Destination::Merged).await?;
        let hours: std::collections::BTreeSet<i64> =
            todo.iter().map(|&m| rollup::hour_of(m)).collect();
        for hour in hours {
            remake_hour(&mut tx, hour).await?;
        }
        merged = todo.len() as i64;
    }
    tx.commit().await?;
    Ok((merged, removed))
}

/// Stores the report rollups of some minutes (`None`: the minute holds
/// nothing) and removes the stale marks they answer, in one transaction.
pub(crate) async fn put_report_rollups(
    pool: &PgPool,
    rows: &[(i64, Option<Vec<u8>>)],
    marks: &[i64],
) -> Result<()> {
    let mut tx = pool.begin().await?;
    for (minute, data) in rows {
        match data {
            Some(data) => {
                sqlx::query(
                    "INSERT INTO report_rollups (minute, data) VALUES ($1, $2) \
                     ON CONFLICT (minute) DO UPDATE SET data = excluded.data",
                )
                .bind(minute)
                .bind(data)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM report_rollups WHERE minute = $1")
                    .bind(minute)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    sqlx::query("DELETE FROM report_rollups_stale WHERE id = ANY($1)")
        .bind(marks)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Makes the hourly rows of the hour starting at minute `hour` the sum of
/// its merged minute rows (only the process holding the merge lock does).
async fn remake_hour(tx: &mut Tx, hour: i64) -> Result<()> {
    let rows = sqlx::query_as::<_, rollup::Row>(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM rollups WHERE minute >= $1 AND minute < $2 AND merged",
        rollup::ROW_COLUMNS
    )))
    .bind(hour)
    .bind(hour + rollup::HOUR_MINUTES)
    .fetch_all(&mut **tx)
    .await?;
    let rows = rows
        .into_iter()
        .map(rollup::of_row)
        .collect::<Result<Vec<_>>>()?;
    sqlx::query("DELETE FROM rollups_hourly WHERE minute = $1")
        .bind(hour)
        .execute(&mut **tx)
        .await?;
    insert_rollups(tx, &rollup::hourly(hour, rows), Destination::Hourly).await
}
