//! The cases every backend must pass. Each takes a fresh, migrated store.

use std::sync::Arc;

use store::model::{
    Buckets, Derived, Event, Exemplar, ExponentialHistogram, Histogram, Link, MetricKind,
    PointValue, Quantile, Resource, Scope, SpanKind, Status, StatusCode, Summary,
};
use store::value::{Attributes, Value};
use store::{Batch, LogQuery, LogView};
use store::{MetricInfo, MetricPointView, Stats};

use crate::fixtures::*;
use crate::harness::{Backend, Ctx, TraceRow, write_to};

const ZERO_STATS: Stats = Stats {
    spans: 0,
    logs: 0,
    metric_points: 0,
    traces: 0,
    services: 0,
};

async fn write(ctx: &Ctx, batch: &Batch) {
    write_to(&ctx.store, batch.clone())
        .await
        .unwrap_or_else(|e| panic!("[{:?}] write_batch failed: {e}", ctx.backend));
}

async fn stats(ctx: &Ctx) -> Stats {
    ctx.store.reader().stats().await.expect("stats")
}

async fn search(ctx: &Ctx, query: LogQuery) -> Vec<LogView> {
    ctx.store
        .reader()
        .logs(&query)
        .await
        .unwrap_or_else(|e| panic!("[{:?}] logs({query:?}) failed: {e}", ctx.backend))
}

/// The `n` attribute the log-search fixtures carry, in result order.
fn ns(logs: &[LogView]) -> Vec<i64> {
    logs.iter()
        .map(|log| match log.attributes.get("n") {
            Some(Value::Int(n)) => *n,
            other => panic!("log without an int `n` attribute: {other:?}"),
        })
        .collect()
}

fn all(limit: u32) -> LogQuery {
    LogQuery {
        limit,
        ..LogQuery::default()
    }
}

// ---------------------------------------------------------------------------

pub async fn empty_store_answers(ctx: Ctx) {
    ctx.store.reader().ping().await.expect("ping");
    assert_eq!(stats(&ctx).await, ZERO_STATS);
    assert!(
        ctx.store
            .reader()
            .trace(&tid(1))
            .await
            .expect("trace")
            .is_none()
    );
    assert!(search(&ctx, all(100)).await.is_empty());
    assert!(
        ctx.store
            .reader()
            .metrics()
            .await
            .expect("metrics")
            .is_empty()
    );
    assert!(
        ctx.store
            .reader()
            .metric_points("nothing", 10)
            .await
            .expect("metric_points")
            .is_empty()
    );
    let size = ctx.store.reader().size_bytes().await.expect("size_bytes");
    assert!(size > 0, "size_bytes of a migrated database is {size}");

    // An empty batch is a no-op, not an error.
    write(&ctx, &Batch::default()).await;
    write(&ctx, &spans_batch("nobody", Vec::new())).await;
    assert_eq!(stats(&ctx).await, ZERO_STATS);
    assert_eq!(ctx.count("resources").await, 0);

    // After a write: the written trace is found, an unknown one still is not.
    write(
        &ctx,
        &spans_batch("api", vec![span(tid(1), sid(1), None, "root")]),
    )
    .await;
    assert!(
        ctx.store
            .reader()
            .trace(&tid(1))
            .await
            .expect("trace")
            .is_some()
    );
    assert!(
        ctx.store
            .reader()
            .trace(&tid(2))
            .await
            .expect("trace")
            .is_none()
    );
    assert!(
        ctx.store
            .reader()
            .trace(&[0; 16])
            .await
            .expect("trace")
            .is_none()
    );
    ctx.store.reader().ping().await.expect("ping");
    assert!(ctx.store.reader().size_bytes().await.expect("size_bytes") > 0);

    // What each table and index occupies, within the database's size.
    let disk = ctx.store.disk_usage().await.expect("disk_usage");
    let listed: u64 = disk.objects.iter().map(|o| o.bytes).sum();
    assert!(
        disk.bytes >= listed,
        "{} bytes, {listed} in objects",
        disk.bytes
    );
    for table in ["span_packs", "traces", "resources"] {
        let object = disk.objects.iter().find(|o| o.name == table);
        assert!(
            object.is_some_and(|o| o.table == table && o.bytes > 0),
            "{table}: {object:?}"
        );
    }
    assert!(
        disk.objects
            .iter()
            .any(|o| o.table == "traces" && o.name != "traces"),
        "the indexes of traces are listed with their table: {:?}",
        disk.objects
    );
    assert!(
        disk.objects.windows(2).all(|w| w[0].bytes >= w[1].bytes),
        "largest first"
    );
}

/// Attributes holding every kind of value, and the edges of each.
fn every_value() -> Attributes {
    let mut attributes = attrs([
        ("string", s("hello \"world\" ünïcödé 🚀\n\t\\ \u{7f} end")),
        ("string.empty", s("")),
        ("string.json", s("{\"$bytes\":\"AP8H\"}")),
        ("bool.true", Value::Bool(true)),
        ("bool.false", Value::Bool(false)),
        ("int.one", Value::Int(1)),
        ("double.one", Value::Double(1.0)),
        ("int.zero", Value::Int(0)),
        ("double.zero", Value::Double(0.0)),
        ("double.negative_zero", Value::Double(-0.0)),
        ("int.max", Value::Int(i64::MAX)),
        ("int.min", Value::Int(i64::MIN)),
        ("double.tenth", Value::Double(0.1)),
        ("double.sum", Value::Double(0.1 + 0.2)),
        ("double.2^53+1", Value::Double(9_007_199_254_740_993_f64)),
        ("double.1e23", Value::Double(1e23)),
        ("double.big_integral", Value::Double(1e20)),
        ("double.max", Value::Double(f64::MAX)),
        ("double.min", Value::Double(f64::MIN)),
        ("double.min_positive", Value::Double(f64::MIN_POSITIVE)),
        ("double.subnormal", Value::Double(5e-324)),
        ("double.negative", Value::Double(-2.5)),
        ("double.nan", Value::Double(f64::NAN)),
        ("double.infinity", Value::Double(f64::INFINITY)),
        ("double.negative_infinity", Value::Double(f64::NEG_INFINITY)),
        ("bytes", Value::Bytes(vec![0, 1, 0x7f, 0x80, 0xfe, 0xff])),
        ("bytes.empty", Value::Bytes(Vec::new())),
        ("empty", Value::Empty),
        (
            "array",
            Value::Array(vec![
                Value::Int(1),
                Value::Double(1.0),
                s("1"),
                Value::Bool(true),
                Value::Empty,
                Value::Bytes(vec![9]),
                Value::Double(f64::NAN),
                Value::Array(vec![Value::Array(Vec::new())]),
                map([("in.array", Value::Int(2))]),
            ]),
        ),
        ("array.empty", Value::Array(Vec::new())),
        (
            "map",
            map([
                ("$dollar", s("a key starting with $")),
                ("$$two", s("two dollars")),
                ("$double", s("NaN")),
                ("", s("the empty key")),
                ("z", Value::Int(1)),
                ("a", Value::Int(2)),
                (
                    "nested",
                    map([(
                        "deeper",
                        Value::Array(vec![map([("leaf", Value::Double(f64::NEG_INFINITY))])]),
                    )]),
                ),
            ]),
        ),
        ("map.empty", Value::Map(Attributes::default())),
        // One-key maps that look like the store's own tags stay maps.
        ("map.bytes_lookalike", map([("$bytes", s("AP8H"))])),
        ("map.double_lookalike", map([("$double", s("NaN"))])),
        ("$top.level", s("a top-level key starting with $")),
        ("", s("the empty key")),
    ]);
    attributes.0.push((
        "double.awkward".to_owned(),
        Value::Array(awkward_doubles(64).into_iter().map(Value::Double).collect()),
    ));
    attributes
}

pub async fn round_trip_spans(ctx: Ctx) {
    let trace = tid(7);
    let resources = vec![
        Resource {
            service: "checkout".to_owned(),
            attributes: attrs([
                ("service.name", s("checkout")),
                ("service.version", s("2.4.1")),
                ("host.cpus", Value::Int(8)),
                ("load", Value::Double(1.0)),
                (
                    "labels",
                    map([("$team", s("payments")), ("tier", Value::Int(1))]),
                ),
            ]),
            dropped_attributes_count: 2,
            schema_url: "https://opentelemetry.io/schemas/1.26.0".to_owned(),
        },
        Resource {
            service: "postgres".to_owned(),
            attributes: Attributes::default(),
            dropped_attributes_count: 0,
            schema_url: String::new(),
        },
    ];
    let scopes = vec![
        Scope {
            name: "io.loupe.checkout".to_owned(),
            version: "1.2.3".to_owned(),
            attributes: attrs([("scope.flag", Value::Bool(true)), ("n", Value::Int(7))]),
            dropped_attributes_count: 1,
            schema_url: "https://example.com/scope".to_owned(),
        },
        Scope {
            name: String::new(),
            version: String::new(),
            attributes: Attributes::default(),
            dropped_attributes_count: 0,
            schema_url: String::new(),
        },
    ];

    let mut root = timed(
        span(trace, sid(1), None, "POST /checkout"),
        T0,
        T0 + 5_000_000,
    );
    root.trace_state = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7".to_owned();
    root.flags = 0x301;
    root.kind = SpanKind::Server;
    root.attributes = every_value();
    root.dropped_attributes_count = 3;
    root.events = vec![
        Event {
            time_unix_nano: T0 + 1_000,
            name: "exception".to_owned(),
            attributes: attrs([
                ("exception.type", s("IOError")),
                ("exception.message", s("disk \"full\"")),
                ("ratio", Value::Double(1.0)),
                ("count", Value::Int(1)),
                ("nan", Value::Double(f64::NAN)),
                ("$odd", map([("$bytes", Value::Bytes(vec![1, 2]))])),
            ]),
            dropped_attributes_count: 2,
        },
        Event {
            time_unix_nano: T0 + 2_000,
            name: String::new(),
            attributes: Attributes::default(),
            dropped_attributes_count: 0,
        },
    ];
    root.dropped_events_count = 4;
    root.links = vec![
        Link {
            trace_id: tid(99).to_vec(),
            span_id: sid(98).to_vec(),
            trace_state: "k=v".to_owned(),
            attributes: attrs([("link.kind", s("follows_from")), ("n", Value::Int(-1))]),
            dropped_attributes_count: 1,
            flags: 0x100,
        },
        Link {
            trace_id: tid(100).to_vec(),
            span_id: sid(101).to_vec(),
            trace_state: String::new(),
            attributes: Attributes::default(),
            dropped_attributes_count: 0,
            flags: 0,
        },
    ];
    root.dropped_links_count = 5;
    root.status = Status {
        code: StatusCode::Error,
        message: "payment failed: ünïcödé ✓ \"quoted\"".to_owned(),
    };
    root.derived = Derived {
        request_id: Some("req-42".to_owned()),
        is_error: true,
        http_route: Some("/checkout".to_owned()),
        http_method: Some("POST".to_owned()),
        http_status_code: Some(500),
        ..Derived::default()
    };

    let mut client = timed(
        span(trace, sid(2), Some(sid(1)), "SELECT orders"),
        T0 + 100,
        T0 + 100,
    );
    client.kind = SpanKind::Client;
    client.resource_idx = 1;
    client.scope_idx = 1;
    client.status = Status {
        code: StatusCode::Ok,
        message: String::new(),
    };
    client.derived.db_system = Some("postgresql".to_owned());

    let mut kinds = Vec::new();
    for (n, kind) in [
        SpanKind::Unspecified,
        SpanKind::Internal,
        SpanKind::Producer,
        SpanKind::Consumer,
    ]
    .into_iter()
    .enumerate()
    {
        let n = n as u64;
        let mut child = timed(
            span(trace, sid(10 + n), Some(sid(2)), &format!("{kind:?}")),
            T0 + 200 + n as i64,
            T0 + 300,
        );
        child.kind = kind;
        child.attributes = attrs([("i", Value::Int(n as i64)), ("f", Value::Double(n as f64))]);
        child.flags = 1;
        child.derived.request_id = Some(format!("req-{n}"));
        kinds.push(child);
    }
    // Written out of order: children first, root last.
    let mut spans = kinds;
    spans.push(client);
    spans.push(root);

    let batch = Batch {
        resources,
        scopes,
        spans,
        logs: Vec::new(),
        metric_points: Vec::new(),
    };
    write(&ctx, &batch).await;

    let view = ctx
        .store
        .reader()
        .trace(&trace)
        .await
        .expect("trace")
        .expect("the trace just written");
    assert_eq!(view.trace_id, hex::encode(trace));
    assert!(view.logs.is_empty(), "no log carries this trace id");
    // Ordered by start time: root, client, then the four children.
    let order: Vec<usize> = vec![5, 4, 0, 1, 2, 3];
    assert_eq!(
        view.spans
            .iter()
            .map(|s| s.span_id.clone())
            .collect::<Vec<_>>(),
        order
            .iter()
            .map(|i| hex::encode(batch.spans[*i].span_id))
            .collect::<Vec<_>>(),
        "spans ordered by start time"
    );
    for (got, i) in view.spans.iter().zip(order) {
        assert_span(got, &expected_span(&batch, i));
    }
    // Spot checks that do not go through the expected-view builder.
    let root = &view.spans[0];
    assert_eq!(root.parent_span_id, None);
    assert_eq!(root.duration_ns, 5_000_000);
    assert_eq!(root.flags, 0x301);
    assert_eq!(root.kind, SpanKind::Server);
    assert_eq!(root.request_id.as_deref(), Some("req-42"));
    assert!(matches!(
        root.attributes.get("int.one"),
        Some(Value::Int(1))
    ));
    assert!(matches!(root.attributes.get("double.one"), Some(Value::Double(d)) if *d == 1.0));
    assert!(matches!(root.attributes.get("double.nan"), Some(Value::Double(d)) if d.is_nan()));
    assert!(matches!(
        root.attributes.get("$top.level"),
        Some(Value::String(_))
    ));
    assert_eq!(root.scope.name, "io.loupe.checkout");
    assert_eq!(root.scope.version, "1.2.3");
    let client = &view.spans[1];
    assert_eq!(client.service, "postgres");
    assert_eq!(client.parent_span_id, Some(hex::encode(sid(1))));
    assert_eq!(client.duration_ns, 0);
    assert!(client.events.is_empty() && client.links.is_empty());
    assert_eq!(client.request_id, None);
}

