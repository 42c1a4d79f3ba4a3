//! The JSON API (`/api/v1/…`) and the health endpoints (`/healthz`,
//! `/readyz`, `/metrics`). Every API handler reads its query string
//! through `Query`, into a struct of `params`; `ApiError` is the one way an
//! answer fails.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use store::{LogView, RequestLog, SpanView, TraceSummary};

use crate::error_origin::{self, ErrorOrigin};
use crate::params::{
    Also, ChangeQuery, ChartQuery, CompareQuery, CostQuery, Format, FromQuery, LAST_HOUR,
    LoadQuery, LogsQuery, NoParams, Pairs, ParamError, PointsQuery, ReleasesQuery, TimeParams,
    TracesQuery, Unknown, Windowed, earlier_window, now_ns,
};
use crate::reports;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(self_metrics))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/system", get(system))
        .route("/api/v1/services", get(services))
        .route("/api/v1/services/{name}/releases", get(releases))
        .route("/api/v1/failures", get(failures))
        .route("/api/v1/traces", get(traces))
        .route("/api/v1/compare", get(compare))
        .route("/api/v1/traces/{trace_id}", get(trace))
        .route("/api/v1/traces/{trace_id}/compare", get(trace_compare))
        .route("/api/v1/requests/{id}", get(request))
        .route("/api/v1/requests/{id}/otlp", get(request_otlp))
        .route("/api/v1/logs", get(logs))
        .route("/api/v1/metrics", get(metrics))
        .route("/api/v1/metrics/{name}/points", get(metric_points))
        .route("/api/v1/metrics/{name}/chart", get(metric_chart))
        .route("/api/v1/reports/load", get(load_report))
        .route("/api/v1/reports/change", get(change_report))
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
            ApiError::Store(store::StoreError::ReadTooLarge(message)) => {
                let body = Json(serde_json::json!({ "error": message }));
                return (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
            }
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

impl From<ParamError> for ApiError {
    fn from(err: ParamError) -> ApiError {
        ApiError::BadRequest(err.to_string())
    }
}

/// The query string read into `T` (see `params`). Anything wrong with it,
/// an unknown parameter too, is a 400 whose message names the parameter.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: FromQuery> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> ApiResult<Query<T>> {
        let pairs = Pairs::parse(parts.uri.query().unwrap_or_default());
        Ok(Query(pairs.read(Unknown::Refuse)?))
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when exports would be stored: answered from what the writers last
/// saw, not a query, so that it is prompt however busy the readers are.
async fn readyz(State(state): State<AppState>) -> Response {
    match (state.readiness)() {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        )
            .into_response(),
    }
}

