//! Jaeger's query API (the HTTP JSON one Jaeger's UI and Grafana's Jaeger
//! data source call), under `/jaeger`, so that Grafana opens loupe's traces:
//! its services and their operations, trace search, a trace by id, and the
//! dependencies between services.
//!
//! The shapes are Jaeger's (`cmd/query/app/http_handler.go`: every answer
//! `{"data","total","limit","offset","errors"}`; `model/json/model.go`: a
//! trace's spans with `references`, typed `tags` and `logs`, and its
//! `processes`); OpenTelemetry's data maps onto them as Jaeger's own
//! OTLP translator does: the parent a `CHILD_OF` reference and links
//! `FOLLOWS_FROM`, the kind the tag `span.kind`, a failed span's status
//! `otel.status_code` = `ERROR` with `error` = true, events as logs whose
//! `event` field is the name, the resource as the process. Times in
//! microseconds. The conversion is pure; the handlers only read.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value as JsonValue, json};
use store::SpanView;
use store::model::{SpanKind, StatusCode as SpanStatus};
use store::value::{Attributes, Value};

use crate::params::{Pairs, Window, now_ns};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/jaeger/api/services", get(services))
        .route(
            "/jaeger/api/services/{service}/operations",
            get(service_operations),
        )
        .route("/jaeger/api/operations", get(operations))
        .route("/jaeger/api/traces", get(search))
        .route("/jaeger/api/traces/{trace_id}", get(trace))
        .route("/jaeger/api/dependencies", get(dependencies))
}

/// Jaeger's envelope around every answer.
fn answer(status: StatusCode, data: JsonValue, total: usize, errors: JsonValue) -> Response {
    let body = json!({ "data": data, "total": total, "limit": 0, "offset": 0, "errors": errors });
    (status, Json(body)).into_response()
}

/// An error as Jaeger answers one.
fn error(status: StatusCode, message: &str) -> Response {
    let errors = json!([{ "code": status.as_u16(), "msg": message }]);
    answer(status, JsonValue::Null, 0, errors)
}

async fn services(State(state): State<AppState>) -> Response {
    match state.store.service_names().await {
        Ok(names) => answer(StatusCode::OK, json!(names), names.len(), JsonValue::Null),
        Err(err) => error(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    }
}

/// Jaeger's name of a span kind.
fn kind_name(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
        SpanKind::Unspecified => "",
    }
}

