//! Rollups: the services overview added up from per-minute rollups agrees
//! with its spans, before and after the rows are merged, with late data,
//! once the spans are gone, and within rollups' own retention.

use store::ServiceRed;
use store::model::SpanKind;
use store::value::Value;

use super::common::*;
use crate::fixtures::*;
use crate::harness::Ctx;

const MINUTE: i64 = 60_000_000_000;

/// A service's requests as (start, duration, is an error).
type Requests = Vec<(i64, i64, bool)>;

/// Five minutes of requests of two services and two endpoints each, in
/// 40 exports; every request has a client span below it, which is not a
/// request. Returns the requests of each service.
async fn five_minutes(ctx: &Ctx, from: i64) -> [Requests; 2] {
    requests_over(ctx, from, 5 * MINUTE).await
}

/// As `five_minutes`, the requests spread over `over` nanoseconds.
async fn requests_over(ctx: &Ctx, from: i64, over: i64) -> [Requests; 2] {
    let mut made: [Requests; 2] = [vec![], vec![]];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for export in 0..40u64 {
        let service = (export % 2) as usize;
        let mut spans = Vec::new();
        for i in 0..25u64 {
            let n = export * 25 + i;
            let start = from + (next() % over as u64) as i64;
            let duration = 1_000_000 + (next() % 300_000_000) as i64;
            let error = next() % 10 == 0;
            let name = if n % 3 == 0 { "POST /pay" } else { "GET /cart" };
            let mut root = timed(
                span(tid(n + 1), sid(1), Some(sid(9)), name),
                start,
                start + duration,
            );
            root.kind = SpanKind::Server;
            root.derived.is_error = error;
            let mut client = timed(
                span(tid(n + 1), sid(2), Some(sid(1)), "call"),
                start,
                start + 1,
            );
            client.kind = SpanKind::Client;
            spans.extend([root, client]);
            made[service].push((start, duration, error));
        }
        write(ctx, &spans_batch(["cart", "pay"][service], spans)).await;
    }
    made
}

/// What the overview must say of `requests` in `[start, end)`: the count
/// and errors exactly, the percentiles within the sketch's bound.
fn check(red: &ServiceRed, requests: &Requests, start: i64, end: i64, what: &str) {
    let mut durations: Vec<i64> = requests
        .iter()
        .filter(|(at, _, _)| (start..end).contains(at))
        .map(|(_, d, _)| *d)
        .collect();
    let errors = requests
        .iter()
        .filter(|(at, _, e)| *e && (start..end).contains(at))
        .count() as u64;
    durations.sort_unstable();
    assert_eq!(
        (red.requests, red.errors),
        (durations.len() as u64, errors),
        "{what}: {red:?}"
    );
    assert_eq!(red.trend.iter().sum::<u64>(), red.requests, "{what}: trend");
    for (q, got) in [(0.5, red.p50_ns), (0.95, red.p95_ns), (0.99, red.p99_ns)] {
        let exact = store::views::percentile(&durations, q).expect("requests");
        let got = got.expect("a percentile");
        let bound = (exact as f64 * store::sketch::RELATIVE_ERROR).ceil() as i64 + 1;
        assert!(
            (got - exact).abs() <= bound,
            "{what}: p{q} {got} against {exact}"
        );
    }
}

async fn rows(ctx: &Ctx) -> (i64, i64) {
    (
        ctx.scalar("SELECT COUNT(*) FROM rollups", None).await,
        ctx.scalar("SELECT COUNT(*) FROM rollups WHERE NOT merged", None)
            .await,
    )
}

