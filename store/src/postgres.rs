//! PostgreSQL backend: a pool for the writers (several commits at once:
//! `postgres_write`) and the sweeps, another for the reads of `queries` and
//! the scan of a window's packs, so that long reads never keep an export
//! waiting for a connection. Several loupe processes may use one database.

use std::str::FromStr;
use std::sync::{Arc, Mutex};

use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Postgres, QueryBuilder};

use crate::admin::{DiskUsage, StoredObject, objects_of};
use crate::error::{Result, StoreError};
use crate::fingerprint::Fingerprints;
use crate::legacy;
use crate::log_packs::LogMatch;
use crate::model::{SpanId, TraceId};
use crate::packed::Unpacker;
use crate::postgres_sweep;
use crate::postgres_write;
use crate::prepared::PreparedBatch;
use crate::report_rows::{ReportSpan, SignalBytes};
use crate::retention::{Step, StepLimits};
use crate::runtime::blocking;
use crate::span_filter;
use crate::write_rows::Interned;

/// How long the first connection may take before PostgreSQL counts as unreachable.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a write waits for a connection. When PostgreSQL is down the
/// pool retries until then: exports are refused as retryable after it,
/// well before an SDK's own export timeout (10 s by default).
const WRITE_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a read waits for a connection: a page says "database
/// unavailable" after it rather than hang.
const READ_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Clone)]
pub(crate) struct PgStore {
    /// Reads.
    pool: PgPool,
    /// Commits (three writers at once), sweeps and migrations.
    writes: PgPool,
    interned: Arc<Mutex<Interned>>,
}

/// A log pack's id, greatest time and the filters a read asks.
type LogCandidate = (i64, i64, Option<Vec<u8>>, Option<Vec<u8>>);

impl PgStore {
    pub(crate) async fn connect(url: &str) -> Result<PgStore> {
        let options = PgConnectOptions::from_str(url)?.application_name("loupe");
        // A pool retries a refused connection until its acquire timeout
        // runs out; one direct attempt first says at once why it failed.
        let server = format!("{}:{}", options.get_host(), options.get_port());
        match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
            Err(_) => {
                return Err(StoreError::Unreachable(
                    server,
                    format!("no answer within {CONNECT_TIMEOUT:?}"),
                ));
            }
            Ok(Err(sqlx::Error::Io(err))) => {
                return Err(StoreError::Unreachable(server, err.to_string()));
            }
            Ok(Err(err)) => return Err(err.into()),
            Ok(Ok(connection)) => {
                let _ = connection.close().await;
            }
        }
        let pool = PgPoolOptions::new()
            .max_connections(6)
            .acquire_timeout(READ_ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        let writes = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(WRITE_ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        Ok(PgStore {
            pool,
            writes,
            interned: Arc::default(),
        })
    }

    pub(crate) async fn migrate(&self) -> Result<()> {
        // The migrator takes an advisory lock, so processes starting together
        // against one database migrate it once.
        sqlx::migrate!("../migrations/postgres")
            .run(&self.writes)
            .await?;
        legacy::postgres::convert(&self.writes).await?;
        legacy::postgres::convert_logs(&self.writes).await
    }

    /// Fails unless a write could start now: a writer's connection is
    /// there and the server takes writes (not a standby, not read-only).
    pub(crate) async fn probe(&self) -> Result<()> {
        let read_only: bool = sqlx::query_scalar(
            "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'",
        )
        .fetch_one(&self.writes)
        .await?;
        if read_only {
            return Err(StoreError::ReadOnly(
                "the server is a standby or in read-only mode".into(),
            ));
        }
        Ok(())
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
        self.writes.close().await;
    }

    pub(crate) async fn size_bytes(&self) -> Result<u64> {
        let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(size).unwrap_or(0))
    }

    /// Every span that started in `[start, end)`, from the packs whose
    /// range of starts meets the window, streamed.
    pub(crate) async fn report_spans(
        &self,
        start: i64,
        end: i64,
        mut each: impl FnMut(ReportSpan),
    ) -> Result<()> {
        use futures_util::TryStreamExt as _;
        let mut packs = sqlx::query_scalar::<_, Vec<u8>>(
            "SELECT data FROM span_packs WHERE start_hi >= $1 AND start_lo < $2",
        )
        .bind(start)
        .bind(end)
        .fetch(&self.pool);
        let mut unpacker = Unpacker::default();
        while let Some(data) = packs.try_next().await? {
            blocking(|| unpacker.unpack(&data, start, end, &mut each))?;
        }
        Ok(())
    }

    pub(crate) async fn stored_bytes(&self) -> Result<SignalBytes> {
        let objects = self.objects().await?;
        Ok(SignalBytes::of_tables(
            objects.iter().map(|o| (o.table.as_str(), o.bytes)),
        ))
    }

