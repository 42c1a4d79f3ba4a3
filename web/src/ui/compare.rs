//! What sets them apart (`/compare`): a trace search's traces against the
//! rest of their endpoint's in the window, value by value.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::format::{self, percent as pct};
use super::layout::{Layout, UiError};
use super::window_picker::Picker;
use crate::compare::Distribution;
use crate::params::{
    Also, Baseline, CompareQuery, LAST_HOUR, Pairs, TracesQuery, Unknown, Windowed, now_ns,
};
use crate::state::AppState;

/// A histogram pair's size, in viewBox units, and the room under it for
/// its labels.
const WIDTH: f64 = 360.0;
const HEIGHT: f64 = 72.0;

/// Two bars a bin: the baseline's, then the selection's.
pub struct Bars {
    pub x: String,
    pub width: String,
    pub baseline_y: String,
    pub baseline_height: String,
    pub selection_x: String,
    pub selection_y: String,
    pub selection_height: String,
    pub title: String,
}

pub struct Histogram {
    pub key: String,
    pub note: String,
    pub bars: Vec<Bars>,
    /// The first, middle and last edges, as read.
    pub ticks: [String; 3],
    /// The bins' edges (comma-separated), for a range dragged on it, and
    /// the two parameters the range sets.
    pub edges: String,
    pub select: &'static str,
    pub log: bool,
}

/// `d` drawn as bars; `show` writes a value.
fn histogram(d: &Distribution, show: impl Fn(f64) -> String) -> Histogram {
    let n = d.bins.len().max(1) as f64;
    let step = WIDTH / n;
    let top = d
        .bins
        .iter()
        .map(|b| b.selection_share.max(b.baseline_share))
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let bars = d
        .bins
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let x = i as f64 * step;
            let height = |share: f64| share / top * HEIGHT;
            Bars {
                x: format!("{:.1}", x + 1.0),
                width: format!("{:.1}", step / 2.0 - 1.0),
                baseline_y: format!("{:.1}", HEIGHT - height(b.baseline_share)),
                baseline_height: format!("{:.1}", height(b.baseline_share)),
                selection_x: format!("{:.1}", x + step / 2.0),
                selection_y: format!("{:.1}", HEIGHT - height(b.selection_share)),
                selection_height: format!("{:.1}", height(b.selection_share)),
                title: format!(
                    "{} to {}: {} of the selection ({}), {} of the baseline ({})",
                    show(b.low),
                    show(b.high),
                    pct(b.selection_share),
                    b.selection,
                    pct(b.baseline_share),
                    b.baseline
                ),
            }
        })
        .collect();
    let edge = |i: usize| {
        d.bins
            .get(i)
            .map(|b| b.low)
            .or_else(|| d.bins.last().map(|b| b.high))
            .unwrap_or(0.0)
    };
    Histogram {
        key: d.key.clone(),
        note: format!(
            "{} values in the selection, {} in the baseline · {} apart{}",
            d.selection_values,
            d.baseline_values,
            pct(d.distance),
            if d.log { " · bins by ratio" } else { "" }
        ),
        bars,
        ticks: [
            show(edge(0)),
            show(edge(d.bins.len() / 2)),
            show(edge(d.bins.len())),
        ],
        edges: (0..=d.bins.len())
            .map(|i| format!("{}", edge(i)))
            .collect::<Vec<_>>()
            .join(","),
        log: d.log,
        select: "",
    }
}

/// A number as a histogram's axis reads it: `0.25`, `12.5`, `3400`.
fn number(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// The baselines a reader may pick, as (value, label).
const BASELINES: [(Baseline, &str); 3] = [
    (Baseline::Endpoint, "its endpoint's"),
    (Baseline::Service, "its service's"),
    (Baseline::All, "every"),
];

/// The trace-search filters a selection may carry, as the page keeps them.
const FILTERS: [&str; 10] = [
    "service",
    "operation",
    "status",
    "min_duration_ms",
    "max_duration_ms",
    "min_trace_duration_ms",
    "max_trace_duration_ms",
    "min_span_duration_ms",
    "max_span_duration_ms",
    "attr",
];

struct Row {
    key: String,
    value: String,
    selection: String,
    baseline: String,
    selection_width: String,
    baseline_width: String,
    /// This page with the value added to the selection, and the traces
    /// that carry it.
    narrow_href: Option<String>,
    traces_href: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "compare.html")]
