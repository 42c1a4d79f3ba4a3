//! The decoding budget's estimates against what decoding really asks the
//! allocator for, counted by this test binary's own allocator: each estimate
//! must be an upper bound, not a loose one, and an ordinary export must fit
//! the budget whatever its size.

// A global allocator can only be written with `unsafe`; this one only counts.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use collector::decode::{self, Kind};
use collector::ingest::DECODED_PER_BODY_BYTE;
use collector::otlp_json;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Summary,
    SummaryDataPoint, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde_json::json;

struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grow(bytes: usize) {
    let live = LIVE.get() + bytes;
    LIVE.set(live);
    PEAK.set(PEAK.get().max(live));
}

fn shrink(bytes: usize) {
    LIVE.set(LIVE.get().saturating_sub(bytes));
}

// SAFETY: every call is passed on to the system allocator unchanged; the
// counters are thread-local cells that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: the caller's layout, passed on as the trait requires.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrink(layout.size());
        // SAFETY: `ptr` came from `System` with this layout (every allocation here does).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            grow(new_size - layout.size());
        } else {
            shrink(layout.size() - new_size);
        }
        // SAFETY: as for `dealloc`; `new_size` is the caller's, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most bytes live at once, beyond those live before, while `f` runs
/// (what it returns is dropped inside).
fn peak<T>(f: impl FnOnce() -> T) -> usize {
    let before = LIVE.get();
    PEAK.set(before);
    drop(f());
    PEAK.get() - before
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn attributes(i: usize) -> Vec<KeyValue> {
    use any_value::Value as V;
    vec![
        kv("http.request.method", V::StringValue("POST".into())),
        kv("http.route", V::StringValue("/checkout/{id}".into())),
        kv("url.path", V::StringValue(format!("/checkout/{i}"))),
        kv("http.response.status_code", V::IntValue(200)),
        kv("server.port", V::IntValue(8080)),
        kv(
            "user_agent.original",
            V::StringValue("python-requests/2.32".into()),
        ),
        kv("app.ratio", V::DoubleValue(0.25)),
        kv("app.cached", V::BoolValue(i.is_multiple_of(2))),
        kv("request.id", V::StringValue(format!("req-{i:08}"))),
        kv(
            "app.tags",
            V::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(V::StringValue("a".into())),
                    },
                    AnyValue {
                        value: Some(V::IntValue(2)),
                    },
                ],
            }),
        ),
        kv(
            "app.map",
            V::KvlistValue(KeyValueList {
                values: vec![kv("inner", V::StringValue("x".into()))],
            }),
        ),
    ]
}

fn resource() -> Option<Resource> {
    use any_value::Value::StringValue;
    Some(Resource {
        attributes: vec![
            kv("service.name", StringValue("checkout".into())),
            kv("service.version", StringValue("1.4.2".into())),
            kv("host.name", StringValue("web-7f9c".into())),
        ],
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "opentelemetry.instrumentation.fastapi".into(),
        version: "0.48b0".into(),
        ..Default::default()
    })
}

