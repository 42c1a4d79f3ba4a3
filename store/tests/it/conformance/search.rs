//! Trace search (every filter, span conditions past the newest traces)
//! and resolving any id: trace id, span id, request id.

use store::model::Span;
use store::value::Value;

use super::common::*;
use crate::fixtures::*;
use crate::harness::{Backend, Ctx};

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
            trace_duration_ns: 900,
            span_count: 2,
            error_count: 1,
            services: vec!["db".into(), "gateway".into()],
            http_status_code: None,
            request_id: None,
            error_message: Some("failed".into()),
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
        // The query's own span lasted 700 ns, in a trace whose entry took 900.
        (
            store::TraceQuery {
                operation: Some("SELECT orders".into()),
                min_span_duration_ns: Some(700),
                max_span_duration_ns: Some(700),
                ..Default::default()
            },
            vec![id(1)],
        ),
        (
            store::TraceQuery {
                operation: Some("SELECT orders".into()),
                min_span_duration_ns: Some(701),
                ..Default::default()
            },
            vec![],
        ),
        (
            store::TraceQuery {
                operation: Some("SELECT orders".into()),
                max_span_duration_ns: Some(699),
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
    // A span's bounds without the operation whose span it is: an error.
    let unbound = store::TraceQuery {
        min_span_duration_ns: Some(1),
        limit: 10,
        ..Default::default()
    };
    assert!(ctx.store.reader().traces(&unbound).await.is_err());
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
    // The newest in packs of two: more packs may meet a common condition
    // than a search reads alone, so it walks the traces page by page; a
    // rare one is read from its few packs.
    let chunks: Vec<&[Span]> = newest.chunks(2).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let mut batch = chunk.to_vec();
        if i + 1 == chunks.len() {
            batch.push(child.clone());
        }
        write(&ctx, &spans_batch("svc", batch)).await;
    }
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
    assert_eq!(search(Some("rare"), &["n=1000000"], 10).await, [id(1)]);
    assert_eq!(
        search(Some("rare"), &["kind=none"], 10).await,
        Vec::<String>::new()
    );
    assert_eq!(
        search(Some("common"), &["kind=new"], 3).await,
        [id(TRACES), id(TRACES - 1), id(TRACES - 2)]
    );
    // Longest first, every trace as long: ties go by trace id, so two of
    // the matches are past the first page of traces (1 000), and found
    // after it.
    let longest = store::TraceQuery {
        attributes: vec![store::AttributeFilter::parse("n>=1199").expect("filter")],
        longest_first: true,
        limit: 10,
        ..Default::default()
    };
    let found: Vec<String> = ctx
        .store
        .reader()
        .traces(&longest)
        .await
        .expect("search")
        .into_iter()
        .map(|t| t.trace_id)
        .collect();
    assert_eq!(found, [id(1), id(1199), id(1200)], "[{:?}]", ctx.backend);
}

