//! `Store`: one connected, migrated database of either backend, and the
//! handles it hands out, as Jaeger's storage API has them: a `Reader` for
//! the web layer and the reports, a `Writer` for the collector's pipeline,
//! and a `Sweeper` that removes data past its retention. A `Reader` has no
//! way to write: the compiler says so.
//!
//! ```compile_fail,E0599
//! async fn no_write_through_a_reader(reader: store::Reader, batch: store::PreparedBatch) {
//!     reader.write_batch(&batch).await.unwrap();
//! }
//! ```
//!
//! ```compile_fail,E0599
//! fn no_writer_from_a_reader(reader: store::Reader) -> store::Writer {
//!     reader.writer()
//! }
//! ```

use std::ops::Range;
use std::sync::Arc;

use crate::admin::DiskUsage;
use crate::error::{Result, StoreError};
use crate::fingerprint::Fingerprints;
use crate::model::{Batch, TraceId};
use crate::postgres::PgStore;
use crate::prepared::PreparedBatch;
use crate::read_rows::hex_id;
use crate::report_rows::{
    AttributeSample, KeyUsage, LogSource, MetricUsage, ReportSpan, SignalBytes, SpanLogs,
};
use crate::retention::{
    Fitted, GIVE_BACK_STEP, MAX_CUTS, REQUEST_ID_CHUNKS_PER_SWEEP, REQUEST_IDS_CHUNK, Removed,
    STEP, Space, cutoff_for, target,
};
use crate::rollup;
use crate::runtime::blocking;
use crate::sqlite::SqliteStore;
use crate::views::{
    LogQuery, LogView, MetricInfo, MetricPointView, Oldest, Operation, RequestView, ServiceRed,
    ServicesTally, SpanNode, SpanView, Stats, TraceQuery, TraceSummary, TraceView,
};

#[derive(Clone)]
enum Backend {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// Calls the same method on whichever backend `$backend` is.
macro_rules! on_backend {
    ($backend:expr, $db:ident => $call:expr) => {
        match $backend {
            Backend::Sqlite($db) => $call,
            Backend::Postgres($db) => $call,
        }
    };
}

/// A connected database with its schema migrated. Cheap to clone: clones
/// share the connections.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    fingerprints: Fingerprints,
}

impl Store {
    /// Connects (creating a SQLite file when missing), runs the embedded
    /// migrations and converts what an older version stored.
    pub async fn open(url: &str) -> Result<Store> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite(SqliteStore::connect(url).await?)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres(PgStore::connect(url).await?)
        } else {
            return Err(StoreError::BadUrl(url.to_owned()));
        };
        on_backend!(&backend, db => db.migrate().await)?;
        on_backend!(&backend, db => db.settle_rollups_from().await)?;
        on_backend!(&backend, db => db.settle_report_rollups().await)?;
        let key = on_backend!(&backend, db => db.fingerprint_key().await)?;
        Ok(Store {
            backend,
            fingerprints: Fingerprints::keyed(&key),
        })
    }

    /// What the web layer and the reports read through.
    pub fn reader(&self) -> Reader {
        Reader {
            backend: self.backend.clone(),
        }
    }

    /// What the collector's pipeline writes through.
    pub fn writer(&self) -> Writer {
        Writer {
            backend: self.backend.clone(),
            fingerprints: self.fingerprints.clone(),
        }
    }

    /// What removes data past its retention.
    pub fn sweeper(&self) -> Sweeper {
        Sweeper {
            backend: self.backend.clone(),
            request_ids_after: Arc::new(tokio::sync::Mutex::new(String::new())),
        }
    }

    pub fn backend(&self) -> &'static str {
        self.backend.name()
    }

    /// What the database occupies on disk, per table and index too. On
    /// SQLite, committed WAL frames are first copied into the file.
    pub async fn disk_usage(&self) -> Result<DiskUsage> {
        on_backend!(&self.backend, db => db.disk_usage().await)
    }

    /// Closes every connection; handles given out fail from then on.
    pub async fn close(&self) {
        on_backend!(&self.backend, db => db.close().await)
    }
}