async fn self_metrics(State(state): State<AppState>) -> Response {
    // The database may be down: the collector's figures still answer.
    let system = crate::system::read(&state.store, (state.running)(), &state.slow_reads).await;
    let mut text = (state.self_metrics)(system.as_ref().ok().map(|s| s.database_bytes));
    match system {
        Ok(system) => text.push_str(&crate::system::prometheus(&system)),
        Err(err) => tracing::warn!(error = %err, "system figures unavailable"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn system(
    State(state): State<AppState>,
    Query(NoParams {}): Query<NoParams>,
) -> ApiResult<Json<crate::system::System>> {
    Ok(Json(
        crate::system::read(&state.store, (state.running)(), &state.slow_reads).await?,
    ))
}

async fn stats(
    State(state): State<AppState>,
    Query(NoParams {}): Query<NoParams>,
) -> ApiResult<Json<store::Stats>> {
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
    /// Older spans of the trace that retention removed.
    expired_spans: u64,
}

async fn trace(
    State(state): State<AppState>,
    Path(trace_id): Path<String>,
    Query(NoParams {}): Query<NoParams>,
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
        expired_spans: trace.expired_spans,
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

/// RED figures per service over the window (default: the last hour).
async fn services(
    State(state): State<AppState>,
    Query(time): Query<TimeParams>,
) -> ApiResult<Json<ServicesResponse>> {
    let window = time.check()?.window(LAST_HOUR, now_ns())?;
    Ok(Json(ServicesResponse {
        start_time_unix_nano: window.start,
        end_time_unix_nano: window.end,
        services: state
            .store
            .services(window.start, window.end, TREND_BUCKETS)
            .await?,
    }))
}

/// A service's releases in the window (default: the last hour), two of
/// them compared.
async fn releases(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(Windowed { time, query }): Query<Windowed<ReleasesQuery>>,
) -> ApiResult<Json<crate::releases::Releases>> {
    let window = time.check()?.window(LAST_HOUR, now_ns())?;
    let pick = query.pick()?;
    if !state.store.service_names().await?.contains(&name) {
        return Err(ApiError::NotFound(format!(
            "no service {name:?} has sent telemetry"
        )));
    }
    let rows = state
        .store
        .releases(&name, window.start, window.end)
        .await?;
    if let Some(pick) = pick {
        crate::releases::check(&name, &rows, pick)
            .map_err(|err| ApiError::BadRequest(err.to_string()))?;
    }
    let failures =
        crate::failures::read(&state.store, window.start, window.end, Some(&name)).await?;
    let span = (window.start, window.end);
    Ok(Json(crate::releases::releases(
        &name, span, &rows, &failures, pick,
    )))
}

/// A trace search's traces against the rest of their endpoint's (or the
/// `baseline` chosen) in the window (default: the last hour).
async fn compare(
    State(state): State<AppState>,
    Query(Windowed { time, query }): Query<Windowed<Also<TracesQuery, CompareQuery>>>,
) -> ApiResult<Json<crate::compare::Comparison>> {
    let window = time.check()?.window(LAST_HOUR, now_ns())?;
    let Also(search, own) = query;
    let query = search.store_query((Some(window.start), Some(window.end)), 20, 1000)?;
    let baseline = own.baseline.unwrap_or_default();
    Ok(Json(
        crate::compare::read(&state.store, &query, baseline).await?,
    ))
}

/// A trace against `with`, or a typical trace of its root.
async fn trace_compare(
    State(state): State<AppState>,
    Path(trace_id): Path<String>,
    Query(query): Query<crate::params::TraceCompareQuery>,
) -> ApiResult<Json<crate::trace_diff::TraceDiff>> {
    let read = |id: [u8; 16]| {
        let state = state.clone();
        async move {
            state
                .store
                .trace(&id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("no trace {}", hex::encode(id))))
        }
    };
    let here = read(parse_trace_id(&trace_id)?).await?;
    let with = match query.with {
        Some(id) => Some(read(id.0).await?),
        None => None,
    };
    crate::trace_diff::read(&state.store, &here, with.as_ref())
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no other trace of the same root within an hour of {trace_id}: name one with `with`"
            ))
        })
}

/// Failed traces of the window (default: the last hour) grouped by origin.
async fn failures(
    State(state): State<AppState>,
    Query(time): Query<TimeParams>,
) -> ApiResult<Json<crate::failures::Failures>> {
    let window = time.check()?.window(LAST_HOUR, now_ns())?;
    Ok(Json(
        crate::failures::read(&state.store, window.start, window.end, None).await?,
    ))
}

/// JSON by default; `format=csv` gives one table (`table=`, default `endpoints`).
fn report_response<R: Serialize>(
    report: &R,
    format: Option<Format>,
    table: Option<&str>,
    name: &str,
    tables: &[&str],
    table_of: fn(&R, &str) -> Option<String>,
) -> ApiResult<Response> {
    match format.unwrap_or(Format::Json) {
        Format::Json => Ok(Json(report).into_response()),
        Format::Csv => {
            let table = table.unwrap_or("endpoints");
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
    }
}

/// One metric over the window (default: the last hour) in 60 slices,
/// optionally one line per value of `group_by` (a point attribute, or
/// `service`).
async fn metric_chart(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(Windowed { time, query }): Query<Windowed<ChartQuery>>,
) -> ApiResult<Json<crate::metrics_chart::Chart>> {
    let window = time.check()?.window(LAST_HOUR, now_ns())?;
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
        query.group_by.as_deref(),
        window.start,
        window.end,
        crate::metrics_chart::SLICES,
    )))
}

