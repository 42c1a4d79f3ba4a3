//! Line charts over time with axes (`time_chart.html`): ticks at round
//! values in the figure's unit, ticks at round times, and the window in
//! data attributes so that a drag across the plot zooms to a range
//! (`loupe.js`). Pure: values in, SVG geometry and labels out.

use super::format;

/// How a chart's values read, for its ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Events per second.
    Rate,
    /// A share, 0 to 1.
    Share,
    /// Nanoseconds.
    Duration,
}

impl Scale {
    fn label(self, value: f64) -> String {
        if value == 0.0 {
            return "0".to_owned();
        }
        match self {
            Scale::Rate => format::rate(value),
            Scale::Share => {
                let percent = value * 100.0;
                if percent.fract().abs() < 1e-9 {
                    format!("{percent:.0}%")
                } else {
                    format!("{percent:.1}%")
                }
            }
            Scale::Duration => format::duration(value.round() as i64),
        }
    }
}

/// Where the plot sits in the chart's box, in SVG user units.
const WIDTH: f64 = 420.0;
const HEIGHT: f64 = 150.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 8.0;
const BOTTOM: f64 = 18.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub at: f64,
    pub label: String,
    /// For a time: RFC 3339, which the page's script shows in the
    /// reader's zone.
    pub iso: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlotLine {
    pub label: String,
    pub colour: usize,
    /// An SVG path; a value with no neighbour is a dot (a zero-length
    /// stroke with round caps).
    pub d: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TimeChart {
    pub title: String,
    pub width: f64,
    pub height: f64,
    pub x0: f64,
    pub x1: f64,
    pub top: f64,
    pub bottom: f64,
    /// The window, Unix milliseconds, for the zoom.
    pub from_ms: i64,
    pub to_ms: i64,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    pub lines: Vec<PlotLine>,
}

/// A round step (1, 2 or 5 times a power of ten) that cuts `span` into at
/// most `most` parts.
pub fn round_step(span: f64, most: usize) -> f64 {
    if span.is_nan() || span <= 0.0 {
        return 1.0;
    }
    let raw = span / most.max(1) as f64;
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|step| *step >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * power)
}

/// Steps between time ticks, seconds: round on a clock.
const TIME_STEPS: [i64; 20] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
    172_800, 604_800,
];

/// Ticks at round times in `[start, end]` (nanoseconds), at most `most`:
/// `HH:MM`, `HH:MM:SS` under a minute apart, `MM-DD` a day or more apart.
pub fn time_ticks(start: i64, end: i64, most: usize) -> Vec<(i64, String)> {
    const S: i64 = 1_000_000_000;
    let span = (end - start).max(1);
    let step = TIME_STEPS
        .into_iter()
        .map(|s| s * S)
        .find(|step| span / step <= most as i64)
        .unwrap_or(span);
    let mut ticks = Vec::new();
    let mut at = start.div_euclid(step) * step;
    if at < start {
        at += step;
    }
    while at <= end {
        let text = format::time(at);
        let label = if step >= 86_400 * S {
            text[5..10].to_owned()
        } else if step < 60 * S {
            text[11..19].to_owned()
        } else {
            text[11..16].to_owned()
        };
        ticks.push((at, label));
        at += step;
    }
    ticks
}

