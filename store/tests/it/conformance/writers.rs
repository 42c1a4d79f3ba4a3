//! Interning and concurrent writers: each resource, scope and metric
//! stream stored once and never collided on purpose, several writers and
//! processes writing one trace.

use std::sync::Arc;

use store::Batch;
use store::Stats;
use store::model::{Resource, Scope};
use store::value::{Attributes, Value};

use super::common::*;
use crate::fixtures::*;
use crate::harness::{Ctx, TraceRow, write_to};

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
