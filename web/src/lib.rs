//! web: the JSON API and the health endpoints. It only reads: every handler
//! goes through a `store::Reader`, which cannot write.
//!
//! - `api`: `/api/v1/…` handlers and their one error type.
//! - `critical_path`: the spans a trace's duration waited for; pure.
//! - `error_origin`: where a trace's failure started; pure.
//! - `failures`: failed traces grouped by their origin; pure.
//! - `metrics_chart`: one metric over time for the metrics explorer; pure.
//! - `reports`: the load and cost reports, shared with `loupe report`; pure
//!   but for `collect`.
//! - `ui`: the server-rendered HTML pages and their embedded static assets.

mod api;
pub mod critical_path;
pub mod error_origin;
pub mod failures;
pub mod metrics_chart;
pub mod reports;
#[cfg(test)]
mod testing;
mod ui;

use std::sync::Arc;

use axum::Router;
use store::Reader;

/// Renders loupe's own metrics in the Prometheus text format, given the database size.
pub type SelfMetricsText = Arc<dyn Fn(Option<u64>) -> String + Send + Sync>;

#[derive(Clone)]
pub struct AppState {
    pub store: Reader,
    pub self_metrics: SelfMetricsText,
    /// What the cost report's projection charges.
    pub prices: reports::Prices,
}

/// The UI and API router; tests drive it with `oneshot` or serve it on port 0.
pub fn router(state: AppState) -> Router {
    api::routes().merge(ui::routes()).with_state(state)
}
