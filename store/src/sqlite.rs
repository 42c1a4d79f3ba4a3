//! SQLite backend: one writer connection (SQLite admits one writer at a
//! time anyway), a small pool of readers, WAL so readers never block it, and
//! `synchronous = FULL` so a committed batch survives a power loss.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::model::Batch;
use crate::rows::{self, Interned, ResourceRow, ScopeRow};
use crate::{LOCK_TIMEOUT, Result};

#[derive(Clone)]
pub struct SqliteStore {
    /// Migrations and the conversion of older databases; an idle
    /// connection closes after sqlx's idle timeout.
    writer: SqlitePool,
    /// Batches: a connection of the writer's own, stepped through the C API
    /// (`sqlite_insert`) on the writing task's thread. Through sqlx's pool,
    /// taking the connection, borrowing its handle and giving it back were
    /// each a trip to sqlx's thread and back (the give-back a ping), a fifth
    /// of the writer's time under load. `None` once closed.
    batches: Arc<Mutex<Option<crate::sqlite_scan::Db>>>,
    readers: SqlitePool,
    /// fingerprint → row id of interned resources, scopes and metrics, filled
    /// only after the rows' transaction committed.
    interned: Arc<Mutex<Interned>>,
    /// The database file, for `sqlite_scan`.
    file: PathBuf,
    /// `stored_bytes` walks every page; its answer is kept this long.
    stored: Arc<Mutex<Option<(Instant, crate::report::SignalBytes)>>>,
    /// Told after each commit; see `checkpoints`.
    committed: Arc<tokio::sync::Notify>,
    checkpointer: SqlitePool,
}

/// The writers' settings. A transaction's dirty pages and the hot index
/// pages must fit in the cache, or SQLite spills and re-reads them (the
/// default is 2 MiB). The statement journal (a multi-row INSERT's undo) in
/// memory: in a temporary file it was an eighth of the writer's time in
/// writes. WAL frames let pile up before the writer checkpoints them
/// itself, should `checkpoints` fall behind: 64 MiB of 4 KiB pages.
const WRITER_PRAGMAS: [(&str, &str); 3] = [
    ("cache_size", "-65536"),
    ("temp_store", "memory"),
    ("wal_autocheckpoint", "16384"),
];

/// Copies committed WAL frames into the database file on a connection of
/// its own, after a commit, at most every `CHECKPOINT_EVERY`. Done by the
/// writer (SQLite's default), this was a fifth of its time; here it runs
/// beside the next batch. PASSIVE never waits for the writer or the
/// readers, and the writer still checkpoints itself past its
/// `wal_autocheckpoint`, so the WAL stays bounded if this falls behind.
async fn checkpoints(pool: SqlitePool, committed: Arc<tokio::sync::Notify>) {
    loop {
        committed.notified().await;
        if pool.is_closed() {
            return;
        }
        if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %err, "WAL checkpoint failed; the writer will checkpoint itself");
        }
        tokio::time::sleep(CHECKPOINT_EVERY).await;
    }
}

/// Commits dirty the same pages again and again (the index of trace ids
/// and `request_traces`: random keys; the newest trace summaries);
/// checkpointed after every commit, each such page was copied into the database file each time. Every 200 ms it
/// is copied once for all the commits in between: a fifth more spans a
/// second under `loupe bench` (0 ms 44 700, 50 ms 55 400, 200 ms
/// 51 800–59 600, 1 s 50 900), the WAL some tens of MB at most.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// Runs a `sqlite_scan` read, which steps SQLite synchronously, on a
/// blocking thread.
async fn on_scan_thread<T: Send + 'static>(
    scan: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(scan)
        .await
        .map_err(|e| crate::StoreError::Scan(format!("scan thread failed: {e}")))?
}

/// Gives the migrating connection loupe's SQL functions (`loupe_text`,
/// which the view `span_rows` of databases still to convert calls).
async fn with_functions(conn: &mut sqlx::SqliteConnection) -> sqlx::Result<()> {
    let mut handle = conn.lock_handle().await?;
    crate::sqlite_scan::register_functions(handle.as_raw_handle())
        .map_err(|e| sqlx::Error::Configuration(e.into()))
}

