//! A real `loupe serve` on port 0 with a fresh database, and OTLP fixtures
//! whose every field is known, so tests can compare what comes back.

use std::time::Duration;

use loupe::{Running, ServeConfig};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    self as m, Metric, ResourceMetrics, ScopeMetrics, metric::Data,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

pub struct Server {
    pub running: Option<Running>,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    pub grpc_url: String,
    pub otlp_url: String,
    pub ui_url: String,
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut ServeConfig)) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/loupe.db", dir.path().display());
        let mut config = ServeConfig::for_tests(&url);
        adjust(&mut config);
        let running = loupe::server::start(&config).await.expect("loupe starts");
        Server {
            grpc_url: format!("http://{}", running.otlp_grpc),
            otlp_url: format!("http://{}", running.otlp_http),
            ui_url: format!("http://{}", running.ui),
            running: Some(running),
            dir,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("http client"),
        }
    }

    pub fn database_url(&self) -> String {
        format!("sqlite://{}/loupe.db", self.dir.path().display())
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.ui_url))
            .send()
            .await
            .expect("GET answers");
        let status = response.status().as_u16();
        let body = response.json().await.expect("JSON body");
        (status, body)
    }

    /// GETs a UI-listener path as text (`/metrics`, `/readyz`), with its status.
    pub async fn text(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.ui_url))
            .send()
            .await
            .expect("GET answers");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// Posts an OTLP/HTTP protobuf export (`/v1/traces`, …) and expects 200.
    pub async fn export(&self, path: &str, body: Vec<u8>) {
        let response = self
            .http
            .post(format!("{}{path}", self.otlp_url))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await
            .expect("OTLP answers");
        assert_eq!(response.status(), 200, "{path}");
    }

    /// GETs a UI page (as htmx does when `htmx`), its body with askama's
    /// numeric escapes spelled the named way, as a browser's source view shows them.
    pub async fn page(&self, path: &str, htmx: bool) -> (u16, reqwest::header::HeaderMap, String) {
        let mut request = self.http.get(format!("{}{path}", self.ui_url));
        if htmx {
            request = request.header("hx-request", "true");
        }
        let response = request.send().await.expect("GET answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = named_entities(response.text().await.expect("body"));
        (status, headers, body)
    }

    pub async fn stats(&self) -> serde_json::Value {
        self.get_json("/api/v1/stats").await.1
    }

    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("clean stop");
        }
    }
}

/// askama writes `<` as `&#60;` and so on; this spells every escape it
/// makes the named way.
pub fn named_entities(html: String) -> String {
    html.replace("&#60;", "&lt;")
        .replace("&#62;", "&gt;")
        .replace("&#34;", "&quot;")
        .replace("&#38;", "&amp;")
        .replace("&#39;", "&apos;")
}

pub fn trace_id(seed: u8) -> Vec<u8> {
    let mut id = vec![0xab; 16];
    id[0] = seed;
    id
}

pub fn span_id(seed: u8, n: u8) -> Vec<u8> {
    vec![seed, n, 0xcd, 0xcd, 0xcd, 0xcd, 0xcd, n]
}

pub fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

pub fn s(text: &str) -> Value {
    Value::StringValue(text.to_owned())
}

pub const T0: u64 = 1_700_000_000_000_000_000;

pub fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            kv("service.name", s(service)),
            kv("deployment.environment.name", s("test")),
        ],
        dropped_attributes_count: 0,
        entity_refs: vec![],
    })
}

pub fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "loupe.tests".into(),
        version: "1.2.3".into(),
        attributes: vec![kv("scope.attr", Value::BoolValue(true))],
        dropped_attributes_count: 0,
    })
}

/// Attributes of every AnyValue kind, as sent.
pub fn rich_attributes(seed: u8) -> Vec<KeyValue> {
    vec![
        kv("http.route", s("/checkout")),
        kv("http.request.method", s("POST")),
        kv("http.response.status_code", Value::IntValue(502)),
        kv("request_id", s(&format!("req-{seed}"))),
        kv("flag", Value::BoolValue(false)),
        kv("ratio", Value::DoubleValue(1.0)),
        kv("big", Value::IntValue(i64::MAX)),
        kv("bytes", Value::BytesValue(vec![0, 1, 254, 255])),
        kv(
            "list",
            Value::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(s("a")),
                    },
                    AnyValue {
                        value: Some(Value::IntValue(2)),
                    },
                ],
            }),
        ),
        kv(
            "map",
            Value::KvlistValue(KeyValueList {
                values: vec![kv("inner", s("x")), kv("$odd", Value::DoubleValue(-2.5))],
            }),
        ),
        KeyValue {
            key: "empty".into(),
            value: None,
            key_strindex: 0,
        },
    ]
}

