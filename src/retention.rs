//! Keeping the database within its limits while `loupe serve` runs: age
//! (`--retention`), checked every minute, and size (`--max-size`, the
//! free-disk guard), checked every second; and the rollups merged and
//! kept for `--rollup-retention`, every five seconds; `store::Sweeper` does the
//! work (docs/adr/0016, 0017, 0019).

use std::sync::Arc;
use std::time::Duration;

use collector::Pipeline;
use store::Sweeper;
use store::rollup::MINUTE_NS;
use tokio::sync::watch;

use crate::cli::ServeConfig;
use crate::vitals::Vitals;

/// How often data past its retention is removed (and at start).
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// How often the file's size and the disk's room are measured: a
/// measure is two pragmas and a `statvfs`, and at a hundred thousand
/// spans a second a second's growth is some 10 MB.
const MEASURE_EVERY: Duration = Duration::from_secs(1);

/// How often the rollup rows writers appended are merged: a busy
/// server appends a row per endpoint and transaction (some 20 000 a
/// minute at 40 000 spans a second), each of which an overview reads
/// until it is merged.
const MERGE_ROLLUPS_EVERY: Duration = Duration::from_secs(5);

/// How often stale minutes are looked for to roll up for the reports.
const ROLL_UP_REPORTS_EVERY: Duration = Duration::from_secs(2);

/// A stale minute is rolled up once no batch has touched it for this long
/// (its spans have likely all arrived), or once it has been stale this
/// long however busy.
const QUIET_NS: i64 = 10_000_000_000;
const OVERDUE_NS: i64 = 600_000_000_000;

/// Stale minutes rolled up between two looks at the clock and the stop,
/// and at most together, read with a minute of context on each side.
const REPORT_MINUTES_A_ROUND: i64 = 16;
const REPORT_MINUTES_A_PASS: i64 = 2;

/// Retention's settings as `/system` shows them.
pub fn settings(config: &ServeConfig) -> web::system::RetentionState {
    web::system::RetentionState {
        max_age_secs: config.retention.0.map(|age| age.as_secs()),
        rollup_max_age_secs: config.rollup_retention.0.map(|age| age.as_secs()),
        max_size_bytes: config.max_size.0,
        min_free_disk_bytes: config.min_free_disk.0,
        ..Default::default()
    }
}

/// Starts what the configuration asks for: none, one or both loops,
/// which report to `vitals`.
pub fn start(
    config: &ServeConfig,
    reader: store::Reader,
    sweeper: Sweeper,
    pipeline: Pipeline,
    vitals: Arc<Vitals>,
    stopped: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = vec![
        tokio::spawn(rollups(
            sweeper.clone(),
            config.rollup_retention.0,
            vitals.clone(),
            stopped.clone(),
        )),
        tokio::spawn(report_rollups(
            reader,
            sweeper.clone(),
            config.retention.0,
            stopped.clone(),
        )),
    ];
    if let Some(age) = config.retention.0 {
        tasks.push(tokio::spawn(by_age(
            sweeper.clone(),
            age,
            vitals.clone(),
            stopped.clone(),
        )));
    }
    let (max_size, min_free_disk) = (config.max_size.0, config.min_free_disk.0);
    if max_size.is_some() || min_free_disk.is_some() {
        tasks.push(tokio::spawn(by_size(
            sweeper,
            pipeline,
            vitals,
            max_size,
            min_free_disk,
            stopped.clone(),
        )));
    }
    tasks
}

