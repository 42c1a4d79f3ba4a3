//! Log records: read back whole, searched by field, attribute and text.

use store::value::Value;
use store::{Batch, LogQuery};

use super::common::*;
use crate::fixtures::*;
use crate::harness::Ctx;

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

/// Records read newest first across exports whose times interleave: a
/// page takes the newest whatever pack holds them, and a smaller limit
/// takes a prefix of a larger one's answer.
pub async fn logs_newest_first_across_packs(ctx: Ctx) {
    let numbered = |n: i64, at: i64| {
        let mut record = log(T0 + at, s(&format!("record {n}")));
        record.attributes = store::value::Attributes(vec![("n".to_owned(), Value::Int(n))]);
        record
    };
    // Each export one pack: times 1, 5, 9; then 3, 7; then 2, 10, and a
    // tie with the first export's newest.
    write(
        &ctx,
        &logs_batch("a", vec![numbered(1, 1), numbered(5, 5), numbered(9, 9)]),
    )
    .await;
    write(&ctx, &logs_batch("b", vec![numbered(3, 3), numbered(7, 7)])).await;
    write(
        &ctx,
        &logs_batch("c", vec![numbered(2, 2), numbered(10, 10), numbered(90, 9)]),
    )
    .await;
    let all = [10, 90, 9, 7, 5, 3, 2, 1];
    for limit in 1..=9 {
        let got = search(
            &ctx,
            LogQuery {
                limit,
                ..LogQuery::default()
            },
        )
        .await;
        let want = &all[..(limit as usize).min(all.len())];
        assert_eq!(ns(&got), want, "[{:?}] limit {limit}", ctx.backend);
    }
    // A window cuts through the packs.
    let got = search(
        &ctx,
        LogQuery {
            start: Some(T0 + 3),
            end: Some(T0 + 9),
            limit: 10,
            ..LogQuery::default()
        },
    )
    .await;
    assert_eq!(ns(&got), [7, 5, 3], "[{:?}] window", ctx.backend);
    // More packs than are read at once: the page stops at the packs that
    // cannot hold a newer record, wherever they were written.
    for i in 0..40 {
        let at = 1_000 + (i * 37) % 40;
        write(&ctx, &logs_batch("d", vec![numbered(at, at)])).await;
    }
    let got = search(
        &ctx,
        LogQuery {
            limit: 3,
            ..LogQuery::default()
        },
    )
    .await;
    assert_eq!(
        ns(&got),
        [1_039, 1_038, 1_037],
        "[{:?}] many packs",
        ctx.backend
    );
}

/// A trace's page shows the records stamped near its spans, oldest
/// first; a record stamped further from them is still found by a search
/// for the trace id.
pub async fn trace_records_are_read_near_their_spans(ctx: Ctx) {
    let trace = tid(8);
    let span = timed(span(trace, sid(1), None, "GET /"), T0, T0 + 1_000_000);
    write(&ctx, &spans_batch("web", vec![span])).await;
    let minute = 60_000_000_000;
    let linked = |n: i64, at: i64| {
        let mut record = log(at, s("linked"));
        record.trace_id = Some(trace);
        record.attributes = store::value::Attributes(vec![("n".to_owned(), Value::Int(n))]);
        record
    };
    write(
        &ctx,
        &logs_batch(
            "web",
            vec![
                linked(2, T0 + 500),
                linked(1, T0 - minute),
                linked(3, T0 + 90 * minute),
            ],
        ),
    )
    .await;
    let view = ctx
        .store
        .reader()
        .trace(&trace)
        .await
        .expect("trace")
        .expect("found");
    assert_eq!(ns(&view.logs), [1, 2], "[{:?}] near the spans", ctx.backend);
    let request = ctx
        .store
        .reader()
        .request(&hex::encode(trace))
        .await
        .expect("request")
        .expect("found");
    let logs: Vec<_> = request.logs.into_iter().map(|l| l.log).collect();
    assert_eq!(ns(&logs), [1, 2], "[{:?}] the request's", ctx.backend);
    let found = search(
        &ctx,
        LogQuery {
            trace_id: Some(trace),
            limit: 10,
            ..LogQuery::default()
        },
    )
    .await;
    assert_eq!(ns(&found), [3, 2, 1], "[{:?}] by trace id", ctx.backend);
}
