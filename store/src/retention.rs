//! What retention removes, in what steps (docs/adr/0016). The backends do
//! one step at a time (`sqlite_sweep`, `postgres_sweep`); `Sweeper` in
//! `handles` paces them.

use serde::Serialize;

/// What a sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub spans: u64,
    /// Trace summaries: traces none of whose spans are left.
    pub traces: u64,
    pub logs: u64,
    pub metric_points: u64,
    /// Request ids whose traces were all removed.
    pub request_ids: u64,
}

impl Removed {
    pub fn add(&mut self, other: Removed) {
        self.spans += other.spans;
        self.traces += other.traces;
        self.logs += other.logs;
        self.metric_points += other.metric_points;
        self.request_ids += other.request_ids;
    }

    pub fn is_empty(&self) -> bool {
        *self == Removed::default()
    }
}

/// How much one step removes at most, each in one short transaction: the
/// writer waits for a step, so a step must be short. A pack holds an
/// export's spans (hundreds), a row one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StepLimits {
    pub packs: i64,
    pub rows: i64,
}

pub(crate) const STEP: StepLimits = StepLimits {
    packs: 32,
    rows: 1000,
};

/// What one step of removing data older than a cutoff did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Step {
    pub removed: Removed,
    /// Whether some kind hit its limit: more may be left.
    pub more: bool,
}

impl Step {
    /// A step that removed `packs` packs holding `spans` spans, and these
    /// trace summaries, log records and metric points.
    pub(crate) fn of(
        limits: StepLimits,
        packs: i64,
        spans: i64,
        [traces, logs, points]: [i64; 3],
    ) -> Step {
        let count = |n: i64| n.max(0) as u64;
        Step {
            removed: Removed {
                spans: count(spans),
                traces: count(traces),
                logs: count(logs),
                metric_points: count(points),
                request_ids: 0,
            },
            more: packs >= limits.packs || [traces, logs, points].iter().any(|n| *n >= limits.rows),
        }
    }

    /// What the step takes off each running total, in the writers' order
    /// (`write_rows::counter_deltas`), which concurrent PostgreSQL
    /// transactions must share.
    pub(crate) fn counter_deltas(&self) -> [(&'static str, i64); 3] {
        let n = |count: u64| i64::try_from(count).unwrap_or(i64::MAX);
        [
            ("logs", n(self.removed.logs)),
            ("metric_points", n(self.removed.metric_points)),
            ("spans", n(self.removed.spans)),
        ]
    }
}

/// Request ids are kept one row per (request id, trace id), indexed by
/// request id alone, so the rows of removed traces are found by walking
/// the table in request-id order a chunk at a time, and removed when no
/// trace of theirs is left. Reads never show such rows meanwhile: they
/// join them to the traces that exist.
pub(crate) const REQUEST_IDS_CHUNK: i64 = 1000;

/// Chunks of request ids walked per sweep, so that a sweep's work stays
/// bounded however many request ids are stored; the walk goes on where it
/// stopped at the next sweep.
pub(crate) const REQUEST_ID_CHUNKS_PER_SWEEP: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_at_any_limit_has_more_to_do() {
        let limits = StepLimits { packs: 2, rows: 3 };
        for (packs, rows, more) in [
            (0, [0, 0, 0], false),
            (1, [2, 2, 2], false),
            (2, [0, 0, 0], true),
            (0, [0, 3, 0], true),
            (0, [0, 0, 4], true),
        ] {
            let step = Step::of(limits, packs, packs * 10, rows);
            assert_eq!(step.more, more, "{packs} {rows:?}");
            assert_eq!(step.removed.spans, packs as u64 * 10);
        }
    }
}
