//! Jaeger's query API (the HTTP JSON one Jaeger's UI and Grafana's Jaeger
//! data source call), under `/jaeger`, so that Grafana opens loupe's traces:
//! `/jaeger/api/services` and `/jaeger/api/traces/{id}` so far.
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

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/jaeger/api/services", get(services))
        .route("/jaeger/api/traces/{trace_id}", get(trace))
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
    let kind = match s.kind {
        SpanKind::Server => Some("server"),
        SpanKind::Client => Some("client"),
        SpanKind::Producer => Some("producer"),
        SpanKind::Consumer => Some("consumer"),
        SpanKind::Internal => Some("internal"),
        SpanKind::Unspecified => None,
    };
    if let Some(kind) = kind {
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
        assert_eq!(convert("t", &[])["spans"], json!([]));
    }
}
