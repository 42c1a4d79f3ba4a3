//! The load and cost reports over a small shop whose every duration,
//! parent and size is known, sent through the real OTLP receivers; the
//! expected figures are worked out by hand below. Run on SQLite and on
//! PostgreSQL; the JSON API, the CSV and `loupe report` must agree.
//!
//! Three traces in the hour from T0 (times in ms after each trace's start):
//!
//! ```text
//! trace 1 (T0+1s)  gateway  POST /checkout  [0,100]  server, HTTP 502 (error)
//!                   gateway  call orders     [5,85]   client
//!                    orders  POST /orders    [10,80]  server, status ERROR
//!                     orders SELECT item ×5  [15,20] [22,27] [29,34] [36,41] [43,48]  client, db.system
//!                     orders call payments   [50,78]  client
//!                      payments POST /charge [52,76]  server, status ERROR
//! trace 2 (T0+2s)  the same, nothing failing, and gateway POST /checkout [0,120]
//! trace 3 (T0+3s)  gateway  GET /health      [0,10]   server
//! ```
//!
//! Self times: checkout 20 + 10 (t1) and 40 + 10 (t2) = 80 ms; orders
//! 17 + 25 + 4 per trace = 92 ms; payments 24 × 2 = 48 ms; health 10 ms;
//! all 230 ms.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message as _;
use serde_json::Value as Json;

use crate::support::{self, Server, T0, kv, s};

pub(crate) const MS: u64 = 1_000_000;
const HOUR_NS: u64 = 3_600_000_000_000;

fn trace_id(t: u8) -> Vec<u8> {
    let mut id = vec![0x5a; 16];
    id[0] = t;
    id
}

fn id(t: u8, n: u8) -> Vec<u8> {
    vec![t, n, 1, 2, 3, 4, 5, 6]
}

struct S {
    n: u8,
    parent: Option<u8>,
    name: &'static str,
    kind: span::SpanKind,
    start: u64,
    end: u64,
    attributes: Vec<KeyValue>,
    error: bool,
}

fn sp(
    n: u8,
    parent: Option<u8>,
    name: &'static str,
    kind: span::SpanKind,
    start: u64,
    end: u64,
) -> S {
    S {
        n,
        parent,
        name,
        kind,
        start,
        end,
        attributes: vec![],
        error: false,
    }
}

fn route(method: &str, route: &str) -> Vec<KeyValue> {
    vec![
        kv("http.request.method", s(method)),
        kv("http.route", s(route)),
    ]
}

