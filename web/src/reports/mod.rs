//! The load and cost reports: what creates the load, where the time goes,
//! and what the telemetry costs. Read once from the store (`collect`), then
//! computed by pure functions (`analysis`, `load`, `cost`), so the pages,
//! the JSON API and `loupe report` print the same figures.
//!
//! Percentiles everywhere are nearest-rank: the smallest value with at
//! least q of the values at or below it (as on the Services page).
//!
//! - `analysis`: the one pass over a window's spans, trace by trace.
//! - `load`, `cost`: the figures of each report, from the analysis.
//! - `csv`: any table of a report as CSV.
//! - `names`: small integers for the strings the spans repeat.

pub mod analysis;
pub mod change;
pub mod cost;
pub mod csv;
pub mod figures;
pub mod load;
mod names;
pub mod savings;

use std::ops::Range;

use store::Reader;
use store::rollup::{self, Cover, MINUTE_NS};

use analysis::Parts;
use figures::Figures;

pub use analysis::{Analysis, PATH_SAMPLE, REPEATED_CALLS, SERIES_BUCKETS};
pub use cost::{CostReport, Currency, Prices};
pub use load::LoadReport;
pub use names::Names;
// The window model is the pages' and the API's; `loupe report` and
// `loupe demo` name it through the reports.
pub use crate::params::{Window, now_ns, parse_duration, parse_time};

/// Decimal units, as the cost report counts: `950 B`, `1.2 MB`.
pub fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let (mut value, mut unit) = (n.max(0.0), 0);
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Nearest-rank, as everywhere in loupe (the Services page too).
pub use store::percentile;

tokio::task_local! {
    /// Spans a report in this task may hold in memory (`--max-report-spans`).
    static MAY_HOLD: u64;
}

/// Runs `read` with its reports holding at most `spans` spans at once.
pub async fn holding_at_most<F: std::future::Future>(spans: u64, read: F) -> F::Output {
    MAY_HOLD.scope(spans, read).await
}

/// Whether a report may hold `spans`: it may when no request set a bound
/// (`loupe report`, the rollup job).
fn may_hold(spans: u64) -> Result<(), u64> {
    match MAY_HOLD.try_with(|bound| *bound) {
        Ok(bound) if spans > bound => Err(bound),
        _ => Ok(()),
    }
}

/// Told how many spans have been read, every `PROGRESS_EVERY` of them,
/// and of how many the read will go through at most.
pub type Progress<'a> = &'a mut (dyn FnMut(u64, u64) + Send);
pub const PROGRESS_EVERY: u64 = 100_000;

/// Every span that started in `[start, end)`, narrowed, and how many
/// were read; `progress` is told the count every `PROGRESS_EVERY`.
async fn collect(
    store: &Reader,
    start: i64,
    end: i64,
    progress: &mut (dyn FnMut(u64) + Send),
) -> store::Result<(analysis::Spans, u64)> {
    let mut spans = analysis::Spans::default();
    let mut read = 0u64;
    store
        .report_spans(start, end, |span| {
            spans.push(span);
            read += 1;
            if read.is_multiple_of(PROGRESS_EVERY) {
                progress(read);
            }
        })
        .await?;
    Ok((spans, read))
}

/// How far around the spans counted the spans are read, so that a trace
/// that straddles the edge of a stretch is seen whole (a longer one is
/// seen in part, as at the edges of any window).
pub const CONTEXT_NS: i64 = MINUTE_NS;

/// The stretches of a window its report rollups do not answer: the
/// partial minutes at its edges (`cover.spans`) and its stale minutes,
/// runs of them joined.
fn from_spans(cover: &Cover, stale: &[i64]) -> Vec<Range<i64>> {
    let mut all: Vec<Range<i64>> = cover.spans.iter().map(|&(a, b)| a..b).collect();
    all.extend(stale.iter().map(|&m| m * MINUTE_NS..(m + 1) * MINUTE_NS));
    all.sort_by_key(|r| r.start);
    let mut out: Vec<Range<i64>> = Vec::new();
    for r in all {
        match out.last_mut() {
            Some(last) if last.end == r.start => last.end = r.end,
            _ => out.push(r),
        }
    }
    out
}