/// Writes batches. The contract, for both backends: `write_batch` writes a
/// whole batch in one transaction, durable (as the backend promises) when
/// it returns `Ok`, nothing of it when it returns `Err`; it is not
/// idempotent (a batch written twice is stored twice); several may run at
/// once, also from other processes on one PostgreSQL database.
#[derive(Clone)]
pub struct Writer {
    backend: Backend,
    fingerprints: Fingerprints,
}

impl Writer {
    /// Does the CPU work of the batch's write ahead of it, on the caller's
    /// thread (packs its spans), outside the write's transaction: many
    /// callers prepare at once, while SQLite's writer is one.
    pub fn prepare(&self, batch: Batch) -> Result<PreparedBatch> {
        blocking(|| PreparedBatch::new(batch, &self.fingerprints))
    }

    /// Writes the whole batch in one transaction (see `Writer`).
    pub async fn write_batch(&self, batch: &PreparedBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        on_backend!(&self.backend, db => db.write_batch(batch, &self.fingerprints).await)
    }

    /// Fails unless the database would take a write now (without writing):
    /// what an idle pipeline checks to keep `/readyz` current.
    pub async fn probe(&self) -> Result<()> {
        on_backend!(&self.backend, db => db.probe().await)
    }

    /// How many `write_batch` calls may usefully run at once: SQLite takes
    /// one writer at a time; PostgreSQL commits several in parallel.
    pub fn concurrency(&self) -> usize {
        match self.backend {
            Backend::Sqlite(_) => 1,
            Backend::Postgres(_) => 3,
        }
    }
}

/// Removes data past its retention (docs/adr/0016): spans, trace
/// summaries, log records and metric points older than a cutoff, a short
/// transaction at a time, paced so that the writers keep two thirds of the
/// database's time; then the request ids of removed traces.
#[derive(Clone)]
pub struct Sweeper {
    backend: Backend,
    /// Where the walk of request ids stopped, to go on from there.
    request_ids_after: Arc<tokio::sync::Mutex<String>>,
}

impl Sweeper {
    /// Removes every span that started, trace whose every span ended, log
    /// record and metric point stamped before `cutoff` (Unix ns). A pack of
    /// spans goes once all its spans are older: an export's spans are
    /// seconds apart. Counters (`Reader::stats`) lose what is removed.
    pub async fn sweep(&self, cutoff: i64) -> Result<Removed> {
        let mut removed = self.remove_before(cutoff).await?;
        removed.request_ids += self.walk_request_ids().await?;
        Ok(removed)
    }

    /// What the SQLite file occupies and the room beside it; `None` on
    /// PostgreSQL, whose files and disk are its server's.
    pub async fn space(&self) -> Result<Option<Space>> {
        match &self.backend {
            Backend::Sqlite(db) => db.space().await.map(Some),
            Backend::Postgres(_) => Ok(None),
        }
    }

    /// Keeps the SQLite file within its limit (`Space::limit`: at most
    /// `max_size`, and leaving `min_free_disk` on its filesystem): once
    /// its pages in use pass 95 % of it (`Space::must_shrink`), removes
    /// the oldest data, whatever its kind, until they are down to 85 %;
    /// then hands free pages past the limit back to the filesystem. `None`
    /// on PostgreSQL or without a limit.
    pub async fn fit(
        &self,
        max_size: Option<u64>,
        min_free_disk: Option<u64>,
    ) -> Result<Option<Fitted>> {
        let Backend::Sqlite(db) = &self.backend else {
            return Ok(None);
        };
        let mut space = db.space().await?;
        let Some(limit) = space.limit(max_size, min_free_disk) else {
            return Ok(None);
        };
        let mut removed = Removed::default();
        if space.must_shrink(limit) {
            let target = target(limit);
            for _ in 0..MAX_CUTS {
                let Some((oldest, newest)) = db.time_range().await? else {
                    break;
                };
                let cutoff = cutoff_for(oldest, newest, space.used_bytes(), target);
                removed.add(self.remove_before(cutoff).await?);
                space = db.space().await?;
                if space.used_bytes() <= target || cutoff > newest {
                    break;
                }
            }
            removed.request_ids += self.walk_request_ids().await?;
        }
        if space.can_give_back && space.file_bytes > limit && space.free_bytes > 0 {
            let mut excess = (space.file_bytes - limit).min(space.free_bytes);
            while excess > 0 {
                let started = std::time::Instant::now();
                let given = db.give_back(excess.min(GIVE_BACK_STEP)).await?;
                if given == 0 {
                    break;
                }
                excess = excess.saturating_sub(given);
                tokio::time::sleep((started.elapsed() * 2).max(MIN_PAUSE)).await;
            }
            space = db.space().await?;
        }
        Ok(Some(Fitted {
            removed,
            space,
            limit,
            within: space.used_bytes() <= limit,
        }))
    }

