//! Databases written by an older loupe, opened by this one.

use store::Store;
use store::model::{Event, Link, SpanKind};
use store::value::Value;

use crate::fixtures::*;
use crate::harness::{self, Backend};

/// The `spans` table before migration 6 split it into narrow rows and
/// `spans_payload`, with its indexes, before migration 7 moved request ids
/// to `request_traces`, before migration 9 packed spans for the reports and
/// before migration 10 compressed payloads (these few spans' payloads are
/// too small to compress: text, as an older loupe wrote them).
const SPANS_BEFORE_THE_SPLIT: &str = "
    CREATE TABLE old_spans (
        trace_id BLOB NOT NULL, span_id BLOB NOT NULL, parent_span_id BLOB,
        resource_id INTEGER NOT NULL, scope_id INTEGER NOT NULL, service TEXT NOT NULL,
        name TEXT NOT NULL, kind INTEGER NOT NULL, start_ns INTEGER NOT NULL,
        end_ns INTEGER NOT NULL, status_code INTEGER NOT NULL, status_message TEXT NOT NULL,
        is_error INTEGER NOT NULL, trace_state TEXT NOT NULL, flags INTEGER NOT NULL,
        request_id TEXT, http_route TEXT, http_method TEXT, http_status INTEGER,
        rpc_service TEXT, rpc_method TEXT, db_system TEXT, exception_type TEXT,
        attributes TEXT NOT NULL, events TEXT, links TEXT,
        dropped_attributes_count INTEGER NOT NULL, dropped_events_count INTEGER NOT NULL,
        dropped_links_count INTEGER NOT NULL, wire_bytes INTEGER NOT NULL DEFAULT 0);
    INSERT INTO old_spans SELECT trace_id, span_id, parent_span_id, resource_id, scope_id,
        service, name, kind, start_ns, end_ns, status_code, status_message, is_error,
        trace_state, flags, request_id, http_route, http_method, http_status, rpc_service,
        rpc_method, db_system, exception_type, p.attributes, p.events, p.links,
        dropped_attributes_count, dropped_events_count, dropped_links_count, wire_bytes
        FROM spans s JOIN spans_payload p ON p.id = s.id ORDER BY s.id;
    DROP VIEW span_rows;
    DROP TABLE spans;
    DROP TABLE spans_payload;
    ALTER TABLE old_spans RENAME TO spans;
    CREATE INDEX spans_trace ON spans (trace_id);
    CREATE INDEX spans_request ON spans (request_id) WHERE request_id IS NOT NULL;
    CREATE INDEX spans_span ON spans (span_id);
    CREATE INDEX spans_requests ON spans (start_ns, service, end_ns, is_error)
        WHERE kind IN (2, 5) OR parent_span_id IS NULL;
    DROP TABLE request_traces;
    DROP TABLE spans_packed;
    DROP TABLE payload_dicts;
    CREATE TABLE trace_services (trace_id BLOB NOT NULL, service TEXT NOT NULL,
        PRIMARY KEY (trace_id, service)) WITHOUT ROWID;
    INSERT INTO trace_services SELECT DISTINCT trace_id, service FROM spans;
    CREATE INDEX trace_services_service ON trace_services (service, trace_id);
    DROP INDEX traces_window;
    ALTER TABLE traces DROP COLUMN services;
    CREATE INDEX traces_window ON traces (start_ns, end_ns, error_count);
    DELETE FROM _sqlx_migrations WHERE version >= 6;";

