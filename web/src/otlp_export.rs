//! Stored spans and log records back into OTLP/JSON, one export request a
//! line: the format of the OpenTelemetry Collector's file exporter (and
//! what its `otlpjsonfile` receiver reads), so that a request can be handed
//! to a colleague, attached to a bug report, or loaded into another loupe
//! (`loupe import`). Pure.
//!
//! The mapping is OTLP/JSON's: ids as hex, 64-bit integers as decimal
//! strings, enums as numbers, bytes as base64. Spans are grouped by their
//! resource and scope as an SDK batches them.

use std::collections::HashMap;

use serde_json::{Map, Value as Json, json};
use store::value::{Attributes, Value};
use store::{LogView, SpanView};

/// The file's lines: the spans' export request, then the log records',
/// each left out when there is nothing to put in it.
pub fn lines(spans: &[SpanView], logs: &[LogView]) -> Vec<String> {
    let mut out = Vec::new();
    if !spans.is_empty() {
        out.push(json!({ "resourceSpans": resource_spans(spans) }).to_string());
    }
    if !logs.is_empty() {
        out.push(json!({ "resourceLogs": resource_logs(logs) }).to_string());
    }
    out
}

/// Items of one scope, under it.
type Scoped<'a, T> = (Json, Vec<&'a T>);

/// Items grouped by resource, then scope, in the order each first appears.
fn grouped<T>(
    items: &[T],
    resource: impl Fn(&T) -> Json,
    scope: impl Fn(&T) -> Json,
) -> Vec<(Json, Vec<Scoped<'_, T>>)> {
    let mut out: Vec<(Json, Vec<Scoped<'_, T>>)> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for item in items {
        let r = resource(item);
        let i = *at.entry(r.to_string()).or_insert_with(|| {
            out.push((r, Vec::new()));
            out.len() - 1
        });
        let s = scope(item);
        let scopes = &mut out[i].1;
        match scopes.iter_mut().find(|(known, _)| *known == s) {
            Some((_, members)) => members.push(item),
            None => scopes.push((s, vec![item])),
        }
    }
    out
}

fn resource_spans(spans: &[SpanView]) -> Vec<Json> {
    let groups = grouped(
        spans,
        |s| json!({ "resource": { "attributes": key_values(&s.resource) }, "schemaUrl": s.resource_schema_url }),
        |s| scope(&s.scope),
    );
    groups
        .into_iter()
        .map(|(mut resource, scopes)| {
            let scope_spans: Vec<Json> = scopes
                .into_iter()
                .map(|(scope, spans)| {
                    json!({ "scope": scope, "spans": spans.into_iter().map(span).collect::<Vec<_>>() })
                })
                .collect();
            resource["scopeSpans"] = Json::Array(scope_spans);
            resource
        })
        .collect()
}

fn resource_logs(logs: &[LogView]) -> Vec<Json> {
    let groups = grouped(
        logs,
        |l| json!({ "resource": { "attributes": key_values(&l.resource) } }),
        |l| scope(&l.scope),
    );
    groups
        .into_iter()
        .map(|(mut resource, scopes)| {
            let scope_logs: Vec<Json> = scopes
                .into_iter()
                .map(|(scope, logs)| {
                    json!({ "scope": scope, "logRecords": logs.into_iter().map(log).collect::<Vec<_>>() })
                })
                .collect();
            resource["scopeLogs"] = Json::Array(scope_logs);
            resource
        })
        .collect()
}

fn scope(s: &store::views::ScopeView) -> Json {
    json!({ "name": s.name, "version": s.version, "attributes": key_values(&s.attributes) })
}

fn span(s: &SpanView) -> Json {
    let mut out = json!({
        "traceId": s.trace_id,
        "spanId": s.span_id,
        "traceState": s.trace_state,
        "flags": s.flags,
        "name": s.name,
        "kind": s.kind.as_i32(),
        "startTimeUnixNano": s.start_time_unix_nano.to_string(),
        "endTimeUnixNano": s.end_time_unix_nano.to_string(),
        "attributes": key_values(&s.attributes),
        "droppedAttributesCount": s.dropped_attributes_count,
        "events": s.events.iter().map(|e| json!({
            "timeUnixNano": e.time_unix_nano.to_string(),
            "name": e.name,
            "attributes": key_values(&e.attributes),
            "droppedAttributesCount": e.dropped_attributes_count,
        })).collect::<Vec<_>>(),
        "droppedEventsCount": s.dropped_events_count,
        "links": s.links.iter().map(|l| json!({
            "traceId": hex::encode(&l.trace_id),
            "spanId": hex::encode(&l.span_id),
            "traceState": l.trace_state,
            "attributes": key_values(&l.attributes),
            "droppedAttributesCount": l.dropped_attributes_count,
            "flags": l.flags,
        })).collect::<Vec<_>>(),
        "droppedLinksCount": s.dropped_links_count,
        "status": { "code": s.status.code.as_i32(), "message": s.status.message },
    });
    if let Some(parent) = &s.parent_span_id {
        out["parentSpanId"] = json!(parent);
    }
    out
}

