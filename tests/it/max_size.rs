//! Retention by size through the real server: ingest well past
//! `--max-size` leaves the file within 10 % of it, the oldest data gone
//! and the newest whole; and with no room left at all, exports are
//! refused as retryable rather than written.

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::AnyValue;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message as _;

use loupe::cli::Size;

use crate::support::{self, Server, s};

const MAX_SIZE: u64 = 2_500_000;
const EXPORTS: u64 = 80;
const RECORDS: u64 = 1000;

/// Export `n`'s log records, a second after export `n - 1`'s, their
/// bodies words no other record has (little for compression to take, as
/// with real bodies of ids and numbers).
fn export(n: u64, start_ns: u64) -> ExportLogsServiceRequest {
    let mut seed = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut word = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        format!("{seed:x}")
    };
    let log_records = (0..RECORDS)
        .map(|i| LogRecord {
            time_unix_nano: start_ns + n * 1_000_000_000 + i * 1_000_000,
            severity_number: 9,
            body: Some(AnyValue {
                value: Some(s(&format!(
                    "export{n} order {} {} paid {} {} by {} {} at {} {}",
                    word(),
                    word(),
                    word(),
                    word(),
                    word(),
                    word(),
                    word(),
                    word()
                ))),
            }),
            ..LogRecord::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: support::resource("orders"),
            scope_logs: vec![ScopeLogs {
                scope: support::scope(),
                log_records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn file_len(server: &Server) -> u64 {
    std::fs::metadata(server.dir.path().join("loupe.db")).map_or(0, |m| m.len())
}

async fn logs_of_export(server: &Server, n: u64) -> usize {
    let path = format!("/api/v1/logs?q=export{n}&window=1d&limit=1000");
    let (status, logs) = server.get_json(&path).await;
    assert_eq!(status, 200, "{logs}");
    logs.as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_past_max_size_keeps_the_file_near_it_and_the_newest_whole() {
    let server = Server::start_with(|c| c.max_size = Size(Some(MAX_SIZE))).await;
    let start_ns = web::reports::now_ns() as u64 - 3_600_000_000_000;
    for n in 0..EXPORTS {
        server
            .export("/v1/logs", export(n, start_ns).encode_to_vec())
            .await;
    }
    let written = server.stats().await["logs"].as_u64().unwrap_or(0);
    assert!(written > 0);

    // What the exports made is several times the limit: the oldest goes
    // and free pages are handed back, within a few measures.
    let deadline = Instant::now() + Duration::from_secs(60);
    while file_len(&server) > MAX_SIZE + MAX_SIZE / 10 {
        assert!(
            Instant::now() < deadline,
            "the file is still {} bytes for a limit of {MAX_SIZE}",
            file_len(&server)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let kept = server.stats().await["logs"].as_u64().unwrap_or(0);
    assert!(
        kept < EXPORTS * RECORDS / 2 && kept > 0,
        "{kept} of {} log records kept",
        EXPORTS * RECORDS
    );
    assert_eq!(logs_of_export(&server, 0).await, 0, "the oldest went");
    assert_eq!(
        logs_of_export(&server, EXPORTS - 1).await,
        RECORDS as usize,
        "the newest are whole"
    );

    // Later exports still fit: the limit holds as data keeps coming.
    for n in EXPORTS..EXPORTS + 8 {
        server
            .export("/v1/logs", export(n, start_ns).encode_to_vec())
            .await;
    }
    assert_eq!(logs_of_export(&server, EXPORTS + 7).await, RECORDS as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_room_at_all_exports_are_refused_as_retryable() {
    // Smaller than an empty database: nothing that can go makes room.
    let server = Server::start_with(|c| c.max_size = Size(Some(4096))).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let response = loop {
        let response = server
            .http
            .post(format!("{}/v1/logs", server.otlp_url))
            .header("content-type", "application/x-protobuf")
            .body(export(0, web::reports::now_ns() as u64).encode_to_vec())
            .send()
            .await
            .expect("OTLP answers");
        if response.status() != 200 {
            break response;
        }
        assert!(Instant::now() < deadline, "exports still accepted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let (status, readyz) = server.text("/readyz").await;
    assert_eq!(status, 503);
    assert!(readyz.contains("no room"), "{readyz}");
    let (status, metrics) = server.text("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("loupe_items_refused_total")
                && l.contains("signal=\"logs\"")
                && !l.ends_with(" 0")),
        "{metrics}"
    );

    // gRPC says UNAVAILABLE, which OTLP clients retry.
    let mut client =
        opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient::connect(
            server.grpc_url.clone(),
        )
        .await
        .expect("gRPC connects");
    let status = client
        .export(export(1, web::reports::now_ns() as u64))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
}