pub struct ComparePage {
    layout: Layout,
    windows: Picker,
    error: Option<String>,
    /// The selection's filters, as a reader reads them.
    selection: String,
    baseline: String,
    selection_href: String,
    note: String,
    rows: Vec<Row>,
    high_cardinality: Vec<String>,
    /// The latency of both sides; drag a range to select it.
    latency: Option<Histogram>,
    latency_note: &'static str,
    distributions: Vec<Histogram>,
    /// The other baselines: (label, link, picked).
    baselines: Vec<(&'static str, String, bool)>,
}

pub async fn page(State(state): State<AppState>, pairs: Pairs) -> Result<Response, UiError> {
    let time = pairs.time().text().or_default(LAST_HOUR);
    let baseline = pairs
        .read::<CompareQuery>(Unknown::Ignore)
        .ok()
        .and_then(|q| q.baseline)
        .unwrap_or_default();
    let mut given: Vec<(&str, &str)> = FILTERS
        .iter()
        .flat_map(|name| pairs.all(name).map(move |value| (*name, value)))
        .collect();
    let baselines = BASELINES
        .iter()
        .map(|&(b, label)| {
            let mut all = given.clone();
            all.push(("baseline", b.as_str()));
            all.extend(time.pairs());
            (
                label,
                format!("/compare?{}", format::query(all)),
                b == baseline,
            )
        })
        .collect();
    if baseline != Baseline::default() {
        given.push(("baseline", baseline.as_str()));
    }
    let mut page = ComparePage {
        layout: Layout::new("Compare", ""),
        windows: Picker::new("/compare", time.picked(), &given),
        error: None,
        selection: if given.is_empty() {
            "every trace".to_owned()
        } else {
            given
                .iter()
                .map(|(name, value)| format!("{name} {value}"))
                .collect::<Vec<_>>()
                .join(", ")
        },
        baseline: match (baseline, pairs.get("service"), pairs.get("operation")) {
            (Baseline::All, _, _) => "every other trace".to_owned(),
            (Baseline::Endpoint, Some(s), Some(o)) => format!("the other traces of {s} {o}"),
            (Baseline::Endpoint | Baseline::Service, Some(s), _) => {
                format!("the other traces of {s}")
            }
            (Baseline::Endpoint, None, Some(o)) => format!("the other traces through {o}"),
            _ => "the other traces".to_owned(),
        },
        selection_href: {
            let mut all = given.clone();
            all.extend(time.pairs());
            format!("/traces?{}", format::query(all))
        },
        note: String::new(),
        rows: vec![],
        high_cardinality: vec![],
        latency: None,
        latency_note: "",
        distributions: vec![],
        baselines,
    };
    let read = pairs
        .read::<Windowed<Also<TracesQuery, CompareQuery>>>(Unknown::Ignore)
        .and_then(
            |Windowed {
                 time,
                 query: Also(query, _),
             }| {
                let window = time.check()?.window(LAST_HOUR, now_ns())?;
                Ok((
                    window,
                    query.store_query((Some(window.start), Some(window.end)), 20, 1000)?,
                ))
            },
        );
    let (window, query) = match read {
        Ok(read) => read,
        Err(err) => {
            page.error = Some(err.to_string());
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    page.windows.show(window);
    let c = crate::compare::read(&state.store, &query, baseline).await?;
    let sampled = |side: &crate::compare::Side| match side.sampled {
        true => " (a sample spread evenly over the window)",
        false => "",
    };
    page.note = format!(
        "{} selected trace{}{} against {} other{}; a value counts once a trace.",
        c.selection.traces,
        if c.selection.traces == 1 { "" } else { "s" },
        sampled(&c.selection),
        c.baseline.traces,
        sampled(&c.baseline),
    );
    page.rows = c
        .differences
        .iter()
        .map(|d| {
            let filter = match d.key.as_str() {
                "service" => None,
                "name" => Some(("operation", d.value.clone())),
                "status" => Some(("status", d.value.clone())),
                key => Some(("attr", format!("{key}={}", d.value))),
            };
            let with = |path: &str, filter: &(&str, String)| {
                let mut all = given.clone();
                all.retain(|(name, _)| *name == "attr" || *name != filter.0);
                all.push((filter.0, filter.1.as_str()));
                all.extend(time.pairs());
                format!("{path}?{}", format::query(all))
            };
            Row {
                selection: format!("{} · {}", d.selection_traces, pct(d.selection_share)),
                baseline: format!("{} · {}", d.baseline_traces, pct(d.baseline_share)),
                selection_width: format!("{:.1}", d.selection_share * 100.0),
                baseline_width: format!("{:.1}", d.baseline_share * 100.0),
                narrow_href: filter.as_ref().map(|f| with("/compare", f)),
                traces_href: match &filter {
                    Some(f) => with("/traces", f),
                    None => {
                        let mut all = vec![("service", d.value.as_str())];
                        all.extend(time.pairs());
                        format!("/traces?{}", format::query(all))
                    }
                },
                key: d.key.clone(),
                value: d.value.clone(),
            }
        })
        .collect();
    page.high_cardinality = c.high_cardinality;
    let (select, note) = match c.latency_of.as_str() {
        "span" => (
            "min_span_duration_ms,max_span_duration_ms",
            "Latency of the endpoint's own span (the slowest in each trace).",
        ),
        _ => (
            "min_duration_ms,max_duration_ms",
            "Latency of the requests (their entry spans).",
        ),
    };
    page.latency_note = note;
    page.latency = c.latency.as_ref().map(|d| Histogram {
        select,
        ..histogram(d, |ms| format::duration((ms * 1e6) as i64))
    });
    page.distributions = c
        .distributions
        .iter()
        .map(|d| histogram(d, number))
        .collect();
    Ok(page.into_response())
}