pub async fn round_trip_logs(ctx: Ctx) {
    let trace = tid(3);
    let mut logs = vec![
        log(T0 + 1_000, s("plain text body: ünïcödé \"quoted\"")),
        log(
            T0 + 2_000,
            map([
                ("msg", s("structured")),
                ("n", Value::Int(3)),
                ("ratio", Value::Double(1.0)),
                ("$kind", s("dollar key")),
                (
                    "nested",
                    map([("list", Value::Array(vec![Value::Empty, Value::Bool(false)]))]),
                ),
            ]),
        ),
        log(
            T0 + 3_000,
            Value::Array(vec![
                s("a"),
                Value::Int(1),
                Value::Double(1.0),
                Value::Empty,
            ]),
        ),
        log(T0 + 4_000, Value::Bytes(vec![0, 159, 146, 150, 255])),
        log(T0 + 5_000, Value::Int(42)),
        log(T0 + 6_000, Value::Double(1.0)),
        log(T0 + 7_000, Value::Bool(true)),
        log(T0 + 8_000, Value::Empty),
        log(T0 + 9_000, s("")),
        log(T0 + 10_000, Value::Double(f64::NAN)),
    ];
    // Time unknown (0): ordered and found by the observed time, but read back as sent.
    let mut untimed = log(0, s("no timestamp"));
    untimed.observed_time_unix_nano = T0 + 5_500;
    logs.push(untimed);

    let first = &mut logs[0];
    first.severity_number = 17;
    first.severity_text = "ERROR".to_owned();
    first.trace_id = Some(trace);
    first.span_id = Some(sid(5));
    first.request_id = Some("req-1".to_owned());
    first.attributes = every_value();
    first.dropped_attributes_count = 4;
    first.flags = 1;
    let second = &mut logs[1];
    second.event_name = "app.checkout.done".to_owned();
    second.trace_id = Some(trace);
    second.severity_number = 0;
    second.severity_text = String::new();
    let bytes = &mut logs[3];
    bytes.trace_id = Some(tid(4));
    bytes.span_id = None;

    let mut batch = logs_batch("logger", logs);
    batch.resources[0]
        .attributes
        .0
        .push(("k8s.pod.uid".to_owned(), s("abc")));
    batch.scopes[0].attributes = attrs([("scope.n", Value::Int(2))]);
    write(&ctx, &batch).await;

    let got = search(&ctx, all(100)).await;
    assert_eq!(got.len(), batch.logs.len());
    // Newest first by effective time; the untimed record sits at its observed time.
    let order = [9, 8, 7, 6, 5, 10, 4, 3, 2, 1, 0];
    for (got, i) in got.iter().zip(order) {
        assert_log(got, &expected_log(&batch, i));
    }
    let untimed = &got[5];
    assert_eq!(untimed.time_unix_nano, 0);
    assert_eq!(untimed.observed_time_unix_nano, T0 + 5_500);
    assert!(matches!(got[4].body, Value::Double(d) if d == 1.0));
    assert!(matches!(got[6].body, Value::Int(42)));
    assert!(matches!(got[2].body, Value::Empty));

    // The trace's logs come with it, oldest first, even with no span stored.
    let view = ctx
        .store
        .reader()
        .trace(&trace)
        .await
        .expect("trace")
        .expect("a trace with only logs is found");
    assert!(view.spans.is_empty());
    assert_eq!(view.logs.len(), 2);
    assert_log(&view.logs[0], &expected_log(&batch, 0));
    assert_log(&view.logs[1], &expected_log(&batch, 1));
    let only_bytes = ctx
        .store
        .reader()
        .trace(&tid(4))
        .await
        .expect("trace")
        .expect("found");
    assert_eq!(only_bytes.logs.len(), 1);
    assert_eq!(only_bytes.logs[0].span_id, None);
    assert_eq!(stats(&ctx).await.logs, 11);
}

pub async fn trace_summary_out_of_order(ctx: Ctx) {
    let trace = tid(1);
    let other = tid(2);
    let root_id = sid(1);

    // Batch 1: two deep children, the later one first; neither is the root.
    let b1 = spans_batch(
        "backend",
        vec![
            timed(
                span(trace, sid(4), Some(sid(2)), "cache"),
                T0 + 300,
                T0 + 400,
            ),
            timed(
                span(trace, sid(3), Some(sid(2)), "render"),
                T0 + 150,
                T0 + 900,
            ),
        ],
    );
    write(&ctx, &b1).await;
    assert_eq!(
        ctx.trace_row(&trace).await,
        Some(TraceRow {
            start_ns: T0 + 150,
            end_ns: T0 + 900,
            span_count: 2,
            error_count: 0,
            root_service: None,
            root_name: None,
        })
    );
    assert_eq!(ctx.trace_services(&trace).await, ["backend"]);

    // Batch 2: a failed child of another service, and another trace's root with an error.
    let b2 = Batch {
        resources: vec![resource("db"), resource("solo")],
        scopes: vec![scope("conformance")],
        spans: vec![
            failed(timed(
                span(trace, sid(2), Some(root_id), "query"),
                T0 + 200,
                T0 + 250,
            )),
            on_resource(
                failed(timed(span(other, sid(9), None, "lonely"), T0 + 5, T0 + 6)),
                1,
            ),
        ],
        logs: Vec::new(),
        metric_points: Vec::new(),
    };
    write(&ctx, &b2).await;
    assert_eq!(
        ctx.trace_row(&trace).await,
        Some(TraceRow {
            start_ns: T0 + 150,
            end_ns: T0 + 900,
            span_count: 3,
            error_count: 1,
            root_service: None,
            root_name: None,
        })
    );
    assert_eq!(
        ctx.trace_row(&other).await,
        Some(TraceRow {
            start_ns: T0 + 5,
            end_ns: T0 + 6,
            span_count: 1,
            error_count: 1,
            root_service: Some("solo".to_owned()),
            root_name: Some("lonely".to_owned()),
        })
    );

    // Batch 3: the root arrives last, starting earliest but not ending latest,
    // with one more (failed) child in the same batch before it.
    let b3 = spans_batch(
        "frontend",
        vec![
            failed(timed(
                span(trace, sid(5), Some(root_id), "late child"),
                T0 + 50,
                T0 + 60,
            )),
            timed(span(trace, root_id, None, "GET /"), T0 + 100, T0 + 800),
        ],
    );
    write(&ctx, &b3).await;
    assert_eq!(
        ctx.trace_row(&trace).await,
        Some(TraceRow {
            start_ns: T0 + 50,
            end_ns: T0 + 900,
            span_count: 5,
            error_count: 2,
            root_service: Some("frontend".to_owned()),
            root_name: Some("GET /".to_owned()),
        })
    );
    assert_eq!(
        ctx.trace_services(&trace).await,
        ["backend", "db", "frontend"]
    );
    assert_eq!(ctx.trace_services(&other).await, ["solo"]);

    // A later non-root span does not take the root's place.
    let b4 = spans_batch(
        "backend",
        vec![timed(
            span(trace, sid(6), Some(sid(3)), "straggler"),
            T0 + 500,
            T0 + 950,
        )],
    );
    write(&ctx, &b4).await;
    let row = ctx.trace_row(&trace).await.expect("trace row");
    assert_eq!(row.root_service.as_deref(), Some("frontend"));
    assert_eq!(row.root_name.as_deref(), Some("GET /"));
    assert_eq!(
        (row.start_ns, row.end_ns, row.span_count),
        (T0 + 50, T0 + 950, 6)
    );
    assert_eq!(
        ctx.trace_services(&trace).await,
        ["backend", "db", "frontend"]
    );

    let view = ctx
        .store
        .reader()
        .trace(&trace)
        .await
        .expect("trace")
        .expect("found");
    let names: Vec<&str> = view.spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "late child",
            "GET /",
            "render",
            "query",
            "cache",
            "straggler"
        ]
    );
    assert_eq!(view.spans.iter().filter(|s| s.is_error).count(), 2);

    assert_eq!(
        stats(&ctx).await,
        Stats {
            spans: 7,
            logs: 0,
            metric_points: 0,
            traces: 2,
            services: 4,
        }
    );
    assert_eq!(ctx.count("traces").await, 2);
    assert_eq!(ctx.count("spans").await, 7);
}

