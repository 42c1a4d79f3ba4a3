//! Retention: what a sweep removes, what it keeps, and what reads show of
//! a trace cut at the boundary.

use store::LogQuery;
use store::model::Span;
use store::retention::Removed;
use store::value::{Attributes, Value};

use super::common::*;
use crate::fixtures::*;
use crate::harness::{Backend, Ctx};

const SECOND: i64 = 1_000_000_000;

fn with_request(mut span: Span, request_id: &str) -> Span {
    span.derived.request_id = Some(request_id.to_owned());
    span
}

/// Old data before the cutoff, in more packs and rows than one step of a
/// sweep takes (32 packs, 1 000 rows); a trace with spans on both sides
/// of it; new data after it. One sweep removes the old, keeps the new, and
/// reads show the cut trace's expired spans.
pub async fn retention_removes_what_is_older(ctx: Ctx) {
    let cutoff = T0 + 3600 * SECOND;
    let old = |n: u64| T0 + n as i64 * SECOND;
    // 40 old traces of two spans, one export each: 40 packs.
    for n in 0..40u64 {
        let root = timed(
            span(tid(100 + n), sid(1), None, "GET /old"),
            old(n),
            old(n) + 5,
        );
        let child = timed(
            span(tid(100 + n), sid(2), Some(sid(1)), "db"),
            old(n) + 1,
            old(n) + 2,
        );
        write(
            &ctx,
            &spans_batch(
                "api",
                vec![with_request(root, &format!("req-old-{n}")), child],
            ),
        )
        .await;
    }
    // A trace cut at the boundary: its root started before, a child
    // arrived in a later export after.
    let cut_root = timed(
        span(tid(1), sid(1), None, "POST /late"),
        old(50),
        cutoff + SECOND,
    );
    write(
        &ctx,
        &spans_batch("api", vec![with_request(cut_root, "req-cut")]),
    )
    .await;
    let cut_child = timed(
        span(tid(1), sid(2), Some(sid(1)), "slow"),
        cutoff + 10,
        cutoff + 20,
    );
    write(&ctx, &spans_batch("worker", vec![cut_child])).await;
    // New.
    let new_root = timed(
        span(tid(2), sid(1), None, "GET /new"),
        cutoff + 5,
        cutoff + 9,
    );
    write(
        &ctx,
        &spans_batch("api", vec![with_request(new_root, "req-new")]),
    )
    .await;

    let old_logs: Vec<_> = (0..1001)
        .map(|i| {
            let mut record = log(old(0) + i, s("ancient ember"));
            record.trace_id = Some(tid(100));
            record
        })
        .collect();
    write(&ctx, &logs_batch("api", old_logs)).await;
    write(
        &ctx,
        &logs_batch("api", vec![log(cutoff + 1, s("fresh ember"))]),
    )
    .await;
    let points = |from: i64, n: i64| {
        (0..n)
            .map(|i| {
                gauge(
                    "queue.depth",
                    from + i,
                    Attributes::default(),
                    Value::Int(i),
                )
            })
            .collect()
    };
    write(&ctx, &points_batch("api", points(old(0), 1001))).await;
    write(&ctx, &points_batch("api", points(cutoff, 3))).await;

    let before = stats(&ctx).await;
    let oldest = ctx.store.reader().oldest().await.expect("oldest");
    assert_eq!(
        oldest,
        store::Oldest {
            spans: Some(old(0) + 1),
            logs: Some(old(0)),
            metric_points: Some(old(0)),
        }
    );
    let removed = ctx.store.sweeper().sweep(cutoff).await.expect("sweep");
    assert_eq!(
        removed,
        Removed {
            spans: 81,
            traces: 40,
            logs: 1001,
            metric_points: 1001,
            request_ids: 40,
            rollups: 0,
        },
        "[{:?}]",
        ctx.backend
    );

    let reader = ctx.store.reader();
    for n in [0, 39] {
        assert!(reader.trace(&tid(100 + n)).await.expect("trace").is_none());
        let request = reader
            .request(&format!("req-old-{n}"))
            .await
            .expect("request");
        assert!(request.is_none(), "{request:?}");
    }
    let cut = reader.trace(&tid(1)).await.expect("trace").expect("kept");
    assert_eq!(cut.spans.len(), 1);
    assert_eq!(cut.spans[0].name, "slow");
    assert_eq!(cut.expired_spans, 1);
    let cut = reader
        .request("req-cut")
        .await
        .expect("request")
        .expect("kept");
    assert_eq!((cut.spans.len(), cut.expired_spans), (1, 1));
    let new = reader.trace(&tid(2)).await.expect("trace").expect("kept");
    assert_eq!((new.spans.len(), new.expired_spans), (1, 0));
    assert!(reader.request("req-new").await.expect("request").is_some());

    let oldest = reader.oldest().await.expect("oldest");
    assert_eq!(
        oldest,
        store::Oldest {
            spans: Some(cutoff + 5),
            logs: Some(cutoff + 1),
            metric_points: Some(cutoff),
        }
    );
    let after = stats(&ctx).await;
    assert_eq!(after.spans, before.spans - 81);
    assert_eq!(after.logs, before.logs - 1001);
    assert_eq!(after.metric_points, before.metric_points - 1001);
    assert_eq!(after.traces, 2);
    assert_eq!(ctx.count("spans").await, 2);
    assert_eq!(ctx.count("logs").await, 1);
    assert_eq!(ctx.count("metric_points").await, 3);
    assert_eq!(ctx.count("request_traces").await, 2);

    let text = |words: &str| LogQuery {
        text: Some(words.to_owned()),
        ..all(100)
    };
    assert!(search(&ctx, text("ancient")).await.is_empty());
    assert_eq!(search(&ctx, text("ember")).await.len(), 1);
    let mut spans = 0;
    reader
        .report_spans(i64::MIN, i64::MAX, |_| spans += 1)
        .await
        .expect("report spans");
    assert_eq!(spans, 2);
    assert!(
        ctx.store
            .reader()
            .metric_points("queue.depth", 100)
            .await
            .expect("points")
            .iter()
            .all(|p| p.time_unix_nano >= cutoff)
    );

    // Nothing older is left: a second sweep removes nothing; new writes
    // go on as before.
    let again = ctx.store.sweeper().sweep(cutoff).await.expect("sweep");
    assert!(again.is_empty(), "{again:?}");
    write(
        &ctx,
        &spans_batch(
            "api",
            vec![timed(
                span(tid(3), sid(1), None, "GET /next"),
                cutoff + 30,
                cutoff + 31,
            )],
        ),
    )
    .await;
    assert_eq!(stats(&ctx).await.spans, after.spans + 1);
}

