//! Report rollups (docs/adr/0021): per minute, the load and cost reports'
//! figures, kept as the bytes `web::reports::figures` writes (the store
//! does not read them). Which minutes a batch makes stale, and the reads
//! and the settling of older databases, written once as a macro expanded
//! into both backends.

use std::collections::BTreeSet;

use crate::model::Batch;
use crate::rollup::minute_of;

/// What `settings.report_rollups` holds until the store settles it.
pub(crate) const UNSETTLED: &[u8] = b"unsettled";
pub(crate) const SETTLED: &[u8] = b"settled";

/// A pack whose spans spread over more than this many minutes (a clock far
/// off) marks the minutes of its ends only, not every one between.
const SPREAD: i64 = 31 * 24 * 60;

/// The minutes whose figures a batch changes: those its spans started in
/// and its log records were written in, and each one's neighbours (a
/// minute's figures are counted with the minutes around it as context).
pub(crate) fn stale_minutes(batch: &Batch) -> Vec<i64> {
    let spans = batch.spans.iter().map(|s| s.start_time_unix_nano);
    let logs = batch
        .logs
        .iter()
        .filter(|l| l.trace_id.is_some())
        .map(|l| l.effective_time());
    with_neighbours(spans.chain(logs).map(minute_of))
}

/// The minutes `[lo, hi]` of each range (a pack's), and their neighbours.
pub(crate) fn minutes_of_ranges(ranges: impl IntoIterator<Item = (i64, i64)>) -> Vec<i64> {
    let mut minutes = BTreeSet::new();
    for (lo, hi) in ranges {
        if hi - lo > SPREAD {
            minutes.extend([lo, hi]);
        } else {
            minutes.extend(lo..=hi);
        }
    }
    with_neighbours(minutes)
}

fn with_neighbours(minutes: impl IntoIterator<Item = i64>) -> Vec<i64> {
    let mut set = BTreeSet::new();
    for m in minutes {
        set.extend([m.saturating_sub(1), m, m.saturating_add(1)]);
    }
    set.into_iter().collect()
}

/// The wall clock, for a stale mark: how long a minute has been quiet.
pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

macro_rules! impl_report_rollups {
    ($db:ty, $readers:ident, $writer:ident) => {
        /// Marks the minutes of every span and log record stored before
        /// report rollups existed stale, once, after migrating.
        pub(crate) async fn settle_report_rollups(&self) -> $crate::error::Result<()> {
            let setting: Option<Vec<u8>> =
                sqlx::query_scalar("SELECT value FROM settings WHERE name = 'report_rollups'")
                    .fetch_optional(&self.$writer)
                    .await?;
            if setting.as_deref() != Some($crate::report_rollups::UNSETTLED) {
                return Ok(());
            }
            // In minutes (times before 1970 are refused at ingest, so the
            // division rounds down), each distinct once.
            let packs: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT DISTINCT start_lo / 60000000000, start_hi / 60000000000 FROM span_packs",
            )
            .fetch_all(&self.$writer)
            .await?;
            let logs: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT DISTINCT ts_lo / 60000000000, ts_hi / 60000000000 FROM log_packs",
            )
            .fetch_all(&self.$writer)
            .await?;
            let minutes = $crate::report_rollups::minutes_of_ranges(packs.into_iter().chain(logs));
            let at = $crate::report_rollups::now_ns();
            let mut tx = self.$writer.begin().await?;
            for minute in minutes {
                sqlx::query("INSERT INTO report_rollups_stale (minute, at_ns) VALUES ($1, $2)")
                    .bind(minute)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("UPDATE settings SET value = $1 WHERE name = 'report_rollups'")
                .bind($crate::report_rollups::SETTLED.to_vec())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        }

        /// The report rollups of the minutes in `minutes`, stale or not.
        pub(crate) async fn report_rollups(
            &self,
            minutes: std::ops::Range<i64>,
        ) -> $crate::error::Result<Vec<(i64, Vec<u8>)>> {
            Ok(sqlx::query_as(
                "SELECT minute, data FROM report_rollups WHERE minute >= $1 AND minute < $2",
            )
            .bind(minutes.start)
            .bind(minutes.end)
            .fetch_all(&self.$readers)
            .await?)
        }

        /// The minutes in `minutes` whose report rollups are stale.
        pub(crate) async fn stale_report_minutes(
            &self,
            minutes: std::ops::Range<i64>,
        ) -> $crate::error::Result<Vec<i64>> {
            Ok(sqlx::query_scalar(
                "SELECT DISTINCT minute FROM report_rollups_stale \
                 WHERE minute >= $1 AND minute < $2 ORDER BY minute",
            )
            .bind(minutes.start)
            .bind(minutes.end)
            .fetch_all(&self.$readers)
            .await?)
        }

        /// Up to `limit` stale minutes, oldest first, that have been quiet
        /// since `quiet_before` or stale since `overdue_before`.
        pub(crate) async fn report_minutes_due(
            &self,
            quiet_before: i64,
            overdue_before: i64,
            limit: i64,
        ) -> $crate::error::Result<Vec<i64>> {
            Ok(sqlx::query_scalar(
                "SELECT minute FROM report_rollups_stale GROUP BY minute \
                 HAVING max(at_ns) < $1 OR min(at_ns) < $2 ORDER BY minute LIMIT $3",
            )
            .bind(quiet_before)
            .bind(overdue_before)
            .bind(limit)
            .fetch_all(&self.$readers)
            .await?)
        }

        /// The stale marks of the minutes in `minutes`, by id.
        pub(crate) async fn report_rollup_marks(
            &self,
            minutes: std::ops::Range<i64>,
        ) -> $crate::error::Result<Vec<i64>> {
            Ok(sqlx::query_scalar(
                "SELECT id FROM report_rollups_stale WHERE minute >= $1 AND minute < $2",
            )
            .bind(minutes.start)
            .bind(minutes.end)
            .fetch_all(&self.$readers)
            .await?)
        }

        /// How many minutes wait to be rolled up.
        pub(crate) async fn report_minutes_pending(&self) -> $crate::error::Result<u64> {
            let n: i64 =
                sqlx::query_scalar("SELECT count(DISTINCT minute) FROM report_rollups_stale")
                    .fetch_one(&self.$readers)
                    .await?;
            Ok(n.max(0) as u64)
        }
    };
}

pub(crate) use impl_report_rollups;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_is_stale_with_its_neighbours() {
        for (ranges, want) in [
            (vec![], vec![]),
            (vec![(5, 5)], vec![4, 5, 6]),
            (vec![(5, 6)], vec![4, 5, 6, 7]),
            (vec![(5, 5), (9, 9)], vec![4, 5, 6, 8, 9, 10]),
            (vec![(-1, -1)], vec![-2, -1, 0]),
            (
                vec![(0, SPREAD + 1)],
                vec![-1, 0, 1, SPREAD, SPREAD + 1, SPREAD + 2],
            ),
        ] {
            assert_eq!(minutes_of_ranges(ranges.clone()), want, "{ranges:?}");
        }
    }
}
