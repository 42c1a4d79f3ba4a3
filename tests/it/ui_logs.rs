//! The Logs page through the real server: filters in the URL, rows alone
//! for htmx, the live tail's cursor, links to the request view, escaping.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::AnyValue;
use prost::Message as _;

use crate::support::{self, Server, T0, named_entities};

/// `support::logs(seed)` from another service, with its bodies changed.
async fn post_logs(server: &Server, logs: ExportLogsServiceRequest) {
    server.export("/v1/logs", logs.encode_to_vec()).await;
}

fn logs_of(seed: u8, service: &str, bodies: [&str; 2]) -> ExportLogsServiceRequest {
    let mut logs = support::logs(seed);
    logs.resource_logs[0].resource = support::resource(service);
    for (record, body) in logs.resource_logs[0].scope_logs[0]
        .log_records
        .iter_mut()
        .zip(bodies)
    {
        record.body = Some(AnyValue {
            value: Some(support::s(body)),
        });
    }
    logs
}

async fn get(server: &Server, path: &str) -> (u16, String) {
    let (status, _, body) = server.page(path, false).await;
    (status, body)
}

/// The log lines of a page or fragment, newest first.
fn lines(html: &str) -> Vec<&str> {
    html.split("<div class=\"log-line")
        .skip(1)
        .map(|line| &line[..line.find("</div>").unwrap_or(line.len())])
        .collect()
}

#[tokio::test]
async fn full_text_search_finds_the_right_line() {
    let mut server = Server::start().await;
    post_logs(&server, support::logs(71)).await;
    post_logs(&server, support::logs(72)).await;
    let (status, headers, html) = server.page("/logs?q=seed71", false).await;
    assert_eq!(status, 200, "{html}");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert!(html.contains("<form class=\"log-filters\""), "{html}");
    assert!(
        html.contains("value=\"seed71\""),
        "the form keeps q: {html}"
    );
    let found = lines(&html);
    assert_eq!(found.len(), 1, "{html}");
    assert!(found[0].contains("queued refund seed71"), "{}", found[0]);
    assert!(!html.contains("seed72"));
    // Without filters: all four, newest first.
    let (_, html) = get(&server, "/logs").await;
    let all = lines(&html);
    assert_eq!(all.len(), 4, "{html}");
    assert!(all[0].contains("queued refund") && all[3].contains("charge failed"));
    server.stop().await;
}

#[tokio::test]
async fn severity_and_service_filters() {
    let mut server = Server::start().await;
    post_logs(&server, support::logs(73)).await;
    post_logs(
        &server,
        logs_of(74, "billing", ["invoice lost", "invoice sent"]),
    )
    .await;
    let (status, html) = get(&server, "/logs?severity=17").await;
    assert_eq!(status, 200, "{html}");
    let found = lines(&html);
    assert_eq!(found.len(), 2, "{html}");
    assert!(
        found
            .iter()
            .all(|l| l.contains("sev-error") && l.contains(">ERROR<"))
    );
    assert!(
        html.contains("<option value=\"17\" selected>ERROR</option>"),
        "{html}"
    );
    let (_, html) = get(&server, "/logs?service=billing").await;
    let found = lines(&html);
    assert_eq!(found.len(), 2, "{html}");
    assert!(
        found.iter().all(|l| l.contains(">billing</span>")),
        "{html}"
    );
    assert!(found[0].contains("invoice sent") && found[1].contains("invoice lost"));
    let (_, html) = get(&server, "/logs?service=billing&severity=9&q=invoice").await;
    let found = lines(&html);
    assert_eq!(found.len(), 2, "INFO and above: {html}");
    let (_, html) = get(&server, "/logs?service=billing&severity=13").await;
    assert_eq!(lines(&html).len(), 1, "{html}");
    // Time range in nanoseconds: end is exclusive.
    let (_, html) = get(
        &server,
        &format!("/logs?service=refunds&end={}", T0 + 7_000_000),
    )
    .await;
    let found = lines(&html);
    assert_eq!(found.len(), 1, "{html}");
    assert!(found[0].contains("charge failed"));
    server.stop().await;
}

