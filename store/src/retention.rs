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
    /// Rows of per-minute rollups past their own retention.
    pub rollups: u64,
}

impl Removed {
    pub fn add(&mut self, other: Removed) {
        self.spans += other.spans;
        self.traces += other.traces;
        self.logs += other.logs;
        self.metric_points += other.metric_points;
        self.request_ids += other.request_ids;
        self.rollups += other.rollups;
    }

    pub fn is_empty(&self) -> bool {
        *self == Removed::default()
    }
}

/// How much of each kind one step removes at most, in one short
/// transaction: the writer waits for a step, so a step must be short. A
/// pack holds an export's spans or log records (hundreds), a row one item. 0: that kind is
/// done for this sweep and not looked at again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StepLimits {
    pub packs: i64,
    pub traces: i64,
    pub log_packs: i64,
    pub points: i64,
}

pub(crate) const STEP: StepLimits = StepLimits {
    packs: 32,
    traces: 1000,
    log_packs: 32,
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
    /// A step under `limits` that removed span packs and the spans they
    /// held, log packs and the records they held, and these trace
    /// summaries and metric points.
    pub(crate) fn of(
        limits: StepLimits,
        [packs, spans]: [i64; 2],
        [log_packs, logs]: [i64; 2],
        [traces, points]: [i64; 2],
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
                ..Removed::default()
            },
            next: StepLimits {
                packs: again(packs, limits.packs),
                traces: again(traces, limits.traces),
                log_packs: again(log_packs, limits.log_packs),
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

/// What the database file occupies, and the room left beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Space {
    /// The file's pages, in use or free.
    pub file_bytes: u64,
    /// Free pages inside the file: writes fill them before the file grows.
    pub free_bytes: u64,
    /// What the filesystem holding the file still has for loupe.
    pub disk_available: u64,
    /// Whether free pages can be handed back to the filesystem: SQLite
    /// does so only for files made with `auto_vacuum = INCREMENTAL`, as
    /// loupe makes them since retention by size came (not earlier ones).
    pub can_give_back: bool,
}

impl Space {
    pub fn used_bytes(&self) -> u64 {
        self.file_bytes.saturating_sub(self.free_bytes)
    }

    /// The most the database may occupy: `max_size`, and no more than
    /// leaves `min_free_disk` on its filesystem. `None`: no limit.
    pub fn limit(&self, max_size: Option<u64>, min_free_disk: Option<u64>) -> Option<u64> {
        let by_disk =
            min_free_disk.map(|min| (self.file_bytes + self.disk_available).saturating_sub(min));
        match (max_size, by_disk) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether data must go to keep under `limit`: once the pages in use
    /// pass 95 % of it, so that removal starts before writes fail.
    pub fn must_shrink(&self, limit: u64) -> bool {
        self.used_bytes() > percent(limit, HIGH_WATER)
    }
}

/// Past this share of the limit (%), the oldest data goes...
const HIGH_WATER: u64 = 95;
/// ...until the pages in use are down to this share: removal runs in
/// rounds, not at every commit.
const LOW_WATER: u64 = 85;

pub(crate) fn percent(bytes: u64, percent: u64) -> u64 {
    (u128::from(bytes) * u128::from(percent) / 100) as u64
}

/// The pages in use a removal for `limit` brings the database down to.
pub(crate) fn target(limit: u64) -> u64 {
    percent(limit, LOW_WATER)
}

/// Where to cut data stamped in `[oldest, newest]` (Unix ns) to bring the
/// `used` bytes down to `target`, as if bytes spread evenly in time. Pages
/// are not freed as evenly (indexes keyed at random thin out rather than
/// empty), so the caller measures again and cuts again: each cut takes at
/// least a 32nd of the range, so that a few dozen cuts reach the newest.
/// Past `newest` everything goes.
pub(crate) fn cutoff_for(oldest: i64, newest: i64, used: u64, target: u64) -> i64 {
    if used <= target {
        return oldest;
    }
    let range = newest.saturating_sub(oldest).max(0) as f64;
    let share = ((used - target) as f64 / used as f64).max(1.0 / 32.0);
    if share >= 1.0 {
        return newest.saturating_add(1);
    }
    let cut = (range * share).ceil() as i64;
    oldest.saturating_add(cut.max(1))
}

/// Cuts a fit makes at most, before the free-page hand-back.
pub(crate) const MAX_CUTS: usize = 64;

/// Bytes of free pages handed back to the filesystem per step: a step
/// holds the writer, as a sweep's step does.
pub(crate) const GIVE_BACK_STEP: u64 = 4 << 20;

/// What keeping the database under a size did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fitted {
    pub removed: Removed,
    /// The space once done.
    pub space: Space,
    /// The limit it was kept within.
    pub limit: u64,
    /// False when the pages in use are still over the limit with nothing
    /// left to remove: writes must wait for room.
    pub within: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_looks_again_only_at_the_kinds_at_their_limit() {
        let limits = StepLimits {
            packs: 2,
            traces: 3,
            log_packs: 3,
            points: 0,
        };
        let next = |packs, traces, log_packs| StepLimits {
            packs,
            traces,
            log_packs,
            points: 0,
        };
        for (packs, log_packs, rows, expected) in [
            (0, 0, [0, 0], next(0, 0, 0)),
            (1, 2, [2, 2], next(0, 0, 0)),
            (2, 0, [0, 0], next(2, 0, 0)),
            (0, 4, [3, 0], next(0, 3, 3)),
            // A kind already done stays done, whatever it reports.
            (0, 0, [0, 9], next(0, 0, 0)),
        ] {
            let step = Step::of(
                limits,
                [packs, packs * 10],
                [log_packs, log_packs * 7],
                rows,
            );
            assert_eq!(step.next, expected, "{packs} {log_packs} {rows:?}");
            assert_eq!(step.more(), expected != StepLimits::default());
            assert_eq!(step.removed.spans, packs as u64 * 10);
            assert_eq!(step.removed.logs, log_packs as u64 * 7);
        }
    }

    #[test]
    fn the_limit_is_the_smaller_of_the_size_and_the_disk_room() {
        const GB: u64 = 1_000_000_000;
        let space = Space {
            file_bytes: 10 * GB,
            free_bytes: 2 * GB,
            disk_available: 5 * GB,
            can_give_back: true,
        };
        for (max_size, min_free, limit) in [
            (None, None, None),
            (Some(20 * GB), None, Some(20 * GB)),
            // The file may grow into the disk but for the last GB.
            (None, Some(GB), Some(14 * GB)),
            (Some(20 * GB), Some(GB), Some(14 * GB)),
            (Some(12 * GB), Some(GB), Some(12 * GB)),
            // The disk is below its floor: the file must give some back.
            (None, Some(7 * GB), Some(8 * GB)),
            (None, Some(100 * GB), Some(0)),
        ] {
            assert_eq!(
                space.limit(max_size, min_free),
                limit,
                "{max_size:?} {min_free:?}"
            );
        }
        assert_eq!(space.used_bytes(), 8 * GB);
        assert!(!space.must_shrink(9 * GB));
        assert!(space.must_shrink(8 * GB));
    }

    #[test]
    fn a_cut_takes_the_share_of_time_the_excess_is_of_the_bytes() {
        for (used, target, cutoff) in [
            // Already under: nothing goes.
            (80, 85, 1_000),
            // A fifth too much: the oldest fifth of the range.
            (100, 80, 1_200),
            (200, 50, 1_750),
            // A sliver over still takes a 32nd of the range.
            (1_000_000, 999_999, 1_032),
            // Nothing may stay: past the newest.
            (100, 0, 2_001),
        ] {
            assert_eq!(
                cutoff_for(1_000, 2_000, used, target),
                cutoff,
                "{used} {target}"
            );
        }
        // One instant of data: the cut is past it.
        assert_eq!(cutoff_for(5, 5, 100, 50), 6);
        assert_eq!(target(1_000), 850);
    }
}
