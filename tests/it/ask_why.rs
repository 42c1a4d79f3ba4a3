//! Asking why, through the real server: an endpoint's figures against an
//! earlier window, and a service's releases against each other.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message as _;

use crate::reports::MS;
use crate::support::{self, Server, T0};

const HOUR: u64 = 3_600_000 * MS;

/// One request to `endpoint` of `api` at `version`, `n` its number: a
/// server span of `ms` that, when `error` names an exception type, failed
/// because its client child to the database threw it.
struct Request {
    n: u32,
    version: &'static str,
    endpoint: &'static str,
    start: u64,
    ms: u64,
    error: Option<&'static str>,
}

fn export(requests: &[Request]) -> Vec<u8> {
    let resource_spans = requests
        .iter()
        .map(|r| {
            let trace_id = [&r.n.to_be_bytes()[..], &[0x77; 12]].concat();
            let span_id = |k: u8| [&r.n.to_be_bytes()[..], &[k, 0, 0, 9]].concat();
            let failed = Status {
                message: "failed".into(),
                code: 2,
            };
            let mut spans = vec![Span {
                trace_id: trace_id.clone(),
                span_id: span_id(1),
                name: r.endpoint.into(),
                kind: span::SpanKind::Server as i32,
                start_time_unix_nano: r.start,
                end_time_unix_nano: r.start + r.ms * MS,
                status: r.error.map(|_| failed.clone()),
                ..Span::default()
            }];
            if let Some(kind) = r.error {
                spans.push(Span {
                    trace_id,
                    span_id: span_id(2),
                    parent_span_id: span_id(1),
                    name: "SELECT items".into(),
                    kind: span::SpanKind::Client as i32,
                    start_time_unix_nano: r.start + MS,
                    end_time_unix_nano: r.start + 2 * MS,
                    status: Some(failed),
                    events: vec![span::Event {
                        time_unix_nano: r.start + 2 * MS,
                        name: "exception".into(),
                        attributes: vec![support::kv("exception.type", support::s(kind))],
                        dropped_attributes_count: 0,
                    }],
                    ..Span::default()
                });
            }
            let mut resource = support::resource("api").unwrap();
            resource
                .attributes
                .push(support::kv("service.version", support::s(r.version)));
            ResourceSpans {
                resource: Some(resource),
                scope_spans: vec![ScopeSpans {
                    scope: support::scope(),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }.encode_to_vec()
}

/// Two hours of `api`: `GET /items` the same in both; `POST /orders`
/// failing one time in a hundred in the first hour, and three in ten and
/// three times slower in the second, when version 1.1 replaced 1.0 and
/// brought a new failure.
async fn two_hours(server: &Server) {
    let mut n = 0;
    for hour in 0..2u64 {
        let mut batch = Vec::new();
        for i in 0..200u64 {
            let start = T0 + hour * HOUR + i * 17_000 * MS;
            let version = if hour == 0 { "1.0" } else { "1.1" };
            n += 1;
            batch.push(Request {
                n,
                version,
                endpoint: "GET /items",
                start,
                ms: 10 + i % 40,
                error: (i % 100 == 7).then_some("Timeout"),
            });
            n += 1;
            let new_failure = hour == 1 && i % 10 < 3;
            batch.push(Request {
                n,
                version,
                endpoint: "POST /orders",
                start: start + 5 * MS,
                ms: (20 + i % 40) * if hour == 1 { 3 } else { 1 },
                error: if new_failure {
                    Some("DeadlockDetected")
                } else {
                    (i % 100 == 7).then_some("Timeout")
                },
            });
            if batch.len() == 100 {
                server.export("/v1/traces", export(&batch)).await;
                batch.clear();
            }
        }
    }
}

#[tokio::test]
async fn then_and_now_marks_what_changed_past_the_noise() {
    let server = Server::start().await;
    two_hours(&server).await;
    let now = format!("from={}&to={}", T0 + HOUR, T0 + 2 * HOUR);
    let (status, c) = server
        .get_json(&format!("/api/v1/reports/change?{now}"))
        .await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["then_start_unix_nano"], T0, "{c}");
    assert_eq!(c["then_end_unix_nano"], T0 + HOUR, "{c}");
    let rows = c["endpoints"].as_array().unwrap();
    let marks = |row: &serde_json::Value| {
        [
            "rate_per_second",
            "error_rate",
            "p50_ns",
            "p95_ns",
            "p99_ns",
        ]
        .map(|f| row[f]["marked"] == true)
    };
    // The endpoint that changed comes first, its errors and latency marked.
    assert_eq!(rows[0]["endpoint"], "POST /orders", "{c}");
    assert_eq!(marks(&rows[0]), [false, true, true, true, true], "{c}");
    assert_eq!(rows[0]["error_rate"]["then"], 0.01, "{c}");
    assert_eq!(rows[0]["error_rate"]["now"], 0.31, "{c}");
    assert_eq!(rows[0]["then_requests"], 200, "{c}");
    // The one that did not is not marked at all.
    assert_eq!(rows[1]["endpoint"], "GET /items", "{c}");
    assert_eq!(marks(&rows[1]), [false; 5], "{c}");
    assert_eq!(rows[1]["change"], 0.0, "{c}");
    // Against a day earlier: nothing then.
    let (status, c) = server
        .get_json(&format!("/api/v1/reports/change?{now}&against=1d"))
        .await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["endpoints"][0]["then_requests"], 0, "{c}");
    let (status, c) = server
        .get_json(&format!("/api/v1/reports/change?{now}&against=soon"))
        .await;
    assert_eq!(status, 400, "{c}");
    assert!(c["error"].as_str().unwrap().contains("against"), "{c}");
    // The pages: the load report and the service's, each figure then → now.
    for path in ["/reports/load", "/services/api"] {
        let (status, _, html) = server.page(&format!("{path}?{now}"), false).await;
        assert_eq!(status, 200, "{html}");
        assert!(
            html.contains("<h2 id=\"then-and-now\">Then and now</h2>"),
            "{html}"
        );
        assert!(
            html.contains("<td class=\"num shift up\" title=\"then 1.0%, now 31.0%\">1.0% → 31.0% <span class=\"delta\">+30 pp</span></td>"),
            "{path}: {html}"
        );
        let amp = now.replace('&', "&amp;");
        assert!(
            html.contains(&format!("href=\"{path}?{amp}"))
                && html.contains("against=7d#then-and-now\">a week earlier</a>"),
            "{path}: {html}"
        );
    }
}
