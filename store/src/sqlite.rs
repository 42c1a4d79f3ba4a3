//! SQLite backend: one writer connection (SQLite admits one writer at a
//! time anyway), a small pool of readers, WAL so readers never block it, and
//! `synchronous = FULL` so a committed batch survives a power loss.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};

use crate::model::Batch;
use crate::rows::{self, Interned, MetricRow, ResourceRow, ScopeRow, missing};
use crate::{LOCK_TIMEOUT, Result};

/// SQLite refuses a statement with more than 32766 parameters.
const MAX_PARAMS: usize = 32_000;

#[derive(Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
    /// fingerprint → row id of interned resources, scopes and metrics, filled
    /// only after the rows' transaction committed.
    interned: Arc<Mutex<Interned>>,
    /// The database file, for `sqlite_scan`; `None` in memory.
    file: Option<PathBuf>,
    /// `stored_bytes` walks every page; its answer is kept this long.
    stored: Arc<Mutex<Option<(Instant, crate::report::SignalBytes)>>>,
    /// Told after each commit; see `checkpoints`.
    committed: Arc<tokio::sync::Notify>,
    checkpointer: Option<SqlitePool>,
}

/// WAL frames the writer lets pile up before it checkpoints them itself,
/// should `checkpoints` fall behind (64 MiB of 4 KiB pages).
const WRITER_CHECKPOINT_PAGES: &str = "16384";

/// Copies committed WAL frames into the database file on a connection of
/// its own, after a commit, at most every `CHECKPOINT_EVERY`. Done by the
/// writer (SQLite's default), this was a fifth of its time; here it runs
/// beside the next batch. PASSIVE never waits for the writer or the
/// readers, and the writer still checkpoints itself past
/// `WRITER_CHECKPOINT_PAGES`, so the WAL stays bounded if this falls behind.
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

/// Commits dirty the same index pages again and again (spans by trace id,
/// trace summaries: random keys); checkpointed after every commit, each
/// such page was copied into the database file each time. Every 200 ms it
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