/// The load report over the window (default: the last hour).
async fn load_report(
    State(state): State<AppState>,
    Query(Windowed { time, query }): Query<Windowed<LoadQuery>>,
) -> ApiResult<Response> {
    let window = time.check()?.window(LAST_HOUR, now_ns())?;
    let report = reports::load(
        &state.store,
        window,
        query.service.as_deref(),
        &mut crate::state::note_spans_read,
    )
    .await?;
    report_response(
        &report,
        query.format,
        query.table.as_deref(),
        "load",
        reports::csv::LOAD_TABLES,
        reports::csv::load_table,
    )
}

/// Every endpoint's rate, error rate and percentiles in the window (default:
/// the last hour) against an earlier one, changes past the noise marked.
async fn change_report(
    State(state): State<AppState>,
    Query(Windowed { time, query }): Query<Windowed<ChangeQuery>>,
) -> ApiResult<Json<reports::change::ThenAndNow>> {
    let window = time.check()?.window(LAST_HOUR, now_ns())?;
    let earlier = earlier_window(query.against.as_deref(), window)?;
    let change = reports::change(
        &state.store,
        window,
        earlier,
        query.service.as_deref(),
        &mut crate::state::note_spans_read,
    )
    .await?;
    Ok(Json(change))
}

/// The cost report over the window (default: the last hour).
async fn cost_report(
    State(state): State<AppState>,
    Query(Windowed { time, query }): Query<Windowed<CostQuery>>,
) -> ApiResult<Response> {
    let window = time.check()?.window(LAST_HOUR, now_ns())?;
    let report = reports::cost(
        &state.store,
        window,
        state.prices,
        &mut crate::state::note_spans_read,
    )
    .await?;
    report_response(
        &report,
        query.format,
        query.table.as_deref(),
        "cost",
        reports::csv::COST_TABLES,
        reports::csv::cost_table,
    )
}

/// Trace search over the window (default: all time), newest first or
/// longest first.
async fn traces(
    State(state): State<AppState>,
    Query(Windowed { time, query }): Query<Windowed<TracesQuery>>,
) -> ApiResult<Json<Vec<TraceSummary>>> {
    let bounds = time.check()?.bounds(now_ns());
    Ok(Json(
        state
            .store
            .traces(&query.store_query(bounds, 20, 1000)?)
            .await?,
    ))
}

#[derive(Serialize)]
struct RequestResponse {
    id: String,
    matched_as: Vec<store::Match>,
    trace_ids: Vec<String>,
    spans: Vec<SpanView>,
    logs: Vec<RequestLog>,
    error_origin: Option<ErrorOrigin>,
    /// Older spans of these traces that retention removed.
    expired_spans: u64,
}

async fn request(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(NoParams {}): Query<NoParams>,
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
        expired_spans: view.expired_spans,
    }))
}

/// Everything of a request (its traces' spans, the log records matched to
/// it) as an OTLP/JSON lines file, the Collector's file exporter format,
/// to download.
async fn request_otlp(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(NoParams {}): Query<NoParams>,
) -> ApiResult<Response> {
    let view = state.store.request(&id).await?.ok_or_else(|| {
        ApiError::NotFound(format!("no trace, span or request with id {:?}", id.trim()))
    })?;
    let logs: Vec<LogView> = view.logs.into_iter().map(|l| l.log).collect();
    let mut body = crate::otlp_export::lines(&view.spans, &logs).join("\n");
    body.push('\n');
    // The file is named by the id as typed, kept to what a file name takes.
    let name: String = id
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"request-{name}.otlp.jsonl\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// Log search over the window (default: all time), newest first.
async fn logs(
    State(state): State<AppState>,
    Query(Windowed { time, query }): Query<Windowed<LogsQuery>>,
) -> ApiResult<Json<Vec<LogView>>> {
    let bounds = time.check()?.bounds(now_ns());
    Ok(Json(state.store.logs(&query.store_query(bounds)?).await?))
}

async fn metrics(
    State(state): State<AppState>,
    Query(NoParams {}): Query<NoParams>,
) -> ApiResult<Json<Vec<store::MetricInfo>>> {
    Ok(Json(state.store.metrics().await?))
}

async fn metric_points(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<PointsQuery>,
) -> ApiResult<Json<Vec<store::MetricPointView>>> {
    let limit = query.limit.map_or(100, |n| n.0.clamp(1, 10_000));
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
