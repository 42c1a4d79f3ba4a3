use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use store::{LogQuery, LogView, RequestLog, SpanView, TraceQuery, TraceSummary};

use crate::error_origin::{self, ErrorOrigin};
use crate::reports::{self, Window};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(self_metrics))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/services", get(services))
        .route("/api/v1/failures", get(failures))
        .route("/api/v1/traces", get(traces))
        .route("/api/v1/traces/{trace_id}", get(trace))
        .route("/api/v1/requests/{id}", get(request))
        .route("/api/v1/logs", get(logs))
        .route("/api/v1/metrics", get(metrics))
        .route("/api/v1/metrics/{name}/points", get(metric_points))
        .route("/api/v1/metrics/{name}/chart", get(metric_chart))
        .route("/api/v1/reports/load", get(load_report))
        .route("/api/v1/reports/cost", get(cost_report))
}

/// The one error type of the API. Internal details are logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("database error")]
    Store(#[from] store::StoreError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Store(err) => {
                tracing::error!(error = %err, "read failed");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

async fn self_metrics(State(state): State<AppState>) -> Response {
    let database_bytes = state.store.size_bytes().await.ok();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        (state.self_metrics)(database_bytes),
    )
        .into_response()
}

async fn stats(State(state): State<AppState>) -> ApiResult<Json<store::Stats>> {
    Ok(Json(state.store.stats().await?))
}

#[derive(Serialize)]
struct TraceResponse {
    trace_id: String,
    spans: Vec<SpanView>,
    logs: Vec<LogView>,
    error_origin: Option<ErrorOrigin>,
    /// Ids of the spans on the critical path, in start order.
    critical_path: Vec<String>,
}

async fn trace(
    State(state): State<AppState>,
    Path(trace_id): Path<String>,
) -> ApiResult<Json<TraceResponse>> {
    let id = parse_trace_id(&trace_id)?;
    let trace = state
        .store
        .trace(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no trace {}", hex::encode(id))))?;
    let error_origin = error_origin::find(&trace.spans);
    let critical_path = crate::critical_path::find(&trace.spans)
        .iter()
        .zip(&trace.spans)
        .filter(|(on_path, _)| **on_path)
        .map(|(_, span)| span.span_id.clone())
        .collect();
    Ok(Json(TraceResponse {
        critical_path,
        trace_id: trace.trace_id,
        spans: trace.spans,
        logs: trace.logs,
        error_origin,
    }))
}

/// Slices of the window in a service's `trend`.
const TREND_BUCKETS: usize = 12;

#[derive(Serialize)]
struct ServicesResponse {
    start_time_unix_nano: i64,
    end_time_unix_nano: i64,
    services: Vec<store::ServiceRed>,
}

/// RED figures per service over `window` (`15m`, `1h`, `6h`, `24h`, `7d`, …;
/// default `1h`) ending now, or over `start`..`end` in nanoseconds.
async fn services(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<ServicesResponse>> {
    let (start, end) = window_of(&params)?;
    Ok(Json(ServicesResponse {
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        services: state.store.services(start, end, TREND_BUCKETS).await?,
    }))
}

async fn failures(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<crate::failures::Failures>> {
    let (start, end) = window_of(&params)?;
    Ok(Json(crate::failures::read(&state.store, start, end).await?))
}

/// A report's window: `since` (a duration back, or a time; default 24h)
/// to `until` (a time; default now).
pub(crate) fn report_window(params: &HashMap<String, String>) -> ApiResult<Window> {
    window_params(params, "24h").1.map_err(ApiError::BadRequest)
}

/// `since` as given (`default` when absent or empty), for the links of a
/// page, and the window it names with `until`.
pub(crate) fn window_params(
    params: &HashMap<String, String>,
    default: &str,
) -> (String, Result<Window, String>) {
    let since = params
        .get("since")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .unwrap_or(default)
        .to_owned();
    let window = Window::parse(
        Some(&since),
        params.get("until").map(String::as_str),
        reports::now_ns(),
    );
    (since, window)
}

fn non_empty<'a>(params: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    params.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// JSON by default; `format=csv` gives one table (`table=`, default `endpoints`).
fn report_response<R: Serialize>(
    report: &R,
    params: &HashMap<String, String>,
    name: &str,
    tables: &[&str],
    table_of: fn(&R, &str) -> Option<String>,
) -> ApiResult<Response> {
    match non_empty(params, "format").unwrap_or("json") {
        "json" => Ok(Json(report).into_response()),
        "csv" => {
            let table = non_empty(params, "table").unwrap_or("endpoints");
            let csv = table_of(report, table).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "table must be one of {}, got {table:?}",
                    tables.join(", ")
                ))
            })?;
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("inline; filename=\"loupe-{name}-{table}.csv\""),
                    ),
                ],
                csv,
            )
                .into_response())
        }
        other => Err(ApiError::BadRequest(format!(
            "format must be json or csv, got {other:?}"
        ))),
    }
}

