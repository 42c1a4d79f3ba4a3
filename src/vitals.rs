//! What `loupe serve` measures of itself for `/system` (`web::system`):
//! samples of the database's size and of the ingest counters, taken every
//! `SAMPLE_EVERY` for a day, from which growth per day and ingest rates
//! are read; retention's loops report into `Vitals::retention`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use collector::SelfMetrics;
use collector::self_metrics::Snapshot;
use tokio::sync::watch;
use web::system::{Ingested, RetentionState, Running};

const SAMPLE_EVERY: Duration = Duration::from_secs(15);
/// A day of samples.
const SAMPLES: usize = 5760;
/// Growth is not told from less.
const MIN_GROWTH_SPAN_NS: i64 = 600_000_000_000;
/// Rates are taken over at least this long, when the samples reach back.
const RATE_SPAN_NS: i64 = 60_000_000_000;

#[derive(Debug, Clone)]
struct Sample {
    at_ns: i64,
    /// Pages in use (SQLite) or the database's size (PostgreSQL).
    database_bytes: Option<u64>,
    accepted: Vec<u64>,
}

pub struct Vitals {
    started_at_ns: i64,
    metrics: Arc<SelfMetrics>,
    samples: Mutex<VecDeque<Sample>>,
    pub retention: Mutex<RetentionState>,
}

impl Vitals {
    pub fn new(metrics: Arc<SelfMetrics>, retention: RetentionState) -> Arc<Vitals> {
        Arc::new(Vitals {
            started_at_ns: web::reports::now_ns(),
            metrics,
            samples: Mutex::default(),
            retention: Mutex::new(retention),
        })
    }

    /// Applies `f` to retention's state.
    pub fn retention(&self, f: impl FnOnce(&mut RetentionState)) {
        f(&mut self.retention.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn sample(&self, database_bytes: Option<u64>) {
        let snapshot = self.metrics.snapshot();
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        if samples.len() >= SAMPLES {
            samples.pop_front();
        }
        samples.push_back(Sample {
            at_ns: web::reports::now_ns(),
            database_bytes,
            accepted: snapshot.items.iter().map(|i| i.accepted).collect(),
        });
    }

    /// The figures as they stand.
    pub fn running(&self) -> Running {
        let now = web::reports::now_ns();
        let snapshot = self.metrics.snapshot();
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let samples: Vec<&Sample> = samples.iter().collect();
        Running {
            started_at_ns: self.started_at_ns,
            ingest: ingested(&snapshot, rate_base(&samples, now), now),
            queue_items: snapshot.queue_items,
            queue_capacity: snapshot.queue_capacity,
            commits: snapshot.commits,
            commit_failures: snapshot.failed_commits,
            commit_seconds_mean: (snapshot.commits > 0)
                .then(|| snapshot.commit_seconds_sum / snapshot.commits as f64),
            commit_seconds_p99_at_most: p99_at_most(&snapshot),
            growth_bytes_per_day: growth_per_day(&samples),
            retention: self
                .retention
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

/// The newest sample at least `RATE_SPAN_NS` old, else the oldest.
fn rate_base<'a>(samples: &[&'a Sample], now: i64) -> Option<&'a Sample> {
    samples
        .iter()
        .rev()
        .find(|s| now - s.at_ns >= RATE_SPAN_NS)
        .or_else(|| samples.first())
        .copied()
}

fn ingested(snapshot: &Snapshot, base: Option<&Sample>, now: i64) -> Vec<Ingested> {
    snapshot
        .items
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let per_second = base.filter(|b| now > b.at_ns).map_or(0.0, |b| {
                let before = b.accepted.get(i).copied().unwrap_or(0);
                c.accepted.saturating_sub(before) as f64 / ((now - b.at_ns) as f64 / 1e9)
            });
            Ingested {
                signal: c.signal.to_owned(),
                transport: c.transport.to_owned(),
                accepted: c.accepted,
                rejected: c.rejected,
                refused: c.refused,
                per_second,
            }
        })
        .collect()
}