fn log(l: &LogView) -> Json {
    let mut out = json!({
        "timeUnixNano": l.time_unix_nano.to_string(),
        "observedTimeUnixNano": l.observed_time_unix_nano.to_string(),
        "severityNumber": l.severity_number,
        "severityText": l.severity_text,
        "body": any_value(&l.body),
        "attributes": key_values(&l.attributes),
        "droppedAttributesCount": l.dropped_attributes_count,
        "flags": l.flags,
    });
    if !l.event_name.is_empty() {
        out["eventName"] = json!(l.event_name);
    }
    if let Some(trace_id) = &l.trace_id {
        out["traceId"] = json!(trace_id);
    }
    if let Some(span_id) = &l.span_id {
        out["spanId"] = json!(span_id);
    }
    out
}

fn key_values(attributes: &Attributes) -> Json {
    Json::Array(
        attributes
            .0
            .iter()
            .map(|(key, value)| json!({ "key": key, "value": any_value(value) }))
            .collect(),
    )
}

/// An `AnyValue`; the empty one is `{}`.
fn any_value(value: &Value) -> Json {
    let mut out = Map::new();
    match value {
        Value::Empty => {}
        Value::String(s) => {
            out.insert("stringValue".into(), json!(s));
        }
        Value::Bool(b) => {
            out.insert("boolValue".into(), json!(b));
        }
        Value::Int(i) => {
            out.insert("intValue".into(), json!(i.to_string()));
        }
        // JSON has no NaN or infinities; OTLP/JSON spells them as strings.
        Value::Double(d) if d.is_finite() => {
            out.insert("doubleValue".into(), json!(d));
        }
        Value::Double(d) => {
            let text = match (d.is_nan(), d.is_sign_positive()) {
                (true, _) => "NaN",
                (false, true) => "Infinity",
                (false, false) => "-Infinity",
            };
            out.insert("doubleValue".into(), json!(text));
        }
        Value::Bytes(b) => {
            out.insert("bytesValue".into(), json!(base64(b)));
        }
        Value::Array(values) => {
            let values: Vec<Json> = values.iter().map(any_value).collect();
            out.insert("arrayValue".into(), json!({ "values": values }));
        }
        Value::Map(map) => {
            out.insert("kvlistValue".into(), json!({ "values": key_values(map) }));
        }
    }
    Json::Object(out)
}

/// Standard base64 with padding, as proto3's JSON mapping writes bytes.
fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, &b| (n << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(TABLE[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_take_their_otlp_json_spelling() {
        let cases = [
            (Value::Empty, json!({})),
            (Value::String("a".into()), json!({"stringValue": "a"})),
            (Value::Int(-7), json!({"intValue": "-7"})),
            (Value::Double(0.5), json!({"doubleValue": 0.5})),
            (Value::Double(f64::NAN), json!({"doubleValue": "NaN"})),
            (
                Value::Double(f64::NEG_INFINITY),
                json!({"doubleValue": "-Infinity"}),
            ),
            (Value::Bool(true), json!({"boolValue": true})),
            (
                Value::Bytes(b"hi!?".to_vec()),
                json!({"bytesValue": "aGkhPw=="}),
            ),
            (
                Value::Array(vec![Value::Int(1), Value::String("x".into())]),
                json!({"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "x"}]}}),
            ),
            (
                Value::Map(Attributes(vec![("k".into(), Value::Bool(false))])),
                json!({"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": false}}]}}),
            ),
        ];
        for (value, want) in cases {
            assert_eq!(any_value(&value), want, "{value:?}");
        }
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert!(lines(&[], &[]).is_empty());
    }
}
