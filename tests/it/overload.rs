//! A slow writer fills the bounded queue: exports are refused with a retry
//! hint, clients retry, and everything acknowledged is stored. Stopping the
//! server commits what it accepted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;

use crate::support::{self, Server};

/// A request of `n` distinct spans of one new trace.
fn spans(trace: u16, n: u8) -> ExportTraceServiceRequest {
    let mut request = support::traces(1);
    let template = request.resource_spans[0].scope_spans[0].spans[0].clone();
    let mut trace_id = support::trace_id(0);
    trace_id[1..3].copy_from_slice(&trace.to_be_bytes());
    request.resource_spans[0].scope_spans[0].spans = (0..n)
        .map(|i| Span {
            trace_id: trace_id.clone(),
            span_id: vec![1, i, 3, 4, 5, 6, 7, 8],
            ..template.clone()
        })
        .collect();
    request
}

#[derive(Default)]
struct Tally {
    acknowledged: AtomicU64,
    refused: AtomicU64,
}

/// How an OTLP client waits before retrying; the server's hint is one second,
/// a test client may be quicker.
const BACKOFF: Duration = Duration::from_millis(20);

#[tokio::test]
async fn overload_is_refused_with_a_retry_hint_and_nothing_acknowledged_is_lost() {
    let mut server = Server::start_with(|config| {
        config.queue_items = 100;
        config.max_batch_items = 100;
        config.test_write_delay_ms = 50;
    })
    .await;
    let tally = Arc::new(Tally::default());
    let mut clients = Vec::new();
    for client_idx in 0..8u16 {
        let http = server.http.clone();
        let url = format!("{}/v1/traces", server.otlp_url);
        let tally = tally.clone();
        clients.push(tokio::spawn(async move {
            for request_idx in 0..5u16 {
                let body = spans(client_idx * 100 + request_idx, 40).encode_to_vec();
                for _attempt in 0..2000 {
                    let response = http
                        .post(&url)
                        .header("content-type", "application/x-protobuf")
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap();
                    match response.status().as_u16() {
                        200 => {
                            tally.acknowledged.fetch_add(40, Ordering::Relaxed);
                            break;
                        }
                        429 | 503 => {
                            assert_eq!(response.headers()["retry-after"], "1");
                            tally.refused.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(BACKOFF).await;
                        }
                        other => panic!("unexpected status {other}"),
                    }
                }
            }
        }));
    }
    // gRPC clients see RESOURCE_EXHAUSTED with RetryInfo.
    let mut grpc_refusals = 0;
    let mut client = TraceServiceClient::connect(server.grpc_url.clone())
        .await
        .unwrap();
    for request_idx in 0..5u16 {
        loop {
            match client.export(spans(9000 + request_idx, 40)).await {
                Ok(_) => {
                    tally.acknowledged.fetch_add(40, Ordering::Relaxed);
                    break;
                }
                Err(status) => {
                    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
                    let details = tonic_types::StatusExt::get_error_details(&status);
                    assert_eq!(
                        details.retry_info().and_then(|r| r.retry_delay),
                        Some(Duration::from_secs(1))
                    );
                    grpc_refusals += 1;
                    tokio::time::sleep(BACKOFF).await;
                }
            }
        }
    }
    for client in clients {
        client.await.unwrap();
    }
    let acknowledged = tally.acknowledged.load(Ordering::Relaxed);
    assert_eq!(
        acknowledged,
        45 * 40,
        "every export was eventually acknowledged"
    );
    assert!(
        tally.refused.load(Ordering::Relaxed) + grpc_refusals > 0,
        "the queue filled up at least once"
    );
    assert_eq!(server.stats().await["spans"], acknowledged);
    let (_, metrics) = server.text("/metrics").await;
    assert!(
        metrics.contains("loupe_items_refused_total{signal=\"traces\",transport=\"http\"}"),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test]
async fn stopping_commits_every_accepted_export() {
    let mut server = Server::start_with(|config| config.test_write_delay_ms = 200).await;
    let http = server.http.clone();
    let url = format!("{}/v1/traces", server.otlp_url);
    let exports: Vec<_> = (0..10u16)
        .map(|i| {
            let http = http.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let response = http
                    .post(&url)
                    .header("content-type", "application/x-protobuf")
                    .body(spans(i, 10).encode_to_vec())
                    .send()
                    .await;
                matches!(response, Ok(r) if r.status() == 200)
            })
        })
        .collect();
    // Stop while exports wait for the slow writer.
    let metrics_url = format!("{}/metrics", server.ui_url);
    loop {
        let text = http
            .get(&metrics_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if !text.contains("\nloupe_queue_items 0\n") {
            break;
        }
        tokio::task::yield_now().await;
    }
    let database_url = server.database_url();
    server.stop().await;
    let mut acknowledged = 0;
    for export in exports {
        if export.await.unwrap() {
            acknowledged += 10;
        }
    }
    assert!(acknowledged > 0);
    let store = store::Store::open(&database_url).await.unwrap();
    let stats = store.reader().stats().await.unwrap();
    // Graceful shutdown answers every export it took in, so what is stored is
    // exactly what was acknowledged.
    assert_eq!(stats.spans, acknowledged);
    store.close().await;
}
