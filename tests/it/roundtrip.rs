//! What is sent over each transport comes back through the API unchanged.

use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message as _;
use serde_json::json;
use std::io::Write as _;
use tonic::codec::CompressionEncoding;

use crate::support::{self, Server};

#[derive(Clone, Copy, Debug)]
enum Transport {
    GrpcGzip,
    HttpProtobuf,
    HttpProtobufGzip,
    HttpJson,
    HttpJsonGzip,
}

async fn send_all(server: &Server, transport: Transport, seed: u8) {
    let (traces, logs, metrics) = (
        support::traces(seed),
        support::logs(seed),
        support::metrics(seed),
    );
    match transport {
        Transport::GrpcGzip => {
            let mut client = TraceServiceClient::connect(server.grpc_url.clone())
                .await
                .unwrap()
                .send_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Gzip);
            let response = client
                .export(traces)
                .await
                .expect("traces accepted")
                .into_inner();
            assert_eq!(response.partial_success, None);
            let mut client = LogsServiceClient::connect(server.grpc_url.clone())
                .await
                .unwrap()
                .send_compressed(CompressionEncoding::Gzip);
            client.export(logs).await.expect("logs accepted");
            let mut client = MetricsServiceClient::connect(server.grpc_url.clone())
                .await
                .unwrap()
                .send_compressed(CompressionEncoding::Gzip);
            client.export(metrics).await.expect("metrics accepted");
        }
        _ => {
            let (json, gzip) = match transport {
                Transport::HttpProtobuf => (false, false),
                Transport::HttpProtobufGzip => (false, true),
                Transport::HttpJson => (true, false),
                _ => (true, true),
            };
            let bodies = if json {
                [
                    serde_json::to_vec(&traces).unwrap(),
                    serde_json::to_vec(&logs).unwrap(),
                    serde_json::to_vec(&metrics).unwrap(),
                ]
            } else {
                [
                    traces.encode_to_vec(),
                    logs.encode_to_vec(),
                    metrics.encode_to_vec(),
                ]
            };
            for (path, body) in ["/v1/traces", "/v1/logs", "/v1/metrics"]
                .into_iter()
                .zip(bodies)
            {
                let mut request = server
                    .http
                    .post(format!("{}{path}", server.otlp_url))
                    .header(
                        "content-type",
                        if json {
                            "application/json"
                        } else {
                            "application/x-protobuf"
                        },
                    );
                let body = if gzip {
                    request = request.header("content-encoding", "gzip");
                    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
                    encoder.write_all(&body).unwrap();
                    encoder.finish().unwrap()
                } else {
                    body
                };
                let response = request.body(body).send().await.unwrap();
                let status = response.status();
                let content_type = response.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let text = response.bytes().await.unwrap();
                assert_eq!(
                    status,
                    200,
                    "{transport:?} {path}: {}",
                    String::from_utf8_lossy(&text)
                );
                assert_eq!(
                    content_type,
                    if json {
                        "application/json"
                    } else {
                        "application/x-protobuf"
                    }
                );
                if json {
                    assert_eq!(&text[..], b"{}", "no partial success");
                }
            }
        }
    }
}