/// `lines` (one value per equal slice of `[start, end)`, `None` for no
/// data) drawn against round ticks from 0 to past the largest value.
pub fn draw(
    title: &str,
    start: i64,
    end: i64,
    lines: &[(String, Vec<Option<f64>>)],
    scale: Scale,
) -> TimeChart {
    let (x0, x1) = (LEFT, WIDTH - RIGHT);
    let (top, bottom) = (TOP, HEIGHT - BOTTOM);
    let span = (end - start).max(1) as f64;
    let x_of = |t: f64| x0 + (t - start as f64) / span * (x1 - x0);
    let highest = lines
        .iter()
        .flat_map(|(_, values)| values.iter().flatten().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let step = match scale {
        // Whole percents at least.
        Scale::Share => round_step(highest, 4).max(0.01),
        _ => round_step(highest, 4),
    };
    let top_value = ((highest / step).ceil() * step).max(step);
    let y_of = |v: f64| bottom - v / top_value * (bottom - top);
    let y_ticks = (0..)
        .map(|i| i as f64 * step)
        .take_while(|v| *v <= top_value * (1.0 + 1e-9))
        .map(|v| Tick {
            at: y_of(v),
            label: scale.label(v),
            iso: String::new(),
        })
        .collect();
    let x_ticks = time_ticks(start, end, 6)
        .into_iter()
        .map(|(at, label)| Tick {
            at: x_of(at as f64),
            label,
            iso: format::iso(at),
        })
        .collect();
    let plotted = lines
        .iter()
        .enumerate()
        .map(|(i, (label, values))| {
            let slice = span / values.len().max(1) as f64;
            let mut d = String::new();
            for (s, value) in values.iter().enumerate() {
                let Some(v) = value.filter(|v| v.is_finite()) else {
                    continue;
                };
                let x = x_of(start as f64 + (s as f64 + 0.5) * slice);
                let joined = s > 0 && values[s - 1].is_some_and(f64::is_finite);
                d.push_str(&if joined {
                    format!("L{x:.1},{:.1} ", y_of(v))
                } else {
                    format!("M{x:.1},{:.1} l0.01,0 ", y_of(v))
                });
            }
            PlotLine {
                label: label.clone(),
                colour: i % 8,
                d: d.trim_end().to_owned(),
            }
        })
        .collect();
    TimeChart {
        title: title.to_owned(),
        width: WIDTH,
        height: HEIGHT,
        x0,
        x1,
        top,
        bottom,
        from_ms: start.div_euclid(1_000_000),
        to_ms: end.div_euclid(1_000_000),
        x_ticks,
        y_ticks,
        lines: plotted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;
    /// 2023-11-14T22:13:20Z.
    const T: i64 = 1_700_000_000 * S;

    #[test]
    fn steps_are_round() {
        for (span, most, step) in [
            (100.0, 4, 50.0),
            (7.0, 4, 2.0),
            (0.3, 4, 0.1),
            (1_000.0, 5, 200.0),
            (9.0, 3, 5.0),
            (0.0, 4, 1.0),
            (250e6, 4, 100e6),
        ] {
            assert_eq!(round_step(span, most), step, "{span} in {most}");
        }
    }

    #[test]
    fn time_ticks_fall_on_round_times() {
        let labels = |start, end| -> Vec<String> {
            time_ticks(start, end, 6).into_iter().map(|t| t.1).collect()
        };
        // An hour from 22:13:20: every 10 minutes.
        assert_eq!(
            labels(T, T + 3_600 * S),
            ["22:20", "22:30", "22:40", "22:50", "23:00", "23:10"]
        );
        // A minute: every 10 s.
        assert_eq!(
            labels(T, T + 60 * S),
            [
                "22:13:20", "22:13:30", "22:13:40", "22:13:50", "22:14:00", "22:14:10", "22:14:20"
            ]
        );
        // A week: days.
        let week = labels(T, T + 7 * 86_400 * S);
        assert_eq!(week.first().map(String::as_str), Some("11-15"));
        assert!(week.len() <= 7, "{week:?}");
        assert!(
            time_ticks(T, T + 3_600 * S, 6)
                .iter()
                .all(|(at, _)| at % (600 * S) == 0)
        );
    }

    #[test]
    fn lines_break_at_gaps_and_ticks_cover_the_highest_value() {
        let chart = draw(
            "p95",
            T,
            T + 4 * 60 * S,
            &[(
                "p95".to_owned(),
                vec![Some(120e6), None, Some(80e6), Some(240e6)],
            )],
            Scale::Duration,
        );
        let d = &chart.lines[0].d;
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert_eq!(d.matches('L').count(), 1, "{d}");
        let labels: Vec<&str> = chart.y_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["0", "100 ms", "200 ms", "300 ms"]);
        // The top tick is at the top of the plot, the first at the bottom.
        assert_eq!(chart.y_ticks.last().map(|t| t.at), Some(chart.top));
        assert_eq!(chart.y_ticks[0].at, chart.bottom);
        assert_eq!(
            (chart.from_ms, chart.to_ms),
            (T / 1_000_000, (T + 240 * S) / 1_000_000)
        );
        // No data at all: one step from zero, no line.
        let empty = draw(
            "rate",
            T,
            T + 60 * S,
            &[("rate".to_owned(), vec![None; 4])],
            Scale::Rate,
        );
        assert_eq!(empty.y_ticks.len(), 2);
        assert!(empty.lines[0].d.is_empty());
        let shares = draw(
            "errors",
            T,
            T + 60 * S,
            &[("e".to_owned(), vec![Some(0.034)])],
            Scale::Share,
        );
        let labels: Vec<&str> = shares.y_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["0", "1%", "2%", "3%", "4%"]);
    }
}