    /// Makes the rollup rows of each key one (rows the writers appended
    /// since the last call), and removes the rollups of minutes that
    /// started before `cutoff` (Unix ns; `None` keeps them), in short
    /// paced steps. Returns the rows removed.
    pub async fn keep_rollups(&self, cutoff: Option<i64>) -> Result<u64> {
        let before = cutoff.map(rollup::minute_of);
        let mut removed = 0;
        loop {
            let started = std::time::Instant::now();
            let (merged, gone) = on_backend!(
                &self.backend,
                db => db.rollup_step(ROLLUP_MINUTES_A_STEP, before, ROLLUP_ROWS_A_STEP).await
            )?;
            removed += u64::try_from(gone).unwrap_or(0);
            if merged < ROLLUP_MINUTES_A_STEP && gone < ROLLUP_ROWS_A_STEP {
                return Ok(removed);
            }
            tokio::time::sleep((started.elapsed() * 2).max(MIN_PAUSE)).await;
        }
    }

    /// Up to `limit` minutes whose report rollups are stale, oldest first:
    /// those no batch has touched since `quiet_before`, and those stale
    /// since `overdue_before` however busy (Unix ns).
    pub async fn report_minutes_due(
        &self,
        quiet_before: i64,
        overdue_before: i64,
        limit: i64,
    ) -> Result<Vec<i64>> {
        on_backend!(&self.backend, db => db.report_minutes_due(quiet_before, overdue_before, limit).await)
    }

    /// The ids of the stale marks of `minutes`. Read before the spans a
    /// new rollup is made from: a mark committed later stays.
    pub async fn report_rollup_marks(&self, minutes: Range<i64>) -> Result<Vec<i64>> {
        on_backend!(&self.backend, db => db.report_rollup_marks(minutes).await)
    }

    /// Stores report rollups (`None`: the minute holds nothing) and
    /// removes the stale marks they answer, in one transaction.
    pub async fn put_report_rollups(
        &self,
        rows: &[(i64, Option<Vec<u8>>)],
        marks: &[i64],
    ) -> Result<()> {
        on_backend!(&self.backend, db => db.put_report_rollups(rows, marks).await)
    }

    /// Steps of removing what is older than `cutoff` until none is left.
    async fn remove_before(&self, cutoff: i64) -> Result<Removed> {
        let mut removed = Removed::default();
        let mut limits = STEP;
        loop {
            let started = std::time::Instant::now();
            let step = on_backend!(&self.backend, db => db.sweep_step(cutoff, limits).await)?;
            removed.add(step.removed);
            if !step.more() {
                return Ok(removed);
            }
            // Kinds that came up short are done: later steps skip them.
            limits = step.next;
            // Twice as long as the step took: the writers get at least
            // two thirds of the database's time.
            tokio::time::sleep((started.elapsed() * 2).max(MIN_PAUSE)).await;
        }
    }

    /// The request ids of removed traces, a bounded walk from where the
    /// last stopped.
    async fn walk_request_ids(&self) -> Result<u64> {
        let mut removed = 0;
        let mut after = self.request_ids_after.lock().await;
        for _ in 0..REQUEST_ID_CHUNKS_PER_SWEEP {
            let (n, next) = on_backend!(
                &self.backend,
                db => db.sweep_request_ids(&after, REQUEST_IDS_CHUNK).await
            )?;
            removed += n;
            match next {
                Some(next) => *after = next,
                None => {
                    after.clear();
                    break;
                }
            }
        }
        Ok(removed)
    }
}