#[tokio::test]
async fn htmx_gets_only_the_rows() {
    let mut server = Server::start().await;
    post_logs(&server, support::logs(75)).await;
    let (status, _, fragment) = server.page("/logs?q=refund", true).await;
    assert_eq!(status, 200, "{fragment}");
    assert!(!fragment.contains("<html"), "a fragment: {fragment}");
    assert!(!fragment.contains("<form"), "{fragment}");
    assert!(fragment.contains("id=\"log-lines\""), "{fragment}");
    assert_eq!(lines(&fragment).len(), 1, "{fragment}");
    let (_, html) = get(&server, "/logs").await;
    assert!(
        html.contains("hx-get=\"/logs\" hx-target=\"#log-results\" hx-push-url=\"true\""),
        "{html}"
    );
    assert!(html.contains("<div id=\"log-results\">"), "{html}");
    server.stop().await;
}

#[tokio::test]
async fn live_tail_returns_only_newer_lines_and_the_next_cursor() {
    let mut server = Server::start().await;
    post_logs(&server, support::logs(76)).await;
    let (older, newer) = (T0 + 5_000_000, T0 + 7_000_000);
    // The live page polls from the newest line it shows.
    let (_, html) = get(&server, "/logs?live=1").await;
    let html = named_entities(html);
    assert!(
        html.contains(&format!(
            "<div id=\"log-tail\" class=\"log-tail\" hx-get=\"/logs/tail?after={newer}\" \
             hx-trigger=\"every 2s\" hx-swap=\"outerHTML\">"
        )),
        "{html}"
    );
    assert!(html.contains("<input type=\"hidden\" name=\"live\" value=\"1\">"));
    // Not live: no poller.
    let (_, html) = get(&server, "/logs").await;
    assert!(!html.contains("log-tail"), "{html}");

    let (status, _, fragment) = server
        .page(&format!("/logs/tail?service=refunds&after={older}"), true)
        .await;
    assert_eq!(status, 200, "{fragment}");
    let fragment = named_entities(fragment);
    let found = lines(&fragment);
    assert_eq!(found.len(), 1, "{fragment}");
    assert!(found[0].contains("queued refund seed76"));
    assert!(
        fragment.starts_with(&format!(
            "<div id=\"log-tail\" class=\"log-tail\" hx-get=\"/logs/tail?service=refunds&amp;after={newer}\""
        )),
        "the poller comes first, carrying the filters and the next cursor: {fragment}"
    );
    // Nothing newer: just the poller, with the same cursor.
    let (_, _, fragment) = server
        .page(&format!("/logs/tail?after={newer}"), true)
        .await;
    assert!(lines(&fragment).is_empty(), "{fragment}");
    assert!(fragment.contains(&format!("after={newer}\"")), "{fragment}");
    // A new line arrives: the poll after finds it.
    let mut late = logs_of(77, "refunds", ["late one", "later one"]);
    late.resource_logs[0].scope_logs[0].log_records[1].observed_time_unix_nano = T0 + 9_000_000;
    post_logs(&server, late).await;
    let (_, _, fragment) = server
        .page(&format!("/logs/tail?after={newer}"), true)
        .await;
    let found = lines(&fragment);
    assert_eq!(found.len(), 1, "{fragment}");
    assert!(found[0].contains("later one"));
    assert!(fragment.contains(&format!("after={}\"", T0 + 9_000_000)));
    server.stop().await;
}

#[tokio::test]
async fn lines_link_to_their_request() {
    let mut server = Server::start().await;
    post_logs(&server, support::logs(78)).await;
    // A line with only a trace id leads to the request view by trace id.
    let mut traced = logs_of(79, "refunds", ["traced only", "unlinked"]);
    let records = &mut traced.resource_logs[0].scope_logs[0].log_records;
    records[0].attributes.clear();
    records[1].attributes.clear();
    post_logs(&server, traced).await;
    let (_, html) = get(&server, "/logs").await;
    let found = lines(&html);
    let line = |text: &str| *found.iter().find(|l| l.contains(text)).expect(text);
    assert!(
        line("queued refund seed78").contains("href=\"/requests/req-78\""),
        "{html}"
    );
    assert!(
        line("charge failed").contains("href=\"/requests/req-78\""),
        "{html}"
    );
    let trace_id = hex::encode(support::trace_id(79));
    assert!(
        line("traced only").contains(&format!("href=\"/requests/{trace_id}\"")),
        "{html}"
    );
    assert!(!line("unlinked").contains("href="), "{html}");
    server.stop().await;
}

