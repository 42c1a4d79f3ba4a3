//! loupe about itself (`/system`, `/api/v1/system`, and the same figures
//! on `/metrics`): the database's size, growth and oldest data, what
//! retention removed, ingest and refusals, the writer's queue and commits,
//! the slowest reads of the last hour. What only the running server knows
//! (`Running`) it hands over as a closure; the rest is read here.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use store::retention::{Removed, Space};

use crate::params::now_ns;

/// What `loupe serve` measures of itself.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Running {
    pub started_at_ns: i64,
    pub ingest: Vec<Ingested>,
    pub queue_items: u64,
    pub queue_capacity: u64,
    pub commits: u64,
    pub commit_failures: u64,
    pub commit_seconds_mean: Option<f64>,
    /// The histogram bucket 99 % of commits fit in: at most this long.
    pub commit_seconds_p99_at_most: Option<f64>,
    /// The change of the database's size (its pages in use on SQLite)
    /// per day, over the last day or since the start, once that is ten
    /// minutes or more: what is written less what retention removes.
    pub growth_bytes_per_day: Option<f64>,
    pub retention: RetentionState,
}

/// One signal and transport since the start.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Ingested {
    pub signal: String,
    pub transport: String,
    pub accepted: u64,
    pub rejected: u64,
    pub refused: u64,
    /// Items accepted per second over the last minute or so.
    pub per_second: f64,
}

/// Retention's settings and what it did since the start.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RetentionState {
    pub max_age_secs: Option<u64>,
    pub rollup_max_age_secs: Option<u64>,
    pub max_size_bytes: Option<u64>,
    pub min_free_disk_bytes: Option<u64>,
    pub removed: Removed,
    pub last_sweep_at_ns: Option<i64>,
    /// The SQLite file's last measure, and the limit it was held to.
    pub space: Option<Space>,
    pub limit_bytes: Option<u64>,
    /// Why exports are being refused, while they are.
    pub refusing: Option<String>,
}

pub type RunningFigures = Arc<dyn Fn() -> Running + Send + Sync>;

/// A read that took long.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlowRead {
    pub path: String,
    pub millis: f64,
    pub at_ns: i64,
}

/// Reads of the last hour that took `SLOW` or more, the slowest
/// `KEPT` of them kept.
#[derive(Default)]
pub struct SlowReads(Mutex<VecDeque<SlowRead>>);

const SLOW: Duration = Duration::from_millis(20);
const KEPT: usize = 200;
const HOUR_NS: i64 = 3_600_000_000_000;

impl SlowReads {
    pub fn record(&self, path: &str, took: Duration, at_ns: i64) {
        if took < SLOW {
            return;
        }
        let mut reads = self.0.lock().unwrap_or_else(|e| e.into_inner());
        reads.retain(|r| r.at_ns > at_ns - HOUR_NS);
        if reads.len() >= KEPT {
            // The fastest kept gives way, if this one is slower.
            let (fastest, millis) = reads
                .iter()
                .enumerate()
                .map(|(i, r)| (i, r.millis))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or((0, 0.0));
            if millis >= took.as_secs_f64() * 1e3 {
                return;
            }
            reads.remove(fastest);
        }
        let mut path = path.to_owned();
        if path.len() > 200 {
            let mut end = 200;
            while !path.is_char_boundary(end) {
                end -= 1;
            }
            path.truncate(end);
            path.push('…');
        }
        reads.push_back(SlowRead {
            path,
            millis: took.as_secs_f64() * 1e3,
            at_ns,
        });
    }

    /// The `n` slowest of the hour before `now_ns`, slowest first.
    pub fn slowest(&self, now_ns: i64, n: usize) -> Vec<SlowRead> {
        let reads = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut recent: Vec<SlowRead> = reads
            .iter()
            .filter(|r| r.at_ns > now_ns - HOUR_NS)
            .cloned()
            .collect();
        recent.sort_by(|a, b| b.millis.total_cmp(&a.millis));
        recent.truncate(n);
        recent
    }
}

/// One signal's data kept.
#[derive(Debug, Clone, Serialize)]
pub struct Kept {
    pub signal: &'static str,
    pub items: i64,
    pub oldest_ns: Option<i64>,
    pub oldest_age_secs: Option<f64>,
}

/// What `/api/v1/system` answers and `/system` shows.
#[derive(Debug, Clone, Serialize)]
pub struct System {
    pub backend: &'static str,
    pub uptime_secs: f64,
    /// The database file (SQLite, its pages) or database (PostgreSQL).
    pub database_bytes: u64,
    /// SQLite: the pages in use, the rest being free pages writes reuse.
    pub used_bytes: Option<u64>,
    pub disk_available_bytes: Option<u64>,
    /// At the growth per day, until the pages in use reach `--max-size`
    /// (whereupon the oldest data goes); `None` when not growing.
    pub days_until_max_size: Option<f64>,
    pub kept: Vec<Kept>,
    /// Minutes whose data changed since the load and cost reports' figures
    /// of them were rolled up: read from the spans until they are again.
    pub report_minutes_pending: u64,
    pub slowest_reads: Vec<SlowRead>,
    /// What the server measured of itself, its fields beside these.
    #[serde(flatten)]
    pub running: Running,
}

/// Days until `used` reaches `limit` growing by `per_day`.
pub fn days_until(used: u64, limit: u64, per_day: f64) -> Option<f64> {
    (per_day > 0.0).then(|| limit.saturating_sub(used) as f64 / per_day)
}