/// The JSON the API must give back for `rich_attributes(seed)`.
pub fn rich_attributes_json(seed: u8) -> serde_json::Value {
    serde_json::json!({
        "http.route": "/checkout",
        "http.request.method": "POST",
        "http.response.status_code": 502,
        "request_id": format!("req-{seed}"),
        "flag": false,
        "ratio": 1.0,
        "big": i64::MAX,
        "bytes": {"$bytes": "AAH+/w=="},
        "list": ["a", 2],
        "map": {"inner": "x", "$$odd": -2.5},
        "empty": null,
    })
}

/// A server span with a failing client child that records an exception.
pub fn traces(seed: u8) -> ExportTraceServiceRequest {
    let root = Span {
        trace_id: trace_id(seed),
        span_id: span_id(seed, 1),
        trace_state: "vendor=1".into(),
        parent_span_id: vec![],
        flags: 0x101,
        name: "POST /checkout".into(),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 250_000_000,
        attributes: rich_attributes(seed),
        dropped_attributes_count: 3,
        events: vec![],
        dropped_events_count: 1,
        links: vec![span::Link {
            trace_id: trace_id(seed.wrapping_add(100)),
            span_id: span_id(seed, 9),
            trace_state: "linked=yes".into(),
            attributes: vec![kv("link.kind", s("retry"))],
            dropped_attributes_count: 0,
            flags: 1,
        }],
        dropped_links_count: 2,
        status: Some(Status {
            message: "bad gateway".into(),
            code: 2,
        }),
    };
    let child = Span {
        trace_id: trace_id(seed),
        span_id: span_id(seed, 2),
        parent_span_id: span_id(seed, 1),
        name: "POST /charge".into(),
        kind: span::SpanKind::Client as i32,
        start_time_unix_nano: T0 + 10_000_000,
        end_time_unix_nano: T0 + 200_000_000,
        attributes: vec![kv("rpc.service", s("payments"))],
        events: vec![span::Event {
            time_unix_nano: T0 + 150_000_000,
            name: "exception".into(),
            attributes: vec![
                kv("exception.type", s("CardDeclined")),
                kv("exception.message", s("insufficient funds")),
            ],
            dropped_attributes_count: 0,
        }],
        ..Span::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource("checkout"),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans: vec![child, root],
                schema_url: "https://opentelemetry.io/schemas/1.30.0".into(),
            }],
            schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
        }],
    }
}

pub fn logs(seed: u8) -> ExportLogsServiceRequest {
    let with_trace = LogRecord {
        time_unix_nano: T0 + 5_000_000,
        observed_time_unix_nano: T0 + 6_000_000,
        severity_number: 17,
        severity_text: "ERROR".into(),
        body: Some(AnyValue {
            value: Some(Value::KvlistValue(KeyValueList {
                values: vec![
                    kv("msg", s("charge failed")),
                    kv("amount", Value::IntValue(42)),
                ],
            })),
        }),
        attributes: vec![kv("request_id", s(&format!("req-{seed}")))],
        dropped_attributes_count: 1,
        flags: 1,
        trace_id: trace_id(seed),
        span_id: span_id(seed, 2),
        event_name: "payment.failed".into(),
    };
    let request_id_only = LogRecord {
        time_unix_nano: 0,
        observed_time_unix_nano: T0 + 7_000_000,
        severity_number: 9,
        severity_text: "INFO".into(),
        body: Some(AnyValue {
            value: Some(s(&format!("queued refund seed{seed}"))),
        }),
        attributes: vec![kv(
            "http.request.header.x-request-id",
            Value::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(s(&format!("req-{seed}"))),
                }],
            }),
        )],
        ..LogRecord::default()
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource("refunds"),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: vec![with_trace, request_id_only],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