#[tokio::test]
async fn bodies_are_escaped_and_maps_are_json() {
    let mut server = Server::start().await;
    post_logs(
        &server,
        logs_of(80, "evil", ["<script>alert(1)</script>", "\"><img src=x>"]),
    )
    .await;
    post_logs(&server, support::logs(81)).await;
    let (_, html) = get(&server, "/logs").await;
    let html = named_entities(html);
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("&quot;&gt;&lt;img src=x&gt;"), "{html}");
    assert!(!html.contains("<script>alert") && !html.contains("<img"));
    assert!(
        html.contains("{&quot;msg&quot;:&quot;charge failed&quot;,&quot;amount&quot;:42}"),
        "map body as compact JSON: {html}"
    );
    server.stop().await;
}

#[tokio::test]
async fn older_pages_by_time_cursor() {
    let mut server = Server::start().await;
    let mut logs = support::logs(82);
    let records = &mut logs.resource_logs[0].scope_logs[0].log_records;
    let template = records[1].clone();
    records.clear();
    for i in 0..105u64 {
        let mut record = template.clone();
        record.observed_time_unix_nano = T0 + i * 1_000;
        record.body = Some(AnyValue {
            value: Some(support::s(&format!("line{i}"))),
        });
        records.push(record);
    }
    post_logs(&server, logs).await;
    let (_, html) = get(&server, "/logs").await;
    let found = lines(&html);
    assert_eq!(found.len(), 100);
    assert!(found[0].contains("line104") && found[99].contains("line5<"));
    let older = format!("href=\"/logs?to={}\"", T0 + 5_000);
    assert!(html.contains(&older), "{html}");
    let (_, html) = get(&server, &format!("/logs?end={}", T0 + 5_000)).await;
    let found = lines(&html);
    assert_eq!(found.len(), 5, "{html}");
    assert!(found[0].contains("line4<") && found[4].contains("line0<"));
    assert!(!html.contains("older ›"), "the last page: {html}");
    server.stop().await;
}

#[tokio::test]
async fn bad_parameters_are_a_400_page() {
    let mut server = Server::start().await;
    for (path, message) in [
        ("/logs?severity=loud", "severity must be"),
        ("/logs?severity=99", "severity must be"),
        ("/logs?trace_id=xyz", "trace_id must be 32 hex"),
        ("/logs?start=yesterday", "start must be a time"),
        ("/logs?end=-5", "end must be a time"),
        ("/logs?window=3w", "window must look like 15m, 1h or 7d"),
    ] {
        let (status, html) = get(&server, path).await;
        assert_eq!(status, 400, "{path}: {html}");
        assert!(html.contains(message), "{path}: {html}");
        assert!(
            html.contains("<form class=\"log-filters\""),
            "{path}: {html}"
        );
    }
    // The form keeps what was typed, to be corrected.
    let (_, html) = get(&server, "/logs?trace_id=xyz").await;
    assert!(html.contains("name=\"trace_id\" value=\"xyz\""), "{html}");
    for path in [
        "/logs/tail",
        "/logs/tail?after=soon",
        "/logs/tail?after=1&severity=x",
    ] {
        let (status, body) = get(&server, path).await;
        assert_eq!(status, 400, "{path}: {body}");
    }
    server.stop().await;
}

#[tokio::test]
async fn attribute_filter_keeps_matching_lines() {
    let mut server = Server::start().await;
    post_logs(&server, support::logs(71)).await;
    // The error line carries `request_id`; the info line only the header attribute.
    let (status, html) = get(&server, "/logs?attr=request_id%3Dreq-71").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("charge failed") && !html.contains("queued refund"),
        "{html}"
    );
    assert!(
        html.contains("value=\"request_id=req-71\""),
        "the form keeps the filter"
    );
    let (status, html) = get(&server, "/logs?attr=%3Dnokey").await;
    assert_eq!(status, 400);
    assert!(html.contains("attr must be key=value"), "{html}");
    server.stop().await;
}