/// One export per service: all items of one request belong to one service,
/// so a service's bytes received are exactly its requests' body lengths.
fn export(t: u8, base: u64, service: &str, spans: Vec<S>) -> Vec<u8> {
    let spans = spans
        .into_iter()
        .map(|x| Span {
            trace_id: trace_id(t),
            span_id: id(t, x.n),
            parent_span_id: x.parent.map(|p| id(t, p)).unwrap_or_default(),
            name: x.name.into(),
            kind: x.kind as i32,
            start_time_unix_nano: base + x.start * MS,
            end_time_unix_nano: base + x.end * MS,
            attributes: x.attributes,
            status: x.error.then(|| Status {
                message: "failed".into(),
                code: 2,
            }),
            ..Span::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: support::resource(service),
            scope_spans: vec![ScopeSpans {
                scope: None,
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
    .encode_to_vec()
}

fn checkout(t: u8, failing: bool, gateway_end: u64) -> [(&'static str, Vec<u8>); 3] {
    checkout_at(t, failing, gateway_end, T0 + u64::from(t) * 1_000 * MS)
}

/// Trace `t`'s checkout, its times from `base`.
pub(crate) fn checkout_at(
    t: u8,
    failing: bool,
    gateway_end: u64,
    base: u64,
) -> [(&'static str, Vec<u8>); 3] {
    use span::SpanKind::{Client, Server as Srv};
    let mut g1 = sp(1, None, "POST /checkout", Srv, 0, gateway_end);
    g1.attributes = route("POST", "/checkout");
    if failing {
        g1.attributes.push(kv(
            "http.response.status_code",
            any_value::Value::IntValue(502),
        ));
    }
    let gateway = vec![g1, sp(2, Some(1), "call orders", Client, 5, 85)];
    let mut o1 = sp(3, Some(2), "POST /orders", Srv, 10, 80);
    o1.attributes = route("POST", "/orders");
    o1.error = failing;
    let mut orders = vec![o1];
    for (i, start) in [15u64, 22, 29, 36, 43].into_iter().enumerate() {
        let mut d = sp(
            10 + i as u8,
            Some(3),
            "SELECT item",
            Client,
            start,
            start + 5,
        );
        d.attributes = vec![
            kv("db.system", s("postgresql")),
            kv("db.statement", s("SELECT item")),
        ];
        orders.push(d);
    }
    orders.push(sp(4, Some(3), "call payments", Client, 50, 78));
    let mut p1 = sp(5, Some(4), "POST /charge", Srv, 52, 76);
    p1.attributes = route("POST", "/charge");
    p1.error = failing;
    [
        ("gateway", export(t, base, "gateway", gateway)),
        ("orders", export(t, base, "orders", orders)),
        ("payments", export(t, base, "payments", vec![p1])),
    ]
}

fn health() -> Vec<u8> {
    let mut g = sp(1, None, "GET /health", span::SpanKind::Server, 0, 10);
    g.attributes = route("GET", "/health");
    export(3, T0 + 3_000 * MS, "gateway", vec![g])
}

pub(crate) fn logs(
    service: &str,
    scope: &str,
    severity: (i32, &str),
    records: Vec<(Option<(u8, u8)>, u64)>,
) -> Vec<u8> {
    let log_records = records
        .into_iter()
        .enumerate()
        .map(|(i, (ctx, time))| LogRecord {
            time_unix_nano: time,
            severity_number: severity.0,
            severity_text: severity.1.into(),
            body: Some(AnyValue {
                value: Some(s(&format!("{service} record {i}"))),
            }),
            trace_id: ctx.map(|(t, _)| trace_id(t)).unwrap_or_default(),
            span_id: ctx.map(|(t, n)| id(t, n)).unwrap_or_default(),
            ..LogRecord::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: support::resource(service),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: scope.into(),
                    ..Default::default()
                }),
                log_records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
    .encode_to_vec()
}

fn gauge() -> Vec<u8> {
    let data_points = ["a", "b", "c"]
        .into_iter()
        .map(|pool| NumberDataPoint {
            attributes: vec![kv("pool", s(pool))],
            time_unix_nano: T0 + 10_000 * MS,
            value: Some(number_data_point::Value::AsInt(3)),
            ..NumberDataPoint::default()
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: support::resource("gateway"),
            scope_metrics: vec![ScopeMetrics {
                scope: None,
                metrics: vec![Metric {
                    name: "pool.connections".into(),
                    unit: "{connection}".into(),
                    data: Some(Data::Gauge(Gauge { data_points })),
                    ..Metric::default()
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
    .encode_to_vec()
}

/// Bytes sent, by what the reports should charge them to.
#[derive(Default, Debug)]
pub(crate) struct Sent {
    spans: std::collections::BTreeMap<&'static str, u64>,
    checkout_spans: u64,
    health_spans: u64,
    checkout_trace_bytes: u64,
    orders_logs: u64,
    payments_logs: u64,
    gateway_points: u64,
}

pub(crate) async fn seed(server: &Server) -> Sent {
    let mut sent = Sent::default();
    for (t, failing, end) in [(1u8, true, 100u64), (2, false, 120)] {
        for (service, body) in checkout(t, failing, end) {
            *sent.spans.entry(service).or_default() += body.len() as u64;
            sent.checkout_trace_bytes += body.len() as u64;
            if service == "gateway" {
                sent.checkout_spans += body.len() as u64;
            }
            server.export("/v1/traces", body).await;
        }
        let base = T0 + u64::from(t) * 1_000 * MS;
        let body = logs(
            "orders",
            "orders",
            (9, "INFO"),
            vec![
                (Some((t, 3)), base + 20 * MS),
                (Some((t, 3)), base + 60 * MS),
            ],
        );
        sent.orders_logs += body.len() as u64;
        sent.checkout_trace_bytes += body.len() as u64;
        server.export("/v1/logs", body).await;
    }
    let body = health();
    *sent.spans.entry("gateway").or_default() += body.len() as u64;
    sent.health_spans = body.len() as u64;
    server.export("/v1/traces", body).await;
    let body = logs(
        "payments",
        "payments.audit",
        (13, ""),
        vec![(None, T0 + 5_000 * MS); 3],
    );
    sent.payments_logs = body.len() as u64;
    server.export("/v1/logs", body).await;
    let body = gauge();
    sent.gateway_points = body.len() as u64;
    server.export("/v1/metrics", body).await;
    sent
}

fn window() -> String {
    format!("since={T0}&until={}", T0 + HOUR_NS)
}

fn find<'a>(rows: &'a Json, pairs: &[(&str, &str)]) -> &'a Json {
    rows.as_array()
        .expect("rows")
        .iter()
        .find(|row| pairs.iter().all(|(k, v)| row[*k] == *v))
        .unwrap_or_else(|| panic!("no row {pairs:?} in {rows:#}"))
}

fn close(got: &Json, expected: f64, what: &str) {
    let got = got
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {got}"));
    assert!(
        (got - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{what}: got {got}, expected {expected}"
    );
}

/// A percentile: within the sketches' 1 % of the exact nearest-rank one.
fn near(got: &Json, exact: u64, what: &str) {
    let got = got
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {got}"));
    let exact = exact as f64;
    assert!(
        (got - exact).abs() <= exact * store::sketch::RELATIVE_ERROR,
        "{what}: got {got}, exact {exact}"
    );
}

/// A share of the critical path, from a sketch: within its 1 %.
fn near_share(got: &Json, exact: f64, what: &str) {
    let got = got
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {got}"));
    assert!(
        (got - exact).abs() <= exact * store::sketch::RELATIVE_ERROR,
        "{what}: got {got}, exact {exact}"
    );
}

fn check_load(r: &Json) {
    assert_eq!(r["spans"], 21);
    assert_eq!(r["traces"], 3);
    assert_eq!(r["self_ns"], 230 * MS);
    assert_eq!(r["percentiles"], "nearest-rank, within 1 %");

    let checkout = find(
        &r["endpoints"],
        &[("service", "gateway"), ("endpoint", "POST /checkout")],
    );
    assert_eq!(checkout["requests"], 2);
    assert_eq!(checkout["errors"], 1);
    close(&checkout["error_rate"], 0.5, "checkout error rate");
    close(&checkout["rate_per_second"], 2.0 / 3600.0, "checkout rate");
    near(&checkout["p50_ns"], 100 * MS, "checkout[p50_ns]");
    near(&checkout["p95_ns"], 120 * MS, "checkout[p95_ns]");
    near(&checkout["p99_ns"], 120 * MS, "checkout[p99_ns]");
    assert_eq!(checkout["total_ns"], 220 * MS);
    assert_eq!(checkout["self_ns"], 80 * MS);
    close(&checkout["self_share"], 80.0 / 230.0, "checkout self share");
    let series = &checkout["series"];
    // Traces 1 and 2 start 1 s and 2 s into the hour: the first of 48 slices.
    assert_eq!(series["requests"][0], 2);
    assert_eq!(series["errors"][0], 1);
    near(&series["p95_ns"][0], 120 * MS, "series[p95_ns][0]");
    assert_eq!(series["requests"][1], 0);

    let orders = find(
        &r["endpoints"],
        &[("service", "orders"), ("endpoint", "POST /orders")],
    );
    assert_eq!(orders["requests"], 2);
    near(&orders["p50_ns"], 70 * MS, "orders[p50_ns]");
    assert_eq!(orders["total_ns"], 140 * MS);
    assert_eq!(orders["self_ns"], 92 * MS);
    let charge = find(
        &r["endpoints"],
        &[("service", "payments"), ("endpoint", "POST /charge")],
    );
    assert_eq!(charge["self_ns"], 48 * MS);
    near(&charge["p95_ns"], 24 * MS, "charge[p95_ns]");

    let gateway = find(&r["services"], &[("service", "gateway")]);
    assert_eq!(gateway["requests"], 3);
    near(&gateway["p50_ns"], 100 * MS, "gateway[p50_ns]");
    near(&gateway["p95_ns"], 120 * MS, "gateway[p95_ns]");
    assert_eq!(gateway["self_ns"], 90 * MS);
    assert_eq!(gateway["total_ns"], 230 * MS);

    let down = find(
        &r["downstream"],
        &[("entry_endpoint", "POST /checkout"), ("service", "orders")],
    );
    assert_eq!(down["entry_requests"], 2);
    assert_eq!(down["spans"], 14);
    assert_eq!(down["calls"], 2);
    assert_eq!(down["self_ns"], 92 * MS);
    assert_eq!(down["errors"], 1);
    close(&down["spans_per_request"], 7.0, "orders spans per checkout");
    close(
        &down["self_ns_per_request"],
        46.0 * MS as f64,
        "orders self per checkout",
    );
    let down = find(
        &r["downstream"],
        &[
            ("entry_endpoint", "POST /checkout"),
            ("service", "payments"),
        ],
    );
    assert_eq!(
        (
            down["spans"].clone(),
            down["calls"].clone(),
            down["errors"].clone()
        ),
        (2.into(), 2.into(), 1.into())
    );
    assert!(
        r["downstream"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["entry_endpoint"] != "GET /health"),
        "health causes no downstream load"
    );

    // Shares of the critical path, trace 1 (100 ms) and trace 2 (120 ms).
    let path = |service: &str, op: &str| {
        find(
            &r["time_breakdown"],
            &[
                ("entry_endpoint", "POST /checkout"),
                ("service", service),
                ("operation", op),
            ],
        )
    };
    let select = path("orders", "SELECT item");
    assert_eq!(
        (select["traces"].clone(), select["sampled"].clone()),
        (2.into(), 2.into())
    );
    near_share(&select["share_p50"], 25.0 / 120.0, "select p50");
    near_share(&select["share_p95"], 25.0 / 100.0, "select p95");
    close(
        &select["share_mean"],
        (25.0 / 100.0 + 25.0 / 120.0) / 2.0,
        "select mean",
    );
    let root = path("gateway", "POST /checkout");
    near_share(&root["share_p50"], 20.0 / 100.0, "checkout p50");
    near_share(&root["share_p95"], 40.0 / 120.0, "checkout p95");
    near_share(
        &path("orders", "POST /orders")["share_p95"],
        17.0 / 100.0,
        "orders own p95",
    );
    near_share(
        &path("orders", "call payments")["share_p50"],
        4.0 / 120.0,
        "client wait p50",
    );
    near_share(
        &path("payments", "POST /charge")["share_p95"],
        24.0 / 100.0,
        "charge p95",
    );
    let health = find(&r["time_breakdown"], &[("entry_endpoint", "GET /health")]);
    near_share(&health["share_p50"], 1.0, "health holds its whole path");

    let edge = find(&r["edges"], &[("caller", "gateway"), ("callee", "orders")]);
    assert_eq!(edge["kind"], "sync");
    assert_eq!(
        (edge["calls"].clone(), edge["errors"].clone()),
        (2.into(), 1.into())
    );
    near(&edge["caller_p50_ns"], 80 * MS, "edge[caller_p50_ns]");
    near(&edge["callee_p95_ns"], 70 * MS, "edge[callee_p95_ns]");
    near(&edge["gap_p50_ns"], 10 * MS, "edge[gap_p50_ns]");
    let edge = find(&r["edges"], &[("caller", "orders"), ("callee", "payments")]);
    assert_eq!(
        (
            edge["caller_p95_ns"].clone(),
            edge["callee_p50_ns"].clone(),
            edge["gap_p95_ns"].clone()
        ),
        ((28 * MS).into(), (24 * MS).into(), (4 * MS).into())
    );
    let db = find(
        &r["edges"],
        &[("caller", "orders"), ("callee", "postgresql")],
    );
    assert_eq!(
        (
            db["kind"].clone(),
            db["calls"].clone(),
            db["caller_p50_ns"].clone(),
            db["callee_p50_ns"].clone()
        ),
        ("database".into(), 10.into(), (5 * MS).into(), Json::Null)
    );
    assert_eq!(r["edges"].as_array().unwrap().len(), 3, "{:#}", r["edges"]);

    let repeated = &r["repeated_calls"];
    assert_eq!(repeated.as_array().unwrap().len(), 1, "{repeated:#}");
    let n1 = &repeated[0];
    assert_eq!(
        (
            n1["service"].clone(),
            n1["operation"].clone(),
            n1["child_operation"].clone()
        ),
        ("orders".into(), "POST /orders".into(), "SELECT item".into())
    );
    assert_eq!(
        (
            n1["parents"].clone(),
            n1["calls"].clone(),
            n1["max_calls"].clone()
        ),
        (2.into(), 10.into(), 5.into())
    );
}

fn check_cost(r: &Json, sent: &Sent) {
    close(&r["days"], 1.0 / 24.0, "the window's days");
    // The data covers its first item (a span in the first seconds after
    // T0) to its last (the gauge at T0 + 10 s): under a minute, which is
    // the least a projection is made from.
    let (since, until) = (r["data_since_ns"].as_u64(), r["data_until_ns"].as_u64());
    assert!(
        since.is_some_and(|s| (T0..T0 + 2_000 * MS).contains(&s)),
        "{since:?}"
    );
    assert_eq!(until, Some(T0 + 10_000 * MS));
    let days = 1.0 / 1440.0;
    close(&r["data_days"], days, "the data's days");
    let service = |name: &str| find(&r["services"], &[("service", name)]);
    let gateway = service("gateway");
    assert_eq!(gateway["spans"], 5);
    assert_eq!(gateway["metric_points"], 3);
    assert_eq!(gateway["logs"], 0);
    assert_eq!(
        gateway["wire_bytes"],
        sent.spans["gateway"] + sent.gateway_points
    );
    let orders = service("orders");
    assert_eq!(
        (orders["spans"].clone(), orders["logs"].clone()),
        (14.into(), 4.into())
    );
    assert_eq!(
        orders["wire_bytes"],
        sent.spans["orders"] + sent.orders_logs
    );
    let payments = service("payments");
    assert_eq!(
        (payments["spans"].clone(), payments["logs"].clone()),
        (2.into(), 3.into())
    );
    assert_eq!(
        payments["wire_bytes"],
        sent.spans["payments"] + sent.payments_logs
    );
    close(&payments["span_share"], 2.0 / 21.0, "payments span share");
    close(&payments["log_share"], 3.0 / 7.0, "payments log share");

    let total_wire: u64 = sent.spans.values().sum::<u64>()
        + sent.orders_logs
        + sent.payments_logs
        + sent.gateway_points;
    let total = &r["total"];
    assert_eq!(total["wire_bytes"], total_wire);
    assert_eq!(
        (
            total["spans"].clone(),
            total["logs"].clone(),
            total["metric_points"].clone()
        ),
        (21.into(), 7.into(), 3.into())
    );
    close(
        &orders["wire_share"],
        (sent.spans["orders"] + sent.orders_logs) as f64 / total_wire as f64,
        "orders wire share",
    );
    close(
        &total["wire_bytes_per_day"],
        total_wire as f64 / days,
        "bytes per day",
    );
    close(&total["spans_per_day"], 21.0 / days, "spans per day");
    // Prices: 2 per GB, 10 per million spans, 5 per million logs, 1 per million points.
    let month = 30.0 / days;
    let expected = total_wire as f64 * month / 1e9 * 2.0
        + 21.0 * month / 1e6 * 10.0
        + 7.0 * month / 1e6 * 5.0
        + 3.0 * month / 1e6 * 1.0;
    close(&total["monthly_cost"], expected, "monthly cost");
    close(
        &total["monthly_gb"],
        total_wire as f64 * month / 1e9,
        "monthly GB",
    );
    assert_eq!(r["prices"]["per_million_spans"], 10.0);

    let stored: u64 = r["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stored_bytes"].as_u64().unwrap())
        .sum();
    let total_stored = total["stored_bytes"].as_u64().unwrap();
    assert!(total_stored > 0);
    assert!(
        stored.abs_diff(total_stored) <= 9,
        "services' stored bytes {stored} add up to {total_stored}"
    );

    let checkout = find(
        &r["endpoints"],
        &[("service", "gateway"), ("endpoint", "POST /checkout")],
    );
    assert_eq!(
        (checkout["spans"].clone(), checkout["wire_bytes"].clone()),
        (4.into(), sent.checkout_spans.into())
    );
    let health = find(&r["endpoints"], &[("endpoint", "GET /health")]);
    assert_eq!(health["wire_bytes"], sent.health_spans);
    let orders_ep = find(&r["endpoints"], &[("endpoint", "POST /orders")]);
    assert_eq!(
        (orders_ep["spans"].clone(), orders_ep["logs"].clone()),
        (14.into(), 4.into())
    );
    assert_eq!(
        orders_ep["wire_bytes"],
        sent.spans["orders"] + sent.orders_logs
    );

    let per = find(&r["per_request"], &[("entry_endpoint", "POST /checkout")]);
    assert_eq!(per["requests"], 2);
    close(&per["spans_per_request"], 10.0, "spans per checkout");
    close(&per["logs_per_request"], 2.0, "logs per checkout");
    close(
        &per["wire_bytes_per_request"],
        sent.checkout_trace_bytes as f64 / 2.0,
        "bytes per checkout",
    );

    // What to drop: the N+1's calls beyond one a parent (8 of 10), priced
    // as their share of the month.
    let drops = r["what_to_drop"].as_array().unwrap();
    let n1 = drops
        .iter()
        .find(|d| d["kind"] == "repeated_calls")
        .unwrap_or_else(|| panic!("{drops:?}"));
    assert_eq!(n1["operation"], "SELECT item", "{n1}");
    assert_eq!(n1["what"], "SELECT item repeated by POST /orders", "{n1}");
    let wire = n1["wire_bytes"].as_f64().unwrap();
    let total = r["total"]["wire_bytes"].as_f64().unwrap();
    assert!(wire > 0.0 && wire < total, "{n1}");
    close(&n1["share"], wire / total, "share of the N+1");
    close(
        &n1["monthly_saving"],
        wire / total * r["total"]["monthly_cost"].as_f64().unwrap(),
        "saving of the N+1",
    );
    assert!(
        drops
            .iter()
            .any(|d| d["kind"] == "attribute_key" && d["what"] == "db.statement"),
        "{drops:?}"
    );

    // Every span and log record is in the sample; `db.statement` is
    // 12 bytes of key and 13 of stored value ("SELECT item" quoted), 10 times.
    assert_eq!(r["attribute_sample"]["spans"], 21);
    assert_eq!(r["attribute_sample"]["logs"], 7);
    let statement = find(
        &r["attribute_keys"],
        &[("signal", "span"), ("key", "db.statement")],
    );
    assert_eq!(
        (
            statement["occurrences"].clone(),
            statement["sampled_bytes"].clone(),
            statement["estimated_bytes"].clone()
        ),
        (10.into(), 250.into(), 250.into())
    );

    let audit = find(&r["log_sources"], &[("service", "payments")]);
    assert_eq!(
        (
            audit["severity"].clone(),
            audit["scope"].clone(),
            audit["records"].clone()
        ),
        ("WARN".into(), "payments.audit".into(), 3.into())
    );
    assert_eq!(audit["wire_bytes"], sent.payments_logs);
    assert_eq!(audit["severity_number"], 13);
    let pool = find(&r["metrics_by_series"], &[("name", "pool.connections")]);
    assert_eq!(
        (
            pool["service"].clone(),
            pool["series"].clone(),
            pool["points"].clone()
        ),
        ("gateway".into(), 3.into(), 3.into())
    );
}

/// RFC 4180 as the reports write it: quoted fields may hold commas and "".
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let mut cells = Vec::new();
        let mut cell = String::new();
        let mut quoted = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    cell.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (',', false) => cells.push(std::mem::take(&mut cell)),
                _ => cell.push(c),
            }
        }
        cells.push(cell);
        rows.push(cells);
    }
    rows
}

/// Each CSV row holds the same values as the JSON row in the same place.
fn csv_matches_json(csv: &str, rows: &Json) {
    let table = parse_csv(csv);
    let rows = rows.as_array().unwrap();
    if rows.is_empty() {
        // No rows, no columns to name (an open receiver has no key rows).
        assert_eq!(csv, "", "an empty table is an empty file");
        return;
    }
    assert_eq!(table.len(), rows.len() + 1, "a header and one line per row");
    for (line, row) in table[1..].iter().zip(rows) {
        for (column, cell) in table[0].iter().zip(line) {
            match &row[column] {
                Json::Null => assert_eq!(cell, "", "{column}"),
                Json::String(s) => assert_eq!(cell, s, "{column}"),
                Json::Number(n) => {
                    let parsed: f64 = cell
                        .parse()
                        .unwrap_or_else(|_| panic!("{column}: {cell:?}"));
                    assert_eq!(parsed, n.as_f64().unwrap(), "{column}");
                }
                other => assert_eq!(cell, &other.to_string(), "{column}"),
            }
        }
    }
}

fn cli(database_url: &str, args: &[&str]) -> String {
    let (from, to) = (T0.to_string(), (T0 + HOUR_NS).to_string());
    cli_over(database_url, &["--from", &from, "--to", &to], args)
}

/// `loupe report` over the window its flags name.
pub(crate) fn cli_over(database_url: &str, window: &[&str], args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_loupe"))
        .args(["report"])
        .args(args)
        .args(["--database-url", database_url])
        .args(window)
        .args([
            "--price-per-gb",
            "2",
            "--price-per-million-spans",
            "10",
            "--price-per-million-logs",
            "5",
            "--price-per-million-metric-points",
            "1",
        ])
        .output()
        .expect("loupe runs");
    assert!(
        output.status.success(),
        "loupe report {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

async fn reports_on(database_url: Option<String>) {
    let mut server = Server::start_with(|c| {
        if let Some(url) = &database_url {
            c.database_url = url.clone();
        }
        c.prices.price_per_gb = 2.0;
        c.prices.price_per_million_spans = 10.0;
        c.prices.price_per_million_logs = 5.0;
        c.prices.price_per_million_metric_points = 1.0;
    })
    .await;
    let database_url = database_url.unwrap_or_else(|| server.database_url());
    let sent = seed(&server).await;

    let (status, load) = server
        .get_json(&format!("/api/v1/reports/load?{}", window()))
        .await;
    assert_eq!(status, 200, "{load}");
    check_load(&load);
    let (status, cost) = server
        .get_json(&format!("/api/v1/reports/cost?{}", window()))
        .await;
    assert_eq!(status, 200, "{cost}");
    check_cost(&cost, &sent);
    // The same data over a day's window projects the same month.
    let (status, day) = server
        .get_json(&format!(
            "/api/v1/reports/cost?since={T0}&until={}",
            T0 + 24 * HOUR_NS
        ))
        .await;
    assert_eq!(status, 200, "{day}");
    close(&day["days"], 1.0, "a day's window");
    for field in ["data_days", "data_since_ns", "data_until_ns"] {
        assert_eq!(day[field], cost[field], "{field}");
    }
    for field in [
        "wire_bytes_per_day",
        "spans_per_day",
        "monthly_gb",
        "monthly_cost",
    ] {
        close(
            &day["total"][field],
            cost["total"][field].as_f64().unwrap_or(-1.0),
            field,
        );
    }
    assert_eq!(day["prices"]["currency"], "USD");

    let (_, only_payments) = server
        .get_json(&format!(
            "/api/v1/reports/load?{}&service=payments",
            window()
        ))
        .await;
    assert_eq!(only_payments["endpoints"].as_array().unwrap().len(), 1);
    assert_eq!(only_payments["endpoints"][0]["endpoint"], "POST /charge");
    assert!(
        only_payments["downstream"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["service"] == "payments")
    );
    assert!(
        only_payments["edges"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["callee"] == "payments" || e["caller"] == "payments")
    );

    for (report, body, tables) in [
        ("load", &load, web::reports::csv::LOAD_TABLES),
        ("cost", &cost, web::reports::csv::COST_TABLES),
    ] {
        for table in tables {
            let response = server
                .http
                .get(format!(
                    "{}/api/v1/reports/{report}?{}&format=csv&table={table}",
                    server.ui_url,
                    window()
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(
                response.headers()["content-type"],
                "text/csv; charset=utf-8"
            );
            let csv = response.text().await.unwrap();
            csv_matches_json(&csv, &body[*table]);
            assert_eq!(
                cli(
                    &database_url,
                    &[report, "--format", "csv", "--table", table]
                ),
                csv,
                "CLI {report} {table}"
            );
        }
        let from_cli: Json =
            serde_json::from_str(&cli(&database_url, &[report, "--format", "json"])).unwrap();
        assert_eq!(&from_cli, body, "CLI and API agree on the {report} report");
        // The window flags are the API's: the older names and a window
        // back from `--to` read the same hour.
        let (start, end) = (T0.to_string(), (T0 + HOUR_NS).to_string());
        for window in [
            &["--since", &start, "--until", &end][..],
            &["--window", "1h", "--to", &end][..],
            &["--since", "60m", "--to", &end][..],
        ] {
            let json = cli_over(&database_url, window, &[report, "--format", "json"]);
            let json: Json = serde_json::from_str(&json).unwrap();
            assert_eq!(&json, body, "{report} over {window:?}");
        }
        let text = cli(&database_url, &[report]);
        assert!(text.contains("orders"), "{text}");
    }

    // The pages show the same figures.
    let (status, _, html) = server
        .page(&format!("/reports/load?{}", window()), false)
        .await;
    assert_eq!(status, 200);
    for expected in [
        "POST /checkout",
        "GET /health",
        "SELECT item",
        "postgresql",
        "34.8%",
        "table=downstream",
    ] {
        assert!(html.contains(expected), "load page lacks {expected:?}");
    }
    let (status, _, html) = server
        .page(
            &format!("/reports/load?{}&service=payments", window()),
            false,
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("POST /charge") && !html.contains("GET /health"),
        "the page narrows to payments"
    );
    let (status, _, html) = server
        .page(&format!("/reports/cost?{}", window()), false)
        .await;
    assert_eq!(status, 200);
    for expected in [
        "payments.audit",
        "pool.connections",
        "db.statement",
        "per million spans",
        "<strong>2.00 USD</strong> per GB received",
        "projected from 1 min of data in the 1 h window",
        "<h2>What to drop</h2>",
        "operation=SELECT%20item",
    ] {
        assert!(html.contains(expected), "cost page lacks {expected:?}");
    }
    // A log source leads to its records on the logs page, in the window.
    let logs = format!(
        "/logs?service=payments&severity=13&from={T0}&to={}",
        T0 + HOUR_NS
    );
    assert!(
        html.contains(&format!("<a href=\"{}\"", logs.replace('&', "&amp;"))),
        "{html}"
    );
    let (status, _, page) = server.page(&logs, false).await;
    assert_eq!(status, 200);
    assert_eq!(
        page.matches("<div class=\"log-line sev-").count(),
        3,
        "{page}"
    );
    let (status, _, html) = server.page(&format!("/map?{}", window()), false).await;
    assert_eq!(status, 200);
    for expected in [
        "<svg class=\"map\"",
        ">gateway</text>",
        ">orders</text>",
        ">postgresql</text>",
        "gateway → orders (sync): 2 calls, 1 errors",
    ] {
        assert!(html.contains(expected), "map lacks {expected:?}");
    }
    // The metrics explorer: the gauge, one line per pool, 3 in the first minute.
    let (status, chart) = server
        .get_json(&format!(
            "/api/v1/metrics/pool.connections/chart?{}&group_by=pool",
            window()
        ))
        .await;
    assert_eq!(status, 200, "{chart}");
    assert_eq!(chart["measure"], "mean value");
    let lines: Vec<(String, Json)> = chart["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["label"].as_str().unwrap().to_owned(),
                l["values"][0].clone(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("a".to_owned(), 3.0.into()),
            ("b".to_owned(), 3.0.into()),
            ("c".to_owned(), 3.0.into())
        ]
    );
    let (status, _, html) = server
        .page(
            &format!(
                "/metrics-explorer?{}&metric=pool.connections&group_by=pool",
                window()
            ),
            false,
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<svg class=\"chart\"") && html.contains("path class=\"line l2\""),
        "three lines drawn"
    );
    // Units in words, as sent in the title.
    assert!(
        html.contains("<td title=\"{connection}\">connections</td>"),
        "{html}"
    );

    let (status, _, _) = server.page("/reports/load?since=soon", false).await;
    assert_eq!(status, 400);

    // Every page's window links: its own path, its other parameters kept,
    // the window in use (or the page's default) marked.
    for (page, link, active) in [
        (
            "/reports/load?service=payments",
            "/reports/load?window=7d&amp;service=payments",
            "1h",
        ),
        ("/reports/cost?since=6h", "/reports/cost?window=7d", "6h"),
        ("/map", "/map?window=7d", "1h"),
        (
            "/metrics-explorer?metric=pool.connections&since=15m",
            "/metrics-explorer?window=7d&amp;metric=pool.connections",
            "15m",
        ),
        ("/failures", "/failures?window=7d", "1h"),
        ("/?window=6h", "/?window=7d", "6h"),
    ] {
        let (status, _, html) = server.page(page, false).await;
        assert_eq!(status, 200, "{page}");
        assert!(
            html.contains(&format!("href=\"{link}\"")),
            "{page} links {link}"
        );
        assert!(
            html.contains(&format!("class=\"active\" aria-current=\"page\">{active}<")),
            "{page} marks {active}"
        );
    }

    for bad in [
        "since=soon",
        "since=2h&until=never",
        "format=xml",
        "format=csv&table=nope",
    ] {
        let (status, body) = server
            .get_json(&format!("/api/v1/reports/load?{bad}"))
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    server.stop().await;
}

#[tokio::test]
async fn reports_on_sqlite() {
    reports_on(None).await;
}

#[tokio::test]
async fn reports_on_postgres() {
    let Some((url, admin_url)) = support::fresh_postgres("reports").await else {
        return;
    };
    reports_on(Some(url.clone())).await;
    support::drop_postgres(&admin_url, &url).await;
}