pub async fn stats_count_everything(ctx: Ctx) {
    let mut batch = batch_of(
        "api",
        vec![
            span(tid(1), sid(1), None, "a"),
            span(tid(1), sid(2), Some(sid(1)), "b"),
            span(tid(2), sid(3), None, "c"),
        ],
        vec![log(T0, s("one")), log(T0 + 1, s("two"))],
        vec![gauge("g", T0, Attributes::default(), Value::Int(1))],
    );
    // Items of a second resource in the same batch (as Batch::append builds it).
    batch.append(batch_of(
        "worker",
        vec![span(tid(3), sid(4), None, "d")],
        vec![log(T0 + 2, s("three"))],
        vec![
            gauge("g", T0 + 1, Attributes::default(), Value::Int(2)),
            gauge("h", T0 + 1, Attributes::default(), Value::Double(2.5)),
        ],
    ));
    write(&ctx, &batch).await;
    assert_eq!(
        stats(&ctx).await,
        Stats {
            spans: 4,
            logs: 3,
            metric_points: 3,
            traces: 3,
            services: 2,
        }
    );
    // The appended items kept their own resource.
    let worker = ctx
        .store
        .reader()
        .trace(&tid(3))
        .await
        .expect("trace")
        .expect("found");
    assert_eq!(worker.spans[0].service, "worker");
    let worker_logs = search(
        &ctx,
        LogQuery {
            service: Some("worker".to_owned()),
            limit: 10,
            ..LogQuery::default()
        },
    )
    .await;
    assert_eq!(worker_logs.len(), 1);
    assert!(matches!(&worker_logs[0].body, Value::String(b) if b == "three"));

    // Logs and metrics alone add services too; counters accumulate.
    write(&ctx, &logs_batch("cron", vec![log(T0 + 3, s("four"))])).await;
    write(
        &ctx,
        &points_batch(
            "meter",
            vec![gauge("g", T0 + 2, Attributes::default(), Value::Int(3))],
        ),
    )
    .await;
    assert_eq!(
        stats(&ctx).await,
        Stats {
            spans: 4,
            logs: 4,
            metric_points: 4,
            traces: 3,
            services: 4,
        }
    );
    assert_eq!(ctx.count("spans").await, 4);
    assert_eq!(ctx.count("logs").await, 4);
    assert_eq!(ctx.count("metric_points").await, 4);
}

/// Five logs over two services; `n` identifies each in results.
fn search_fixture() -> Batch {
    let t1 = tid(1);
    let t2 = tid(2);
    let entry = |n: i64, time: i64, severity: i32, body: Value| {
        let mut record = log(time, body);
        record.severity_number = severity;
        record.attributes = attrs([("n", Value::Int(n))]);
        record
    };
    let mut l1 = entry(1, 1_000, 9, s("user alice logged in"));
    l1.trace_id = Some(t1);
    l1.request_id = Some("r-1".to_owned());
    let mut l2 = entry(2, 2_000, 17, s("error: disk full on /dev/sda1"));
    l2.trace_id = Some(t1);
    l2.span_id = Some(sid(1));
    l2.request_id = Some("r-2".to_owned());
    let mut l3 = entry(
        3,
        3_000,
        13,
        map([
            ("msg", s("job finished")),
            ("job", s("resize-images")),
            ("took_ms", Value::Int(17)),
        ]),
    );
    l3.resource_idx = 1;
    let mut l4 = entry(
        4,
        0,
        5,
        s("DEBUG tick (42) \"quoted\" *star* key:value -minus NOT AND OR NEAR"),
    );
    l4.observed_time_unix_nano = 4_000;
    l4.resource_idx = 1;
    let mut l5 = entry(5, 5_000, 21, s("FATAL crash in Alice's handler"));
    l5.trace_id = Some(t2);
    l5.request_id = Some("r-1".to_owned());
    Batch {
        resources: vec![resource("api"), resource("worker")],
        scopes: vec![scope("conformance")],
        spans: Vec::new(),
        logs: vec![l1, l2, l3, l4, l5],
        metric_points: Vec::new(),
    }
}

pub async fn log_search_filters(ctx: Ctx) {
    let batch = search_fixture();
    // Two batches, so that neither insertion order nor batch boundaries decide the order.
    let mut late = batch.clone();
    late.logs
        .retain(|l| l.time_unix_nano <= 2_000 && l.time_unix_nano != 0);
    let mut early = batch.clone();
    early
        .logs
        .retain(|l| !(l.time_unix_nano <= 2_000 && l.time_unix_nano != 0));
    write(&ctx, &early).await;
    write(&ctx, &late).await;

    let q = |f: fn(&mut LogQuery)| {
        let mut query = all(100);
        f(&mut query);
        query
    };
    let cases: Vec<(&str, LogQuery, Vec<i64>)> = vec![
        ("everything, newest first", all(100), vec![5, 4, 3, 2, 1]),
        ("limit", all(2), vec![5, 4]),
        ("limit 1", all(1), vec![5]),
        (
            "service",
            q(|q| q.service = Some("api".into())),
            vec![5, 2, 1],
        ),
        (
            "numeric attribute",
            q(|q| q.attributes = vec![attr("n>=4")]),
            vec![5, 4],
        ),
        (
            "attribute equal and not equal",
            q(|q| q.attributes = vec![attr("n!=1"), attr("n<3")]),
            vec![2],
        ),
        (
            "other service",
            q(|q| q.service = Some("worker".into())),
            vec![4, 3],
        ),
        (
            "unknown service",
            q(|q| q.service = Some("nope".into())),
            vec![],
        ),
        ("trace id", q(|q| q.trace_id = Some(tid(1))), vec![2, 1]),
        ("unknown trace id", q(|q| q.trace_id = Some(tid(9))), vec![]),
        (
            "request id",
            q(|q| q.request_id = Some("r-1".into())),
            vec![5, 1],
        ),
        (
            "request id 2",
            q(|q| q.request_id = Some("r-2".into())),
            vec![2],
        ),
        ("severity", q(|q| q.severity_min = Some(13)), vec![5, 3, 2]),
        (
            "severity exact edge",
            q(|q| q.severity_min = Some(21)),
            vec![5],
        ),
        (
            "severity above all",
            q(|q| q.severity_min = Some(22)),
            vec![],
        ),
        (
            "start inclusive, end exclusive",
            q(|q| {
                q.start = Some(2_000);
                q.end = Some(4_000);
            }),
            vec![3, 2],
        ),
        (
            "start only, untimed by observed",
            q(|q| q.start = Some(4_000)),
            vec![5, 4],
        ),
        ("end only", q(|q| q.end = Some(2_000)), vec![1]),
        (
            "empty window",
            q(|q| {
                q.start = Some(3_000);
                q.end = Some(3_000);
            }),
            vec![],
        ),
        (
            "combined",
            q(|q| {
                q.service = Some("api".into());
                q.severity_min = Some(10);
                q.start = Some(1_000);
                q.limit = 1;
            }),
            vec![5],
        ),
        (
            "combined with text",
            q(|q| {
                q.service = Some("api".into());
                q.text = Some("alice".into());
                q.trace_id = Some(tid(1));
            }),
            vec![1],
        ),
    ];
    for (what, query, want) in cases {
        let got = search(&ctx, query.clone()).await;
        assert_eq!(ns(&got), want, "[{:?}] {what}: {query:?}", ctx.backend);
    }
    let newest = search(&ctx, all(1)).await;
    assert_log(&newest[0], &expected_log(&batch, 4));
}

pub async fn log_text_search(ctx: Ctx) {
    write(&ctx, &search_fixture()).await;
    let cases: Vec<(&str, Vec<i64>)> = vec![
        ("disk", vec![2]),
        ("DISK Full", vec![2]),
        ("  disk   full  ", vec![2]),
        ("disk alice", vec![]),
        ("alice", vec![5, 1]),
        ("logged", vec![1]),
        ("crash", vec![5]),
        ("nomatch", vec![]),
        // Words of a map body, keys and values.
        ("finished", vec![3]),
        ("job finished", vec![3]),
        ("resize", vec![3]),
        ("resize-images", vec![3]),
        ("took_ms", vec![3]),
        // FTS syntax in user input is searched as words, never parsed.
        ("\"quoted\"", vec![4]),
        ("*star*", vec![4]),
        ("star*", vec![4]),
        ("key:value", vec![4]),
        ("error:", vec![2]),
        ("-minus", vec![4]),
        ("(42)", vec![4]),
        ("tick NOT", vec![4]),
        ("NEAR", vec![4]),
        ("OR", vec![4]),
        ("AND tick", vec![4]),
        // Paths are split into words on both backends.
        ("sda1", vec![2]),
        ("dev sda1", vec![2]),
        ("/dev/sda1", vec![2]),
    ];
    for (text, want) in cases {
        let got = search(
            &ctx,
            LogQuery {
                text: Some(text.to_owned()),
                limit: 100,
                ..LogQuery::default()
            },
        )
        .await;
        assert_eq!(ns(&got), want, "[{:?}] text search {text:?}", ctx.backend);
    }
    // Blank text is no filter at all.
    for text in ["", "   ", "\t\n"] {
        let got = search(
            &ctx,
            LogQuery {
                text: Some(text.to_owned()),
                limit: 100,
                ..LogQuery::default()
            },
        )
        .await;
        assert_eq!(ns(&got), [5, 4, 3, 2, 1], "blank text {text:?}");
    }
    // URLs and e-mail addresses are words too; an empty body holds none.
    let mut extra = search_fixture();
    extra.logs = vec![
        log(
            6_000,
            s("GET https://shop.example.com/api/checkout?id=7 for bob@example.org"),
        ),
        log(7_000, Value::Empty),
    ];
    write(&ctx, &extra).await;
    for (text, want) in [
        ("checkout", 1),
        ("example", 1),
        ("bob", 1),
        ("api checkout", 1),
        ("null", 0),
    ] {
        let got = search(
            &ctx,
            LogQuery {
                text: Some(text.to_owned()),
                limit: 100,
                ..LogQuery::default()
            },
        )
        .await;
        assert_eq!(got.len(), want, "[{:?}] text search {text:?}", ctx.backend);
    }
    // Input that is nothing but FTS syntax must not make the query fail.
    for text in [
        "\"",
        "\"\"",
        "*",
        "-",
        ":",
        "(",
        ")",
        "\"*-:(",
        "NOT",
        "a OR",
        "^",
        "'",
        "\\",
        "&|!<->",
        "col:word",
        "NEAR(a b)",
        "%_",
    ] {
        ctx.store
            .reader()
            .logs(&LogQuery {
                text: Some(text.to_owned()),
                limit: 100,
                ..LogQuery::default()
            })
            .await
            .unwrap_or_else(|e| panic!("[{:?}] text search {text:?} failed: {e}", ctx.backend));
    }
}

