//! `/failures`: failed requests grouped where they failed, so that one bug
//! that broke a thousand requests through five services is one row.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::format;
use super::format::Grouped as _;
use super::layout::{Layout, UiError};
use super::sparkline::Sparkline;
use super::window_picker::Picker;
use crate::params::{LAST_HOUR, Pairs, TimeParams, TimeText, Unknown, now_ns};
use crate::state::AppState;

pub(super) struct GroupRow {
    pub(super) service: String,
    pub(super) colour: usize,
    pub(super) operation: String,
    pub(super) error: String,
    pub(super) count: u64,
    pub(super) endpoints: String,
    pub(super) first_seen: String,
    pub(super) last_seen: String,
    pub(super) first_seen_iso: String,
    pub(super) last_seen_iso: String,
    pub(super) examples: Vec<Example>,
    /// Trace search for the failed traces through the origin's operation.
    pub(super) traces_href: String,
    /// What sets them apart from the operation's other traces.
    pub(super) compare_href: String,
    /// SVG polyline points of the trend.
    pub(super) trend_points: String,
}

/// One failed request as the group lists it; it opens the request view.
pub(super) struct Example {
    pub(super) href: String,
    pub(super) time: String,
    pub(super) iso: String,
    pub(super) duration: String,
    /// The origin's message, and the request id whole: the link's title.
    pub(super) title: String,
    /// The request id's first characters, as the row shows it.
    pub(super) request: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "failures.html")]
struct FailuresPage {
    layout: Layout,
    windows: Picker,
    error: Option<String>,
    examined: usize,
    sampled: bool,
    groups: Vec<GroupRow>,
    spark: Sparkline,
}

pub(super) const SPARK: Sparkline = Sparkline {
    width: 120.0,
    height: 20.0,
};

pub async fn page(State(state): State<AppState>, pairs: Pairs) -> Result<Response, UiError> {
    let time = pairs.time().text().or_default(LAST_HOUR);
    let mut page = FailuresPage {
        layout: Layout::new("Failures", ""),
        windows: Picker::new("/failures", time.picked(), &[]),
        error: None,
        examined: 0,
        sampled: false,
        groups: Vec::new(),
        spark: SPARK,
    };
    // Unknown parameters are ignored: a page opened from an old link or a
    // bookmark still shows.
    let window = pairs
        .read::<TimeParams>(Unknown::Ignore)
        .and_then(|time| time.check()?.window(LAST_HOUR, now_ns()));
    let window = match window {
        Ok(window) => window,
        Err(err) => {
            page.error = Some(err.to_string());
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    page.windows.show(window);
    let failures = crate::failures::read(&state.store, window.start, window.end, None).await?;
    page.examined = failures.traces_examined;
    page.sampled = failures.sampled;
    page.groups = failures
        .groups
        .into_iter()
        .map(|group| row(group, &time))
        .collect();
    Ok(page.into_response())
}

pub(super) fn row(group: crate::failures::FailureGroup, time: &TimeText) -> GroupRow {
    let mut pairs = vec![
        ("service", group.service.as_str()),
        ("operation", group.operation.as_str()),
        ("status", "error"),
    ];
    pairs.extend(time.pairs());
    GroupRow {
        traces_href: format!("/traces?{}", format::query(pairs.iter().copied())),
        compare_href: format!("/compare?{}", format::query(pairs)),
        colour: format::colour(&group.service),
        trend_points: SPARK.counts(&group.trend),
        endpoints: group
            .entry_endpoints
            .iter()
            .map(|e| format!("{} ({})", e.endpoint, e.count))
            .collect::<Vec<_>>()
            .join(", "),
        first_seen: format::time(group.first_seen_unix_nano),
        first_seen_iso: format::iso(group.first_seen_unix_nano),
        last_seen_iso: format::iso(group.last_seen_unix_nano),
        last_seen: format::time(group.last_seen_unix_nano),
        examples: group
            .examples
            .iter()
            .map(|e| Example {
                // A request id opens every attempt of the request.
                href: format!(
                    "/requests/{}",
                    format::path_segment(e.request_id.as_deref().unwrap_or(&e.trace_id))
                ),
                // The day is in the group's first and last seen.
                time: format::time(e.start_time_unix_nano)
                    .get(11..19)
                    .unwrap_or_default()
                    .to_owned(),
                iso: format::iso(e.start_time_unix_nano),
                duration: match e.http_status_code {
                    Some(code) => format!("{code} after {}", format::duration(e.duration_ns)),
                    None => format::duration(e.duration_ns),
                },
                title: match (&e.message, &e.request_id) {
                    (Some(m), Some(r)) => format!("{m} · request {r}"),
                    (Some(m), None) => m.clone(),
                    (None, Some(r)) => format!("request {r}"),
                    (None, None) => String::new(),
                },
                request: e.request_id.as_deref().map_or_else(String::new, |r| {
                    match r.char_indices().nth(8) {
                        Some((cut, _)) => format!("{}…", &r[..cut]),
                        None => r.to_owned(),
                    }
                }),
            })
            .collect(),
        service: group.service,
        operation: group.operation,
        error: group.error,
        count: group.count,
    }
}
