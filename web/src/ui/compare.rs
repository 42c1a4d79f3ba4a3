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
use crate::params::{LAST_HOUR, Pairs, TracesQuery, Unknown, Windowed, now_ns};
use crate::state::AppState;

/// The trace-search filters a selection may carry, as the page keeps them.
const FILTERS: [&str; 8] = [
    "service",
    "operation",
    "status",
    "min_duration_ms",
    "max_duration_ms",
    "min_trace_duration_ms",
    "max_trace_duration_ms",
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
}

pub async fn page(State(state): State<AppState>, pairs: Pairs) -> Result<Response, UiError> {
    let time = pairs.time().text().or_default(LAST_HOUR);
    let given: Vec<(&str, &str)> = FILTERS
        .iter()
        .flat_map(|name| pairs.all(name).map(move |value| (*name, value)))
        .collect();
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
        baseline: match (pairs.get("service"), pairs.get("operation")) {
            (Some(s), Some(o)) => format!("the other traces of {s} {o}"),
            (Some(s), None) => format!("the other traces of {s}"),
            (None, Some(o)) => format!("the other traces through {o}"),
            (None, None) => "the other traces".to_owned(),
        },
        selection_href: {
            let mut all = given.clone();
            all.extend(time.pairs());
            format!("/traces?{}", format::query(all))
        },
        note: String::new(),
        rows: vec![],
        high_cardinality: vec![],
    };
    let read = pairs
        .read::<Windowed<TracesQuery>>(Unknown::Ignore)
        .and_then(|Windowed { time, query }| {
            let window = time.check()?.window(LAST_HOUR, now_ns())?;
            Ok((
                window,
                query.store_query((Some(window.start), Some(window.end)), 20, 1000)?,
            ))
        });
    let (window, query) = match read {
        Ok(read) => read,
        Err(err) => {
            page.error = Some(err.to_string());
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    page.windows.show(window);
    let c = crate::compare::read(&state.store, &query).await?;
    let sampled = |side: &crate::compare::Side| if side.sampled { " (the newest)" } else { "" };
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
    Ok(page.into_response())
}