/// Spans stored before the split read back the same after it, and new ones
/// are written beside them: the database is put back into the old layout by
/// hand, and opening it again runs the migration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_stored_before_the_payload_split_read_back_the_same() {
    harness::run(Backend::Sqlite, |ctx| async move {
        let mut root = span(tid(1), sid(1), None, "POST /checkout");
        root.attributes = attrs([("http.route", s("/checkout")), ("n", Value::Int(7))]);
        root.derived.request_id = Some("req-before".to_owned());
        root.events = vec![Event {
            time_unix_nano: 5,
            name: "exception".to_owned(),
            attributes: attrs([("exception.type", s("IOError"))]),
            dropped_attributes_count: 1,
        }];
        let mut child = span(tid(1), sid(2), Some(sid(1)), "SELECT");
        child.links = vec![Link {
            trace_id: tid(2).to_vec(),
            span_id: sid(3).to_vec(),
            trace_state: "k=v".to_owned(),
            attributes: attrs([("link.kind", s("retry"))]),
            dropped_attributes_count: 0,
            flags: 1,
        }];
        ctx.store
            .write_batch(&spans_batch("checkout", vec![root, child]))
            .await
            .expect("write");
        let before = ctx
            .store
            .trace(&tid(1))
            .await
            .expect("read")
            .expect("trace");
        ctx.store.close().await;

        ctx.execute(SPANS_BEFORE_THE_SPLIT).await;

        let store = Store::open(&ctx.url)
            .await
            .expect("open runs the migration");
        let after = store.trace(&tid(1)).await.expect("read").expect("trace");
        assert_eq!(after, before);
        assert_eq!(
            after.spans[0].attributes.get("http.route"),
            Some(&s("/checkout"))
        );
        let request = store
            .request("req-before")
            .await
            .expect("read")
            .expect("request");
        assert_eq!(request.trace_ids, [hex::encode(tid(1))], "{request:?}");
        store
            .write_batch(&spans_batch(
                "checkout",
                vec![span(tid(1), sid(4), Some(sid(1)), "GET")],
            ))
            .await
            .expect("write after the split");
        let grown = store.trace(&tid(1)).await.expect("read").expect("trace");
        assert_eq!(grown.spans.len(), 3);
        assert!(
            grown
                .spans
                .iter()
                .any(|s| s.links.len() == 1 && s.span_id == hex::encode(sid(2)))
        );
        store.close().await;
    })
    .await;
}

/// Spans stored before packs existed are packed by the migration, in SQL,
/// and read back by the reports exactly as the writer's own packs are: the
/// test reads the writer's packs, drops them, runs the migration again and
/// reads its packs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_spans_stored_before_packing_are_packed_by_the_migration() {
    spans_stored_before_packing_are_packed_by_the_migration(Backend::Sqlite, 9).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_spans_stored_before_packing_are_packed_by_the_migration() {
    spans_stored_before_packing_are_packed_by_the_migration(Backend::Postgres, 8).await;
}

async fn spans_stored_before_packing_are_packed_by_the_migration(backend: Backend, migration: i64) {
    harness::run(backend, move |ctx| async move {
        let mut root = timed(span(tid(1), sid(1), None, "POST /checkout"), T0, T0 + 900);
        root.kind = SpanKind::Server;
        root.derived.http_route = Some("/checkout".to_owned());
        root.derived.http_method = Some("POST".to_owned());
        root.wire_bytes = 512;
        let mut call = failed(timed(
            span(tid(1), sid(2), Some(sid(1)), "Cart/Add"),
            T0 + 100,
            T0 + 300,
        ));
        call.kind = SpanKind::Client;
        call.derived.rpc_service = Some("shop.Cart".to_owned());
        call.derived.rpc_method = Some(String::new());
        let mut query = timed(
            span(tid(1), sid(3), Some(sid(2)), "SELECT ünï"),
            T0 + 150,
            T0 + 160,
        );
        query.derived.db_system = Some("postgresql".to_owned());
        let outside = timed(span(tid(2), sid(4), None, "later"), T0 + 5_000, T0 + 5_001);
        for batch in [
            spans_batch("checkout", vec![root, call]),
            spans_batch("cärt", vec![query, outside]),
        ] {
            ctx.store.write_batch(&batch).await.expect("write");
        }
        let window = (T0, T0 + 1_000);
        let report_spans = |store: Store| async move {
            let mut spans = Vec::new();
            store
                .report_spans(window.0, window.1, |s| spans.push(s))
                .await
                .expect("report spans");
            spans.sort_by_key(|s| s.span_id);
            spans
        };
        let packed_by_the_writer = report_spans(ctx.store.clone()).await;
        assert_eq!(packed_by_the_writer.len(), 3);
        ctx.store.close().await;

        // PostgreSQL: also before span filters (migration 10), with the
        // index on span ids they replaced.
        let before_packing = match backend {
            Backend::Sqlite => format!(
                "DROP TABLE spans_packed; DELETE FROM _sqlx_migrations WHERE version = {migration};"
            ),
            Backend::Postgres => format!(
                "DROP TABLE spans_packed; CREATE INDEX spans_span ON spans (span_id); \
                 DELETE FROM _sqlx_migrations WHERE version IN ({migration}, 10);"
            ),
        };
        ctx.execute(&before_packing).await;

        let store = Store::open(&ctx.url)
            .await
            .expect("open runs the migration");
        assert_eq!(report_spans(store.clone()).await, packed_by_the_writer);
        let by_span_id = |store: Store| async move {
            let view = store.request(&hex::encode(sid(3))).await.expect("request");
            view.expect("span id found").trace_ids
        };
        assert_eq!(by_span_id(store.clone()).await, [hex::encode(tid(1))]);
        let filled = store.complete_upgrade().await.expect("complete upgrade");
        assert_eq!(filled, u64::from(backend == Backend::Postgres));
        assert_eq!(store.complete_upgrade().await.expect("again"), 0);
        assert_eq!(by_span_id(store.clone()).await, [hex::encode(tid(1))]);
        if backend == Backend::Postgres {
            assert_eq!(
                ctx.scalar(
                    "SELECT COUNT(*) FROM spans_packed WHERE span_filter IS NULL",
                    None
                )
                .await,
                0
            );
        }
        store.close().await;
    })
    .await;
}

