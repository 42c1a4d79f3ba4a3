//! The services page (`/`): RED figures per service over a window, with a
//! sparkline of requests.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::format::{self, optional_duration, rate};
use super::layout::{Layout, UiError};
use super::sparkline::Sparkline;
use crate::state::AppState;

/// The windows the page offers as links.
pub const WINDOWS: [&str; 5] = ["15m", "1h", "6h", "24h", "7d"];

/// Buckets of the sparkline, counted by `Store::services` in the same pass
/// as the figures.
const BUCKETS: usize = 12;
const SPARK: Sparkline = Sparkline {
    width: 96.0,
    height: 20.0,
};

pub struct WindowLink {
    pub label: &'static str,
    pub href: String,
    pub active: bool,
}

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
    traces_href: String,
    failures_href: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "services.html")]
pub struct ServicesPage {
    layout: Layout,
    windows: Vec<WindowLink>,
    range: String,
    error: Option<String>,
    services: Vec<ServiceRow>,
    spark: Sparkline,
}

/// The window links of a page: `prefix` is its path and parameter up to the
/// window (`/?window=`, `/map?since=`), `keep` the other parameters to
/// carry (`&service=…`); `active` is the current window, if any.
pub fn window_links(prefix: &str, active: Option<&str>, keep: &str) -> Vec<WindowLink> {
    WINDOWS
        .iter()
        .map(|&w| WindowLink {
            label: w,
            href: format!("{prefix}{w}{keep}"),
            active: active == Some(w),
        })
        .collect()
}

pub async fn services(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, UiError> {
    let param = |key: &str| params.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    let explicit = param("start").is_some();
    let window = param("window").unwrap_or("1h");
    let active = (!explicit).then_some(window);
    let bad = |message: String| {
        let page = ServicesPage {
            layout: Layout::new("Services", ""),
            windows: window_links("/?window=", None, ""),
            range: String::new(),
            error: Some(message),
            services: vec![],
            spark: SPARK,
        };
        Ok((StatusCode::BAD_REQUEST, page).into_response())
    };
    if let Some(unknown) = params
        .keys()
        .find(|k| !matches!(k.as_str(), "window" | "start" | "end"))
    {
        return bad(format!("unknown parameter “{unknown}”"));
    }
    let (start, end) = match crate::api::window_of(&params) {
        Ok(range) => range,
        Err(err) => return bad(err.to_string()),
    };
    let totals = state.store.services(start, end, BUCKETS).await?;
    // Links to the search carry the same time range.
    let range_query = if explicit {
        format!("&start={start}&end={end}")
    } else {
        format!("&window={}", format::path_segment(window))
    };
    let services = totals
        .into_iter()
        .map(|red| {
            let counts = &red.trend;
            let encoded = format::path_segment(&red.service);
            ServiceRow {
                colour: format::colour(&red.service),
                rate: rate(red.rate_per_second),
                error_rate: format!("{:.1}%", red.error_rate * 100.0),
                failing: red.errors > 0,
                p50: optional_duration(red.p50_ns),
                p95: optional_duration(red.p95_ns),
                p99: optional_duration(red.p99_ns),
                requests: red.requests,
                spark: SPARK.counts(counts),
                spark_title: format!(
                    "requests per {}: {}",
                    format::duration(((end - start) / BUCKETS as i64).max(1)),
                    counts
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                traces_href: format!("/traces?service={encoded}{range_query}"),
                failures_href: format!("/traces?service={encoded}&status=error{range_query}"),
                name: red.service,
            }
        })
        .collect();
    let range = match active {
        Some(w) => format!(
            "last {w} · {} – {} UTC",
            format::time(start),
            format::time(end)
        ),
        None => format!("{} – {} UTC", format::time(start), format::time(end)),
    };
    Ok(ServicesPage {
        layout: Layout::new("Services", ""),
        windows: window_links("/?window=", active, ""),
        range,
        error: None,
        services,
        spark: SPARK,
    }
    .into_response())
}