/// Minutes merged and rows of old rollups removed in one step: a minute
/// holds a row per endpoint and batch that had one.
const ROLLUP_MINUTES_A_STEP: i64 = 8;
const ROLLUP_ROWS_A_STEP: i64 = 5_000;

/// The least pause between two steps of a sweep.
const MIN_PAUSE: std::time::Duration = std::time::Duration::from_millis(5);

/// Reads what the writers committed. Ids are taken and given as lowercase
/// hex, times as Unix nanoseconds; windows are `[start, end)`.
#[derive(Clone)]
pub struct Reader {
    backend: Backend,
}

impl Reader {
    /// Answers when the database does.
    pub async fn stats(&self) -> Result<Stats> {
        on_backend!(&self.backend, db => db.stats().await)
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.backend.name()
    }

    /// The first and last time stamped on data in `[start, end)`, clamped
    /// to it; `None` when the window holds nothing.
    pub async fn data_extent(&self, start: i64, end: i64) -> Result<Option<(i64, i64)>> {
        let extent = on_backend!(&self.backend, db => db.data_extent(start, end).await)?;
        // A pack that meets the window may reach past either end of it.
        Ok(extent.map(|(lo, hi)| {
            let lo = lo.max(start);
            (lo, hi.min(end.saturating_sub(1)).max(lo))
        }))
    }

    /// The oldest time kept of each signal.
    pub async fn oldest(&self) -> Result<Oldest> {
        on_backend!(&self.backend, db => db.oldest().await)
    }

    /// Every span of the trace and every log record carrying its id; `None`
    /// when the store has no span and no log record of it.
    pub async fn trace(&self, trace_id: &TraceId) -> Result<Option<TraceView>> {
        on_backend!(&self.backend, db => db.trace(trace_id).await)
    }

    /// Every service that sent anything, by name.
    pub async fn service_names(&self) -> Result<Vec<String>> {
        on_backend!(&self.backend, db => db.service_names().await)
    }

    /// The operations spans named: every (service, span name, kind) seen
    /// within the rollups' retention, of `service` (every service's when
    /// `None`), by service, name and kind. Spans stored before loupe kept
    /// operations are not in it.
    pub async fn operations(&self, service: Option<&str>) -> Result<Vec<Operation>> {
        let rows = on_backend!(&self.backend, db => db.operations(service).await)?;
        Ok(rows
            .into_iter()
            .map(|(service, name, kind)| Operation {
                service,
                name,
                kind: crate::model::SpanKind::from_i32(kind),
            })
            .collect())
    }

    /// Every service known to the store with the figures of its requests
    /// that started in `[start, end)`, by name; `trend` counts them in
    /// `buckets` equal slices of the window. Whole minutes are read from
    /// rollups, the partial minutes at the edges from the spans.
    pub async fn services(&self, start: i64, end: i64, buckets: usize) -> Result<Vec<ServiceRed>> {
        let mut tally = ServicesTally::new(self.service_names().await?, start, end, buckets);
        let from = on_backend!(&self.backend, db => db.rollups_from().await)?;
        let cover = rollup::cover(start, end, from);
        if !cover.minutes.is_empty() {
            on_backend!(&self.backend, db => db.rollups(cover.minutes.clone(), |key, span, figures| {
                tally.add_minutes(&key.service, key.minute..key.minute + span, &figures);
            }).await)?;
        }
        for (start, end) in cover.spans {
            self.report_spans(start, end, |s| {
                if rollup::is_request(s.kind, s.parent_span_id.is_some()) {
                    tally.add(&s.service, s.end_ns - s.start_ns, s.is_error, s.start_ns);
                }
            })
            .await?;
        }
        Ok(tally.finish())
    }

