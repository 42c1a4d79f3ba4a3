//! The load and cost reports: what creates the load, where the time goes,
//! and what the telemetry costs. Read once from the store (`collect`), then
//! computed by pure functions (`analysis`, `load`, `cost`), so the pages,
//! the JSON API and `loupe report` print the same figures.
//!
//! Percentiles everywhere are nearest-rank: the smallest value with at
//! least q of the values at or below it (as on the Services page).

pub mod analysis;
pub mod cost;
pub mod csv;
pub mod load;

use store::Reader;

pub use analysis::Analysis;
pub use cost::{CostReport, Prices};
pub use load::LoadReport;

/// The time slices each row's series is drawn in.
pub const SERIES_BUCKETS: usize = 48;

/// A span calls the same child operation at least this many times before
/// the pattern is flagged as repeated calls (N+1).
pub const REPEATED_CALLS: u32 = 5;

/// At most this many traces per entry endpoint are walked for where the
/// time goes; more are sampled (and the report says how many).
pub const PATH_SAMPLE: usize = 1000;

/// The window a report covers, `[start, end)` in Unix nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

impl Window {
    /// `since` is a duration back from `until` (`24h`, `7d`) or a time;
    /// `until` is a time, `now` when absent. A time is Unix nanoseconds or
    /// RFC 3339 (`2026-11-26T08:00:00Z`).
    pub fn parse(since: Option<&str>, until: Option<&str>, now: i64) -> Result<Window, String> {
        let since = since.map(str::trim).filter(|s| !s.is_empty());
        let until = until.map(str::trim).filter(|s| !s.is_empty());
        let end = match until {
            Some(until) => parse_time(until).ok_or_else(|| {
                format!("until must be a time (Unix ns or RFC 3339), got {until:?}")
            })?,
            None => now,
        };
        let start = match since {
            None => end - 86_400_000_000_000,
            Some(since) => match parse_duration(since) {
                Some(back) => end.saturating_sub(back),
                None => parse_time(since).ok_or_else(|| {
                    format!("since must be a duration (15m, 24h, 7d) or a time, got {since:?}")
                })?,
            },
        };
        if start >= end {
            return Err("since must be before until".into());
        }
        Ok(Window { start, end })
    }

    pub fn seconds(&self) -> f64 {
        (self.end - self.start) as f64 / 1e9
    }
}

/// `90s`, `15m`, `24h`, `7d` as nanoseconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().ok()?;
    let unit_ns: i64 = match unit {
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3_600 * 1_000_000_000,
        "d" => 86_400 * 1_000_000_000,
        _ => return None,
    };
    number.checked_mul(unit_ns).filter(|ns| *ns > 0)
}

/// Unix nanoseconds, or RFC 3339 in UTC or with an offset.
pub fn parse_time(text: &str) -> Option<i64> {
    if let Ok(ns) = text.parse::<i64>() {
        return Some(ns);
    }
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos = 0i64;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let kept = &fraction[..digits.min(9)];
        nanos = kept.parse::<i64>().ok()? * 10i64.pow(9 - kept.len() as u32);
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || &rest[3..4] != ":" {
                return None;
            }
            sign * (rest[1..3].parse::<i64>().ok()? * 3600 + rest[4..6].parse::<i64>().ok()? * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    seconds.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

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

/// Small integers for the few distinct strings a day of spans repeats
/// millions of times (services, operations, endpoints).
#[derive(Debug, Default)]
pub struct Names {
    ids: foldhash::HashMap<String, u32>,
    names: Vec<String>,
}

impl Names {
    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}

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

/// Now, in Unix nanoseconds.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        let now = 1_000_000 * 1_000_000_000;
        let h = 3_600 * 1_000_000_000i64;
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Result<(i64, i64), ()>);
        let cases: &[Case] = &[
            (None, None, Ok((now - 24 * h, now))),
            (Some("1h"), None, Ok((now - h, now))),
            (
                Some("2h"),
                Some("5000000000000000"),
                Ok((5_000_000_000_000_000 - 2 * h, 5_000_000_000_000_000)),
            ),
            (
                Some("1970-01-01T00:00:00Z"),
                Some("1970-01-01T01:00:00Z"),
                Ok((0, h)),
            ),
            (
                Some("2026-11-26T10:00:00+02:00"),
                Some("2026-11-26T08:30:00.5Z"),
                Ok((
                    1_795_680_000 * 1_000_000_000,
                    1_795_681_800 * 1_000_000_000 + 500_000_000,
                )),
            ),
            (Some("1h"), Some("yesterday"), Err(())),
            (Some("soon"), None, Err(())),
            (
                Some("1970-01-01T02:00:00Z"),
                Some("1970-01-01T01:00:00Z"),
                Err(()),
            ),
        ];
        for (since, until, expected) in cases {
            let got = Window::parse(*since, *until, now)
                .map(|w| (w.start, w.end))
                .map_err(|_| ());
            assert_eq!(got, *expected, "since {since:?} until {until:?}");
        }
    }

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
