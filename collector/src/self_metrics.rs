//! loupe's own figures, rendered in the Prometheus text format by `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Traces,
    Logs,
    Metrics,
}

impl Signal {
    const ALL: [Signal; 3] = [Signal::Traces, Signal::Logs, Signal::Metrics];

    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Grpc,
    Http,
}

impl Transport {
    const ALL: [Transport; 2] = [Transport::Grpc, Transport::Http];

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::Http => "http",
        }
    }
}

#[derive(Default)]
struct ItemCounters {
    received: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    /// Items of requests refused whole (overload, database down): the client retries them.
    refused: AtomicU64,
}

/// One signal and transport's item counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemCounts {
    pub signal: &'static str,
    pub transport: &'static str,
    pub received: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub refused: u64,
}

/// Every counter at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub items: Vec<ItemCounts>,
    pub queue_items: u64,
    pub queue_capacity: u64,
    pub commits: u64,
    pub failed_commits: u64,
    pub commit_seconds_sum: f64,
    /// (upper bound in seconds, commits that took at most that long).
    pub commit_buckets: Vec<(f64, u64)>,
}

/// Upper bounds of the commit-latency histogram, in seconds.
const COMMIT_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
pub struct SelfMetrics {
    items: [[ItemCounters; 2]; 3],
    commits: AtomicU64,
    failed_commits: AtomicU64,
    committed_items: AtomicU64,
    commit_seconds_micros: AtomicU64,
    commit_buckets: [AtomicU64; COMMIT_BUCKETS.len()],
    queue: OnceLock<(Arc<Semaphore>, usize)>,
    /// Items and bytes on the wire accepted per ingest key's name and
    /// signal: the volume each sender (each key) brings.
    by_key: Mutex<BTreeMap<String, [(u64, u64); 3]>>,
}

impl SelfMetrics {
    fn counters(&self, signal: Signal, transport: Transport) -> &ItemCounters {
        &self.items[signal as usize][transport as usize]
    }

    pub(crate) fn set_queue(&self, permits: Arc<Semaphore>, capacity: usize) {
        let _ = self.queue.set((permits, capacity));
    }

    pub fn record_export(
        &self,
        signal: Signal,
        transport: Transport,
        accepted: u64,
        rejected: u64,
    ) {
        let c = self.counters(signal, transport);
        c.received.fetch_add(accepted + rejected, Relaxed);
        c.accepted.fetch_add(accepted, Relaxed);
        c.rejected.fetch_add(rejected, Relaxed);
    }

    /// What an export sent with the key `key` brought in.
    pub fn record_key(&self, key: &str, signal: Signal, items: u64, wire_bytes: u64) {
        let mut by_key = self.by_key.lock().unwrap_or_else(|e| e.into_inner());
        // The key's name is copied once, at its first export.
        let counts = match by_key.get_mut(key) {
            Some(counts) => counts,
            None => by_key.entry(key.to_owned()).or_default(),
        };
        counts[signal as usize].0 += items;
        counts[signal as usize].1 += wire_bytes;
    }

    pub fn record_refused(&self, signal: Signal, transport: Transport, items: u64) {
        let c = self.counters(signal, transport);
        c.received.fetch_add(items, Relaxed);
        c.refused.fetch_add(items, Relaxed);
    }