/// Trace search reads only the packs whose terms (operations, attribute
/// keys, the values of keys with few) say their spans may meet one of its
/// conditions: what it skips it could not have found, values of keys with
/// too many to index are found, and packs without terms or with terms of
/// an unknown format are read.
pub async fn packs_ruled_out_by_their_terms_are_skipped_not_missed(ctx: Ctx) {
    // Trace 1: a hundred spans, each with a user id of its own (more
    // values than a pack's terms index) and a numeric status.
    let checkout = (1..=100u64)
        .map(|n| {
            let mut span = timed(
                span(tid(1), sid(n), (n > 1).then(|| sid(1)), "checkout"),
                T0 + n as i64,
                T0 + n as i64 + 1,
            );
            span.attributes = attrs([
                ("user.id", s(&format!("u{n}"))),
                ("http.status_code", Value::Int(503)),
            ]);
            span
        })
        .collect();
    write(&ctx, &spans_batch("shop", checkout)).await;
    let one = |trace: u64, name: &str, key: &str, value: &str| {
        let mut span = timed(span(tid(trace), sid(1), None, name), T0 + 500, T0 + 501);
        span.attributes = attrs([(key, s(value))]);
        spans_batch("shop", vec![span])
    };
    write(&ctx, &one(2, "browse", "http.method", "GET")).await;
    assert_eq!(
        ctx.scalar(
            "SELECT count(*) FROM span_packs WHERE terms IS NOT NULL",
            None
        )
        .await,
        2
    );
    // A pack written before terms existed, and one whose terms are of a
    // format this version does not know.
    write(&ctx, &one(3, "legacy", "era", "old")).await;
    ctx.execute("UPDATE span_packs SET terms = NULL WHERE id = (SELECT max(id) FROM span_packs)")
        .await;
    write(&ctx, &one(4, "damaged", "x", "y")).await;
    let unknown = match ctx.backend {
        Backend::Sqlite => "x'02ff00ff'",
        Backend::Postgres => "'\\x02ff00ff'::bytea",
    };
    ctx.execute(&format!(
        "UPDATE span_packs SET terms = {unknown} WHERE id = (SELECT max(id) FROM span_packs)"
    ))
    .await;

    let search = |operation: Option<&str>, attribute: Option<&str>| {
        let query = store::TraceQuery {
            operation: operation.map(str::to_owned),
            attributes: attribute
                .map(|a| store::AttributeFilter::parse(a).expect("filter"))
                .into_iter()
                .collect(),
            limit: 10,
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
    let id = |n: u64| vec![hex::encode(tid(n))];
    let none: Vec<String> = Vec::new();
    for (operation, attribute, found) in [
        (Some("checkout"), None, id(1)),
        (Some("browse"), None, id(2)),
        (Some("legacy"), None, id(3)),
        (Some("damaged"), None, id(4)),
        (Some("nothing"), None, none.clone()),
        (None, Some("http.status_code=503"), id(1)),
        (None, Some("http.status_code=500"), none.clone()),
        (None, Some("http.status_code>500"), id(1)),
        (None, Some("user.id=u77"), id(1)),
        (None, Some("user.id=nobody"), none.clone()),
        (None, Some("http.method=GET"), id(2)),
        (None, Some("http.method=POST"), none.clone()),
        (None, Some("era=old"), id(3)),
        (None, Some("x=y"), id(4)),
        (Some("checkout"), Some("http.method=GET"), none.clone()),
    ] {
        assert_eq!(
            search(operation, attribute).await,
            found,
            "{operation:?} {attribute:?} [{:?}]",
            ctx.backend
        );
    }
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

/// A trace's duration is its entry span's, the latency the caller saw: the
/// root, else the earliest server or consumer span, whichever batch brings
/// it; the whole envelope stays beside it, and each is filtered by its own
/// bounds.
pub async fn trace_latency_is_the_entry_spans(ctx: Ctx) {
    use store::model::SpanKind::{Client, Consumer, Server};
    let kind = |mut span: Span, kind| {
        span.kind = kind;
        span
    };
    let t = T0 + 1_000_000;
    // A slow answer, nothing after it.
    let slow = kind(
        timed(span(tid(21), sid(1), None, "POST /slow"), t, t + 500),
        Server,
    );
    // A fast answer whose consumer works on after it: the consumer comes
    // first, and is the entry until the root arrives.
    let tail = kind(
        timed(
            span(tid(22), sid(3), Some(sid(2)), "consume order"),
            t + 1_300,
            t + 2_080,
        ),
        Consumer,
    );
    let fast = kind(
        timed(
            span(tid(22), sid(2), None, "POST /fast"),
            t + 1_000,
            t + 1_198,
        ),
        Server,
    );
    // No root (its client is not instrumented): the earliest server span.
    let headless = vec![
        kind(
            timed(
                span(tid(23), sid(5), Some(sid(9)), "GET /a"),
                t + 3_000,
                t + 3_040,
            ),
            Server,
        ),
        kind(
            timed(
                span(tid(23), sid(6), Some(sid(5)), "call"),
                t + 2_990,
                t + 3_100,
            ),
            Client,
        ),
        kind(
            timed(
                span(tid(23), sid(7), Some(sid(8)), "GET /b"),
                t + 3_050,
                t + 3_400,
            ),
            Server,
        ),
    ];
    write(&ctx, &spans_batch("shop", vec![slow, tail])).await;
    let reader = ctx.store.reader();
    let search = |query: store::TraceQuery| {
        let reader = reader.clone();
        async move {
            reader
                .traces(&store::TraceQuery {
                    start: Some(t),
                    limit: 10,
                    ..query
                })
                .await
                .expect("search")
        }
    };
    let durations = |found: Vec<store::TraceSummary>| -> Vec<(String, i64, i64)> {
        found
            .into_iter()
            .map(|s| (s.trace_id, s.duration_ns, s.trace_duration_ns))
            .collect()
    };
    let id = |n| hex::encode(tid(n));
    let before_root = durations(search(store::TraceQuery::default()).await);
    assert!(
        before_root.contains(&(id(22), 780, 780)),
        "[{:?}] the consumer is the entry until the root comes: {before_root:?}",
        ctx.backend
    );
    write(&ctx, &spans_batch("shop", vec![fast])).await;
    write(&ctx, &spans_batch("shop", headless)).await;

    let longest = store::TraceQuery {
        longest_first: true,
        ..Default::default()
    };
    assert_eq!(
        durations(search(longest).await),
        [(id(21), 500, 500), (id(22), 198, 1_080), (id(23), 40, 410)],
        "[{:?}] slowest answer first, not longest tail",
        ctx.backend
    );
    let ids = |found: Vec<store::TraceSummary>| -> Vec<String> {
        found.into_iter().map(|s| s.trace_id).collect()
    };
    for (query, want) in [
        (
            store::TraceQuery {
                min_duration_ns: Some(300),
                ..Default::default()
            },
            vec![id(21)],
        ),
        (
            store::TraceQuery {
                max_duration_ns: Some(200),
                ..Default::default()
            },
            vec![id(23), id(22)],
        ),
        (
            store::TraceQuery {
                min_trace_duration_ns: Some(1_000),
                ..Default::default()
            },
            vec![id(22)],
        ),
        (
            store::TraceQuery {
                min_duration_ns: Some(100),
                max_trace_duration_ns: Some(600),
                ..Default::default()
            },
            vec![id(21)],
        ),
    ] {
        assert_eq!(
            ids(search(query.clone()).await),
            want,
            "[{:?}] {query:?}",
            ctx.backend
        );
    }
}

/// An id is found in either case, and a trace by the start of its id (8
/// hex digits or more) when no other trace's starts so.
pub async fn ids_resolve_in_any_case_and_by_a_unique_prefix(ctx: Ctx) {
    let id =
        |text: &str| -> store::model::TraceId { hex::decode(text).unwrap().try_into().unwrap() };
    let (x, y) = (
        "5eed1234aa000000000000000000000a",
        "5eed1234bb000000000000000000000b",
    );
    write(
        &ctx,
        &spans_batch(
            "shop",
            vec![
                span(id(x), sid(1), None, "GET /x"),
                span(id(y), sid(2), None, "GET /y"),
            ],
        ),
    )
    .await;
    let reader = ctx.store.reader();
    for (asked, found) in [
        (x.to_uppercase(), Some(x)),
        ("5EED1234A".to_owned(), Some(x)),
        ("5eed1234bb0".to_owned(), Some(y)),
        // Both start so; and too short to be taken as a prefix.
        ("5eed1234".to_owned(), None),
        ("5eed123".to_owned(), None),
        ("5eed1234cc".to_owned(), None),
    ] {
        let view = reader.request(&asked).await.expect("request");
        assert_eq!(
            view.map(|v| v.trace_ids),
            found.map(|f| vec![f.to_owned()]),
            "[{:?}] {asked}",
            ctx.backend
        );
    }
}

/// Traces are counted by the conditions a summary answers, up to a bound;
/// conditions on spans are not counted.
pub async fn traces_are_counted_up_to_a_bound(ctx: Ctx) {
    write(&ctx, &search_traces()).await;
    let reader = ctx.store.reader();
    for (query, bound, want) in [
        (store::TraceQuery::default(), 100, Some(3)),
        (store::TraceQuery::default(), 1, Some(2)),
        (
            store::TraceQuery {
                failed: Some(true),
                ..Default::default()
            },
            100,
            Some(1),
        ),
        (
            store::TraceQuery {
                service: Some("db".into()),
                ..Default::default()
            },
            100,
            Some(2),
        ),
        (
            store::TraceQuery {
                start: Some(T0 + 1_000),
                min_duration_ns: Some(20),
                ..Default::default()
            },
            100,
            Some(1),
        ),
        (
            store::TraceQuery {
                operation: Some("GET /cart".into()),
                ..Default::default()
            },
            100,
            None,
        ),
        (
            store::TraceQuery {
                attributes: vec![attr("city=Zürich")],
                ..Default::default()
            },
            100,
            None,
        ),
    ] {
        assert_eq!(
            reader.count_traces(&query, bound).await.expect("count"),
            want,
            "[{:?}] {query:?} up to {bound}",
            ctx.backend
        );
    }
}

/// A trace's row says how it went: the HTTP status its entry span answered
/// (from whichever batch brings the entry), the first request id and the
/// first error message that arrived (the deepest failure's: spans end, and
/// are sent, deepest first).
pub async fn trace_rows_say_how_it_went(ctx: Ctx) {
    use store::model::SpanKind::Server;
    let t = T0 + 9_000_000;
    let mut charge = failed(timed(
        span(tid(31), sid(3), Some(sid(2)), "POST /charge"),
        t + 20,
        t + 60,
    ));
    charge.kind = Server;
    charge.status.message = "card declined".into();
    charge.derived.request_id = Some("req-31".into());
    charge.derived.http_status_code = Some(402);
    let mut checkout = failed(timed(
        span(tid(31), sid(1), None, "POST /checkout"),
        t,
        t + 100,
    ));
    checkout.kind = Server;
    checkout.status.message = "bad gateway".into();
    checkout.derived.request_id = Some("req-later".into());
    checkout.derived.http_status_code = Some(502);
    let mut fine = timed(span(tid(32), sid(5), None, "GET /stock"), t + 200, t + 210);
    fine.kind = Server;
    fine.derived.http_status_code = Some(200);
    write(&ctx, &spans_batch("shop", vec![charge])).await;
    write(&ctx, &spans_batch("shop", vec![checkout, fine])).await;
    let found = ctx
        .store
        .reader()
        .traces(&store::TraceQuery {
            start: Some(t),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("search");
    let rows: Vec<_> = found
        .into_iter()
        .map(|s| {
            (
                s.trace_id,
                s.http_status_code,
                s.request_id,
                s.error_message,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (hex::encode(tid(32)), Some(200), None, None),
            (
                hex::encode(tid(31)),
                Some(502),
                Some("req-31".to_owned()),
                Some("card declined".to_owned())
            ),
        ],
        "[{:?}]",
        ctx.backend
    );
}
