//! Then and now (`reports::change`) as a section of the load report and
//! of a service's page: the endpoints whose figures moved most, each
//! figure then → now, marked when the move is larger than the noise.

use super::format::{self, duration, percent, rate};
use crate::reports::change::{EndpointChange, Shift, ThenAndNow};

/// Rows shown at most: the marked ones first, then the busiest.
const ROWS: usize = 12;

/// One figure in both windows, as a cell reads it.
pub struct Cell {
    pub then: String,
    pub now: String,
    /// `+50 %`, `−3.2 pp`; empty when either side is missing.
    pub change: String,
    /// `up` or `down` when marked, else empty.
    pub class: &'static str,
}

pub struct Row {
    pub service: String,
    pub colour: usize,
    pub endpoint: String,
    pub requests: String,
    pub cells: [Cell; 5],
}

/// An earlier window to compare with, as a link.
pub struct Against {
    pub label: &'static str,
    pub href: String,
    pub picked: bool,
}

pub struct Section {
    /// What is compared with what, in words.
    pub heading: String,
    pub method: &'static str,
    pub rows: Vec<Row>,
    pub left_out: usize,
    pub against: Vec<Against>,
    pub json_href: String,
}

/// The choices of earlier window: `against` values and their labels.
const CHOICES: [(&str, &str); 3] = [
    ("", "the window before"),
    ("1d", "a day earlier"),
    ("7d", "a week earlier"),
];

/// `t` as a section; `path` and `keep` (the page's own parameters,
/// the window's among them) make the links that pick another earlier
/// window, `against` the one picked.
pub fn section(t: &ThenAndNow, path: &str, keep: &[(&str, &str)], against: &str) -> Section {
    let shown: Vec<&EndpointChange> = t
        .endpoints
        .iter()
        .filter(|e| e.now_requests > 0 || e.change > 0.0)
        .take(ROWS)
        .collect();
    let link = |value: &str| {
        let mut pairs = keep.to_vec();
        pairs.push(("against", value));
        format!("{path}?{}", format::query(pairs))
    };
    let mut api = keep.to_vec();
    api.push(("against", against));
    Section {
        heading: format!(
            "{} against {}",
            format::time_range(t.now_start_unix_nano, t.now_end_unix_nano),
            format::time_range(t.then_start_unix_nano, t.then_end_unix_nano)
        ),
        method: crate::reports::change::METHOD,
        left_out: t.endpoints.len() - shown.len(),
        rows: shown.into_iter().map(row).collect(),
        against: CHOICES
            .iter()
            .map(|&(value, label)| Against {
                label,
                href: link(value),
                picked: value == against,
            })
            .collect(),
        json_href: format!("/api/v1/reports/change?{}", format::query(api)),
    }
}

fn row(e: &EndpointChange) -> Row {
    let ns = |v: f64| duration(v as i64);
    Row {
        colour: format::colour(&e.service),
        service: e.service.clone(),
        endpoint: e.endpoint.clone(),
        requests: format!("{} → {}", e.then_requests, e.now_requests),
        cells: [
            cell(&e.rate_per_second, rate, Relative),
            cell(&e.error_rate, percent, Points),
            cell(&e.p50_ns, ns, Relative),
            cell(&e.p95_ns, ns, Relative),
            cell(&e.p99_ns, ns, Relative),
        ],
    }
}

/// How a change of a figure is written.
pub(super) enum Way {
    /// In percent of the earlier value.
    Relative,
    /// In percentage points (of a rate that is itself a share).
    Points,
}
pub(super) use Way::{Points, Relative};

pub(super) fn cell(s: &Shift, show: impl Fn(f64) -> String, way: Way) -> Cell {
    let text = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), &show);
    let change = match (s.then, s.now, way) {
        (Some(a), Some(b), Relative) if a > 0.0 => signed((b / a - 1.0) * 100.0, " %"),
        (Some(_), Some(_), Relative) => String::new(),
        (Some(a), Some(b), Points) => signed((b - a) * 100.0, " pp"),
        _ => String::new(),
    };
    let class = match s.marked {
        false => "",
        true if s.now.unwrap_or(0.0) >= s.then.unwrap_or(0.0) => "up",
        true => "down",
    };
    Cell {
        then: text(s.then),
        now: text(s.now),
        change,
        class,
    }
}

/// `+12 %`, `−3.5 pp`, `±0 %`.
fn signed(value: f64, unit: &str) -> String {
    let digits = if value.abs() < 10.0 { 1 } else { 0 };
    let magnitude = format!("{:.*}", digits, value.abs());
    if magnitude.trim_end_matches(['0', '.']).is_empty() {
        return format!("±0{unit}");
    }
    let sign = if value > 0.0 { '+' } else { '−' };
    format!("{sign}{magnitude}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_as_signed_amounts() {
        assert_eq!(signed(50.0, " %"), "+50 %");
        assert_eq!(signed(-3.25, " pp"), "−3.2 pp");
        assert_eq!(signed(0.01, " %"), "±0 %");
        let shift = |then, now, marked| Shift { then, now, marked };
        let c = cell(&shift(Some(0.01), Some(0.05), true), percent, Points);
        assert_eq!((c.then.as_str(), c.now.as_str()), ("1.0%", "5.0%"));
        assert_eq!((c.change.as_str(), c.class), ("+4.0 pp", "up"));
        let c = cell(&shift(None, Some(2.0), true), rate, Relative);
        assert_eq!(
            (c.then.as_str(), c.change.as_str(), c.class),
            ("–", "", "up")
        );
        let c = cell(
            &shift(Some(4e7), Some(2e7), false),
            |v| duration(v as i64),
            Relative,
        );
        assert_eq!((c.change.as_str(), c.class), ("−50 %", ""));
    }
}
