//! A service's page (`/services/{name}`): its requests, errors and latency
//! over the window as charts, its endpoints, who calls it and whom it
//! calls, its failed requests grouped where they failed, and its log
//! records by severity. Every figure leads to the traces or logs behind it.

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::chart::{self, Scale, TimeChart};
use super::failures::{GroupRow, SPARK as FAILURE_SPARK};
use super::format::Grouped as _;
use super::format::{self, optional_duration as ms, percent as pct, rate};
use super::layout::{Layout, UiError};
use super::load_report::{self, EdgeView, LoadRowView};
use super::sparkline::Sparkline;
use super::window_picker::Picker;
use crate::params::{LAST_HOUR, Pairs, TimeParams, Unknown, earlier_window, now_ns};
use crate::reports::{self, cost::severity_name};
use crate::state::AppState;

/// Who calls the service, or whom it calls.
struct EdgeTable {
    heading: &'static str,
    empty: &'static str,
    edges: Vec<EdgeView>,
}

/// Log records of one severity.
struct SeverityRow {
    severity: String,
    records: u64,
    bytes: String,
    /// The logs page, this service, this severity and above.
    href: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "service.html")]
pub struct ServicePage {
    layout: Layout,
    windows: Picker,
    name: String,
    error: Option<String>,
    summary: String,
    charts: Vec<TimeChart>,
    endpoints: Vec<LoadRowView>,
    edge_tables: Vec<EdgeTable>,
    groups: Vec<GroupRow>,
    spark: Sparkline,
    endpoint_spark: Sparkline,
    severities: Vec<SeverityRow>,
    traces_href: String,
    logs_href: String,
    load_href: String,
    change: Option<super::change::Section>,
    releases: Option<super::releases::Section>,
}