async fn check_trace(server: &Server, seed: u8) {
    let trace_id = hex::encode(support::trace_id(seed));
    let (status, trace) = server.get_json(&format!("/api/v1/traces/{trace_id}")).await;
    assert_eq!(status, 200, "{trace}");
    let spans = trace["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    let root = &spans[0];
    let expected_root = json!({
        "trace_id": trace_id,
        "span_id": hex::encode(support::span_id(seed, 1)),
        "parent_span_id": null,
        "service": "checkout",
        "name": "POST /checkout",
        "kind": "server",
        "start_time_unix_nano": support::T0,
        "end_time_unix_nano": support::T0 + 250_000_000,
        "duration_ns": 250_000_000,
        "status": {"code": "error", "message": "bad gateway"},
        "is_error": true,
        "attributes": support::rich_attributes_json(seed),
        "resource": {"service.name": "checkout", "deployment.environment.name": "test"},
        "resource_schema_url": "https://opentelemetry.io/schemas/1.26.0",
        "scope": {"name": "loupe.tests", "version": "1.2.3", "attributes": {"scope.attr": true}},
        "events": [],
        "links": [{
            "trace_id": hex::encode(support::trace_id(seed.wrapping_add(100))),
            "span_id": hex::encode(support::span_id(seed, 9)),
            "trace_state": "linked=yes",
            "attributes": {"link.kind": "retry"},
            "dropped_attributes_count": 0,
            "flags": 1,
        }],
        "trace_state": "vendor=1",
        "flags": 0x101,
        "dropped_attributes_count": 3,
        "dropped_events_count": 1,
        "dropped_links_count": 2,
        "request_id": format!("req-{seed}"),
    });
    assert_eq!(root, &expected_root);
    // Ints stay ints and doubles stay doubles through every transport.
    assert!(root["attributes"]["ratio"].is_f64());
    assert!(root["attributes"]["big"].is_i64());

    let child = &spans[1];
    assert_eq!(
        child["parent_span_id"],
        json!(hex::encode(support::span_id(seed, 1)))
    );
    assert_eq!(child["kind"], "client");
    assert_eq!(child["status"], json!({"code": "unset", "message": ""}));
    assert_eq!(
        child["is_error"], true,
        "an exception event makes a span an error"
    );
    assert_eq!(
        child["events"],
        json!([{
            "time_unix_nano": support::T0 + 150_000_000,
            "name": "exception",
            "attributes": {"exception.type": "CardDeclined", "exception.message": "insufficient funds"},
            "dropped_attributes_count": 0,
        }])
    );
    let origin = &trace["error_origin"];
    assert_eq!(
        origin["span_id"],
        json!(hex::encode(support::span_id(seed, 2)))
    );
    assert_eq!(origin["exception_type"], "CardDeclined");
    assert_eq!(origin["exception_message"], "insufficient funds");
    assert_eq!(
        origin["propagated_through"][0]["operation"],
        "POST /checkout"
    );

    assert_eq!(
        trace["critical_path"],
        json!([
            hex::encode(support::span_id(seed, 1)),
            hex::encode(support::span_id(seed, 2))
        ])
    );
    let logs = trace["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1, "the log record with this trace id: {logs:?}");
    assert_eq!(
        logs[0]["body"],
        json!({"msg": "charge failed", "amount": 42})
    );
}

async fn check_logs(server: &Server, seed: u8) {
    let (status, logs) = server
        .get_json(&format!("/api/v1/logs?request_id=req-{seed}"))
        .await;
    assert_eq!(status, 200);
    let expected = json!([
        {
            "time_unix_nano": 0,
            "observed_time_unix_nano": support::T0 + 7_000_000,
            "service": "refunds",
            "severity_number": 9,
            "severity_text": "INFO",
            "body": format!("queued refund seed{seed}"),
            "event_name": "",
            "attributes": {"http.request.header.x-request-id": [format!("req-{seed}")]},
            "dropped_attributes_count": 0,
            "flags": 0,
            "trace_id": null,
            "span_id": null,
            "request_id": format!("req-{seed}"),
            "resource": {"service.name": "refunds", "deployment.environment.name": "test"},
            "scope": {"name": "loupe.tests", "version": "1.2.3", "attributes": {"scope.attr": true}},
        },
        {
            "time_unix_nano": support::T0 + 5_000_000,
            "observed_time_unix_nano": support::T0 + 6_000_000,
            "service": "refunds",
            "severity_number": 17,
            "severity_text": "ERROR",
            "body": {"msg": "charge failed", "amount": 42},
            "event_name": "payment.failed",
            "attributes": {"request_id": format!("req-{seed}")},
            "dropped_attributes_count": 1,
            "flags": 1,
            "trace_id": hex::encode(support::trace_id(seed)),
            "span_id": hex::encode(support::span_id(seed, 2)),
            "request_id": format!("req-{seed}"),
            "resource": {"service.name": "refunds", "deployment.environment.name": "test"},
            "scope": {"name": "loupe.tests", "version": "1.2.3", "attributes": {"scope.attr": true}},
        },
    ]);
    assert_eq!(logs, expected, "newest first, every field as sent");

    let (_, found) = server
        .get_json(&format!(
            "/api/v1/logs?q=refund%20seed{seed}&service=refunds"
        ))
        .await;
    assert_eq!(
        found.as_array().unwrap().len(),
        1,
        "full text finds the string body: {found}"
    );
    let (_, found) = server
        .get_json(&format!(
            "/api/v1/logs?q=charge&trace_id={}",
            hex::encode(support::trace_id(seed))
        ))
        .await;
    assert_eq!(
        found.as_array().unwrap().len(),
        1,
        "full text finds words of a map body: {found}"
    );
    let (_, found) = server
        .get_json(&format!(
            "/api/v1/logs?request_id=req-{seed}&severity_min=17"
        ))
        .await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    // Only the error record carries `request_id` as a plain attribute.
    let (_, found) = server
        .get_json(&format!(
            "/api/v1/logs?request_id=req-{seed}&attr=request_id=req-{seed}&attr=request_id!%3Dother"
        ))
        .await;
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found[0]["severity_text"], "ERROR");
    let (status, _) = server.get_json("/api/v1/logs?attr=%3Cx").await;
    assert_eq!(status, 400);
}

async fn check_metrics(server: &Server, seed: u8) {
    let points = |name: String| async move {
        server
            .get_json(&format!("/api/v1/metrics/{name}.s{seed}/points"))
            .await
            .1
    };
    let gauge = points("queue.depth".into()).await;
    assert_eq!(gauge[0]["kind"], "gauge");
    assert_eq!(gauge[0]["value"], json!(7.5));
    assert_eq!(gauge[0]["attributes"], json!({"route": "/checkout"}));
    assert_eq!(gauge[0]["service"], "checkout");

    let sums = points("requests".into()).await;
    assert_eq!(sums.as_array().unwrap().len(), 2);
    let mut values: Vec<i64> = sums
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_i64().unwrap())
        .collect();
    values.sort();
    assert_eq!(values, vec![3, 5]);
    assert_eq!(sums[0]["temporality"], 2);
    assert_eq!(sums[0]["monotonic"], true);
    assert_eq!(sums[0]["start_time_unix_nano"], support::T0 - 1_000);

    let histogram = points("duration".into()).await;
    assert_eq!(
        histogram[0]["histogram"],
        json!({"count": 6, "sum": 3.5, "min": 0.05, "max": 0.9, "bucket_counts": [1, 2, 3, 0], "explicit_bounds": [0.1, 0.5, 1.0]})
    );
    assert_eq!(histogram[0]["temporality"], 1);
    assert_eq!(
        histogram[0]["exemplars"],
        json!([{
            "filtered_attributes": {"user": "u1"},
            "time_unix_nano": support::T0 + 1,
            "value": 0.25,
            "trace_id": hex::encode(support::trace_id(seed)),
            "span_id": hex::encode(support::span_id(seed, 1)),
        }])
    );

    let exponential = points("latency".into()).await;
    assert_eq!(
        exponential[0]["exponential_histogram"],
        json!({
            "count": 5, "sum": 12.0, "min": -1.0, "max": 6.0, "scale": 3, "zero_count": 1, "zero_threshold": 0.001,
            "positive": {"offset": -2, "bucket_counts": [1, 2]},
            "negative": {"offset": 1, "bucket_counts": [1]},
        })
    );
    let summary = points("gc".into()).await;
    assert_eq!(
        summary[0]["summary"],
        json!({"count": 4, "sum": 10.0, "quantile_values": [{"quantile": 0.5, "value": 2.0}, {"quantile": 0.99, "value": 4.5}]})
    );

    let (_, catalog) = server.get_json("/api/v1/metrics").await;
    let requests = catalog
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == format!("requests.s{seed}"))
        .expect("listed");
    assert_eq!(
        requests,
        &json!({"name": format!("requests.s{seed}"), "kind": "sum", "unit": "{request}", "description": "requests served", "series_count": 2})
    );
}