pub async fn rollups_answer_as_the_spans_do(ctx: Ctx) {
    let from = T0 - T0.rem_euclid(MINUTE) + 10 * MINUTE;
    let made = five_minutes(&ctx, from).await;
    let reader = ctx.store.reader();
    // Partial minutes at both edges, whole ones between; and the whole
    // five minutes.
    let windows = [
        (from + 30_000_000_000, from + 4 * MINUTE + 10_000_000_000),
        (from, from + 5 * MINUTE),
    ];
    let mut answers = Vec::new();
    for (start, end) in windows {
        let red = reader.services(start, end, 7).await.expect("services");
        assert_eq!(red.len(), 2);
        for (service, requests) in red.iter().zip(&made) {
            check(
                service,
                requests,
                start,
                end,
                &format!("{:?} {start}..{end}", ctx.backend),
            );
        }
        answers.push(red);
    }
    let (appended, unmerged) = rows(&ctx).await;
    assert_eq!(
        appended, unmerged,
        "[{:?}] writers append rows not merged",
        ctx.backend
    );
    // 2 services × 2 endpoints × 5 minutes, but 20 exports each.
    assert!(appended > 20, "[{:?}] {appended} rows", ctx.backend);

    // Merged: one row a key, the same answers.
    let sweeper = ctx.store.sweeper();
    assert_eq!(sweeper.keep_rollups(None).await.expect("merge"), 0);
    assert_eq!(rows(&ctx).await, (20, 0), "[{:?}]", ctx.backend);
    for ((start, end), answer) in windows.iter().zip(&answers) {
        let red = reader.services(*start, *end, 7).await.expect("services");
        assert_eq!(&red, answer, "[{:?}] after the merge", ctx.backend);
    }

    // A late request in a merged minute is added, then merged in.
    let late = from + MINUTE + 7;
    let mut root = timed(
        span(tid(5000), sid(1), None, "GET /cart"),
        late,
        late + 5_000_000,
    );
    root.derived.is_error = true;
    write(&ctx, &spans_batch("cart", vec![root])).await;
    let mut with_late = made.clone();
    with_late[0].push((late, 5_000_000, true));
    let (start, end) = windows[1];
    let red = reader.services(start, end, 7).await.expect("services");
    check(&red[0], &with_late[0], start, end, "late");
    sweeper.keep_rollups(None).await.expect("merge");
    assert_eq!(
        rows(&ctx).await,
        (20, 0),
        "[{:?}] merged again",
        ctx.backend
    );
    assert_eq!(reader.services(start, end, 7).await.expect("services"), red);

    // The spans past their retention are gone; whole minutes still answer.
    sweeper.sweep(from + 10 * MINUTE).await.expect("sweep");
    let mut spans_left = 0;
    reader
        .report_spans(from, from + 5 * MINUTE, |_| spans_left += 1)
        .await
        .expect("report");
    assert_eq!(spans_left, 0);
    assert_eq!(reader.services(start, end, 7).await.expect("services"), red);

    // Rollups of minutes past their own retention go.
    let removed = sweeper
        .keep_rollups(Some(from + 2 * MINUTE))
        .await
        .expect("keep");
    assert_eq!(
        removed, 8,
        "[{:?}] 2 services × 2 endpoints × 2 minutes",
        ctx.backend
    );
    let red = reader.services(start, end, 7).await.expect("services");
    let kept: Vec<Requests> = with_late
        .iter()
        .map(|r| {
            r.iter()
                .filter(|(at, _, _)| *at >= from + 2 * MINUTE)
                .copied()
                .collect()
        })
        .collect();
    for (service, requests) in red.iter().zip(&kept) {
        check(service, requests, start, end, "kept");
    }
}

/// Hourly rollups: a window's whole hours are read from one row a key and
/// hour plus the minute rows not merged yet; the answers are the spans'.
pub async fn hourly_rollups_answer_for_whole_hours(ctx: Ctx) {
    const HOUR: i64 = 60 * MINUTE;
    let from = T0 - T0.rem_euclid(HOUR) + 10 * HOUR;
    let mut made = requests_over(&ctx, from, 150 * MINUTE).await;
    let reader = ctx.store.reader();
    let sweeper = ctx.store.sweeper();
    sweeper.keep_rollups(None).await.expect("merge");
    let hourly = "SELECT COUNT(*) FROM rollups_hourly";
    assert_eq!(
        ctx.scalar(hourly, None).await,
        12,
        "[{:?}] 2 services × 2 endpoints × 3 hours",
        ctx.backend
    );
    let windows = [
        (from - 7 * MINUTE + 13, from + 150 * MINUTE),
        (from, from + 2 * HOUR),
        (from + 30 * MINUTE + 5, from + 151 * MINUTE),
    ];
    let answer = |made: [Requests; 2], what: &'static str| {
        let reader = reader.clone();
        let backend = ctx.backend;
        async move {
            for (start, end) in windows {
                let red = reader.services(start, end, 9).await.expect("services");
                for (service, requests) in red.iter().zip(&made) {
                    check(
                        service,
                        requests,
                        start,
                        end,
                        &format!("{backend:?} {what} {start}..{end}"),
                    );
                }
            }
        }
    };
    answer(made.clone(), "merged").await;

    // A late request in a whole hour counts before its minute is merged
    // again, and after, from the hour remade.
    let late = from + 70 * MINUTE + 3;
    let mut root = timed(
        span(tid(9000), sid(1), None, "GET /cart"),
        late,
        late + 7_000_000,
    );
    root.derived.is_error = true;
    write(&ctx, &spans_batch("cart", vec![root])).await;
    made[0].push((late, 7_000_000, true));
    answer(made.clone(), "late, not merged").await;
    sweeper.keep_rollups(None).await.expect("merge");
    assert_eq!(ctx.scalar(hourly, None).await, 12, "[{:?}]", ctx.backend);
    answer(made, "late, merged").await;
}

