//! `/reports/load`: the load report of `crate::reports` as a page, with
//! its CSV a click away.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::format::Grouped as _;
use super::format::{self, optional_duration as ms, percent as pct, rate};
use super::layout::{Layout, UiError};
use super::sparkline::Sparkline;
use super::window_picker::Picker;
use crate::params::{
    LAST_HOUR, LoadPageQuery, Pairs, TimeText, Unknown, Windowed, earlier_window, now_ns,
};
use crate::reports::{self, LoadReport, load::Series};
use crate::state::AppState;

/// The load report over `time`, of what touches `service` (all, when empty).
pub fn href(time: &TimeText, service: &str) -> String {
    format!("/reports/load?{}", query(time, service))
}

fn query(time: &TimeText, service: &str) -> String {
    let mut pairs = time.pairs();
    pairs.push(("service", service));
    format::query(pairs)
}

/// The requests, error rate and p95 of each row, side by side.
pub(super) const SPARK: Sparkline = Sparkline {
    width: 72.0,
    height: 16.0,
};

/// One small chart: its polyline and what it says in words.
pub struct Spark {
    pub points: String,
    pub title: String,
}

fn sparks(series: &Series) -> [Spark; 3] {
    let per = format::duration(series.bucket_ns.max(1));
    let requests: Vec<f64> = series.requests.iter().map(|&n| n as f64).collect();
    let error_rate: Vec<f64> = series
        .errors
        .iter()
        .zip(&series.requests)
        .map(|(&e, &n)| if n == 0 { 0.0 } else { e as f64 / n as f64 })
        .collect();
    let p95: Vec<f64> = series
        .p95_ns
        .iter()
        .map(|p| p.unwrap_or(0) as f64)
        .collect();
    let peak = |values: &[f64]| values.iter().copied().fold(0.0, f64::max);
    [
        Spark {
            points: SPARK.points(&requests),
            title: format!("requests per {per}, peak {}", peak(&requests)),
        },
        Spark {
            points: SPARK.points(&error_rate),
            title: format!("error rate per {per}, peak {}", pct(peak(&error_rate))),
        },
        Spark {
            points: SPARK.points(&p95),
            title: format!(
                "p95 per {per}, peak {}",
                format::duration(peak(&p95) as i64)
            ),
        },
    ]
}

pub struct LoadRowView {
    pub service: String,
    pub colour: usize,
    pub endpoint: String,
    pub requests: u64,
    pub rate: String,
    pub error_rate: String,
    pub failing: bool,
    pub p50: String,
    pub p95: String,
    pub p99: String,
    pub total: String,
    pub self_time: String,
    pub self_share: String,
    /// Width in percent of the self-share bar.
    pub share_width: String,
    pub sparks: [Spark; 3],
    pub href: String,
    /// An endpoint's slowest and failed traces in the same window (trace
    /// search by its service and the span name its endpoint reads as).
    pub slowest_href: String,
    pub failed_href: String,
    /// What sets its requests slower than its p95 apart from the rest.
    pub compare_href: String,
}

/// Trace search for the requests of `endpoint` of `service` over `time`:
/// slowest first, or the failed ones. An endpoint is its span's name in
/// the HTTP and RPC conventions (`METHOD route`, `service/method`).
fn traces_href(time: &TimeText, service: &str, endpoint: &str, failed: bool) -> String {
    let mut pairs = vec![("service", service), ("operation", endpoint)];
    pairs.extend(time.pairs());
    match failed {
        true => pairs.push(("status", "error")),
        false => pairs.push(("sort", "duration")),
    }
    format!("/traces?{}", format::query(pairs))
}

pub struct DownstreamView {
    /// The report of what touches `service`.
    pub href: String,
    /// The entry endpoint's slowest traces that reached `service`.
    pub traces_href: String,
    pub entry_service: String,
    pub entry_colour: usize,
    pub entry_endpoint: String,
    pub service: String,
    pub colour: usize,
    pub requests: u64,
    pub spans: u64,
    pub calls: u64,
    pub self_time: String,
    pub errors: u64,
    pub spans_per_request: String,
    pub calls_per_request: String,
    pub self_per_request: String,
}

pub struct PathView {
    pub entry: String,
    pub first: bool,
    pub note: String,
    pub service: String,
    pub colour: usize,
    pub operation: String,
    pub p50: String,
    pub p95: String,
    pub mean: String,
    pub mean_width: String,
    /// The slowest traces of the entry endpoint through this operation:
    /// where its share of the path was largest.
    pub traces_href: String,
}

pub struct EdgeView {
    pub caller: String,
    pub caller_colour: usize,
    pub callee: String,
    pub kind: String,
    pub calls: u64,
    pub rate: String,
    pub error_rate: String,
    pub failing: bool,
    pub caller_p50: String,
    pub caller_p95: String,
    pub callee_p50: String,
    pub callee_p95: String,
    pub gap_p50: String,
    pub gap_p95: String,
    /// Traces with spans of both ends: where the call was made.
    pub traces_href: String,
}