/// Gives a new connection loupe's SQL functions (`loupe_text`, which the
/// view `span_rows` calls).
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
        // A transaction's dirty pages and the hot index pages must fit in the
        // writer's cache, or SQLite spills and re-reads them (the default is 2 MiB).
        // The statement journal (a multi-row INSERT's undo) in memory: in a
        // temporary file it was an eighth of the writer's time in writes.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .after_connect(|conn, _| Box::pin(with_functions(conn)))
            .connect_with(
                options
                    .clone()
                    .pragma("cache_size", "-65536")
                    .pragma("temp_store", "memory")
                    .pragma("wal_autocheckpoint", WRITER_CHECKPOINT_PAGES),
            )
            .await?;
        // Rows cross from SQLite's thread to the reader one by one; a deep
        // buffer lets SQLite run ahead instead of waking the reader per row
        // (the default of 50 made a scan of a million rows ten times slower).
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .after_connect(|conn, _| Box::pin(with_functions(conn)))
            .connect_with(options.clone().read_only(true).row_buffer_size(8192))
            .await?;
        let file = Some(options.get_filename().to_owned()).filter(|f| f.is_file());
        let committed = Arc::new(tokio::sync::Notify::new());
        let checkpointer = match file {
            Some(_) => {
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await?;
                tokio::spawn(checkpoints(pool.clone(), committed.clone()));
                Some(pool)
            }
            None => None,
        };
        Ok(SqliteStore {
            writer,
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
        self.writer.close().await;
        self.readers.close().await;
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.close().await;
            self.committed.notify_one();
        }
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
    /// once). A database in memory reads through sqlx.
    pub async fn report_spans(
        &self,
        start: i64,
        end: i64,
        mut each: impl FnMut(crate::report::ReportSpan),
    ) -> Result<()> {
        let Some(file) = self.file.clone() else {
            return self.report_spans_sqlx(start, end, each).await;
        };
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

        let packs = crate::packed::of_batch(batch)?;

        let mut tx = self.writer.begin().await?;
        let resource_ids = self.intern_resources(&mut tx, &resources).await?;
        let scope_ids = self.intern_scopes(&mut tx, &scopes).await?;
        let metric_ids = self
            .intern_metrics(&mut tx, &metrics, &resource_ids, &scope_ids)
            .await?;
        insert_logs(&mut tx, batch, &resource_ids, &scope_ids).await?;
        insert_points(&mut tx, batch, &point_metric, &metric_ids).await?;
        let mut handle = tx.lock_handle().await?;
        crate::blocking(|| {
            crate::sqlite_scan::with_locked(&mut handle, |db| {
                if !batch.spans.is_empty() {
                    let trace_packs = crate::sqlite_insert::packs(db, &packs)?;
                    crate::sqlite_insert::traces(db, batch, &trace_packs)?;
                }
                crate::sqlite_insert::counters(db, batch)
            })
        })?;
        drop(handle);
        tx.commit().await?;
        self.committed.notify_one();

        Interned::remember(
            &self.interned,
            [
                (&resource_fps[..], resource_ids),
                (&scope_fps[..], scope_ids),
                (
                    &metrics.iter().map(|m| m.fingerprint).collect::<Vec<_>>()[..],
                    metric_ids,
                ),
            ],
        );
        Ok(())
    }

    fn cached(
        &self,
        pick: impl Fn(&Interned) -> &HashMap<i64, i64>,
        fps: &[i64],
    ) -> Vec<Option<i64>> {
        Interned::cached(&self.interned, pick, fps)
    }

    async fn intern_resources(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        resources: &[ResourceRow],
    ) -> Result<Vec<i64>> {
        let fps: Vec<i64> = resources.iter().map(|r| r.fingerprint).collect();
        let cached = self.cached(|i| &i.resources, &fps);
        let missing: Vec<&ResourceRow> = missing(resources, &cached, |r| r.fingerprint);
        for chunk in missing.chunks(MAX_PARAMS / 5) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO resources (fingerprint, service, attributes, dropped_attributes_count, schema_url) ",
            );
            q.push_values(chunk, |mut b, r| {
                b.push_bind(r.fingerprint)
                    .push_bind(r.service.as_str())
                    .push_bind(r.attributes.as_str())
                    .push_bind(r.dropped_attributes_count)
                    .push_bind(r.schema_url.as_str());
            });
            q.push(" ON CONFLICT (fingerprint) DO NOTHING");
            q.build().execute(&mut **tx).await?;
        }
        resolve(tx, "resources", &fps, cached).await
    }

    async fn intern_scopes(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        scopes: &[ScopeRow],
    ) -> Result<Vec<i64>> {
        let fps: Vec<i64> = scopes.iter().map(|s| s.fingerprint).collect();
        let cached = self.cached(|i| &i.scopes, &fps);
        let missing: Vec<&ScopeRow> = missing(scopes, &cached, |s| s.fingerprint);
        for chunk in missing.chunks(MAX_PARAMS / 6) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO scopes (fingerprint, name, version, attributes, dropped_attributes_count, schema_url) ",
            );
            q.push_values(chunk, |mut b, s| {
                b.push_bind(s.fingerprint)
                    .push_bind(s.name.as_str())
                    .push_bind(s.version.as_str())
                    .push_bind(s.attributes.as_str())
                    .push_bind(s.dropped_attributes_count)
                    .push_bind(s.schema_url.as_str());
            });
            q.push(" ON CONFLICT (fingerprint) DO NOTHING");
            q.build().execute(&mut **tx).await?;
        }
        resolve(tx, "scopes", &fps, cached).await
    }

    async fn intern_metrics(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        metrics: &[MetricRow],
        resource_ids: &[i64],
        scope_ids: &[i64],
    ) -> Result<Vec<i64>> {
        let fps: Vec<i64> = metrics.iter().map(|m| m.fingerprint).collect();
        let cached = self.cached(|i| &i.metrics, &fps);
        let missing: Vec<&MetricRow> = missing(metrics, &cached, |m| m.fingerprint);
        for chunk in missing.chunks(MAX_PARAMS / 10) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO metrics (fingerprint, resource_id, scope_id, name, kind, unit, description, temporality, monotonic, metadata) ",
            );
            q.push_values(chunk, |mut b, m| {
                b.push_bind(m.fingerprint)
                    .push_bind(resource_ids[m.resource_idx])
                    .push_bind(scope_ids[m.scope_idx])
                    .push_bind(m.name.as_str())
                    .push_bind(m.kind)
                    .push_bind(m.unit.as_str())
                    .push_bind(m.description.as_str())
                    .push_bind(m.temporality)
                    .push_bind(m.monotonic)
                    .push_bind(m.metadata.as_str());
            });
            q.push(" ON CONFLICT (fingerprint) DO NOTHING");
            q.build().execute(&mut **tx).await?;
        }
        resolve(tx, "metrics", &fps, cached).await
    }

    crate::reads::impl_reads!(Sqlite, readers);
}