/// The smallest bucket bound 99 % of commits fit under.
fn p99_at_most(snapshot: &Snapshot) -> Option<f64> {
    let wanted = (snapshot.commits as f64 * 0.99).ceil() as u64;
    if snapshot.commits == 0 {
        return None;
    }
    snapshot
        .commit_buckets
        .iter()
        .find(|(_, n)| *n >= wanted)
        .map(|(bound, _)| *bound)
}

/// From the oldest measured sample to the newest, per day, once they are
/// `MIN_GROWTH_SPAN_NS` apart.
fn growth_per_day(samples: &[&Sample]) -> Option<f64> {
    let measured: Vec<(i64, u64)> = samples
        .iter()
        .filter_map(|s| s.database_bytes.map(|b| (s.at_ns, b)))
        .collect();
    let (first, last) = (measured.first()?, measured.last()?);
    let span = last.0 - first.0;
    (span >= MIN_GROWTH_SPAN_NS).then(|| (last.1 as f64 - first.1 as f64) * 86_400e9 / span as f64)
}

/// Samples every `SAMPLE_EVERY` until stopped.
pub async fn sample(
    vitals: Arc<Vitals>,
    sweeper: store::Sweeper,
    reader: store::Reader,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let bytes = match sweeper.space().await {
            Ok(Some(space)) => Some(space.used_bytes()),
            Ok(None) => reader.size_bytes().await.ok(),
            Err(_) => None,
        };
        vitals.sample(bytes);
        tokio::select! {
            () = tokio::time::sleep(SAMPLE_EVERY) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_s: i64, bytes: Option<u64>, accepted: u64) -> Sample {
        Sample {
            at_ns: at_s * 1_000_000_000,
            database_bytes: bytes,
            accepted: vec![accepted],
        }
    }

    #[test]
    fn growth_needs_ten_minutes_of_measures() {
        let a = sample(0, Some(1_000), 0);
        let b = sample(300, Some(2_000), 0);
        let c = sample(600, None, 0);
        let d = sample(1200, Some(3_000), 0);
        assert_eq!(growth_per_day(&[&a, &b]), None);
        assert_eq!(growth_per_day(&[&a, &c]), None);
        // 2 000 bytes in 20 minutes: 144 000 a day.
        assert_eq!(growth_per_day(&[&a, &b, &c, &d]), Some(144_000.0));
        let shrinking = sample(1200, Some(0), 0);
        assert_eq!(growth_per_day(&[&a, &shrinking]), Some(-72_000.0));
    }

    #[test]
    fn rates_reach_back_a_minute_or_to_the_start() {
        let now = 100 * 1_000_000_000;
        let (a, b, c) = (
            sample(0, None, 0),
            sample(30, None, 300),
            sample(90, None, 900),
        );
        assert_eq!(
            rate_base(&[&a, &b, &c], now).map(|s| s.at_ns),
            Some(30_000_000_000)
        );
        assert_eq!(rate_base(&[&c], now).map(|s| s.at_ns), Some(90_000_000_000));
        assert!(rate_base(&[], now).is_none());
        let snapshot = Snapshot {
            items: vec![collector::self_metrics::ItemCounts {
                signal: "traces",
                transport: "http",
                received: 1_000,
                accepted: 1_000,
                rejected: 0,
                refused: 0,
            }],
            ..Snapshot::default()
        };
        // 700 since the sample 70 s back: 10 a second.
        let rows = ingested(&snapshot, Some(&b), now);
        assert_eq!(rows[0].per_second, 10.0);
    }

    #[test]
    fn p99_is_the_bucket_that_holds_it() {
        let snapshot = |commits, buckets: &[(f64, u64)]| Snapshot {
            commits,
            commit_buckets: buckets.to_vec(),
            ..Snapshot::default()
        };
        assert_eq!(p99_at_most(&snapshot(0, &[(0.001, 0)])), None);
        assert_eq!(
            p99_at_most(&snapshot(100, &[(0.001, 50), (0.01, 98), (0.1, 100)])),
            Some(0.1)
        );
        assert_eq!(
            p99_at_most(&snapshot(100, &[(0.001, 99), (0.01, 100)])),
            Some(0.001)
        );
        // Past the last bound: unknown.
        assert_eq!(p99_at_most(&snapshot(100, &[(0.001, 10)])), None);
    }
}
