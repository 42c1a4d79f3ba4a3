//! PostgreSQL's writer: one batch, one transaction, each table written by
//! a single `UNNEST` of column arrays. Several loupe processes may write at
//! once: interning is `ON CONFLICT DO NOTHING` and a re-read, summary rows
//! are upserted in trace-id order and counters updated one row at a time
//! in a fixed order, so that concurrent writers never deadlock.

use std::collections::HashMap;
use std::sync::Mutex;

use sqlx::postgres::PgPool;
use sqlx::{Postgres, Row, Transaction};

use crate::error::{Result, StoreError};
use crate::fingerprint::Fingerprints;
use crate::log_packs::LogPack;
use crate::model::{Batch, TraceId};
use crate::packed::Pack;
use crate::prepared::PreparedBatch;
use crate::rollup;
use crate::stored_json::json_list;
use crate::trace_lists::pack_ids;
use crate::write_rows::{
    self, InternRows, Interned, MetricRow, ResourceRow, ScopeRow, counter_deltas, missing,
    point_number, point_value_json, request_traces, trace_deltas,
};

pub(crate) type Tx = Transaction<'static, Postgres>;

/// Writes the batch in one transaction.
pub(crate) async fn write(
    pool: &PgPool,
    interned: &Mutex<Interned>,
    fingerprints: &Fingerprints,
    prepared: &PreparedBatch,
) -> Result<()> {
    let batch = prepared.batch();
    let rows = InternRows::of(batch, fingerprints);
    let fps = rows.fingerprints();
    let [resources, scopes, metrics] = Interned::cached(interned, &fps);

    let mut tx = pool.begin().await?;
    let resource_ids = intern_resources(&mut tx, &rows.resources, resources).await?;
    let scope_ids = intern_scopes(&mut tx, &rows.scopes, scopes).await?;
    let metric_ids =
        intern_metrics(&mut tx, &rows.metrics, metrics, &resource_ids, &scope_ids).await?;
    let trace_packs = insert_packs(&mut tx, prepared.packs()).await?;
    insert_log_packs(&mut tx, prepared.log_packs()).await?;
    insert_points(&mut tx, batch, &rows.point_metric, &metric_ids).await?;
    upsert_traces(&mut tx, batch, &trace_packs).await?;
    insert_rollups(&mut tx, &prepared.rollups(), rollup::Destination::Appended).await?;
    insert_operations(&mut tx, batch).await?;
    let stale = prepared.stale_minutes();
    if !stale.is_empty() {
        sqlx::query(
            "INSERT INTO report_rollups_stale (minute, at_ns) SELECT m, $2 FROM UNNEST($1::bigint[]) m",
        )
        .bind(&stale)
        .bind(crate::report_rollups::now_ns())
        .execute(&mut *tx)
        .await?;
    }
    // Before the counters and for the same reason: rows other writers
    // update too, one statement each, in (minute, key) order.
    for row in write_rows::key_usage(batch) {
        sqlx::query(
            "INSERT INTO key_usage (minute, key, spans, logs, metric_points, spans_wire_bytes, \
             logs_wire_bytes, metric_points_wire_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (minute, key) DO UPDATE SET spans = key_usage.spans + excluded.spans, \
             logs = key_usage.logs + excluded.logs, \
             metric_points = key_usage.metric_points + excluded.metric_points, \
             spans_wire_bytes = key_usage.spans_wire_bytes + excluded.spans_wire_bytes, \
             logs_wire_bytes = key_usage.logs_wire_bytes + excluded.logs_wire_bytes, \
             metric_points_wire_bytes = \
             key_usage.metric_points_wire_bytes + excluded.metric_points_wire_bytes",
        )
        .bind(row.minute)
        .bind(&row.key)
        .bind(row.items[0])
        .bind(row.items[1])
        .bind(row.items[2])
        .bind(row.wire_bytes[0])
        .bind(row.wire_bytes[1])
        .bind(row.wire_bytes[2])
        .execute(&mut *tx)
        .await?;
    }
    // Last, so that the counter rows other writers also update stay
    // locked only for the commit itself; one row per statement, always in
    // this order, because one UPDATE of several rows locks them in
    // whatever order its scan meets them, and concurrent writers deadlock.
    for (name, n) in counter_deltas(batch) {
        if n > 0 {
            sqlx::query("UPDATE counters SET value = value + $1 WHERE name = $2")
                .bind(i64::try_from(n).unwrap_or(i64::MAX))
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;

    Interned::remember(interned, &fps, [resource_ids, scope_ids, metric_ids]);
    Ok(())
}

/// Row ids for `resources`, `cached` where known; the others inserted unless a
/// row of the same fingerprint exists, then read back.
async fn intern_resources(
    tx: &mut Tx,
    resources: &[ResourceRow],
    cached: Vec<Option<i64>>,
) -> Result<Vec<i64>> {
    let fps: Vec<i64> = resources.iter().map(|r| r.fingerprint).collect();
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

/// Row ids for `scopes`, `cached` where known; the others inserted unless a
/// row of the same fingerprint exists, then read back.
async fn intern_scopes(
    tx: &mut Tx,
    scopes: &[ScopeRow],
    cached: Vec<Option<i64>>,
) -> Result<Vec<i64>> {
    let fps: Vec<i64> = scopes.iter().map(|s| s.fingerprint).collect();
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
    tx: &mut Tx,
    metrics: &[MetricRow],
    cached: Vec<Option<i64>>,
    resource_ids: &[i64],
    scope_ids: &[i64],
) -> Result<Vec<i64>> {
    let fps: Vec<i64> = metrics.iter().map(|m| m.fingerprint).collect();
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
                StoreError::Corrupt(format!("{table} row {fp} vanished while interning"))
            })
        })
        .collect()
}

