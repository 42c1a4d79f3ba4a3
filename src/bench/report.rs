//! What the bench measured, and the targets it is held to, printed as a
//! table for people or as one JSON document.

use std::time::Duration;

use serde_json::{Value as Json, json};

use super::args::BenchArgs;
use super::ceiling::CeilingReport;
use super::client::Load;
use super::databases::Disk;
use super::server::WriterStats;
use super::workload::{SPANS_PER_TRACE, Shape};

/// One transport's run: the load, and what the server and its database
/// said afterwards (none of it against a server the bench did not start).
pub(super) struct RunReport {
    pub(super) load: Load,
    pub(super) writer: Option<WriterStats>,
    pub(super) wal_bytes: Option<u64>,
    pub(super) disk: Option<Disk>,
}

pub(super) struct Report {
    pub(super) cpus: usize,
    pub(super) loadavg_before: Option<String>,
    pub(super) loadavg_after: Option<String>,
    pub(super) args: BenchArgs,
    pub(super) backend: Option<&'static str>,
    pub(super) location: Option<String>,
    pub(super) external: bool,
    pub(super) shape: Shape,
    pub(super) runs: Vec<RunReport>,
    pub(super) ceiling: Option<CeilingReport>,
}

struct Target {
    what: String,
    limit: String,
    measured: String,
    met: bool,
}

impl Report {
    fn otlp_bytes_per_span(&self) -> f64 {
        self.shape.otlp_bytes as f64 / self.args.spans as f64
    }

    fn fraction(&self, run: &RunReport) -> Option<f64> {
        self.ceiling
            .as_ref()
            .map(|c| run.load.spans_per_s() / c.spans_per_s())
    }

    fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        if self.external {
            return targets;
        }
        let (floor, ratio) = match self.backend {
            Some("sqlite") => (100_000.0, Some(0.6)),
            Some("postgres") => (60_000.0, None),
            _ => return targets,
        };
        for run in &self.runs {
            let label = run.load.transport.label();
            targets.push(Target {
                what: format!("{label}: spans/s acknowledged"),
                limit: format!(">= {}", grouped(floor)),
                measured: grouped(run.load.spans_per_s()),
                met: run.load.spans_per_s() >= floor,
            });
            if let (Some(ratio), Some(fraction)) = (ratio, self.fraction(run)) {
                targets.push(Target {
                    what: format!("{label}: fraction of the ceiling"),
                    limit: format!(">= {ratio:.2}"),
                    measured: format!("{fraction:.3}"),
                    met: fraction >= ratio,
                });
            }
            if let Some(disk) = &run.disk {
                let per_span = disk.bytes as f64 / run.load.spans_acked.max(1) as f64;
                targets.push(Target {
                    what: format!("{label}: bytes on disk per span"),
                    limit: "<= 200".to_owned(),
                    measured: format!("{per_span:.0}"),
                    met: per_span <= 200.0,
                });
            }
            if let Some(rss) = run.load.server_peak_rss {
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

    pub(super) fn to_json(&self) -> Json {
        let runs: Vec<Json> = self
            .runs
            .iter()
            .map(|run| {
                let spans = run.load.spans_acked.max(1) as f64;
                json!({
                    "transport": run.load.transport.name(),
                    "requests": run.load.requests,
                    "spans_acknowledged": run.load.spans_acked,
                    "spans_rejected": run.load.spans_rejected,
                    "retries": run.load.retries,
                    "wall_seconds": run.load.wall.as_secs_f64(),
                    "spans_per_second": run.load.spans_per_s(),
                    "fraction_of_ceiling": self.fraction(run),
                    "latency_ms": latency_json(&run.load.latencies),
                    "server": {
                        "cpu_seconds": run.load.server_cpu_s,
                        "cpu_seconds_per_100k_spans": run.load.server_cpu_s.map(|c| c / spans * 1e5),
                        "peak_rss_bytes": run.load.server_peak_rss,
                    },
                    "client_cpu_seconds": run.load.client_cpu_s,
                    "machine_cpu_seconds": run.load.machine_cpu_s.map(|(busy, all)| json!({"busy": busy, "available": all})),
                    "writer": run.writer.map(|w| json!({
                        "commits": w.commits,
                        "spans_per_commit": w.items / w.commits.max(1.0),
                        "commit_seconds": w.commit_seconds,
                        "busy_share": w.commit_seconds / run.load.wall.as_secs_f64().max(1e-9),
                    })),
                    "postgres_wal_bytes_per_span": run.wal_bytes.map(|w| w as f64 / spans),
                    "disk": run.disk.as_ref().map(|d| disk_json(d, spans)),
                })
            })
            .collect();
        let ceiling = self.ceiling.as_ref().map(|c| {
            let spans = c.spans.max(1) as f64;
            json!({
                "spans": c.spans,
                "spans_per_transaction": c.batch,
                "transactions": c.transactions,
                "write_seconds": c.write_time.as_secs_f64(),
                "spans_per_second": c.spans_per_s(),
                "cpu_seconds": c.cpu_s,
                "cpu_seconds_per_100k_spans": c.cpu_s.map(|s| s / spans * 1e5),
                "machine_cpu_seconds": c.machine_cpu_s.map(|(busy, all)| json!({"busy": busy, "available": all})),
                "postgres_wal_bytes_per_span": c.wal_bytes.map(|w| w as f64 / spans),
                "disk": c.disk.as_ref().map(|d| disk_json(d, spans)),
            })
        });
        let targets: Vec<Json> = self
            .targets()
            .into_iter()
            .map(|t| json!({"target": t.what, "limit": t.limit, "measured": t.measured, "met": t.met}))
            .collect();
        json!({
            "machine": {
                "cpus": self.cpus,
                "loadavg_before": self.loadavg_before,
                "loadavg_after": self.loadavg_after,
            },
            "settings": {
                "spans": self.args.spans,
                "clients": self.args.clients,
                "spans_per_request": self.args.batch,
                "database": self.backend,
                "database_location": self.location,
                "server": if self.external { "external (--target)" } else { "child process loupe serve" },
            },
            "workload": {
                "requests": self.shape.requests,
                "traces": self.args.spans.div_ceil(SPANS_PER_TRACE),
                "spans_per_trace": SPANS_PER_TRACE,
                "resources": self.shape.resources,
                "attributes_per_span": self.shape.attributes_per_span,
                "exception_event_share": self.shape.exception_share,
                "otlp_protobuf_bytes_per_span": self.otlp_bytes_per_span(),
            },
            "runs": runs,
            "ceiling": ceiling,
            "targets": targets,
        })
    }

    pub(super) fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let o = &mut out;
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "loupe bench: {} spans per run, {} clients, {} spans per request",
            grouped(self.args.spans as f64),
            self.args.clients,
            self.args.batch
        );
        if let Some(location) = &self.location {
            let _ = writeln!(o, "database: {location}");
        }
        let _ = writeln!(
            o,
            "machine: {} CPUs, load average {} before, {} after",
            self.cpus,
            self.loadavg_before.as_deref().unwrap_or("?"),
            self.loadavg_after.as_deref().unwrap_or("?")
        );
        let _ = writeln!(
            o,
            "server: {}",
            if self.external {
                "already running (--target): its CPU, memory and disk use are not measured"
            } else {
                "`loupe serve` as a child process; its CPU and RSS exclude the load generator's"
            }
        );
        let _ = writeln!(
            o,
            "workload: {} requests, traces of {SPANS_PER_TRACE} spans across {} services ({} resources), {:.1} attributes per span, {:.0}% of spans with an exception event; OTLP protobuf {:.0} bytes per span",
            self.shape.requests,
            self.shape.services,
            self.shape.resources,
            self.shape.attributes_per_span,
            self.shape.exception_share * 100.0,
            self.otlp_bytes_per_span()
        );
        for run in &self.runs {
            let spans = run.load.spans_acked.max(1) as f64;
            let _ = writeln!(o);
            let _ = writeln!(
                o,
                "{}: {} spans acknowledged in {:.2} s = {} spans/s ({} rejected, {} retries)",
                run.load.transport.label(),
                grouped(run.load.spans_acked as f64),
                run.load.wall.as_secs_f64(),
                grouped(run.load.spans_per_s()),
                run.load.spans_rejected,
                run.load.retries
            );
            if let Some(fraction) = self.fraction(run) {
                let _ = writeln!(o, "  {fraction:.2} of the ceiling");
            }
            if !run.load.latencies.is_empty() {
                let p = |q| percentile(&run.load.latencies, q).as_secs_f64() * 1e3;
                let _ = writeln!(
                    o,
                    "  export latency: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                    p(0.5),
                    p(0.9),
                    p(0.99),
                    p(1.0)
                );
            }
            if let (Some(cpu), Some(rss)) = (run.load.server_cpu_s, run.load.server_peak_rss) {
                let _ = writeln!(
                    o,
                    "  server: {cpu:.2} CPU s ({:.2} cores busy) = {:.2} CPU s per 100k spans; peak RSS {:.1} MB",
                    cpu / run.load.wall.as_secs_f64().max(1e-9),
                    cpu / spans * 1e5,
                    rss as f64 / 1e6
                );
            }
            let _ = writeln!(
                o,
                "  load generator: {} CPU s; whole machine: {}",
                run.load
                    .client_cpu_s
                    .map_or("?".to_owned(), |c| format!("{c:.2}")),
                run.load
                    .machine_cpu_s
                    .map_or("?".to_owned(), |(busy, all)| format!(
                        "{busy:.2} of {all:.2} CPU s busy ({:.0}%)",
                        busy / all.max(1e-9) * 100.0
                    ))
            );
            if let Some(w) = run.writer {
                let _ = writeln!(
                    o,
                    "  writer: {:.0} commits of {:.0} spans on average, {:.2} s inside write_batch ({:.0}% of the run)",
                    w.commits,
                    w.items / w.commits.max(1.0),
                    w.commit_seconds,
                    w.commit_seconds / run.load.wall.as_secs_f64().max(1e-9) * 100.0
                );
            }
            if let Some(wal) = run.wal_bytes {
                let _ = writeln!(
                    o,
                    "  PostgreSQL WAL written (whole cluster): {:.0} bytes per span",
                    wal as f64 / spans
                );
            }
            if let Some(disk) = &run.disk {
                render_disk(o, disk, spans, self.otlp_bytes_per_span());
            }
        }
        if let Some(c) = &self.ceiling {
            let spans = c.spans.max(1) as f64;
            let _ = writeln!(o);
            let _ = writeln!(
                o,
                "ceiling (Store::prepare per request, Store::write_batch per {} spans, one writer, no network or decoding): {} spans in {:.2} s = {} spans/s",
                c.batch,
                grouped(c.spans as f64),
                c.write_time.as_secs_f64(),
                grouped(c.spans_per_s())
            );
            if let Some(cpu) = c.cpu_s {
                let _ = writeln!(
                    o,
                    "  this process inside prepare and write_batch: {cpu:.2} CPU s = {:.2} CPU s per 100k spans; whole machine: {}",
                    cpu / spans * 1e5,
                    c.machine_cpu_s
                        .map_or("?".to_owned(), |(busy, all)| format!(
                            "{busy:.2} of {all:.2} CPU s busy"
                        ))
                );
            }
            if let Some(wal) = c.wal_bytes {
                let _ = writeln!(
                    o,
                    "  PostgreSQL WAL written (whole cluster): {:.0} bytes per span",
                    wal as f64 / spans
                );
            }
            if let Some(disk) = &c.disk {
                render_disk(o, disk, spans, self.otlp_bytes_per_span());
            }
        }
        let targets = self.targets();
        if !targets.is_empty() {
            let _ = writeln!(o);
            let _ = writeln!(
                o,
                "targets ({} CPUs, load generator on the same machine):",
                self.cpus
            );
            for t in targets {
                let _ = writeln!(
                    o,
                    "  [{}] {}: {} (target {})",
                    if t.met { "met" } else { "MISSED" },
                    t.what,
                    t.measured,
                    t.limit
                );
            }
        }
        out
    }
}

