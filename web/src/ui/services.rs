//! The services page (`/`): RED figures per service over a window, with a
//! sparkline of requests.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::format::Grouped as _;
use super::format::{self, optional_duration, rate};
use super::layout::{Layout, UiError};
use super::sparkline::Sparkline;
use super::window_picker::Picker;
use crate::params::{LAST_HOUR, Pairs, TimeParams, Unknown, now_ns};
use crate::state::AppState;

/// Buckets of the sparkline, counted by `Store::services` in the same pass
/// as the figures.
const BUCKETS: usize = 12;
const SPARK: Sparkline = Sparkline {
    width: 96.0,
    height: 20.0,
};

struct ServiceRow {
    name: String,
    colour: usize,
    rate: String,
    error_rate: String,
    failing: bool,
    p50: String,
    p95: String,
    p99: String,
    requests: u64,
    /// `points` of the sparkline polyline.
    spark: String,
    spark_title: String,
    error_spark: String,
    p95_spark: String,
    /// The service's own page, with the window.
    href: String,
    traces_href: String,
    failures_href: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "services.html")]
pub struct ServicesPage {
    layout: Layout,
    windows: Picker,
    range: String,
    error: Option<String>,
    services: Vec<ServiceRow>,
    spark: Sparkline,
}

pub async fn services(State(state): State<AppState>, pairs: Pairs) -> Result<Response, UiError> {
    let bad = |message: String| {
        let page = ServicesPage {
            layout: Layout::new("Services", ""),
            windows: Picker::new("/", None, &[]),
            range: String::new(),
            error: Some(message),
            services: vec![],
            spark: SPARK,
        };
        Ok((StatusCode::BAD_REQUEST, page).into_response())
    };
    // This page has always refused parameters it does not take: it takes
    // only a window, and a misspelt one would show the last hour unasked.
    let window = pairs
        .read::<TimeParams>(Unknown::Refuse)
        .and_then(|time| time.check()?.window(LAST_HOUR, now_ns()));
    let window = match window {
        Ok(window) => window,
        Err(err) => return bad(err.to_string()),
    };
    let (start, end) = (window.start, window.end);
    let time = pairs.time().text().or_default(LAST_HOUR);
    let totals = state.store.services(start, end, BUCKETS).await?;
    // Links to the search carry the same window.
    let range_query = format::query(time.pairs());
    let services = totals
        .into_iter()
        .map(|red| {
            let counts = &red.trend;
            let encoded = format::path_segment(&red.service);
            ServiceRow {
                colour: format::colour(&red.service),
                rate: rate(red.rate_per_second),
                error_rate: format::percent(red.error_rate),
                failing: red.errors > 0,
                p50: optional_duration(red.p50_ns),
                p95: optional_duration(red.p95_ns),
                p99: optional_duration(red.p99_ns),
                requests: red.requests,
                spark: SPARK.counts(counts),
                error_spark: SPARK.counts(&red.error_trend),
                p95_spark: SPARK.gapped(
                    &red.p95_trend
                        .iter()
                        .map(|p| p.map(|ns| ns as f64))
                        .collect::<Vec<_>>(),
                ),
                href: format!("/services/{encoded}?{range_query}"),
                spark_title: format!(
                    "requests per {}: {}",
                    format::duration(((end - start) / BUCKETS as i64).max(1)),
                    counts
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                traces_href: format!("/traces?service={encoded}&{range_query}"),
                failures_href: format!("/traces?service={encoded}&status=error&{range_query}"),
                name: red.service,
            }
        })
        .collect();
    let range = match time.picked() {
        Some(w) => format!("last {w} · {}", format::time_range(start, end)),
        None => format::time_range(start, end),
    };
    let mut windows = Picker::new("/", time.picked(), &[]);
    windows.show(window);
    Ok(ServicesPage {
        layout: Layout::new("Services", ""),
        windows,
        range,
        error: None,
        services,
        spark: SPARK,
    }
    .into_response())
}