/// A trace's services stored as rows of `trace_services` become the list
/// of its summary row: searches by service and the summaries' services
/// answer as before, and later spans add to the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_trace_services_become_lists() {
    let window = "DROP INDEX traces_window; \
        CREATE INDEX traces_window ON traces (start_ns, end_ns, error_count);";
    trace_services_become_lists(Backend::Sqlite, 11, "BLOB", window).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_trace_services_become_lists() {
    trace_services_become_lists(Backend::Postgres, 9, "BYTEA", "").await;
}

/// `window`: the SQL that puts `traces_window` back as it was.
async fn trace_services_become_lists(
    backend: Backend,
    migration: i64,
    blob: &'static str,
    window: &'static str,
) {
    harness::run(backend, move |ctx| async move {
        let odd = "we\u{1f}ird";
        for batch in [
            spans_batch("web", vec![span(tid(1), sid(1), None, "GET /")]),
            spans_batch("db", vec![span(tid(1), sid(2), Some(sid(1)), "SELECT")]),
            spans_batch("api", vec![span(tid(1), sid(3), Some(sid(1)), "call")]),
            spans_batch(odd, vec![span(tid(1), sid(4), Some(sid(1)), "odd")]),
            spans_batch("solo", vec![span(tid(2), sid(5), None, "alone")]),
        ] {
            ctx.store.write_batch(&batch).await.expect("write");
        }
        ctx.store.close().await;
        ctx.execute(&format!(
            "{window} ALTER TABLE traces DROP COLUMN services; \
             CREATE TABLE trace_services (trace_id {blob} NOT NULL, service TEXT NOT NULL, \
             PRIMARY KEY (trace_id, service)); \
             CREATE INDEX trace_services_service ON trace_services (service, trace_id); \
             INSERT INTO trace_services SELECT DISTINCT trace_id, service FROM spans; \
             DELETE FROM _sqlx_migrations WHERE version = {migration};"
        ))
        .await;

        let store = Store::open(&ctx.url)
            .await
            .expect("open runs the migration");
        let listed = ["api", "db", "web", "we\u{fffd}ird"];
        assert_eq!(ctx.trace_services(&tid(1)).await, listed);
        assert_eq!(ctx.trace_services(&tid(2)).await, ["solo"]);
        let search = |service: &str| {
            let store = store.clone();
            let query = store::TraceQuery {
                service: Some(service.to_owned()),
                limit: 10,
                ..Default::default()
            };
            async move {
                store
                    .traces(&query)
                    .await
                    .expect("search")
                    .into_iter()
                    .map(|t| (t.trace_id, t.services))
                    .collect::<Vec<_>>()
            }
        };
        let first = (hex::encode(tid(1)), listed.map(String::from).to_vec());
        assert_eq!(search("db").await, std::slice::from_ref(&first));
        assert_eq!(search(odd).await, [first]);
        assert_eq!(search("d").await, []);
        store
            .write_batch(&spans_batch(
                "cache",
                vec![span(tid(2), sid(6), Some(sid(5)), "GET")],
            ))
            .await
            .expect("write after the migration");
        assert_eq!(ctx.trace_services(&tid(2)).await, ["cache", "solo"]);
        store.close().await;
    })
    .await;
}