fn traces(spans: usize) -> ExportTraceServiceRequest {
    let spans = (0..spans)
        .map(|i| Span {
            trace_id: vec![i as u8; 16],
            span_id: vec![i as u8; 8],
            parent_span_id: vec![1; 8],
            name: "POST /checkout/{id}".into(),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            end_time_unix_nano: 1_700_000_000_100_000_000 + i as u64,
            attributes: attributes(i),
            events: vec![Event {
                time_unix_nano: 1_700_000_000_050_000_000,
                name: "exception".into(),
                attributes: vec![kv(
                    "exception.message",
                    any_value::Value::StringValue("card declined".into()),
                )],
                ..Default::default()
            }],
            links: vec![Link {
                trace_id: vec![9; 16],
                span_id: vec![9; 8],
                ..Default::default()
            }],
            status: Some(Status {
                message: "boom".into(),
                code: 2,
            }),
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn logs(records: usize) -> ExportLogsServiceRequest {
    let log_records = (0..records)
        .map(|i| LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(format!(
                    "order {i} paid with card ending 4242 after 2 attempts"
                ))),
            }),
            attributes: attributes(i)[..4].to_vec(),
            trace_id: vec![i as u8; 16],
            span_id: vec![i as u8; 8],
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn metrics(points: usize) -> ExportMetricsServiceRequest {
    let labels = |i: usize| {
        vec![kv(
            "http.route",
            any_value::Value::StringValue(format!("/r/{}", i % 7)),
        )]
    };
    let exemplar = || Exemplar {
        span_id: vec![1; 8],
        trace_id: vec![2; 16],
        value: Some(opentelemetry_proto::tonic::metrics::v1::exemplar::Value::AsDouble(1.5)),
        ..Default::default()
    };
    let metric = |name: &str, data| Metric {
        name: name.into(),
        unit: "s".into(),
        data: Some(data),
        ..Default::default()
    };
    let metrics = vec![
        metric(
            "queue.depth",
            metric::Data::Gauge(Gauge {
                data_points: (0..points)
                    .map(|i| NumberDataPoint {
                        attributes: labels(i),
                        time_unix_nano: 1,
                        value: Some(number_data_point::Value::AsInt(i as i64)),
                        exemplars: vec![exemplar()],
                        ..Default::default()
                    })
                    .collect(),
            }),
        ),
        metric(
            "http.server.request.duration",
            metric::Data::Histogram(Histogram {
                data_points: (0..points)
                    .map(|i| HistogramDataPoint {
                        attributes: labels(i),
                        count: 10,
                        bucket_counts: vec![1; 15],
                        explicit_bounds: vec![0.5; 14],
                        exemplars: vec![exemplar()],
                        ..Default::default()
                    })
                    .collect(),
                aggregation_temporality: 2,
            }),
        ),
        metric(
            "rpc.duration",
            metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points: (0..points)
                    .map(|i| ExponentialHistogramDataPoint {
                        attributes: labels(i),
                        count: 10,
                        positive: Some(Buckets {
                            offset: -3,
                            bucket_counts: vec![3; 40],
                        }),
                        negative: Some(Buckets {
                            offset: 0,
                            bucket_counts: vec![1],
                        }),
                        ..Default::default()
                    })
                    .collect(),
                aggregation_temporality: 2,
            }),
        ),
        metric(
            "gc.pause",
            metric::Data::Summary(Summary {
                data_points: (0..points)
                    .map(|i| SummaryDataPoint {
                        attributes: labels(i),
                        count: 3,
                        quantile_values: vec![
                            ValueAtQuantile {
                                quantile: 0.5,
                                value: 1.0,
                            },
                            ValueAtQuantile {
                                quantile: 0.99,
                                value: 9.0,
                            },
                        ],
                        ..Default::default()
                    })
                    .collect(),
            }),
        ),
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// `n` copies of a field `tag` holding `inner`, wrapped in `outer` levels
/// of (tag, message) from the outermost in.
fn repeated(tag: u8, inner: &[u8], n: usize, outer: &[u8]) -> Vec<u8> {
    let mut one = vec![tag << 3 | 2];
    prost::encoding::encode_varint(inner.len() as u64, &mut one);
    one.extend_from_slice(inner);
    let mut body = one.repeat(n);
    for &tag in outer.iter().rev() {
        let mut wrapped = vec![tag << 3 | 2];
        prost::encoding::encode_varint(body.len() as u64, &mut wrapped);
        wrapped.extend_from_slice(&body);
        body = wrapped;
    }
    body
}

struct Case {
    name: &'static str,
    body: Vec<u8>,
    /// Protobuf layout, or `None` for JSON.
    kind: Option<&'static Kind>,
    measure: fn(&[u8]) -> usize,
    /// An export a real SDK would send, which must fit the budget.
    ordinary: bool,
}

fn protobuf<T: Message + Default>(
    name: &'static str,
    body: Vec<u8>,
    kind: &'static Kind,
    ordinary: bool,
) -> Case {
    Case {
        name,
        body,
        kind: Some(kind),
        measure: |body| {
            let body = Bytes::copy_from_slice(body);
            peak(|| T::decode(body).unwrap())
        },
        ordinary,
    }
}

fn json_case(
    name: &'static str,
    body: serde_json::Value,
    decode: fn(&[u8]) -> usize,
    ordinary: bool,
) -> Case {
    Case {
        name,
        body: body.to_string().into_bytes(),
        kind: None,
        measure: decode,
        ordinary,
    }
}

fn json_traces(spans: usize) -> serde_json::Value {
    let attribute = |k: &str, v: serde_json::Value| json!({"key": k, "value": v});
    let spans: Vec<_> = (0..spans)
        .map(|i| {
            json!({
                "traceId": format!("{i:032x}"),
                "spanId": format!("{i:016x}"),
                "parentSpanId": "0000000000000001",
                "name": "POST /checkout/{id}",
                "kind": 2,
                "startTimeUnixNano": "1700000000000000000",
                "endTimeUnixNano": "1700000000100000000",
                "attributes": [
                    attribute("http.request.method", json!({"stringValue": "POST"})),
                    attribute("http.route", json!({"stringValue": "/checkout/{id}"})),
                    attribute("url.path", json!({"stringValue": format!("/checkout/{i}")})),
                    attribute("http.response.status_code", json!({"intValue": "200"})),
                    attribute("server.port", json!({"intValue": 8080})),
                    attribute("app.ratio", json!({"doubleValue": 0.25})),
                    attribute("app.cached", json!({"boolValue": true})),
                    attribute("request.id", json!({"stringValue": format!("req-{i:08}")})),
                    attribute("app.tags", json!({"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": 2}]}})),
                ],
                "events": [{"timeUnixNano": "1700000000050000000", "name": "exception",
                    "attributes": [attribute("exception.message", json!({"stringValue": "card declined"}))]}],
                "status": {"code": 2, "message": "boom"}
            })
        })
        .collect();
    json!({"resourceSpans": [{
        "resource": {"attributes": [attribute("service.name", json!({"stringValue": "checkout"}))]},
        "scopeSpans": [{"scope": {"name": "fastapi"}, "spans": spans}]
    }]})
}