/// How long a measure of the tables' sizes is reused.
const STORED_BYTES_FOR: Duration = Duration::from_secs(60);

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(LOCK_TIMEOUT)
            .foreign_keys(false);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .after_connect(|conn, _| Box::pin(with_functions(conn)))
            .connect_with(
                WRITER_PRAGMAS
                    .iter()
                    .fold(options.clone(), |o, (name, value)| o.pragma(*name, *value)),
            )
            .await?;
        // The writer's connection made the file: every connection after it
        // opens that file, where `:memory:` would give each its own database.
        let file = Some(options.get_filename().to_owned())
            .filter(|f| f.is_file())
            .ok_or_else(|| crate::StoreError::BadUrl(url.to_owned()))?;
        let batches = {
            let file = file.clone();
            let full = [("synchronous", "FULL"), ("foreign_keys", "OFF")];
            crate::blocking(move || {
                crate::sqlite_scan::Db::open_writer(&file, &[&full[..], &WRITER_PRAGMAS].concat())
            })?
        };
        // Rows cross from SQLite's thread to the reader one by one; a deep
        // buffer lets SQLite run ahead instead of waking the reader per row
        // (the default of 50 made a scan of a million rows ten times slower).
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone().read_only(true).row_buffer_size(8192))
            .await?;
        let committed = Arc::new(tokio::sync::Notify::new());
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        tokio::spawn(checkpoints(checkpointer.clone(), committed.clone()));
        Ok(SqliteStore {
            writer,
            batches: Arc::new(Mutex::new(Some(batches))),
            readers,
            interned: Arc::default(),
            file,
            stored: Arc::default(),
            committed,
            checkpointer,
        })
    }

    pub async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("../migrations/sqlite")
            .run(&self.writer)
            .await?;
        self.convert_spans().await
    }

    /// Rewrites the span rows of an older database into packs and drops
    /// them (`convert`), in one transaction; nothing to do once done.
    async fn convert_spans(&self) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        let old: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'spans'",
        )
        .fetch_one(&mut *tx)
        .await?;
        if old == 0 {
            return Ok(());
        }
        let last: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM spans")
            .fetch_one(&mut *tx)
            .await?;
        let query = format!(
            "SELECT {} FROM span_rows s LEFT JOIN resources r ON r.id = s.resource_id \
             LEFT JOIN scopes sc ON sc.id = s.scope_id WHERE s.id > $1 AND s.id <= $2 \
             ORDER BY s.id",
            crate::convert::OLD_SPAN_COLUMNS
        );
        let (mut converted, mut skipped) = (0u64, 0u64);
        let mut after = 0;
        while after < last {
            let until = after.saturating_add(crate::convert::PACK_SPANS);
            let rows: Vec<crate::convert::OldSpan> =
                sqlx::query_as(sqlx::AssertSqlSafe(query.clone()))
                    .bind(after)
                    .bind(until)
                    .fetch_all(&mut *tx)
                    .await?;
            after = until;
            let (pack, refused) = crate::blocking(|| crate::convert::pack(rows));
            skipped += refused;
            let Some(pack) = pack? else {
                continue;
            };
            converted += pack.spans.max(0) as u64;
            let mut handle = tx.lock_handle().await?;
            crate::blocking(|| {
                crate::sqlite_scan::with_locked(&mut handle, |db| {
                    let trace_packs = crate::sqlite_insert::packs(db, std::slice::from_ref(&pack))?;
                    crate::sqlite_insert::link(db, &trace_packs)
                })
            })?;
            drop(handle);
            crate::convert::progress(converted);
        }
        sqlx::raw_sql(
            "DROP VIEW span_rows; DROP TABLE spans; DROP TABLE spans_payload; \
             DROP TABLE payload_dicts; DROP TABLE spans_packed;",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        crate::convert::report(converted, skipped);
        Ok(())
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.readers).await?;
        Ok(())
    }

    pub async fn close(&self) {
        drop(
            self.batches
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        self.writer.close().await;
        self.readers.close().await;
        self.checkpointer.close().await;
        self.committed.notify_one();
    }

    pub async fn size_bytes(&self) -> Result<u64> {
        let row = sqlx::query(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        )
        .fetch_one(&self.readers)
        .await?;
        Ok(u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0))
    }

    /// Every span that started in `[start, end)`: the packs stepped and
    /// unpacked on a blocking thread, their spans handed over a short
    /// channel, so memory holds a few packs whatever the window (through the
    /// readers' deep row buffer a long window's packs would all be held at
    /// once).
    pub async fn report_spans(
        &self,
        start: i64,
        end: i64,
        mut each: impl FnMut(crate::report::ReportSpan),
    ) -> Result<()> {
        let file = self.file.clone();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let scan = on_scan_thread(move || {
            let mut unpacker = crate::packed::Unpacker::default();
            crate::sqlite_scan::packs(&file, start, end, |data| {
                let mut spans = Vec::new();
                unpacker.unpack(data, start, end, &mut |span| spans.push(span))?;
                Ok(tx.blocking_send(spans).is_ok())
            })
        });
        let read = async {
            while let Some(spans) = rx.recv().await {
                spans.into_iter().for_each(&mut each);
            }
        };
        let (scanned, ()) = tokio::join!(scan, read);
        scanned
    }

    pub async fn stored_bytes(&self) -> Result<crate::report::SignalBytes> {
        let cached = *self.stored.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, bytes)) = cached
            && at.elapsed() < STORED_BYTES_FOR
        {
            return Ok(bytes);
        }
        // dbstat walks every page; `aggregate` keeps it to one row per b-tree.
        let rows = sqlx::query_as::<_, (String, i64)>(
            "SELECT m.tbl_name, d.pgsize FROM dbstat('main', 1) d \
             JOIN sqlite_schema m ON m.name = d.name",
        )
        .fetch_all(&self.readers)
        .await?;
        let bytes = crate::report::SignalBytes::of_tables(rows);
        *self.stored.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), bytes));
        Ok(bytes)
    }

    pub async fn write_batch(&self, batch: &Batch) -> Result<()> {
        let resources: Vec<ResourceRow> = batch.resources.iter().map(ResourceRow::new).collect();
        let scopes: Vec<ScopeRow> = batch.scopes.iter().map(ScopeRow::new).collect();
        let resource_fps: Vec<i64> = resources.iter().map(|r| r.fingerprint).collect();
        let scope_fps: Vec<i64> = scopes.iter().map(|s| s.fingerprint).collect();
        let (metrics, point_metric) = rows::metric_rows(batch, &resource_fps, &scope_fps);
        let metric_fps: Vec<i64> = metrics.iter().map(|m| m.fingerprint).collect();
        let packs = crate::packed::of_batch(batch)?;
        let write = crate::sqlite_insert::Write {
            batch,
            packs: &packs,
            resources: &resources,
            scopes: &scopes,
            metrics: &metrics,
            point_metric: &point_metric,
            cached: [
                Interned::cached(&self.interned, |i| &i.resources, &resource_fps),
                Interned::cached(&self.interned, |i| &i.scopes, &scope_fps),
                Interned::cached(&self.interned, |i| &i.metrics, &metric_fps),
            ],
        };

        let [resource_ids, scope_ids, metric_ids] = crate::blocking(|| {
            let batches = self.batches.lock().unwrap_or_else(|e| e.into_inner());
            let db = batches
                .as_ref()
                .ok_or_else(|| crate::StoreError::Scan("the store is closed".into()))?;
            crate::sqlite_insert::write(db, write)
        })?;
        self.committed.notify_one();

        Interned::remember(
            &self.interned,
            [
                (&resource_fps[..], resource_ids),
                (&scope_fps[..], scope_ids),
                (&metric_fps[..], metric_ids),
            ],
        );
        Ok(())
    }

    crate::reads::impl_reads!(Sqlite, readers);
}

