//! `/metrics-explorer`: every metric with its kind, unit and series count,
//! and one metric over time as an SVG chart (lines, a heatmap for
//! histograms, exemplars linking to their traces).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::chart;
use super::format;
use super::format::Grouped as _;
use super::layout::{Layout, UiError};
use super::window_picker::Picker;
use crate::metrics_chart::{self, Chart, MAX_POINTS, SLICES};
use crate::params::{ExplorerQuery, LAST_HOUR, Pairs, Unknown, Windowed, now_ns};
use crate::state::AppState;

const W: f64 = 880.0;
const H: f64 = 220.0;
const LEFT: f64 = 64.0;
const BOTTOM: f64 = 18.0;

pub struct MetricRow {
    pub name: String,
    pub kind: String,
    /// As sent (UCUM), for the title.
    pub unit: String,
    /// In words (`format::unit`).
    pub unit_words: String,
    pub description: String,
    pub series: i64,
    pub href: String,
    pub current: bool,
}

pub struct LineView {
    pub label: String,
    pub colour: usize,
    pub path: String,
    /// Values with no neighbour to join: drawn as dots.
    pub lone: Vec<(f64, f64)>,
}

pub struct Cell {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub opacity: String,
    pub title: String,
}

pub struct Dot {
    pub x: f64,
    pub y: f64,
    pub href: String,
    pub title: String,
}

pub struct ChartView {
    pub title: String,
    pub measure: String,
    pub note: String,
    /// (y, label) of round values, lowest first.
    pub y_ticks: Vec<(f64, String)>,
    /// (x, label, RFC 3339) of round times.
    pub x_ticks: Vec<(f64, String, String)>,
    /// The window, Unix milliseconds, for the zoom.
    pub from_ms: i64,
    pub to_ms: i64,
    /// The heatmap's darkest cell: observations in one bucket and slice.
    pub heat_max: u64,
    pub lines: Vec<LineView>,
    pub dots: Vec<Dot>,
    pub cells: Vec<Cell>,
    pub heat_labels: Vec<(f64, String)>,
    pub group_options: Vec<(String, bool)>,
    pub json_href: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "metrics_explorer.html")]