/// One metric over `since`..`until` in 60 slices, optionally one line per
/// value of `group_by` (a point attribute, or `service`).
async fn metric_chart(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<crate::metrics_chart::Chart>> {
    let window = window_params(&params, "1h")
        .1
        .map_err(ApiError::BadRequest)?;
    let points = state
        .store
        .metric_points_between(
            &name,
            window.start,
            window.end,
            crate::metrics_chart::MAX_POINTS,
        )
        .await?;
    Ok(Json(crate::metrics_chart::chart(
        &points,
        non_empty(&params, "group_by"),
        window.start,
        window.end,
        crate::metrics_chart::SLICES,
    )))
}

async fn load_report(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let window = report_window(&params)?;
    let report = reports::load(
        &state.store,
        window,
        non_empty(&params, "service"),
        &mut |_| {},
    )
    .await?;
    report_response(
        &report,
        &params,
        "load",
        reports::csv::LOAD_TABLES,
        reports::csv::load_table,
    )
}

async fn cost_report(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let window = report_window(&params)?;
    let report = reports::cost(&state.store, window, state.prices, &mut |_| {}).await?;
    report_response(
        &report,
        &params,
        "cost",
        reports::csv::COST_TABLES,
        reports::csv::cost_table,
    )
}

/// `start`..`end` in nanoseconds, or `window` (default `1h`) ending at `end` or now.
pub(crate) fn window_of(params: &HashMap<String, String>) -> ApiResult<(i64, i64)> {
    let param = |key: &str| params.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    let end = param("end")
        .map(|v| parse_number(v, "end"))
        .transpose()?
        .unwrap_or_else(reports::now_ns);
    let start = match param("start") {
        Some(start) => parse_number(start, "start")?,
        None => end.saturating_sub(parse_window(param("window").unwrap_or("1h"))?),
    };
    if start >= end {
        return Err(ApiError::BadRequest("start must be before end".into()));
    }
    Ok((start, end))
}

/// `90s`, `15m`, `1h`, `7d` as nanoseconds.
pub(crate) fn parse_window(text: &str) -> ApiResult<i64> {
    reports::parse_duration(text).ok_or_else(|| {
        ApiError::BadRequest(format!("window must look like 15m, 1h or 7d, got {text:?}"))
    })
}

async fn traces(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Vec<TraceSummary>>> {
    let mut query = TraceQuery {
        limit: 20,
        ..TraceQuery::default()
    };
    for (key, value) in &params {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match key.as_str() {
            "service" => query.service = Some(value.to_owned()),
            "operation" => query.operation = Some(value.to_owned()),
            "status" => {
                query.failed = Some(match value {
                    "error" => true,
                    "ok" => false,
                    other => {
                        return Err(ApiError::BadRequest(format!(
                            "status must be error or ok, got {other:?}"
                        )));
                    }
                })
            }
            "sort" => query.longest_first = longest_first(value)?,
            "offset" => query.offset = parse_number(value, "offset")?,
            "min_duration_ms" => query.min_duration_ns = Some(millis_to_nanos(value, key)?),
            "max_duration_ms" => query.max_duration_ns = Some(millis_to_nanos(value, key)?),
            "attr" => query
                .attributes
                .push(store::AttributeFilter::parse(value).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "attr must be key=value, key!=value or key>n (>=, <, <= too), got {value:?}"
                    ))
                })?),
            "start" => query.start = Some(parse_number(value, "start")?),
            "end" => query.end = Some(parse_number(value, "end")?),
            "limit" => query.limit = parse_number::<u32>(value, "limit")?.clamp(1, 1000),
            other => return Err(ApiError::BadRequest(format!("unknown parameter {other:?}"))),
        }
    }
    Ok(Json(state.store.traces(&query).await?))
}