/// Words as an FTS5 query: each one quoted, so that user input is never FTS5 syntax.
pub(crate) fn fts_query(text: &str) -> String {
    text.split_whitespace()
        .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `column` is one of `ids`: a JSON array of their hex, one parameter
/// whatever their number.
fn push_in_ids(
    q: &mut QueryBuilder<Sqlite>,
    column: &'static str,
    ids: &std::collections::HashSet<crate::model::TraceId>,
) {
    let hex: Vec<String> = ids.iter().map(hex::encode).collect();
    q.push(column)
        .push(" IN (SELECT unhex(value) FROM json_each(")
        .push_bind(serde_json::to_string(&hex).unwrap_or_else(|_| "[]".into()))
        .push("))");
}

/// `column` holds the text `part`.
fn push_contains(q: &mut QueryBuilder<Sqlite>, column: &'static str, part: String) {
    q.push("instr(")
        .push(column)
        .push(", ")
        .push_bind(part)
        .push(") > 0");
}

fn push_text_filter(q: &mut QueryBuilder<Sqlite>, text: &str) {
    q.push(" AND l.id IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ")
        .push_bind(fts_query(text))
        .push(")");
}

/// The attribute `key` (as stored) of the JSON `column` passes `filter`. Text comparisons
/// see booleans as `true`/`false`, as PostgreSQL's `->>` gives them.
fn push_attribute_filter(
    q: &mut QueryBuilder<Sqlite>,
    column: &'static str,
    key: &str,
    filter: &crate::AttributeFilter,
) {
    use crate::Comparison::*;
    let path = format!("$.\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""));
    let ordering = match filter.comparison {
        Equal | NotEqual => None,
        Greater => Some(">"),
        GreaterOrEqual => Some(">="),
        Less => Some("<"),
        LessOrEqual => Some("<="),
    };
    if let Some(op) = ordering {
        q.push(format!("json_type({column}, "))
            .push_bind(path.clone())
            .push(format!(
                ") IN ('integer', 'real') AND json_extract({column}, "
            ))
            .push_bind(path)
            .push(format!(") {op} "))
            .push_bind(filter.value.parse::<f64>().unwrap_or(f64::NAN));
        return;
    }
    if filter.comparison == Equal && rows::literal_in_json(&filter.value) {
        push_contains(q, column, filter.value.clone());
        q.push(" AND ");
    }
    q.push(format!("CASE json_type({column}, "))
        .push_bind(path.clone())
        .push(format!(
            ") WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(json_extract({column}, "
        ))
        .push_bind(path)
        .push(if filter.comparison == Equal {
            ") AS TEXT) END = "
        } else {
            ") AS TEXT) END <> "
        })
        .push_bind(filter.value.clone());
}
