//! `/reports/load`, `/reports/cost` and `/map`: the reports of
//! `crate::reports` as pages, with their CSV a click away.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::format;
use super::layout::{Layout, UiError};
use super::services::{WindowLink, window_links};
use super::sparkline::Sparkline;
use crate::api::window_params;
use crate::reports::{self, LoadReport, bytes, load::Series};
use crate::state::AppState;

fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

use format::{optional_duration as ms, rate};

/// The requests, error rate and p95 of each row, side by side.
const SPARK: Sparkline = Sparkline {
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
}

pub struct DownstreamView {
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
    windows: Vec<WindowLink>,
    error: Option<String>,
    range: String,
    since: String,
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
}

fn params_query(since: &str, until: Option<&str>, service: &str) -> String {
    let mut q = format!("since={}", format::path_segment(since));
    if let Some(until) = until {
        q.push_str(&format!("&until={}", format::path_segment(until)));
    }
    if !service.is_empty() {
        q.push_str(&format!("&service={}", format::path_segment(service)));
    }
    q
}

fn range_text(report_since: i64, report_until: i64) -> String {
    format!(
        "{} – {} UTC",
        format::time(report_since),
        format::time(report_until)
    )
}

fn load_rows(report: &LoadReport, endpoints: bool, since: &str) -> Vec<LoadRowView> {
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
            href: format!("/reports/load?{}", params_query(since, None, &r.service)),
            service: r.service.clone(),
        })
        .collect()
}

