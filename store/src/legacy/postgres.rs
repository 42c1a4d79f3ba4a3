//! PostgreSQL's half of the conversion of span and log rows into packs.

use sqlx::Transaction;
use sqlx::postgres::{PgPool, Postgres};

use super::old_logs::{OLD_LOG_COLUMNS, OldLog, PACK_LOGS};
use super::old_spans::{OLD_SPAN_COLUMNS, OldSpan, PACK_SPANS, pack, progress, report};
use crate::error::Result;
use crate::postgres_write::{insert_log_packs, insert_packs};
use crate::runtime::blocking;

/// The advisory lock the conversion of span rows is done under.
const CONVERT_LOCK: i64 = 7_406_111_705_311_011;

/// A transaction holding the conversion's advisory lock, when `table` (a
/// table of rows to convert) is still there to convert: a process
/// starting meanwhile waits for the lock, then finds nothing to do.
async fn begin_converting(
    pool: &PgPool,
    table: &str,
) -> Result<Option<Transaction<'static, Postgres>>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(CONVERT_LOCK)
        .execute(&mut *tx)
        .await?;
    let old: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(table)
        .fetch_one(&mut *tx)
        .await?;
    Ok(old.then_some(tx))
}

/// Rewrites the span rows of an older database into packs and drops
/// them, in one transaction, under an advisory lock: a
/// process starting meanwhile waits, then finds nothing to do.
pub(crate) async fn convert(pool: &PgPool) -> Result<()> {
    let Some(mut tx) = begin_converting(pool, "spans").await? else {
        return Ok(());
    };
    // In the table's own order, roughly the order of writing: sorting
    // by start would spill the whole table to disk first.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DECLARE old_spans NO SCROLL CURSOR FOR SELECT {} FROM spans s \
         LEFT JOIN resources r ON r.id = s.resource_id \
         LEFT JOIN scopes sc ON sc.id = s.scope_id",
        OLD_SPAN_COLUMNS
    )))
    .execute(&mut *tx)
    .await?;
    let (mut converted, mut skipped) = (0u64, 0u64);
    loop {
        let rows: Vec<OldSpan> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "FETCH {} FROM old_spans",
            PACK_SPANS
        )))
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            break;
        }
        let (pack, refused) = blocking(|| pack(rows));
        skipped += refused;
        let Some(pack) = pack? else {
            continue;
        };
        converted += pack.spans.max(0) as u64;
        let trace_packs = insert_packs(&mut tx, std::slice::from_ref(&pack)).await?;
        let (traces, ids): (Vec<Vec<u8>>, Vec<Vec<u8>>) = trace_packs
            .into_iter()
            .map(|(trace, ids)| (trace.to_vec(), ids))
            .unzip();
        sqlx::query(
            "UPDATE traces t SET packs = t.packs || p.ids \
             FROM UNNEST($1::bytea[], $2::bytea[]) AS p(trace_id, ids) \
             WHERE t.trace_id = p.trace_id",
        )
        .bind(traces)
        .bind(ids)
        .execute(&mut *tx)
        .await?;
        progress(converted);
    }
    sqlx::raw_sql(
        "CLOSE old_spans; DROP VIEW span_rows; DROP TABLE spans; DROP TABLE spans_packed;",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    report(converted, skipped);
    Ok(())
}

/// Rewrites the log rows of an older database into packs and drops them
/// with their indexes, in one transaction, under the conversion's lock.
pub(crate) async fn convert_logs(pool: &PgPool) -> Result<()> {
    let Some(mut tx) = begin_converting(pool, "logs").await? else {
        return Ok(());
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DECLARE old_logs NO SCROLL CURSOR FOR SELECT {} FROM logs l \
         LEFT JOIN resources r ON r.id = l.resource_id \
         LEFT JOIN scopes sc ON sc.id = l.scope_id ORDER BY l.id",
        OLD_LOG_COLUMNS
    )))
    .execute(&mut *tx)
    .await?;
    let mut converted = 0u64;
    loop {
        let rows: Vec<OldLog> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "FETCH {} FROM old_logs",
            PACK_LOGS
        )))
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            break;
        }
        let Some(pack) = blocking(|| super::old_logs::pack(rows))? else {
            continue;
        };
        converted += pack.records.max(0) as u64;
        insert_log_packs(&mut tx, std::slice::from_ref(&pack)).await?;
    }
    sqlx::raw_sql("CLOSE old_logs; DROP TABLE logs;")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    super::old_logs::report(converted);
    Ok(())
}