pub fn metrics(seed: u8) -> ExportMetricsServiceRequest {
    let name = |base: &str| format!("{base}.s{seed}");
    let point_attrs = vec![kv("route", s("/checkout"))];
    let exemplar = m::Exemplar {
        filtered_attributes: vec![kv("user", s("u1"))],
        time_unix_nano: T0 + 1,
        trace_id: trace_id(seed),
        span_id: span_id(seed, 1),
        value: Some(m::exemplar::Value::AsDouble(0.25)),
    };
    let metrics = vec![
        Metric {
            name: name("queue.depth"),
            description: "items waiting".into(),
            unit: "{item}".into(),
            metadata: vec![],
            data: Some(Data::Gauge(m::Gauge {
                data_points: vec![m::NumberDataPoint {
                    attributes: point_attrs.clone(),
                    start_time_unix_nano: 0,
                    time_unix_nano: T0,
                    exemplars: vec![],
                    flags: 0,
                    value: Some(m::number_data_point::Value::AsDouble(7.5)),
                }],
            })),
        },
        Metric {
            name: name("requests"),
            description: "requests served".into(),
            unit: "{request}".into(),
            metadata: vec![],
            data: Some(Data::Sum(m::Sum {
                data_points: vec![
                    m::NumberDataPoint {
                        attributes: point_attrs.clone(),
                        start_time_unix_nano: T0 - 1_000,
                        time_unix_nano: T0,
                        exemplars: vec![],
                        flags: 0,
                        value: Some(m::number_data_point::Value::AsInt(3)),
                    },
                    m::NumberDataPoint {
                        attributes: vec![kv("route", s("/cart"))],
                        start_time_unix_nano: T0 - 1_000,
                        time_unix_nano: T0,
                        exemplars: vec![],
                        flags: 0,
                        value: Some(m::number_data_point::Value::AsInt(5)),
                    },
                ],
                aggregation_temporality: 2,
                is_monotonic: true,
            })),
        },
        Metric {
            name: name("duration"),
            description: "request duration".into(),
            unit: "s".into(),
            metadata: vec![],
            data: Some(Data::Histogram(m::Histogram {
                data_points: vec![m::HistogramDataPoint {
                    attributes: point_attrs.clone(),
                    start_time_unix_nano: T0 - 1_000,
                    time_unix_nano: T0,
                    count: 6,
                    sum: Some(3.5),
                    bucket_counts: vec![1, 2, 3, 0],
                    explicit_bounds: vec![0.1, 0.5, 1.0],
                    exemplars: vec![exemplar.clone()],
                    flags: 0,
                    min: Some(0.05),
                    max: Some(0.9),
                }],
                aggregation_temporality: 1,
            })),
        },
        Metric {
            name: name("latency"),
            description: String::new(),
            unit: "ms".into(),
            metadata: vec![],
            data: Some(Data::ExponentialHistogram(m::ExponentialHistogram {
                data_points: vec![m::ExponentialHistogramDataPoint {
                    attributes: vec![],
                    start_time_unix_nano: T0 - 1_000,
                    time_unix_nano: T0,
                    count: 5,
                    sum: Some(12.0),
                    scale: 3,
                    zero_count: 1,
                    positive: Some(m::exponential_histogram_data_point::Buckets {
                        offset: -2,
                        bucket_counts: vec![1, 2],
                    }),
                    negative: Some(m::exponential_histogram_data_point::Buckets {
                        offset: 1,
                        bucket_counts: vec![1],
                    }),
                    flags: 0,
                    exemplars: vec![],
                    min: Some(-1.0),
                    max: Some(6.0),
                    zero_threshold: 0.001,
                }],
                aggregation_temporality: 2,
            })),
        },
        Metric {
            name: name("gc"),
            description: "gc pauses".into(),
            unit: "ms".into(),
            metadata: vec![],
            data: Some(Data::Summary(m::Summary {
                data_points: vec![m::SummaryDataPoint {
                    attributes: vec![],
                    start_time_unix_nano: T0 - 1_000,
                    time_unix_nano: T0,
                    count: 4,
                    sum: 10.0,
                    quantile_values: vec![
                        m::summary_data_point::ValueAtQuantile {
                            quantile: 0.5,
                            value: 2.0,
                        },
                        m::summary_data_point::ValueAtQuantile {
                            quantile: 0.99,
                            value: 4.5,
                        },
                    ],
                    flags: 0,
                }],
            })),
        },
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource("checkout"),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// A fresh PostgreSQL database for one test, dropped by `drop_postgres`.
/// `None` (after a loud line on stderr) when no PostgreSQL is reachable and
/// `LOUPE_REQUIRE_POSTGRES` is not set; a failure when it is.
pub async fn fresh_postgres(test: &str) -> Option<(String, String)> {
    let admin_url = std::env::var("LOUPE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("loupe_it_{}_{}", test, std::process::id());
    if let Err(err) = store::admin::drop_database(&admin_url, &name).await {
        if std::env::var("LOUPE_REQUIRE_POSTGRES").as_deref() == Ok("1") {
            panic!("PostgreSQL required but not reachable at {admin_url}: {err}");
        }
        eprintln!("=== POSTGRESQL NOT REACHABLE AT {admin_url}: {test} NOT TESTED ({err}) ===");
        return None;
    }
    let url = store::admin::create_database(&admin_url, &name)
        .await
        .unwrap();
    Some((url, admin_url))
}

pub async fn drop_postgres(admin_url: &str, database_url: &str) {
    let name = database_url.rsplit('/').next().unwrap();
    store::admin::drop_database(admin_url, name).await.unwrap();
}
