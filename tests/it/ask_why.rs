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

#[tokio::test]
async fn a_new_release_shows_its_new_failure_under_it_alone() {
    let server = Server::start().await;
    two_hours(&server).await;
    let both = format!("from={T0}&to={}", T0 + 2 * HOUR);
    let (status, r) = server
        .get_json(&format!("/api/v1/services/api/releases?{both}"))
        .await;
    assert_eq!(status, 200, "{r}");
    let releases = r["releases"].as_array().unwrap();
    let versions: Vec<&str> = releases
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["1.0", "1.1"], "{r}");
    assert_eq!(releases[0]["requests"], 400, "{r}");
    assert_eq!(releases[0]["traffic_share"], 0.5, "{r}");
    assert_eq!(releases[0]["first_seen_unix_nano"], T0, "{r}");
    // Each release's time range: its own hour, to the minute.
    let last_start = T0 + 199 * 17_000 * MS + 5 * MS;
    let minute = 60_000 * MS;
    assert_eq!(
        releases[0]["last_seen_unix_nano"],
        (last_start / minute + 1) * minute,
        "{r}"
    );
    let origins = |i: usize| -> Vec<String> {
        releases[i]["error_origins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| format!("{} {} {}", o["operation"], o["error"], o["count"]))
            .collect()
    };
    assert_eq!(origins(0), ["\"SELECT items\" \"Timeout\" 4"], "{r}");
    assert_eq!(
        origins(1),
        [
            "\"SELECT items\" \"DeadlockDetected\" 60",
            "\"SELECT items\" \"Timeout\" 4"
        ],
        "{r}"
    );
    let c = &r["comparison"];
    assert_eq!(
        (&c["base"], &c["version"]),
        (&"1.0".into(), &"1.1".into()),
        "{r}"
    );
    assert_eq!(
        c["new_error_origins"],
        serde_json::json!([{"operation": "SELECT items", "error": "DeadlockDetected", "count": 60}]),
        "{r}"
    );
    assert_eq!(c["endpoints"][0]["endpoint"], "POST /orders", "{r}");
    assert_eq!(c["endpoints"][0]["error_rate"]["marked"], true, "{r}");
    assert_eq!(c["endpoints"][1]["change"], 0.0, "{r}");
    // Picked the other way round, 1.0 brought nothing new.
    let (status, r) = server
        .get_json(&format!(
            "/api/v1/services/api/releases?{both}&base_version=1.1&version=1.0"
        ))
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        r["comparison"]["new_error_origins"],
        serde_json::json!([]),
        "{r}"
    );
    // Bad input says what is wrong.
    for (query, status, says) in [
        ("&version=1.1", 400, "come together"),
        ("&base_version=0.9&version=1.1", 400, "no release \"0.9\""),
    ] {
        let (got, body) = server
            .get_json(&format!("/api/v1/services/api/releases?{both}{query}"))
            .await;
        assert_eq!(got, status, "{query}: {body}");
        assert!(body["error"].as_str().unwrap().contains(says), "{body}");
    }
    let (got, _) = server.get_json("/api/v1/services/nobody/releases").await;
    assert_eq!(got, 404);
    // The page: each release leading to its traces, the new failure
    // called out.
    let (status, _, html) = server.page(&format!("/services/api?{both}"), false).await;
    assert_eq!(status, 200, "{html}");
    let amp = both.replace('&', "&amp;");
    for needle in [
        "<h2 id=\"releases\">Releases</h2>".to_owned(),
        format!("<a href=\"/traces?service=api&amp;attr=service.version%3D1.1&amp;{amp}\" title=\"its traces\"><code>1.1</code></a>"),
        "<h3>1.1 against 1.0</h3>".to_owned(),
        "New in 1.1: failures that started at <strong>SELECT items · DeadlockDetected ×60</strong>, never seen in 1.0.".to_owned(),
    ] {
        assert!(html.contains(&needle), "{needle} in {html}");
    }
    let (_, _, html) = server
        .page(
            &format!("/services/api?{both}&base_version=0.9&version=1.1"),
            false,
        )
        .await;
    assert!(
        html.contains("api ran no release &quot;0.9&quot;"),
        "{html}"
    );
}