/// The analysis of `window`: whole minutes merged from their report
/// rollups, the rest counted from the spans (with their log records when
/// `with_logs`).
async fn analyse(
    store: &Reader,
    window: Window,
    with_logs: bool,
    progress: Progress<'_>,
) -> store::Result<Analysis> {
    let cover = rollup::cover(window.start, window.end, None);
    let mut analysis = Analysis::empty(window);
    let mut stale = Vec::new();
    if !cover.minutes.is_empty() {
        let (rows, marked) = store.report_rollups(cover.minutes.clone()).await?;
        stale = marked;
        for (minute, data) in rows {
            let (names, figures) = Figures::decode(&data)?;
            analysis.add(&names, &figures, Some(minute));
        }
    }
    let stretches = from_spans(&cover, &stale);
    // What the spans read are a part of, for a read stopped at its deadline.
    let mut of = 0;
    for counted in &stretches {
        of += store
            .spans_between(counted.start - CONTEXT_NS, counted.end + CONTEXT_NS)
            .await?;
    }
    if let Err(bound) = may_hold(of) {
        return Err(store::StoreError::ReadTooLarge(format!(
            "This report would hold {of} spans in memory (the minutes its rollups do not \
             answer yet), more than --max-report-spans ({bound}). Narrow the window, or \
             try again in a minute, when the rollups have caught up."
        )));
    }
    let mut read = 0;
    for counted in stretches {
        let (spans, n) = collect(
            store,
            counted.start - CONTEXT_NS,
            counted.end + CONTEXT_NS,
            &mut |n| progress(read + n, of),
        )
        .await?;
        read += n;
        let logs = match with_logs {
            true => store.span_logs(counted.start, counted.end).await?,
            false => Vec::new(),
        };
        let parts = Parts {
            part_ns: (counted.end - counted.start).max(1),
            counted,
            series: Some(window),
            path_sample: PATH_SAMPLE as u64,
        };
        let (names, figures) = store::blocking(|| Analysis::run_parts(parts, spans, &logs));
        if let Some(f) = figures.first() {
            analysis.add(&names, f, None);
        }
    }
    Ok(analysis)
}

/// The load report over `window`, rows limited to those touching `service`.
pub async fn load(
    store: &Reader,
    window: Window,
    service: Option<&str>,
    progress: Progress<'_>,
) -> store::Result<LoadReport> {
    let started = std::time::Instant::now();
    let analysis = analyse(store, window, false, progress).await?;
    let analysed = started.elapsed();
    let report = LoadReport::from_analysis(&analysis, service);
    tracing::debug!(spans = report.spans, ?analysed, total = ?started.elapsed(), "load report");
    Ok(report)
}

/// The load report over `window` and every endpoint's figures in it
/// against `earlier`.
pub async fn load_against(
    store: &Reader,
    window: Window,
    earlier: Window,
    service: Option<&str>,
    progress: Progress<'_>,
) -> store::Result<(LoadReport, change::ThenAndNow)> {
    let now = analyse(store, window, false, progress).await?;
    let then = analyse(store, earlier, false, &mut |_, _| {}).await?;
    Ok((
        LoadReport::from_analysis(&now, service),
        change::compare(&then, &now, service),
    ))
}

/// Every endpoint's figures over `window` against `earlier` (of
/// `service`'s, when given), without the load report around them.
pub async fn change(
    store: &Reader,
    window: Window,
    earlier: Window,
    service: Option<&str>,
    progress: Progress<'_>,
) -> store::Result<change::ThenAndNow> {
    let now = analyse(store, window, false, progress).await?;
    let then = analyse(store, earlier, false, &mut |_, _| {}).await?;
    Ok(change::compare(&then, &now, service))
}

/// Traces whose spans' attributes are measured for the bytes per key, and
/// log records likewise.
const SAMPLE_TRACES: u32 = 200;
const SAMPLE_LOGS: u32 = 2000;

/// The cost report over `window` at `prices`.
pub async fn cost(
    store: &Reader,
    window: Window,
    prices: Prices,
    progress: Progress<'_>,
) -> store::Result<CostReport> {
    let analysis = analyse(store, window, true, progress).await?;
    let inputs = cost::CostInputs {
        log_sources: store.log_sources(window.start, window.end).await?,
        metric_usage: store.metric_usage(window.start, window.end).await?,
        key_usage: store.key_usage(window.start, window.end).await?,
        attribute_sample: store
            .attribute_sample(window.start, window.end, SAMPLE_TRACES, SAMPLE_LOGS)
            .await?,
        wire_total: store.wire_bytes_total().await?,
        stored_total: store.stored_bytes().await?,
        data_extent: store.data_extent(window.start, window.end).await?,
    };
    Ok(CostReport::build(&analysis, &inputs, prices))
}

