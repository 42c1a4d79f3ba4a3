//! SQLite backend: one writer connection (SQLite admits one writer at a
//! time anyway), a small pool of readers, WAL so readers never block it, and
//! `synchronous = FULL` so a committed batch survives a power loss.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::admin::{DiskUsage, StoredObject, objects_of};
use crate::error::{Result, StoreError};
use crate::fingerprint::Fingerprints;
use crate::legacy;
use crate::log_packs::LogMatch;
use crate::model::{SpanId, TraceId};
use crate::packed::Unpacker;
use crate::prepared::PreparedBatch;
use crate::report_rows::{ReportSpan, SignalBytes};
use crate::retention::{Space, Step, StepLimits};
use crate::runtime::{LOCK_TIMEOUT, blocking, on_scan_thread};
use crate::span_filter;
use crate::sqlite_ffi::{self, Db};
use crate::sqlite_sweep;
use crate::sqlite_write;
use crate::write_rows::{InternRows, Interned};

#[derive(Clone)]
pub(crate) struct SqliteStore {
    /// Migrations and the conversion of older databases; an idle
    /// connection closes after sqlx's idle timeout.
    writer: SqlitePool,
    /// Batches: a connection of the writer's own, stepped through the C API
    /// (`sqlite_write`) on the writing task's thread. Through sqlx's pool,
    /// taking the connection, borrowing its handle and giving it back were
    /// each a trip to sqlx's thread and back (the give-back a ping), a fifth
    /// of the writer's time under load. `None` once closed.
    batches: Arc<Mutex<Option<Db>>>,
    readers: SqlitePool,
    /// fingerprint → row id of interned resources, scopes and metrics, filled
    /// only after the rows' transaction committed.
    interned: Arc<Mutex<Interned>>,
    /// The database file, for `sqlite_ffi`'s scans.
    file: PathBuf,
    /// Its device and inode when opened: see `check_file`.
    identity: (u64, u64),
    /// `stored_bytes` walks every page; its answer is kept this long.
    stored: Arc<Mutex<Option<(Instant, SignalBytes)>>>,
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
    // Said when it starts failing and when it works again, not five times
    // a second while a disk is full.
    let mut failing = false;
    loop {
        committed.notified().await;
        if pool.is_closed() {
            return;
        }
        match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            Err(_) if pool.is_closed() => return,
            Err(err) if !failing => {
                tracing::warn!(error = %err, "WAL checkpoints fail; the writer will checkpoint itself");
                failing = true;
            }
            Ok(_) if failing => {
                tracing::info!("WAL checkpoints work again");
                failing = false;
            }
            _ => {}
        }
        tokio::time::sleep(CHECKPOINT_EVERY).await;
    }
}

/// Commits dirty the same pages again and again (random keys of the
/// trace-id index and `request_traces`; the newest trace summaries): a
/// page checkpointed every 200 ms is copied into the file once for all the
/// commits in between, not once a commit (docs/adr/0006 has the runs).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// How long a measure of the tables' sizes is reused.
const STORED_BYTES_FOR: Duration = Duration::from_secs(60);

fn file_identity(file: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(file)?;
    Ok((meta.dev(), meta.ino()))
}