pub struct ExplorerPage {
    layout: Layout,
    windows: Picker,
    error: Option<String>,
    metrics: Vec<MetricRow>,
    metric: String,
    /// The window, as hidden fields of the group-by form.
    window_fields: Vec<(&'static str, String)>,
    chart: Option<ChartView>,
    w: f64,
    h: f64,
    left: f64,
    plot_bottom: f64,
}

fn number(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e6).contains(&a) {
        format!("{v:.3e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        let text = format!("{v:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// The chart's SVG pieces, in a plot of `W`×`H` with the y axis from 0 (or
/// the lowest value, when negative) to the highest value.
fn view(chart: &Chart, metric: &str, query: &str, group_by: Option<&str>) -> ChartView {
    let plot_h = H - BOTTOM;
    let values = chart
        .lines
        .iter()
        .flat_map(|l| l.values.iter().flatten().copied());
    let exemplar_values = chart.exemplars.iter().map(|e| e.value);
    let (lo, hi) = values
        .chain(exemplar_values)
        .fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    // The axis runs between round values past the lowest and highest.
    let tick = chart::round_step(hi - lo, 4);
    let (lo, hi) = ((lo / tick).floor() * tick, (hi / tick).ceil() * tick);
    let span = if hi - lo > 0.0 { hi - lo } else { 1.0 };
    let hi = lo + span;
    let slices = chart
        .lines
        .first()
        .map_or(SLICES, |l| l.values.len())
        .max(1);
    let step = (W - LEFT) / slices as f64;
    let y = |v: f64| plot_h - (v - lo) / span * (plot_h - 4.0);
    let x_of_time = |t: i64| LEFT + ((t - chart.start_ns) as f64 / chart.bucket_ns as f64) * step;
    let lines = chart
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let mut path = String::new();
            let mut pen_down = false;
            for (s, v) in line.values.iter().enumerate() {
                match v {
                    Some(v) => {
                        let x = LEFT + (s as f64 + 0.5) * step;
                        // A lone point is a dot: a zero-length stroke with round caps.
                        path.push_str(&if pen_down {
                            format!("L{x:.1},{:.1} ", y(*v))
                        } else {
                            format!("M{x:.1},{:.1} l0.01,0 ", y(*v))
                        });
                        pen_down = true;
                    }
                    None => pen_down = false,
                }
            }
            let lone = (0..line.values.len())
                .filter(|&s| {
                    let has = |j: Option<usize>| {
                        j.and_then(|j| line.values.get(j))
                            .is_some_and(Option::is_some)
                    };
                    line.values[s].is_some() && !has(s.checked_sub(1)) && !has(Some(s + 1))
                })
                .map(|s| {
                    (
                        LEFT + (s as f64 + 0.5) * step,
                        y(line.values[s].unwrap_or(0.0)),
                    )
                })
                .collect();
            LineView {
                label: line.label.clone(),
                colour: i % 8,
                path,
                lone,
            }
        })
        .collect();
    let end_ns = chart.start_ns + chart.bucket_ns * slices as i64;
    let dots = chart
        .exemplars
        .iter()
        .filter(|e| e.time_ns >= chart.start_ns && e.time_ns < end_ns)
        .take(500)
        .map(|e| Dot {
            x: x_of_time(e.time_ns),
            y: y(e.value),
            href: format!("/traces/{}", e.trace_id),
            title: format!(
                "exemplar {} at {} — trace {}",
                number(e.value),
                format::time(e.time_ns),
                e.trace_id
            ),
        })
        .collect();
    let mut cells = Vec::new();
    let mut heat_labels = Vec::new();
    if let Some(heat) = &chart.heatmap {
        let rows = heat.bounds.len().max(1);
        let row_h = (plot_h - 4.0) / rows as f64;
        let max = heat
            .counts
            .iter()
            .flatten()
            .copied()
            .max()
            .unwrap_or(0)
            .max(1) as f64;
        for (s, counts) in heat.counts.iter().enumerate() {
            for (b, &count) in counts.iter().enumerate() {
                if count == 0 {
                    continue;
                }
                cells.push(Cell {
                    x: LEFT + s as f64 * step,
                    y: plot_h - (b + 1) as f64 * row_h,
                    w: step,
                    h: row_h,
                    opacity: format!("{:.2}", 0.15 + 0.85 * count as f64 / max),
                    title: format!(
                        "{count} in ≤ {} at {}",
                        number(heat.bounds[b]),
                        format::time(chart.start_ns + s as i64 * chart.bucket_ns)
                    ),
                });
            }
        }
        let every = (rows / 6).max(1);
        for (b, bound) in heat.bounds.iter().enumerate().step_by(every) {
            heat_labels.push((
                plot_h - (b as f64 + 0.5) * row_h,
                format!("≤ {}", number(*bound)),
            ));
        }
    }
    let group_options = chart
        .keys
        .iter()
        .map(|k| (k.clone(), Some(k.as_str()) == group_by))
        .collect();
    ChartView {
        title: metric.to_owned(),
        measure: format!(
            "{}{}",
            chart.measure,
            match format::unit(&chart.unit) {
                words if words.is_empty() => String::new(),
                words => format!(" ({words})"),
            }
        ),
        note: format!(
            "{} points · {} per slice{}",
            chart.points,
            format::duration(chart.bucket_ns),
            if chart.points >= MAX_POINTS as usize {
                " · the oldest points only: narrow the window"
            } else {
                ""
            }
        ),
        y_ticks: (0..)
            .map(|i| lo + i as f64 * tick)
            .take_while(|v| *v <= hi + tick * 1e-9)
            .map(|v| (y(v), number(v)))
            .collect(),
        x_ticks: chart::time_ticks(chart.start_ns, end_ns, 8)
            .into_iter()
            .map(|(at, label)| (x_of_time(at), label, format::iso(at)))
            .collect(),
        from_ms: chart.start_ns.div_euclid(1_000_000),
        to_ms: end_ns.div_euclid(1_000_000),
        heat_max: chart
            .heatmap
            .as_ref()
            .and_then(|h| h.counts.iter().flatten().copied().max())
            .unwrap_or(0),
        lines,
        dots,
        cells,
        heat_labels,
        group_options,
        json_href: format!(
            "/api/v1/metrics/{}/chart?{query}",
            format::path_segment(metric)
        ),
    }
}

pub async fn page(State(state): State<AppState>, pairs: Pairs) -> Result<Response, UiError> {
    let time = pairs.time().text().or_default(LAST_HOUR);
    // Unknown parameters are ignored: a page opened from an old link or a
    // bookmark still shows.
    let read = pairs.read::<Windowed<ExplorerQuery>>(Unknown::Ignore);
    // The metric and grouping as given, also when the window is wrong.
    let given = |name| pairs.get(name).map(str::to_owned);
    let (metric, group_by) = match &read {
        Ok(read) => (read.query.metric.clone(), read.query.group_by.clone()),
        Err(_) => (given("metric"), given("group_by")),
    };
    let metric = metric.unwrap_or_default();
    let group_by = group_by.as_deref();
    let window_query = format::query(time.pairs());
    let metrics = state
        .store
        .metrics()
        .await?
        .into_iter()
        .map(|m| MetricRow {
            href: format!(
                "/metrics-explorer?{window_query}&{}",
                format::query([("metric", m.name.as_str())])
            ),
            current: m.name == metric,
            kind: m.kind.as_str().to_owned(),
            unit_words: format::unit(&m.unit),
            unit: m.unit,
            description: m.description,
            series: m.series_count,
            name: m.name,
        })
        .collect();
    let mut page = ExplorerPage {
        layout: Layout::new("Metrics", ""),
        windows: Picker::new(
            "/metrics-explorer",
            time.picked(),
            &[
                ("metric", metric.as_str()),
                ("group_by", group_by.unwrap_or_default()),
            ],
        ),
        error: None,
        metrics,
        metric: metric.clone(),
        window_fields: time
            .pairs()
            .into_iter()
            .map(|(name, text)| (name, text.to_owned()))
            .collect(),
        chart: None,
        w: W,
        h: H,
        left: LEFT,
        plot_bottom: H - BOTTOM,
    };
    let window = match read.and_then(|read| read.time.check()?.window(LAST_HOUR, now_ns())) {
        Ok(window) => window,
        Err(err) => {
            page.error = Some(err.to_string());
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    page.windows.show(window);
    if !metric.is_empty() {
        let points = state
            .store
            .metric_points_between(&metric, window.start, window.end, MAX_POINTS)
            .await?;
        let chart = metrics_chart::chart(&points, group_by, window.start, window.end, SLICES);
        let mut pairs = time.pairs();
        pairs.extend(group_by.map(|g| ("group_by", g)));
        page.chart = Some(view(&chart, &metric, &format::query(pairs), group_by));
    }
    Ok(page.into_response())
}
