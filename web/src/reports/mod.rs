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
pub mod cost;
pub mod csv;
pub mod load;
mod names;

use store::Reader;

pub use analysis::{Analysis, PATH_SAMPLE, REPEATED_CALLS, SERIES_BUCKETS};
pub use cost::{CostReport, Prices};
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

/// Told how many spans have been read, every `PROGRESS_EVERY` of them.
pub type Progress<'a> = &'a mut (dyn FnMut(u64) + Send);
pub const PROGRESS_EVERY: u64 = 100_000;

/// Every span that started in the window, narrowed.
async fn collect(
    store: &Reader,
    window: Window,
    progress: Progress<'_>,
) -> store::Result<analysis::Spans> {
    let mut spans = analysis::Spans::default();
    let mut read = 0u64;
    store
        .report_spans(window.start, window.end, |span| {
            spans.push(span);
            read += 1;
            if read.is_multiple_of(PROGRESS_EVERY) {
                progress(read);
            }
        })
        .await?;
    Ok(spans)
}

/// The load report over `window`, rows limited to those touching `service`.
pub async fn load(
    store: &Reader,
    window: Window,
    service: Option<&str>,
    progress: Progress<'_>,
) -> store::Result<LoadReport> {
    let started = std::time::Instant::now();
    let spans = collect(store, window, progress).await?;
    let read = started.elapsed();
    let analysis = store::blocking(|| Analysis::run(window, spans, &[]));
    let analysed = started.elapsed();
    let report = LoadReport::from_analysis(&analysis, service);
    tracing::debug!(spans = report.spans, ?read, ?analysed, total = ?started.elapsed(), "load report");
    Ok(report)
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
    let spans = collect(store, window, progress).await?;
    let span_logs = store.span_logs(window.start, window.end).await?;
    let analysis = store::blocking(|| Analysis::run(window, spans, &span_logs));
    let inputs = cost::CostInputs {
        log_sources: store.log_sources(window.start, window.end).await?,
        metric_usage: store.metric_usage(window.start, window.end).await?,
        attribute_sample: store
            .attribute_sample(window.start, window.end, SAMPLE_TRACES, SAMPLE_LOGS)
            .await?,
        wire_total: store.wire_bytes_total().await?,
        stored_total: store.stored_bytes().await?,
    };
    Ok(CostReport::build(&analysis, &inputs, prices))
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

    #[test]
    fn bytes_in_decimal_units() {
        assert_eq!(
            [0.0, 999.0, 1_500.0, 2_000_000.0].map(bytes),
            ["0 B", "999 B", "1.5 KB", "2.0 MB"]
        );
    }
}