#[tokio::test]
async fn every_transport_gives_back_what_was_sent() {
    every_transport_round_trips(Server::start().await).await;
}

#[tokio::test]
async fn every_transport_gives_back_what_was_sent_postgres() {
    let Some((url, admin_url)) = support::fresh_postgres("roundtrip").await else {
        return;
    };
    every_transport_round_trips(Server::start_with(|c| c.database_url = url.clone()).await).await;
    support::drop_postgres(&admin_url, &url).await;
}

async fn every_transport_round_trips(mut server: Server) {
    let transports = [
        Transport::GrpcGzip,
        Transport::HttpProtobuf,
        Transport::HttpProtobufGzip,
        Transport::HttpJson,
        Transport::HttpJsonGzip,
    ];
    for (seed, transport) in (1u8..).zip(transports) {
        send_all(&server, transport, seed).await;
        check_trace(&server, seed).await;
        check_logs(&server, seed).await;
        check_metrics(&server, seed).await;
        check_request_and_search(&server, seed).await;
    }
    let stats = server.stats().await;
    let n = transports.len() as i64;
    assert_eq!(stats["spans"], 2 * n);
    assert_eq!(stats["logs"], 2 * n);
    assert_eq!(stats["metric_points"], 6 * n);
    assert_eq!(stats["traces"], n);
    server.stop().await;
}