    pub(crate) fn record_commit(&self, items: usize, took: Duration, ok: bool) {
        if !ok {
            self.failed_commits.fetch_add(1, Relaxed);
            return;
        }
        self.commits.fetch_add(1, Relaxed);
        self.committed_items.fetch_add(items as u64, Relaxed);
        self.commit_seconds_micros
            .fetch_add(took.as_micros() as u64, Relaxed);
        let seconds = took.as_secs_f64();
        for (bound, bucket) in COMMIT_BUCKETS.iter().zip(&self.commit_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Relaxed);
            }
        }
    }

    /// Items waiting for the writer now.
    /// The counters as they stand, for `/system`.
    pub fn snapshot(&self) -> Snapshot {
        let mut items = Vec::new();
        for signal in Signal::ALL {
            for transport in Transport::ALL {
                let c = self.counters(signal, transport);
                items.push(ItemCounts {
                    signal: signal.as_str(),
                    transport: transport.as_str(),
                    received: c.received.load(Relaxed),
                    accepted: c.accepted.load(Relaxed),
                    rejected: c.rejected.load(Relaxed),
                    refused: c.refused.load(Relaxed),
                });
            }
        }
        Snapshot {
            items,
            queue_items: self.queue_depth(),
            queue_capacity: self.queue.get().map_or(0, |(_, capacity)| *capacity as u64),
            commits: self.commits.load(Relaxed),
            failed_commits: self.failed_commits.load(Relaxed),
            commit_seconds_sum: self.commit_seconds_micros.load(Relaxed) as f64 / 1e6,
            commit_buckets: COMMIT_BUCKETS
                .iter()
                .zip(&self.commit_buckets)
                .map(|(bound, n)| (*bound, n.load(Relaxed)))
                .collect(),
        }
    }

    pub fn queue_depth(&self) -> u64 {
        self.queue
            .get()
            .map(|(permits, capacity)| (capacity - permits.available_permits()) as u64)
            .unwrap_or(0)
    }

    /// The Prometheus text exposition of every figure; `database_bytes` is
    /// passed in because only the store knows it.
    pub fn render(&self, database_bytes: Option<u64>) -> String {
        let mut out = String::new();
        for (name, help, pick) in [
            (
                "loupe_items_received_total",
                "Items (spans, log records, metric points) received.",
                0,
            ),
            (
                "loupe_items_accepted_total",
                "Items committed to the database.",
                1,
            ),
            (
                "loupe_items_rejected_total",
                "Invalid items refused and reported as partial success.",
                2,
            ),
            (
                "loupe_items_refused_total",
                "Items of exports refused whole (overload, database unavailable, no room left) for the client to retry.",
                3,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for signal in Signal::ALL {
                for transport in Transport::ALL {
                    let c = self.counters(signal, transport);
                    let value =
                        [&c.received, &c.accepted, &c.rejected, &c.refused][pick].load(Relaxed);
                    let _ = writeln!(
                        out,
                        "{name}{{signal=\"{}\",transport=\"{}\"}} {value}",
                        signal.as_str(),
                        transport.as_str()
                    );
                }
            }
        }
        let capacity = self.queue.get().map_or(0, |(_, capacity)| *capacity);
        let _ = writeln!(
            out,
            "# HELP loupe_queue_items Items waiting for the writer.\n# TYPE loupe_queue_items gauge\nloupe_queue_items {}",
            self.queue_depth()
        );
        let _ = writeln!(
            out,
            "# HELP loupe_queue_capacity_items Items the queue holds at most.\n# TYPE loupe_queue_capacity_items gauge\nloupe_queue_capacity_items {capacity}"
        );
        let commits = self.commits.load(Relaxed);
        let _ = writeln!(
            out,
            "# HELP loupe_commits_total Transactions committed by the writer.\n# TYPE loupe_commits_total counter\nloupe_commits_total {commits}"
        );
        let _ = writeln!(
            out,
            "# HELP loupe_commit_failures_total Transactions the database refused.\n# TYPE loupe_commit_failures_total counter\nloupe_commit_failures_total {}",
            self.failed_commits.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP loupe_batch_items_total Items written by all commits; divided by loupe_commits_total it is the mean batch size.\n# TYPE loupe_batch_items_total counter\nloupe_batch_items_total {}",
            self.committed_items.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP loupe_commit_seconds Time to write and commit one batch.\n# TYPE loupe_commit_seconds histogram"
        );
        for (bound, bucket) in COMMIT_BUCKETS.iter().zip(&self.commit_buckets) {
            let _ = writeln!(
                out,
                "loupe_commit_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Relaxed)
            );
        }
        let _ = writeln!(out, "loupe_commit_seconds_bucket{{le=\"+Inf\"}} {commits}");
        let _ = writeln!(
            out,
            "loupe_commit_seconds_sum {}",
            self.commit_seconds_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "loupe_commit_seconds_count {commits}");
        let by_key = self.by_key.lock().unwrap_or_else(|e| e.into_inner());
        if !by_key.is_empty() {
            for (name, help, pick) in [
                (
                    "loupe_ingest_key_items_total",
                    "Items accepted per ingest key (its name) and signal.",
                    0,
                ),
                (
                    "loupe_ingest_key_bytes_total",
                    "Bytes of accepted exports as received, per ingest key and signal.",
                    1,
                ),
            ] {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
                for (key, counts) in by_key.iter() {
                    for (signal, counts) in Signal::ALL.into_iter().zip(counts) {
                        let value = [counts.0, counts.1][pick];
                        let _ = writeln!(
                            out,
                            "{name}{{key=\"{key}\",signal=\"{}\"}} {value}",
                            signal.as_str()
                        );
                    }
                }
            }
        }
        drop(by_key);
        if let Some(bytes) = database_bytes {
            let _ = writeln!(
                out,
                "# HELP loupe_database_bytes Size of the database on disk.\n# TYPE loupe_database_bytes gauge\nloupe_database_bytes {bytes}"
            );
        }
        out
    }
}
