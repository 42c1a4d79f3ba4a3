//! `/map`: the services and the calls between them, laid out by call
//! depth, each linking to its slice of the load report.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::format::{self, optional_duration as ms, percent as pct, rate};
use super::layout::{Layout, UiError};
use super::load_report;
use super::window_picker::Picker;
use crate::params::{LAST_HOUR, Pairs, TimeParams, Unknown, now_ns};
use crate::reports;
use crate::state::AppState;

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
    windows: Picker,
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
/// The share of failed calls from which an edge is drawn red.
const FAILING_SHARE: f64 = 0.01;

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

/// The width of a character of an edge's label (10.5 px monospace).
const LABEL_CHAR_W: f64 = 6.4;

/// Where the middle of an edge's label goes: the middle of the curve
/// `edge_path` draws (of its run along the lane, for a lane), just above
/// it, so that the labels of one caller's calls sit apart on their own
/// edges; moved back from the callee as far as a label `chars` long needs
/// to stay clear of the nodes at both ends.
fn label_at(sx: f64, sy: f64, tx: f64, ty: f64, lane: Option<f64>, chars: usize) -> (f64, f64) {
    let a = sx + STUB.min(((tx - sx) / 2.0).max(0.0));
    let (x, y) = match lane {
        Some(lane) => ((a + 50.0 + tx - 60.0) / 2.0, lane - 4.0),
        None => ((a + tx) / 2.0, (sy + ty) / 2.0 - 4.0),
    };
    let half = chars as f64 * LABEL_CHAR_W / 2.0 + 4.0;
    (x.min(tx - half).max(sx + half), y)
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

pub async fn page(State(state): State<AppState>, pairs: Pairs) -> Result<Response, UiError> {
    let time = pairs.time().text().or_default(LAST_HOUR);
    // Unknown parameters are ignored: a page opened from an old link or a
    // bookmark still shows.
    let window = pairs
        .read::<TimeParams>(Unknown::Ignore)
        .and_then(|time| time.check()?.window(LAST_HOUR, now_ns()));
    let mut page = MapPage {
        layout: Layout::new("Service map", ""),
        windows: Picker::new("/map", time.picked(), &[]),
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
            page.error = Some(err.to_string());
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    page.windows.show(window);
    let r = reports::load(
        &state.store,
        window,
        None,
        &mut crate::state::note_spans_read,
    )
    .await?;
    page.range = format::time_range(r.since_ns, r.until_ns);
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
    let query = |service: &str| load_report::href(&time, service);
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
        let label = format!(
            "{}/s · {} · p95 {}",
            rate(e.rate_per_second),
            pct(e.error_rate),
            ms(p95)
        );
        let (label_x, label_y) = label_at(sx, sy, tx, ty, lane, label.chars().count());
        page.edges.push(MapEdge {
            path: edge_path(sx, sy, tx, ty, lane),
            label,
            label_x,
            label_y,
            title: format!(
                "{} → {} ({}): {} calls, {} errors",
                e.caller, e.callee, e.kind, e.calls, e.errors
            ),
            href: {
                let mut pairs = vec![
                    ("service", e.caller.as_str()),
                    ("also_service", e.callee.as_str()),
                ];
                pairs.extend(time.pairs());
                format!("/traces?{}", format::query(pairs))
            },
            // A stray failure is not an alarm: red from 1 % of calls.
            failing: e.error_rate >= FAILING_SHARE,
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
}
