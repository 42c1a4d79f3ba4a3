//! The ceiling: the same spans written straight into a fresh database of
//! the same kind through the store, with no network, decoding or queue and
//! one writer. Each request's spans are packed as `loupe serve` packs them
//! (`Writer::prepare`, one pack per export), then `Writer::write_batch` runs
//! for every `--ceiling-batch` spans; both are timed, and only they. That
//! is the throughput loupe's is stated as a fraction of.

use std::time::{Duration, Instant};

use anyhow::bail;
use store::{PreparedBatch, Store};

use super::databases::{Databases, Disk, Fresh};
use super::server::{machine_cpu_seconds, process_cpu_seconds};
use super::workload::Workload;

#[derive(Debug, Clone, Default)]
pub(super) struct CeilingReport {
    pub(super) spans: u64,
    pub(super) transactions: u64,
    pub(super) batch: u32,
    /// Time spent inside `prepare` and `write_batch` only.
    pub(super) write_time: Duration,
    pub(super) cpu_s: Option<f64>,
    pub(super) machine_cpu_s: Option<(f64, f64)>,
    pub(super) wal_bytes: Option<u64>,
    pub(super) disk: Option<Disk>,
}

impl CeilingReport {
    pub(super) fn spans_per_s(&self) -> f64 {
        self.spans as f64 / self.write_time.as_secs_f64().max(1e-9)
    }
}

pub(super) async fn ceiling(
    databases: &Databases,
    workload: &Workload,
    batch: u32,
    keep: bool,
    timeout: Duration,
) -> anyhow::Result<CeilingReport> {
    let db = databases.fresh("ceiling").await?;
    let result = ceiling_on(databases, &db, workload, batch, timeout).await;
    databases.dispose(&db, keep).await;
    result
}

async fn ceiling_on(
    databases: &Databases,
    db: &Fresh,
    workload: &Workload,
    batch: u32,
    timeout: Duration,
) -> anyhow::Result<CeilingReport> {
    let mut report = write_through_store(databases, &db.url, workload, batch, timeout).await?;
    report.disk = Some(databases.disk(db).await?.minus(&db.empty));
    Ok(report)
}

/// Every call the ceiling makes into `store`: the database at
/// `database_url` opened, each request's spans packed, written `batch`
/// spans a transaction, closed. The cluster's WAL position (PostgreSQL) is
/// read around the writes, while the store is open.
async fn write_through_store(
    databases: &Databases,
    database_url: &str,
    workload: &Workload,
    batch: u32,
    timeout: Duration,
) -> anyhow::Result<CeilingReport> {
    let store = Store::open(database_url).await?;
    let writer = store.writer();
    let rules = collector::Rules::default();
    let mut report = CeilingReport {
        batch,
        ..CeilingReport::default()
    };
    let mut cpu = Some(0.0);
    let mut machine = Some((0.0, 0.0));
    let wal_before = databases.wal_lsn().await;
    let give_up = Instant::now() + timeout;
    let mut pending = PreparedBatch::default();
    let n_bodies = workload.n_bodies();
    // Only the store's work is timed, and counted: packing each request's
    // spans, then writing them; generating and normalising them is not.
    let mut timed =
        |started: Instant, cpu_before: Option<f64>, machine_before: Option<(f64, f64)>| {
            report.write_time += started.elapsed();
            cpu = cpu
                .zip(process_cpu_seconds("self").zip(cpu_before))
                .map(|(sum, (after, before))| sum + after - before);
            machine = machine.zip(machine_cpu_seconds().zip(machine_before)).map(
                |(sum, (after, before))| (sum.0 + after.0 - before.0, sum.1 + after.1 - before.1),
            );
        };
    let (mut spans, mut transactions) = (0, 0);
    for index in 0..n_bodies {
        let normalized = collector::normalize::traces(workload.request(index), &rules);
        if normalized.rejected > 0 {
            bail!(
                "generated spans rejected: {}",
                normalized.first_rejection.unwrap_or_default()
            );
        }
        let (cpu_before, machine_before) = (process_cpu_seconds("self"), machine_cpu_seconds());
        let started = Instant::now();
        let prepared = writer.prepare(normalized.batch)?;
        timed(started, cpu_before, machine_before);
        pending.append(prepared);
        if pending.n_items() < batch as usize && index + 1 < n_bodies {
            continue;
        }
        let batch = std::mem::take(&mut pending);
        let (cpu_before, machine_before) = (process_cpu_seconds("self"), machine_cpu_seconds());
        let started = Instant::now();
        writer.write_batch(&batch).await?;
        timed(started, cpu_before, machine_before);
        spans += batch.n_items() as u64;
        transactions += 1;
        if Instant::now() > give_up {
            bail!("timed out after {spans} spans");
        }
    }
    report.spans = spans;
    report.transactions = transactions;
    report.wal_bytes = wal_before
        .zip(databases.wal_lsn().await)
        .map(|(b, a)| a.saturating_sub(b));
    store.close().await;
    report.cpu_s = cpu;
    report.machine_cpu_s = machine;
    Ok(report)
}