    /// Every table (with its TOAST) and index of the schema.
    async fn objects(&self) -> Result<Vec<StoredObject>> {
        let rows = sqlx::query_as::<_, (String, String, i64)>(
            "SELECT c.relname::text, coalesce(t.relname, c.relname)::text, \
             CASE WHEN c.relkind = 'i' THEN pg_relation_size(c.oid) \
             ELSE pg_table_size(c.oid) END::bigint \
             FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid \
             LEFT JOIN pg_class t ON t.oid = i.indrelid \
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'i')",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(objects_of(rows))
    }

    pub(crate) async fn disk_usage(&self) -> Result<DiskUsage> {
        Ok(DiskUsage {
            bytes: self.size_bytes().await?,
            objects: self.objects().await?,
        })
    }

    pub(crate) async fn write_batch(
        &self,
        prepared: &PreparedBatch,
        fingerprints: &Fingerprints,
    ) -> Result<()> {
        postgres_write::write(&self.writes, &self.interned, fingerprints, prepared)
            .await
            .map_err(out_of_space)
    }

    pub(crate) async fn sweep_step(&self, cutoff: i64, limits: StepLimits) -> Result<Step> {
        postgres_sweep::step(&self.writes, cutoff, limits).await
    }

    /// The packs of `m`'s window (every pack when it has none) whose
    /// filters may hold a record it keeps, as (id, greatest time),
    /// newest first: the filters asked are read with the window.
    pub(crate) async fn log_candidates(&self, m: &LogMatch) -> Result<Vec<(i64, i64)>> {
        let rows: Vec<LogCandidate> = sqlx::query_as(
            "SELECT id, ts_hi, CASE WHEN $3 THEN ids END, CASE WHEN $4 THEN terms END \
             FROM log_packs WHERE ts_hi >= $1 AND ts_lo < $2 ORDER BY ts_hi DESC, id DESC",
        )
        .bind(m.start.unwrap_or(i64::MIN))
        .bind(m.end.unwrap_or(i64::MAX))
        .bind(m.asks_ids())
        .bind(m.asks_terms())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter(|(_, _, ids, terms)| {
                m.may_be_in(ids.as_deref().unwrap_or_default(), terms.as_deref())
            })
            .map(|(id, ts_hi, _, _)| (id, ts_hi))
            .collect())
    }

    /// The packs whose span-id filter may hold `span_id`: every filter
    /// read and asked (an index holding them would refuse a large
    /// export's: PostgreSQL's index entries take a third of a page).
    pub(crate) async fn packs_that_may_hold(&self, span_id: &SpanId) -> Result<Vec<i64>> {
        use futures_util::TryStreamExt as _;
        let mut filters =
            sqlx::query_as::<_, (i64, Vec<u8>)>("SELECT id, span_filter FROM span_packs")
                .fetch(&self.pool);
        let mut ids = Vec::new();
        while let Some((id, filter)) = filters.try_next().await? {
            if span_filter::may_contain(&filter, span_id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    pub(crate) async fn rollup_step(
        &self,
        minutes: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<(i64, i64)> {
        postgres_sweep::rollup_step(&self.writes, minutes, before, limit).await
    }

    pub(crate) async fn sweep_request_ids(
        &self,
        after: &str,
        chunk: i64,
    ) -> Result<(u64, Option<String>)> {
        postgres_sweep::request_ids(&self.writes, after, chunk).await
    }

    crate::queries::impl_reads!(Postgres, pool);
    crate::rollup_reads::impl_rollup_reads!(Postgres, pool, writes);
    crate::report_rollups::impl_report_rollups!(Postgres, pool, writes);

    pub(crate) async fn put_report_rollups(
        &self,
        rows: &[(i64, Option<Vec<u8>>)],
        marks: &[i64],
    ) -> Result<()> {
        postgres_sweep::put_report_rollups(&self.writes, rows, marks).await
    }
}

/// `column` is one of `ids`, bound as one array.
fn push_in_ids(
    q: &mut QueryBuilder<Postgres>,
    column: &'static str,
    ids: &std::collections::HashSet<TraceId>,
) {
    q.push(column)
        .push(" = ANY(")
        .push_bind(ids.iter().map(|t| t.to_vec()).collect::<Vec<_>>())
        .push(")");
}

/// `column` holds the text `part`.
fn push_contains(q: &mut QueryBuilder<Postgres>, column: &'static str, part: String) {
    q.push("strpos(")
        .push(column)
        .push(", ")
        .push_bind(part)
        .push(") > 0");
}

/// The server's `disk_full` (SQLSTATE 53100) said as such, not as a
/// database error: the user has to free space, not read logs.
fn out_of_space(err: StoreError) -> StoreError {
    match &err {
        StoreError::Database(sqlx::Error::Database(db))
            if db.code().is_some_and(|code| code == "53100") =>
        {
            StoreError::DiskFull(db.message().to_owned())
        }
        _ => err,
    }
}