fn exemplars() -> Vec<Exemplar> {
    vec![
        Exemplar {
            filtered_attributes: attrs([("user", s("u-1")), ("ratio", Value::Double(1.0))]),
            time_unix_nano: T0 + 17,
            value: Value::Double(9.5),
            trace_id: tid(5).to_vec(),
            span_id: sid(6).to_vec(),
        },
        Exemplar {
            filtered_attributes: Attributes::default(),
            time_unix_nano: T0 + 18,
            value: Value::Int(3),
            trace_id: Vec::new(),
            span_id: Vec::new(),
        },
    ]
}

/// The point view `metric_points` must return for point `i` of `batch`.
fn expected_point(batch: &Batch, i: usize) -> MetricPointView {
    let p = &batch.metric_points[i];
    MetricPointView {
        name: p.metric.name.clone(),
        service: batch.resources[p.resource_idx].service.clone(),
        kind: p.metric.kind,
        unit: p.metric.unit.clone(),
        temporality: p.metric.temporality,
        monotonic: p.metric.monotonic,
        attributes: p.attributes.clone(),
        start_time_unix_nano: p.start_time_unix_nano,
        time_unix_nano: p.time_unix_nano,
        flags: p.flags,
        value: p.value.clone(),
        exemplars: p.exemplars.clone(),
    }
}

async fn points(ctx: &Ctx, name: &str, limit: u32) -> Vec<MetricPointView> {
    ctx.store
        .reader()
        .metric_points(name, limit)
        .await
        .unwrap_or_else(|e| panic!("[{:?}] metric_points({name}) failed: {e}", ctx.backend))
}

pub async fn metrics_round_trip(ctx: Ctx) {
    let host = |h: &str| attrs([("host", s(h))]);
    let mut sum = descriptor("s.sum", MetricKind::Sum);
    sum.temporality = 2;
    sum.monotonic = true;
    sum.unit = "By".to_owned();
    let mut delta = descriptor("s.delta", MetricKind::Sum);
    delta.temporality = 1;
    delta.description = String::new();
    delta.unit = String::new();
    delta.metadata = attrs([("prometheus.type", s("counter"))]);

    let mut hist = point(
        descriptor("h.hist", MetricKind::Histogram),
        T0 + 10,
        host("a"),
        PointValue::Histogram(Histogram {
            count: 10,
            sum: Some(55.5),
            min: Some(0.5),
            max: Some(20.0),
            bucket_counts: vec![1, 4, 5],
            explicit_bounds: vec![1.0, 10.0],
        }),
    );
    hist.exemplars = exemplars();
    hist.flags = 1;
    let bare_hist = point(
        descriptor("h.hist", MetricKind::Histogram),
        T0 + 11,
        host("b"),
        PointValue::Histogram(Histogram {
            count: 0,
            sum: None,
            min: None,
            max: None,
            bucket_counts: vec![0],
            explicit_bounds: Vec::new(),
        }),
    );
    let mut exp = point(
        descriptor("e.exp", MetricKind::ExponentialHistogram),
        T0 + 12,
        Attributes::default(),
        PointValue::ExponentialHistogram(ExponentialHistogram {
            count: 7,
            sum: Some(12.0),
            min: Some(-3.0),
            max: Some(8.25),
            scale: 3,
            zero_count: 1,
            zero_threshold: 1e-9,
            positive: Buckets {
                offset: -2,
                bucket_counts: vec![1, 2, 3],
            },
            negative: Buckets {
                offset: 1,
                bucket_counts: vec![0, 1],
            },
        }),
    );
    exp.exemplars = vec![exemplars().remove(0)];
    let summary = point(
        descriptor("q.summary", MetricKind::Summary),
        T0 + 13,
        host("a"),
        PointValue::Summary(Summary {
            count: 4,
            sum: 10.0,
            quantile_values: vec![
                Quantile {
                    quantile: 0.0,
                    value: 1.0,
                },
                Quantile {
                    quantile: 0.5,
                    value: 2.5,
                },
                Quantile {
                    quantile: 0.99,
                    value: 4.0,
                },
                Quantile {
                    quantile: 1.0,
                    value: 4.0,
                },
            ],
        }),
    );
    let mut int_gauge = gauge("g.int", T0 + 1, host("a"), Value::Int(5));
    int_gauge.exemplars = exemplars();
    let b1 = points_batch(
        "api",
        vec![
            int_gauge,
            gauge("g.int", T0 + 3, host("b"), Value::Int(-7)),
            gauge("g.double", T0 + 1, host("a"), Value::Double(1.0)),
            gauge("g.double", T0 + 2, host("a"), Value::Double(0.25)),
            point(
                sum.clone(),
                T0 + 4,
                host("a"),
                PointValue::Value(Value::Int(100)),
            ),
            point(
                delta,
                T0 + 5,
                Attributes::default(),
                PointValue::Value(Value::Double(-3.5)),
            ),
            hist,
            bare_hist,
            exp,
            summary,
        ],
    );
    write(&ctx, &b1).await;
    // The same streams again in later batches, and one from another service.
    let b2 = points_batch(
        "api",
        vec![
            gauge("g.int", T0 + 2, host("a"), Value::Int(6)),
            point(sum, T0 + 6, host("a"), PointValue::Value(Value::Int(120))),
        ],
    );
    write(&ctx, &b2).await;
    let b3 = points_batch(
        "worker",
        vec![gauge("g.int", T0 + 4, host("a"), Value::Int(8))],
    );
    write(&ctx, &b3).await;

    // Newest first, each as written.
    let got = points(&ctx, "g.int", 10).await;
    let want = [
        expected_point(&b3, 0),
        expected_point(&b1, 1),
        expected_point(&b2, 0),
        expected_point(&b1, 0),
    ];
    assert_eq!(got.len(), want.len());
    for (got, want) in got.iter().zip(&want) {
        assert_same(got, want, &format!("g.int point @{}", want.time_unix_nano));
    }
    assert_eq!(got[0].service, "worker");
    assert!(matches!(got[1].value, PointValue::Value(Value::Int(-7))));
    assert_eq!(got[3].exemplars.len(), 2);
    assert_eq!(got[3].exemplars[0].trace_id, tid(5).to_vec());
    assert_eq!(got[3].exemplars[0].span_id, sid(6).to_vec());
    assert!(got[3].exemplars[1].trace_id.is_empty());
    assert_same(
        &points(&ctx, "g.int", 2).await,
        &got[..2].to_vec(),
        "g.int limit 2",
    );
    assert_eq!(points(&ctx, "g.int", 1).await.len(), 1);

    let got = points(&ctx, "g.double", 10).await;
    assert_same(
        &got,
        &vec![expected_point(&b1, 3), expected_point(&b1, 2)],
        "g.double",
    );
    assert!(matches!(got[1].value, PointValue::Value(Value::Double(d)) if d == 1.0));

    let got = points(&ctx, "s.sum", 10).await;
    assert_same(
        &got,
        &vec![expected_point(&b2, 1), expected_point(&b1, 4)],
        "s.sum",
    );
    assert_eq!((got[0].temporality, got[0].monotonic), (2, true));
    let got = points(&ctx, "s.delta", 10).await;
    assert_same(&got, &vec![expected_point(&b1, 5)], "s.delta");
    assert_eq!((got[0].temporality, got[0].monotonic), (1, false));
    assert_same(
        &points(&ctx, "h.hist", 10).await,
        &vec![expected_point(&b1, 7), expected_point(&b1, 6)],
        "h.hist",
    );
    assert_same(
        &points(&ctx, "e.exp", 10).await,
        &vec![expected_point(&b1, 8)],
        "e.exp",
    );
    assert_same(
        &points(&ctx, "q.summary", 10).await,
        &vec![expected_point(&b1, 9)],
        "q.summary",
    );
    assert!(
        points(&ctx, "g", 10).await.is_empty(),
        "names match exactly"
    );

    let info = |name: &str, kind, unit: &str, description: &str, series_count| MetricInfo {
        name: name.to_owned(),
        kind,
        unit: unit.to_owned(),
        description: description.to_owned(),
        series_count,
    };
    let what = |name: &str| format!("what {name} measures");
    assert_eq!(
        ctx.store.reader().metrics().await.expect("metrics"),
        vec![
            info(
                "e.exp",
                MetricKind::ExponentialHistogram,
                "ms",
                &what("e.exp"),
                1
            ),
            info("g.double", MetricKind::Gauge, "ms", &what("g.double"), 1),
            // api/host=a, api/host=b, worker/host=a
            info("g.int", MetricKind::Gauge, "ms", &what("g.int"), 3),
            info("h.hist", MetricKind::Histogram, "ms", &what("h.hist"), 2),
            info(
                "q.summary",
                MetricKind::Summary,
                "ms",
                &what("q.summary"),
                1
            ),
            info("s.delta", MetricKind::Sum, "", "", 1),
            info("s.sum", MetricKind::Sum, "By", &what("s.sum"), 1),
        ]
    );
    // One stream row per (resource, scope, descriptor), however many batches.
    assert_eq!(ctx.count("metrics").await, 8);
    assert_eq!(ctx.count("metric_points").await, 13);
    assert_eq!(stats(&ctx).await.metric_points, 13);
}

/// Values a Prometheus summary or a broken SDK really sends: NaN quantiles
/// (a summary with no observations in its window), infinite gauges.
pub async fn metric_non_finite_values(ctx: Ctx) {
    let nan_summary = point(
        descriptor("rpc.latency", MetricKind::Summary),
        T0 + 1,
        Attributes::default(),
        PointValue::Summary(Summary {
            count: 0,
            sum: 0.0,
            quantile_values: vec![
                Quantile {
                    quantile: 0.5,
                    value: f64::NAN,
                },
                Quantile {
                    quantile: 0.99,
                    value: f64::NAN,
                },
            ],
        }),
    );
    let odd_histogram = point(
        descriptor("odd.histogram", MetricKind::Histogram),
        T0 + 1,
        Attributes::default(),
        PointValue::Histogram(Histogram {
            count: 2,
            sum: Some(f64::NAN),
            min: Some(f64::NEG_INFINITY),
            max: Some(f64::INFINITY),
            bucket_counts: vec![1, 0, 1],
            explicit_bounds: vec![0.0, f64::INFINITY],
        }),
    );
    let odd_exponential = point(
        descriptor("odd.exponential", MetricKind::ExponentialHistogram),
        T0 + 1,
        Attributes::default(),
        PointValue::ExponentialHistogram(ExponentialHistogram {
            count: 1,
            sum: Some(f64::INFINITY),
            min: None,
            max: Some(f64::NAN),
            scale: -1,
            zero_count: 0,
            zero_threshold: f64::NAN,
            positive: Buckets {
                offset: 0,
                bucket_counts: vec![1],
            },
            negative: Buckets {
                offset: 0,
                bucket_counts: Vec::new(),
            },
        }),
    );
    let temperature = |time, value| gauge("temperature", time, Attributes::default(), value);
    let batch = points_batch(
        "api",
        vec![
            temperature(T0 + 1, Value::Double(f64::NAN)),
            temperature(T0 + 2, Value::Double(f64::INFINITY)),
            temperature(T0 + 3, Value::Double(f64::NEG_INFINITY)),
            nan_summary,
            odd_histogram,
            odd_exponential,
        ],
    );
    write(&ctx, &batch).await;
    assert_same(
        &points(&ctx, "temperature", 10).await,
        &vec![
            expected_point(&batch, 2),
            expected_point(&batch, 1),
            expected_point(&batch, 0),
        ],
        "non-finite gauges",
    );
    for (name, i) in [
        ("rpc.latency", 3),
        ("odd.histogram", 4),
        ("odd.exponential", 5),
    ] {
        assert_same(
            &points(&ctx, name, 10).await,
            &vec![expected_point(&batch, i)],
            name,
        );
    }
    assert_eq!(
        ctx.store.reader().metrics().await.expect("metrics").len(),
        4
    );
}

