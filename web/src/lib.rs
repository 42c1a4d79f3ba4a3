//! web: the JSON API, the health endpoints and the server-rendered UI. It
//! only reads: every handler goes through a `store::Reader`, which cannot
//! write.
//!
//! - `api`: `/api/v1/…`, `/healthz`, `/readyz`, `/metrics`, and the API's
//!   one error type.
//! - `access`: the read keys and their login sessions.
//! - `auth`: the guard of every read (`--read-keys`) and the login page.
//! - `compare`: what sets a selection of traces apart from the rest of
//!   their endpoint's; pure but for `read`.
//! - `critical_path`: the spans a trace's duration waited for; pure.
//! - `error_origin`: where a trace's failure started; pure.
//! - `failures`: failed traces grouped by their origin; pure but for `read`.
//! - `hosts`: the host names the UI answers for (DNS rebinding); pure.
//! - `metrics_chart`: one metric over time for the metrics explorer; pure.
//! - `params`: the query parameters of every page and endpoint, and the
//!   one time-window model they share.
//! - `reports`: the load and cost reports, shared with `loupe report`; pure
//!   but for `collect`.
//! - `state`: `AppState`, what every handler is given.
//! - `system`: loupe about itself (`/system`, `/api/v1/system`, part of
//!   `/metrics`), and the timing of every read.
//! - `testing`: span builders for this crate's unit tests.
//! - `trace_diff`: a trace against a typical one of its root, path by path;
//!   pure but for `read`.
//! - `ui`: the server-rendered HTML pages and their embedded static assets.

pub mod access;
mod api;
mod auth;
pub mod compare;
pub mod critical_path;
pub mod error_origin;
pub mod failures;
pub mod hosts;
pub mod jaeger;
pub mod metrics_chart;
pub mod otlp_export;
pub mod outcome;
pub mod params;
pub mod releases;
pub mod reports;
mod state;
pub mod system;
#[cfg(test)]
mod testing;
pub mod trace_diff;
mod ui;

pub use state::{AppState, Readiness, Reads, SelfMetricsText};

/// The UI and API router. `loupe serve` serves it, and so do the end-to-end
/// tests (`tests/it/`), on port 0, through HTTP like any client.
pub fn router(state: AppState) -> axum::Router {
    api::routes()
        .merge(jaeger::routes())
        .merge(ui::routes())
        .merge(auth::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            time_reads,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            check_host,
        ))
        .layer(axum::middleware::map_response(ui::security_headers))
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}

/// Answers only requests for the host names the listener is for
/// (`hosts`), before anything is read.
async fn check_host(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .map(|h| h.to_str().unwrap_or_default());
    if state.hosts.allows(host) {
        return next.run(request).await;
    }
    (
        axum::http::StatusCode::MISDIRECTED_REQUEST,
        format!(
            "loupe answers here for {} only; start it with --allowed-hosts to add {:?}\n",
            state.hosts.names().join(", "),
            host.unwrap_or_default()
        ),
    )
        .into_response()
}

/// Runs every read (all but the static files, the health checks and the
/// login forms) in its turn (`Reads::turns`) and within the deadline,
/// answering 503 past it, and times it into `state.slow_reads` (`/system`
/// shows the slowest).
async fn time_reads(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let uri_path = request.uri().path();
    if auth::is_open(uri_path) {
        return next.run(request).await;
    }
    let api = uri_path.starts_with("/api/");
    let path = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    let started = std::time::Instant::now();
    let reads = state.reads.clone();
    let spans_read = std::sync::Arc::new(state::Progress::default());
    let bound = reads.max_report_spans;
    let read = state::SPANS_READ.scope(
        spans_read.clone(),
        reports::holding_at_most(bound, async {
            let _turn = reads.turns.acquire().await;
            if !reads.test_delay.is_zero() {
                tokio::time::sleep(reads.test_delay).await;
            }
            next.run(request).await
        }),
    );
    // Past the deadline the read is dropped: a query on PostgreSQL is
    // cancelled with it; a SQLite scan on a blocking thread runs out, but
    // no one waits for it.
    let response = match reads.deadline {
        Some(deadline) => match tokio::time::timeout(deadline, read).await {
            Ok(response) => response,
            Err(_) => {
                let read = spans_read.now();
                tracing::warn!(%path, ?deadline, spans_read = read.read, of = read.of, "read stopped at the deadline");
                ui::too_slow(api, deadline, read)
            }
        },
        None => read.await,
    };
    state
        .slow_reads
        .record(&path, started.elapsed(), params::now_ns());
    response
}