/// The span names of a service, each once (the legacy form the UI calls).
async fn service_operations(
    State(state): State<AppState>,
    Path(service): Path<String>,
) -> Response {
    match state.store.operations(Some(&service)).await {
        Ok(ops) => {
            let mut names: Vec<String> = ops.into_iter().map(|o| o.name).collect();
            names.dedup();
            answer(StatusCode::OK, json!(names), names.len(), JsonValue::Null)
        }
        Err(err) => error(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    }
}

/// A service's operations with their kinds, of one kind when `spanKind`
/// names it.
async fn operations(State(state): State<AppState>, pairs: Pairs) -> Response {
    let Some(service) = pairs.get("service").filter(|s| !s.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "parameter 'service' is required");
    };
    let kind = pairs.get("spanKind").unwrap_or_default();
    match state.store.operations(Some(service)).await {
        Ok(ops) => {
            let data: Vec<JsonValue> = ops
                .iter()
                .filter(|o| kind.is_empty() || kind_name(o.kind) == kind)
                .map(|o| json!({ "name": o.name, "spanKind": kind_name(o.kind) }))
                .collect();
            let total = data.len();
            answer(StatusCode::OK, json!(data), total, JsonValue::Null)
        }
        Err(err) => error(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    }
}

/// How far back a search looks when `start` is not given, as Jaeger's
/// query service does.
const LOOKBACK_NS: i64 = 2 * 24 * 3_600_000_000_000;
/// Traces a search answers when `limit` is not given, and at most.
const LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

/// A search as Jaeger's query parser reads one, in the store's terms.
#[derive(Debug)]
pub struct Search {
    pub query: store::TraceQuery,
    pub trace_ids: Vec<[u8; 16]>,
}

/// Reads Jaeger's search parameters (`service`, `operation`, `tags` as a
/// JSON object and `tag` as key:value, `start` and `end` in microseconds,
/// `minDuration` and `maxDuration` as Go durations, `limit`, `traceID`).
/// `error` = `true` or `false` is the trace's outcome; other tags are
/// attributes, compared as text. Pure but for the clock.
pub fn read_search(pairs: &Pairs, now: i64) -> Result<Search, String> {
    let given = |name: &str| pairs.get(name).filter(|v| !v.is_empty());
    let mut trace_ids = Vec::new();
    for id in pairs.all("traceID") {
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(id.trim(), &mut bytes)
            .map_err(|_| format!("cannot parse traceID param: {id:?} is not 32 hex digits"))?;
        trace_ids.push(bytes);
    }
    let service = given("service").map(str::to_owned);
    if service.is_none() && trace_ids.is_empty() {
        return Err("parameter 'service' is required".into());
    }
    let micros = |name: &str| -> Result<Option<i64>, String> {
        given(name)
            .map(|v| {
                v.parse::<i64>()
                    .map(|us| us.saturating_mul(1000))
                    .map_err(|_| {
                        format!("unable to parse param '{name}': {v:?} is not microseconds")
                    })
            })
            .transpose()
    };
    let end = micros("end")?.unwrap_or(now);
    let start = micros("start")?.unwrap_or(end - LOOKBACK_NS);
    let duration = |name: &str| -> Result<Option<i64>, String> {
        given(name)
            .map(|v| {
                go_duration(v).ok_or_else(|| {
                    format!(
                        "unable to parse param '{name}': {v:?} is not a duration like 100ms or 1.5s"
                    )
                })
            })
            .transpose()
    };
    let (min, max) = (duration("minDuration")?, duration("maxDuration")?);
    if let (Some(min), Some(max)) = (min, max)
        && max < min
    {
        return Err("'maxDuration' should be greater than 'minDuration'".into());
    }
    let mut tags: Vec<(String, String)> = Vec::new();
    for tag in pairs.all("tag") {
        let (key, value) = tag.split_once(':').ok_or_else(|| {
            format!("malformed 'tag' parameter, expecting key:value, received: {tag}")
        })?;
        tags.push((key.to_owned(), value.to_owned()));
    }
    for text in pairs.all("tags") {
        let map: std::collections::BTreeMap<String, String> = serde_json::from_str(text)
            .map_err(|err| format!("malformed 'tags' parameter, cannot unmarshal JSON: {err}"))?;
        tags.extend(map);
    }
    let mut failed = None;
    let mut attributes = Vec::new();
    for (key, value) in tags {
        match (key.as_str(), value.as_str()) {
            ("error", "true") => failed = Some(true),
            ("error", "false") => failed = Some(false),
            _ => attributes.push(store::AttributeFilter {
                key,
                comparison: store::Comparison::Equal,
                value,
            }),
        }
    }
    let limit = match given("limit") {
        None => LIMIT,
        Some(v) => v
            .parse::<u32>()
            .map_err(|_| format!("unable to parse param 'limit': {v:?} is not a number"))?
            .clamp(1, MAX_LIMIT),
    };
    let operation = given("operation").map(str::to_owned);
    // Jaeger bounds the duration of the spans it searched for: the
    // operation's own where one is named, else the trace's entry.
    let (span_bounds, entry_bounds) = match operation {
        Some(_) => ((min, max), (None, None)),
        None => ((None, None), (min, max)),
    };
    Ok(Search {
        query: store::TraceQuery {
            service,
            operation,
            failed,
            min_duration_ns: entry_bounds.0,
            max_duration_ns: entry_bounds.1,
            min_span_duration_ns: span_bounds.0,
            max_span_duration_ns: span_bounds.1,
            attributes,
            start: Some(start),
            end: Some(end),
            limit,
            ..store::TraceQuery::default()
        },
        trace_ids,
    })
}

/// A Go duration (`300ms`, `1.5s`, `2h45m`, `10us`, `10µs`) in
/// nanoseconds.
pub fn go_duration(text: &str) -> Option<i64> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += number * unit;
    }
    (total.is_finite() && total <= i64::MAX as f64).then_some(total as i64)
}