#[derive(Serialize)]
struct RequestResponse {
    id: String,
    matched_as: Vec<store::Match>,
    trace_ids: Vec<String>,
    spans: Vec<SpanView>,
    logs: Vec<RequestLog>,
    error_origin: Option<ErrorOrigin>,
}

async fn request(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<RequestResponse>> {
    let view = state.store.request(&id).await?.ok_or_else(|| {
        ApiError::NotFound(format!("no trace, span or request with id {:?}", id.trim()))
    })?;
    let error_origin = error_origin::find(&view.spans);
    Ok(Json(RequestResponse {
        id: view.id,
        matched_as: view.matched_as,
        trace_ids: view.trace_ids,
        spans: view.spans,
        logs: view.logs,
        error_origin,
    }))
}

pub(crate) fn millis_to_nanos(text: &str, what: &str) -> ApiResult<i64> {
    let millis: f64 = parse_number(text, what)?;
    if !millis.is_finite() || millis < 0.0 {
        return Err(ApiError::BadRequest(format!(
            "{what} must be a non-negative number, got {text:?}"
        )));
    }
    Ok((millis * 1e6).min(i64::MAX as f64) as i64)
}

async fn logs(
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Vec<LogView>>> {
    let attributes = pairs
        .iter()
        .filter(|(key, value)| key == "attr" && !value.trim().is_empty())
        .map(|(_, value)| {
            store::AttributeFilter::parse(value).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "attr must be key=value, key!=value or key>n (>=, <, <= too), got {value:?}"
                ))
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let params: HashMap<String, String> = pairs.into_iter().collect();
    let param = |key: &str| params.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    let query = LogQuery {
        attributes,
        service: param("service").map(str::to_owned),
        text: param("q").map(str::to_owned),
        trace_id: param("trace_id").map(parse_trace_id).transpose()?,
        request_id: param("request_id").map(str::to_owned),
        severity_min: param("severity_min")
            .map(|v| parse_number(v, "severity_min"))
            .transpose()?,
        start: param("start")
            .map(|v| parse_number(v, "start"))
            .transpose()?,
        end: param("end").map(|v| parse_number(v, "end")).transpose()?,
        limit: param("limit")
            .map(|v| parse_number(v, "limit"))
            .transpose()?
            .unwrap_or(100)
            .clamp(1, 1000),
    };
    Ok(Json(state.store.logs(&query).await?))
}

async fn metrics(State(state): State<AppState>) -> ApiResult<Json<Vec<store::MetricInfo>>> {
    Ok(Json(state.store.metrics().await?))
}

async fn metric_points(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Vec<store::MetricPointView>>> {
    let limit = params
        .get("limit")
        .map(|v| parse_number(v, "limit"))
        .transpose()?
        .unwrap_or(100)
        .clamp(1, 10_000);
    Ok(Json(state.store.metric_points(&name, limit).await?))
}

fn parse_trace_id(text: &str) -> ApiResult<[u8; 16]> {
    let mut id = [0u8; 16];
    hex::decode_to_slice(text.trim(), &mut id).map_err(|_| {
        ApiError::BadRequest(format!(
            "trace id must be 32 hex characters, got {:?}",
            text
        ))
    })?;
    Ok(id)
}

/// Trace search's `sort`: `duration` is longest first, `start` newest first.
pub(crate) fn longest_first(sort: &str) -> ApiResult<bool> {
    match sort {
        "start" => Ok(false),
        "duration" => Ok(true),
        other => Err(ApiError::BadRequest(format!(
            "sort must be start or duration, got {other:?}"
        ))),
    }
}

pub(crate) fn parse_number<T: std::str::FromStr>(text: &str, what: &str) -> ApiResult<T> {
    text.parse()
        .map_err(|_| ApiError::BadRequest(format!("{what} must be a number, got {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        for (text, expected) in [
            ("15m", Some(900_000_000_000)),
            ("1h", Some(3_600_000_000_000)),
            ("7d", Some(604_800_000_000_000)),
            ("90s", Some(90_000_000_000)),
        ] {
            assert_eq!(parse_window(text).ok(), expected, "{text}");
        }
        for bad in ["", "h", "1", "1w", "-1h", "0m", "99999999999999d"] {
            assert!(parse_window(bad).is_err(), "{bad}");
        }
    }
}
