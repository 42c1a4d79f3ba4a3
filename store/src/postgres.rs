//! PostgreSQL backend. Several loupe processes may write to one database at
//! once: interning uses `ON CONFLICT DO NOTHING` and re-reads ids, summary
//! rows are upserted in trace-id order (no deadlocks), and every insert is a
//! single `UNNEST` of column arrays, one statement per table per batch.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Postgres, QueryBuilder, Row, Transaction};

use crate::model::Batch;
use crate::rows::{self, Interned, MetricRow, ResourceRow, ScopeRow, missing};
use crate::{LOCK_TIMEOUT, Result, StoreError};

/// How long the first connection may take before PostgreSQL counts as unreachable.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    interned: Arc<Mutex<Interned>>,
}

type Tx = Transaction<'static, Postgres>;

impl PgStore {
    pub async fn connect(url: &str) -> Result<PgStore> {
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
            .max_connections(8)
            .acquire_timeout(LOCK_TIMEOUT)
            .connect_with(options)
            .await?;
        Ok(PgStore {
            pool,
            interned: Arc::default(),
        })
    }

    pub async fn migrate(&self) -> Result<()> {
        // The migrator takes an advisory lock, so processes starting together
        // against one database migrate it once.
        sqlx::migrate!("../migrations/postgres")
            .run(&self.pool)
            .await?;
        self.convert_spans().await
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn size_bytes(&self) -> Result<u64> {
        let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(size).unwrap_or(0))
    }

    /// Every span that started in `[start, end)`, from the packs whose
    /// range of starts meets the window, streamed.
    pub async fn report_spans(
        &self,
        start: i64,
        end: i64,
        mut each: impl FnMut(crate::report::ReportSpan),
    ) -> Result<()> {
        use futures_util::TryStreamExt as _;
        let mut packs = sqlx::query_scalar::<_, Vec<u8>>(
            "SELECT data FROM span_packs WHERE start_hi >= $1 AND start_lo < $2",
        )
        .bind(start)
        .bind(end)
        .fetch(&self.pool);
        let mut unpacker = crate::packed::Unpacker::default();
        while let Some(data) = packs.try_next().await? {
            crate::blocking(|| unpacker.unpack(&data, start, end, &mut each))?;
        }
        Ok(())
    }