pub async fn interning_writes_once(ctx: Ctx) {
    let rich_resource = || Resource {
        service: "api".to_owned(),
        attributes: attrs([
            ("service.name", s("api")),
            (
                "nested",
                map([("$k", Value::Double(1.0)), ("n", Value::Double(f64::NAN))]),
            ),
        ]),
        dropped_attributes_count: 1,
        schema_url: "https://opentelemetry.io/schemas/1.26.0".to_owned(),
    };
    let batch = |i: u64| Batch {
        resources: vec![rich_resource()],
        scopes: vec![scope("lib")],
        spans: vec![span(tid(i), sid(i), None, "op")],
        logs: vec![log(T0 + i as i64, s("line"))],
        metric_points: vec![gauge(
            "g",
            T0 + i as i64,
            Attributes::default(),
            Value::Int(1),
        )],
    };
    for i in 0..20 {
        write(&ctx, &batch(i)).await;
    }
    assert_eq!(ctx.count("resources").await, 1);
    assert_eq!(ctx.count("scopes").await, 1);
    assert_eq!(ctx.count("metrics").await, 1);

    // The same resource several times in one batch (Batch::append of requests).
    let mut merged = batch(100);
    for i in 101..104 {
        merged.append(batch(i));
    }
    assert_eq!(merged.resources.len(), 4);
    write(&ctx, &merged).await;
    assert_eq!(ctx.count("resources").await, 1);
    assert_eq!(ctx.count("scopes").await, 1);
    assert_eq!(ctx.count("metrics").await, 1);

    // Another process, with nothing cached, finds the same rows.
    let second = ctx.open_another().await;
    for i in 200..205 {
        write_to(&second, batch(i))
            .await
            .expect("second store writes");
    }
    assert_eq!(ctx.count("resources").await, 1);
    assert_eq!(ctx.count("scopes").await, 1);
    assert_eq!(ctx.count("metrics").await, 1);
    let via_second = ctx
        .store
        .reader()
        .trace(&tid(200))
        .await
        .expect("trace")
        .expect("found");
    assert_same(
        &via_second.spans[0].resource,
        &rich_resource().attributes,
        "resource",
    );
    second.close().await;

    // Anything that differs is another row.
    let mut other = batch(300);
    other.resources[0].schema_url = String::new();
    other.scopes[0].version = "2.0.0".to_owned();
    write(&ctx, &other).await;
    let mut other = batch(301);
    other.resources[0]
        .attributes
        .0
        .push(("extra".to_owned(), Value::Int(1)));
    write(&ctx, &other).await;
    assert_eq!(ctx.count("resources").await, 3);
    assert_eq!(ctx.count("scopes").await, 2);
    assert_eq!(ctx.count("metrics").await, 3);
    // Ints and doubles are different values, so different resources.
    let mut other = batch(302);
    other.resources[0].attributes.0[1].1 =
        map([("$k", Value::Int(1)), ("n", Value::Double(f64::NAN))]);
    write(&ctx, &other).await;
    assert_eq!(ctx.count("resources").await, 4);

    assert_eq!(stats(&ctx).await.spans, 20 + 4 + 5 + 3);
    assert_eq!(stats(&ctx).await.services, 1);
}

/// Two "processes" (two `Store`s on one database) writing the same new
/// resources, scopes and metric streams at the same moment, each listing
/// them in the other's reverse order.
pub async fn two_stores_write_concurrently(ctx: Ctx) {
    const ROUNDS: u64 = 20;
    const WIDTH: usize = 16;
    // Per round: WIDTH new resources plus one shared by all rounds, each with
    // one span and one point on scope `k % WIDTH`.
    const ITEMS: usize = WIDTH + 1;
    let a = ctx.open_another().await;
    let b = ctx.open_another().await;
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let writer = |store: store::Store, who: u64, reversed: bool| {
        let barrier = barrier.clone();
        tokio::spawn(async move {
            let mut errors = Vec::new();
            for round in 0..ROUNDS {
                let mut resources: Vec<Resource> = (0..WIDTH)
                    .map(|k| resource(&format!("svc-{round}-{k}")))
                    .collect();
                resources.push(resource("shared"));
                let mut scopes: Vec<Scope> = (0..WIDTH)
                    .map(|k| scope(&format!("lib-{round}-{k}")))
                    .collect();
                let place = |idx: usize, len: usize| if reversed { len - 1 - idx } else { idx };
                let mut spans = Vec::new();
                let mut metric_points = Vec::new();
                for k in 0..ITEMS {
                    let n = (who * 1000 + round) * 100 + k as u64;
                    let mut sp = span(tid(n), sid(n), None, "op");
                    sp.resource_idx = place(k, ITEMS);
                    sp.scope_idx = place(k % WIDTH, WIDTH);
                    spans.push(sp);
                    let mut p = gauge(
                        &format!("m-{round}"),
                        T0 + n as i64,
                        Attributes::default(),
                        Value::Int(1),
                    );
                    p.resource_idx = place(k, ITEMS);
                    p.scope_idx = place(k % WIDTH, WIDTH);
                    metric_points.push(p);
                }
                if reversed {
                    resources.reverse();
                    scopes.reverse();
                    spans.reverse();
                    metric_points.reverse();
                }
                let batch = Batch {
                    resources,
                    scopes,
                    spans,
                    logs: Vec::new(),
                    metric_points,
                };
                barrier.wait().await;
                // No panic here: the other writer would wait at the barrier forever.
                if let Err(e) = write_to(&store, batch).await {
                    errors.push(format!("writer {who} round {round}: {e}"));
                }
            }
            (store, errors)
        })
    };
    let ta = writer(a, 1, false);
    let tb = writer(b, 2, true);
    let (a, errors_a) = ta.await.expect("writer a");
    let (b, errors_b) = tb.await.expect("writer b");
    let errors = [errors_a, errors_b].concat();
    assert!(
        errors.is_empty(),
        "[{:?}] concurrent writes failed:\n{}",
        ctx.backend,
        errors.join("\n")
    );

    let rounds = ROUNDS as i64;
    let (width, items) = (WIDTH as i64, ITEMS as i64);
    assert_eq!(ctx.count("resources").await, width * rounds + 1);
    assert_eq!(ctx.count("scopes").await, width * rounds);
    assert_eq!(ctx.count("metrics").await, items * rounds);
    assert_eq!(ctx.count("spans").await, 2 * items * rounds);
    // Every span reads back with its own resource and scope.
    let all = store::TraceQuery {
        limit: 100_000,
        ..store::TraceQuery::default()
    };
    let trace_ids: Vec<String> = ctx
        .store
        .reader()
        .traces(&all)
        .await
        .expect("traces")
        .into_iter()
        .map(|t| t.trace_id)
        .collect();
    let spans = ctx
        .store
        .reader()
        .spans_of_traces(&trace_ids)
        .await
        .expect("spans");
    assert_eq!(spans.len() as i64, 2 * items * rounds);
    for span in &spans {
        assert_eq!(
            span.resource.get("service.name").and_then(|v| v.as_str()),
            Some(span.service.as_str()),
            "[{:?}] {span:?}",
            ctx.backend
        );
        assert!(span.scope.name.starts_with("lib-"), "{span:?}");
    }
    let want = Stats {
        spans: 2 * items * rounds,
        logs: 0,
        metric_points: 2 * items * rounds,
        traces: 2 * items * rounds,
        services: width * rounds + 1,
    };
    assert_eq!(a.reader().stats().await.expect("stats a"), want);
    assert_eq!(b.reader().stats().await.expect("stats b"), want);
    assert_eq!(stats(&ctx).await, want);
    // Each sees the other's spans with the right resource and scope.
    for (store, n, service, scope) in [
        (&a, 200_001, "svc-0-1", "lib-0-1"),
        (&b, 100_002, "svc-0-2", "lib-0-2"),
        (&a, 200_000 + WIDTH as u64, "shared", "lib-0-0"),
    ] {
        let view = store
            .reader()
            .trace(&tid(n))
            .await
            .expect("trace")
            .expect("found");
        assert_eq!(view.spans.len(), 1);
        assert_eq!(view.spans[0].service, service);
        assert_eq!(view.spans[0].scope.name, scope);
    }
    let metrics = ctx.store.reader().metrics().await.expect("metrics");
    assert_eq!(metrics.len(), ROUNDS as usize);
    for metric in metrics {
        assert_eq!(metric.series_count, items, "{}", metric.name);
    }
    a.close().await;
    b.close().await;
}

pub async fn failed_batch_writes_nothing(ctx: Ctx) {
    write(
        &ctx,
        &batch_of(
            "api",
            vec![span(tid(1), sid(1), None, "ok")],
            vec![log(T0, s("ok"))],
            vec![gauge("g", T0, Attributes::default(), Value::Int(1))],
        ),
    )
    .await;
    let stats_before = stats(&ctx).await;
    let counts_before = ctx.counts().await;

    // New resource, scope and metric, a log, a point, a span of an existing
    // trace, and a root span whose trace summary row the database refuses:
    // the `traces` upsert comes after every other insert of the batch.
    ctx.refuse_traces_rooted_at("boom").await;
    let mut bad = batch_of(
        "fresh",
        vec![
            span(tid(1), sid(2), Some(sid(1)), "fine"),
            span(tid(2), sid(3), None, "boom"),
        ],
        vec![log(T0 + 1, s("would be written"))],
        vec![gauge("g2", T0, Attributes::default(), Value::Int(2))],
    );
    bad.scopes[0].name = "fresh-scope".to_owned();
    let err = write_to(&ctx.store, bad.clone())
        .await
        .expect_err("the trigger did not refuse the batch");
    assert!(
        err.to_string()
            .contains("refused by the conformance trigger"),
        "failed otherwise than planned: {err}"
    );
    let assert_unchanged = |what: &'static str| {
        let ctx = ctx.clone();
        let stats_before = stats_before.clone();
        let counts_before = counts_before.clone();
        async move {
            assert_eq!(stats(&ctx).await, stats_before, "stats after {what}");
            assert_eq!(ctx.counts().await, counts_before, "row counts after {what}");
            assert!(
                ctx.store
                    .reader()
                    .trace(&tid(2))
                    .await
                    .expect("trace")
                    .is_none()
            );
            assert_eq!(ctx.trace_row(&tid(1)).await.expect("row").span_count, 1);
            assert!(points(&ctx, "g2", 10).await.is_empty());
        }
    };
    assert_unchanged("a batch refused at its last insert").await;

    // PostgreSQL refuses a NUL in a text column, at the spans insert.
    if ctx.backend == Backend::Postgres {
        let mut nul = bad.clone();
        nul.spans[1].name = "bad\u{0}name".to_owned();
        let err = write_to(&ctx.store, nul)
            .await
            .expect_err("PostgreSQL accepted a NUL in a text column");
        assert!(
            err.to_string().contains("0x00"),
            "failed otherwise than planned: {err}"
        );
        assert_unchanged("a batch with a NUL").await;
    }

    // The store goes on working, and the rolled-back rows were not cached:
    // the same resource, scope and metric are interned anew.
    bad.spans[1].name = "good name".to_owned();
    write(&ctx, &bad).await;
    let view = ctx
        .store
        .reader()
        .trace(&tid(2))
        .await
        .expect("trace")
        .expect("found");
    assert_eq!(view.spans[0].service, "fresh");
    assert_eq!(view.spans[0].scope.name, "fresh-scope");
    assert_eq!(
        stats(&ctx).await,
        Stats {
            spans: 3,
            logs: 2,
            metric_points: 2,
            traces: 2,
            services: 2,
        }
    );
    assert_eq!(ctx.count("resources").await, 2);
    assert_eq!(ctx.count("scopes").await, 2);
    assert_eq!(ctx.count("metrics").await, 2);
    assert_eq!(ctx.trace_row(&tid(1)).await.expect("row").span_count, 2);
    assert_eq!(ctx.trace_services(&tid(1)).await, ["api", "fresh"]);
    assert_eq!(points(&ctx, "g2", 10).await.len(), 1);
}

