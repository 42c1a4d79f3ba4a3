//! Spans: read back whole and by id, trace summaries built in any
//! order, the ends of time, the services overview and the reports' scan.

use store::Batch;
use store::Stats;
use store::model::{Derived, Event, Link, Resource, Scope, SpanKind, Status, StatusCode};
use store::value::{Attributes, Value};

use super::common::*;
use crate::fixtures::*;
use crate::harness::{Ctx, TraceRow};

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