/// Ids for fingerprints: the cached ones as they are, the rest looked up.
async fn resolve(
    tx: &mut Transaction<'static, Sqlite>,
    table: &str,
    fps: &[i64],
    cached: Vec<Option<i64>>,
) -> Result<Vec<i64>> {
    let lookup: Vec<i64> = fps
        .iter()
        .zip(&cached)
        .filter(|(_, id)| id.is_none())
        .map(|(fp, _)| *fp)
        .collect();
    let mut found: HashMap<i64, i64> = HashMap::new();
    for chunk in lookup.chunks(MAX_PARAMS) {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT fingerprint, id FROM {table} WHERE fingerprint IN ("
        ));
        let mut list = q.separated(", ");
        for fp in chunk {
            list.push_bind(*fp);
        }
        q.push(")");
        for row in q.build().fetch_all(&mut **tx).await? {
            found.insert(row.try_get(0)?, row.try_get(1)?);
        }
    }
    fps.iter()
        .zip(cached)
        .map(|(fp, id)| {
            id.or_else(|| found.get(fp).copied()).ok_or_else(|| {
                crate::StoreError::Corrupt(format!("{table} row {fp} vanished while interning"))
            })
        })
        .collect()
}

async fn insert_logs(
    tx: &mut Transaction<'static, Sqlite>,
    batch: &Batch,
    resource_ids: &[i64],
    scope_ids: &[i64],
) -> Result<()> {
    const COLUMNS: usize = 17;
    for chunk in batch.logs.chunks(MAX_PARAMS / COLUMNS) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO logs (ts_ns, time_ns, observed_ns, resource_id, scope_id, service, \
             severity_number, severity_text, body, event_name, attributes, \
             dropped_attributes_count, flags, trace_id, span_id, request_id, wire_bytes) ",
        );
        q.push_values(chunk, |mut b, log| {
            b.push_bind(log.effective_time())
                .push_bind(log.time_unix_nano)
                .push_bind(log.observed_time_unix_nano)
                .push_bind(resource_ids[log.resource_idx])
                .push_bind(scope_ids[log.scope_idx])
                .push_bind(batch.resources[log.resource_idx].service.clone())
                .push_bind(log.severity_number)
                .push_bind(log.severity_text.clone())
                .push_bind(rows::body_json(&log.body))
                .push_bind(log.event_name.clone())
                .push_bind(log.attributes.to_json_string())
                .push_bind(i64::from(log.dropped_attributes_count))
                .push_bind(i64::from(log.flags))
                .push_bind(log.trace_id.map(|t| t.to_vec()))
                .push_bind(log.span_id.map(|s| s.to_vec()))
                .push_bind(log.request_id.clone())
                .push_bind(i64::from(log.wire_bytes));
        });
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_points(
    tx: &mut Transaction<'static, Sqlite>,
    batch: &Batch,
    point_metric: &[usize],
    metric_ids: &[i64],
) -> Result<()> {
    const COLUMNS: usize = 9;
    let points: Vec<_> = batch.metric_points.iter().zip(point_metric).collect();
    for chunk in points.chunks(MAX_PARAMS / COLUMNS) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO metric_points (metric_id, attributes, start_ns, time_ns, flags, number, data, exemplars, wire_bytes) ",
        );
        q.push_values(chunk, |mut b, (point, metric_idx)| {
            b.push_bind(metric_ids[**metric_idx])
                .push_bind(point.attributes.to_json_string())
                .push_bind(point.start_time_unix_nano)
                .push_bind(point.time_unix_nano)
                .push_bind(i64::from(point.flags))
                .push_bind(rows::point_number(&point.value).filter(|n| n.is_finite()))
                .push_bind(rows::point_value_json(&point.value))
                .push_bind(rows::json_list(&point.exemplars))
                .push_bind(i64::from(point.wire_bytes));
        });
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
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
    ids: std::collections::HashSet<crate::model::TraceId>,
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
