//! Retention through the real server: started with `--retention`, it
//! removes what is older at once (and every minute after), and a trace
//! keeps answering with what is left.

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

use loupe::cli::Retention;

use crate::support::{self, Server};

/// `request` with every time moved by `delta` nanoseconds.
fn shifted(mut request: ExportTraceServiceRequest, delta: u64) -> ExportTraceServiceRequest {
    for resource in &mut request.resource_spans {
        for scope in &mut resource.scope_spans {
            for span in &mut scope.spans {
                span.start_time_unix_nano += delta;
                span.end_time_unix_nano += delta;
                for event in &mut span.events {
                    event.time_unix_nano += delta;
                }
            }
        }
    }
    request
}

fn now_ns() -> u64 {
    web::reports::now_ns() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_removes_what_is_past_its_retention() {
    // A server keeping everything receives telemetry of 2023 and of now.
    let mut keeping = Server::start().await;
    keeping
        .export("/v1/traces", support::traces(1).encode_to_vec())
        .await;
    let recent = shifted(support::traces(2), now_ns() - support::T0);
    keeping.export("/v1/traces", recent.encode_to_vec()).await;
    keeping
        .export("/v1/logs", support::logs(1).encode_to_vec())
        .await;
    // A trace cut by the retention: its root (2023) came in one export,
    // a child stamped now in another.
    let mut root = support::traces(3);
    root.resource_spans[0].scope_spans[0]
        .spans
        .retain(|s| s.parent_span_id.is_empty());
    keeping.export("/v1/traces", root.encode_to_vec()).await;
    let mut child = shifted(support::traces(3), now_ns() - support::T0);
    child.resource_spans[0].scope_spans[0]
        .spans
        .retain(|s| !s.parent_span_id.is_empty());
    keeping.export("/v1/traces", child.encode_to_vec()).await;
    assert_eq!(keeping.stats().await["spans"], 6);
    let database_url = keeping.database_url();
    keeping.stop().await;

    // The same database served with a day's retention.
    let mut server = Server::start_with(|c| {
        c.database_url = database_url;
        c.retention = Retention(Some(Duration::from_secs(86_400)));
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = server.stats().await;
        if stats["spans"] == 3 && stats["logs"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "still stored: {stats}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let old = hex::encode(support::trace_id(1));
    let (status, _) = server.get_json(&format!("/api/v1/traces/{old}")).await;
    assert_eq!(status, 404);
    let new = hex::encode(support::trace_id(2));
    let (status, trace) = server.get_json(&format!("/api/v1/traces/{new}")).await;
    assert_eq!(status, 200);
    assert_eq!(trace["spans"].as_array().map(Vec::len), Some(2));
    assert_eq!(trace["expired_spans"], 0);
    assert_eq!(server.stats().await["traces"], 2);

    // The cut trace answers with what is left, and says what went.
    let cut = hex::encode(support::trace_id(3));
    let (status, trace) = server.get_json(&format!("/api/v1/traces/{cut}")).await;
    assert_eq!(status, 200);
    assert_eq!(trace["spans"].as_array().map(Vec::len), Some(1));
    assert_eq!(trace["expired_spans"], 1);
    let (status, _, page) = server.page(&format!("/traces/{cut}"), false).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Older spans expired: 1 span of this trace"),
        "{page}"
    );
    server.stop().await;
}
