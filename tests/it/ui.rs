//! The web UI through the real server: pages rendered from data sent over
//! OTLP/HTTP, asserted on their HTML text.

use prost::Message as _;

pub(crate) use crate::support::named_entities;
use crate::support::{self, Server};

async fn post(server: &Server, path: &str, body: Vec<u8>) {
    server.export(path, body).await;
}

pub(crate) async fn send(server: &Server, seed: u8) {
    post(server, "/v1/traces", support::traces(seed).encode_to_vec()).await;
    post(server, "/v1/logs", support::logs(seed).encode_to_vec()).await;
}

pub(crate) async fn get(server: &Server, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    server.page(path, false).await
}

fn trace_hex(seed: u8) -> String {
    hex::encode(support::trace_id(seed))
}

pub(crate) fn assert_security_headers(headers: &reqwest::header::HeaderMap, what: &str) {
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{what}: {csp}");
    assert!(csp.contains("script-src 'self'"), "{what}: {csp}");
    assert!(csp.contains("style-src 'self'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["referrer-policy"], "no-referrer", "{what}");
}

/// Text between `start` and the next `end`, to look at one part of a page.
fn section<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} in page"));
    let rest = &html[from..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

#[tokio::test]
async fn request_view_shows_the_failure_the_traces_and_both_logs() {
    let mut server = Server::start().await;
    send(&server, 61).await;
    let (status, headers, html) = get(&server, "/requests/req-61").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_security_headers(&headers, "request page");
    let banner = section(&html, "class=\"banner", "</section>");
    assert!(banner.contains("failed in"), "{banner}");
    assert!(banner.contains("POST /charge"), "{banner}");
    assert!(
        banner.contains("CardDeclined: insufficient funds"),
        "{banner}"
    );
    assert!(banner.contains("propagated through"), "{banner}");
    assert!(banner.contains("POST /checkout"), "{banner}");
    assert!(
        html.contains("matched as <strong>request id</strong>"),
        "{html}"
    );
    assert!(html.contains(&format!("href=\"/traces/{}\"", trace_hex(61))));
    // Both log lines, each with how it was found, grouped by the trace
    // (the attempt) they belong to: the one with the trace's id under its
    // trace, the one with only the request id after it.
    let traced = section(
        &html,
        &format!("<h3 class=\"log-group\">trace {}</h3>", trace_hex(61)),
        "</table>",
    );
    assert!(
        traced.contains("charge failed") && traced.contains(">trace id<"),
        "{traced}"
    );
    assert_eq!(traced.matches("<tr class=").count(), 1, "{traced}");
    let outside = section(
        &html,
        "<h3 class=\"log-group\">in no trace: joined by the request id</h3>",
        "</table>",
    );
    assert!(
        outside.contains("queued refund seed61") && outside.contains(">request id<"),
        "{outside}"
    );
    assert_eq!(outside.matches("<tr class=").count(), 1, "{outside}");
    assert!(html.contains("2 log records"), "{html}");
    // The trace's start, and its spans drawn over the request's time.
    assert!(
        html.contains(
            "<time datetime=\"2023-11-14T22:13:20.000Z\">2023-11-14 22:13:20.000</time> · 2 spans"
        ),
        "{html}"
    );
    assert_eq!(html.matches("<svg class=\"mini\"").count(), 1, "{html}");
    assert!(
        html.contains("x=\"0.00%\" y=\"0\" width=\"100.00%\" height=\"3\""),
        "{html}"
    );
    server.stop().await;
}

#[tokio::test]
async fn trace_view_shows_the_span_tree_errors_and_logs() {
    let mut server = Server::start().await;
    send(&server, 62).await;
    let trace_id = trace_hex(62);
    let (status, headers, html) = get(&server, &format!("/traces/{trace_id}")).await;
    assert_eq!(status, 200, "{html}");
    assert_security_headers(&headers, "trace page");
    let root_id = hex::encode(support::span_id(62, 1));
    let child_id = hex::encode(support::span_id(62, 2));
    let root = section(&html, &format!("id=\"span-{root_id}\""), "</details>");
    let child = section(&html, &format!("id=\"span-{child_id}\""), "</details>");
    assert!(root.contains("POST /checkout") && root.contains("class=\"name d0\""));
    assert!(child.contains("POST /charge") && child.contains("class=\"name d1\""));
    assert!(
        html.find(&format!("id=\"span-{root_id}\""))
            < html.find(&format!("id=\"span-{child_id}\"")),
        "parent first"
    );
    // Both spans are in error; the child, which raised, is the origin.
    assert!(root.contains("class=\"span err crit\""), "{root}");
    assert!(root.contains(">error</span>"), "{root}");
    assert!(child.contains("class=\"span err origin crit\""), "{child}");
    assert!(
        child.contains("width=\"76.000%\""),
        "bar of 190 of 250 ms: {child}"
    );
    assert!(root.contains("250 ms") && child.contains("190 ms"));
    // The log the child wrote sits under it, and in the list below.
    let after_child = section(&html, &format!("id=\"span-{child_id}\""), "<h2>Logs");
    assert!(
        after_child.contains("class=\"span-log sev-error\""),
        "{after_child}"
    );
    assert!(after_child.contains("charge failed"));
    let logs = section(&html, "<table class=\"logs\">", "</table>");
    assert!(logs.contains("charge failed"), "{logs}");

    // Span details, as the htmx partial and as a page of its own.
    let partial = server
        .http
        .get(format!(
            "{}/traces/{trace_id}/spans/{child_id}",
            server.ui_url
        ))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status(), 200);
    let partial = partial.text().await.unwrap();
    assert!(!partial.contains("<html"), "a fragment: {partial}");
    assert!(partial.contains("<strong>CardDeclined</strong>: insufficient funds"));
    assert!(partial.contains("rpc.service") && partial.contains("service.name"));
    let (status, _, page) = get(&server, &format!("/traces/{trace_id}/spans/{root_id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("<html") && page.contains("http.route"));
    assert!(page.contains("link.kind"), "links shown: {page}");
    // An attribute's value leads to the service's traces with it; a list
    // cannot be searched for, so it is text alone.
    let search = "/traces?service=checkout&attr=http.route%3D%2Fcheckout";
    let page = named_entities(page);
    let escaped = search.replace('&', "&amp;");
    assert!(
        page.contains(&format!("<th>http.route</th><td><a href=\"{escaped}\"")),
        "{page}"
    );
    assert!(
        page.contains("<th>list</th><td>[&quot;a&quot;,2]</td>"),
        "{page}"
    );
    let (status, _, found) = get(&server, search).await;
    assert_eq!(status, 200);
    assert!(
        found.contains(&format!("href=\"/traces/{trace_id}\"")),
        "{found}"
    );
    server.stop().await;
}

#[tokio::test]
async fn search_redirects_to_the_request_view() {
    let mut server = Server::start().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .get(format!("{}/search?id=+req%2063%2F1+", server.ui_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/requests/req%2063%2F1");
    let response = client
        .get(format!("{}/search?id=", server.ui_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/");
    server.stop().await;
}

#[tokio::test]
async fn unknown_ids_are_a_404_page_with_the_search_box() {
    let mut server = Server::start().await;
    for path in [
        "/requests/nothing-here".to_owned(),
        format!("/traces/{}", trace_hex(64)),
        "/traces/not-hex".to_owned(),
    ] {
        let (status, headers, html) = get(&server, &path).await;
        assert_eq!(status, 404, "{path}");
        assert_security_headers(&headers, &path);
        assert!(html.contains("<h1>Not found</h1>"), "{path}: {html}");
        assert!(html.contains("<form class=\"search\""), "{path}: {html}");
    }
    server.stop().await;
}

#[tokio::test]
async fn static_assets_are_embedded_and_cached() {
    let mut server = Server::start().await;
    let (_, _, home) = get(&server, "/").await;
    assert!(home.contains("<h1>Services</h1>"));
    let css = section(&home, "/static/loupe.css?v=", "\"");
    let js = section(&home, "/static/loupe.js?v=", "\"");
    assert!(home.contains("src=\"/static/htmx-2.0.11.min.js\""));
    for (path, content_type, needle) in [
        (css, "text/css", "prefers-color-scheme"),
        (js, "text/javascript", "keydown"),
        ("/static/htmx-2.0.11.min.js", "text/javascript", "htmx"),
    ] {
        let (status, headers, body) = get(&server, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(content_type),
            "{path}"
        );
        let cache = headers["cache-control"].to_str().unwrap();
        assert!(cache.contains("max-age=31536000"), "{path}: {cache}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(body.contains(needle), "{path}");
    }
    let (status, _, _) = get(&server, "/static/nope.js").await;
    assert_eq!(status, 404);
    // The API is still there, still JSON.
    let (status, body) = server.get_json("/api/v1/stats").await;
    assert_eq!((status, body["spans"].as_i64()), (200, Some(0)));
    server.stop().await;
}

#[tokio::test]
async fn telemetry_is_escaped() {
    let mut server = Server::start().await;
    let mut traces = support::traces(65);
    let spans = &mut traces.resource_spans[0].scope_spans[0].spans;
    spans[1].name = "<script>alert(1)</script>".into();
    spans[0].attributes.push(support::kv(
        "evil",
        support::s("\"><img src=x onerror=alert(2)>"),
    ));
    post(&server, "/v1/traces", traces.encode_to_vec()).await;
    let trace_id = trace_hex(65);
    let (_, _, html) = get(&server, &format!("/traces/{trace_id}")).await;
    let html = named_entities(html);
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"), "{html}");
    let (_, _, home) = get(&server, "/traces").await;
    let home = named_entities(home);
    assert!(home.contains("&lt;script&gt;"), "{home}");
    assert!(!home.contains("<script>alert"));
    let child_id = hex::encode(support::span_id(65, 2));
    let (_, _, span) = get(&server, &format!("/traces/{trace_id}/spans/{child_id}")).await;
    let span = named_entities(span);
    assert!(
        span.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"),
        "{span}"
    );
    assert!(!span.contains("<img"));
    server.stop().await;
}

#[tokio::test]
async fn trace_view_marks_the_critical_path() {
    let mut server = Server::start().await;
    let mut request = support::traces(61);
    let spans = &mut request.resource_spans[0].scope_spans[0].spans;
    // A quick call in parallel with the slow one: nobody waited for it.
    let mut quick = spans[0].clone();
    quick.span_id = support::span_id(61, 3);
    quick.name = "GET /quick".into();
    quick.end_time_unix_nano = quick.start_time_unix_nano + 1_000_000;
    quick.events.clear();
    spans.push(quick);
    post(&server, "/v1/traces", request.encode_to_vec()).await;
    let (status, _, html) = get(&server, &format!("/traces/{}", trace_hex(61))).await;
    assert_eq!(status, 200);
    let row = |span: u8| {
        let id = format!("id=\"span-{}\"", hex::encode(support::span_id(61, span)));
        let at = html
            .find(&id)
            .unwrap_or_else(|| panic!("row {id} in {html}"));
        let close = at + html[at..].find('>').unwrap();
        html[at..close].to_owned()
    };
    assert!(
        row(1).contains("crit"),
        "the root is on the path: {}",
        row(1)
    );
    assert!(
        row(2).contains("crit"),
        "the slow call is on the path: {}",
        row(2)
    );
    assert!(
        !row(3).contains("crit"),
        "the quick call is not: {}",
        row(3)
    );
    server.stop().await;
}

/// One span of the large trace below: span ids count up from 1.
fn big_span(
    n: u32,
    parent: Option<u32>,
    start: u64,
) -> opentelemetry_proto::tonic::trace::v1::Span {
    use opentelemetry_proto::tonic::trace::v1::{Span, span};
    Span {
        trace_id: support::trace_id(70),
        span_id: (u64::from(n) + 1).to_be_bytes().to_vec(),
        parent_span_id: parent
            .map(|p| (u64::from(p) + 1).to_be_bytes().to_vec())
            .unwrap_or_default(),
        name: format!("op {n}"),
        kind: span::SpanKind::Internal as i32,
        start_time_unix_nano: support::T0 + start,
        end_time_unix_nano: support::T0 + start + 1_000,
        ..Span::default()
    }
}

#[tokio::test]
async fn a_large_trace_opens_with_its_top_levels_and_loads_the_rest_on_demand() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};
    let mut server = Server::start().await;
    // A root, 30 calls under it, 50 spans under each call: 1 531 spans; the
    // very last one fails. Span n is numbered in depth-first order.
    let mut spans = vec![big_span(0, None, 0)];
    for call in 0..30u32 {
        let call_id = 1 + call * 51;
        spans.push(big_span(call_id, Some(0), u64::from(call_id) * 10));
        for leaf in 1..=50 {
            spans.push(big_span(
                call_id + leaf,
                Some(call_id),
                u64::from(call_id + leaf) * 10,
            ));
        }
    }
    spans.last_mut().unwrap().status = Some(Status {
        message: "disk full".into(),
        code: 2,
    });
    for chunk in spans.chunks(600) {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: support::resource("big"),
                scope_spans: vec![ScopeSpans {
                    scope: support::scope(),
                    spans: chunk.to_vec(),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        post(&server, "/v1/traces", request.encode_to_vec()).await;
    }
    let id = |n: u32| hex::encode((u64::from(n) + 1).to_be_bytes());
    let trace_id = hex::encode(support::trace_id(70));
    let (status, _, html) = get(&server, &format!("/traces/{trace_id}")).await;
    assert_eq!(status, 200);
    // 500 rows (the budget): 1 + 30 + 469 leaves in order (calls 0–8 whole,
    // 19 leaves of call 9); and the failed leaf with its path.
    assert_eq!(html.matches("<details id=\"span-").count(), 501);
    assert!(
        html.contains(
            "501 of its 1,531 spans are shown, the top levels first, and the path to where it failed"
        ),
        "{html}"
    );
    assert!(html.contains(&format!("id=\"span-{}\"", id(1 + 9 * 51 + 19))));
    assert!(!html.contains(&format!("id=\"span-{}\"", id(1 + 9 * 51 + 20))));
    let origin = section(&html, &format!("id=\"span-{}\"", id(1530)), "</details>");
    assert!(origin.contains("span err origin"), "{origin}");
    // Placeholders: the rest of call 9, calls 10–28 whole, call 29 but its last.
    let placeholders: Vec<&str> = html.split("<div class=\"span-more\"").skip(1).collect();
    assert_eq!(placeholders.len(), 21);
    assert!(
        placeholders[0].contains("▸ 31 more spans"),
        "{}",
        placeholders[0]
    );
    assert!(
        placeholders[1].contains("▸ 50 more spans"),
        "{}",
        placeholders[1]
    );
    assert!(
        placeholders[20].contains("▸ 49 more spans"),
        "{}",
        placeholders[20]
    );
    let href = format!(
        "/traces/{trace_id}/rows?first={}&amp;last={}",
        id(1 + 9 * 51 + 20),
        id(1 + 9 * 51 + 50)
    );
    assert!(placeholders[0].contains(&href), "{}", placeholders[0]);
    assert!(
        placeholders[0].contains("data-depth=\"2\""),
        "{}",
        placeholders[0]
    );

    // The placeholder's fragment: exactly the rows it stood for, in order.
    let (status, _, fragment) = server.page(&href.replace("&amp;", "&"), true).await;
    assert_eq!(status, 200);
    assert!(!fragment.contains("<html"), "a fragment: {fragment}");
    let ids: Vec<String> = fragment
        .split("<details id=\"span-")
        .skip(1)
        .map(|row| row[..16].to_owned())
        .collect();
    let want: Vec<String> = (20..=50).map(|leaf| id(1 + 9 * 51 + leaf)).collect();
    assert_eq!(ids, want);
    assert!(!fragment.contains("span-more"));
    // A run that no longer lines up says so instead of failing.
    let (status, _, stale) = server
        .page(
            &format!("/traces/{trace_id}/rows?first={}&last={}", id(1529), id(3)),
            true,
        )
        .await;
    assert_eq!(status, 200);
    assert!(stale.contains("reload"), "{stale}");
    // A run is named by its first and last span; without them, nothing to load.
    let (status, _, _) = server
        .page(&format!("/traces/{trace_id}/rows?first={}", id(3)), true)
        .await;
    assert_eq!(status, 400);

    // A link to a span deep in the trace keeps it shown.
    let deep = id(1 + 25 * 51 + 7);
    let (_, _, html) = get(&server, &format!("/traces/{trace_id}?span={deep}")).await;
    assert!(html.contains(&format!("id=\"span-{deep}\"")));
    assert_eq!(html.matches("<details id=\"span-").count(), 502);
    server.stop().await;
}

/// Pages, JSON and CSV go out gzip- or brotli-compressed to clients that
/// take it, and as they are to those that do not.
#[tokio::test]
async fn answers_are_compressed_for_clients_that_take_it() {
    use std::io::Read as _;
    let mut server = Server::start().await;
    server
        .export("/v1/traces", support::traces(1).encode_to_vec())
        .await;
    // This client leaves Accept-Encoding to each request and decodes nothing.
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let window = format!(
        "since={}&until={}",
        support::T0,
        support::T0 + 3_600_000_000_000
    );
    for path in [
        "/traces".to_owned(),
        format!("/api/v1/services?{window}"),
        format!("/api/v1/reports/load?{window}&format=csv&table=endpoints"),
        "/static/htmx-2.0.11.min.js".to_owned(),
    ] {
        let get = |encoding: Option<&str>| {
            let mut request = raw.get(format!("{}{path}", server.ui_url));
            if let Some(encoding) = encoding {
                request = request.header("accept-encoding", encoding);
            }
            request.send()
        };
        let plain = get(None).await.unwrap();
        assert_eq!(plain.status(), 200, "{path}");
        assert!(plain.headers().get("content-encoding").is_none(), "{path}");
        let plain = plain.bytes().await.unwrap();

        let gzipped = get(Some("gzip")).await.unwrap();
        assert_eq!(gzipped.headers()["content-encoding"], "gzip", "{path}");
        let gzipped = gzipped.bytes().await.unwrap();
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&gzipped[..])
            .read_to_end(&mut unzipped)
            .unwrap();
        assert!(gzipped.len() < unzipped.len(), "{path}");
        if !path.starts_with("/traces") {
            // A page carries times of its own; the others are the same.
            assert_eq!(unzipped, plain, "{path}");
        }

        let brotli = get(Some("br;q=1.0, gzip;q=0.5")).await.unwrap();
        assert_eq!(brotli.headers()["content-encoding"], "br", "{path}");
        let vary: Vec<_> = brotli.headers().get_all("vary").iter().collect();
        assert!(
            vary.iter()
                .any(|v| v.to_str().unwrap().eq_ignore_ascii_case("accept-encoding")),
            "{path}: {vary:?}"
        );
    }
    server.stop().await;
}

/// A request retried by its client: each trace is an attempt, told by its
/// entry span, and the page says the request finally succeeded.
#[tokio::test]
async fn request_view_tells_each_attempt_and_the_outcome() {
    let mut server = Server::start().await;
    // Attempt 1: the fixture, which answered 502 after 250 ms.
    let first = support::traces(62);
    // Attempt 2: the same request id, a second later, answered 201.
    let mut retry = support::traces(63);
    for span in &mut retry.resource_spans[0].scope_spans[0].spans {
        span.start_time_unix_nano += 1_000_000_000;
        span.end_time_unix_nano += 1_000_000_000;
        span.status = None;
        span.events.clear();
        for kv in &mut span.attributes {
            match kv.key.as_str() {
                "request_id" => *kv = support::kv("request_id", support::s("req-62")),
                "http.response.status_code" => {
                    *kv = support::kv(
                        "http.response.status_code",
                        opentelemetry_proto::tonic::common::v1::any_value::Value::IntValue(201),
                    )
                }
                _ => {}
            }
        }
    }
    for traces in [first, retry] {
        server.export("/v1/traces", traces.encode_to_vec()).await;
    }
    let (status, _, html) = get(&server, "/requests/req-62").await;
    assert_eq!(status, 200, "{html}");
    let html = named_entities(html);
    assert!(
        html.contains("<p class=\"outcome ok\">Succeeded on attempt 2 of 2: 201 after 250 ms at 22:13:21, after 1 failed.</p>"),
        "{html}"
    );
    let banner = section(&html, "class=\"banner", "</section>");
    assert!(
        banner.contains("<span class=\"verdict\">attempt 1 failed in</span>"),
        "{banner}"
    );
    let attempts = section(&html, "<ul class=\"trace-links\">", "</ul>");
    let first = attempts.find("<strong>attempt 1:</strong> <span class=\"err\">502 after 250 ms at 22:13:20</span> <span class=\"muted\">(origin checkout › POST /charge › CardDeclined)</span>");
    let second = attempts
        .find("<strong>attempt 2:</strong> <span class=\"ok\">201 after 250 ms at 22:13:21</span>");
    assert!(
        matches!((first, second), (Some(a), Some(b)) if a < b),
        "{attempts}"
    );
    server.stop().await;
}
