//! What the bench measured, and the targets it is held to. `Report` holds
//! every figure once, computed from the runs: `--json` prints its serde
//! serialization, and its `Display` is the table people read, so the two
//! cannot disagree.

use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

use super::args::BenchArgs;
use super::ceiling::CeilingReport;
use super::client::Load;
use super::databases::Disk;
use super::queries::{QueryReport, QueryTiming, write_timings};
use super::server::WriterStats;
use super::workload::{SPANS_PER_TRACE, Shape};

/// One transport's run: the load, and what the server and its database
/// said afterwards (none of it against a server the bench did not start).
pub(super) struct RunReport {
    pub(super) load: Load,
    pub(super) writer: Option<WriterStats>,
    pub(super) wal_bytes: Option<u64>,
    pub(super) disk: Option<Disk>,
    pub(super) queries: Option<QueryReport>,
}

/// Log records or metric points loaded on a database of their own.
pub(super) struct SignalReport {
    pub(super) name: &'static str,
    pub(super) load: Load,
    pub(super) otlp_bytes: u64,
    pub(super) disk: Disk,
    /// `--queries`, for log records: their reads, timed.
    pub(super) queries: Option<Vec<QueryTiming>>,
}

/// Everything a bench run measured, and where.
pub(super) struct Measured<'a> {
    pub(super) args: &'a BenchArgs,
    pub(super) cpus: usize,
    pub(super) loadavg_before: Option<String>,
    pub(super) loadavg_after: Option<String>,
    pub(super) backend: Option<&'static str>,
    pub(super) location: Option<String>,
    /// Against a loupe the bench did not start (`--target`).
    pub(super) external: bool,
    pub(super) shape: Shape,
    pub(super) runs: Vec<RunReport>,
    pub(super) ceiling: Option<CeilingReport>,
    pub(super) signals: Vec<SignalReport>,
}

#[derive(Debug, Serialize)]
pub(super) struct Report {
    machine: Machine,
    settings: Settings,
    workload: WorkloadFigures,
    runs: Vec<Run>,
    ceiling: Option<Ceiling>,
    /// Log records and metric points, each on a database of its own.
    signals: Vec<SignalRun>,
    targets: Vec<Target>,
    /// `--queries`: the reads timed on the first run's database.
    queries: Option<QueryReport>,
}

#[derive(Debug, Serialize)]
struct Machine {
    cpus: usize,
    loadavg_before: Option<String>,
    loadavg_after: Option<String>,
}

#[derive(Debug, Serialize)]
struct Settings {
    spans: u64,
    clients: u32,
    spans_per_request: u32,
    database: Option<&'static str>,
    database_location: Option<String>,
    server: &'static str,
    #[serde(skip)]
    external: bool,
}

#[derive(Debug, Serialize)]
struct WorkloadFigures {
    requests: usize,
    traces: u64,
    spans_per_trace: u64,
    resources: usize,
    attributes_per_span: f64,
    exception_event_share: f64,
    otlp_protobuf_bytes_per_span: f64,
    #[serde(skip)]
    services: usize,
}

#[derive(Debug, Serialize)]
struct Run {
    transport: &'static str,
    #[serde(skip)]
    label: &'static str,
    requests: u64,
    spans_acknowledged: u64,
    spans_rejected: u64,
    retries: u64,
    wall_seconds: f64,
    spans_per_second: f64,
    fraction_of_ceiling: Option<f64>,
    latency_ms: Option<Latency>,
    server: Server,
    client_cpu_seconds: Option<f64>,
    machine_cpu_seconds: Option<MachineCpu>,
    writer: Option<Writer>,
    postgres_wal_bytes_per_span: Option<f64>,
    disk: Option<DiskFigures>,
}