/// Report rollups (ADR 0021): a batch marks the minutes it touches and
/// their neighbours stale; a minute stored with its marks removed reads
/// back fresh; a mark committed after the marks were read survives the
/// store; old minutes go with rollups' retention.
pub async fn report_rollups_follow_their_stale_marks(ctx: Ctx) {
    let from = T0 - T0.rem_euclid(MINUTE) + 10 * MINUTE;
    let minute = from / MINUTE;
    let reader = ctx.store.reader();
    let sweeper = ctx.store.sweeper();
    let at = |m: i64, n: u64| {
        timed(
            span(tid(n), sid(1), None, "GET /a"),
            m * MINUTE + 5,
            m * MINUTE + 9,
        )
    };
    write(
        &ctx,
        &spans_batch("a", vec![at(minute, 1), at(minute + 3, 2)]),
    )
    .await;
    let mut linked = log(from + 2 * MINUTE + 1, Value::String("a line".into()));
    linked.trace_id = Some(tid(1));
    write(&ctx, &logs_batch("a", vec![linked])).await;
    let range = minute - 5..minute + 10;
    let (rows, stale) = reader.report_rollups(range.clone()).await.expect("read");
    assert!(rows.is_empty());
    let want: Vec<i64> = (minute - 1..=minute + 4).collect();
    assert_eq!(
        stale, want,
        "[{:?}] minutes ±1 of spans and logs",
        ctx.backend
    );
    assert_eq!(reader.report_minutes_pending().await.expect("pending"), 6);

    // Quiet since a moment ago: none due; in an hour: all, oldest first.
    let now = now_ns();
    let due = |q: i64| sweeper.report_minutes_due(q, i64::MIN, 4);
    assert_eq!(
        due(now - 3_600_000_000_000).await.expect("due"),
        Vec::<i64>::new()
    );
    let first = due(now + 3_600_000_000_000).await.expect("due");
    assert_eq!(first, want[..4], "[{:?}]", ctx.backend);
    // Overdue however busy.
    let overdue = sweeper
        .report_minutes_due(i64::MIN, now + 3_600_000_000_000, 100)
        .await
        .expect("due");
    assert_eq!(overdue, want);

    let marks = sweeper
        .report_rollup_marks(minute - 1..minute + 1)
        .await
        .expect("marks");
    assert_eq!(marks.len(), 2, "[{:?}] one batch touched each", ctx.backend);
    // A batch after the marks were read: its mark stays.
    write(&ctx, &spans_batch("a", vec![at(minute, 3)])).await;
    sweeper
        .put_report_rollups(
            &[(minute - 1, None), (minute, Some(b"figures".to_vec()))],
            &marks,
        )
        .await
        .expect("put");
    let (rows, stale) = reader.report_rollups(range.clone()).await.expect("read");
    assert!(rows.is_empty(), "[{:?}] minute still stale", ctx.backend);
    assert_eq!(stale, want, "[{:?}]", ctx.backend);
    let marks = sweeper
        .report_rollup_marks(minute - 1..minute + 2)
        .await
        .expect("marks");
    sweeper
        .put_report_rollups(
            &[
                (minute - 1, None),
                (minute, Some(b"again".to_vec())),
                (minute + 1, None),
            ],
            &marks,
        )
        .await
        .expect("put");
    let (rows, stale) = reader.report_rollups(range.clone()).await.expect("read");
    assert_eq!(rows, [(minute, b"again".to_vec())], "[{:?}]", ctx.backend);
    assert_eq!(stale, want[3..], "[{:?}]", ctx.backend);

    // Past rollups' retention, the minute goes.
    sweeper
        .keep_rollups(Some((minute + 1) * MINUTE))
        .await
        .expect("keep");
    let (rows, _) = reader.report_rollups(range).await.expect("read");
    assert!(rows.is_empty(), "[{:?}] {rows:?}", ctx.backend);
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as i64
}