/// FNV-1a, which resources and scopes were interned by before ADR 0014:
/// anyone can compute it, so a sender could make content that collides.
fn unkeyed_fingerprint(text: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

/// A sender who finds content colliding with another service's resource
/// (or scope) under the old, unkeyed fingerprint has it interned first:
/// planted here as a row of other content under that fingerprint. The
/// other service's spans and logs still show their own resource and
/// scope, and the sender's its own.
pub async fn interning_cannot_be_collided_on_purpose(ctx: Ctx) {
    let victim = Resource {
        service: "payments".to_owned(),
        attributes: attrs([
            ("service.name", s("payments")),
            ("k8s.pod.name", s("payments-7d9f")),
        ]),
        dropped_attributes_count: 0,
        schema_url: String::new(),
    };
    let victim_scope = scope("payments.charges");
    let resource_key = unkeyed_fingerprint(&format!(
        "{}\u{0}{}\u{0}{}\u{0}{}",
        victim.service,
        victim.attributes.to_json_string(),
        victim.dropped_attributes_count,
        victim.schema_url
    ));
    let scope_key = unkeyed_fingerprint(&format!(
        "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
        victim_scope.name,
        victim_scope.version,
        victim_scope.attributes.to_json_string(),
        victim_scope.dropped_attributes_count,
        victim_scope.schema_url
    ));
    let forged = resource("intruder");
    let forged_scope = scope("intruder.lib");
    ctx.execute(&format!(
        "INSERT INTO resources (fingerprint, service, attributes, dropped_attributes_count, \
         schema_url) VALUES ({resource_key}, 'intruder', '{}', 0, '')",
        forged.attributes.to_json_string()
    ))
    .await;
    ctx.execute(&format!(
        "INSERT INTO scopes (fingerprint, name, version, attributes, dropped_attributes_count, \
         schema_url) VALUES ({scope_key}, 'intruder.lib', '', '{{}}', 0, '')"
    ))
    .await;

    let mut victim_log = log(T0, s("charged"));
    victim_log.trace_id = Some(tid(1));
    write(
        &ctx,
        &Batch {
            resources: vec![victim.clone()],
            scopes: vec![victim_scope.clone()],
            spans: vec![span(tid(1), sid(1), None, "charge")],
            logs: vec![victim_log],
            ..Batch::default()
        },
    )
    .await;
    write(
        &ctx,
        &Batch {
            resources: vec![forged.clone()],
            scopes: vec![forged_scope.clone()],
            spans: vec![span(tid(2), sid(2), None, "probe")],
            ..Batch::default()
        },
    )
    .await;

    let reader = ctx.store.reader();
    let paid = reader.trace(&tid(1)).await.expect("trace").expect("found");
    assert_eq!(paid.spans[0].resource, victim.attributes);
    assert_eq!(paid.spans[0].scope.name, victim_scope.name);
    assert_eq!(paid.logs[0].resource, victim.attributes);
    assert_eq!(paid.logs[0].scope.name, victim_scope.name);
    let probe = reader.trace(&tid(2)).await.expect("trace").expect("found");
    assert_eq!(probe.spans[0].resource, forged.attributes);
    assert_eq!(probe.spans[0].scope.name, forged_scope.name);
    // The planted rows, the victim's and the sender's: each kept apart.
    assert_eq!(ctx.count("resources").await, 3);
    assert_eq!(ctx.count("scopes").await, 3);
}

pub async fn nul_in_text(ctx: Ctx) {
    // NUL inside JSON-encoded values is escaped, so every backend keeps it.
    let mut good = span(tid(1), sid(1), None, "op");
    good.attributes = attrs([("nul", s("a\u{0}b")), ("a\u{0}key", Value::Int(1))]);
    let mut record = log(T0, map([("msg", s("x\u{0}y"))]));
    record.attributes = attrs([("nul", s("\u{0}"))]);
    let batch = batch_of("api", vec![good], vec![record], Vec::new());
    write(&ctx, &batch).await;
    let view = ctx
        .store
        .reader()
        .trace(&tid(1))
        .await
        .expect("trace")
        .expect("found");
    assert_span(&view.spans[0], &expected_span(&batch, 0));
    assert_log(&search(&ctx, all(10)).await[0], &expected_log(&batch, 0));

    // A NUL in a plain text column: SQLite keeps it, PostgreSQL refuses the batch.
    let mut raw = span(tid(2), sid(2), None, "bad\u{0}name");
    raw.status.message = "msg\u{0}".to_owned();
    let mut raw_log = log(T0 + 1, s("body\u{0}text"));
    raw_log.severity_text = "IN\u{0}FO".to_owned();
    let batch = batch_of("api", vec![raw], vec![raw_log], Vec::new());
    let result = write_to(&ctx.store, batch.clone()).await;
    match ctx.backend {
        Backend::Sqlite => {
            result.expect("SQLite stores a NUL");
            let view = ctx
                .store
                .reader()
                .trace(&tid(2))
                .await
                .expect("trace")
                .expect("found");
            assert_span(&view.spans[0], &expected_span(&batch, 0));
            let newest = search(&ctx, all(1)).await;
            assert_log(&newest[0], &expected_log(&batch, 0));
        }
        Backend::Postgres => {
            assert!(
                result.is_err(),
                "PostgreSQL accepted a NUL in a text column"
            );
            assert!(
                ctx.store
                    .reader()
                    .trace(&tid(2))
                    .await
                    .expect("trace")
                    .is_none()
            );
            assert_eq!(stats(&ctx).await.spans, 1);
        }
    }
}

/// Stores writing spans of one trace for services of their own at once:
/// the trace lists every service in byte order, whatever the database's
/// collation (PostgreSQL merges under the row's lock, SQLite under its
/// write lock).
pub async fn concurrent_writers_list_one_trace_services(ctx: Ctx) {
    const NAMES: [&str; 6] = ["Zeta", "alpha", "émile", "Bob", "_x", "ünï"];
    const WRITERS: u64 = NAMES.len() as u64;
    const BATCHES: u64 = 8;
    let trace = tid(77);
    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS as usize));
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = ctx.open_another().await;
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            for b in 0..BATCHES {
                let n = 1 + w * 100 + b;
                let sp = timed(span(trace, sid(n), Some(sid(999)), "op"), T0, T0 + 10);
                write_to(&store, spans_batch(NAMES[w as usize], vec![sp]))
                    .await
                    .unwrap_or_else(|e| panic!("writer {w} batch {b}: {e}"));
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer task");
    }
    // Byte order: upper case, then '_', then lower case, then non-ASCII.
    let expected = ["Bob", "Zeta", "_x", "alpha", "émile", "ünï"];
    assert_eq!(ctx.trace_services(&trace).await, expected);
    let row = ctx.trace_row(&trace).await.expect("trace row");
    assert_eq!(row.span_count, (WRITERS * BATCHES) as i64);
    let found = ctx
        .store
        .reader()
        .traces(&store::TraceQuery {
            service: Some("émile".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("search by service");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].services, expected);
}