/// Traces walked for the critical path per entry endpoint and minute.
const PATH_SAMPLE_A_MINUTE: u64 = 100;

/// The figures of each minute of `minutes` (since the epoch) as the store
/// keeps them in report rollups, `None` for a minute that held nothing:
/// counted from their spans and log records, with a minute of context on
/// each side (docs/adr/0021). Reads only; the caller stores them.
pub async fn minute_figures(
    store: &Reader,
    minutes: Range<i64>,
) -> store::Result<Vec<(i64, Option<Vec<u8>>)>> {
    let counted = minutes.start * MINUTE_NS..minutes.end * MINUTE_NS;
    let (spans, _) = collect(
        store,
        counted.start - CONTEXT_NS,
        counted.end + CONTEXT_NS,
        &mut |_| {},
    )
    .await?;
    let logs = store.span_logs(counted.start, counted.end).await?;
    let parts = Parts {
        counted,
        part_ns: MINUTE_NS,
        series: None,
        path_sample: PATH_SAMPLE_A_MINUTE,
    };
    Ok(store::blocking(|| {
        let (names, figures) = Analysis::run_parts(parts, spans, &logs);
        (minutes.start..)
            .zip(&figures)
            .map(|(minute, f)| (minute, (!f.is_empty()).then(|| f.encode(&names))))
            .collect()
    }))
}

/// Sorted minutes as runs of consecutive ones, each at most `most` long.
pub fn runs(minutes: &[i64], most: i64) -> Vec<Range<i64>> {
    let mut out: Vec<Range<i64>> = Vec::new();
    for &m in minutes {
        match out.last_mut() {
            Some(last) if last.end == m && last.end - last.start < most => last.end += 1,
            _ => out.push(m..m + 1),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let values = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
        assert_eq!(percentile(&values, 0.5), Some(50));
        assert_eq!(percentile(&values, 0.95), Some(100));
        assert_eq!(percentile(&values, 0.0), Some(10));
        assert_eq!(percentile(&[7], 0.99), Some(7));
        assert_eq!(percentile::<i64>(&[], 0.5), None);
    }

    fn ends(ranges: &[Range<i64>]) -> Vec<(i64, i64)> {
        ranges.iter().map(|r| (r.start, r.end)).collect()
    }

    #[test]
    fn minutes_in_runs() {
        for (minutes, want) in [
            (vec![], vec![]),
            (vec![7], vec![(7, 8)]),
            (vec![1, 2, 3, 5, 6, 9], vec![(1, 4), (5, 7), (9, 10)]),
            (vec![1, 2, 3, 4, 5, 6], vec![(1, 5), (5, 7)]),
        ] {
            assert_eq!(ends(&runs(&minutes, 4)), want, "{minutes:?}");
        }
    }

    #[test]
    fn what_the_rollups_do_not_answer_is_read_from_spans() {
        const M: i64 = MINUTE_NS;
        for ((start, end), stale, want) in [
            // Less than a minute: all from spans.
            ((10, 20), vec![], vec![(10, 20)]),
            // Whole minutes exactly: nothing.
            ((2 * M, 5 * M), vec![], vec![]),
            // Partial edges.
            (
                (2 * M - 5, 5 * M + 7),
                vec![],
                vec![(2 * M - 5, 2 * M), (5 * M, 5 * M + 7)],
            ),
            // Stale minutes joined to an edge and to each other.
            (
                (2 * M - 5, 9 * M),
                vec![2, 5, 6],
                vec![(2 * M - 5, 3 * M), (5 * M, 7 * M)],
            ),
            ((2 * M, 5 * M), vec![4], vec![(4 * M, 5 * M)]),
        ] {
            let cover = rollup::cover(start, end, None);
            assert_eq!(ends(&from_spans(&cover, &stale)), want, "{start}..{end}");
        }
    }

    #[test]
    fn bytes_in_decimal_units() {
        assert_eq!(
            [0.0, 999.0, 1_500.0, 2_000_000.0].map(bytes),
            ["0 B", "999 B", "1.5 KB", "2.0 MB"]
        );
    }
}
