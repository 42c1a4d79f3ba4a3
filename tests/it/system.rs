//! `/system`, `/api/v1/system` and their lines on `/metrics`, through the
//! real server: what was received and kept, retention's settings and the
//! file it measures.

use std::time::{Duration, Instant};

use prost::Message as _;

use loupe::cli::Size;

use crate::support::{self, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_tells_what_loupe_holds_and_how_it_runs() {
    let server = Server::start_with(|c| c.max_size = Size(Some(1_000_000_000))).await;
    server
        .export("/v1/traces", support::traces(1).encode_to_vec())
        .await;
    server
        .export("/v1/logs", support::logs(1).encode_to_vec())
        .await;

    // The size loop measures the file within a second of the start.
    let deadline = Instant::now() + Duration::from_secs(30);
    let system = loop {
        let (status, system) = server.get_json("/api/v1/system").await;
        assert_eq!(status, 200, "{system}");
        if system["used_bytes"].as_u64().is_some() {
            break system;
        }
        assert!(Instant::now() < deadline, "never measured: {system}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(system["backend"], "sqlite");
    let used = system["used_bytes"].as_u64().unwrap_or(0);
    let file = system["database_bytes"].as_u64().unwrap_or(0);
    assert!(used > 0 && used <= file, "{system}");
    assert!(system["disk_available_bytes"].as_u64().is_some());
    assert_eq!(system["retention"]["max_size_bytes"], 1_000_000_000);
    assert_eq!(system["retention"]["max_age_secs"], serde_json::Value::Null);
    assert_eq!(system["retention"]["refusing"], serde_json::Value::Null);

    let kept = |signal: &str| {
        system["kept"]
            .as_array()
            .and_then(|k| k.iter().find(|k| k["signal"] == signal))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(kept("spans")["items"], 2);
    assert_eq!(kept("logs")["items"], 2);
    assert_eq!(kept("metric_points")["items"], 0);
    assert_eq!(kept("metric_points")["oldest_ns"], serde_json::Value::Null);
    // The fixture's logs: one stamped T0 + 5 ms, one unstamped, kept at
    // its observed time, T0 + 7 ms.
    assert_eq!(kept("logs")["oldest_ns"], support::T0 + 5_000_000);
    assert!(kept("spans")["oldest_age_secs"].as_f64().unwrap_or(0.0) > 86_400.0);

    let ingest = |signal: &str, transport: &str| {
        system["ingest"]
            .as_array()
            .and_then(|rows| {
                rows.iter()
                    .find(|r| r["signal"] == signal && r["transport"] == transport)
            })
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(ingest("traces", "http")["accepted"], 2);
    assert_eq!(ingest("logs", "http")["accepted"], 2);
    assert_eq!(ingest("traces", "grpc")["accepted"], 0);
    assert!(system["commits"].as_u64().unwrap_or(0) >= 1);
    assert!(system["queue_capacity"].as_u64().unwrap_or(0) > 0);
    // The minutes just written wait (10 s quiet) for their report rollups.
    assert!(system["report_minutes_pending"].is_u64(), "{system}");

    let (status, _, page) = server.page("/system", false).await;
    assert_eq!(status, 200);
    for text in [
        "<h1>System</h1>",
        "Kept",
        "Slowest reads",
        "minutes waiting for their report rollups",
        "1.0 GB",
        "sqlite",
    ] {
        assert!(page.contains(text), "{text} not in {page}");
    }

    let metrics = server
        .http
        .get(format!("{}/metrics", server.ui_url))
        .send()
        .await
        .expect("metrics answer")
        .text()
        .await
        .unwrap_or_default();
    for line in [
        "loupe_retention_removed_total{kind=\"spans\"} 0",
        "loupe_no_room 0",
        "loupe_oldest_item_age_seconds{signal=\"logs\"}",
        "loupe_database_used_bytes ",
        "loupe_report_minutes_pending ",
    ] {
        assert!(metrics.contains(line), "{line} not in {metrics}");
    }

    let (status, body) = server.get_json("/api/v1/system?x=1").await;
    assert_eq!(status, 400, "{body}");
}
