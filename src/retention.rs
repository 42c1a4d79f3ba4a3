//! Keeping the database within its limits while `loupe serve` runs: age
//! (`--retention`), checked every minute, and size (`--max-size`, the
//! free-disk guard), checked every second; and the rollups merged and
//! kept for `--rollup-retention`, every five seconds; `store::Sweeper` does the
//! work (docs/adr/0016, 0017, 0019).

use std::sync::Arc;
use std::time::Duration;

use collector::Pipeline;
use store::Sweeper;
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
    sweeper: Sweeper,
    pipeline: Pipeline,
    vitals: Arc<Vitals>,
    stopped: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = vec![tokio::spawn(rollups(
        sweeper.clone(),
        config.rollup_retention.0,
        vitals.clone(),
        stopped.clone(),
    ))];
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