fn json_logs(records: usize) -> serde_json::Value {
    let records: Vec<_> = (0..records)
        .map(|i| {
            json!({
                "timeUnixNano": "1700000000000000000",
                "severityNumber": 9,
                "severityText": "INFO",
                "body": {"stringValue": format!("order {i} paid with card ending 4242 after 2 attempts")},
                "attributes": [{"key": "request.id", "value": {"stringValue": format!("req-{i:08}")}}],
                "traceId": format!("{i:032x}"),
                "spanId": format!("{i:016x}")
            })
        })
        .collect();
    json!({"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]})
}

fn cases() -> Vec<Case> {
    let traces_json = |b: &[u8]| peak(|| otlp_json::decode_traces(b).unwrap());
    let logs_json = |b: &[u8]| peak(|| otlp_json::decode_logs(b).unwrap());
    let metrics_json = |b: &[u8]| peak(|| otlp_json::decode_metrics(b).unwrap());
    let nested = (0..25).fold(
        json!({"stringValue": "leaf"}),
        |v, _| json!({"kvlistValue": {"values": [{"key": "k", "value": v}]}}),
    );
    vec![
        protobuf::<ExportTraceServiceRequest>(
            "spans with attributes, events, links",
            traces(300).encode_to_vec(),
            &decode::TRACES,
            true,
        ),
        protobuf::<ExportTraceServiceRequest>(
            "empty resources",
            repeated(1, &[], 50_000, &[]),
            &decode::TRACES,
            false,
        ),
        protobuf::<ExportTraceServiceRequest>(
            "empty spans",
            repeated(2, &[], 50_000, &[1, 2]),
            &decode::TRACES,
            false,
        ),
        protobuf::<ExportTraceServiceRequest>(
            "empty attributes",
            repeated(9, &[], 50_000, &[1, 2, 2]),
            &decode::TRACES,
            false,
        ),
        protobuf::<ExportTraceServiceRequest>(
            "empty array values",
            repeated(1, &[], 50_000, &[1, 2, 2, 9, 2, 5]),
            &decode::TRACES,
            false,
        ),
        protobuf::<ExportTraceServiceRequest>(
            "empty entity ref keys",
            repeated(3, &[], 50_000, &[1, 1, 3]),
            &decode::TRACES,
            false,
        ),
        protobuf::<ExportLogsServiceRequest>(
            "log records",
            logs(500).encode_to_vec(),
            &decode::LOGS,
            true,
        ),
        protobuf::<ExportLogsServiceRequest>(
            "empty log records",
            repeated(2, &[], 50_000, &[1, 2]),
            &decode::LOGS,
            false,
        ),
        protobuf::<ExportMetricsServiceRequest>(
            "points of every kind",
            metrics(200).encode_to_vec(),
            &decode::METRICS,
            true,
        ),
        protobuf::<ExportMetricsServiceRequest>(
            "empty number points",
            repeated(1, &[], 50_000, &[1, 2, 2, 5]),
            &decode::METRICS,
            false,
        ),
        protobuf::<ExportMetricsServiceRequest>(
            "packed exponential bucket counts of one byte",
            repeated(2, &[0; 100_000], 1, &[1, 2, 2, 10, 1, 8]),
            &decode::METRICS,
            false,
        ),
        json_case("spans (JSON)", json_traces(300), traces_json, true),
        json_case(
            "empty resources (JSON)",
            json!({"resourceSpans": vec![json!({}); 50_000]}),
            traces_json,
            false,
        ),
        json_case(
            "empty spans (JSON)",
            json!({"resourceSpans": [{"scopeSpans": [{"spans": vec![json!({}); 50_000]}]}]}),
            traces_json,
            false,
        ),
        json_case("log records (JSON)", json_logs(500), logs_json, true),
        json_case(
            "nested attribute maps (JSON)",
            json!({"resourceLogs": [{"scopeLogs": [{"logRecords": vec![json!({"body": nested}); 200]}]}]}),
            logs_json,
            false,
        ),
        json_case(
            "empty number points (JSON)",
            json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m", "gauge": {"dataPoints": vec![json!({}); 50_000]}}]}]}]}),
            metrics_json,
            false,
        ),
    ]
}

#[test]
fn estimates_bound_what_decoding_allocates() {
    for case in cases() {
        let estimate = match case.kind {
            Some(kind) => decode::protobuf_cost(&case.body, kind, usize::MAX).unwrap(),
            None => decode::json_cost(&case.body),
        };
        let measured = (case.measure)(&case.body);
        let wire = case.body.len();
        println!(
            "{:45} wire {wire:>9}  decoded {measured:>10} ({:>5.1}x)  estimate {estimate:>10} ({:.2} of decoded)",
            case.name,
            measured as f64 / wire as f64,
            estimate as f64 / measured as f64,
        );
        assert!(
            estimate >= measured,
            "{}: estimated {estimate} bytes, decoding took {measured}",
            case.name
        );
        assert!(
            estimate <= 4 * measured,
            "{}: estimated {estimate} bytes, far above the {measured} decoding took",
            case.name
        );
        if case.ordinary {
            assert!(
                estimate <= wire * DECODED_PER_BODY_BYTE,
                "{}: an ordinary export of {wire} bytes is estimated at {estimate}, past the budget",
                case.name
            );
        }
    }
}

#[test]
fn the_walk_stops_at_the_budget_and_at_broken_structure() {
    let bomb = repeated(1, &[], 1_000_000, &[]);
    assert!(matches!(
        decode::protobuf_cost(&bomb, &decode::TRACES, 1_000_000),
        Err(decode::DecodeError::TooLarge(_))
    ));
    for broken in [
        &[0x0a, 0x05, 0x00][..], // length past the end
        &[0x0a, 0x80][..],       // varint cut short
        &[0x0f][..],             // wire type 7
        &[0x0b, 0x10, 0x01][..], // group never closed
    ] {
        assert!(
            matches!(
                decode::protobuf_cost(broken, &decode::TRACES, usize::MAX),
                Err(decode::DecodeError::Invalid(_))
            ),
            "{broken:?}"
        );
    }
    // An unknown group is skipped, as the decoder skips it.
    assert_eq!(
        decode::protobuf_cost(&[0x0b, 0x10, 0x01, 0x0c], &decode::TRACES, usize::MAX),
        Ok(0)
    );
}