async fn search(State(state): State<AppState>, pairs: Pairs) -> Response {
    let search = match read_search(&pairs, now_ns()) {
        Ok(search) => search,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let found = async {
        let ids: Vec<String> = if search.trace_ids.is_empty() {
            let summaries = state.store.traces(&search.query).await?;
            summaries.into_iter().map(|s| s.trace_id).collect()
        } else {
            search.trace_ids.iter().map(hex::encode).collect()
        };
        // Every trace's spans in one read, then grouped in the order found.
        let spans = state.store.spans_of_traces(&ids).await?;
        let mut by_trace: std::collections::HashMap<String, Vec<SpanView>> =
            std::collections::HashMap::new();
        for span in spans {
            by_trace
                .entry(span.trace_id.clone())
                .or_default()
                .push(span);
        }
        let mut traces = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in &ids {
            match by_trace.get(id) {
                Some(spans) => traces.push(convert(id, spans)),
                None => missing.push(json!({ "msg": "trace not found", "traceID": id })),
            }
        }
        Ok::<_, store::StoreError>((traces, missing))
    };
    match found.await {
        Ok((traces, missing)) => {
            let errors = match missing.is_empty() {
                true => JsonValue::Null,
                false => json!(missing),
            };
            answer(StatusCode::OK, json!(traces), 0, errors)
        }
        Err(err) => error(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    }
}

/// The calls between services over `lookback` milliseconds (default a
/// day) before `endTs` (milliseconds, default now), from the load
/// report's edges.
async fn dependencies(State(state): State<AppState>, pairs: Pairs) -> Response {
    let millis = |name: &str| -> Result<Option<i64>, String> {
        pairs
            .get(name)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<i64>()
                    .map(|ms| ms.saturating_mul(1_000_000))
                    .map_err(|_| {
                        format!("unable to parse param '{name}': {v:?} is not milliseconds")
                    })
            })
            .transpose()
    };
    let window = millis("endTs").and_then(|end| {
        let end = end.unwrap_or_else(now_ns);
        let back = millis("lookback")?.unwrap_or(24 * 3_600_000_000_000);
        if back <= 0 {
            return Err("unable to parse param 'lookback': it must be more than 0".into());
        }
        Ok(Window {
            start: end.saturating_sub(back),
            end,
        })
    });
    let window = match window {
        Ok(window) => window,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let report = crate::reports::load(
        &state.store,
        window,
        None,
        &mut crate::state::note_spans_read,
    )
    .await;
    match report {
        Ok(report) => {
            let data: Vec<JsonValue> = report
                .edges
                .iter()
                .map(|e| json!({ "parent": e.caller, "child": e.callee, "callCount": e.calls }))
                .collect();
            answer(StatusCode::OK, json!(data), 0, JsonValue::Null)
        }
        Err(err) => error(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    }
}

async fn trace(State(state): State<AppState>, Path(trace_id): Path<String>) -> Response {
    let mut id = [0u8; 16];
    if hex::decode_to_slice(trace_id.trim(), &mut id).is_err() {
        let message = format!("trace id must be 32 hex characters, got {trace_id:?}");
        return error(StatusCode::BAD_REQUEST, &message);
    }
    match state.store.trace(&id).await {
        Ok(Some(view)) => answer(
            StatusCode::OK,
            json!([convert(&view.trace_id, &view.spans)]),
            0,
            JsonValue::Null,
        ),
        Ok(None) => error(StatusCode::NOT_FOUND, "trace not found"),
        Err(err) => error(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    }
}

/// One trace in Jaeger's JSON model. Pure.
pub fn convert(trace_id: &str, spans: &[SpanView]) -> JsonValue {
    // A process per distinct resource, numbered as they first appear.
    let mut processes: Vec<(&str, &Attributes)> = Vec::new();
    let mut converted = Vec::with_capacity(spans.len());
    for s in spans {
        let at = processes
            .iter()
            .position(|(service, attrs)| *service == s.service && **attrs == s.resource);
        let n = at.unwrap_or_else(|| {
            processes.push((&s.service, &s.resource));
            processes.len() - 1
        });
        converted.push(span(s, format!("p{}", n + 1)));
    }
    let spans = converted;
    let processes: serde_json::Map<String, JsonValue> = processes
        .iter()
        .enumerate()
        .map(|(i, (service, attrs))| {
            let tags: Vec<JsonValue> = attrs
                .0
                .iter()
                .filter(|(key, _)| key != "service.name")
                .map(|(key, value)| tag(key, value))
                .collect();
            (
                format!("p{}", i + 1),
                json!({ "serviceName": service, "tags": tags }),
            )
        })
        .collect();
    json!({
        "traceID": trace_id,
        "spans": spans,
        "processes": processes,
        "warnings": JsonValue::Null,
    })
}

fn micros(ns: i64) -> i64 {
    ns.div_euclid(1000)
}

fn span(s: &SpanView, process: String) -> JsonValue {
    let mut references = Vec::new();
    if let Some(parent) = &s.parent_span_id {
        references.push(json!({ "refType": "CHILD_OF", "traceID": s.trace_id, "spanID": parent }));
    }
    for link in &s.links {
        references.push(json!({
            "refType": "FOLLOWS_FROM",
            "traceID": hex::encode(&link.trace_id),
            "spanID": hex::encode(&link.span_id),
        }));
    }
    let mut tags: Vec<JsonValue> = s.attributes.0.iter().map(|(k, v)| tag(k, v)).collect();
    let kind = kind_name(s.kind);
    if !kind.is_empty() {
        tags.push(json!({ "key": "span.kind", "type": "string", "value": kind }));
    }
    match s.status.code {
        SpanStatus::Error => {
            tags.push(json!({ "key": "otel.status_code", "type": "string", "value": "ERROR" }));
            tags.push(json!({ "key": "error", "type": "bool", "value": true }));
        }
        SpanStatus::Ok => {
            tags.push(json!({ "key": "otel.status_code", "type": "string", "value": "OK" }));
        }
        SpanStatus::Unset => {}
    }
    if !s.status.message.is_empty() {
        tags.push(json!({ "key": "otel.status_description", "type": "string", "value": s.status.message }));
    }
    if !s.scope.name.is_empty() {
        tags.push(json!({ "key": "otel.scope.name", "type": "string", "value": s.scope.name }));
    }
    if !s.scope.version.is_empty() {
        tags.push(
            json!({ "key": "otel.scope.version", "type": "string", "value": s.scope.version }),
        );
    }
    if !s.trace_state.is_empty() {
        tags.push(json!({ "key": "w3c.tracestate", "type": "string", "value": s.trace_state }));
    }
    let logs: Vec<JsonValue> = s
        .events
        .iter()
        .map(|e| {
            let mut fields = vec![json!({ "key": "event", "type": "string", "value": e.name })];
            fields.extend(e.attributes.0.iter().map(|(k, v)| tag(k, v)));
            json!({ "timestamp": micros(e.time_unix_nano), "fields": fields })
        })
        .collect();
    json!({
        "traceID": s.trace_id,
        "spanID": s.span_id,
        "flags": s.flags,
        "operationName": s.name,
        "references": references,
        "startTime": micros(s.start_time_unix_nano),
        "duration": micros(s.end_time_unix_nano - s.start_time_unix_nano),
        "tags": tags,
        "logs": logs,
        "processID": process,
        "warnings": JsonValue::Null,
    })
}

/// A typed tag. Jaeger's types are string, bool, int64, float64 and
/// binary; arrays and maps travel as their JSON text, as Jaeger's
/// translator sends them.
fn tag(key: &str, value: &Value) -> JsonValue {
    let (kind, value) = match value {
        Value::String(s) => ("string", json!(s)),
        Value::Bool(b) => ("bool", json!(b)),
        Value::Int(i) => ("int64", json!(i)),
        Value::Double(d) if d.is_finite() => ("float64", json!(d)),
        Value::Double(d) => ("string", json!(d.to_string())),
        Value::Bytes(b) => ("binary", json!(hex::encode(b))),
        Value::Empty => ("string", json!("")),
        Value::Array(_) | Value::Map(_) => ("string", json!(plain(value).to_string())),
    };
    json!({ "key": key, "type": kind, "value": value })
}

/// A value as plain JSON (an array, an object).
fn plain(value: &Value) -> JsonValue {
    match value {
        Value::Empty => JsonValue::Null,
        Value::String(s) => json!(s),
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Double(d) => json!(d),
        Value::Bytes(b) => json!(hex::encode(b)),
        Value::Array(values) => JsonValue::Array(values.iter().map(plain).collect()),
        Value::Map(map) => {
            JsonValue::Object(map.0.iter().map(|(k, v)| (k.clone(), plain(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_typed_tags() {
        let cases = [
            (
                Value::String("a".into()),
                json!({"key": "k", "type": "string", "value": "a"}),
            ),
            (
                Value::Int(7),
                json!({"key": "k", "type": "int64", "value": 7}),
            ),
            (
                Value::Double(0.5),
                json!({"key": "k", "type": "float64", "value": 0.5}),
            ),
            (
                Value::Bool(true),
                json!({"key": "k", "type": "bool", "value": true}),
            ),
            (
                Value::Bytes(vec![1, 255]),
                json!({"key": "k", "type": "binary", "value": "01ff"}),
            ),
            (
                Value::Array(vec![Value::Int(1), Value::String("x".into())]),
                json!({"key": "k", "type": "string", "value": "[1,\"x\"]"}),
            ),
        ];
        for (value, want) in cases {
            assert_eq!(tag("k", &value), want, "{value:?}");
        }
        assert_eq!(micros(1_999), 1);
        for (text, want) in [
            ("300ms", Some(300_000_000)),
            ("1.5s", Some(1_500_000_000)),
            ("2h45m", Some((2 * 3600 + 45 * 60) * 1_000_000_000)),
            ("10us", Some(10_000)),
            ("10µs", Some(10_000)),
            ("7ns", Some(7)),
            ("", None),
            ("5", None),
            ("5 parsecs", None),
            ("ms", None),
        ] {
            assert_eq!(go_duration(text), want, "{text:?}");
        }
        assert_eq!(convert("t", &[])["spans"], json!([]));
    }
}
