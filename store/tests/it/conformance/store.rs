//! What holds for every signal: an empty store, the totals, a batch
//! refused whole, text the database cannot hold, a store reopened.

use store::Stats;
use store::value::{Attributes, Value};
use store::{Batch, LogQuery};

use super::common::*;
use crate::fixtures::*;
use crate::harness::{Backend, Ctx, write_to};

pub async fn empty_store_answers(ctx: Ctx) {
    ctx.store
        .writer()
        .probe()
        .await
        .expect("a fresh store takes writes");
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
