//! The load and cost reports read whole minutes from report rollups
//! (docs/adr/0021) once the background job has made them: the same figures
//! as from the spans, on SQLite and on PostgreSQL, and still there when
//! the spans are gone. Checkouts every 20 s around minute boundaries,
//! three of them straddling one, so that a minute's figures need the
//! spans of the minute beside it.

use std::time::{Duration, Instant};

use loupe::cli::Retention;
use serde_json::Value as Json;

use crate::reports::{MS, checkout_at, cli_over, logs};
use crate::support::{self, Server, T0};

const MINUTE: u64 = 60_000_000_000;
/// The first whole minute after T0.
const T1: u64 = (T0 / MINUTE + 1) * MINUTE;

/// Two minutes before T1 to five after: whole minutes only.
fn window() -> (u64, u64) {
    (T1 - 2 * MINUTE, T1 + 5 * MINUTE)
}

async fn seed(server: &Server) {
    for k in 0..8u8 {
        // 50 ms before each 20 s step: the steps at whole minutes straddle it.
        let base = T1 + u64::from(k) * 20_000 * MS - 50 * MS;
        let t = 20 + k;
        for (_, body) in checkout_at(t, k % 3 == 0, 100 + u64::from(k), base) {
            server.export("/v1/traces", body).await;
        }
        let body = logs(
            "orders",
            "orders",
            (9, "INFO"),
            vec![(Some((t, 3)), base + 20 * MS)],
        );
        server.export("/v1/logs", body).await;
    }
}

/// The report without its series (a minute's requests are shared among
/// the slices it overlaps, a span's go to its own), with the sum of each
/// series checked against its row.
fn without_series(mut report: Json) -> Json {
    for table in ["services", "endpoints"] {
        let rows = report[table].as_array_mut().into_iter().flatten();
        for row in rows.filter(|row| row.get("series").is_some()) {
            let sum: u64 = row["series"]["requests"]
                .as_array()
                .expect("series")
                .iter()
                .map(|n| n.as_u64().expect("a count"))
                .sum();
            assert_eq!(Some(sum), row["requests"].as_u64(), "{row}");
            row.as_object_mut().expect("a row").remove("series");
        }
    }
    report
}

/// `report` without what the database's size decides (the bytes stored
/// grow as rollups are written), which is not the rollups' to answer.
fn without_stored(mut report: Json) -> Json {
    fn strip(value: &mut Json) {
        match value {
            Json::Object(map) => {
                map.remove("stored_bytes");
                map.remove("stored_share");
                map.values_mut().for_each(strip);
            }
            Json::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut report);
    report
}

/// Equal, numbers within a part in a billion (sums of shares add up in
/// another order).
fn assert_same(got: &Json, want: &Json, at: &str) {
    match (got, want) {
        (Json::Number(a), Json::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!(
                (a - b).abs() <= 1e-9 * a.abs().max(b.abs()),
                "{at}: {a} != {b}"
            );
        }
        (Json::Array(a), Json::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{at}: {got} != {want}");
            for (i, (a, b)) in a.iter().zip(b).enumerate() {
                assert_same(a, b, &format!("{at}[{i}]"));
            }
        }
        (Json::Object(a), Json::Object(b)) => {
            let keys = |o: &serde_json::Map<String, Json>| o.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(a), keys(b), "{at}");
            for (k, v) in a {
                assert_same(v, &b[k], &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}

async fn delete_spans(url: &str) {
    const SQL: &str = "DELETE FROM span_packs";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(SQL).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(SQL).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

async fn pending(server: &Server) -> u64 {
    let (status, system) = server.get_json("/api/v1/system").await;
    assert_eq!(status, 200, "{system}");
    system["report_minutes_pending"]
        .as_u64()
        .expect("pending minutes")
}

/// Until no minute waits for its rollup: each goes quiet 10 s after its
/// last batch.
async fn rolled_up(server: &Server) {
    let waited = Instant::now();
    while pending(server).await > 0 {
        assert!(waited.elapsed().as_secs() < 120, "minutes still stale");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn rollups_agree_on(database_url: Option<String>) {
    let mut server = Server::start_with(|c| {
        if let Some(url) = &database_url {
            c.database_url = url.clone();
        }
    })
    .await;
    let database_url = database_url.unwrap_or_else(|| server.database_url());
    seed(&server).await;
    let (since, until) = window();
    let query = format!("since={since}&until={until}");
    let reports = [
        format!("/api/v1/reports/load?{query}"),
        format!("/api/v1/reports/cost?{query}"),
        format!("/api/v1/reports/load?{query}&service=payments"),
    ];
    // Just written, so stale: every figure is counted from the spans.
    assert!(pending(&server).await > 0);
    let mut from_spans = Vec::new();
    for path in &reports {
        let (status, report) = server.get_json(path).await;
        assert_eq!(status, 200, "{report}");
        from_spans.push(report);
    }
    let load = &from_spans[0];
    assert_eq!(load["traces"], 8, "{load}");
    assert_eq!(load["traces_without_root"], 0, "{load}");
    assert_eq!(load["spans"], 8 * 10, "{load}");

    // The minutes go quiet, and are rolled up.
    rolled_up(&server).await;
    for (path, from_spans) in reports.iter().zip(&from_spans) {
        let (status, from_rollups) = server.get_json(path).await;
        assert_eq!(status, 200, "{from_rollups}");
        assert_same(
            &without_stored(without_series(from_rollups)),
            &without_stored(without_series(from_spans.clone())),
            path,
        );
    }
    server.stop().await;

    // Spans gone, the minutes' figures stay (as with --rollup-retention
    // longer than --retention).
    delete_spans(&database_url).await;
    let (since, until) = (since.to_string(), until.to_string());
    let json = cli_over(
        &database_url,
        &["--from", &since, "--to", &until],
        &["load", "--format", "json"],
    );
    let from_rollups: Json = serde_json::from_str(&json).unwrap();
    assert_same(
        &without_series(from_rollups),
        &without_series(from_spans[0].clone()),
        "loupe report load without spans",
    );
}

#[tokio::test]
async fn report_rollups_agree_with_spans_on_sqlite() {
    rollups_agree_on(None).await;
}

#[tokio::test]
async fn report_rollups_agree_with_spans_on_postgres() {
    let Some((url, admin_url)) = support::fresh_postgres("report_rollups").await else {
        return;
    };
    rollups_agree_on(Some(url.clone())).await;
    support::drop_postgres(&admin_url, &url).await;
}

/// A late trace for minutes past `--retention` leaves their rollups as
/// they were: made from it alone, they would replace the whole minutes'.
#[tokio::test]
async fn late_spans_for_expired_minutes_leave_their_rollups() {
    let mut keeping = Server::start().await;
    seed(&keeping).await;
    rolled_up(&keeping).await;
    let (since, until) = window();
    let path = format!("/api/v1/reports/load?since={since}&until={until}");
    let (_, before) = keeping.get_json(&path).await;
    let database_url = keeping.database_url();
    keeping.stop().await;

    let mut server = Server::start_with(|c| {
        c.database_url = database_url;
        c.retention = Retention(Some(Duration::from_secs(86_400)));
    })
    .await;
    let waited = Instant::now();
    while server.stats().await["spans"] != 0 {
        assert!(waited.elapsed().as_secs() < 60, "spans still kept");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (_, body) in checkout_at(99, true, 150, T1 + 30_000 * MS) {
        server.export("/v1/traces", body).await;
    }
    rolled_up(&server).await;
    let (status, after) = server.get_json(&path).await;
    assert_eq!(status, 200, "{after}");
    assert_same(&after, &before, "the load report");
    server.stop().await;
}