/// The packs; returns, for each trace they hold, the ids of its packs
/// (`trace_lists::pack_ids`) for its summary row.
pub(crate) async fn insert_packs(tx: &mut Tx, packs: &[Pack]) -> Result<HashMap<TraceId, Vec<u8>>> {
    let mut of_trace: HashMap<TraceId, Vec<u8>> = HashMap::new();
    for pack in packs {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO span_packs (start_lo, start_hi, spans, data, details, span_filter, terms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(pack.start_lo)
        .bind(pack.start_hi)
        .bind(pack.spans)
        .bind(&pack.data)
        .bind(&pack.details)
        .bind(&pack.span_filter)
        .bind(&pack.terms)
        .fetch_one(&mut **tx)
        .await?;
        for trace_id in &pack.traces {
            pack_ids::push(of_trace.entry(*trace_id).or_default(), id);
        }
    }
    Ok(of_trace)
}

/// The batch's operations, each hour's once: one statement, rows already
/// there skipped without a lock, in key order.
async fn insert_operations(tx: &mut Tx, batch: &crate::model::Batch) -> Result<()> {
    let rows = rollup::operations(batch);
    if rows.is_empty() {
        return Ok(());
    }
    let mut columns = (vec![], vec![], vec![], vec![]);
    for (minute, service, name, kind) in rows {
        columns.0.push(minute);
        columns.1.push(service);
        columns.2.push(name);
        columns.3.push(kind);
    }
    sqlx::query(
        "INSERT INTO operations (minute, service, name, kind) SELECT * FROM UNNEST($1::bigint[], \
         $2::text[], $3::text[], $4::int[]) ON CONFLICT DO NOTHING",
    )
    .bind(columns.0)
    .bind(columns.1)
    .bind(columns.2)
    .bind(columns.3)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Inserts rollup rows where `to` says, in one statement.
pub(crate) async fn insert_rollups(
    tx: &mut Tx,
    rows: &[(rollup::Key, rollup::Figures)],
    to: rollup::Destination,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut columns = (
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    for (key, figures) in rows {
        columns.0.push(key.minute);
        columns.1.push(key.service.as_str());
        columns.2.push(key.name.as_str());
        columns.3.push(key.version.as_str());
        columns.4.push(figures.requests);
        columns.5.push(figures.errors);
        columns.6.push(figures.duration_ns);
        columns.7.push(figures.sketch.to_bytes());
    }
    let sql = match to {
        rollup::Destination::Appended | rollup::Destination::Merged => {
            "INSERT INTO rollups (minute, service, name, version, requests, errors, duration_ns, \
             sketch, merged) SELECT *, $9 FROM UNNEST($1::bigint[], $2::text[], $3::text[], \
             $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bytea[])"
        }
        rollup::Destination::Hourly => {
            "INSERT INTO rollups_hourly (minute, service, name, version, requests, errors, \
             duration_ns, sketch) SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], \
             $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bytea[])"
        }
    };
    let query = sqlx::query(sql)
        .bind(columns.0)
        .bind(columns.1)
        .bind(columns.2)
        .bind(columns.3)
        .bind(columns.4)
        .bind(columns.5)
        .bind(columns.6)
        .bind(columns.7);
    let query = match to {
        rollup::Destination::Appended => query.bind(false),
        rollup::Destination::Merged => query.bind(true),
        rollup::Destination::Hourly => query,
    };
    query.execute(&mut **tx).await?;
    Ok(())
}

/// PostgreSQL has no unsigned integers; a share past `i32::MAX` bytes would
/// need a request over 2 GiB, far past any body limit.
fn wire_bytes(bytes: u32) -> i32 {
    i32::try_from(bytes).unwrap_or(i32::MAX)
}

/// The log packs, in one statement.
pub(crate) async fn insert_log_packs(tx: &mut Tx, packs: &[LogPack]) -> Result<()> {
    if packs.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO log_packs (ts_lo, ts_hi, records, ids, terms, data) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::int[], $4::bytea[], $5::bytea[], \
         $6::bytea[])",
    )
    .bind(packs.iter().map(|p| p.ts_lo).collect::<Vec<_>>())
    .bind(packs.iter().map(|p| p.ts_hi).collect::<Vec<_>>())
    .bind(packs.iter().map(|p| p.records).collect::<Vec<_>>())
    .bind(packs.iter().map(|p| p.ids.as_slice()).collect::<Vec<_>>())
    .bind(packs.iter().map(|p| p.terms.as_deref()).collect::<Vec<_>>())
    .bind(packs.iter().map(|p| p.data.as_slice()).collect::<Vec<_>>())
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
    .bind(points.iter().map(|p| point_number(&p.value).filter(|n| n.is_finite())).collect::<Vec<_>>())
    .bind(points.iter().map(|p| point_value_json(&p.value)).collect::<Vec<_>>())
    .bind(points.iter().map(|p| json_list(&p.exemplars)).collect::<Vec<_>>())
    .bind(points.iter().map(|p| wire_bytes(p.wire_bytes)).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn upsert_traces(
    tx: &mut Tx,
    batch: &Batch,
    packs: &HashMap<TraceId, Vec<u8>>,
) -> Result<()> {
    let deltas = trace_deltas(batch);
    if deltas.is_empty() {
        return Ok(());
    }
    // Writers of several processes may add to one trace at once: its
    // services are merged here, under the row's lock, as
    // `trace_lists::service_list::union` does (byte order is collation "C").
    sqlx::query(
        "INSERT INTO traces AS t (trace_id, start_ns, end_ns, span_count, error_count, root_service, root_name, services, packs, \
         entry_rank, entry_start_ns, entry_ns, entry_status, request_id, error_message) \
         SELECT * FROM UNNEST($1::bytea[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::bytea[], \
         $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::text[], $15::text[]) \
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
         packs = t.packs || excluded.packs, \
         entry_rank = CASE WHEN (excluded.entry_rank, excluded.entry_start_ns) < (COALESCE(t.entry_rank, 9), COALESCE(t.entry_start_ns, 0)) \
         THEN excluded.entry_rank ELSE t.entry_rank END, \
         entry_start_ns = CASE WHEN (excluded.entry_rank, excluded.entry_start_ns) < (COALESCE(t.entry_rank, 9), COALESCE(t.entry_start_ns, 0)) \
         THEN excluded.entry_start_ns ELSE t.entry_start_ns END, \
         entry_ns = CASE WHEN (excluded.entry_rank, excluded.entry_start_ns) < (COALESCE(t.entry_rank, 9), COALESCE(t.entry_start_ns, 0)) \
         THEN excluded.entry_ns ELSE t.entry_ns END, \
         entry_status = CASE WHEN (excluded.entry_rank, excluded.entry_start_ns) < (COALESCE(t.entry_rank, 9), COALESCE(t.entry_start_ns, 0)) \
         THEN excluded.entry_status ELSE t.entry_status END, \
         request_id = COALESCE(t.request_id, excluded.request_id), \
         error_message = COALESCE(t.error_message, excluded.error_message)",
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
    .bind(deltas.iter().map(|d| d.entry.map(|e| e.rank)).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.entry.map(|e| e.start_ns)).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.entry.map(|e| e.duration_ns)).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.entry.and_then(|e| e.status)).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.request_id.clone()).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.error_message.clone()).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    let requests = request_traces(batch);
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