pub async fn concurrent_writers_on_one_store(ctx: Ctx) {
    const TASKS: u64 = 8;
    const BATCHES: u64 = 50;
    const SPANS: u64 = 20;
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = ctx.store.clone();
        tasks.push(tokio::spawn(async move {
            for b in 0..BATCHES {
                let trace = tid(task * 1_000 + b);
                let spans = (0..SPANS)
                    .map(|i| {
                        let parent = (i > 0).then(|| sid(task * 1_000_000 + b * 100));
                        let sp = timed(
                            span(trace, sid(task * 1_000_000 + b * 100 + i), parent, "op"),
                            T0 + i as i64,
                            T0 + 100 + i as i64,
                        );
                        if i % 5 == 4 { failed(sp) } else { sp }
                    })
                    .collect();
                write_to(&store, spans_batch(&format!("svc-{task}"), spans))
                    .await
                    .unwrap_or_else(|e| panic!("task {task} batch {b}: {e}"));
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer task");
    }
    let total = (TASKS * BATCHES * SPANS) as i64;
    assert_eq!(
        stats(&ctx).await,
        Stats {
            spans: total,
            logs: 0,
            metric_points: 0,
            traces: (TASKS * BATCHES) as i64,
            services: TASKS as i64,
        }
    );
    assert_eq!(ctx.count("spans").await, total);
    assert_eq!(ctx.count("resources").await, TASKS as i64);
    for task in 0..TASKS {
        for b in 0..BATCHES {
            assert_eq!(
                ctx.trace_services(&tid(task * 1_000 + b)).await,
                [format!("svc-{task}")]
            );
        }
    }
    assert_eq!(
        ctx.scalar("SELECT CAST(SUM(span_count) AS BIGINT) FROM traces", None)
            .await,
        total
    );
    assert_eq!(
        ctx.scalar("SELECT CAST(SUM(error_count) AS BIGINT) FROM traces", None)
            .await,
        total / 5
    );
    assert_eq!(
        ctx.scalar("SELECT COUNT(*) FROM traces WHERE root_name = 'op'", None)
            .await,
        (TASKS * BATCHES) as i64
    );
    let row = ctx.trace_row(&tid(3_017)).await.expect("row");
    assert_eq!(
        row,
        TraceRow {
            start_ns: T0,
            end_ns: T0 + 100 + SPANS as i64 - 1,
            span_count: SPANS as i64,
            error_count: (SPANS / 5) as i64,
            root_service: Some("svc-3".to_owned()),
            root_name: Some("op".to_owned()),
        }
    );
}

pub async fn reopen_keeps_data(ctx: Ctx) {
    let batch = batch_of(
        "api",
        vec![span(tid(1), sid(1), None, "op")],
        vec![log(T0, s("kept"))],
        vec![gauge("g", T0, Attributes::default(), Value::Int(1))],
    );
    write(&ctx, &batch).await;
    let before = stats(&ctx).await;
    ctx.store.close().await;

    // Opening again re-runs the migrations, which must be a no-op.
    let reopened = ctx.open_another().await;
    assert_eq!(reopened.reader().stats().await.expect("stats"), before);
    let view = reopened
        .reader()
        .trace(&tid(1))
        .await
        .expect("trace")
        .expect("found");
    assert_span(&view.spans[0], &expected_span(&batch, 0));
    // The reopened store interns against the rows already there.
    write_to(&reopened, batch.clone())
        .await
        .expect("write after reopen");
    assert_eq!(ctx.count("resources").await, 1);
    assert_eq!(ctx.count("metrics").await, 1);
    assert_eq!(reopened.reader().stats().await.expect("stats").spans, 2);
    reopened.close().await;
}

/// Three traces: 1 fails in `db` and is slow, 2 is healthy, 3 has no root yet.
fn search_traces() -> Batch {
    let mut checkout_root = timed(span(tid(1), sid(1), None, "POST /checkout"), T0, T0 + 900);
    checkout_root.attributes = attrs([
        ("http.route", s("/checkout")),
        ("retries", Value::Int(2)),
        ("cached", Value::Bool(false)),
    ]);
    let db_call = failed(on_resource(
        timed(
            span(tid(1), sid(2), Some(sid(1)), "SELECT orders"),
            T0 + 100,
            T0 + 800,
        ),
        1,
    ));
    let mut cart_root = timed(
        span(tid(2), sid(3), None, "GET /cart"),
        T0 + 2_000,
        T0 + 2_050,
    );
    cart_root.attributes = attrs([
        ("http.route", s("/cart")),
        ("$odd", s("yes")),
        ("city", s("Zürich")),
        ("greeting", s("say \"hi\"")),
    ]);
    let orphan = on_resource(
        timed(
            span(tid(3), sid(4), Some(sid(99)), "consume"),
            T0 + 5_000,
            T0 + 5_010,
        ),
        1,
    );
    Batch {
        resources: vec![resource("gateway"), resource("db")],
        scopes: vec![scope("conformance")],
        spans: vec![checkout_root, db_call, cart_root, orphan],
        ..Batch::default()
    }
}

fn attr(text: &str) -> store::AttributeFilter {
    store::AttributeFilter::parse(text).unwrap_or_else(|| panic!("{text} parses"))
}

pub async fn trace_search(ctx: Ctx) {
    write(&ctx, &search_traces()).await;
    let ids = |summaries: Vec<store::TraceSummary>| {
        summaries
            .into_iter()
            .map(|t| t.trace_id)
            .collect::<Vec<_>>()
    };
    let id = |n| hex::encode(tid(n));
    let all = ctx
        .store
        .reader()
        .traces(&store::TraceQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all[2],
        store::TraceSummary {
            trace_id: id(1),
            root_service: Some("gateway".into()),
            root_name: Some("POST /checkout".into()),
            start_time_unix_nano: T0,
            duration_ns: 900,
            span_count: 2,
            error_count: 1,
            services: vec!["db".into(), "gateway".into()],
        },
        "[{:?}]",
        ctx.backend
    );
    assert_eq!(all[0].root_service, None, "no root yet");
    let cases: Vec<(store::TraceQuery, Vec<String>)> = vec![
        (store::TraceQuery::default(), vec![id(3), id(2), id(1)]),
        (
            store::TraceQuery {
                service: Some("db".into()),
                ..Default::default()
            },
            vec![id(3), id(1)],
        ),
        (
            store::TraceQuery {
                operation: Some("SELECT orders".into()),
                ..Default::default()
            },
            vec![id(1)],
        ),
        (
            store::TraceQuery {
                service: Some("gateway".into()),
                operation: Some("SELECT orders".into()),
                ..Default::default()
            },
            vec![],
        ),
        (
            store::TraceQuery {
                failed: Some(true),
                ..Default::default()
            },
            vec![id(1)],
        ),
        (
            store::TraceQuery {
                failed: Some(false),
                ..Default::default()
            },
            vec![id(3), id(2)],
        ),
        (
            store::TraceQuery {
                min_duration_ns: Some(50),
                ..Default::default()
            },
            vec![id(2), id(1)],
        ),
        (
            store::TraceQuery {
                min_duration_ns: Some(51),
                max_duration_ns: Some(900),
                ..Default::default()
            },
            vec![id(1)],
        ),
        (
            store::TraceQuery {
                start: Some(T0 + 2_000),
                end: Some(T0 + 5_000),
                ..Default::default()
            },
            vec![id(2)],
        ),
        (
            store::TraceQuery {
                attributes: vec![attr("http.route=/cart")],
                ..Default::default()
            },
            vec![id(2)],
        ),
        (
            store::TraceQuery {
                attributes: vec![attr("retries=2")],
                ..Default::default()
            },
            vec![id(1)],
        ),
        (
            store::TraceQuery {
                attributes: vec![attr("cached=false")],
                ..Default::default()
            },
            vec![id(1)],
        ),
        (
            store::TraceQuery {
                attributes: vec![attr("$odd=yes")],
                ..Default::default()
            },
            vec![id(2)],
        ),
        // Values found in the JSON as they are, and one that JSON escapes.
        (
            store::TraceQuery {
                attributes: vec![attr("city=Zürich")],
                ..Default::default()
            },
            vec![id(2)],
        ),
        (
            store::TraceQuery {
                attributes: vec![attr("city=Zür")],
                ..Default::default()
            },
            vec![],
        ),
        (
            store::TraceQuery {
                attributes: vec![attr("greeting=say \"hi\"")],
                ..Default::default()
            },
            vec![id(2)],
        ),
        (
            store::TraceQuery {
                attributes: vec![attr("http.route=/cart"), attr("retries=2")],
                ..Default::default()
            },
            vec![],
        ),
        (
            store::TraceQuery {
                attributes: vec![attr("http.route!=/cart")],
                ..Default::default()
            },
            vec![id(1)],
        ),
        (
            store::TraceQuery {
                attributes: vec![attr("retries>1")],
                ..Default::default()
            },
            vec![id(1)],
        ),
        (
            store::TraceQuery {
                attributes: vec![attr("retries>2")],
                ..Default::default()
            },
            vec![],
        ),
        (
            store::TraceQuery {
                attributes: vec![attr("retries<=2"), attr("retries>=2")],
                ..Default::default()
            },
            vec![id(1)],
        ),
        (
            store::TraceQuery {
                // A text attribute never compares as a number.
                attributes: vec![attr("http.route<5")],
                ..Default::default()
            },
            vec![],
        ),
        (
            store::TraceQuery {
                attributes: vec![attr("we\"ird'key=x")],
                ..Default::default()
            },
            vec![],
        ),
        (
            store::TraceQuery {
                limit: 1,
                ..Default::default()
            },
            vec![id(3)],
        ),
        // Longest first over every match (900, 50, then under 50 ns), in pages.
        (
            store::TraceQuery {
                longest_first: true,
                ..Default::default()
            },
            vec![id(1), id(2), id(3)],
        ),
        (
            store::TraceQuery {
                longest_first: true,
                offset: 1,
                limit: 1,
                ..Default::default()
            },
            vec![id(2)],
        ),
        (
            store::TraceQuery {
                offset: 1,
                ..Default::default()
            },
            vec![id(2), id(1)],
        ),
    ];
    for (mut query, want) in cases {
        if query.limit == 0 {
            query.limit = 10;
        }
        let got = ids(ctx.store.reader().traces(&query).await.unwrap());
        assert_eq!(got, want, "[{:?}] {query:?}", ctx.backend);
    }
}

/// Spans at the ends of time read back with their neighbours in the pack.
pub async fn spans_at_the_ends_of_time_read_back(ctx: Ctx) {
    let last = timed(span(tid(1), sid(1), None, "last"), i64::MAX, i64::MAX);
    let first = timed(span(tid(1), sid(2), Some(sid(1)), "first"), i64::MIN, 0);
    let neighbour = timed(span(tid(2), sid(3), None, "neighbour"), T0, T0 + 1);
    write(&ctx, &spans_batch("svc", vec![last, first, neighbour])).await;
    for (trace, names) in [(1, vec!["first", "last"]), (2, vec!["neighbour"])] {
        let view = ctx
            .store
            .reader()
            .trace(&tid(trace))
            .await
            .expect("read")
            .expect("trace");
        let got: Vec<&str> = view.spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(got, names, "[{:?}]", ctx.backend);
    }
}

/// Span conditions (operation, attributes) are first asked of the newest
/// thousand traces; a trace older than those is still found, though its
/// spans lie in a pack the first page read and in one only the second page
/// reads, and a condition the newest meet answers from them alone.
pub async fn span_conditions_reach_past_the_newest_traces(ctx: Ctx) {
    const TRACES: u64 = 1_200;
    let spans = (1..=TRACES)
        .map(|n| {
            let (name, kind) = if n == 1 {
                ("rare", "old")
            } else {
                ("common", "new")
            };
            let mut span = timed(
                span(tid(n), sid(n), None, name),
                T0 + n as i64,
                T0 + n as i64 + 5,
            );
            span.attributes = attrs([("kind", s(kind)), ("n", Value::Int(n as i64))]);
            span
        })
        .collect::<Vec<_>>();
    // The oldest trace in two packs: its rare span alone, written first (a
    // pack only the second page of traces reads), and a common span among
    // the newest traces' (a pack the first page reads already).
    let (rare, newest) = spans.split_at(1);
    write(&ctx, &spans_batch("svc", rare.to_vec())).await;
    let mut child = timed(
        span(tid(1), sid(TRACES + 1), Some(sid(1)), "common"),
        T0 + 2,
        T0 + 3,
    );
    child.attributes = attrs([("kind", s("new")), ("n", Value::Int(1_000_000))]);
    write(&ctx, &spans_batch("svc", [newest, &[child]].concat())).await;
    let search = |operation: Option<&str>, attributes: &[&str], limit: u32| {
        let query = store::TraceQuery {
            operation: operation.map(str::to_owned),
            attributes: attributes
                .iter()
                .map(|a| store::AttributeFilter::parse(a).expect("filter"))
                .collect(),
            limit,
            ..Default::default()
        };
        let store = ctx.store.clone();
        async move {
            store
                .reader()
                .traces(&query)
                .await
                .expect("search")
                .into_iter()
                .map(|t| t.trace_id)
                .collect::<Vec<_>>()
        }
    };
    let id = |n: u64| hex::encode(tid(n));
    assert_eq!(
        search(Some("rare"), &[], 10).await,
        [id(1)],
        "[{:?}]",
        ctx.backend
    );
    assert_eq!(search(None, &["kind=old"], 10).await, [id(1)]);
    assert_eq!(search(None, &["n<3"], 10).await, [id(2), id(1)]);
    // Each condition met by a span of its own, in a pack of its own.
    assert_eq!(search(Some("rare"), &["kind=new"], 10).await, [id(1)]);
    assert_eq!(
        search(Some("rare"), &["kind=none"], 10).await,
        Vec::<String>::new()
    );
    assert_eq!(
        search(Some("common"), &["kind=new"], 3).await,
        [id(TRACES), id(TRACES - 1), id(TRACES - 2)]
    );
}

/// A span id pasted alone finds every trace holding it among many commits
/// (only the packs whose filter may hold it are read), also in a pack whose
/// filter is damaged, and nothing for an id no span has.
pub async fn span_ids_resolve_among_many_commits(ctx: Ctx) {
    const COMMITS: u64 = 300;
    for c in 0..COMMITS {
        let spans = (0..3)
            .map(|i| {
                let n = 1 + c * 10 + i;
                let at = T0 + c as i64 * 1_000;
                timed(span(tid(n), sid(n), None, "op"), at, at + 10)
            })
            .collect();
        write(&ctx, &spans_batch("svc", spans)).await;
    }
    // One span id in two traces of two commits far apart.
    let shared = sid(999_999);
    write(
        &ctx,
        &spans_batch("svc", vec![span(tid(5_001), shared, None, "a")]),
    )
    .await;
    for c in 0..20 {
        let n = 6_000 + c;
        write(
            &ctx,
            &spans_batch("svc", vec![span(tid(n), sid(n), None, "b")]),
        )
        .await;
    }
    write(
        &ctx,
        &spans_batch("svc", vec![span(tid(5_002), shared, None, "c")]),
    )
    .await;
    let empty = match ctx.backend {
        Backend::Sqlite => "x''",
        Backend::Postgres => "'\\x'::bytea",
    };
    // Commit 150's filter damaged: read whole.
    let damaged = format!(
        "UPDATE span_packs SET span_filter = {empty} WHERE start_lo = {}",
        T0 + 150_000
    );
    ctx.execute(&damaged).await;
    let traces_of = |id: [u8; 8]| {
        let store = ctx.store.clone();
        async move {
            match store
                .reader()
                .request(&hex::encode(id))
                .await
                .expect("request")
            {
                Some(view) => {
                    assert_eq!(view.matched_as, vec![store::Match::SpanId]);
                    let mut ids = view.trace_ids;
                    ids.sort();
                    ids
                }
                None => Vec::new(),
            }
        }
    };
    let all_resolve = || async {
        for c in [0, 1, 150, COMMITS - 1] {
            for i in 0..3 {
                let n = 1 + c * 10 + i;
                assert_eq!(
                    traces_of(sid(n)).await,
                    [hex::encode(tid(n))],
                    "[{:?}] span {n}",
                    ctx.backend
                );
            }
        }
        assert_eq!(
            traces_of(shared).await,
            [hex::encode(tid(5_001)), hex::encode(tid(5_002))]
        );
        for stranger in [sid(4), sid(123_456), sid(7_777_777)] {
            assert_eq!(traces_of(stranger).await, Vec::<String>::new());
        }
    };
    all_resolve().await;

    // Every filter damaged: every pack is read, and ids still resolve.
    ctx.execute(&format!("UPDATE span_packs SET span_filter = {empty}"))
        .await;
    all_resolve().await;
}

pub async fn request_resolution(ctx: Ctx) {
    let mut batch = search_traces();
    batch.spans[0].derived.request_id = Some("req-7".into());
    // A retry of the same request, in a trace of its own.
    batch.spans[2].derived.request_id = Some("req-7".into());
    let mut with_trace = log(T0 + 10, s("charging"));
    with_trace.trace_id = Some(tid(1));
    let mut only_request_id = log(T0 + 20, s("refund queued"));
    only_request_id.request_id = Some("req-7".into());
    let mut other = log(T0 + 30, s("unrelated"));
    other.request_id = Some("req-8".into());
    batch.logs = vec![with_trace, only_request_id, other];
    write(&ctx, &batch).await;

    let view = ctx
        .store
        .reader()
        .request("req-7")
        .await
        .unwrap()
        .expect("request id resolves");
    assert_eq!(view.matched_as, vec![store::Match::RequestId]);
    assert_eq!(
        view.trace_ids.len(),
        2,
        "both traces of the request: {:?}",
        view.trace_ids
    );
    assert_eq!(view.spans.len(), 3);
    let matched: Vec<(String, store::Match)> = view
        .logs
        .iter()
        .map(|l| (l.log.body.as_str().unwrap().to_owned(), l.matched_by))
        .collect();
    assert_eq!(
        matched,
        vec![
            ("charging".into(), store::Match::TraceId),
            ("refund queued".into(), store::Match::RequestId)
        ],
        "[{:?}]",
        ctx.backend
    );

    let by_trace = ctx
        .store
        .reader()
        .request(&hex::encode(tid(1)).to_uppercase())
        .await
        .unwrap()
        .expect("trace id resolves");
    assert_eq!(by_trace.matched_as, vec![store::Match::TraceId]);
    assert_eq!(by_trace.trace_ids, vec![hex::encode(tid(1))]);
    assert_eq!(by_trace.spans.len(), 2);
    assert_eq!(by_trace.logs.len(), 1);

    let by_span = ctx
        .store
        .reader()
        .request(&hex::encode(sid(2)))
        .await
        .unwrap()
        .expect("span id resolves");
    assert_eq!(by_span.matched_as, vec![store::Match::SpanId]);
    assert_eq!(by_span.trace_ids, vec![hex::encode(tid(1))]);

    let only_logs = ctx
        .store
        .reader()
        .request("req-8")
        .await
        .unwrap()
        .expect("a request id known only to logs");
    assert_eq!(only_logs.trace_ids, Vec::<String>::new());
    assert_eq!(only_logs.logs.len(), 1);
    assert_eq!(only_logs.logs[0].matched_by, store::Match::RequestId);

    for unknown in ["nope", &hex::encode(tid(42)), &hex::encode(sid(42)), ""] {
        assert_eq!(
            ctx.store.reader().request(unknown).await.unwrap(),
            None,
            "{unknown:?}"
        );
    }
}

pub async fn span_nodes_and_spans_by_id(ctx: Ctx) {
    write(&ctx, &search_traces()).await;
    let hex = |bytes: &[u8]| hex::encode(bytes);
    let mut nodes = ctx
        .store
        .reader()
        .span_nodes(&[hex(&tid(1)), hex(&tid(3)), "not-an-id".into()])
        .await
        .unwrap();
    nodes.sort_by(|a, b| a.span_id.cmp(&b.span_id));
    let node =
        |trace: u64, span: u64, parent: Option<u64>, start: i64, is_error: bool| store::SpanNode {
            trace_id: hex(&tid(trace)),
            span_id: hex(&sid(span)),
            parent_span_id: parent.map(|p| hex(&sid(p))),
            start_time_unix_nano: start,
            is_error,
        };
    assert_eq!(
        nodes,
        [
            node(1, 1, None, T0, false),
            node(1, 2, Some(1), T0 + 100, true),
            node(3, 4, Some(99), T0 + 5_000, false),
        ],
        "[{:?}]",
        ctx.backend
    );
    // A pair is a span id within its trace: span 2 is not in trace 2.
    let spans = ctx
        .store
        .reader()
        .spans_by_id(&[
            (hex(&tid(1)), hex(&sid(2))),
            (hex(&tid(2)), hex(&sid(2))),
            (hex(&tid(2)), hex(&sid(3))),
        ])
        .await
        .unwrap();
    let mut got: Vec<(String, String)> = spans
        .iter()
        .map(|s| (s.name.clone(), s.service.clone()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [("GET /cart", "gateway"), ("SELECT orders", "db")]
            .map(|(n, s)| (n.to_owned(), s.to_owned())),
        "[{:?}]",
        ctx.backend
    );
}

pub async fn service_red(ctx: Ctx) {
    let mut batch = search_traces();
    // Requests: the roots of traces 1 and 2 (gateway), the server span below
    // (db), and nothing for the internal orphan whose parent is missing.
    batch.spans[1].kind = SpanKind::Server;
    write(&ctx, &batch).await;
    let red = ctx
        .store
        .reader()
        .services(T0, T0 + 1_000_000_000, 4)
        .await
        .unwrap();
    type Figures = (String, u64, u64, Option<i64>, Option<i64>);
    let figures: Vec<Figures> = red
        .iter()
        .map(|r| (r.service.clone(), r.requests, r.errors, r.p50_ns, r.p99_ns))
        .collect();
    assert_eq!(
        figures,
        vec![
            ("db".into(), 1, 1, Some(700), Some(700)),
            ("gateway".into(), 2, 0, Some(50), Some(900))
        ],
        "[{:?}]",
        ctx.backend
    );
    assert_eq!(red[1].rate_per_second, 2.0);
    assert_eq!(
        red[1].trend,
        vec![2, 0, 0, 0],
        "both gateway requests in the first quarter"
    );
    // A window that starts after trace 1 holds only trace 2 and the orphan.
    let later = ctx
        .store
        .reader()
        .services(T0 + 1_000, T0 + 10_000, 3)
        .await
        .unwrap();
    assert_eq!(
        later.iter().map(|r| r.requests).collect::<Vec<_>>(),
        vec![0, 1]
    );
}

pub async fn report_spans_stream_the_window(ctx: Ctx) {
    let mut batch = search_traces();
    let before = batch.spans.len();
    let mut late = timed(
        span([9; 16], [9; 8], Some([8; 8]), "late"),
        T0 + 7_000,
        T0 + 7_500,
    );
    late.kind = SpanKind::Client;
    late.derived.http_route = Some("/r".into());
    late.derived.http_method = Some("GET".into());
    late.derived.db_system = Some("redis".into());
    late.wire_bytes = 321;
    batch.spans.push(failed(late));
    write(&ctx, &batch).await;
    let mut got = Vec::new();
    ctx.store
        .reader()
        .report_spans(T0, T0 + 10_000, |s| got.push(s))
        .await
        .unwrap();
    assert_eq!(got.len(), before + 1, "[{:?}]", ctx.backend);
    let late = got
        .iter()
        .find(|s| &*s.name == "late")
        .expect("the late span");
    assert_eq!(
        (
            late.trace_id,
            late.span_id,
            late.parent_span_id,
            late.kind,
            late.start_ns,
            late.end_ns,
            late.is_error
        ),
        (
            [9; 16],
            [9; 8],
            Some([8; 8]),
            3,
            T0 + 7_000,
            T0 + 7_500,
            true
        ),
        "[{:?}]",
        ctx.backend
    );
    assert_eq!(
        (
            late.http_route.as_deref(),
            late.http_method.as_deref(),
            late.rpc_service.as_deref(),
            late.db_system.as_deref(),
            late.wire_bytes
        ),
        (Some("/r"), Some("GET"), None, Some("redis"), 321)
    );
    // The window is half-open and by start time.
    let mut only_late = Vec::new();
    ctx.store
        .reader()
        .report_spans(T0 + 7_000, T0 + 7_001, |s| {
            only_late.push(s.name.to_string())
        })
        .await
        .unwrap();
    assert_eq!(only_late, vec!["late".to_owned()], "[{:?}]", ctx.backend);
    let wire = ctx.store.reader().wire_bytes_total().await.unwrap();
    assert_eq!(wire.spans, 321, "[{:?}]", ctx.backend);
    assert!(ctx.store.reader().stored_bytes().await.unwrap().spans > 0);
}