/// What each ingest key sent is counted by minute and key, summed over the
/// minutes a window touches, and kept, then removed, with the rollups.
pub async fn key_usage_follows_the_rollups(ctx: Ctx) {
    let from = 28_000_000 * MINUTE;
    let keyed = |key: &str, service: &str, spans: Vec<store::model::Span>| {
        let mut batch = batch_of(
            service,
            spans,
            vec![log(from + 30 * 1_000_000_000, s("a line"))],
            vec![gauge(
                "queue.depth",
                from + 2 * MINUTE,
                attrs([]),
                Value::Int(1),
            )],
        );
        batch.resources[0]
            .attributes
            .0
            .push(("loupe.ingest.key".into(), s(key)));
        for (i, span) in batch.spans.iter_mut().enumerate() {
            span.wire_bytes = 100 + i as u32;
        }
        batch
    };
    let spans = |trace: u64, minutes: &[i64]| -> Vec<store::model::Span> {
        minutes
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let at = from + m * MINUTE + 1;
                timed(span(tid(trace), sid(i as u64 + 1), None, "op"), at, at + 5)
            })
            .collect()
    };
    write(&ctx, &keyed("shop", "api", spans(1, &[0, 0, 1]))).await;
    write(&ctx, &keyed("shop", "worker", spans(2, &[1]))).await;
    write(&ctx, &keyed("batch", "etl", spans(3, &[3]))).await;
    // An open receiver's items carry no key and are not counted.
    write(&ctx, &spans_batch("api", spans(4, &[0]))).await;

    let reader = ctx.store.reader();
    let usage = |start: i64, end: i64| {
        let reader = reader.clone();
        async move { reader.key_usage(start, end).await.expect("key usage") }
    };
    let all = usage(from, from + 10 * MINUTE).await;
    let keys: Vec<(&str, u64, u64, u64)> = all
        .iter()
        .map(|u| (u.key.as_str(), u.spans, u.logs, u.metric_points))
        .collect();
    assert_eq!(
        keys,
        [("shop", 4, 2, 2), ("batch", 1, 1, 1)],
        "[{:?}] most bytes first",
        ctx.backend
    );
    assert_eq!(all[0].wire.spans, 100 + 101 + 102 + 100);
    // A window counts the whole minutes it touches: minute 1 alone.
    let minute_one = usage(from + MINUTE + 5, from + 2 * MINUTE).await;
    assert_eq!(minute_one.len(), 1);
    assert_eq!((minute_one[0].spans, minute_one[0].logs), (2, 0));

    let sweeper = ctx.store.sweeper();
    sweeper
        .keep_rollups(Some(from + 2 * MINUTE))
        .await
        .expect("keep");
    let kept = usage(from, from + 10 * MINUTE).await;
    let keys: Vec<(&str, u64, u64, u64)> = kept
        .iter()
        .map(|u| (u.key.as_str(), u.spans, u.logs, u.metric_points))
        .collect();
    assert_eq!(
        keys,
        [("batch", 1, 0, 1), ("shop", 0, 0, 2)],
        "[{:?}]",
        ctx.backend
    );
}

