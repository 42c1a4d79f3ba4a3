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

/// How much of each kind one step removes at most, in one short
/// transaction: the writer waits for a step, so a step must be short. A
/// pack holds an export's spans (hundreds), a row one item. 0: that kind is
/// done for this sweep and not looked at again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StepLimits {
    pub packs: i64,
    pub traces: i64,
    pub logs: i64,
    pub points: i64,
}

pub(crate) const STEP: StepLimits = StepLimits {
    packs: 32,
    traces: 1000,
    logs: 1000,
    points: 1000,
};

/// What one step of removing data older than a cutoff did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Step {
    pub removed: Removed,
    /// The limits of the next step: those of the kinds that hit theirs
    /// (more may be left), 0 for the kinds now done.
    pub next: StepLimits,
}

impl Step {
    /// A step under `limits` that removed `packs` packs holding `spans`
    /// spans, and these trace summaries, log records and metric points.
    pub(crate) fn of(
        limits: StepLimits,
        packs: i64,
        spans: i64,
        [traces, logs, points]: [i64; 3],
    ) -> Step {
        let count = |n: i64| n.max(0) as u64;
        let again = |removed: i64, limit: i64| {
            if limit > 0 && removed >= limit {
                limit
            } else {
                0
            }
        };
        Step {
            removed: Removed {
                spans: count(spans),
                traces: count(traces),
                logs: count(logs),
                metric_points: count(points),
                request_ids: 0,
            },
            next: StepLimits {
                packs: again(packs, limits.packs),
                traces: again(traces, limits.traces),
                logs: again(logs, limits.logs),
                points: again(points, limits.points),
            },
        }
    }

    /// Whether some kind hit its limit: more may be left.
    pub(crate) fn more(&self) -> bool {
        self.next != StepLimits::default()
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
    fn a_step_looks_again_only_at_the_kinds_at_their_limit() {
        let limits = StepLimits {
            packs: 2,
            traces: 3,
            logs: 3,
            points: 0,
        };
        let next = |packs, traces, logs| StepLimits {
            packs,
            traces,
            logs,
            points: 0,
        };
        for (packs, rows, expected) in [
            (0, [0, 0, 0], next(0, 0, 0)),
            (1, [2, 2, 2], next(0, 0, 0)),
            (2, [0, 0, 0], next(2, 0, 0)),
            (0, [3, 4, 0], next(0, 3, 3)),
            // A kind already done stays done, whatever it reports.
            (0, [0, 0, 9], next(0, 0, 0)),
        ] {
            let step = Step::of(limits, packs, packs * 10, rows);
            assert_eq!(step.next, expected, "{packs} {rows:?}");
            assert_eq!(step.more(), expected != StepLimits::default());
            assert_eq!(step.removed.spans, packs as u64 * 10);
        }
    }
}
