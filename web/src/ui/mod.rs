//! The web UI: server-rendered HTML (askama), htmx for partial updates
//! (search results, log lines and their live tail, span details, the rows
//! a large trace left out), no build step. Every value from telemetry goes through
//! askama's HTML escaping; nothing here uses `|safe`.
//!
//! - `assets`: the embedded static files and their cache-busting URLs.
//! - `chart`: line charts over time, with axes and a zoom.
//! - `compare`: what sets a selection of traces apart (`/compare`).
//! - `cost_report`: the cost report (`/reports/cost`).
//! - `failures`: failed requests grouped where they failed (`/failures`).
//! - `format`: times, durations, values and colours as the pages show them.
//! - `layout`: the frame of every page, the error page, the htmx check.
//! - `load_report`: the load report (`/reports/load`).
//! - `logs`: the log search (`/logs`) and its live tail (`/logs/tail`).
//! - `map`: the service map (`/map`), laid out by call depth.
//! - `metrics_explorer`: metrics, and one of them over time.
//! - `pages`: the search box's redirect, the request and trace views and
//!   span details.
//! - `search`: trace search (`/traces`), rows alone for htmx.
//! - `service`: a service's page (`/services/{name}`), RED over time and
//!   what calls it, what it calls, its failures and logs.
//! - `services`: the services page (`/`), RED figures and sparklines.
//! - `sparkline`: a series as the points of an SVG polyline.
//! - `system`: loupe about itself (`/system`).
//! - `waterfall`: a trace's spans as a tree of rows.
//! - `window_picker`: the links to the windows a page offers.

mod assets;
mod change;
mod chart;
mod compare;
mod cost_report;
mod failures;
mod format;
pub(crate) mod layout;
mod load_report;
mod logs;
mod map;
mod metrics_explorer;
mod pages;
mod releases;
mod search;
mod service;
mod services;
mod sparkline;
mod system;
mod waterfall;
mod window_picker;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;

use crate::state::AppState;

/// Only loupe's own files: no inline script or style, no other origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The answer to a read stopped at `--query-timeout`: JSON for the API, a
/// page for the rest.
pub(crate) fn too_slow(
    api: bool,
    deadline: std::time::Duration,
    spans_read: layout::SpansRead,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    if api {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({
                "error": layout::too_slow_message(deadline, spans_read)
            })),
        )
            .into_response();
    }
    layout::UiError::TooSlow(deadline, spans_read).into_response()
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(services::services))
        .route("/services/{name}", get(service::page))
        .route("/traces", get(search::traces))
        .route("/compare", get(compare::page))
        .route("/search", get(pages::search))
        .route("/requests/{id}", get(pages::request))
        .route("/traces/{trace_id}", get(pages::trace))
        .route("/traces/{trace_id}/spans/{span_id}", get(pages::span))
        .route("/traces/{trace_id}/rows", get(pages::waterfall_run))
        .route("/traces/{trace_id}/compare", get(pages::trace_compare))
        .route("/logs", get(logs::page))
        .route("/logs/tail", get(logs::tail))
        .route("/failures", get(failures::page))
        .route("/reports/load", get(load_report::page))
        .route("/reports/cost", get(cost_report::page))
        .route("/map", get(map::page))
        .route("/metrics-explorer", get(metrics_explorer::page))
        .route("/system", get(system::show))
        .route("/static/{name}", get(assets::serve))
        // Browsers ask for it whatever the page links.
        .route(
            "/favicon.ico",
            get(|| async { axum::response::Redirect::permanent("/static/favicon.svg") }),
        )
}

/// On every response of the UI listener, the API's and refusals too.
pub(crate) async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