impl SqliteStore {
    pub(crate) async fn connect(url: &str) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(LOCK_TIMEOUT)
            .foreign_keys(false);
        // A new file keeps a map of its pages, so that pages freed by
        // retention can be handed back to the filesystem (`give_back`);
        // SQLite takes the setting only before the first table, so an
        // older file keeps reusing its free pages instead.
        let writer_options = WRITER_PRAGMAS
            .iter()
            .fold(options.clone(), |o, (name, value)| o.pragma(*name, *value))
            .auto_vacuum(SqliteAutoVacuum::Incremental);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .after_connect(|conn, _| Box::pin(legacy::sqlite::register_functions(conn)))
            .connect_with(writer_options)
            .await?;
        // The writer's connection made the file: every connection after it
        // opens that file, where `:memory:` would give each its own database.
        let file = Some(options.get_filename().to_owned())
            .filter(|f| f.is_file())
            .ok_or_else(|| StoreError::BadUrl(url.to_owned()))?;
        let identity = file_identity(&file)
            .map_err(|e| StoreError::Scan(format!("{}: {e}", file.display())))?;
        let batches = {
            let file = file.clone();
            let full = [("synchronous", "FULL"), ("foreign_keys", "OFF")];
            blocking(move || Db::open_writer(&file, &[&full[..], &WRITER_PRAGMAS].concat()))?
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
            identity,
            stored: Arc::default(),
            committed,
            checkpointer,
        })
    }

    pub(crate) async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("../migrations/sqlite")
            .run(&self.writer)
            .await?;
        legacy::sqlite::convert(&self.writer).await?;
        legacy::sqlite::convert_logs(&self.writer).await
    }

    pub(crate) async fn close(&self) {
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

    pub(crate) async fn size_bytes(&self) -> Result<u64> {
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
    pub(crate) async fn report_spans(
        &self,
        start: i64,
        end: i64,
        mut each: impl FnMut(ReportSpan),
    ) -> Result<()> {
        let file = self.file.clone();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let scan = on_scan_thread(move || {
            let mut unpacker = Unpacker::default();
            sqlite_ffi::packs(&file, start, end, |data| {
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

    /// The packs whose span-id filter may hold `span_id`: every filter
    /// asked on a blocking thread, read from the index that holds them.
    /// The packs of `m`'s window (every pack when it has none) whose
    /// filters may hold a record it keeps, as (id, greatest time), newest
    /// first: every filter asked on a blocking thread, the id filters read
    /// from the index that holds them.
    pub(crate) async fn log_candidates(&self, m: &LogMatch) -> Result<Vec<(i64, i64)>> {
        let (file, m) = (self.file.clone(), m.clone());
        on_scan_thread(move || {
            let terms = m
                .asks_terms()
                .then_some(|terms: &[u8]| m.terms_may_hold(terms));
            sqlite_ffi::log_packs_that_may_match(
                &file,
                m.start.unwrap_or(i64::MIN),
                m.end.unwrap_or(i64::MAX),
                |ids| m.ids_may_hold(ids),
                terms,
            )
        })
        .await
    }

    pub(crate) async fn packs_that_may_hold(&self, span_id: &SpanId) -> Result<Vec<i64>> {
        let (file, span_id) = (self.file.clone(), *span_id);
        on_scan_thread(move || {
            sqlite_ffi::packs_whose_filter(&file, |filter| {
                span_filter::may_contain(filter, &span_id)
            })
        })
        .await
    }

    pub(crate) async fn stored_bytes(&self) -> Result<SignalBytes> {
        let cached = *self.stored.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, bytes)) = cached
            && at.elapsed() < STORED_BYTES_FOR
        {
            return Ok(bytes);
        }
        let objects = self.objects().await?;
        let bytes = SignalBytes::of_tables(objects.iter().map(|o| (o.table.as_str(), o.bytes)));
        *self.stored.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), bytes));
        Ok(bytes)
    }

    /// Every table and index. dbstat walks every page; `aggregate` keeps
    /// it to one row per b-tree.
    async fn objects(&self) -> Result<Vec<StoredObject>> {
        let rows = sqlx::query_as::<_, (String, String, i64)>(
            "SELECT d.name, coalesce(m.tbl_name, d.name), d.pgsize FROM dbstat('main', 1) d \
             LEFT JOIN sqlite_schema m ON m.name = d.name",
        )
        .fetch_all(&self.readers)
        .await?;
        Ok(objects_of(rows))
    }

    /// The file and its WAL once every committed frame is copied into the
    /// file and the WAL truncated, and what each table and index occupies.
    pub(crate) async fn disk_usage(&self) -> Result<DiskUsage> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.checkpointer)
            .await?;
        let size = |suffix: &str| {
            let mut name = self.file.clone().into_os_string();
            name.push(suffix);
            std::fs::metadata(name).map_or(0, |m| m.len())
        };
        Ok(DiskUsage {
            bytes: size("") + size("-wal"),
            objects: self.objects().await?,
        })
    }

    /// Runs `f` on the writer's own connection, between two batches.
    /// Runs `f` on the writer's connection, the file checked before and
    /// after (`check_file`): a write that went into a replaced file fails
    /// instead of being acknowledged.
    fn on_writer<T>(&self, f: impl FnOnce(&Db) -> Result<T>) -> Result<T> {
        let done = blocking(|| {
            let batches = self.batches.lock().unwrap_or_else(|e| e.into_inner());
            let db = batches
                .as_ref()
                .ok_or_else(|| StoreError::Scan("the store is closed".into()))?;
            self.check_file()?;
            let done = f(db)?;
            self.check_file()?;
            Ok(done)
        });
        self.committed.notify_one();
        done
    }

    /// Whether the path still names the file the writer has open. Deleted
    /// or replaced (a restore copied over it, a cleanup script), the open
    /// file lives on unlinked and vanishes at exit with every commit made
    /// into it since; a `stat` a commit is what it costs to notice.
    fn check_file(&self) -> Result<()> {
        match file_identity(&self.file) {
            Ok(identity) if identity == self.identity => Ok(()),
            _ => Err(StoreError::FileReplaced(self.file.display().to_string())),
        }
    }

    /// Fails unless a write could start now: the file is the one opened
    /// and the writer can take its lock.
    pub(crate) async fn probe(&self) -> Result<()> {
        self.on_writer(|db| {
            db.exec(c"BEGIN IMMEDIATE")?;
            db.exec(c"ROLLBACK")
        })
    }

    pub(crate) async fn sweep_step(&self, cutoff: i64, limits: StepLimits) -> Result<Step> {
        self.on_writer(|db| sqlite_sweep::step(db, cutoff, limits))
    }

    pub(crate) async fn space(&self) -> Result<Space> {
        self.on_writer(|db| sqlite_sweep::space(db, &self.file))
    }

    pub(crate) async fn time_range(&self) -> Result<Option<(i64, i64)>> {
        self.on_writer(sqlite_sweep::time_range)
    }

    pub(crate) async fn rollup_step(
        &self,
        minutes: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<(i64, i64)> {
        self.on_writer(|db| sqlite_sweep::rollup_step(db, minutes, before, limit))
    }

    pub(crate) async fn give_back(&self, bytes: u64) -> Result<u64> {
        self.on_writer(|db| sqlite_sweep::give_back(db, bytes))
    }

    pub(crate) async fn sweep_request_ids(
        &self,
        after: &str,
        chunk: i64,
    ) -> Result<(u64, Option<String>)> {
        self.on_writer(|db| sqlite_sweep::request_ids(db, after, chunk))
    }

    pub(crate) async fn write_batch(
        &self,
        prepared: &PreparedBatch,
        fingerprints: &Fingerprints,
    ) -> Result<()> {
        let rows = InternRows::of(prepared.batch(), fingerprints);
        let fps = rows.fingerprints();
        let rollups = prepared.rollups();
        let stale = prepared.stale_minutes();
        let write = sqlite_write::Write {
            batch: prepared.batch(),
            packs: prepared.packs(),
            log_packs: prepared.log_packs(),
            rollups: &rollups,
            stale: &stale,
            rows: &rows,
            cached: Interned::cached(&self.interned, &fps),
        };

        let ids = self.on_writer(|db| sqlite_write::write(db, write))?;

        Interned::remember(&self.interned, &fps, ids);
        Ok(())
    }

    crate::queries::impl_reads!(Sqlite, readers);
    crate::rollup_reads::impl_rollup_reads!(Sqlite, readers, writer);
    crate::report_rollups::impl_report_rollups!(Sqlite, readers, writer);

    pub(crate) async fn put_report_rollups(
        &self,
        rows: &[(i64, Option<Vec<u8>>)],
        marks: &[i64],
    ) -> Result<()> {
        self.on_writer(|db| sqlite_sweep::put_report_rollups(db, rows, marks))
    }
}

/// `column` is one of `ids`: a JSON array of their hex, one parameter
/// whatever their number.
fn push_in_ids(
    q: &mut QueryBuilder<Sqlite>,
    column: &'static str,
    ids: &std::collections::HashSet<TraceId>,
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
