//! Small constructors for batches, and the views a written item must read
//! back as.

use store::Batch;
use store::model::{
    Derived, LogRecord, MetricDescriptor, MetricKind, MetricPoint, PointValue, Resource, Scope,
    Span, SpanId, SpanKind, Status, StatusCode, TraceId,
};
use store::value::{Attributes, Value};
use store::{LogView, ScopeView, SpanView};

/// A plausible "now": 2023-11-14T22:13:20Z, in nanoseconds.
pub const T0: i64 = 1_700_000_000_000_000_000;

pub fn s(text: &str) -> Value {
    Value::String(text.to_owned())
}

pub fn attrs<const N: usize>(pairs: [(&str, Value); N]) -> Attributes {
    Attributes(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

pub fn map<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Map(attrs(pairs))
}

/// A trace id unique per `n`, with both ends non-zero.
pub fn tid(n: u64) -> TraceId {
    let mut id = [0u8; 16];
    id[0] = 0xab;
    id[8..].copy_from_slice(&n.to_be_bytes());
    id[7] = 0x01;
    id
}

pub fn sid(n: u64) -> SpanId {
    let mut id = n.to_be_bytes();
    id[0] |= 0x80;
    id
}

pub fn resource(service: &str) -> Resource {
    Resource {
        service: service.to_owned(),
        attributes: attrs([("service.name", s(service))]),
        dropped_attributes_count: 0,
        schema_url: String::new(),
    }
}

pub fn scope(name: &str) -> Scope {
    Scope {
        name: name.to_owned(),
        version: "1.0.0".to_owned(),
        attributes: Attributes::default(),
        dropped_attributes_count: 0,
        schema_url: String::new(),
    }
}

/// A span of resource 0 and scope 0 with nothing but what is given.
pub fn span(trace_id: TraceId, span_id: SpanId, parent: Option<SpanId>, name: &str) -> Span {
    Span {
        resource_idx: 0,
        scope_idx: 0,
        trace_id,
        span_id,
        parent_span_id: parent,
        trace_state: String::new(),
        flags: 0,
        name: name.to_owned(),
        kind: SpanKind::Internal,
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 1_000,
        attributes: Attributes::default(),
        dropped_attributes_count: 0,
        events: Vec::new(),
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        status: Status {
            code: StatusCode::Unset,
            message: String::new(),
        },
        derived: Derived::default(),
        wire_bytes: 0,
    }
}

pub fn timed(mut span: Span, start: i64, end: i64) -> Span {
    span.start_time_unix_nano = start;
    span.end_time_unix_nano = end;
    span
}

pub fn failed(mut span: Span) -> Span {
    span.status = Status {
        code: StatusCode::Error,
        message: "failed".to_owned(),
    };
    span.derived.is_error = true;
    span
}

pub fn on_resource(mut span: Span, resource_idx: usize) -> Span {
    span.resource_idx = resource_idx;
    span
}

/// A log record of resource 0 and scope 0, observed a little after `time`.
pub fn log(time: i64, body: Value) -> LogRecord {
    LogRecord {
        resource_idx: 0,
        scope_idx: 0,
        time_unix_nano: time,
        observed_time_unix_nano: time + 7,
        severity_number: 9,
        severity_text: "INFO".to_owned(),
        body,
        event_name: String::new(),
        attributes: Attributes::default(),
        dropped_attributes_count: 0,
        flags: 0,
        trace_id: None,
        span_id: None,
        request_id: None,
        wire_bytes: 0,
    }
}

pub fn descriptor(name: &str, kind: MetricKind) -> MetricDescriptor {
    MetricDescriptor {
        name: name.to_owned(),
        description: format!("what {name} measures"),
        unit: "ms".to_owned(),
        kind,
        temporality: 0,
        monotonic: false,
        metadata: Attributes::default(),
    }
}

/// A point of resource 0 and scope 0.
pub fn point(
    metric: MetricDescriptor,
    time: i64,
    attributes: Attributes,
    value: PointValue,
) -> MetricPoint {
    MetricPoint {
        resource_idx: 0,
        scope_idx: 0,
        metric,
        attributes,
        start_time_unix_nano: time - 60_000_000_000,
        time_unix_nano: time,
        flags: 0,
        value,
        exemplars: Vec::new(),
        wire_bytes: 0,
    }
}

pub fn gauge(name: &str, time: i64, attributes: Attributes, value: Value) -> MetricPoint {
    point(
        descriptor(name, MetricKind::Gauge),
        time,
        attributes,
        PointValue::Value(value),
    )
}

/// One resource, one scope, and the items given.
pub fn batch_of(
    service: &str,
    spans: Vec<Span>,
    logs: Vec<LogRecord>,
    metric_points: Vec<MetricPoint>,
) -> Batch {
    Batch {
        resources: vec![resource(service)],
        scopes: vec![scope("conformance")],
        spans,
        logs,
        metric_points,
    }
}

pub fn spans_batch(service: &str, spans: Vec<Span>) -> Batch {
    batch_of(service, spans, Vec::new(), Vec::new())
}

pub fn logs_batch(service: &str, logs: Vec<LogRecord>) -> Batch {
    batch_of(service, Vec::new(), logs, Vec::new())
}

pub fn points_batch(service: &str, points: Vec<MetricPoint>) -> Batch {
    batch_of(service, Vec::new(), Vec::new(), points)
}

/// What `trace()` must return for span `i` of `batch`.
pub fn expected_span(batch: &Batch, i: usize) -> SpanView {
    let span = &batch.spans[i];
    let resource = &batch.resources[span.resource_idx];
    let scope = &batch.scopes[span.scope_idx];
    SpanView {
        trace_id: hex::encode(span.trace_id),
        span_id: hex::encode(span.span_id),
        parent_span_id: span.parent_span_id.map(hex::encode),
        service: resource.service.clone(),
        name: span.name.clone(),
        kind: span.kind,
        start_time_unix_nano: span.start_time_unix_nano,
        end_time_unix_nano: span.end_time_unix_nano,
        duration_ns: span.end_time_unix_nano - span.start_time_unix_nano,
        status: span.status.clone(),
        is_error: span.derived.is_error,
        attributes: span.attributes.clone(),
        resource: resource.attributes.clone(),
        resource_schema_url: resource.schema_url.clone(),
        scope: ScopeView {
            name: scope.name.clone(),
            version: scope.version.clone(),
            attributes: scope.attributes.clone(),
        },
        events: span.events.clone(),
        links: span.links.clone(),
        trace_state: span.trace_state.clone(),
        flags: span.flags,
        dropped_attributes_count: span.dropped_attributes_count,
        dropped_events_count: span.dropped_events_count,
        dropped_links_count: span.dropped_links_count,
        request_id: span.derived.request_id.clone(),
    }
}

/// What the log readers must return for log record `i` of `batch`.
pub fn expected_log(batch: &Batch, i: usize) -> LogView {
    let log = &batch.logs[i];
    let resource = &batch.resources[log.resource_idx];
    let scope = &batch.scopes[log.scope_idx];
    LogView {
        time_unix_nano: log.time_unix_nano,
        observed_time_unix_nano: log.observed_time_unix_nano,
        service: resource.service.clone(),
        severity_number: log.severity_number,
        severity_text: log.severity_text.clone(),
        body: log.body.clone(),
        event_name: log.event_name.clone(),
        attributes: log.attributes.clone(),
        dropped_attributes_count: log.dropped_attributes_count,
        flags: log.flags,
        trace_id: log.trace_id.map(hex::encode),
        span_id: log.span_id.map(hex::encode),
        request_id: log.request_id.clone(),
        resource: resource.attributes.clone(),
        scope: ScopeView {
            name: scope.name.clone(),
            version: scope.version.clone(),
            attributes: scope.attributes.clone(),
        },
    }
}

/// Exact equality of anything holding `Value`s: `Debug` tells `Int(1)` from
/// `Double(1.0)` and `0.0` from `-0.0`, prints every finite double so that it
/// reads back to the same bits, and prints NaN as `NaN` on both sides, which
/// `PartialEq` would call unequal.
#[track_caller]
pub fn assert_same<T: std::fmt::Debug>(got: &T, want: &T, what: &str) {
    let got = format!("{got:#?}");
    let want = format!("{want:#?}");
    if got != want {
        let line = got
            .lines()
            .zip(want.lines())
            .position(|(g, w)| g != w)
            .unwrap_or(0);
        panic!(
            "{what} differs (first at line {line}):\n  got:  {}\n  want: {}\n--- got ---\n{got}\n--- want ---\n{want}",
            got.lines().nth(line).unwrap_or(""),
            want.lines().nth(line).unwrap_or(""),
        );
    }
}

/// Every field of a span view, one by one, then the whole.
#[track_caller]
pub fn assert_span(got: &SpanView, want: &SpanView) {
    let id = &want.span_id;
    assert_eq!(got.trace_id, want.trace_id, "span {id}: trace_id");
    assert_eq!(got.span_id, want.span_id, "span {id}: span_id");
    assert_eq!(got.parent_span_id, want.parent_span_id, "span {id}: parent");
    assert_eq!(got.service, want.service, "span {id}: service");
    assert_eq!(got.name, want.name, "span {id}: name");
    assert_eq!(got.kind, want.kind, "span {id}: kind");
    assert_eq!(
        got.start_time_unix_nano, want.start_time_unix_nano,
        "span {id}: start"
    );
    assert_eq!(
        got.end_time_unix_nano, want.end_time_unix_nano,
        "span {id}: end"
    );
    assert_eq!(got.duration_ns, want.duration_ns, "span {id}: duration");
    assert_eq!(got.status, want.status, "span {id}: status");
    assert_eq!(got.is_error, want.is_error, "span {id}: is_error");
    assert_same(
        &got.attributes,
        &want.attributes,
        &format!("span {id}: attributes"),
    );
    assert_same(
        &got.resource,
        &want.resource,
        &format!("span {id}: resource"),
    );
    assert_eq!(
        got.resource_schema_url, want.resource_schema_url,
        "span {id}: schema_url"
    );
    assert_same(&got.scope, &want.scope, &format!("span {id}: scope"));
    assert_same(&got.events, &want.events, &format!("span {id}: events"));
    assert_same(&got.links, &want.links, &format!("span {id}: links"));
    assert_eq!(got.trace_state, want.trace_state, "span {id}: trace_state");
    assert_eq!(got.flags, want.flags, "span {id}: flags");
    assert_eq!(
        got.dropped_attributes_count, want.dropped_attributes_count,
        "span {id}: dropped_attributes_count"
    );
    assert_eq!(
        got.dropped_events_count, want.dropped_events_count,
        "span {id}: dropped_events_count"
    );
    assert_eq!(
        got.dropped_links_count, want.dropped_links_count,
        "span {id}: dropped_links_count"
    );
    assert_eq!(got.request_id, want.request_id, "span {id}: request_id");
    assert_same(got, want, &format!("span {id}"));
}

/// Every field of a log view, one by one, then the whole.
#[track_caller]
pub fn assert_log(got: &LogView, want: &LogView) {
    let at = want.observed_time_unix_nano;
    assert_eq!(got.time_unix_nano, want.time_unix_nano, "log @{at}: time");
    assert_eq!(
        got.observed_time_unix_nano, want.observed_time_unix_nano,
        "log @{at}: observed time"
    );
    assert_eq!(got.service, want.service, "log @{at}: service");
    assert_eq!(
        got.severity_number, want.severity_number,
        "log @{at}: severity_number"
    );
    assert_eq!(
        got.severity_text, want.severity_text,
        "log @{at}: severity_text"
    );
    assert_same(&got.body, &want.body, &format!("log @{at}: body"));
    assert_eq!(got.event_name, want.event_name, "log @{at}: event_name");
    assert_same(
        &got.attributes,
        &want.attributes,
        &format!("log @{at}: attributes"),
    );
    assert_eq!(
        got.dropped_attributes_count, want.dropped_attributes_count,
        "log @{at}: dropped_attributes_count"
    );
    assert_eq!(got.flags, want.flags, "log @{at}: flags");
    assert_eq!(got.trace_id, want.trace_id, "log @{at}: trace_id");
    assert_eq!(got.span_id, want.span_id, "log @{at}: span_id");
    assert_eq!(got.request_id, want.request_id, "log @{at}: request_id");
    assert_same(
        &got.resource,
        &want.resource,
        &format!("log @{at}: resource"),
    );
    assert_same(&got.scope, &want.scope, &format!("log @{at}: scope"));
    assert_same(got, want, &format!("log @{at}"));
}

/// Doubles whose shortest decimal forms are long and awkward, from a fixed
/// xorshift sequence over their bits, so that a lossy float parser shows.
pub fn awkward_doubles(n: usize) -> Vec<f64> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let d = f64::from_bits(state);
        if d.is_finite() {
            out.push(d);
        }
    }
    out
}