    /// What `service`'s requests did per release (`service.version`, empty
    /// for none) and endpoint, from rollups: the window widened to whole
    /// minutes (and to whole hours where the window holds any: their rows
    /// are merged by the hour),
    /// each with the first minute and the minute after the last it was
    /// seen in; by version, then endpoint. Minutes before rollups began
    /// count for nothing.
    pub async fn releases(
        &self,
        service: &str,
        start: i64,
        end: i64,
    ) -> Result<Vec<rollup::Release>> {
        let minutes = rollup::minute_of(start)..rollup::minute_of(end.saturating_sub(1)) + 1;
        let mut by_key: std::collections::BTreeMap<(String, String), rollup::Release> =
            std::collections::BTreeMap::new();
        on_backend!(&self.backend, db => db.rollups(minutes, |key, span, figures| {
            if key.service != service {
                return;
            }
            let seen = key.minute..key.minute + span;
            match by_key.get_mut(&(key.version.clone(), key.name.clone())) {
                Some(release) => release.add(seen, &figures),
                None => {
                    let release = rollup::Release {
                        version: key.version.clone(),
                        endpoint: key.name.clone(),
                        first_minute: seen.start,
                        end_minute: seen.end,
                        figures,
                    };
                    by_key.insert((key.version, key.name), release);
                }
            }
        }).await)?;
        Ok(by_key.into_values().collect())
    }

    /// The report rollups (`web::reports::figures`' bytes) of the minutes
    /// in `minutes` that are not stale, and the stale minutes, each by minute.
    pub async fn report_rollups(
        &self,
        minutes: Range<i64>,
    ) -> Result<(Vec<(i64, Vec<u8>)>, Vec<i64>)> {
        // Marks first: a minute rolled up between the two reads is then
        // read from its spans, never taken as fresh while it was stale.
        let stale =
            on_backend!(&self.backend, db => db.stale_report_minutes(minutes.clone()).await)?;
        let mut rows = on_backend!(&self.backend, db => db.report_rollups(minutes).await)?;
        rows.retain(|(m, _)| stale.binary_search(m).is_err());
        rows.sort_unstable_by_key(|(m, _)| *m);
        Ok((rows, stale))
    }

    /// How many minutes wait for their report rollups.
    pub async fn report_minutes_pending(&self) -> Result<u64> {
        on_backend!(&self.backend, db => db.report_minutes_pending().await)
    }

    /// Trace summaries matching every filter, newest first.
    pub async fn traces(&self, query: &TraceQuery) -> Result<Vec<TraceSummary>> {
        on_backend!(&self.backend, db => db.traces(query).await)
    }

    /// Every span of the given traces (ids as hex), ordered by start time.
    pub async fn spans_of_traces(&self, trace_ids: &[String]) -> Result<Vec<SpanView>> {
        let ids = trace_ids_of(trace_ids);
        on_backend!(&self.backend, db => db.spans_of_traces(&ids).await)
    }

    /// The `SpanNode` of every span of the given traces (ids as hex).
    pub async fn span_nodes(&self, trace_ids: &[String]) -> Result<Vec<SpanNode>> {
        let ids = trace_ids_of(trace_ids);
        on_backend!(&self.backend, db => db.span_nodes(&ids).await)
    }

    /// The spans of the given (trace id, span id) pairs, as hex; unknown
    /// pairs are left out.
    pub async fn spans_by_id(&self, ids: &[(String, String)]) -> Result<Vec<SpanView>> {
        let ids: Vec<(Vec<u8>, Vec<u8>)> = ids
            .iter()
            .filter_map(|(trace, span)| {
                Some((hex_id::<16>(trace)?.to_vec(), hex_id::<8>(span)?.to_vec()))
            })
            .collect();
        on_backend!(&self.backend, db => db.spans_by_id(&ids).await)
    }

    /// Resolves a trace id, span id or request id to its traces and logs;
    /// `None` when nothing matches.
    /// How many traces meet `query` (its offset and limit aside), counted
    /// up to `bound` (past it, `bound + 1`); `None` when it asks of spans.
    pub async fn count_traces(&self, query: &TraceQuery, bound: u32) -> Result<Option<u64>> {
        on_backend!(&self.backend, db => db.count_traces(query, bound).await)
    }