pub struct RepeatView {
    pub service: String,
    pub colour: usize,
    pub operation: String,
    pub child: String,
    pub parents: u64,
    pub max_calls: u64,
    pub calls: u64,
}

#[derive(Template, WebTemplate)]
#[template(path = "report_load.html")]
pub struct LoadPage {
    layout: Layout,
    windows: Picker,
    error: Option<String>,
    range: String,
    /// The window, as hidden fields of the service form.
    window_fields: Vec<(&'static str, String)>,
    map_href: String,
    service: String,
    services: Vec<String>,
    csv: Vec<(&'static str, String)>,
    totals: String,
    service_rows: Vec<LoadRowView>,
    endpoint_rows: Vec<LoadRowView>,
    downstream: Vec<DownstreamView>,
    paths: Vec<PathView>,
    edges: Vec<EdgeView>,
    repeated: Vec<RepeatView>,
    threshold: u32,
    spark: Sparkline,
    change: Option<super::change::Section>,
}

pub(super) fn load_rows(report: &LoadReport, endpoints: bool, time: &TimeText) -> Vec<LoadRowView> {
    let rows = if endpoints {
        &report.endpoints
    } else {
        &report.services
    };
    let max_share = rows
        .iter()
        .map(|r| r.self_share)
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    rows.iter()
        .map(|r| LoadRowView {
            colour: format::colour(&r.service),
            endpoint: r.endpoint.clone().unwrap_or_default(),
            requests: r.requests,
            rate: rate(r.rate_per_second),
            error_rate: pct(r.error_rate),
            failing: r.errors > 0,
            p50: ms(r.p50_ns),
            p95: ms(r.p95_ns),
            p99: ms(r.p99_ns),
            total: format::duration(r.total_ns),
            self_time: format::duration(r.self_ns),
            self_share: pct(r.self_share),
            share_width: format!("{:.1}", r.self_share / max_share * 100.0),
            sparks: sparks(&r.series),
            href: href(time, &r.service),
            slowest_href: r
                .endpoint
                .as_deref()
                .map_or_else(String::new, |e| traces_href(time, &r.service, e, false)),
            failed_href: r
                .endpoint
                .as_deref()
                .map_or_else(String::new, |e| traces_href(time, &r.service, e, true)),
            compare_href: match (r.endpoint.as_deref(), r.p95_ns) {
                (Some(e), Some(p95)) => {
                    let slower = format!("{:.1}", p95 as f64 / 1e6);
                    let mut pairs = vec![
                        ("service", r.service.as_str()),
                        ("operation", e),
                        ("min_span_duration_ms", slower.as_str()),
                    ];
                    pairs.extend(time.pairs());
                    format!("/compare?{}", format::query(pairs))
                }
                _ => String::new(),
            },
            service: r.service.clone(),
        })
        .collect()
}

pub async fn page(State(state): State<AppState>, pairs: Pairs) -> Result<Response, UiError> {
    let time = pairs.time().text().or_default(LAST_HOUR);
    let service = pairs.get("service").unwrap_or_default().to_owned();
    let against = pairs.get("against").unwrap_or_default().to_owned();
    let mut page = LoadPage {
        layout: Layout::new("Load report", ""),
        windows: Picker::new(
            "/reports/load",
            time.picked(),
            &[("service", service.as_str()), ("against", against.as_str())],
        ),
        error: None,
        range: String::new(),
        window_fields: time
            .pairs()
            .into_iter()
            .map(|(name, text)| (name, text.to_owned()))
            .collect(),
        map_href: format!("/map?{}", format::query(time.pairs())),
        service: service.clone(),
        services: state.store.service_names().await?,
        csv: vec![],
        totals: String::new(),
        service_rows: vec![],
        endpoint_rows: vec![],
        downstream: vec![],
        paths: vec![],
        edges: vec![],
        repeated: vec![],
        threshold: reports::REPEATED_CALLS,
        spark: SPARK,
        change: None,
    };
    // Unknown parameters are ignored: a page opened from an old link or a
    // bookmark still shows.
    let windows = pairs
        .read::<Windowed<LoadPageQuery>>(Unknown::Ignore)
        .and_then(|read| {
            let window = read.time.check()?.window(LAST_HOUR, now_ns())?;
            Ok((
                window,
                earlier_window(read.query.against.as_deref(), window)?,
            ))
        });
    let (window, earlier) = match windows {
        Ok(windows) => windows,
        Err(err) => {
            page.error = Some(err.to_string());
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    page.windows.show(window);
    let filter = (!service.is_empty()).then_some(service.as_str());
    let (r, change) = reports::load_against(
        &state.store,
        window,
        earlier,
        filter,
        &mut crate::state::note_spans_read,
    )
    .await?;
    let mut keep = time.pairs();
    keep.push(("service", service.as_str()));
    page.change = Some(super::change::section(
        &change,
        "/reports/load",
        &keep,
        &against,
    ));
    let query = query(&time, &service);
    page.csv = reports::csv::LOAD_TABLES
        .iter()
        .map(|t| {
            (
                *t,
                format!("/api/v1/reports/load?{query}&format=csv&table={t}"),
            )
        })
        .collect();
    page.range = format::time_range(r.since_ns, r.until_ns);
    page.totals = format!(
        "{} spans in {} traces · self time {} · percentiles are nearest-rank, within 1 %{}",
        r.spans,
        r.traces,
        format::duration(r.self_ns),
        if r.traces_without_root > 0 {
            format!(
                " · {} traces have no root in the window and count for no entry endpoint",
                r.traces_without_root
            )
        } else {
            String::new()
        }
    );
    page.service_rows = load_rows(&r, false, &time);
    page.endpoint_rows = load_rows(&r, true, &time);
    page.downstream = r
        .downstream
        .iter()
        .map(|d| DownstreamView {
            href: href(&time, &d.service),
            traces_href: {
                let mut pairs = vec![
                    ("service", d.entry_service.as_str()),
                    ("operation", d.entry_endpoint.as_str()),
                    ("also_service", d.service.as_str()),
                ];
                pairs.extend(time.pairs());
                pairs.push(("sort", "duration"));
                format!("/traces?{}", format::query(pairs))
            },
            entry_colour: format::colour(&d.entry_service),
            entry_service: d.entry_service.clone(),
            entry_endpoint: d.entry_endpoint.clone(),
            colour: format::colour(&d.service),
            service: d.service.clone(),
            requests: d.entry_requests,
            spans: d.spans,
            calls: d.calls,
            self_time: format::duration(d.self_ns),
            errors: d.errors,
            spans_per_request: format!("{:.2}", d.spans_per_request),
            calls_per_request: format!("{:.2}", d.calls_per_request),
            self_per_request: format::duration(d.self_ns_per_request as i64),
        })
        .collect();
    let mut last_entry = String::new();
    page.paths = r
        .time_breakdown
        .iter()
        .map(|p| {
            let entry = format!("{} {}", p.entry_service, p.entry_endpoint);
            let first = entry != last_entry;
            last_entry.clone_from(&entry);
            PathView {
                note: if p.sampled < p.traces {
                    format!("{} traces, {} walked (sampled)", p.traces, p.sampled)
                } else {
                    format!("{} traces, all walked", p.traces)
                },
                entry,
                first,
                colour: format::colour(&p.service),
                service: p.service.clone(),
                operation: p.operation.clone(),
                p50: pct(p.share_p50),
                p95: pct(p.share_p95),
                mean: pct(p.share_mean),
                mean_width: format!("{:.1}", p.share_mean * 100.0),
                traces_href: {
                    let mut pairs = vec![
                        ("service", p.service.as_str()),
                        ("operation", p.operation.as_str()),
                    ];
                    if p.entry_service != p.service {
                        pairs.push(("also_service", p.entry_service.as_str()));
                    }
                    pairs.extend(time.pairs());
                    pairs.push(("sort", "duration"));
                    format!("/traces?{}", format::query(pairs))
                },
            }
        })
        .collect();
    page.edges = edge_views(&r.edges, &time);
    page.repeated = r
        .repeated_calls
        .iter()
        .map(|c| RepeatView {
            colour: format::colour(&c.service),
            service: c.service.clone(),
            operation: c.operation.clone(),
            child: if c.child_service == c.service {
                c.child_operation.clone()
            } else {
                format!("{} › {}", c.child_service, c.child_operation)
            },
            parents: c.parents,
            max_calls: c.max_calls,
            calls: c.calls,
        })
        .collect();
    Ok(page.into_response())
}

/// The rows of calls between services, each leading to its traces.
pub(super) fn edge_views(edges: &[reports::load::EdgeRow], time: &TimeText) -> Vec<EdgeView> {
    edges
        .iter()
        .map(|e| EdgeView {
            traces_href: {
                let mut pairs = vec![
                    ("service", e.caller.as_str()),
                    ("also_service", e.callee.as_str()),
                ];
                pairs.extend(time.pairs());
                format!("/traces?{}", format::query(pairs))
            },
            caller_colour: format::colour(&e.caller),
            caller: e.caller.clone(),
            callee: e.callee.clone(),
            kind: e.kind.clone(),
            calls: e.calls,
            rate: rate(e.rate_per_second),
            error_rate: pct(e.error_rate),
            failing: e.errors > 0,
            caller_p50: ms(e.caller_p50_ns),
            caller_p95: ms(e.caller_p95_ns),
            callee_p50: ms(e.callee_p50_ns),
            callee_p95: ms(e.callee_p95_ns),
            gap_p50: ms(e.gap_p50_ns),
            gap_p95: ms(e.gap_p95_ns),
        })
        .collect()
}