#[tokio::test]
async fn a_selection_is_compared_with_the_baseline_chosen_sampled_evenly() {
    let server = Server::start().await;
    two_hours(&server).await;
    let both = format!("from={T0}&to={}", T0 + 2 * HOUR);
    let failed = format!("service=api&operation=POST%20/orders&status=error&{both}");
    let (status, c) = server.get_json(&format!("/api/v1/compare?{failed}")).await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["baseline_of"], "endpoint", "{c}");
    // 64 failed orders, all read, against a sample of the 336 others:
    // 30 from each tenth of the window, fewer from the second hour's
    // tenths, which hold fewer once the failures are left out (138 in
    // all), so 150 + 138.
    assert_eq!(
        c["selection"],
        serde_json::json!({"traces": 64, "sampled": false}),
        "{c}"
    );
    assert_eq!(
        c["baseline"],
        serde_json::json!({"traces": 288, "sampled": true}),
        "{c}"
    );
    // What every failure has and no other: the failing query, the error.
    let top: Vec<(&str, &str)> = c["differences"].as_array().unwrap()[..2]
        .iter()
        .map(|d| (d["key"].as_str().unwrap(), d["value"].as_str().unwrap()))
        .collect();
    assert_eq!(top, [("name", "SELECT items"), ("status", "error")], "{c}");
    // And then the new release.
    let version = c["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["key"] == "service.version")
        .unwrap_or_else(|| panic!("{c}"));
    assert_eq!(version["value"], "1.1", "{c}");
    assert_eq!(version["selection_traces"], 62, "{c}");
    // Both sides' latency, over the same bins.
    let latency = &c["latency"];
    assert_eq!(latency["key"], "duration_ms", "{c}");
    assert_eq!(latency["selection_values"], 64, "{c}");
    assert_eq!(latency["bins"].as_array().unwrap().len(), 20, "{c}");
    // Against every other trace: GET /items joins the baseline, spread
    // evenly over both hours.
    let (status, c) = server
        .get_json(&format!("/api/v1/compare?{failed}&baseline=all"))
        .await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["baseline_of"], "all", "{c}");
    let names = c["differences"].as_array().unwrap();
    let orders = names
        .iter()
        .find(|d| d["key"] == "name" && d["value"] == "POST /orders")
        .unwrap_or_else(|| panic!("{c}"));
    assert!(orders["baseline_share"].as_f64().unwrap() < 0.7, "{c}");
    let (status, c) = server
        .get_json(&format!("/api/v1/compare?{failed}&baseline=yesterday"))
        .await;
    assert_eq!(status, 400, "{c}");
    assert!(c["error"].as_str().unwrap().contains("baseline"), "{c}");
    // An endpoint's slow requests by its own span (the why-slow link's
    // selection): orders took 60 to 177 ms in the second hour, under
    // 60 ms in the first; 26 in 40 of the second hour's took 100 ms or more.
    let slow = format!("service=api&operation=POST%20/orders&min_span_duration_ms=100&{both}");
    let (status, c) = server.get_json(&format!("/api/v1/compare?{slow}")).await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["selection"]["traces"], 130, "{c}");
    assert_eq!(c["latency_of"], "span", "{c}");
    let low = c["latency"]["bins"][0]["low"].as_f64().unwrap();
    assert!((20.0..21.0).contains(&low), "{c}");
    let (status, c) = server
        .get_json(&format!("/api/v1/compare?min_span_duration_ms=100&{both}"))
        .await;
    assert_eq!(status, 400, "{c}");
    assert!(
        c["error"].as_str().unwrap().contains("give the operation"),
        "{c}"
    );
    // The page: the baselines to pick, the latency to drag a range on.
    let (status, _, html) = server.page(&format!("/compare?{failed}"), false).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("data-select=\"min_span_duration_ms,max_span_duration_ms\""),
        "{html}"
    );
    assert!(html.contains("<strong>its endpoint"), "{html}");
    assert!(html.contains("&amp;baseline=all&amp;"), "{html}");
}