fn render_disk(o: &mut String, disk: &Disk, spans: f64, otlp_per_span: f64) {
    use std::fmt::Write as _;
    let _ = writeln!(
        o,
        "  disk: {:.1} MB = {:.0} bytes per span (OTLP protobuf of the same spans: {otlp_per_span:.0} bytes per span)",
        disk.bytes as f64 / 1e6,
        disk.bytes as f64 / spans
    );
    let parts: Vec<String> = disk
        .objects
        .iter()
        .take(8)
        .map(|(name, bytes)| format!("{name} {:.0}", *bytes as f64 / spans))
        .collect();
    if !parts.is_empty() {
        let _ = writeln!(o, "    bytes per span by table/index: {}", parts.join(", "));
    }
}

fn disk_json(disk: &Disk, spans: f64) -> Json {
    let objects: serde_json::Map<String, Json> = disk
        .objects
        .iter()
        .map(|(name, bytes)| (name.clone(), json!(bytes)))
        .collect();
    json!({
        "bytes": disk.bytes,
        "bytes_per_span": disk.bytes as f64 / spans,
        "objects": objects,
    })
}

fn latency_json(sorted: &[Duration]) -> Json {
    if sorted.is_empty() {
        return Json::Null;
    }
    let p = |q| percentile(sorted, q).as_secs_f64() * 1e3;
    json!({"p50": p(0.5), "p90": p(0.9), "p99": p(0.99), "max": p(1.0)})
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
