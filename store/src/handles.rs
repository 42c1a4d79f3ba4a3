//! `Store`: one connected, migrated database of either backend, with the
//! one contract both keep.

use crate::error::{Result, StoreError};
use crate::fingerprint::Fingerprints;
use crate::model::{Batch, TraceId};
use crate::postgres;
use crate::prepared::PreparedBatch;
use crate::read_rows::hex_id;
use crate::report_rows;
use crate::runtime::blocking;
use crate::sqlite;
use crate::views::{
    LogQuery, LogView, MetricInfo, MetricPointView, RequestView, ServiceRed, ServicesTally,
    SpanNode, SpanView, Stats, TraceQuery, TraceSummary, TraceView,
};

/// A connected database with its schema migrated.
#[derive(Clone)]
pub struct Store(Backend);

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl Store {
    /// Connects (creating a SQLite file when missing) and runs the embedded migrations.
    pub async fn open(url: &str) -> Result<Store> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without touching the schema.
    pub async fn connect(url: &str) -> Result<Store> {
        if url.starts_with("sqlite:") {
            Ok(Store(Backend::Sqlite(
                sqlite::SqliteStore::connect(url).await?,
            )))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Store(Backend::Postgres(
                postgres::PgStore::connect(url).await?,
            )))
        } else {
            Err(StoreError::BadUrl(url.to_owned()))
        }
    }

    pub async fn migrate(&self) -> Result<()> {
        match &self.0 {
            Backend::Sqlite(s) => s.migrate().await,
            Backend::Postgres(s) => s.migrate().await,
        }
    }

    pub fn backend(&self) -> &'static str {
        match &self.0 {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Does the CPU work of the batch's write ahead of it, on the caller's
    /// thread (packs its spans), outside the write's transaction: many
    /// callers prepare at once, while SQLite's writer is one.
    pub fn prepare(&self, batch: Batch) -> Result<PreparedBatch> {
        blocking(|| PreparedBatch::new(batch, &Fingerprints))
    }

    /// Writes the whole batch in one transaction: on `Ok` every item is
    /// committed (durable as the backend promises), on `Err` none is.
    /// Not idempotent: a batch written twice is stored twice.
    pub async fn write_batch(&self, batch: &PreparedBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        match &self.0 {
            Backend::Sqlite(s) => s.write_batch(batch, &Fingerprints).await,
            Backend::Postgres(s) => s.write_batch(batch, &Fingerprints).await,
        }
    }

    /// How many `write_batch` calls may usefully run at once: SQLite takes
    /// one writer at a time; PostgreSQL commits several in parallel.
    pub fn writers(&self) -> usize {
        match &self.0 {
            Backend::Sqlite(_) => 1,
            Backend::Postgres(_) => 3,
        }
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<()> {
        match &self.0 {
            Backend::Sqlite(s) => s.ping().await,
            Backend::Postgres(s) => s.ping().await,
        }
    }

    pub async fn stats(&self) -> Result<Stats> {
        match &self.0 {
            Backend::Sqlite(s) => s.stats().await,
            Backend::Postgres(s) => s.stats().await,
        }
    }

    /// Every span of the trace and every log record carrying its id; `None`
    /// when the store has no span and no log record of it.
    pub async fn trace(&self, trace_id: &TraceId) -> Result<Option<TraceView>> {
        match &self.0 {
            Backend::Sqlite(s) => s.trace(trace_id).await,
            Backend::Postgres(s) => s.trace(trace_id).await,
        }
    }

    /// Every service that sent anything, by name.
    pub async fn service_names(&self) -> Result<Vec<String>> {
        match &self.0 {
            Backend::Sqlite(s) => s.service_names().await,
            Backend::Postgres(s) => s.service_names().await,
        }
    }

    /// Every service known to the store with the figures of its requests
    /// that started in `[start, end)`, by name; `trend` counts them in
    /// `buckets` equal slices of the window.
    pub async fn services(&self, start: i64, end: i64, buckets: usize) -> Result<Vec<ServiceRed>> {
        let mut tally = ServicesTally::new(self.service_names().await?, start, end, buckets);
        // A request is a span that serves one (server, consumer) or starts
        // a trace.
        self.report_spans(start, end, |s| {
            if s.kind == 2 || s.kind == 5 || s.parent_span_id.is_none() {
                tally.add(&s.service, s.end_ns - s.start_ns, s.is_error, s.start_ns);
            }
        })
        .await?;
        Ok(tally.finish())
    }

    /// Trace summaries matching every filter, newest first.
    pub async fn traces(&self, query: &TraceQuery) -> Result<Vec<TraceSummary>> {
        match &self.0 {
            Backend::Sqlite(s) => s.traces(query).await,
            Backend::Postgres(s) => s.traces(query).await,
        }
    }

    /// Every span of the given traces (ids as hex), ordered by start time.
    pub async fn spans_of_traces(&self, trace_ids: &[String]) -> Result<Vec<SpanView>> {
        let ids: Vec<Vec<u8>> = trace_ids
            .iter()
            .filter_map(|id| hex_id::<16>(id).map(|id| id.to_vec()))
            .collect();
        match &self.0 {
            Backend::Sqlite(s) => s.spans_of_traces(&ids).await,
            Backend::Postgres(s) => s.spans_of_traces(&ids).await,
        }
    }

    /// The `SpanNode` of every span of the given traces (ids as hex).
    pub async fn span_nodes(&self, trace_ids: &[String]) -> Result<Vec<SpanNode>> {
        let ids: Vec<Vec<u8>> = trace_ids
            .iter()
            .filter_map(|id| hex_id::<16>(id).map(|id| id.to_vec()))
            .collect();
        match &self.0 {
            Backend::Sqlite(s) => s.span_nodes(&ids).await,
            Backend::Postgres(s) => s.span_nodes(&ids).await,
        }
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
        match &self.0 {
            Backend::Sqlite(s) => s.spans_by_id(&ids).await,
            Backend::Postgres(s) => s.spans_by_id(&ids).await,
        }
    }

    /// Resolves a trace id, span id or request id to its traces and logs;
    /// `None` when nothing matches.
    pub async fn request(&self, id: &str) -> Result<Option<RequestView>> {
        match &self.0 {
            Backend::Sqlite(s) => s.request(id).await,
            Backend::Postgres(s) => s.request(id).await,
        }
    }

    /// Log records matching every filter given, newest first.
    pub async fn logs(&self, query: &LogQuery) -> Result<Vec<LogView>> {
        match &self.0 {
            Backend::Sqlite(s) => s.logs(query).await,
            Backend::Postgres(s) => s.logs(query).await,
        }
    }

    /// Metric names with kind, unit, description and series count.
    pub async fn metrics(&self) -> Result<Vec<MetricInfo>> {
        match &self.0 {
            Backend::Sqlite(s) => s.metrics().await,
            Backend::Postgres(s) => s.metrics().await,
        }
    }

    /// The newest points of one metric, newest first.
    pub async fn metric_points(&self, name: &str, limit: u32) -> Result<Vec<MetricPointView>> {
        match &self.0 {
            Backend::Sqlite(s) => s.metric_points(name, limit).await,
            Backend::Postgres(s) => s.metric_points(name, limit).await,
        }
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
        match &self.0 {
            Backend::Sqlite(s) => s.metric_points_between(name, start, end, limit).await,
            Backend::Postgres(s) => s.metric_points_between(name, start, end, limit).await,
        }
    }

    /// Calls `each` with every span that started in `[start, end)`, in no
    /// particular order, without holding them all.
    pub async fn report_spans(
        &self,
        start: i64,
        end: i64,
        each: impl FnMut(report_rows::ReportSpan),
    ) -> Result<()> {
        match &self.0 {
            Backend::Sqlite(s) => s.report_spans(start, end, each).await,
            Backend::Postgres(s) => s.report_spans(start, end, each).await,
        }
    }

    /// Log records with a trace id stamped in `[start, end)`, counted by the
    /// span that wrote them.
    pub async fn span_logs(&self, start: i64, end: i64) -> Result<Vec<report_rows::SpanLogs>> {
        match &self.0 {
            Backend::Sqlite(s) => s.span_logs(start, end).await,
            Backend::Postgres(s) => s.span_logs(start, end).await,
        }
    }

    /// Log records stamped in `[start, end)` by service, severity and scope.
    pub async fn log_sources(&self, start: i64, end: i64) -> Result<Vec<report_rows::LogSource>> {
        match &self.0 {
            Backend::Sqlite(s) => s.log_sources(start, end).await,
            Backend::Postgres(s) => s.log_sources(start, end).await,
        }
    }

    /// Metric points stamped in `[start, end)` by metric stream.
    pub async fn metric_usage(
        &self,
        start: i64,
        end: i64,
    ) -> Result<Vec<report_rows::MetricUsage>> {
        match &self.0 {
            Backend::Sqlite(s) => s.metric_usage(start, end).await,
            Backend::Postgres(s) => s.metric_usage(start, end).await,
        }
    }

    /// The attributes of the spans of the newest `traces` traces and of the
    /// newest `logs` log records in `[start, end)`.
    pub async fn attribute_sample(
        &self,
        start: i64,
        end: i64,
        traces: u32,
        logs: u32,
    ) -> Result<Vec<report_rows::AttributeSample>> {
        match &self.0 {
            Backend::Sqlite(s) => s.attribute_sample(start, end, traces, logs).await,
            Backend::Postgres(s) => s.attribute_sample(start, end, traces, logs).await,
        }
    }

    /// Bytes received of each signal since the database was created.
    pub async fn wire_bytes_total(&self) -> Result<report_rows::SignalBytes> {
        match &self.0 {
            Backend::Sqlite(s) => s.wire_bytes_total().await,
            Backend::Postgres(s) => s.wire_bytes_total().await,
        }
    }

    /// Bytes each signal's tables and indexes occupy, all time.
    pub async fn stored_bytes(&self) -> Result<report_rows::SignalBytes> {
        match &self.0 {
            Backend::Sqlite(s) => s.stored_bytes().await,
            Backend::Postgres(s) => s.stored_bytes().await,
        }
    }

    /// Bytes the database occupies on disk.
    pub async fn size_bytes(&self) -> Result<u64> {
        match &self.0 {
            Backend::Sqlite(s) => s.size_bytes().await,
            Backend::Postgres(s) => s.size_bytes().await,
        }
    }

    pub async fn close(&self) {
        match &self.0 {
            Backend::Sqlite(s) => s.close().await,
            Backend::Postgres(s) => s.close().await,
        }
    }
}
