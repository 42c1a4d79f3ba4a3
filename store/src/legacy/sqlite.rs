//! SQLite's half of the conversion of span and log rows into packs, and the SQL
//! function older databases' view of span rows calls.

use sqlx::sqlite::{SqliteConnection, SqlitePool};

use super::old_logs::{OLD_LOG_COLUMNS, OldLog, PACK_LOGS};
use super::old_spans::{OLD_SPAN_COLUMNS, OldSpan, PACK_SPANS, pack, progress, report};
use super::payload;
use crate::error::Result;
use crate::runtime::blocking;
use crate::sqlite_ffi::{Db, register_blob_to_text, with_locked};
use crate::sqlite_write;

/// Gives a connection `loupe_text(value)`, which the view `span_rows` of
/// databases still to convert calls: the JSON text of a span payload
/// value, decompressed when stored compressed (`payload`), text and NULL
/// as they are. Every connection that migrates gets it: SQLite may parse
/// the view while altering other tables.
pub(crate) async fn register_functions(conn: &mut SqliteConnection) -> sqlx::Result<()> {
    let mut handle = conn.lock_handle().await?;
    let mut reader = payload::Reader::new().map_err(|e| sqlx::Error::Configuration(e.into()))?;
    with_locked(&mut handle, |db| {
        register_blob_to_text(db, c"loupe_text", move |db, blob| {
            Ok(reader.decode(blob, |id| dictionary(db, id))?.to_owned())
        })
    })
    .map_err(|e| sqlx::Error::Configuration(e.into()))
}

/// Dictionary `id`, read on the connection the function runs on.
fn dictionary(db: &Db, id: i64) -> Result<Option<Vec<u8>>> {
    let mut stmt = db.prepare(c"SELECT data FROM payload_dicts WHERE id = ?1")?;
    stmt.bind_int(1, id)?;
    stmt.first_blob()
}

/// A transaction on the writer when
/// `table`, a table of rows to convert, is still there to convert.
async fn begin_converting(
    pool: &SqlitePool,
    table: &str,
) -> Result<Option<sqlx::Transaction<'static, sqlx::Sqlite>>> {
    let mut tx = pool.begin().await?;
    let old: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = $1")
            .bind(table)
            .fetch_one(&mut *tx)
            .await?;
    Ok((old > 0).then_some(tx))
}

/// Rewrites the span rows of an older database into packs and drops
/// them, in one transaction; nothing to do once done.
pub(crate) async fn convert(pool: &SqlitePool) -> Result<()> {
    let Some(mut tx) = begin_converting(pool, "spans").await? else {
        return Ok(());
    };
    let last: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM spans")
        .fetch_one(&mut *tx)
        .await?;
    let query = format!(
        "SELECT {} FROM span_rows s LEFT JOIN resources r ON r.id = s.resource_id \
         LEFT JOIN scopes sc ON sc.id = s.scope_id WHERE s.id > $1 AND s.id <= $2 \
         ORDER BY s.id",
        OLD_SPAN_COLUMNS
    );
    let (mut converted, mut skipped) = (0u64, 0u64);
    let mut after = 0;
    while after < last {
        let until = after.saturating_add(PACK_SPANS);
        let rows: Vec<OldSpan> = sqlx::query_as(sqlx::AssertSqlSafe(query.clone()))
            .bind(after)
            .bind(until)
            .fetch_all(&mut *tx)
            .await?;
        after = until;
        let (pack, refused) = blocking(|| pack(rows));
        skipped += refused;
        let Some(pack) = pack? else {
            continue;
        };
        converted += pack.spans.max(0) as u64;
        let mut handle = tx.lock_handle().await?;
        blocking(|| {
            with_locked(&mut handle, |db| {
                let trace_packs = sqlite_write::packs(db, std::slice::from_ref(&pack))?;
                sqlite_write::link(db, &trace_packs)
            })
        })?;
        drop(handle);
        progress(converted);
    }
    sqlx::raw_sql(
        "DROP VIEW span_rows; DROP TABLE spans; DROP TABLE spans_payload; \
         DROP TABLE payload_dicts; DROP TABLE spans_packed;",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    report(converted, skipped);
    Ok(())
}

/// Rewrites the log rows of an older database into packs and drops them
/// with their indexes and full-text index, in one transaction; nothing to
/// do once done.
pub(crate) async fn convert_logs(pool: &SqlitePool) -> Result<()> {
    let Some(mut tx) = begin_converting(pool, "logs").await? else {
        return Ok(());
    };
    let last: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM logs")
        .fetch_one(&mut *tx)
        .await?;
    let query = format!(
        "SELECT {} FROM logs l LEFT JOIN resources r ON r.id = l.resource_id \
         LEFT JOIN scopes sc ON sc.id = l.scope_id WHERE l.id > $1 AND l.id <= $2 ORDER BY l.id",
        OLD_LOG_COLUMNS
    );
    let mut converted = 0u64;
    let mut after = 0;
    while after < last {
        let until = after.saturating_add(PACK_LOGS);
        let rows: Vec<OldLog> = sqlx::query_as(sqlx::AssertSqlSafe(query.clone()))
            .bind(after)
            .bind(until)
            .fetch_all(&mut *tx)
            .await?;
        after = until;
        let Some(pack) = blocking(|| super::old_logs::pack(rows))? else {
            continue;
        };
        converted += pack.records.max(0) as u64;
        let mut handle = tx.lock_handle().await?;
        blocking(|| {
            with_locked(&mut handle, |db| {
                sqlite_write::log_packs(db, std::slice::from_ref(&pack))
            })
        })?;
    }
    sqlx::raw_sql("DROP TABLE logs; DROP TABLE logs_fts;")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    super::old_logs::report(converted);
    Ok(())
}