/// Removes what is older than `max_age` at start and every `SWEEP_EVERY`
/// until stopped; a sweep in progress stops between two of its steps.
async fn by_age(
    sweeper: Sweeper,
    max_age: Duration,
    vitals: Arc<Vitals>,
    mut stopped: watch::Receiver<bool>,
) {
    let max_age = i64::try_from(max_age.as_nanos()).unwrap_or(i64::MAX);
    loop {
        let cutoff = web::reports::now_ns().saturating_sub(max_age);
        tokio::select! {
            swept = sweeper.sweep(cutoff) => match swept {
                Ok(removed) => {
                    vitals.retention(|r| {
                        r.removed.add(removed);
                        r.last_sweep_at_ns = Some(web::reports::now_ns());
                    });
                    if !removed.is_empty() {
                        tracing::info!(
                            spans = removed.spans,
                            traces = removed.traces,
                            logs = removed.logs,
                            metric_points = removed.metric_points,
                            request_ids = removed.request_ids,
                            "removed what is past its retention"
                        );
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "retention sweep failed; trying again later")
                }
            },
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        tokio::select! {
            () = tokio::time::sleep(SWEEP_EVERY) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}

/// Merges the rollup rows the writers appended and removes rollups older
/// than `max_age` (none when `None`), at start and every
/// `MERGE_ROLLUPS_EVERY`.
async fn rollups(
    sweeper: Sweeper,
    max_age: Option<Duration>,
    vitals: Arc<Vitals>,
    mut stopped: watch::Receiver<bool>,
) {
    let max_age = max_age.map(|age| i64::try_from(age.as_nanos()).unwrap_or(i64::MAX));
    loop {
        let cutoff = max_age.map(|age| web::reports::now_ns().saturating_sub(age));
        tokio::select! {
            kept = sweeper.keep_rollups(cutoff) => match kept {
                Ok(removed) => vitals.retention(|r| r.removed.rollups += removed),
                Err(err) => {
                    tracing::warn!(error = %err, "merging rollups failed; trying again later")
                }
            },
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        tokio::select! {
            () = tokio::time::sleep(MERGE_ROLLUPS_EVERY) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}

/// Rolls up the minutes whose spans changed, for the load and cost
/// reports and the map (docs/adr/0021), until stopped.
async fn report_rollups(
    reader: store::Reader,
    sweeper: Sweeper,
    max_age: Option<Duration>,
    mut stopped: watch::Receiver<bool>,
) {
    let max_age = max_age.map(|age| i64::try_from(age.as_nanos()).unwrap_or(i64::MAX));
    loop {
        let rolled = tokio::select! {
            done = roll_up(&reader, &sweeper, max_age) => done,
            _ = stopped.wait_for(|stop| *stop) => return,
        };
        let pause = match rolled {
            // More may be due: look again at once, the stop first.
            Ok(n) if n as i64 >= REPORT_MINUTES_A_ROUND => Duration::ZERO,
            Ok(_) => ROLL_UP_REPORTS_EVERY,
            Err(err) => {
                tracing::warn!(error = %err, "rolling up minutes for the reports failed; trying again later");
                ROLL_UP_REPORTS_EVERY
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}

/// Rolls up the stale minutes that are due, oldest first; returns how many.
/// A minute whose spans (or those of the minutes around it) are past
/// `max_age` is not rolled up again: its spans are, or are about to be,
/// gone, and figures made from what is left would replace whole ones
/// (late data for a long-gone minute); its marks are dropped.
async fn roll_up(
    reader: &store::Reader,
    sweeper: &Sweeper,
    max_age: Option<i64>,
) -> store::Result<usize> {
    let now = web::reports::now_ns();
    let due = sweeper
        .report_minutes_due(now - QUIET_NS, now - OVERDUE_NS, REPORT_MINUTES_A_ROUND)
        .await?;
    let expired =
        |minute: i64| max_age.is_some_and(|age| (minute - 1) * MINUTE_NS < now.saturating_sub(age));
    let (gone, due): (Vec<i64>, Vec<i64>) = due.into_iter().partition(|&m| expired(m));
    for run in web::reports::runs(&gone, REPORT_MINUTES_A_ROUND) {
        let marks = sweeper.report_rollup_marks(run).await?;
        sweeper.put_report_rollups(&[], &marks).await?;
    }
    let mut done = gone.len();
    for run in web::reports::runs(&due, REPORT_MINUTES_A_PASS) {
        // Marks before spans: a batch committed after this read leaves a
        // mark that stays, and the minute is rolled up again.
        let marks = sweeper.report_rollup_marks(run.clone()).await?;
        let rows = web::reports::minute_figures(reader, run).await?;
        sweeper.put_report_rollups(&rows, &marks).await?;
        done += rows.len();
    }
    Ok(done)
}

/// Keeps the database within `max_size` and leaving `min_free_disk`,
/// measured every `MEASURE_EVERY`; while neither can be kept with what
/// may go, exports are refused as retryable.
async fn by_size(
    sweeper: Sweeper,
    pipeline: Pipeline,
    vitals: Arc<Vitals>,
    max_size: Option<u64>,
    min_free_disk: Option<u64>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut refusing = false;
    loop {
        tokio::select! {
            fitted = sweeper.fit(max_size, min_free_disk) => match fitted {
                // PostgreSQL: its server's disk, not loupe's (`serve`
                // refuses `--max-size` there).
                Ok(None) => return,
                Ok(Some(fitted)) => {
                    let removed = fitted.removed;
                    if !removed.is_empty() {
                        tracing::info!(
                            spans = removed.spans,
                            traces = removed.traces,
                            logs = removed.logs,
                            metric_points = removed.metric_points,
                            limit = %web::reports::bytes(fitted.limit as f64),
                            "removed the oldest data to keep within the size limit"
                        );
                    }
                    let reason = (!fitted.within).then(|| no_room(&fitted, max_size));
                    if let Some(reason) = &reason
                        && !refusing
                    {
                        tracing::error!("{reason}; refusing exports until there is room");
                    } else if reason.is_none() && refusing {
                        tracing::info!("room again: accepting exports");
                    }
                    refusing = reason.is_some();
                    vitals.retention(|r| {
                        r.removed.add(removed);
                        r.space = Some(fitted.space);
                        r.limit_bytes = Some(fitted.limit);
                        r.refusing.clone_from(&reason);
                    });
                    pipeline.set_no_room(reason);
                }
                Err(err) => tracing::warn!(error = %err, "size check failed; trying again"),
            },
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        tokio::select! {
            () = tokio::time::sleep(MEASURE_EVERY) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}

/// Why nothing more can be written, for the refusal and the log.
fn no_room(fitted: &store::retention::Fitted, max_size: Option<u64>) -> String {
    let bytes = |n: u64| web::reports::bytes(n as f64);
    let what = if max_size == Some(fitted.limit) {
        "--max-size".to_owned()
    } else {
        format!(
            "the room --min-free-disk leaves ({} available on the disk)",
            bytes(fitted.space.disk_available)
        )
    };
    format!(
        "the database uses {} of the {} {what} allows, with nothing older left to remove",
        bytes(fitted.space.used_bytes()),
        bytes(fitted.limit),
    )
}