    pub async fn stored_bytes(&self) -> Result<crate::report::SignalBytes> {
        // Each table with its indexes and TOAST.
        let rows = sqlx::query_as::<_, (String, i64)>(
            "SELECT c.relname::text, pg_total_relation_size(c.oid) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'r' AND n.nspname = current_schema()",
        )
        .fetch_all(&self.pool)
        .await?;
        let bytes = crate::report::SignalBytes::of_tables(rows);
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

        let mut tx = self.pool.begin().await?;
        let resource_ids = self.intern_resources(&mut tx, &resources).await?;
        let scope_ids = self.intern_scopes(&mut tx, &scopes).await?;
        let metric_ids = self
            .intern_metrics(&mut tx, &metrics, &resource_ids, &scope_ids)
            .await?;
        let trace_packs = insert_packs(&mut tx, &packs).await?;
        insert_logs(&mut tx, batch, &resource_ids, &scope_ids).await?;
        insert_points(&mut tx, batch, &point_metric, &metric_ids).await?;
        upsert_traces(&mut tx, batch, &trace_packs).await?;
        // Last, so that the counter rows other writers also update stay
        // locked only for the commit itself; one row per statement, always in
        // this order, because one UPDATE of several rows locks them in
        // whatever order its scan meets them, and concurrent writers deadlock.
        for (name, n) in rows::counter_deltas(batch) {
            if n > 0 {
                sqlx::query("UPDATE counters SET value = value + $1 WHERE name = $2")
                    .bind(i64::try_from(n).unwrap_or(i64::MAX))
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;

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

    async fn intern_resources(&self, tx: &mut Tx, resources: &[ResourceRow]) -> Result<Vec<i64>> {
        let fps: Vec<i64> = resources.iter().map(|r| r.fingerprint).collect();
        let cached = Interned::cached(&self.interned, |i| &i.resources, &fps);
        let missing: Vec<&ResourceRow> = missing(resources, &cached, |r| r.fingerprint);
        if !missing.is_empty() {
            sqlx::query(
                "INSERT INTO resources (fingerprint, service, attributes, dropped_attributes_count, schema_url) \
                 SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[]) \
                 ON CONFLICT (fingerprint) DO NOTHING",
            )
            .bind(missing.iter().map(|r| r.fingerprint).collect::<Vec<_>>())
            .bind(missing.iter().map(|r| r.service.clone()).collect::<Vec<_>>())
            .bind(missing.iter().map(|r| r.attributes.clone()).collect::<Vec<_>>())
            .bind(missing.iter().map(|r| r.dropped_attributes_count).collect::<Vec<_>>())
            .bind(missing.iter().map(|r| r.schema_url.clone()).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        }
        resolve(tx, "resources", &fps, cached).await
    }

    async fn intern_scopes(&self, tx: &mut Tx, scopes: &[ScopeRow]) -> Result<Vec<i64>> {
        let fps: Vec<i64> = scopes.iter().map(|s| s.fingerprint).collect();
        let cached = Interned::cached(&self.interned, |i| &i.scopes, &fps);
        let missing: Vec<&ScopeRow> = missing(scopes, &cached, |s| s.fingerprint);
        if !missing.is_empty() {
            sqlx::query(
                "INSERT INTO scopes (fingerprint, name, version, attributes, dropped_attributes_count, schema_url) \
                 SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[]) \
                 ON CONFLICT (fingerprint) DO NOTHING",
            )
            .bind(missing.iter().map(|s| s.fingerprint).collect::<Vec<_>>())
            .bind(missing.iter().map(|s| s.name.clone()).collect::<Vec<_>>())
            .bind(missing.iter().map(|s| s.version.clone()).collect::<Vec<_>>())
            .bind(missing.iter().map(|s| s.attributes.clone()).collect::<Vec<_>>())
            .bind(missing.iter().map(|s| s.dropped_attributes_count).collect::<Vec<_>>())
            .bind(missing.iter().map(|s| s.schema_url.clone()).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        }
        resolve(tx, "scopes", &fps, cached).await
    }

    async fn intern_metrics(
        &self,
        tx: &mut Tx,
        metrics: &[MetricRow],
        resource_ids: &[i64],
        scope_ids: &[i64],
    ) -> Result<Vec<i64>> {
        let fps: Vec<i64> = metrics.iter().map(|m| m.fingerprint).collect();
        let cached = Interned::cached(&self.interned, |i| &i.metrics, &fps);
        let missing: Vec<&MetricRow> = missing(metrics, &cached, |m| m.fingerprint);
        if !missing.is_empty() {
            sqlx::query(
                "INSERT INTO metrics (fingerprint, resource_id, scope_id, name, kind, unit, description, temporality, monotonic, metadata) \
                 SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::bool[], $10::text[]) \
                 ON CONFLICT (fingerprint) DO NOTHING",
            )
            .bind(missing.iter().map(|m| m.fingerprint).collect::<Vec<_>>())
            .bind(missing.iter().map(|m| resource_ids[m.resource_idx]).collect::<Vec<_>>())
            .bind(missing.iter().map(|m| scope_ids[m.scope_idx]).collect::<Vec<_>>())
            .bind(missing.iter().map(|m| m.name.clone()).collect::<Vec<_>>())
            .bind(missing.iter().map(|m| m.kind.to_owned()).collect::<Vec<_>>())
            .bind(missing.iter().map(|m| m.unit.clone()).collect::<Vec<_>>())
            .bind(missing.iter().map(|m| m.description.clone()).collect::<Vec<_>>())
            .bind(missing.iter().map(|m| m.temporality).collect::<Vec<_>>())
            .bind(missing.iter().map(|m| m.monotonic).collect::<Vec<_>>())
            .bind(missing.iter().map(|m| m.metadata.clone()).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        }
        resolve(tx, "metrics", &fps, cached).await
    }

    crate::reads::impl_reads!(Postgres, pool);
}

async fn resolve(
    tx: &mut Tx,
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
    if !lookup.is_empty() {
        let sql = format!("SELECT fingerprint, id FROM {table} WHERE fingerprint = ANY($1)");
        for row in sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&lookup)
            .fetch_all(&mut **tx)
            .await?
        {
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

/// The packs; returns, for each trace they hold, the ids of its packs
/// (`rows::pack_ids`) for its summary row.
async fn insert_packs(
    tx: &mut Tx,
    packs: &[crate::packed::Pack],
) -> Result<HashMap<crate::model::TraceId, Vec<u8>>> {
    let mut of_trace: HashMap<crate::model::TraceId, Vec<u8>> = HashMap::new();
    for pack in packs {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO span_packs (start_lo, start_hi, spans, data, details, span_filter) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(pack.start_lo)
        .bind(pack.start_hi)
        .bind(pack.spans)
        .bind(&pack.data)
        .bind(&pack.details)
        .bind(&pack.span_filter)
        .fetch_one(&mut **tx)
        .await?;
        for trace_id in &pack.traces {
            rows::pack_ids::push(of_trace.entry(*trace_id).or_default(), id);
        }
    }
    Ok(of_trace)
}

/// PostgreSQL has no unsigned integers; a share past `i32::MAX` bytes would
/// need a request over 2 GiB, far past any body limit.
fn wire_bytes(bytes: u32) -> i32 {
    i32::try_from(bytes).unwrap_or(i32::MAX)
}

async fn insert_logs(
    tx: &mut Tx,
    batch: &Batch,
    resource_ids: &[i64],
    scope_ids: &[i64],
) -> Result<()> {
    if batch.logs.is_empty() {
        return Ok(());
    }
    let logs = &batch.logs;
    sqlx::query(
        "INSERT INTO logs (ts_ns, time_ns, observed_ns, resource_id, scope_id, service, \
         severity_number, severity_text, body, body_text, event_name, attributes, \
         dropped_attributes_count, flags, trace_id, span_id, request_id, wire_bytes) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], \
         $6::text[], $7::int[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
         $13::bigint[], $14::bigint[], $15::bytea[], $16::bytea[], $17::text[], $18::int[])",
    )
    .bind(logs.iter().map(|l| l.effective_time()).collect::<Vec<_>>())
    .bind(logs.iter().map(|l| l.time_unix_nano).collect::<Vec<_>>())
    .bind(logs.iter().map(|l| l.observed_time_unix_nano).collect::<Vec<_>>())
    .bind(logs.iter().map(|l| resource_ids[l.resource_idx]).collect::<Vec<_>>())
    .bind(logs.iter().map(|l| scope_ids[l.scope_idx]).collect::<Vec<_>>())
    .bind(logs.iter().map(|l| batch.resources[l.resource_idx].service.clone()).collect::<Vec<_>>())
    .bind(logs.iter().map(|l| l.severity_number).collect::<Vec<_>>())
    .bind(logs.iter().map(|l| l.severity_text.clone()).collect::<Vec<_>>())
    .bind(logs.iter().map(|l| rows::body_json(&l.body)).collect::<Vec<_>>())
    .bind(logs.iter().map(|l| rows::body_text(&l.body)).collect::<Vec<_>>())
    .bind(logs.iter().map(|l| l.event_name.clone()).collect::<Vec<_>>())
    .bind(logs.iter().map(|l| l.attributes.to_json_string()).collect::<Vec<_>>())
    .bind(logs.iter().map(|l| i64::from(l.dropped_attributes_count)).collect::<Vec<_>>())
    .bind(logs.iter().map(|l| i64::from(l.flags)).collect::<Vec<_>>())
    .bind(logs.iter().map(|l| l.trace_id.map(|t| t.to_vec())).collect::<Vec<_>>())
    .bind(logs.iter().map(|l| l.span_id.map(|s| s.to_vec())).collect::<Vec<_>>())
    .bind(logs.iter().map(|l| l.request_id.clone()).collect::<Vec<_>>())
    .bind(logs.iter().map(|l| wire_bytes(l.wire_bytes)).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_points(
    tx: &mut Tx,
    batch: &Batch,
    point_metric: &[usize],
    metric_ids: &[i64],
) -> Result<()> {
    if batch.metric_points.is_empty() {
        return Ok(());
    }
    let points = &batch.metric_points;
    sqlx::query(
        "INSERT INTO metric_points (metric_id, attributes, start_ns, time_ns, flags, number, data, exemplars, wire_bytes) \
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], \
         $6::float8[], $7::text[], $8::text[], $9::int[])",
    )
    .bind(point_metric.iter().map(|idx| metric_ids[*idx]).collect::<Vec<_>>())
    .bind(points.iter().map(|p| p.attributes.to_json_string()).collect::<Vec<_>>())
    .bind(points.iter().map(|p| p.start_time_unix_nano).collect::<Vec<_>>())
    .bind(points.iter().map(|p| p.time_unix_nano).collect::<Vec<_>>())
    .bind(points.iter().map(|p| i64::from(p.flags)).collect::<Vec<_>>())
    .bind(points.iter().map(|p| rows::point_number(&p.value).filter(|n| n.is_finite())).collect::<Vec<_>>())
    .bind(points.iter().map(|p| rows::point_value_json(&p.value)).collect::<Vec<_>>())
    .bind(points.iter().map(|p| rows::json_list(&p.exemplars)).collect::<Vec<_>>())
    .bind(points.iter().map(|p| wire_bytes(p.wire_bytes)).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn upsert_traces(
    tx: &mut Tx,
    batch: &Batch,
    packs: &HashMap<crate::model::TraceId, Vec<u8>>,
) -> Result<()> {
    let deltas = rows::trace_deltas(batch);
    if deltas.is_empty() {
        return Ok(());
    }
    // Writers of several processes may add to one trace at once: its
    // services are merged here, under the row's lock, as
    // `rows::service_list::union` does (byte order is collation "C").
    sqlx::query(
        "INSERT INTO traces AS t (trace_id, start_ns, end_ns, span_count, error_count, root_service, root_name, services, packs) \
         SELECT * FROM UNNEST($1::bytea[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::bytea[]) \
         ON CONFLICT (trace_id) DO UPDATE SET \
         start_ns = LEAST(t.start_ns, excluded.start_ns), \
         end_ns = GREATEST(t.end_ns, excluded.end_ns), \
         span_count = t.span_count + excluded.span_count, \
         error_count = t.error_count + excluded.error_count, \
         root_service = COALESCE(excluded.root_service, t.root_service), \
         root_name = COALESCE(excluded.root_name, t.root_name), \
         services = CASE WHEN strpos(t.services, excluded.services) > 0 THEN t.services ELSE \
         (SELECT chr(31) || string_agg(name, chr(31) ORDER BY name) || chr(31) FROM \
         (SELECT DISTINCT name COLLATE \"C\" AS name \
         FROM unnest(string_to_array(t.services || excluded.services, chr(31))) AS name \
         WHERE name <> '') AS names) END, \
         packs = t.packs || excluded.packs",
    )
    .bind(deltas.iter().map(|d| d.trace_id.to_vec()).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.start_ns).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.end_ns).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.span_count).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.error_count).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.root_service.clone()).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.root_name.clone()).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.services.clone()).collect::<Vec<_>>())
    .bind(
        deltas
            .iter()
            .map(|d| packs.get(&d.trace_id).cloned().unwrap_or_default())
            .collect::<Vec<_>>(),
    )
    .execute(&mut **tx)
    .await?;
    let requests = rows::request_traces(batch);
    if !requests.is_empty() {
        sqlx::query(
            "INSERT INTO request_traces (request_id, trace_id) \
             SELECT * FROM UNNEST($1::text[], $2::bytea[]) ON CONFLICT DO NOTHING",
        )
        .bind(requests.iter().map(|(r, _)| *r).collect::<Vec<_>>())
        .bind(requests.iter().map(|(_, t)| t.to_vec()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The advisory lock the conversion of span rows is done under.
const CONVERT_LOCK: i64 = 7_406_111_705_311_011;

impl PgStore {
    /// Rewrites the span rows of an older database into packs and drops
    /// them (`convert`), in one transaction, under an advisory lock: a
    /// process starting meanwhile waits, then finds nothing to do.
    async fn convert_spans(&self) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CONVERT_LOCK)
            .execute(&mut *tx)
            .await?;
        let old: bool = sqlx::query_scalar("SELECT to_regclass('spans') IS NOT NULL")
            .fetch_one(&mut *tx)
            .await?;
        if !old {
            return Ok(());
        }
        // In the table's own order, roughly the order of writing: sorting
        // by start would spill the whole table to disk first.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DECLARE old_spans NO SCROLL CURSOR FOR SELECT {} FROM spans s \
             LEFT JOIN resources r ON r.id = s.resource_id \
             LEFT JOIN scopes sc ON sc.id = s.scope_id",
            crate::convert::OLD_SPAN_COLUMNS
        )))
        .execute(&mut *tx)
        .await?;
        let (mut converted, mut skipped) = (0u64, 0u64);
        loop {
            let rows: Vec<crate::convert::OldSpan> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "FETCH {} FROM old_spans",
                crate::convert::PACK_SPANS
            )))
            .fetch_all(&mut *tx)
            .await?;
            if rows.is_empty() {
                break;
            }
            let (pack, refused) = crate::blocking(|| crate::convert::pack(rows));
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
            crate::convert::progress(converted);
        }
        sqlx::raw_sql(
            "CLOSE old_spans; DROP VIEW span_rows; DROP TABLE spans; DROP TABLE spans_packed;",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        crate::convert::report(converted, skipped);
        Ok(())
    }
}

/// `column` is one of `ids`, bound as one array.
fn push_in_ids(
    q: &mut QueryBuilder<Postgres>,
    column: &'static str,
    ids: &std::collections::HashSet<crate::model::TraceId>,
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

fn push_text_filter(q: &mut QueryBuilder<Postgres>, text: &str) {
    q.push(" AND to_tsvector('simple', l.body_text) @@ plainto_tsquery('simple', ")
        .push_bind(rows::search_words(text))
        .push(")");
}

/// The attribute `key` (as stored) of the JSON `column` passes `filter`.
fn push_attribute_filter(
    q: &mut QueryBuilder<Postgres>,
    column: &'static str,
    key: &str,
    filter: &crate::AttributeFilter,
) {
    use crate::Comparison::*;
    let ordering = match filter.comparison {
        Equal => {
            if rows::literal_in_json(&filter.value) {
                push_contains(q, column, filter.value.clone());
                q.push(" AND ");
            }
            q.push(format!("({column}::jsonb ->> "))
                .push_bind(key.to_owned())
                .push(") = ")
                .push_bind(filter.value.clone());
            return;
        }
        NotEqual => {
            q.push(format!("({column}::jsonb ->> "))
                .push_bind(key.to_owned())
                .push(") <> ")
                .push_bind(filter.value.clone());
            return;
        }
        Greater => ">",
        GreaterOrEqual => ">=",
        Less => "<",
        LessOrEqual => "<=",
    };
    // CASE, not AND: PostgreSQL may evaluate an AND's sides in any order, and
    // the cast fails on text.
    q.push(format!("(CASE WHEN jsonb_typeof({column}::jsonb -> "))
        .push_bind(key.to_owned())
        .push(format!(") = 'number' THEN ({column}::jsonb ->> "))
        .push_bind(key.to_owned())
        .push(format!(")::float8 END) {op} ", op = ordering))
        .push_bind(filter.value.parse::<f64>().unwrap_or(f64::NAN));
}