pub async fn page(
    State(state): State<AppState>,
    Path(name): Path<String>,
    pairs: Pairs,
) -> Result<Response, UiError> {
    let time = pairs.time().text().or_default(LAST_HOUR);
    let encoded = format::path_segment(&name);
    let against = pairs.get("against").unwrap_or_default();
    let mut keep = vec![("service", name.as_str())];
    keep.extend(time.pairs());
    let mut page = ServicePage {
        layout: Layout::new(name.clone(), ""),
        windows: Picker::new(
            &format!("/services/{encoded}"),
            time.picked(),
            &[("against", against)],
        ),
        error: None,
        summary: String::new(),
        charts: vec![],
        endpoints: vec![],
        edge_tables: vec![],
        groups: vec![],
        spark: FAILURE_SPARK,
        endpoint_spark: load_report::SPARK,
        severities: vec![],
        traces_href: format!("/traces?{}", format::query(keep.iter().copied())),
        logs_href: format!("/logs?{}", format::query(keep.iter().copied())),
        load_href: load_report::href(&time, &name),
        change: None,
        releases: None,
        name: name.clone(),
    };
    // Unknown parameters are ignored: a page opened from an old link or a
    // bookmark still shows.
    let windows = pairs.read::<TimeParams>(Unknown::Ignore).and_then(|time| {
        let window = time.check()?.window(LAST_HOUR, now_ns())?;
        Ok((window, earlier_window(Some(against), window)?))
    });
    let (window, earlier) = match windows {
        Ok(windows) => windows,
        Err(err) => {
            page.error = Some(err.to_string());
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    page.windows.show(window);
    if !state.store.service_names().await?.contains(&name) {
        return Err(UiError::NotFound {
            query: String::new(),
            message: format!("No service {name:?} has sent telemetry."),
        });
    }
    let (r, change) = reports::load_against(
        &state.store,
        window,
        earlier,
        Some(&name),
        &mut crate::state::note_spans_read,
    )
    .await?;
    page.change = Some(super::change::section(
        &change,
        &format!("/services/{encoded}"),
        &time.pairs(),
        against,
    ));
    let own = r
        .services
        .iter()
        .find(|row| row.service == name && row.endpoint.is_none());
    if let Some(row) = own {
        page.summary = format!(
            "{} requests · {}/s · {} failed · p50 {} · p95 {} · p99 {}",
            row.requests.grouped(),
            rate(row.rate_per_second),
            pct(row.error_rate),
            ms(row.p50_ns),
            ms(row.p95_ns),
            ms(row.p99_ns),
        );
        page.charts = charts(&row.series, window.start);
    }
    page.endpoints = load_report::load_rows(&r, true, &time)
        .into_iter()
        .filter(|row| row.service == name)
        .collect();
    let (callers, callees): (Vec<_>, Vec<_>) = r
        .edges
        .iter()
        .filter(|e| e.callee == name || e.caller == name)
        .cloned()
        .partition(|e| e.callee == name);
    page.edge_tables = vec![
        EdgeTable {
            heading: "Called by",
            empty: "Nothing called it in this window.",
            edges: load_report::edge_views(&callers, &time),
        },
        EdgeTable {
            heading: "Calls",
            empty: "It called no other service in this window.",
            edges: load_report::edge_views(&callees, &time),
        },
    ];
    let failures =
        crate::failures::read(&state.store, window.start, window.end, Some(&name)).await?;
    let pick = pairs
        .read::<crate::params::Windowed<crate::params::ReleasesQuery>>(Unknown::Ignore)
        .ok()
        .map(|read| read.query)
        .unwrap_or_default();
    let rows = state
        .store
        .releases(&name, window.start, window.end)
        .await?;
    let (pick, error) = match pick.pick() {
        Ok(Some(p)) => match crate::releases::check(&name, &rows, p) {
            Ok(()) => (Some(p), None),
            Err(err) => (None, Some(err.0)),
        },
        Ok(None) => (None, None),
        Err(err) => (None, Some(err.to_string())),
    };
    let span = (window.start, window.end);
    let releases = crate::releases::releases(&name, span, &rows, &failures, pick);
    page.releases = super::releases::section(&releases, &time.pairs());
    if let Some(section) = &mut page.releases {
        section.error = error;
    }
    page.groups = failures
        .groups
        .into_iter()
        .map(|group| super::failures::row(group, &time))
        .collect();
    page.severities = severities(
        &state.store.log_sources(window.start, window.end).await?,
        &name,
        &time,
    );
    Ok(page.into_response())
}

/// Requests per second, the share that failed, and p50/p95/p99, each
/// slice of the window a point.
fn charts(series: &reports::load::Series, start: i64) -> Vec<TimeChart> {
    let seconds = (series.bucket_ns.max(1)) as f64 / 1e9;
    let per_second = series
        .requests
        .iter()
        .map(|&n| Some(n as f64 / seconds))
        .collect();
    let failed = series
        .requests
        .iter()
        .zip(&series.errors)
        .map(|(&n, &e)| (n > 0).then(|| e as f64 / n as f64))
        .collect();
    let latency = |values: &[Option<i64>]| values.iter().map(|v| v.map(|ns| ns as f64)).collect();
    // The series' slices cover the window from its start; the last may
    // stop short of the end by the division's remainder.
    let end = start + series.bucket_ns * series.requests.len() as i64;
    let end = if end > start { end } else { start + 1 };
    vec![
        chart::draw(
            "Requests per second",
            start,
            end,
            &[("requests/s".to_owned(), per_second)],
            Scale::Rate,
        ),
        chart::draw(
            "Failed requests",
            start,
            end,
            &[("failed".to_owned(), failed)],
            Scale::Share,
        ),
        chart::draw(
            "Latency",
            start,
            end,
            &[
                ("p50".to_owned(), latency(&series.p50_ns)),
                ("p95".to_owned(), latency(&series.p95_ns)),
                ("p99".to_owned(), latency(&series.p99_ns)),
            ],
            Scale::Duration,
        ),
    ]
}

/// The service's log records by severity, most severe first.
fn severities(
    sources: &[store::LogSource],
    service: &str,
    time: &crate::params::TimeText,
) -> Vec<SeverityRow> {
    // Keyed by the lowest number of the severity's name.
    let mut by_name: BTreeMap<String, (i32, u64, u64)> = BTreeMap::new();
    for s in sources.iter().filter(|s| s.service == service) {
        let entry = by_name
            .entry(severity_name(s.severity_number, &s.severity_text))
            .or_insert((s.severity_number, 0, 0));
        entry.0 = entry.0.min(s.severity_number);
        entry.1 += s.records;
        entry.2 += s.wire_bytes;
    }
    let mut rows: Vec<(i32, SeverityRow)> = by_name
        .into_iter()
        .map(|(severity, (number, records, bytes))| {
            let number_text = number.to_string();
            let mut pairs = vec![("service", service)];
            if number > 0 {
                pairs.push(("severity", number_text.as_str()));
            }
            pairs.extend(time.pairs());
            let row = SeverityRow {
                severity,
                records,
                bytes: reports::bytes(bytes as f64),
                href: format!("/logs?{}", format::query(pairs)),
            };
            (number, row)
        })
        .collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.0));
    rows.into_iter().map(|(_, row)| row).collect()
}