/// A size limit: on SQLite the oldest data goes first until the pages in
/// use are under the limit, and the file hands free pages back; on
/// PostgreSQL, whose disk is its server's, there is nothing to measure.
pub async fn fit_removes_the_oldest_first(ctx: Ctx) {
    // 40 exports, a second apart, of log records whose bodies share no
    // word (little for compression to take) and a trace each.
    let at = |n: i64| T0 + n * SECOND;
    for n in 0..40i64 {
        let records = (0..200)
            .map(|i| {
                log(
                    at(n) + i,
                    s(&format!("e{n} w{}x{} v{}", n * 977 + i, i * 31, n ^ i)),
                )
            })
            .collect();
        write(&ctx, &logs_batch("api", records)).await;
        let root = timed(
            span(tid(n as u64 + 1), sid(1), None, "GET /"),
            at(n),
            at(n) + 5,
        );
        write(&ctx, &spans_batch("api", vec![root])).await;
    }
    let sweeper = ctx.store.sweeper();
    let Some(space) = sweeper.space().await.expect("space") else {
        assert!(matches!(ctx.backend, Backend::Postgres));
        assert!(sweeper.fit(Some(1), None).await.expect("fit").is_none());
        return;
    };
    assert!(
        space.can_give_back,
        "a new file keeps a page map: {space:?}"
    );
    let limit = space.used_bytes() / 10 * 7;
    let fitted = sweeper
        .fit(Some(limit), None)
        .await
        .expect("fit")
        .expect("a SQLite file is measured");
    assert!(fitted.within, "{fitted:?}");
    assert_eq!(fitted.limit, limit);
    assert!(fitted.space.used_bytes() <= limit, "{fitted:?}");
    assert!(fitted.space.file_bytes <= limit, "{fitted:?}");
    assert!(
        fitted.removed.logs >= 200 && fitted.removed.spans >= 1,
        "{fitted:?}"
    );

    let reader = ctx.store.reader();
    assert!(reader.trace(&tid(1)).await.expect("trace").is_none());
    assert!(reader.trace(&tid(40)).await.expect("trace").is_some());
    let text = |words: &str| LogQuery {
        text: Some(words.to_owned()),
        ..all(1000)
    };
    assert!(search(&ctx, text("e0")).await.is_empty());
    assert_eq!(search(&ctx, text("e39")).await.len(), 200);

    // Within the limit, a second fit has nothing to do.
    let again = sweeper
        .fit(Some(limit), None)
        .await
        .expect("fit")
        .expect("measured");
    assert!(again.removed.is_empty() && again.within, "{again:?}");
    // A limit nothing can meet: everything goes, and it says so.
    let none = sweeper
        .fit(Some(1), None)
        .await
        .expect("fit")
        .expect("measured");
    assert!(!none.within, "{none:?}");
    assert_eq!(stats(&ctx).await.logs, 0);
}