pub async fn read(
    store: &store::Reader,
    running: Running,
    slow_reads: &SlowReads,
) -> store::Result<System> {
    let now = now_ns();
    let stats = store.stats().await?;
    let oldest = store.oldest().await?;
    let space = running.retention.space;
    let database_bytes = match space {
        Some(space) => space.file_bytes,
        None => store.size_bytes().await?,
    };
    let used_bytes = space.map(|s| s.used_bytes());
    let age = |ns: Option<i64>| ns.map(|ns| (now.saturating_sub(ns)) as f64 / 1e9);
    let kept = [
        ("spans", stats.spans, oldest.spans),
        ("logs", stats.logs, oldest.logs),
        ("metric_points", stats.metric_points, oldest.metric_points),
    ]
    .into_iter()
    .map(|(signal, items, oldest_ns)| Kept {
        signal,
        items,
        oldest_ns,
        oldest_age_secs: age(oldest_ns),
    })
    .collect();
    let days_until_max_size = running.retention.max_size_bytes.and_then(|max| {
        running
            .growth_bytes_per_day
            .and_then(|per_day| days_until(used_bytes.unwrap_or(database_bytes), max, per_day))
    });
    Ok(System {
        backend: store.backend(),
        uptime_secs: now.saturating_sub(running.started_at_ns) as f64 / 1e9,
        database_bytes,
        used_bytes,
        disk_available_bytes: space.map(|s| s.disk_available),
        days_until_max_size,
        kept,
        report_minutes_pending: store.report_minutes_pending().await?,
        slowest_reads: slow_reads.slowest(now, 10),
        running,
    })
}

/// The figures `/metrics` adds to the collector's, in the Prometheus text
/// format.
pub fn prometheus(system: &System) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, lines: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (labels, value) in lines {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    if let Some(used) = system.used_bytes {
        gauge(
            "loupe_database_used_bytes",
            "Pages of the SQLite file in use; the rest are free pages writes reuse.",
            &[(String::new(), used as f64)],
        );
    }
    if let Some(available) = system.disk_available_bytes {
        gauge(
            "loupe_disk_available_bytes",
            "Free space on the filesystem of the SQLite file.",
            &[(String::new(), available as f64)],
        );
    }
    if let Some(growth) = system.running.growth_bytes_per_day {
        gauge(
            "loupe_database_growth_bytes_per_day",
            "Change of the database's size per day, over the last day or since the start.",
            &[(String::new(), growth)],
        );
    }
    gauge(
        "loupe_report_minutes_pending",
        "Minutes whose report rollups wait to be made again.",
        &[(String::new(), system.report_minutes_pending as f64)],
    );
    let ages: Vec<_> = system
        .kept
        .iter()
        .filter_map(|k| {
            k.oldest_age_secs
                .map(|age| (format!("{{signal=\"{}\"}}", k.signal), age))
        })
        .collect();
    gauge(
        "loupe_oldest_item_age_seconds",
        "Age of the oldest item kept, per signal.",
        &ages,
    );
    gauge(
        "loupe_no_room",
        "1 while exports are refused because the size limit cannot be kept.",
        &[(
            String::new(),
            f64::from(u8::from(system.running.retention.refusing.is_some())),
        )],
    );
    let removed = system.running.retention.removed;
    let _ = writeln!(
        out,
        "# HELP loupe_retention_removed_total Items retention removed since the start.\n# TYPE loupe_retention_removed_total counter"
    );
    for (kind, n) in [
        ("spans", removed.spans),
        ("traces", removed.traces),
        ("logs", removed.logs),
        ("metric_points", removed.metric_points),
        ("request_ids", removed.request_ids),
        ("rollups", removed.rollups),
    ] {
        let _ = writeln!(out, "loupe_retention_removed_total{{kind=\"{kind}\"}} {n}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_reads_keep_the_slowest_of_the_last_hour() {
        let reads = SlowReads::default();
        let ms = Duration::from_millis;
        reads.record("/fast", ms(1), 0);
        reads.record("/old", ms(900), 0);
        reads.record("/a", ms(30), HOUR_NS / 2);
        reads.record("/b", ms(300), HOUR_NS / 2 + 1);
        let now = HOUR_NS + 10;
        let paths: Vec<_> = reads.slowest(now, 10).into_iter().map(|r| r.path).collect();
        assert_eq!(paths, ["/b", "/a"]);
        assert_eq!(reads.slowest(now, 1).len(), 1);
        // Full: a faster one than all kept is not kept, a slower one is.
        let reads = SlowReads::default();
        for i in 0..KEPT {
            reads.record(&format!("/{i}"), ms(100), 5);
        }
        reads.record("/faster", ms(50), 6);
        reads.record("/slower", ms(500), 7);
        let slowest = reads.slowest(10, KEPT + 1);
        assert_eq!(slowest.len(), KEPT);
        assert_eq!(slowest[0].path, "/slower");
        assert!(slowest.iter().all(|r| r.path != "/faster"));
    }

    #[test]
    fn days_until_the_limit_at_a_growth() {
        for (used, limit, per_day, days) in [
            (10, 110, 50.0, Some(2.0)),
            (10, 110, 0.0, None),
            (10, 110, -5.0, None),
            (200, 110, 50.0, Some(0.0)),
        ] {
            assert_eq!(
                days_until(used, limit, per_day),
                days,
                "{used} {limit} {per_day}"
            );
        }
    }
}