pub async fn load(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, UiError> {
    let (since, window) = window_params(&params, "24h");
    let until = params
        .get("until")
        .map(String::as_str)
        .filter(|u| !u.is_empty());
    let service = params
        .get("service")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let keep = if service.is_empty() {
        String::new()
    } else {
        format!("&service={}", format::path_segment(&service))
    };
    let mut page = LoadPage {
        layout: Layout::new("Load report", ""),
        windows: window_links("/reports/load?since=", Some(&since), &keep),
        error: None,
        range: String::new(),
        since: since.clone(),
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
    };
    let window = match window {
        Ok(window) => window,
        Err(err) => {
            page.error = Some(err);
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    let filter = (!service.is_empty()).then_some(service.as_str());
    let r = reports::load(&state.store, window, filter, &mut |_| {}).await?;
    let query = params_query(&since, until, &service);
    page.csv = reports::csv::LOAD_TABLES
        .iter()
        .map(|t| {
            (
                *t,
                format!("/api/v1/reports/load?{query}&format=csv&table={t}"),
            )
        })
        .collect();
    page.range = range_text(r.since_ns, r.until_ns);
    page.totals = format!(
        "{} spans in {} traces · self time {} · percentiles are nearest-rank{}",
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
    page.service_rows = load_rows(&r, false, &since);
    page.endpoint_rows = load_rows(&r, true, &since);
    page.downstream = r
        .downstream
        .iter()
        .map(|d| DownstreamView {
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
            }
        })
        .collect();
    page.edges = r
        .edges
        .iter()
        .map(|e| EdgeView {
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
        .collect();
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

pub struct CostRowView {
    pub service: String,
    pub colour: usize,
    pub endpoint: String,
    pub spans: u64,
    pub logs: u64,
    pub points: u64,
    pub received: String,
    pub received_share: String,
    pub share_width: String,
    pub stored: String,
    pub stored_share: String,
    pub per_day: String,
    pub monthly: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "report_cost.html")]
pub struct CostPage {
    layout: Layout,
    windows: Vec<WindowLink>,
    error: Option<String>,
    range: String,
    csv: Vec<(&'static str, String)>,
    prices: Vec<(String, &'static str)>,
    projection: String,
    services: Vec<CostRowView>,
    total: Option<CostRowView>,
    endpoints: Vec<CostRowView>,
    per_request: Vec<[String; 5]>,
    sample: String,
    keys: Vec<[String; 5]>,
    sources: Vec<[String; 6]>,
    metrics: Vec<[String; 5]>,
}

fn money(amount: f64) -> String {
    if amount < 10.0 {
        format!("{amount:.4}")
    } else {
        format!("{amount:.2}")
    }
}

fn cost_row(c: &reports::cost::CostRow, max_share: f64) -> CostRowView {
    CostRowView {
        colour: format::colour(&c.service),
        service: c.service.clone(),
        endpoint: c.endpoint.clone().unwrap_or_default(),
        spans: c.spans,
        logs: c.logs,
        points: c.metric_points,
        received: bytes(c.wire_bytes as f64),
        received_share: pct(c.wire_share),
        share_width: format!(
            "{:.1}",
            c.wire_share / max_share.max(f64::MIN_POSITIVE) * 100.0
        ),
        stored: bytes(c.stored_bytes as f64),
        stored_share: pct(c.stored_share),
        per_day: bytes(c.wire_bytes_per_day),
        monthly: money(c.monthly_cost),
    }
}

pub async fn cost(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, UiError> {
    let (since, window) = window_params(&params, "24h");
    let until = params
        .get("until")
        .map(String::as_str)
        .filter(|u| !u.is_empty());
    let p = state.prices;
    let mut page = CostPage {
        layout: Layout::new("Cost report", ""),
        windows: window_links("/reports/cost?since=", Some(&since), ""),
        error: None,
        range: String::new(),
        csv: vec![],
        prices: vec![
            (money(p.per_gb), "per GB received"),
            (money(p.per_million_spans), "per million spans"),
            (money(p.per_million_logs), "per million log records"),
            (
                money(p.per_million_metric_points),
                "per million metric points",
            ),
        ],
        projection: String::new(),
        services: vec![],
        total: None,
        endpoints: vec![],
        per_request: vec![],
        sample: String::new(),
        keys: vec![],
        sources: vec![],
        metrics: vec![],
    };
    let window = match window {
        Ok(window) => window,
        Err(err) => {
            page.error = Some(err);
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    let r = reports::cost(&state.store, window, state.prices, &mut |_| {}).await?;
    let query = params_query(&since, until, "");
    page.csv = reports::csv::COST_TABLES
        .iter()
        .map(|t| {
            (
                *t,
                format!("/api/v1/reports/cost?{query}&format=csv&table={t}"),
            )
        })
        .collect();
    page.range = range_text(r.since_ns, r.until_ns);
    page.projection = format!(
        "{} received a day · {} spans, {} log records, {} metric points a day · a 30-day month: {} received, {}",
        bytes(r.total.wire_bytes_per_day),
        r.total.spans_per_day.round(),
        r.total.logs_per_day.round(),
        r.total.metric_points_per_day.round(),
        bytes(r.total.monthly_gb * 1e9),
        money(r.total.monthly_cost)
    );
    let max_service = r.services.iter().map(|c| c.wire_share).fold(0.0, f64::max);
    page.services = r
        .services
        .iter()
        .map(|c| cost_row(c, max_service))
        .collect();
    page.total = Some(cost_row(&r.total, 1.0));
    let max_endpoint = r.endpoints.iter().map(|c| c.wire_share).fold(0.0, f64::max);
    page.endpoints = r
        .endpoints
        .iter()
        .map(|c| cost_row(c, max_endpoint))
        .collect();
    page.per_request = r
        .per_request
        .iter()
        .map(|q| {
            [
                format!("{} {}", q.entry_service, q.entry_endpoint),
                q.requests.to_string(),
                format!("{:.1}", q.spans_per_request),
                format!("{:.1}", q.logs_per_request),
                bytes(q.wire_bytes_per_request),
            ]
        })
        .collect();
    page.sample = format!(
        "measured on the spans of the newest traces ({} spans) and the newest {} log records, scaled to the window",
        r.attribute_sample.spans, r.attribute_sample.logs
    );
    page.keys = r
        .attribute_keys
        .iter()
        .map(|k| {
            [
                k.signal.clone(),
                k.key.clone(),
                k.occurrences.to_string(),
                pct(k.share),
                bytes(k.estimated_bytes as f64),
            ]
        })
        .collect();
    page.sources = r
        .log_sources
        .iter()
        .map(|s| {
            [
                s.service.clone(),
                s.severity.clone(),
                s.scope.clone(),
                s.records.to_string(),
                bytes(s.wire_bytes as f64),
                pct(s.share),
            ]
        })
        .collect();
    page.metrics = r
        .metrics_by_series
        .iter()
        .map(|m| {
            [
                m.service.clone(),
                m.name.clone(),
                m.kind.clone(),
                m.series.to_string(),
                m.points.to_string(),
            ]
        })
        .collect();
    Ok(page.into_response())
}

/// A service on the map: its box and where its figures link.
pub struct MapNode {
    pub name: String,
    pub colour: usize,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub requests: String,
    pub href: String,
    pub failing: bool,
}

/// A call on the map: a curve from the caller's right to the callee's left.
pub struct MapEdge {
    pub path: String,
    pub label: String,
    pub label_x: f64,
    pub label_y: f64,
    pub title: String,
    pub href: String,
    pub failing: bool,
    pub dashed: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "map.html")]
pub struct MapPage {
    layout: Layout,
    windows: Vec<WindowLink>,
    error: Option<String>,
    range: String,
    width: f64,
    height: f64,
    nodes: Vec<MapNode>,
    edges: Vec<MapEdge>,
}

const NODE_W: f64 = 176.0;
const NODE_H: f64 = 40.0;
const LABEL_LINE: f64 = 13.0;
const COLUMN_GAP: f64 = 250.0;
const ROW_GAP: f64 = 48.0;
const MARGIN: f64 = 16.0;
/// An edge leaves its caller level for this long, so that its label sits on
/// its own line, clear of the other calls fanning out of the same node.
const STUB: f64 = 165.0;
/// Spacing of the lanes under the nodes that calls skipping a column take.
const LANE_GAP: f64 = 14.0;

/// The SVG path of a call from (sx, sy) on the caller's right side to
/// (tx, ty) on the callee's left: level for the label's length, then a
/// curve; a call that skips columns goes round below the nodes, along
/// `lane`, instead of through the services between.
fn edge_path(sx: f64, sy: f64, tx: f64, ty: f64, lane: Option<f64>) -> String {
    let a = sx + STUB.min(((tx - sx) / 2.0).max(0.0));
    match lane {
        Some(lane) => format!(
            "M{sx:.1},{sy:.1} H{a:.1} C{:.1},{sy:.1} {:.1},{lane:.1} {:.1},{lane:.1} H{:.1} C{:.1},{lane:.1} {:.1},{ty:.1} {tx:.1},{ty:.1}",
            a + 30.0,
            a + 10.0,
            a + 50.0,
            tx - 60.0,
            tx - 20.0,
            tx - 40.0,
        ),
        None => {
            let bend = ((tx - a).abs() / 2.0).max(20.0);
            format!(
                "M{sx:.1},{sy:.1} H{a:.1} C{:.1},{sy:.1} {:.1},{ty:.1} {tx:.1},{ty:.1}",
                a + bend,
                tx - bend
            )
        }
    }
}

/// Columns by call depth from the services nobody calls (the entry points),
/// so calls run left to right; a service reached at several depths sits at
/// its deepest, and cycles stop at the number of services.
pub fn layout(services: &[String], calls: &[(String, String)]) -> BTreeMap<String, (usize, usize)> {
    let mut depth: BTreeMap<&str, usize> = services.iter().map(|s| (s.as_str(), 0)).collect();
    for (a, b) in calls {
        depth.entry(a).or_insert(0);
        depth.entry(b).or_insert(0);
    }
    let limit = depth.len();
    for _ in 0..limit {
        let mut changed = false;
        for (a, b) in calls {
            if a == b {
                continue;
            }
            let next = (depth[a.as_str()] + 1).min(limit);
            if depth[b.as_str()] < next {
                depth.insert(b, next);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut rows: BTreeMap<usize, usize> = BTreeMap::new();
    depth
        .into_iter()
        .map(|(name, column)| {
            let row = rows.entry(column).or_default();
            *row += 1;
            (name.to_owned(), (column, *row - 1))
        })
        .collect()
}

pub async fn map(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, UiError> {
    let (since, window) = window_params(&params, "1h");
    let mut page = MapPage {
        layout: Layout::new("Service map", ""),
        windows: window_links("/map?since=", Some(&since), ""),
        error: None,
        range: String::new(),
        width: 0.0,
        height: 0.0,
        nodes: vec![],
        edges: vec![],
    };
    let window = match window {
        Ok(window) => window,
        Err(err) => {
            page.error = Some(err);
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    let r = reports::load(&state.store, window, None, &mut |_| {}).await?;
    page.range = range_text(r.since_ns, r.until_ns);
    let services: Vec<String> = r.services.iter().map(|s| s.service.clone()).collect();
    let calls: Vec<(String, String)> = r
        .edges
        .iter()
        .map(|e| (e.caller.clone(), e.callee.clone()))
        .collect();
    let places = layout(&services, &calls);
    let mut outgoing: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut incoming: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, e) in r.edges.iter().enumerate() {
        outgoing.entry(&e.caller).or_default().push(i);
        incoming.entry(&e.callee).or_default().push(i);
    }
    // Tall enough that the labels of one node's calls, one per line, fit.
    let most = outgoing
        .values()
        .chain(incoming.values())
        .map(Vec::len)
        .max()
        .unwrap_or(0);
    let node_h = NODE_H.max(LABEL_LINE * (most + 1) as f64);
    let at = |name: &str| {
        let (column, row) = places[name];
        (
            MARGIN + column as f64 * (NODE_W + COLUMN_GAP),
            MARGIN + row as f64 * (node_h + ROW_GAP),
        )
    };
    let red: HashMap<&str, &reports::load::LoadRow> =
        r.services.iter().map(|s| (s.service.as_str(), s)).collect();
    let databases: BTreeSet<&str> = r
        .edges
        .iter()
        .filter(|e| e.kind == "database")
        .map(|e| e.callee.as_str())
        .collect();
    let query = |service: &str| format!("/reports/load?{}", params_query(&since, None, service));
    for name in places.keys() {
        let (x, y) = at(name);
        let (requests, failing) = match red.get(name.as_str()) {
            Some(s) => (
                format!(
                    "{}/s · {} errors",
                    rate(s.rate_per_second),
                    pct(s.error_rate)
                ),
                s.errors > 0,
            ),
            None if databases.contains(name.as_str()) => ("database".to_owned(), false),
            None => (String::new(), false),
        };
        page.nodes.push(MapNode {
            colour: format::colour(name),
            x,
            y,
            w: NODE_W,
            h: node_h,
            requests,
            href: query(if databases.contains(name.as_str()) {
                ""
            } else {
                name
            }),
            failing,
            name: name.clone(),
        });
    }
    // Each node's calls leave and arrive spread along its side, in the
    // order of the other end's height, so curves and labels do not pile up.
    let slot = |lists: &HashMap<&str, Vec<usize>>,
                node: &str,
                edge: usize,
                other: &dyn Fn(usize) -> f64| {
        let mut list = lists[node].clone();
        list.sort_by(|a, b| other(*a).total_cmp(&other(*b)).then(a.cmp(b)));
        let k = list.iter().position(|&i| i == edge).unwrap_or(0);
        node_h * (k + 1) as f64 / (list.len() + 1) as f64
    };
    let rows = places.values().map(|p| p.1).max().map_or(0, |r| r + 1);
    let bottom = MARGIN + rows as f64 * node_h + rows.saturating_sub(1) as f64 * ROW_GAP;
    let mut long_edges = 0;
    for (i, e) in r.edges.iter().enumerate() {
        let (x1, y1) = at(&e.caller);
        let (x2, y2) = at(&e.callee);
        let sy = y1 + slot(&outgoing, &e.caller, i, &|j| at(&r.edges[j].callee).1);
        let ty = y2 + slot(&incoming, &e.callee, i, &|j| at(&r.edges[j].caller).1);
        let (sx, tx) = (x1 + NODE_W, x2);
        let (from, to) = (places[&e.caller].0, places[&e.callee].0);
        let lane = (to > from + 1).then(|| {
            long_edges += 1;
            bottom + LANE_GAP * long_edges as f64
        });
        let p95 = e.callee_p95_ns.or(e.caller_p95_ns);
        page.edges.push(MapEdge {
            path: edge_path(sx, sy, tx, ty, lane),
            label: format!(
                "{}/s · {} · p95 {}",
                rate(e.rate_per_second),
                pct(e.error_rate),
                ms(p95)
            ),
            // Near the caller, where the calls of one node fan out apart.
            label_x: sx + 6.0,
            label_y: sy - 3.0,
            title: format!(
                "{} → {} ({}): {} calls, {} errors",
                e.caller, e.callee, e.kind, e.calls, e.errors
            ),
            href: query(if e.kind == "database" {
                &e.caller
            } else {
                &e.callee
            }),
            failing: e.errors > 0,
            dashed: e.kind == "async",
        });
    }
    let columns = places.values().map(|p| p.0).max().map_or(0, |c| c + 1);
    page.width =
        2.0 * MARGIN + columns as f64 * NODE_W + columns.saturating_sub(1) as f64 * COLUMN_GAP;
    page.height = bottom + LANE_GAP * long_edges as f64 + MARGIN;
    Ok(page.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_run_left_to_right_by_depth() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let calls = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        };
        let places = layout(
            &s(&["gateway", "orders", "payments", "inventory"]),
            &calls(&[
                ("gateway", "orders"),
                ("orders", "payments"),
                ("gateway", "payments"),
                ("orders", "postgresql"),
            ]),
        );
        let column = |n: &str| places[n].0;
        assert_eq!(
            [
                column("gateway"),
                column("orders"),
                column("payments"),
                column("postgresql"),
                column("inventory")
            ],
            [0, 1, 2, 2, 0]
        );
        // A cycle does not loop forever.
        let places = layout(&s(&["a", "b"]), &calls(&[("a", "b"), ("b", "a")]));
        assert!(places["a"].0 <= 2 && places["b"].0 <= 2);
    }

    #[test]
    fn calls_that_skip_a_column_go_round_below() {
        let numbers = |path: &str| -> Vec<f64> {
            path.split(|c: char| !(c.is_ascii_digit() || c == '.'))
                .filter_map(|n| n.parse().ok())
                .collect()
        };
        // Level first, for the label, then a curve to the callee.
        let direct = edge_path(100.0, 50.0, 500.0, 90.0, None);
        assert!(direct.starts_with("M100.0,50.0 H265.0 C"), "{direct}");
        assert!(direct.ends_with(" 500.0,90.0"), "{direct}");
        // Close ends keep half the way for the curve.
        let close = edge_path(100.0, 50.0, 200.0, 90.0, None);
        assert!(close.starts_with("M100.0,50.0 H150.0 C"), "{close}");
        // Down to the lane at y = 300, along it, and up into the callee.
        let round = edge_path(100.0, 50.0, 900.0, 60.0, Some(300.0));
        assert!(round.contains(" H840.0 "), "{round}");
        assert_eq!(
            numbers(&round).iter().filter(|&&n| n == 300.0).count(),
            3,
            "{round}"
        );
        assert!(round.ends_with(" 900.0,60.0"), "{round}");
    }

    #[test]
    fn bytes_in_decimal_units() {
        assert_eq!(
            [0.0, 999.0, 1_500.0, 2_000_000.0].map(bytes),
            ["0 B", "999 B", "1.5 KB", "2.0 MB"]
        );
    }
}