/// A service's releases from rollups: each `service.version` its own,
/// the same before and after the rows are merged, and other services'
/// left out.
pub async fn releases_come_from_rollups_by_version(ctx: Ctx) {
    let ctx = &ctx;
    let from = 28_333_334 * MINUTE;
    let request = |n: u64, start: i64, ms: i64, error: bool| {
        let mut root = timed(
            span(
                tid(n),
                sid(1),
                None,
                if n.is_multiple_of(2) {
                    "GET /a"
                } else {
                    "GET /b"
                },
            ),
            start,
            start + ms * 1_000_000,
        );
        root.kind = SpanKind::Server;
        root.derived.is_error = error;
        root
    };
    // 1.0 in the first two minutes, 1.1 in the third, where every
    // other request fails (all of them GET /b).
    for (version, minute, error_every) in [("1.0", 0, 0), ("1.0", 1, 0), ("1.1", 2, 2)] {
        let spans = (0..10u64)
            .map(|i| {
                let n = 100 * minute as u64 + i + 1;
                let failed = error_every > 0 && i % error_every == 0;
                request(
                    n,
                    from + minute * MINUTE + i as i64 * 1_000_000_000,
                    10 + i as i64,
                    failed,
                )
            })
            .collect();
        let mut batch = spans_batch("api", spans);
        batch.resources[0]
            .attributes
            .0
            .push(("service.version".into(), Value::String(version.into())));
        write(ctx, &batch).await;
    }
    let other = (0..3u64)
        .map(|i| request(900 + i, from, 5, false))
        .collect();
    write(ctx, &spans_batch("other", other)).await;
    let reader = ctx.store.reader();
    let read = || async {
        let releases = reader
            .releases("api", from, from + 3 * MINUTE)
            .await
            .expect("releases");
        releases
            .iter()
            .map(|r| {
                (
                    r.version.clone(),
                    r.endpoint.clone(),
                    r.first_minute - from / MINUTE,
                    r.end_minute - from / MINUTE,
                    r.figures.requests,
                    r.figures.errors,
                )
            })
            .collect::<Vec<_>>()
    };
    let want = vec![
        ("1.0".to_owned(), "GET /a".to_owned(), 0, 2, 10, 0),
        ("1.0".to_owned(), "GET /b".to_owned(), 0, 2, 10, 0),
        ("1.1".to_owned(), "GET /a".to_owned(), 2, 3, 5, 0),
        ("1.1".to_owned(), "GET /b".to_owned(), 2, 3, 5, 5),
    ];
    assert_eq!(read().await, want, "{:?}: appended", ctx.backend);
    ctx.store.sweeper().keep_rollups(None).await.expect("merge");
    assert_eq!(read().await, want, "{:?}: merged", ctx.backend);
    // A window of the second minute alone sees 1.0 alone.
    let second = reader
        .releases("api", from + MINUTE + 1, from + 2 * MINUTE)
        .await
        .expect("releases");
    assert_eq!(
        second
            .iter()
            .map(|r| r.version.as_str())
            .collect::<Vec<_>>(),
        ["1.0", "1.0"],
        "{:?}",
        ctx.backend
    );
}

/// Operations: every span name of every service with its kind, listed
/// once however many hours and batches used it, and gone with the
/// rollups' retention once their hours have.
pub async fn operations_list_every_span_name_by_kind(ctx: Ctx) {
    let ctx = &ctx;
    let hour = 60 * MINUTE;
    let from = 472_223 * hour;
    let named = |n: u64, start: i64, name: &str, kind: SpanKind| {
        let mut s = timed(span(tid(n), sid(1), None, name), start, start + 1_000);
        s.kind = kind;
        s
    };
    // The same two operations in two hours and two batches, a third in
    // the second hour only; another service's.
    for (h, n) in [(0, 1), (1, 2)] {
        let mut spans = vec![
            named(n, from + h * hour, "GET /cart", SpanKind::Server),
            named(n + 10, from + h * hour + 5, "SELECT cart", SpanKind::Client),
        ];
        if h == 1 {
            spans.push(named(
                n + 20,
                from + h * hour + 9,
                "publish",
                SpanKind::Producer,
            ));
        }
        write(ctx, &spans_batch("cart", spans.clone())).await;
        write(ctx, &spans_batch("cart", spans)).await;
    }
    write(
        ctx,
        &spans_batch("pay", vec![named(99, from, "charge", SpanKind::Internal)]),
    )
    .await;
    let reader = ctx.store.reader();
    let listed = |ops: Vec<store::Operation>| -> Vec<(String, String, SpanKind)> {
        ops.into_iter()
            .map(|o| (o.service, o.name, o.kind))
            .collect()
    };
    let cart = |name: &str, kind| ("cart".to_owned(), name.to_owned(), kind);
    assert_eq!(
        listed(reader.operations(Some("cart")).await.unwrap()),
        [
            cart("GET /cart", SpanKind::Server),
            cart("SELECT cart", SpanKind::Client),
            cart("publish", SpanKind::Producer),
        ],
        "{:?}",
        ctx.backend
    );
    assert_eq!(
        reader.operations(None).await.unwrap().len(),
        4,
        "{:?}",
        ctx.backend
    );
    assert!(reader.operations(Some("nobody")).await.unwrap().is_empty());
    // Retention past the first hour: its operations alone go.
    ctx.store
        .sweeper()
        .keep_rollups(Some(from + hour + 30 * MINUTE))
        .await
        .expect("retention");
    assert_eq!(
        listed(reader.operations(None).await.unwrap()),
        [
            cart("GET /cart", SpanKind::Server),
            cart("SELECT cart", SpanKind::Client),
            cart("publish", SpanKind::Producer),
        ],
        "{:?}",
        ctx.backend
    );
}
