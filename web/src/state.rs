//! What every handler is given: the store it reads and the settings that
//! shape its answers.

use std::sync::Arc;

/// Whether exports can be stored now, and if not why (`/readyz`).
pub type Readiness = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Renders loupe's own metrics in the Prometheus text format, given the database size.
pub type SelfMetricsText = Arc<dyn Fn(Option<u64>) -> String + Send + Sync>;

/// The bounds every read runs within (`router`'s middleware).
pub struct Reads {
    /// Reads running at once; the others wait their turn.
    pub turns: tokio::sync::Semaphore,
    /// How long a read may take, its wait included; `None`: no limit.
    pub deadline: Option<std::time::Duration>,
    /// Spans one report may hold (`--max-report-spans`).
    pub max_report_spans: u64,
    /// A test hook: how long every read waits in its turn first.
    pub test_delay: std::time::Duration,
}

impl Reads {
    /// Reads at once: half the cores (one at least), so that heavy reads
    /// leave ingest the other half. With as many as cores, ten clients
    /// reloading the reports cut ingest to 0.68 of its rate (2 cores).
    pub fn new(deadline: Option<std::time::Duration>) -> Reads {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Reads {
            turns: tokio::sync::Semaphore::new((cores / 2).max(1)),
            deadline,
            max_report_spans: u64::MAX,
            test_delay: std::time::Duration::ZERO,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: store::Reader,
    pub self_metrics: SelfMetricsText,
    pub readiness: Readiness,
    /// What the cost report's projection charges.
    pub prices: crate::reports::Prices,
    /// What only the running server knows of itself (`/system`).
    pub running: crate::system::RunningFigures,
    /// The slowest reads of the last hour, recorded by `router`.
    pub slow_reads: Arc<crate::system::SlowReads>,
    /// The host names requests are answered for.
    pub hosts: Arc<crate::hosts::Hosts>,
    /// Who may read, and their sessions.
    pub access: Arc<crate::access::Access>,
    /// How many reads run at once, and for how long.
    pub reads: Arc<Reads>,
}

tokio::task_local! {
    /// How many spans the read running in this task has read so far, and
    /// of how many, for what a read stopped at the deadline says.
    pub(crate) static SPANS_READ: Arc<Progress>;
}

/// A read's progress in spans: read so far, and of how many at most.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    read: std::sync::atomic::AtomicU64,
    of: std::sync::atomic::AtomicU64,
}

impl Progress {
    pub(crate) fn now(&self) -> crate::ui::layout::SpansRead {
        use std::sync::atomic::Ordering::Relaxed;
        crate::ui::layout::SpansRead {
            read: self.read.load(Relaxed),
            of: self.of.load(Relaxed),
        }
    }
}

/// A report's progress, told to the read's deadline (`time_reads`).
pub(crate) fn note_spans_read(read: u64, of: u64) {
    use std::sync::atomic::Ordering::Relaxed;
    let _ = SPANS_READ.try_with(|progress| {
        progress.read.fetch_max(read, Relaxed);
        progress.of.fetch_max(of, Relaxed);
    });
}
