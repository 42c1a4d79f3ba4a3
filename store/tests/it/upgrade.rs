//! Databases written by an older loupe, opened by this one.

use store::model::{Batch, Event, Link, Span, SpanKind};
use store::value::Value;
use store::{AttributeFilter, LogQuery, Store, TraceQuery};

use crate::fixtures::*;
use crate::harness::{self, Backend, Ctx, write_to};

/// What the spans were before packs-only storage and service lists, as the
/// migrations left them (SQLite before its migration 11, PostgreSQL before
/// its migration 9): trace summaries keyed by trace id (SQLite before its
/// migration 13), a row per span (SQLite: narrow row and payload; its
/// payloads as text, or compressed with or without a dictionary:
/// `payload_value`), the packs the reports read, their indexes, and
/// `trace_services`; no fingerprint key (ADR 0014), no trigger that
/// removes a log record's full-text row (ADR 0016) and no rollups (ADR
/// 0019); after `SQLITE_LOG_ROWS`, log rows instead of log packs (ADR
/// 0022).
const SQLITE_BEFORE: &str = "
    DROP TABLE key_usage;
    DROP TABLE operations;
    DROP TABLE settings;
    DROP TABLE rollups;
    DROP TABLE report_rollups;
    DROP TABLE report_rollups_stale;
    DROP TABLE rollups_hourly;
    DROP TABLE span_packs;
    CREATE TABLE traces_by_id (trace_id BLOB PRIMARY KEY, start_ns INTEGER NOT NULL,
        end_ns INTEGER NOT NULL, span_count INTEGER NOT NULL, error_count INTEGER NOT NULL,
        root_service TEXT, root_name TEXT) WITHOUT ROWID;
    INSERT INTO traces_by_id SELECT trace_id, start_ns, end_ns, span_count, error_count,
        root_service, root_name FROM traces;
    DROP TABLE traces;
    ALTER TABLE traces_by_id RENAME TO traces;
    CREATE INDEX traces_window ON traces (start_ns, end_ns, error_count);
    CREATE TABLE spans (
        id INTEGER PRIMARY KEY, trace_id BLOB NOT NULL, span_id BLOB NOT NULL,
        parent_span_id BLOB, resource_id INTEGER NOT NULL, scope_id INTEGER NOT NULL,
        service TEXT NOT NULL, name TEXT NOT NULL, kind INTEGER NOT NULL,
        start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, status_code INTEGER NOT NULL,
        status_message TEXT NOT NULL, is_error INTEGER NOT NULL, trace_state TEXT NOT NULL,
        flags INTEGER NOT NULL, request_id TEXT, http_route TEXT, http_method TEXT,
        http_status INTEGER, rpc_service TEXT, rpc_method TEXT, db_system TEXT,
        exception_type TEXT, dropped_attributes_count INTEGER NOT NULL,
        dropped_events_count INTEGER NOT NULL, dropped_links_count INTEGER NOT NULL,
        wire_bytes INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE spans_payload (id INTEGER PRIMARY KEY, attributes TEXT NOT NULL,
        events TEXT, links TEXT);
    CREATE VIEW span_rows AS
        SELECT s.*, loupe_text(p.attributes) AS attributes, loupe_text(p.events) AS events,
               loupe_text(p.links) AS links
        FROM spans s JOIN spans_payload p ON p.id = s.id;
    CREATE INDEX spans_trace ON spans (trace_id);
    CREATE INDEX spans_requests ON spans (start_ns, service, end_ns, is_error)
        WHERE kind IN (2, 5) OR parent_span_id IS NULL;
    CREATE TABLE payload_dicts (id INTEGER PRIMARY KEY, spans INTEGER NOT NULL,
        data BLOB NOT NULL);
    INSERT INTO payload_dicts VALUES (1, 0, CAST(
        '{\"http.route\":\"/checkout\",\"n\":7,\"link.kind\":\"retry\"}' AS BLOB));
    CREATE TABLE spans_packed (start_lo INTEGER NOT NULL, start_hi INTEGER NOT NULL,
        spans INTEGER NOT NULL, data BLOB NOT NULL);
    CREATE INDEX spans_packed_window ON spans_packed (start_hi, start_lo);
    CREATE TABLE trace_services (trace_id BLOB NOT NULL, service TEXT NOT NULL,
        PRIMARY KEY (trace_id, service)) WITHOUT ROWID;
    CREATE INDEX trace_services_service ON trace_services (service, trace_id);
    DELETE FROM _sqlx_migrations WHERE version >= 11;";

const POSTGRES_BEFORE: &str = "
    DROP TABLE key_usage;
    DROP TABLE operations;
    DROP INDEX traces_window;
    ALTER TABLE traces DROP COLUMN entry_rank, DROP COLUMN entry_start_ns, DROP COLUMN entry_ns,
        DROP COLUMN entry_status, DROP COLUMN request_id, DROP COLUMN error_message;
    CREATE INDEX traces_window ON traces (start_ns, end_ns, error_count);
    DROP TABLE settings;
    DROP TABLE rollups;
    DROP TABLE report_rollups;
    DROP TABLE report_rollups_stale;
    DROP TABLE rollups_hourly;
    DROP TABLE span_packs;
    CREATE TABLE spans (
        trace_id BYTEA NOT NULL, span_id BYTEA NOT NULL, parent_span_id BYTEA,
        resource_id BIGINT NOT NULL, scope_id BIGINT NOT NULL, service TEXT NOT NULL,
        name TEXT NOT NULL, kind INTEGER NOT NULL, start_ns BIGINT NOT NULL,
        end_ns BIGINT NOT NULL, status_code INTEGER NOT NULL, status_message TEXT NOT NULL,
        is_error BOOLEAN NOT NULL, trace_state TEXT NOT NULL, flags BIGINT NOT NULL,
        request_id TEXT, http_route TEXT, http_method TEXT, http_status BIGINT,
        rpc_service TEXT, rpc_method TEXT, db_system TEXT, exception_type TEXT,
        attributes TEXT NOT NULL, events TEXT, links TEXT,
        dropped_attributes_count BIGINT NOT NULL, dropped_events_count BIGINT NOT NULL,
        dropped_links_count BIGINT NOT NULL, wire_bytes INTEGER NOT NULL DEFAULT 0);
    CREATE VIEW span_rows AS SELECT * FROM spans;
    CREATE INDEX spans_trace ON spans (trace_id);
    CREATE INDEX spans_span ON spans (span_id);
    CREATE INDEX spans_requests ON spans (start_ns, service, end_ns, is_error)
        WHERE kind IN (2, 5) OR parent_span_id IS NULL;
    CREATE TABLE spans_packed (start_lo BIGINT NOT NULL, start_hi BIGINT NOT NULL,
        spans INTEGER NOT NULL, data BYTEA NOT NULL);
    CREATE INDEX spans_packed_window ON spans_packed (start_hi, start_lo);
    ALTER TABLE traces DROP COLUMN services;
    ALTER TABLE traces DROP COLUMN packs;
    CREATE TABLE trace_services (trace_id BYTEA NOT NULL, service TEXT NOT NULL,
        PRIMARY KEY (trace_id, service));
    CREATE INDEX trace_services_service ON trace_services (service, trace_id);
    DELETE FROM _sqlx_migrations WHERE version >= 9;";

fn text(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn opt_text(value: Option<&str>) -> String {
    value.map_or_else(|| "NULL".to_owned(), text)
}

fn blob(backend: Backend, bytes: &[u8]) -> String {
    match backend {
        Backend::Sqlite => format!("x'{}'", hex::encode(bytes)),
        Backend::Postgres => format!("'\\x{}'::bytea", hex::encode(bytes)),
    }
}

fn json_list<T: serde::Serialize>(items: &[T]) -> Option<String> {
    (!items.is_empty()).then(|| serde_json::to_string(items).expect("json"))
}

/// A payload value as SQLite's writer stored it, chosen by the span's row
/// id: the JSON text, or (docs/adr/0008) the LEB128 id of a dictionary
/// (0: none; 1: the row `SQLITE_BEFORE` stores) and one zstd frame.
fn payload_value(backend: Backend, id: usize, json: Option<String>) -> String {
    let Some(json) = json else {
        return "NULL".to_owned();
    };
    let frame = match (backend, id % 3) {
        (Backend::Postgres, _) | (_, 0) => return text(&json),
        (_, 1) => [
            vec![0],
            zstd::bulk::compress(json.as_bytes(), 3).expect("zstd"),
        ]
        .concat(),
        _ => {
            let dictionary = "{\"http.route\":\"/checkout\",\"n\":7,\"link.kind\":\"retry\"}";
            let mut compressor =
                zstd::bulk::Compressor::with_dictionary(3, dictionary.as_bytes()).expect("zstd");
            [vec![1], compressor.compress(json.as_bytes()).expect("zstd")].concat()
        }
    };
    blob(backend, &frame)
}

/// The SQL an older loupe's writer amounted to for the batch's spans, and
/// the rows of `trace_services` for them.
fn old_rows(backend: Backend, batch: &Batch, first_id: usize) -> String {
    let mut sql = String::new();
    for (i, span) in batch.spans.iter().enumerate() {
        let Span { derived: d, .. } = span;
        let service = &batch.resources[span.resource_idx].service;
        let scope = &batch.scopes[span.scope_idx].name;
        let id = first_id + i;
        let payload = [
            payload_value(backend, id, Some(span.attributes.to_json_string())),
            payload_value(backend, id, json_list(&span.events)),
            payload_value(backend, id, json_list(&span.links)),
        ]
        .join(", ");
        let (id_column, id_value, payload_columns, payload_values) = match backend {
            Backend::Sqlite => ("id, ", format!("{id}, "), "", String::new()),
            Backend::Postgres => (
                "",
                String::new(),
                ", attributes, events, links",
                format!(", {payload}"),
            ),
        };
        let is_error = match (backend, d.is_error) {
            (Backend::Sqlite, e) => i32::from(e).to_string(),
            (Backend::Postgres, e) => e.to_string(),
        };
        sql.push_str(&format!(
            "INSERT INTO spans ({id_column}trace_id, span_id, parent_span_id, resource_id, scope_id, \
             service, name, kind, start_ns, end_ns, status_code, status_message, is_error, \
             trace_state, flags, request_id, http_route, http_method, http_status, rpc_service, \
             rpc_method, db_system, exception_type, dropped_attributes_count, \
             dropped_events_count, dropped_links_count, wire_bytes{payload_columns}) VALUES \
             ({id_value}{}, {}, {}, (SELECT id FROM resources WHERE service = {}), \
             (SELECT id FROM scopes WHERE name = {}), {}, {}, {}, {}, {}, {}, {}, {is_error}, {}, \
             {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}{payload_values});\n",
            blob(backend, &span.trace_id),
            blob(backend, &span.span_id),
            span.parent_span_id
                .map_or_else(|| "NULL".to_owned(), |p| blob(backend, &p)),
            text(service),
            text(scope),
            text(service),
            text(&span.name),
            span.kind.as_i32(),
            span.start_time_unix_nano,
            span.end_time_unix_nano,
            span.status.code.as_i32(),
            text(&span.status.message),
            text(&span.trace_state),
            span.flags,
            opt_text(d.request_id.as_deref()),
            opt_text(d.http_route.as_deref()),
            opt_text(d.http_method.as_deref()),
            d.http_status_code
                .map_or_else(|| "NULL".to_owned(), |c| c.to_string()),
            opt_text(d.rpc_service.as_deref()),
            opt_text(d.rpc_method.as_deref()),
            opt_text(d.db_system.as_deref()),
            opt_text(d.exception_type.as_deref()),
            span.dropped_attributes_count,
            span.dropped_events_count,
            span.dropped_links_count,
            span.wire_bytes,
        ));
        if backend == Backend::Sqlite {
            sql.push_str(&format!(
                "INSERT INTO spans_payload (id, attributes, events, links) VALUES ({id}, {payload});\n"
            ));
        }
    }
    sql
}

/// The spans of this test: a trace over four services (one whose name
/// holds the lists' separator) with every field a span carries, and a
/// second trace.
fn batches() -> Vec<Batch> {
    let mut root = timed(span(tid(1), sid(1), None, "POST /checkout"), T0, T0 + 900);
    root.kind = SpanKind::Server;
    root.attributes = attrs([("http.route", s("/checkout")), ("n", Value::Int(7))]);
    root.derived.request_id = Some("req-before".to_owned());
    root.derived.http_route = Some("/checkout".to_owned());
    root.derived.http_method = Some("POST".to_owned());
    root.derived.http_status_code = Some(201);
    root.trace_state = "vendor=1".to_owned();
    root.flags = 257;
    root.wire_bytes = 512;
    root.dropped_attributes_count = 2;
    root.events = vec![Event {
        time_unix_nano: T0 + 5,
        name: "exception".to_owned(),
        attributes: attrs([("exception.type", s("IOError"))]),
        dropped_attributes_count: 1,
    }];
    let mut call = failed(timed(
        span(tid(1), sid(2), Some(sid(1)), "Cart/Add"),
        T0 + 100,
        T0 + 300,
    ));
    call.kind = SpanKind::Client;
    call.derived.rpc_service = Some("shop.Cart".to_owned());
    call.derived.rpc_method = Some(String::new());
    call.derived.exception_type = Some("Timeout".to_owned());
    call.links = vec![Link {
        trace_id: tid(2).to_vec(),
        span_id: sid(5).to_vec(),
        trace_state: "k=v".to_owned(),
        attributes: attrs([("link.kind", s("retry"))]),
        dropped_attributes_count: 0,
        flags: 1,
    }];
    let mut query = timed(
        span(tid(1), sid(3), Some(sid(2)), "SELECT ünï"),
        T0 + 150,
        T0 + 160,
    );
    query.derived.db_system = Some("postgresql".to_owned());
    let odd = timed(
        span(tid(1), sid(4), Some(sid(1)), "odd"),
        T0 + 200,
        T0 + 210,
    );
    let solo = timed(span(tid(2), sid(5), None, "alone"), T0 + 5_000, T0 + 5_001);
    vec![
        spans_batch("checkout", vec![root, call]),
        spans_batch("db", vec![query]),
        spans_batch("we\u{1f}ird", vec![odd]),
        spans_batch("solo", vec![solo]),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_span_rows_become_packs() {
    span_rows_become_packs(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_span_rows_become_packs() {
    span_rows_become_packs(Backend::Postgres).await;
}

/// A database of span rows (and `trace_services`) opened by this loupe:
/// the migrations fold the services into lists and the conversion
/// rewrites the rows into packs, after which every read answers as it did
/// for the same spans written by this loupe, and new spans join the old.
async fn span_rows_become_packs(backend: Backend) {
    harness::run(backend, move |ctx: Ctx| async move {
        let batches = batches();
        for batch in &batches {
            write_to(&ctx.store, batch.clone()).await.expect("write");
        }
        let store = ctx.store.clone();
        let reads = |store: Store| async move {
            let traces = [
                store.reader().trace(&tid(1)).await.expect("trace").expect("trace 1"),
                store.reader().trace(&tid(2)).await.expect("trace").expect("trace 2"),
            ];
            let mut reported = Vec::new();
            store
                .reader()
                .report_spans(T0, T0 + 10_000, |s| reported.push(s))
                .await
                .expect("report spans");
            reported.sort_by_key(|s| s.span_id);
            let by_request = store.reader().request("req-before").await.expect("request");
            let by_span = store.reader().request(&hex::encode(sid(3))).await.expect("span id");
            let by_attribute = store
                .reader()
                .traces(&TraceQuery {
                    attributes: vec![store::AttributeFilter::parse("n>=7").expect("filter")],
                    operation: Some("Cart/Add".to_owned()),
                    limit: 10,
                    ..TraceQuery::default()
                })
                .await
                .expect("search")
                .into_iter()
                // How a trace went is kept from this version on: a converted
                // trace has none (docs/adr/0024).
                .map(|t| store::TraceSummary {
                    http_status_code: None,
                    request_id: None,
                    error_message: None,
                    ..t
                })
                .collect::<Vec<_>>();
            // Written by this loupe, whole minutes come from rollups;
            // converted, from the spans, which hold no rollups (minutes
            // before the conversion's newest span are read from spans).
            let minute = 60_000_000_000;
            let whole = T0 - T0.rem_euclid(minute);
            let services = store
                .reader()
                .services(whole - minute, whole + 2 * minute, 3)
                .await
                .expect("services");
            (traces, reported, by_request, by_span, by_attribute, services)
        };
        let before = reads(store.clone()).await;
        assert_eq!(before.1.len(), 5);
        assert_eq!(before.4.len(), 1);
        assert!(before.5.iter().any(|red| red.requests > 0), "{:?}", before.5);
        store.close().await;

        let mut old = match backend {
            Backend::Sqlite => format!("{SQLITE_LOG_ROWS}{SQLITE_BEFORE}"),
            Backend::Postgres => format!("{POSTGRES_LOG_ROWS}{POSTGRES_BEFORE}"),
        };
        let mut first_id = 1;
        for batch in &batches {
            old.push_str(&old_rows(backend, batch, first_id));
            first_id += batch.spans.len();
        }
        // A damaged row (an id of the wrong length) is left out, not fatal.
        let mut damaged = batches[3].clone();
        damaged.spans[0].span_id = sid(9);
        old.push_str(&old_rows(backend, &damaged, first_id).replace(
            &blob(backend, &sid(9)),
            &blob(backend, &[9, 9, 9]),
        ));
        old.push_str("INSERT INTO trace_services SELECT DISTINCT trace_id, service FROM spans;");
        ctx.execute(&old).await;

        let store = Store::open(&ctx.url)
            .await
            .expect("open runs the migrations and the conversion");
        assert_eq!(reads(store.clone()).await, before);
        assert_eq!(
            ctx.trace_services(&tid(1)).await,
            ["checkout", "db", "we\u{fffd}ird"]
        );
        let gone = match backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_schema WHERE name IN ('spans', 'spans_payload', \
                 'span_rows', 'payload_dicts', 'spans_packed', 'trace_services')"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM pg_class WHERE relname IN ('spans', 'span_rows', \
                 'spans_packed', 'trace_services') AND relnamespace = current_schema()::regnamespace"
            }
        };
        assert_eq!(ctx.scalar(gone, None).await, 0);
        // The converted spans' minutes, and those beside, wait for their
        // report rollups.
        let marked = "SELECT COUNT(DISTINCT minute) FROM report_rollups_stale \
            WHERE minute BETWEEN (SELECT MIN(start_lo) / 60000000000 FROM span_packs) - 1 \
            AND (SELECT MIN(start_lo) / 60000000000 FROM span_packs) + 1";
        assert_eq!(ctx.scalar(marked, None).await, 3, "[{backend:?}]");
        // Opened again: nothing left to convert, nothing changes.
        store.close().await;
        let store = Store::open(&ctx.url).await.expect("open again");
        assert_eq!(reads(store.clone()).await, before);

        write_to(
            &store,
            spans_batch(
                "cache",
                vec![timed(span(tid(2), sid(6), Some(sid(5)), "GET"), T0 + 5_000, T0 + 5_002)],
            ),
        )
        .await
            .expect("write after the conversion");
        let grown = store.reader().trace(&tid(2)).await.expect("read").expect("trace");
        assert_eq!(grown.spans.len(), 2);
        assert_eq!(ctx.trace_services(&tid(2)).await, ["cache", "solo"]);
        store.close().await;
    })
    .await;
}

/// Log rows as every loupe before log packs stored them (ADR 0022), with
/// the full-text index of each backend: before either old layout.
const SQLITE_LOG_ROWS: &str = "
    DROP TABLE log_packs;
    CREATE TABLE logs (id INTEGER PRIMARY KEY, ts_ns INTEGER NOT NULL, time_ns INTEGER NOT NULL,
        observed_ns INTEGER NOT NULL, resource_id INTEGER NOT NULL, scope_id INTEGER NOT NULL,
        service TEXT NOT NULL, severity_number INTEGER NOT NULL, severity_text TEXT NOT NULL,
        body TEXT NOT NULL, event_name TEXT NOT NULL, attributes TEXT NOT NULL,
        dropped_attributes_count INTEGER NOT NULL, flags INTEGER NOT NULL, trace_id BLOB,
        span_id BLOB, request_id TEXT, wire_bytes INTEGER NOT NULL DEFAULT 0);
    CREATE INDEX logs_ts ON logs (ts_ns);
    CREATE INDEX logs_trace ON logs (trace_id) WHERE trace_id IS NOT NULL;
    CREATE VIRTUAL TABLE logs_fts USING fts5 (body, content = '', contentless_delete = 1);
    CREATE TRIGGER logs_fts_insert AFTER INSERT ON logs BEGIN
        INSERT INTO logs_fts (rowid, body) VALUES (new.id, CASE json_type(new.body)
            WHEN 'text' THEN json_extract(new.body, '$') WHEN 'null' THEN '' ELSE new.body END);
    END;";

const POSTGRES_LOG_ROWS: &str = "
    DROP TABLE log_packs;
    CREATE TABLE logs (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        ts_ns BIGINT NOT NULL, time_ns BIGINT NOT NULL, observed_ns BIGINT NOT NULL,
        resource_id BIGINT NOT NULL, scope_id BIGINT NOT NULL, service TEXT NOT NULL,
        severity_number INTEGER NOT NULL, severity_text TEXT NOT NULL, body TEXT NOT NULL,
        body_text TEXT NOT NULL, event_name TEXT NOT NULL, attributes TEXT NOT NULL,
        dropped_attributes_count BIGINT NOT NULL, flags BIGINT NOT NULL, trace_id BYTEA,
        span_id BYTEA, request_id TEXT, wire_bytes INTEGER NOT NULL DEFAULT 0);
    CREATE INDEX logs_trace ON logs (trace_id) WHERE trace_id IS NOT NULL;
    CREATE INDEX logs_body_fts ON logs USING GIN (to_tsvector('simple', body_text));";

/// The layout just before log packs: log rows, and on SQLite the trigger
/// that removes a record's full-text row (SQLite migration 0015).
fn before_log_packs(backend: Backend) -> String {
    match backend {
        Backend::Sqlite => format!(
            "{SQLITE_LOG_ROWS}
            CREATE TRIGGER logs_fts_delete AFTER DELETE ON logs BEGIN
                DELETE FROM logs_fts WHERE rowid = old.id;
            END;
            DROP TABLE key_usage;
    DROP TABLE operations;
            DROP INDEX traces_window;
            ALTER TABLE traces DROP COLUMN entry_rank;
            ALTER TABLE traces DROP COLUMN entry_start_ns;
            ALTER TABLE traces DROP COLUMN entry_ns;
            ALTER TABLE traces DROP COLUMN entry_status;
            ALTER TABLE traces DROP COLUMN request_id;
            ALTER TABLE traces DROP COLUMN error_message;
            ALTER TABLE rollups DROP COLUMN version;
            ALTER TABLE rollups_hourly DROP COLUMN version;
            CREATE INDEX traces_window ON traces (start_ns, end_ns, error_count, services, trace_id);
            DELETE FROM _sqlx_migrations WHERE version >= 21;"
        ),
        Backend::Postgres => {
            format!(
                "{POSTGRES_LOG_ROWS} DROP TABLE key_usage;
    DROP TABLE operations;
                DROP INDEX traces_window;
                ALTER TABLE traces DROP COLUMN entry_rank, DROP COLUMN entry_start_ns,
                    DROP COLUMN entry_ns, DROP COLUMN entry_status, DROP COLUMN request_id,
                    DROP COLUMN error_message;
                ALTER TABLE rollups DROP COLUMN version;
                ALTER TABLE rollups_hourly DROP COLUMN version;
                CREATE INDEX traces_window ON traces (start_ns, end_ns, error_count);
                DELETE FROM _sqlx_migrations WHERE version >= 17;"
            )
        }
    }
}

/// The row an older loupe wrote for a batch's log record `i`.
fn old_log_row(backend: Backend, batch: &Batch, i: usize) -> String {
    let log = &batch.logs[i];
    let service = &batch.resources[log.resource_idx].service;
    let scope = &batch.scopes[log.scope_idx].name;
    let body = log.body.to_json_string();
    let body_text = match backend {
        Backend::Sqlite => String::new(),
        Backend::Postgres => format!("{}, ", text(&body)),
    };
    let opt_blob = |id: Option<&[u8]>| id.map_or_else(|| "NULL".to_owned(), |id| blob(backend, id));
    format!(
        "INSERT INTO logs (ts_ns, time_ns, observed_ns, resource_id, scope_id, service, \
         severity_number, severity_text, body, {}event_name, attributes, \
         dropped_attributes_count, flags, trace_id, span_id, request_id, wire_bytes) VALUES \
         ({}, {}, {}, (SELECT min(id) FROM resources WHERE service = {}), \
         (SELECT min(id) FROM scopes WHERE name = {}), {}, {}, {}, {}, {}{}, {}, {}, {}, {}, {}, \
         {}, {});",
        if body_text.is_empty() {
            ""
        } else {
            "body_text, "
        },
        log.effective_time(),
        log.time_unix_nano,
        log.observed_time_unix_nano,
        text(service),
        text(scope),
        text(service),
        log.severity_number,
        text(&log.severity_text),
        text(&body),
        body_text,
        text(&log.event_name),
        text(&log.attributes.to_json_string()),
        log.dropped_attributes_count,
        log.flags,
        opt_blob(log.trace_id.as_ref().map(|t| &t[..])),
        opt_blob(log.span_id.as_ref().map(|s| &s[..])),
        opt_text(log.request_id.as_deref()),
        log.wire_bytes,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_log_rows_become_packs() {
    log_rows_become_packs(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_log_rows_become_packs() {
    log_rows_become_packs(Backend::Postgres).await;
}

/// A database of log rows opened by this loupe: the rows become packs,
/// after which every read of log records answers as it did for the same
/// records written by this loupe, and new records join the old.
async fn log_rows_become_packs(backend: Backend) {
    harness::run(backend, move |ctx: Ctx| async move {
        let mut linked = log(T0 + 10, s("Payment declined: card_expired"));
        linked.trace_id = Some(tid(1));
        linked.span_id = Some(sid(1));
        linked.request_id = Some("req-7".to_owned());
        linked.attributes = attrs([("http.route", s("/pay")), ("n", Value::Int(3))]);
        linked.severity_number = 17;
        linked.severity_text = "ERROR".to_owned();
        linked.wire_bytes = 90;
        let mut untimed = log(0, map([("event", s("cart saved"))]));
        untimed.observed_time_unix_nano = T0 + 20;
        let batches = vec![
            logs_batch("payments", vec![linked, log(T0 + 30, s("retrying"))]),
            logs_batch("cart", vec![untimed, log(T0 + 5, Value::Empty)]),
        ];
        for batch in &batches {
            write_to(&ctx.store, batch.clone()).await.expect("write");
        }
        let reads = |store: Store| async move {
            let query = |f: fn(&mut LogQuery)| {
                let mut q = LogQuery {
                    limit: 100,
                    ..LogQuery::default()
                };
                f(&mut q);
                q
            };
            let mut found = Vec::new();
            for q in [
                query(|_| {}),
                query(|q| q.text = Some("DECLINED card".to_owned())),
                query(|q| q.text = Some("saved".to_owned())),
                query(|q| q.service = Some("cart".to_owned())),
                query(|q| q.attributes = vec![AttributeFilter::parse("n>=3").expect("filter")]),
                query(|q| q.request_id = Some("req-7".to_owned())),
            ] {
                found.push(store.reader().logs(&q).await.expect("logs"));
            }
            let trace = store.reader().trace(&tid(1)).await.expect("trace");
            let request = store.reader().request("req-7").await.expect("request");
            let sources = store
                .reader()
                .log_sources(T0, T0 + 100)
                .await
                .expect("sources");
            let stats = store.reader().stats().await.expect("stats").logs;
            (found, trace, request, sources, stats)
        };
        let before = reads(ctx.store.clone()).await;
        assert_eq!(before.0[0].len(), 4);
        assert_eq!(before.0[1].len(), 1);
        assert_eq!(before.0[2].len(), 1, "a map body's words are searched");
        assert!(before.1.is_some(), "a trace of log records alone");
        ctx.store.close().await;

        let mut old = before_log_packs(backend);
        for batch in &batches {
            for i in 0..batch.logs.len() {
                old.push_str(&old_log_row(backend, batch, i));
            }
        }
        ctx.execute(&old).await;
        let store = Store::open(&ctx.url)
            .await
            .expect("open runs the migrations and the conversion");
        assert_eq!(reads(store.clone()).await, before);
        let gone = match backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_schema WHERE name IN ('logs', 'logs_fts', 'logs_ts')"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM pg_class WHERE relname IN ('logs', 'logs_body_fts') \
                 AND relnamespace = current_schema()::regnamespace"
            }
        };
        assert_eq!(ctx.scalar(gone, None).await, 0);
        assert_eq!(ctx.count("logs").await, 4);

        write_to(
            &store,
            logs_batch("cart", vec![log(T0 + 40, s("cart saved again"))]),
        )
        .await
        .expect("write after the conversion");
        let saved = store
            .reader()
            .logs(&LogQuery {
                text: Some("saved".to_owned()),
                limit: 10,
                ..LogQuery::default()
            })
            .await
            .expect("search");
        assert_eq!(saved.len(), 2);
        store.close().await;
    })
    .await;
}