/// Export latency percentiles, in milliseconds.
#[derive(Debug, Serialize)]
struct Latency {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

#[derive(Debug, Serialize)]
struct Server {
    cpu_seconds: Option<f64>,
    cpu_seconds_per_100k_spans: Option<f64>,
    peak_rss_bytes: Option<u64>,
}

#[derive(Debug, Serialize)]
struct MachineCpu {
    busy: f64,
    available: f64,
}

#[derive(Debug, Serialize)]
struct Writer {
    commits: f64,
    spans_per_commit: f64,
    commit_seconds: f64,
    busy_share: f64,
}

#[derive(Debug, Serialize)]
struct DiskFigures {
    bytes: u64,
    bytes_per_span: f64,
    /// Table or index name → bytes, largest first, as a JSON object.
    #[serde(serialize_with = "as_map")]
    objects: Vec<(String, u64)>,
    /// The spans the bytes are shared over.
    #[serde(skip)]
    spans: f64,
}

#[derive(Debug, Serialize)]
struct SignalRun {
    signal: &'static str,
    acknowledged: u64,
    rejected: u64,
    wall_seconds: f64,
    per_second: f64,
    server_cpu_seconds_per_100k: Option<f64>,
    otlp_protobuf_bytes_per_item: f64,
    disk: DiskFigures,
    reads: Option<Vec<QueryTiming>>,
}

impl SignalRun {
    fn new(run: &SignalReport) -> SignalRun {
        let items = run.load.spans_acked.max(1) as f64;
        SignalRun {
            signal: run.name,
            acknowledged: run.load.spans_acked,
            rejected: run.load.spans_rejected,
            wall_seconds: run.load.wall.as_secs_f64(),
            per_second: run.load.spans_per_s(),
            server_cpu_seconds_per_100k: run.load.server_cpu_s.map(|cpu| cpu / items * 100_000.0),
            otlp_protobuf_bytes_per_item: run.otlp_bytes as f64 / items,
            disk: DiskFigures::new(&run.disk, items),
            reads: run.queries.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct Ceiling {
    spans: u64,
    spans_per_transaction: u32,
    transactions: u64,
    write_seconds: f64,
    spans_per_second: f64,
    cpu_seconds: Option<f64>,
    cpu_seconds_per_100k_spans: Option<f64>,
    machine_cpu_seconds: Option<MachineCpu>,
    postgres_wal_bytes_per_span: Option<f64>,
    disk: Option<DiskFigures>,
}

#[derive(Debug, Serialize)]
struct Target {
    #[serde(rename = "target")]
    what: String,
    limit: String,
    measured: String,
    met: bool,
}

impl Report {
    pub(super) fn new(mut measured: Measured<'_>) -> Report {
        let args = measured.args;
        let queries = measured.runs.iter_mut().find_map(|run| run.queries.take());
        let ceiling_per_s = measured.ceiling.as_ref().map(CeilingReport::spans_per_s);
        let runs: Vec<Run> = measured
            .runs
            .iter()
            .map(|run| Run::new(run, ceiling_per_s))
            .collect();
        let signals: Vec<SignalRun> = measured.signals.iter().map(SignalRun::new).collect();
        let targets = if measured.external {
            Vec::new()
        } else {
            let mut targets = targets(measured.backend, &runs);
            targets.extend(signals.iter().map(|run| Target {
                what: format!("{}: bytes on disk each", run.signal),
                limit: format!("<= {ITEM_BYTES:.0}"),
                measured: format!("{:.0}", run.disk.bytes_per_span),
                met: run.disk.bytes_per_span <= ITEM_BYTES,
            }));
            targets
        };
        Report {
            machine: Machine {
                cpus: measured.cpus,
                loadavg_before: measured.loadavg_before,
                loadavg_after: measured.loadavg_after,
            },
            settings: Settings {
                spans: args.spans,
                clients: args.clients,
                spans_per_request: args.batch,
                database: measured.backend,
                database_location: measured.location,
                server: if measured.external {
                    "external (--target)"
                } else {
                    "child process loupe serve"
                },
                external: measured.external,
            },
            workload: WorkloadFigures {
                requests: measured.shape.requests,
                traces: args.spans.div_ceil(SPANS_PER_TRACE),
                spans_per_trace: SPANS_PER_TRACE,
                resources: measured.shape.resources,
                attributes_per_span: measured.shape.attributes_per_span,
                exception_event_share: measured.shape.exception_share,
                otlp_protobuf_bytes_per_span: measured.shape.otlp_bytes as f64 / args.spans as f64,
                services: measured.shape.services,
            },
            runs,
            ceiling: measured.ceiling.as_ref().map(Ceiling::new),
            signals,
            targets,
            queries,
        }
    }
}

impl Run {
    fn new(run: &RunReport, ceiling_per_s: Option<f64>) -> Run {
        let load = &run.load;
        let spans = load.spans_acked.max(1) as f64;
        let wall = load.wall.as_secs_f64();
        let latency_ms = (!load.latencies.is_empty()).then(|| {
            let p = |q| percentile(&load.latencies, q).as_secs_f64() * 1e3;
            Latency {
                p50: p(0.5),
                p90: p(0.9),
                p99: p(0.99),
                max: p(1.0),
            }
        });
        Run {
            transport: load.transport.name(),
            label: load.transport.label(),
            requests: load.requests,
            spans_acknowledged: load.spans_acked,
            spans_rejected: load.spans_rejected,
            retries: load.retries,
            wall_seconds: wall,
            spans_per_second: load.spans_per_s(),
            fraction_of_ceiling: ceiling_per_s.map(|c| load.spans_per_s() / c),
            latency_ms,
            server: Server {
                cpu_seconds: load.server_cpu_s,
                cpu_seconds_per_100k_spans: load.server_cpu_s.map(|c| c / spans * 1e5),
                peak_rss_bytes: load.server_peak_rss,
            },
            client_cpu_seconds: load.client_cpu_s,
            machine_cpu_seconds: load.machine_cpu_s.map(MachineCpu::from),
            writer: run.writer.map(|w| Writer {
                commits: w.commits,
                spans_per_commit: w.items / w.commits.max(1.0),
                commit_seconds: w.commit_seconds,
                busy_share: w.commit_seconds / wall.max(1e-9),
            }),
            postgres_wal_bytes_per_span: run.wal_bytes.map(|w| w as f64 / spans),
            disk: run.disk.as_ref().map(|d| DiskFigures::new(d, spans)),
        }
    }
}

impl Ceiling {
    fn new(c: &CeilingReport) -> Ceiling {
        let spans = c.spans.max(1) as f64;
        Ceiling {
            spans: c.spans,
            spans_per_transaction: c.batch,
            transactions: c.transactions,
            write_seconds: c.write_time.as_secs_f64(),
            spans_per_second: c.spans_per_s(),
            cpu_seconds: c.cpu_s,
            cpu_seconds_per_100k_spans: c.cpu_s.map(|s| s / spans * 1e5),
            machine_cpu_seconds: c.machine_cpu_s.map(MachineCpu::from),
            postgres_wal_bytes_per_span: c.wal_bytes.map(|w| w as f64 / spans),
            disk: c.disk.as_ref().map(|d| DiskFigures::new(d, spans)),
        }
    }
}

impl From<(f64, f64)> for MachineCpu {
    fn from((busy, available): (f64, f64)) -> MachineCpu {
        MachineCpu { busy, available }
    }
}

impl DiskFigures {
    fn new(disk: &Disk, spans: f64) -> DiskFigures {
        DiskFigures {
            bytes: disk.bytes,
            bytes_per_span: disk.bytes as f64 / spans,
            objects: disk.objects.clone(),
            spans,
        }
    }
}

fn as_map<S: Serializer>(objects: &[(String, u64)], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_map(objects.iter().map(|(name, bytes)| (name, bytes)))
}

/// Bytes on disk a log record or a metric point may take: what a span takes
/// with its rollups and filters (issue targets, README).
const ITEM_BYTES: f64 = 130.0;

/// The project's targets for a server the bench started (see the README).
fn targets(backend: Option<&str>, runs: &[Run]) -> Vec<Target> {
    let mut targets = Vec::new();
    let (floor, ratio) = match backend {
        Some("sqlite") => (100_000.0, Some(0.6)),
        Some("postgres") => (60_000.0, None),
        _ => return targets,
    };
    for run in runs {
        let label = run.label;
        targets.push(Target {
            what: format!("{label}: spans/s acknowledged"),
            limit: format!(">= {}", grouped(floor)),
            measured: grouped(run.spans_per_second),
            met: run.spans_per_second >= floor,
        });
        if let (Some(ratio), Some(fraction)) = (ratio, run.fraction_of_ceiling) {
            targets.push(Target {
                what: format!("{label}: fraction of the ceiling"),
                limit: format!(">= {ratio:.2}"),
                measured: format!("{fraction:.3}"),
                met: fraction >= ratio,
            });
        }
        if let Some(disk) = &run.disk {
            let per_span = disk.bytes_per_span;
            targets.push(Target {
                what: format!("{label}: bytes on disk per span"),
                limit: "<= 200".to_owned(),
                measured: format!("{per_span:.0}"),
                met: per_span <= 200.0,
            });
        }
        if let Some(rss) = run.server.peak_rss_bytes {
            let mb = rss as f64 / 1e6;
            targets.push(Target {
                what: format!("{label}: server peak RSS (MB)"),
                limit: "<= 300".to_owned(),
                measured: format!("{mb:.0}"),
                met: mb <= 300.0,
            });
        }
    }
    targets
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = &self.settings;
        let workload = &self.workload;
        let otlp_per_span = workload.otlp_protobuf_bytes_per_span;
        writeln!(f)?;
        writeln!(
            f,
            "loupe bench: {} spans per run, {} clients, {} spans per request",
            grouped(settings.spans as f64),
            settings.clients,
            settings.spans_per_request
        )?;
        if let Some(location) = &settings.database_location {
            writeln!(f, "database: {location}")?;
        }
        writeln!(
            f,
            "machine: {} CPUs, load average {} before, {} after",
            self.machine.cpus,
            self.machine.loadavg_before.as_deref().unwrap_or("?"),
            self.machine.loadavg_after.as_deref().unwrap_or("?")
        )?;
        writeln!(
            f,
            "server: {}",
            if settings.external {
                "already running (--target): its CPU, memory and disk use are not measured"
            } else {
                "`loupe serve` as a child process; its CPU and RSS exclude the load generator's"
            }
        )?;
        writeln!(
            f,
            "workload: {} requests, traces of {SPANS_PER_TRACE} spans across {} services ({} resources), {:.1} attributes per span, {:.0}% of spans with an exception event; OTLP protobuf {:.0} bytes per span",
            workload.requests,
            workload.services,
            workload.resources,
            workload.attributes_per_span,
            workload.exception_event_share * 100.0,
            otlp_per_span
        )?;
        for run in &self.runs {
            writeln!(f)?;
            write_run(f, run, otlp_per_span)?;
        }
        if let Some(ceiling) = &self.ceiling {
            writeln!(f)?;
            write_ceiling(f, ceiling, otlp_per_span)?;
        }
        for run in &self.signals {
            writeln!(f)?;
            write_signal(f, run)?;
        }
        if !self.targets.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "targets ({} CPUs, load generator on the same machine):",
                self.machine.cpus
            )?;
            for t in &self.targets {
                writeln!(
                    f,
                    "  [{}] {}: {} (target {})",
                    if t.met { "met" } else { "MISSED" },
                    t.what,
                    t.measured,
                    t.limit
                )?;
            }
        }
        if let Some(queries) = &self.queries {
            writeln!(f)?;
            write!(f, "{queries}")?;
        }
        Ok(())
    }
}

fn write_run(f: &mut fmt::Formatter<'_>, run: &Run, otlp_per_span: f64) -> fmt::Result {
    writeln!(
        f,
        "{}: {} spans acknowledged in {:.2} s = {} spans/s ({} rejected, {} retries)",
        run.label,
        grouped(run.spans_acknowledged as f64),
        run.wall_seconds,
        grouped(run.spans_per_second),
        run.spans_rejected,
        run.retries
    )?;
    if let Some(fraction) = run.fraction_of_ceiling {
        writeln!(f, "  {fraction:.2} of the ceiling")?;
    }
    if let Some(latency) = &run.latency_ms {
        writeln!(
            f,
            "  export latency: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            latency.p50, latency.p90, latency.p99, latency.max
        )?;
    }
    if let (Some(cpu), Some(per_100k), Some(rss)) = (
        run.server.cpu_seconds,
        run.server.cpu_seconds_per_100k_spans,
        run.server.peak_rss_bytes,
    ) {
        writeln!(
            f,
            "  server: {cpu:.2} CPU s ({:.2} cores busy) = {per_100k:.2} CPU s per 100k spans; peak RSS {:.1} MB",
            cpu / run.wall_seconds.max(1e-9),
            rss as f64 / 1e6
        )?;
    }
    writeln!(
        f,
        "  load generator: {} CPU s; whole machine: {}",
        run.client_cpu_seconds
            .map_or("?".to_owned(), |c| format!("{c:.2}")),
        run.machine_cpu_seconds
            .as_ref()
            .map_or("?".to_owned(), |m| format!(
                "{:.2} of {:.2} CPU s busy ({:.0}%)",
                m.busy,
                m.available,
                m.busy / m.available.max(1e-9) * 100.0
            ))
    )?;
    if let Some(w) = &run.writer {
        writeln!(
            f,
            "  writer: {:.0} commits of {:.0} spans on average, {:.2} s inside write_batch ({:.0}% of the run)",
            w.commits,
            w.spans_per_commit,
            w.commit_seconds,
            w.busy_share * 100.0
        )?;
    }
    if let Some(wal) = run.postgres_wal_bytes_per_span {
        writeln!(
            f,
            "  PostgreSQL WAL written (whole cluster): {wal:.0} bytes per span"
        )?;
    }
    if let Some(disk) = &run.disk {
        write_disk(f, disk, otlp_per_span)?;
    }
    Ok(())
}

fn write_ceiling(f: &mut fmt::Formatter<'_>, c: &Ceiling, otlp_per_span: f64) -> fmt::Result {
    writeln!(
        f,
        "ceiling (Writer::prepare per request, Writer::write_batch per {} spans, one writer, no network or decoding): {} spans in {:.2} s = {} spans/s",
        c.spans_per_transaction,
        grouped(c.spans as f64),
        c.write_seconds,
        grouped(c.spans_per_second)
    )?;
    if let (Some(cpu), Some(per_100k)) = (c.cpu_seconds, c.cpu_seconds_per_100k_spans) {
        writeln!(
            f,
            "  this process inside prepare and write_batch: {cpu:.2} CPU s = {per_100k:.2} CPU s per 100k spans; whole machine: {}",
            c.machine_cpu_seconds
                .as_ref()
                .map_or("?".to_owned(), |m| format!(
                    "{:.2} of {:.2} CPU s busy",
                    m.busy, m.available
                ))
        )?;
    }
    if let Some(wal) = c.postgres_wal_bytes_per_span {
        writeln!(
            f,
            "  PostgreSQL WAL written (whole cluster): {wal:.0} bytes per span"
        )?;
    }
    if let Some(disk) = &c.disk {
        write_disk(f, disk, otlp_per_span)?;
    }
    Ok(())
}

fn write_signal(f: &mut fmt::Formatter<'_>, run: &SignalRun) -> fmt::Result {
    writeln!(
        f,
        "{} (OTLP/HTTP): {} acknowledged in {:.2} s = {}/s ({} rejected){}",
        run.signal,
        grouped(run.acknowledged as f64),
        run.wall_seconds,
        grouped(run.per_second),
        run.rejected,
        run.server_cpu_seconds_per_100k
            .map_or(String::new(), |cpu| format!(
                "; {cpu:.2} server CPU s per 100k"
            )),
    )?;
    writeln!(
        f,
        "  disk: {:.1} MB = {:.0} bytes each (OTLP protobuf: {:.0} bytes each)",
        run.disk.bytes as f64 / 1e6,
        run.disk.bytes_per_span,
        run.otlp_protobuf_bytes_per_item
    )?;
    let parts: Vec<String> = run
        .disk
        .objects
        .iter()
        .take(6)
        .map(|(name, bytes)| format!("{name} {:.0}", *bytes as f64 / run.disk.spans))
        .collect();
    if !parts.is_empty() {
        writeln!(f, "    bytes each by table/index: {}", parts.join(", "))?;
    }
    if let Some(reads) = &run.reads {
        writeln!(f, "  reads (median of warm runs, through HTTP):")?;
        write_timings(f, reads)?;
    }
    Ok(())
}

fn write_disk(f: &mut fmt::Formatter<'_>, disk: &DiskFigures, otlp_per_span: f64) -> fmt::Result {
    writeln!(
        f,
        "  disk: {:.1} MB = {:.0} bytes per span (OTLP protobuf of the same spans: {otlp_per_span:.0} bytes per span)",
        disk.bytes as f64 / 1e6,
        disk.bytes_per_span
    )?;
    let parts: Vec<String> = disk
        .objects
        .iter()
        .take(8)
        .map(|(name, bytes)| format!("{name} {:.0}", *bytes as f64 / disk.spans))
        .collect();
    if !parts.is_empty() {
        writeln!(f, "    bytes per span by table/index: {}", parts.join(", "))?;
    }
    Ok(())
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// 123456.7 → "123 457".
fn grouped(n: f64) -> String {
    let digits = (n.round().abs() as u64).to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    if n < -0.5 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::grouped;

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(grouped(0.0), "0");
        assert_eq!(grouped(999.0), "999");
        assert_eq!(grouped(123_456.7), "123 457");
        assert_eq!(grouped(1_000_000.0), "1 000 000");
    }
}
