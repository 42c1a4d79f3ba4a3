//! A batch made ready for its write (`Writer::prepare`): its spans packed
//! and compressed on the task that received them, many at once, instead of
//! inside the one writer's transaction. The writer merges prepared batches
//! into one transaction and, when that fails, takes them apart again to
//! write each alone. The batch's rollup rows (`rollup::of_batch`) and
//! the minutes it makes stale for the report rollups are found here too.

use std::collections::{BTreeSet, VecDeque};

use crate::details;
use crate::error::Result;
use crate::fingerprint::Fingerprints;
use crate::log_packs::{self, LogPack};
use crate::model::{Batch, Shape};
use crate::packed::{self, Pack};
use crate::report_rollups;
use crate::rollup;
use crate::write_rows::{ResourceRow, ScopeRow};

/// A batch and its spans as the packs `write_batch` stores, in span
/// order: one pack for each batch with spans merged into it.
#[derive(Debug, Default)]
pub struct PreparedBatch {
    batch: Batch,
    packs: Vec<Pack>,
    log_packs: Vec<LogPack>,
    rollups: rollup::Rows,
    /// The minutes whose report rollups the batches make stale
    /// (`report_rollups::stale_minutes`).
    stale: BTreeSet<i64>,
    /// Each batch merged in, as its shape, its number of span packs, of
    /// log packs and of rollup rows, oldest first, so that `split_first`
    /// gives them back as they came.
    parts: VecDeque<(Shape, usize, usize, usize)>,
}

impl PreparedBatch {
    /// Packs the batch's spans and its log records (one pack each, or
    /// none without any).
    pub(crate) fn new(batch: Batch, fingerprints: &Fingerprints) -> Result<PreparedBatch> {
        let resources: Vec<i64> = batch
            .resources
            .iter()
            .map(|r| ResourceRow::new(r, fingerprints).fingerprint)
            .collect();
        let scopes: Vec<i64> = batch
            .scopes
            .iter()
            .map(|s| ScopeRow::new(s, fingerprints).fingerprint)
            .collect();
        let details = details::of_batch(&batch, &resources, &scopes);
        let packs: Vec<Pack> = packed::pack(&batch, &details)?.into_iter().collect();
        let log_packs: Vec<LogPack> = log_packs::pack(&batch, &resources, &scopes)?
            .into_iter()
            .collect();
        let rollups = rollup::of_batch(&batch);
        Ok(PreparedBatch {
            parts: VecDeque::from([(batch.shape(), packs.len(), log_packs.len(), rollups.len())]),
            stale: report_rollups::stale_minutes(&batch).into_iter().collect(),
            batch,
            packs,
            log_packs,
            rollups,
        })
    }

    pub fn batch(&self) -> &Batch {
        &self.batch
    }

    pub(crate) fn packs(&self) -> &[Pack] {
        &self.packs
    }

    pub(crate) fn log_packs(&self) -> &[LogPack] {
        &self.log_packs
    }

    /// The rollup rows of every batch merged in, one per key.
    pub(crate) fn rollups(&self) -> rollup::Rows {
        rollup::merged(self.rollups.iter().cloned())
    }

    /// The minutes to mark stale for the report rollups, in order.
    pub(crate) fn stale_minutes(&self) -> Vec<i64> {
        self.stale.iter().copied().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    /// Items, not requests, are what a batch is sized by.
    pub fn n_items(&self) -> usize {
        self.batch.n_items()
    }

    /// Moves `other` to the end of `self`, to be written in one transaction.
    pub fn append(&mut self, other: PreparedBatch) {
        self.batch.append(other.batch);
        self.packs.extend(other.packs);
        self.log_packs.extend(other.log_packs);
        self.rollups.extend(other.rollups);
        self.stale.extend(other.stale);
        self.parts.extend(other.parts);
    }

    /// Takes the oldest batch merged in back out, as it was prepared.
    pub fn split_first(&mut self) -> Option<PreparedBatch> {
        let (shape, n_packs, n_log_packs, n_rollups) = self.parts.pop_front()?;
        let batch = self.batch.split_front(shape);
        // The rest keeps the minutes of all: marking one more stale costs
        // a rollup made again, never a wrong one.
        Some(PreparedBatch {
            stale: report_rollups::stale_minutes(&batch).into_iter().collect(),
            batch,
            packs: self.packs.drain(..n_packs).collect(),
            log_packs: self.log_packs.drain(..n_log_packs).collect(),
            rollups: self.rollups.drain(..n_rollups).collect(),
            parts: VecDeque::from([(shape, n_packs, n_log_packs, n_rollups)]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Resource, Scope};
    use crate::testing::span;
    use crate::value::Attributes;

    /// A prepared batch of `n` spans starting at `start`.
    fn spans(n: usize, start: i64) -> PreparedBatch {
        let batch = Batch {
            resources: vec![Resource {
                service: "svc".into(),
                attributes: Attributes::default(),
                dropped_attributes_count: 0,
                schema_url: String::new(),
            }],
            scopes: vec![Scope {
                name: "lib".into(),
                version: String::new(),
                attributes: Attributes::default(),
                dropped_attributes_count: 0,
                schema_url: String::new(),
            }],
            spans: (0..n)
                .map(|i| span(i as u8, i as u8, None, start, start + 1, false))
                .collect(),
            ..Batch::default()
        };
        PreparedBatch::new(batch, &Fingerprints::keyed(&[1; 16])).expect("prepared")
    }

    fn starts(b: &PreparedBatch) -> Vec<i64> {
        b.packs.iter().map(|p| p.start_lo).collect()
    }

    #[test]
    fn packs_follow_their_spans_through_append_and_split() {
        let mut merged = PreparedBatch::default();
        for part in [spans(2, 10), spans(0, 0), spans(3, 20)] {
            merged.append(part);
        }
        assert_eq!(starts(&merged), [10, 20]);
        assert_eq!(merged.n_items(), 5);
        // Every span is a root, so a request of its rollups.
        let requests = |b: &PreparedBatch| b.rollups().iter().map(|(_, f)| f.requests).sum::<i64>();
        assert_eq!(requests(&merged), 5);

        let first = merged.split_first().expect("first");
        assert_eq!((first.n_items(), starts(&first)), (2, vec![10]));
        assert_eq!(requests(&first), 2);
        let empty = merged.split_first().expect("second");
        assert_eq!((empty.n_items(), starts(&empty)), (0, vec![]));
        let last = merged.split_first().expect("third");
        assert_eq!((last.n_items(), starts(&last)), (3, vec![20]));
        assert_eq!(last.batch.spans[0].resource_idx, 0, "rebased");
        assert!(merged.split_first().is_none());
        assert!(merged.is_empty());
    }

    #[test]
    fn stale_minutes_follow_their_batches_through_append_and_split() {
        let m = rollup::MINUTE_NS;
        let mut merged = PreparedBatch::default();
        for part in [spans(1, 5 * m), spans(2, 9 * m)] {
            merged.append(part);
        }
        assert_eq!(merged.stale_minutes(), [4, 5, 6, 8, 9, 10]);
        let first = merged.split_first().expect("first");
        assert_eq!(first.stale_minutes(), [4, 5, 6]);
        let last = merged.split_first().expect("last");
        assert_eq!(last.stale_minutes(), [8, 9, 10]);
    }
}