#[tokio::test]
async fn trace_summary_is_right_when_the_root_arrives_last() {
    let mut server = Server::start().await;
    let mut request = support::traces(42);
    let spans = std::mem::take(&mut request.resource_spans[0].scope_spans[0].spans);
    // spans[1] is the root: send the child first, in its own request.
    for span in spans {
        let mut one = request.clone();
        one.resource_spans[0].scope_spans[0].spans = vec![span];
        let response = server
            .http
            .post(format!("{}/v1/traces", server.otlp_url))
            .header("content-type", "application/x-protobuf")
            .body(one.encode_to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let reader = server.running.as_ref().unwrap().store.reader();
    let trace = reader
        .trace(&support::trace_id(42).try_into().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(trace.spans.len(), 2);
    let url = server.database_url();
    server.stop().await;
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let row: (i64, i64, i64, i64, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT start_ns, end_ns, span_count, error_count, root_service, root_name FROM traces",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        row,
        (
            support::T0 as i64,
            support::T0 as i64 + 250_000_000,
            2,
            2,
            Some("checkout".into()),
            Some("POST /checkout".into())
        )
    );
}

async fn check_request_and_search(server: &Server, seed: u8) {
    let trace_id = hex::encode(support::trace_id(seed));
    let (status, view) = server
        .get_json(&format!("/api/v1/requests/req-{seed}"))
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["matched_as"], json!(["request_id"]));
    assert_eq!(view["trace_ids"], json!([trace_id]));
    assert_eq!(view["spans"].as_array().unwrap().len(), 2);
    let logs = view["logs"].as_array().unwrap();
    let matched: Vec<(&str, &str)> = logs
        .iter()
        .map(|l| {
            (
                l["severity_text"].as_str().unwrap(),
                l["matched_by"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        matched,
        vec![("ERROR", "trace_id"), ("INFO", "request_id")],
        "the log with only a request id joins, labelled"
    );
    assert_eq!(view["error_origin"]["exception_type"], "CardDeclined");

    let span_id = hex::encode(support::span_id(seed, 2));
    let (status, view) = server
        .get_json(&format!("/api/v1/requests/{span_id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(view["matched_as"], json!(["span_id"]));
    assert_eq!(view["trace_ids"], json!([trace_id]));

    let (status, found) = server.get_json("/api/v1/traces?service=checkout&status=error&attr=http.route=/checkout&attr=request_id=req-1&limit=50").await;
    assert_eq!(status, 200, "{found}");
    let ids: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![hex::encode(support::trace_id(1))],
        "only the first trace has request_id req-1"
    );
    let (_, found) = server.get_json(&format!("/api/v1/traces?operation=POST%20/charge&min_duration_ms=250&max_duration_ms=250&attr=request_id=req-{seed}")).await;
    assert_eq!(
        found,
        json!([{
            "trace_id": trace_id,
            "root_service": "checkout",
            "root_name": "POST /checkout",
            "start_time_unix_nano": support::T0,
            "duration_ns": 250_000_000,
            "trace_duration_ns": 250_000_000,
            "span_count": 2,
            "error_count": 2,
            "services": ["checkout"],
            // What the entry answered, the request, and what the failure
            // said where it began (the charge's exception).
            "http_status_code": 502,
            "request_id": format!("req-{seed}"),
            "error_message": "insufficient funds",
        }])
    );
    let (_, found) = server
        .get_json(&format!(
            "/api/v1/traces?min_duration_ms=250.001&attr=request_id=req-{seed}"
        ))
        .await;
    assert_eq!(found, json!([]));
}

#[tokio::test]
async fn api_errors_and_health() {
    let mut server = Server::start().await;
    for (path, status, message) in [
        (
            "/api/v1/traces/xyz",
            400,
            "trace id must be 32 hex characters",
        ),
        (
            "/api/v1/traces/0123456789abcdef0123456789abcdef",
            404,
            "no trace 0123456789abcdef0123456789abcdef",
        ),
        ("/api/v1/logs?limit=many", 400, "limit must be a number"),
        (
            "/api/v1/logs?trace_id=12",
            400,
            "trace_id must be 32 hex characters",
        ),
        (
            "/api/v1/logs?severity_min=high",
            400,
            "severity_min must be a number",
        ),
    ] {
        let (got, body) = server.get_json(path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(message),
            "{path}: {body}"
        );
    }
    let (status, logs) = server.get_json("/api/v1/logs?q=%22%20OR%20*%20-x:(").await;
    assert_eq!(status, 200, "search syntax is never an error: {logs}");
    for (path, body) in [("/healthz", "ok\n"), ("/readyz", "ready\n")] {
        let response = server
            .http
            .get(format!("{}{path}", server.ui_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), body);
    }
    let (_, metrics) = server.text("/metrics").await;
    for name in [
        "loupe_items_received_total",
        "loupe_items_accepted_total",
        "loupe_items_rejected_total",
        "loupe_queue_items",
        "loupe_commit_seconds_bucket",
        "loupe_batch_items_total",
        "loupe_database_bytes",
    ] {
        assert!(metrics.contains(name), "/metrics lacks {name}");
    }
    server.stop().await;
}

#[tokio::test]
async fn services_report_red_figures() {
    services_report(Server::start().await).await;
}

#[tokio::test]
async fn services_report_red_figures_postgres() {
    let Some((url, admin_url)) = support::fresh_postgres("services").await else {
        return;
    };
    services_report(Server::start_with(|c| c.database_url = url.clone()).await).await;
    support::drop_postgres(&admin_url, &url).await;
}

async fn services_report(mut server: Server) {
    send_all(&server, Transport::HttpProtobuf, 1).await;
    let window = format!("start={}&end={}", support::T0, support::T0 + 2_000_000_000);
    let (status, body) = server.get_json(&format!("/api/v1/services?{window}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["start_time_unix_nano"], support::T0);
    // The root server span is checkout's one request; it failed. The client
    // span below it is not a request. refunds only logged.
    assert_eq!(
        body["services"],
        json!([
            {"service": "checkout", "requests": 1, "errors": 1, "rate_per_second": 0.5, "error_rate": 1.0, "p50_ns": 250_000_000, "p95_ns": 250_000_000, "p99_ns": 250_000_000, "trend": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "error_trend": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "p95_trend": [250_000_000, null, null, null, null, null, null, null, null, null, null, null]},
            {"service": "refunds", "requests": 0, "errors": 0, "rate_per_second": 0.0, "error_rate": 0.0, "p50_ns": null, "p95_ns": null, "p99_ns": null, "trend": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "error_trend": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "p95_trend": [null, null, null, null, null, null, null, null, null, null, null, null]},
        ])
    );
    let (status, body) = server.get_json("/api/v1/services?window=15m").await;
    assert_eq!(status, 200);
    assert_eq!(
        body["services"][0]["requests"], 0,
        "the fixture is from 2023, outside the last 15 minutes"
    );
    let (status, _) = server.get_json("/api/v1/services?window=forever").await;
    assert_eq!(status, 400);
    server.stop().await;
}

#[tokio::test]
async fn failures_are_grouped_at_their_origin() {
    failures_grouped(Server::start().await).await;
}

#[tokio::test]
async fn failures_are_grouped_at_their_origin_postgres() {
    let Some((url, admin_url)) = support::fresh_postgres("failures").await else {
        return;
    };
    failures_grouped(Server::start_with(|c| c.database_url = url.clone()).await).await;
    support::drop_postgres(&admin_url, &url).await;
}

async fn failures_grouped(mut server: Server) {
    for seed in 1..=3 {
        send_all(&server, Transport::HttpProtobuf, seed).await;
    }
    let window = format!("start={}&end={}", support::T0, support::T0 + 1_000_000_000);
    let (status, body) = server.get_json(&format!("/api/v1/failures?{window}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["traces_examined"], 3);
    assert_eq!(body["sampled"], false);
    let groups = body["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "three failed requests, one origin: {body}");
    let group = &groups[0];
    assert_eq!(group["service"], "checkout");
    assert_eq!(group["operation"], "POST /charge");
    assert_eq!(group["error"], "CardDeclined");
    assert_eq!(group["count"], 3);
    assert_eq!(
        group["entry_endpoints"],
        json!([{"endpoint": "checkout › POST /checkout", "count": 3}])
    );
    assert_eq!(group["example_trace_ids"].as_array().unwrap().len(), 3);
    assert_eq!(
        group["trend"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .sum::<u64>(),
        3
    );
    let (status, body) = server.get_json("/api/v1/failures?window=1h").await;
    assert_eq!(status, 200);
    assert_eq!(body["groups"], json!([]), "nothing failed in the last hour");
    server.stop().await;
}

/// One window, `[T0, T0 + 10 s)`, in every spelling the pages and
/// endpoints read: new names and old, nanoseconds and RFC 3339.
pub(crate) fn window_spellings() -> Vec<String> {
    let (from, to) = (support::T0, support::T0 + 10_000_000_000);
    vec![
        format!("from={from}&to={to}"),
        "from=2023-11-14T22:13:20Z&to=2023-11-14T22:13:30Z".to_owned(),
        "from=2023-11-14T23:13:20%2B01:00&to=2023-11-14T22:13:30.000000000Z".to_owned(),
        format!("window=10s&to={to}"),
        "window=10s&to=2023-11-14T22:13:30Z".to_owned(),
        format!("from={from}&end={to}"),
        format!("since=10s&until={to}"),
        format!("since={from}&until={to}"),
        "since=2023-11-14T22:13:20Z&until=2023-11-14T22:13:30Z".to_owned(),
        format!("start={from}&end={to}"),
        format!("window=10s&end={to}"),
    ]
}

/// A bound given under two names, and a start not before its end: each a
/// 400 whose message names both parameters.
pub(crate) const WINDOW_CONFLICTS: [(&str, &str); 7] = [
    (
        "window=1h&since=2h",
        "window and since cannot both be given",
    ),
    (
        "from=1700000000000000000&start=1700000000000000000",
        "from and start cannot both be given",
    ),
    (
        "from=1700000000000000000&since=2023-11-14T22:13:20Z",
        "from and since cannot both be given",
    ),
    (
        "to=1700000010000000000&until=1700000010000000000",
        "to and until cannot both be given",
    ),
    (
        "to=1700000010000000000&end=1700000010000000000",
        "to and end cannot both be given",
    ),
    (
        "from=1700000010000000000&to=1700000000000000000",
        "from must be before to",
    ),
    (
        "start=2023-11-14T22:13:30Z&end=2023-11-14T22:13:20Z",
        "start must be before end",
    ),
];

#[tokio::test]
async fn every_api_endpoint_names_an_unknown_parameter() {
    let mut server = Server::start().await;
    let trace_path = "/api/v1/traces/0123456789abcdef0123456789abcdef?foo=1";
    for (path, unknown) in [
        ("/api/v1/stats?foo=1", "foo"),
        ("/api/v1/services?window=1h&limit=5", "limit"),
        ("/api/v1/failures?foo=", "foo"),
        ("/api/v1/traces?service=a&servce=b", "servce"),
        (trace_path, "foo"),
        ("/api/v1/requests/req-1?window=1h", "window"),
        // The logs page's name for it, not the API's.
        ("/api/v1/logs?severity=17", "severity"),
        ("/api/v1/metrics?foo=1", "foo"),
        ("/api/v1/metrics/m/points?window=1h", "window"),
        ("/api/v1/metrics/m/chart?metric=m", "metric"),
        ("/api/v1/reports/load?since=1h&foo=1", "foo"),
        ("/api/v1/reports/cost?service=a", "service"),
    ] {
        let (status, body) = server.get_json(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(
            body["error"],
            format!("unknown parameter \"{unknown}\""),
            "{path}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn every_spelling_of_a_window_is_the_same_window() {
    let mut server = Server::start().await;
    send_all(&server, Transport::HttpProtobuf, 1).await;
    let trace_id = hex::encode(support::trace_id(1));
    let (from, to) = (support::T0, support::T0 + 10_000_000_000);
    for window in window_spellings() {
        let (status, body) = server.get_json(&format!("/api/v1/services?{window}")).await;
        assert_eq!(status, 200, "{window}: {body}");
        assert_eq!(
            (&body["start_time_unix_nano"], &body["end_time_unix_nano"]),
            (&json!(from), &json!(to)),
            "{window}"
        );
        assert_eq!(body["services"][0]["requests"], 1, "{window}: {body}");
        let (status, body) = server
            .get_json(&format!("/api/v1/reports/load?{window}"))
            .await;
        assert_eq!(status, 200, "{window}: {body}");
        assert_eq!(
            (&body["since_ns"], &body["until_ns"]),
            (&json!(from), &json!(to))
        );
        // The searches read the same window.
        let (status, body) = server
            .get_json(&format!("/api/v1/traces?{window}&service=checkout"))
            .await;
        assert_eq!(status, 200, "{window}: {body}");
        assert_eq!(body[0]["trace_id"], trace_id.as_str(), "{window}");
        let (status, body) = server
            .get_json(&format!("/api/v1/logs?{window}&request_id=req-1"))
            .await;
        assert_eq!(status, 200, "{window}: {body}");
        assert_eq!(body.as_array().unwrap().len(), 2, "{window}: {body}");
    }
    // A window that ends before the trace starts has none of it.
    let (_, body) = server
        .get_json(&format!("/api/v1/traces?window=1h&to={from}"))
        .await;
    assert_eq!(body, json!([]));
    for (window, message) in WINDOW_CONFLICTS {
        for path in [
            "/api/v1/services",
            "/api/v1/traces",
            "/api/v1/logs",
            "/api/v1/reports/cost",
        ] {
            let (status, body) = server.get_json(&format!("{path}?{window}")).await;
            assert_eq!(status, 400, "{path}?{window}: {body}");
            let error = body["error"].as_str().unwrap();
            assert!(error.contains(message), "{path}?{window}: {error}");
        }
    }
    server.stop().await;
}
