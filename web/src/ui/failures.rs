//! `/failures`: failed requests grouped where they failed, so that one bug
//! that broke a thousand requests through five services is one row.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::format;
use super::layout::Layout;
use super::services::{WindowLink, window_links};
use super::sparkline::Sparkline;
use crate::api::{self, ApiError};
use crate::state::AppState;

struct GroupRow {
    service: String,
    colour: usize,
    operation: String,
    error: String,
    count: u64,
    endpoints: String,
    first_seen: String,
    last_seen: String,
    examples: Vec<(String, String)>,
    /// SVG polyline points of the trend.
    trend_points: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "failures.html")]
struct FailuresPage {
    layout: Layout,
    windows: Vec<WindowLink>,
    error: Option<String>,
    examined: usize,
    sampled: bool,
    groups: Vec<GroupRow>,
    spark: Sparkline,
}

const SPARK: Sparkline = Sparkline {
    width: 120.0,
    height: 20.0,
};

pub async fn page(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let window = params
        .get("window")
        .cloned()
        .unwrap_or_else(|| "1h".to_owned());
    let windows = window_links("/failures?window=", Some(&window), "");
    let mut page = FailuresPage {
        layout: Layout::new("Failures", ""),
        windows,
        error: None,
        examined: 0,
        sampled: false,
        groups: Vec::new(),
        spark: SPARK,
    };
    let result = match api::window_of(&params) {
        Ok((start, end)) => crate::failures::read(&state.store, start, end)
            .await
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    match result {
        Ok(failures) => {
            page.examined = failures.traces_examined;
            page.sampled = failures.sampled;
            page.groups = failures.groups.into_iter().map(row).collect();
            page.into_response()
        }
        Err(ApiError::BadRequest(message)) => {
            page.error = Some(message);
            (StatusCode::BAD_REQUEST, page).into_response()
        }
        Err(err) => err.into_response(),
    }
}

fn row(group: crate::failures::FailureGroup) -> GroupRow {
    GroupRow {
        colour: format::colour(&group.service),
        trend_points: SPARK.counts(&group.trend),
        endpoints: group
            .entry_endpoints
            .iter()
            .map(|e| format!("{} ({})", e.endpoint, e.count))
            .collect::<Vec<_>>()
            .join(", "),
        first_seen: format::time(group.first_seen_unix_nano),
        last_seen: format::time(group.last_seen_unix_nano),
        examples: group
            .example_trace_ids
            .iter()
            .map(|id| (format!("/traces/{id}"), id.chars().take(8).collect()))
            .collect(),
        service: group.service,
        operation: group.operation,
        error: group.error,
        count: group.count,
    }
}
