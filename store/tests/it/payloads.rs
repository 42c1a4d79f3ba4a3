//! SQLite's compressed span payloads (docs/adr/0008), through the store's
//! own reads: whole traces, trace search's attribute filters, a reopened
//! store, a damaged value.

use store::model::{Event, Span};
use store::value::Value;
use store::{AttributeFilter, Comparison, Store, TraceQuery};

use crate::fixtures::*;
use crate::harness::{self, Backend};

const TENANTS: [&str; 3] = ["acme", "hooli", "umbrella"];

/// Span `i` of its own trace, with attributes like a service's: keys
/// repeated, values of few kinds, one id that never repeats.
fn varied(i: u64) -> Span {
    let mut span = span(tid(i), sid(i), None, "POST /orders");
    span.attributes = attrs([
        ("http.route", s(&format!("/orders/{}", i % 7))),
        ("app.tenant", s(TENANTS[(i % 3) as usize])),
        ("app.customer_id", Value::Int((i * 7919 % 100_003) as i64)),
        ("thread.name", s(&format!("worker-{}", i % 4))),
        (
            "request_id",
            s(&format!("{:032x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15))),
        ),
    ]);
    if i.is_multiple_of(10) {
        span.events = vec![Event {
            time_unix_nano: T0 + 5,
            name: "exception".to_owned(),
            attributes: attrs([
                ("exception.type", s("TimeoutError")),
                (
                    "exception.message",
                    s(&format!("upstream {} timed out", i % 5)),
                ),
            ]),
            dropped_attributes_count: 0,
        }];
    }
    span
}

async fn umbrella_traces(store: &Store) -> usize {
    store
        .traces(&TraceQuery {
            attributes: vec![AttributeFilter {
                key: "app.tenant".to_owned(),
                comparison: Comparison::Equal,
                value: "umbrella".to_owned(),
            }],
            limit: 10_000,
            ..TraceQuery::default()
        })
        .await
        .expect("search")
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_payloads_are_compressed_and_read_back() {
    harness::run(Backend::Sqlite, |ctx| async move {
        let spans: Vec<Span> = (0..4500).map(varied).collect();
        for chunk in spans.chunks(1500) {
            ctx.store
                .write_batch(&spans_batch("orders", chunk.to_vec()))
                .await
                .expect("write");
        }
        // The first batch is stored before any dictionary; the second
        // trains one; the third is compressed with it.
        assert_eq!(
            ctx.scalar("SELECT count(*) FROM payload_dicts", None).await,
            1
        );
        let json: usize = spans[3000..]
            .iter()
            .map(|s| s.attributes.to_json_string().len())
            .sum();
        let stored = ctx
            .scalar(
                "SELECT sum(length(attributes)) FROM spans_payload WHERE id > 3000",
                None,
            )
            .await as usize;
        assert!(
            stored * 3 < json,
            "{stored} bytes stored for {json} of JSON"
        );
        let compressed = ctx
            .scalar(
                "SELECT count(*) FROM spans_payload WHERE typeof(attributes) = 'blob'",
                None,
            )
            .await;
        assert!(compressed >= 3000, "{compressed} values compressed");

        let check = |store: Store, ids: Vec<u64>| async move {
            for i in ids {
                let trace = store.trace(&tid(i)).await.expect("read").expect("trace");
                let expected = varied(i);
                assert_eq!(trace.spans[0].attributes, expected.attributes, "span {i}");
                assert_eq!(
                    trace.spans[0].events.len(),
                    expected.events.len(),
                    "span {i}"
                );
            }
            assert_eq!(umbrella_traces(&store).await, 1500);
        };
        check(ctx.store.clone(), vec![0, 1499, 1500, 2990, 3000, 4499]).await;

        // A reopened store reads with the stored dictionary and writes with
        // it: no new one until many more spans.
        ctx.store.close().await;
        let store = Store::open(&ctx.url).await.expect("reopen");
        check(store.clone(), vec![10, 4490]).await;
        let more: Vec<Span> = (4500..6000).map(varied).collect();
        store
            .write_batch(&spans_batch("orders", more))
            .await
            .expect("write after reopening");
        assert_eq!(
            ctx.scalar("SELECT count(*) FROM payload_dicts", None).await,
            1
        );
        let trace = store.trace(&tid(5999)).await.expect("read").expect("trace");
        assert_eq!(trace.spans[0].attributes, varied(5999).attributes);

        // A damaged value is an error for the read that meets it, not a crash.
        ctx.execute("UPDATE spans_payload SET attributes = x'0102' WHERE id = 4000")
            .await;
        let err = store
            .trace(&tid(3999))
            .await
            .expect_err("a damaged payload is refused");
        assert!(err.to_string().contains("span payload"), "{err}");
        for i in [3998, 4000] {
            let trace = store.trace(&tid(i)).await.expect("read").expect("trace");
            assert_eq!(trace.spans[0].attributes, varied(i).attributes);
        }
        store.close().await;
    })
    .await;
}