    pub async fn request(&self, id: &str) -> Result<Option<RequestView>> {
        on_backend!(&self.backend, db => db.request(id).await)
    }

    /// Log records matching every filter given, newest first.
    pub async fn logs(&self, query: &LogQuery) -> Result<Vec<LogView>> {
        on_backend!(&self.backend, db => db.logs(query).await)
    }

    /// Metric names with kind, unit, description and series count.
    pub async fn metrics(&self) -> Result<Vec<MetricInfo>> {
        on_backend!(&self.backend, db => db.metrics().await)
    }

    /// The newest points of one metric, newest first.
    pub async fn metric_points(&self, name: &str, limit: u32) -> Result<Vec<MetricPointView>> {
        on_backend!(&self.backend, db => db.metric_points(name, limit).await)
    }

    /// The points of one metric stamped in `[start, end)`, oldest first, at
    /// most `limit`.
    pub async fn metric_points_between(
        &self,
        name: &str,
        start: i64,
        end: i64,
        limit: u32,
    ) -> Result<Vec<MetricPointView>> {
        on_backend!(&self.backend, db => db.metric_points_between(name, start, end, limit).await)
    }

    /// Calls `each` with every span that started in `[start, end)`, in no
    /// particular order, without holding them all.
    pub async fn report_spans(
        &self,
        start: i64,
        end: i64,
        each: impl FnMut(ReportSpan),
    ) -> Result<()> {
        on_backend!(&self.backend, db => db.report_spans(start, end, each).await)
    }

    /// How many spans `report_spans` of the same window reads, at most.
    pub async fn spans_between(&self, start: i64, end: i64) -> Result<u64> {
        on_backend!(&self.backend, db => db.spans_between(start, end).await)
    }

    /// Log records with a trace id stamped in `[start, end)`, counted by the
    /// span that wrote them.
    pub async fn span_logs(&self, start: i64, end: i64) -> Result<Vec<SpanLogs>> {
        on_backend!(&self.backend, db => db.span_logs(start, end).await)
    }

    /// Log records stamped in `[start, end)` by service, severity and scope.
    pub async fn log_sources(&self, start: i64, end: i64) -> Result<Vec<LogSource>> {
        on_backend!(&self.backend, db => db.log_sources(start, end).await)
    }

    /// What each ingest key sent in the minutes `[start, end)` touches,
    /// most bytes first; nothing when no receiver asked for keys.
    pub async fn key_usage(&self, start: i64, end: i64) -> Result<Vec<KeyUsage>> {
        on_backend!(&self.backend, db => db.key_usage(start, end).await)
    }

    /// Metric points stamped in `[start, end)` by metric stream.
    pub async fn metric_usage(&self, start: i64, end: i64) -> Result<Vec<MetricUsage>> {
        on_backend!(&self.backend, db => db.metric_usage(start, end).await)
    }

    /// The attributes of the spans of the newest `traces` traces and of the
    /// newest `logs` log records in `[start, end)`.
    pub async fn attribute_sample(
        &self,
        start: i64,
        end: i64,
        traces: u32,
        logs: u32,
    ) -> Result<Vec<AttributeSample>> {
        on_backend!(&self.backend, db => db.attribute_sample(start, end, traces, logs).await)
    }

    /// Bytes received of each signal since the database was created.
    pub async fn wire_bytes_total(&self) -> Result<SignalBytes> {
        on_backend!(&self.backend, db => db.wire_bytes_total().await)
    }

    /// Bytes each signal's tables and indexes occupy, all time.
    pub async fn stored_bytes(&self) -> Result<SignalBytes> {
        on_backend!(&self.backend, db => db.stored_bytes().await)
    }

    /// Bytes the database occupies on disk.
    pub async fn size_bytes(&self) -> Result<u64> {
        on_backend!(&self.backend, db => db.size_bytes().await)
    }
}

/// Trace ids given as hex, as the backends bind them; others left out.
fn trace_ids_of(trace_ids: &[String]) -> Vec<Vec<u8>> {
    trace_ids
        .iter()
        .filter_map(|id| hex_id::<16>(id).map(|id| id.to_vec()))
        .collect()
}
