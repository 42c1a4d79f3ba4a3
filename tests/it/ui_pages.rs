//! The services page and trace search through the real server, fed over
//! OTLP/HTTP with the 2023 fixtures (so pages are asked for explicit
//! `start`/`end` ranges, or no range at all).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

use crate::support::{self, Server, T0};

const SECOND: u64 = 1_000_000_000;

async fn post_traces(server: &Server, traces: ExportTraceServiceRequest) {
    server.export("/v1/traces", traces.encode_to_vec()).await;
}

async fn get(server: &Server, path: &str) -> (u16, String) {
    let (status, _, body) = server.page(path, false).await;
    (status, body)
}

fn trace_hex(seed: u8) -> String {
    hex::encode(support::trace_id(seed))
}

/// A healthy one-span trace of `inventory`, one second after the failing
/// fixtures, 100 ms long, with `tier=gold` (and no 502 status code).
fn ok_trace(seed: u8) -> ExportTraceServiceRequest {
    let mut traces = support::traces(seed);
    let rs = &mut traces.resource_spans[0];
    rs.resource = support::resource("inventory");
    let spans = &mut rs.scope_spans[0].spans;
    spans.remove(0); // the failing child
    let root = &mut spans[0];
    root.name = "GET /stock".into();
    root.status = None;
    root.start_time_unix_nano = T0 + SECOND;
    root.end_time_unix_nano = T0 + SECOND + 100_000_000;
    root.attributes
        .retain(|kv| kv.key != "http.response.status_code");
    root.attributes
        .push(support::kv("tier", support::s("gold")));
    traces
}

/// Two failing `checkout` traces (seeds 71, 72, at T0, 250 ms) and one
/// healthy `inventory` trace (seed 73, at T0 + 1 s, 100 ms).
async fn fixture(server: &Server) {
    post_traces(server, support::traces(71)).await;
    post_traces(server, support::traces(72)).await;
    post_traces(server, ok_trace(73)).await;
}

/// The rows of the results table, each from `<tr` to `</tr>`.
fn rows(html: &str) -> Vec<&str> {
    let Some(from) = html.find("<table class=\"results\">") else {
        return vec![];
    };
    let table = &html[from..];
    let table = &table[..table.find("</table>").unwrap()];
    table.split("<tr").skip(2).collect()
}

fn row_of<'a>(html: &'a str, service: &str) -> &'a str {
    let from = html
        .find(&format!(">{service}</span></a></td>"))
        .unwrap_or_else(|| panic!("row of {service}: {html}"));
    let rest = &html[from..];
    &rest[..rest.find("</tr>").unwrap()]
}

#[tokio::test]
async fn services_page_lists_services_with_red_figures() {
    let mut server = Server::start().await;
    fixture(&server).await;
    let (start, end) = (T0, T0 + 10 * SECOND);
    let (status, html) = get(&server, &format!("/?start={start}&end={end}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<h1>Services</h1>"));
    for w in ["15m", "1h", "6h", "24h", "7d"] {
        assert!(html.contains(&format!("href=\"/?window={w}\"")), "{w}");
    }
    assert!(html.contains("2023-11-14 22:13:20.000 – 2023-11-14 22:13:30.000 UTC"));
    let checkout = row_of(&html, "checkout");
    // 2 requests in 10 s, both failed, both 250 ms.
    for needle in [
        ">0.20<",
        ">100.0%<",
        ">250 ms<",
        ">2<",
        "<polyline points=\"0.0,1.0 8.7,19.0",
        &format!("href=\"/traces?service=checkout&amp;from={start}&amp;to={end}\">traces<"),
        &format!(
            "href=\"/traces?service=checkout&amp;status=error&amp;from={start}&amp;to={end}\">failures<"
        ),
    ] {
        assert!(checkout.contains(needle), "{needle}: {checkout}");
    }
    let inventory = row_of(&html, "inventory");
    for needle in [">0.10<", ">0.0%<", ">100 ms<", ">1<"] {
        assert!(inventory.contains(needle), "{needle}: {inventory}");
    }
    assert!(
        html.find(">checkout<") < html.find(">inventory<"),
        "by name"
    );

    // The default window (the last hour) has none of 2023's requests.
    let (status, html) = get(&server, "/").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("class=\"active\" aria-current=\"page\">1h<"),
        "{html}"
    );
    // Every known service is listed, idle ones too.
    let idle = row_of(&html, "checkout");
    assert!(idle.starts_with(">checkout</span></a></td>"));
    assert!(html.contains("<tr class=\"idle\">"), "{html}");
    for needle in [">0<", ">0.0%<", ">—<", "traces<"] {
        assert!(idle.contains(needle), "{needle}: {idle}");
    }
    let (status, html) = get(&server, "/?window=7d").await;
    assert_eq!(status, 200);
    assert!(html.contains("aria-current=\"page\">7d<"), "{html}");
    server.stop().await;
}

#[tokio::test]
async fn trace_search_filters_by_service_status_and_attribute() {
    let mut server = Server::start().await;
    fixture(&server).await;
    let ids = |html: &str| -> Vec<String> {
        rows(html)
            .iter()
            .map(|r| {
                let from = r.find("href=\"/traces/").expect("link") + 14;
                r[from..from + 32].to_owned()
            })
            .collect()
    };
    let (t71, t72, t73) = (trace_hex(71), trace_hex(72), trace_hex(73));

    let (status, html) = get(&server, "/traces").await;
    assert_eq!(status, 200, "{html}");
    // Newest first; the same start orders by trace id.
    assert_eq!(ids(&html), [t73.as_str(), t71.as_str(), t72.as_str()]);
    assert!(html.contains("3 matching traces, newest first"));
    let all = rows(&html);
    assert!(
        all[0].contains("width=\"40.000%\""),
        "100 of 250 ms: {}",
        all[0]
    );
    assert!(all[1].contains("width=\"100.000%\""), "{}", all[1]);
    assert!(all[1].contains(">checkout</span> <span class=\"op\">POST /checkout<"));
    assert!(all[1].contains("2023-11-14 22:13:20.000") && all[1].contains(">250 ms<"));
    assert!(all[1].contains("class=\"failed\""), "{}", all[1]);
    // The form: htmx attributes, the services known, the filters kept.
    assert!(html.contains(
        "hx-get=\"/traces\" hx-target=\"#trace-rows\" hx-push-url=\"true\" hx-trigger=\"change, submit\""
    ));
    assert!(
        html.contains("<option value=\"inventory\">inventory</option>"),
        "{html}"
    );

    let (_, html) = get(&server, "/traces?service=checkout").await;
    assert_eq!(ids(&html), [t71.as_str(), t72.as_str()]);
    assert!(html.contains("<option value=\"checkout\" selected>checkout</option>"));
    let (_, html) = get(&server, "/traces?status=error").await;
    assert_eq!(ids(&html), [t71.as_str(), t72.as_str()]);
    assert!(html.contains("<option value=\"error\" selected>"));
    let (_, html) = get(&server, "/traces?status=ok&service=").await;
    assert_eq!(ids(&html), [t73.as_str()]);
    let (_, html) = get(&server, "/traces?attr=tier%3Dgold").await;
    assert_eq!(ids(&html), [t73.as_str()]);
    assert!(html.contains("name=\"attr\" value=\"tier=gold\""), "{html}");
    let (_, html) = get(&server, "/traces?attr=tier%3Dgold&attr=request_id%3Dreq-73").await;
    assert_eq!(ids(&html), [t73.as_str()]);
    let (_, html) = get(&server, "/traces?min_ms=200&operation=POST+%2Fcheckout").await;
    assert_eq!(ids(&html), [t71.as_str(), t72.as_str()]);
    let (_, html) = get(&server, "/traces?max_ms=150").await;
    assert_eq!(ids(&html), [t73.as_str()]);
    // The operation field suggests the span names spans used.
    assert!(
        html.contains("<datalist id=\"operations\"><option value=\"GET /stock\"><option value=\"POST /charge\"><option value=\"POST /checkout\"></datalist>"),
        "{html}"
    );
    let range = format!("start={}&end={}", T0 + SECOND, T0 + 2 * SECOND);
    let (_, html) = get(&server, &format!("/traces?{range}")).await;
    assert_eq!(ids(&html), [t73.as_str()]);
    let (_, html) = get(&server, "/traces?window=1h").await;
    assert!(ids(&html).is_empty() && html.contains("No trace matches"));
    // Longest first over every match, a page at a time.
    let (_, html) = get(&server, "/traces?sort=duration").await;
    assert_eq!(ids(&html), [t71.as_str(), t72.as_str(), t73.as_str()]);
    assert!(
        html.contains("3 longest matching traces, longest first"),
        "{html}"
    );
    let (_, html) = get(&server, "/traces?sort=duration&limit=2").await;
    assert_eq!(ids(&html), [t71.as_str(), t72.as_str()]);
    assert!(
        html.contains("shorter traces →") && html.contains("offset=2"),
        "{html}"
    );
    assert!(
        html.contains("2 longest of 3 matching traces, longest first"),
        "{html}"
    );
    let (_, html) = get(&server, "/traces?sort=duration&limit=2&offset=2").await;
    assert_eq!(ids(&html), [t73.as_str()]);
    assert!(
        html.contains("matching trace 3 of 3, longest first"),
        "{html}"
    );
    assert!(!html.contains("shorter traces →"));
    let (status, json) = server
        .get_json("/api/v1/traces?sort=duration&limit=1&offset=1")
        .await;
    assert_eq!(status, 200);
    assert_eq!(json[0]["trace_id"], t72.as_str(), "{json}");
    let (status, _) = server.get_json("/api/v1/traces?sort=size").await;
    assert_eq!(status, 400);

    // htmx gets the rows alone.
    let (status, headers, partial) = server.page("/traces?service=checkout", true).await;
    assert_eq!(status, 200);
    assert!(
        !partial.contains("<html") && !partial.contains("<form"),
        "{partial}"
    );
    assert_eq!(ids(&partial), [t71.as_str(), t72.as_str()]);
    assert_eq!(headers["vary"], "HX-Request");
    server.stop().await;
}

#[tokio::test]
async fn trace_search_pages_back_with_an_older_link() {
    let mut server = Server::start().await;
    fixture(&server).await;
    let (status, html) = get(&server, "/traces?limit=1&service=").await;
    assert_eq!(status, 200);
    assert_eq!(rows(&html).len(), 1);
    assert!(
        html.contains("1 of 3 matching traces, newest first"),
        "{html}"
    );
    // Conditions on spans are not counted: the page says what it shows.
    let (_, by_span) = get(&server, "/traces?limit=1&operation=POST%20/checkout").await;
    assert!(
        by_span.contains("1 matching trace, newest first"),
        "{by_span}"
    );
    assert!(rows(&html)[0].contains(&trace_hex(73)));
    let end = T0 + SECOND;
    let older = format!("/traces?to={end}&limit=1");
    assert!(
        html.contains(&format!("<a href=\"{}\"", older.replace('&', "&amp;"))),
        "{html}"
    );
    let (status, html) = get(&server, &older).await;
    assert_eq!(status, 200);
    assert_eq!(rows(&html).len(), 1);
    assert!(rows(&html)[0].contains(&trace_hex(71)), "{html}");
    // The whole result fits: no older link.
    let (_, html) = get(&server, "/traces").await;
    assert!(!html.contains("older traces"), "{html}");
    server.stop().await;
}

#[tokio::test]
async fn bad_parameters_are_a_400_page_with_the_message() {
    let mut server = Server::start().await;
    for (path, message) in [
        ("/traces?status=maybe", "status must be any, error or ok"),
        ("/traces?min_ms=abc", "min_ms must be a number"),
        ("/traces?max_ms=-4", "max_ms must be a non-negative number"),
        ("/traces?attr=novalue", "attr must be key=value"),
        ("/traces?window=1w", "window must look like"),
        ("/traces?start=9&end=3", "start must be before end"),
        ("/traces?sort=name", "sort must be start or duration"),
        ("/traces?bogus=1", "unknown parameter"),
        ("/?window=1w", "window must look like"),
        ("/?start=5&end=5", "start must be before end"),
        (
            "/?end=abc",
            "end must be a time (Unix nanoseconds or RFC 3339)",
        ),
    ] {
        let (status, html) = get(&server, path).await;
        assert_eq!(status, 400, "{path}: {html}");
        assert!(html.contains("<html"), "{path}: a page");
        assert!(html.contains(message), "{path}: {html}");
        assert!(html.contains("role=\"alert\""), "{path}");
    }
    let (_, html) = get(&server, "/traces?status=maybe").await;
    assert!(html.contains("<form class=\"filters\""), "the form stays");
    // htmx does not swap 4xx answers: the partial says it with a 200.
    let (status, _, partial) = server.page("/traces?attr=x", true).await;
    assert_eq!(status, 200);
    assert!(partial.contains("attr must be key=value") && !partial.contains("<html"));
    server.stop().await;
}

#[tokio::test]
async fn telemetry_and_parameters_are_escaped() {
    let mut server = Server::start().await;
    let mut traces = support::traces(74);
    traces.resource_spans[0].resource = support::resource("<b>svc</b>");
    let spans = &mut traces.resource_spans[0].scope_spans[0].spans;
    spans[1].name = "<script>alert(1)</script>".into();
    post_traces(&server, traces).await;
    let (status, html) = get(&server, &format!("/?start={T0}&end={}", T0 + SECOND)).await;
    assert_eq!(status, 200);
    assert!(html.contains(">&lt;b&gt;svc&lt;/b&gt;<"), "{html}");
    assert!(html.contains("service=%3Cb%3Esvc%3C%2Fb%3E"), "{html}");
    assert!(!html.contains("<b>svc"));
    let (_, html) = get(&server, "/traces").await;
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("<option value=\"&lt;b&gt;svc&lt;/b&gt;\">"),
        "{html}"
    );
    assert!(!html.contains("<script>alert") && !html.contains("<b>svc"));
    // What the URL carries comes back escaped too, in the form and errors.
    let (_, html) = get(&server, "/traces?operation=%22%3E%3Cimg+src%3Dx%3E").await;
    assert!(
        html.contains("value=\"&quot;&gt;&lt;img src=x&gt;\""),
        "{html}"
    );
    assert!(!html.contains("<img"));
    let (status, html) = get(&server, "/traces?attr=x%3D%3Cimg+src%3Dx%3E").await;
    assert_eq!(status, 200, "x=<img src=x> is a well-formed filter");
    assert!(!html.contains("<img"));
    let (status, html) = get(&server, "/traces?attr=%3Cimg+src%3Dx%3E").await;
    assert_eq!(status, 400, "<img src=x> has no key");
    assert!(!html.contains("<img"));
    let (status, html) = get(&server, "/traces?status=%3Cimg%3E").await;
    assert_eq!(status, 400);
    assert!(
        html.contains("got &quot;&lt;img&gt;&quot;") && !html.contains("<img"),
        "{html}"
    );
    server.stop().await;
}

#[tokio::test]
async fn every_spelling_of_a_window_shows_the_same_range_and_links_the_new_names() {
    let mut server = Server::start().await;
    fixture(&server).await;
    let range = "2023-11-14 22:13:20.000 – 2023-11-14 22:13:30.000 UTC";
    for window in crate::roundtrip::window_spellings() {
        for page in ["/", "/reports/load", "/reports/cost", "/map", "/failures"] {
            let (status, html) = get(&server, &format!("{page}?{window}")).await;
            assert_eq!(status, 200, "{page}?{window}: {html}");
            if page != "/failures" {
                assert!(html.contains(range), "{page}?{window}: {html}");
            }
            for old in ["since=", "until=", "start=", "end="] {
                assert!(!html.contains(old), "{page}?{window} links {old}: {html}");
            }
        }
        // The search shows what started in the window, and its links
        // carry it under the new names.
        let (status, html) = get(&server, &format!("/traces?{window}&limit=1")).await;
        assert_eq!(status, 200, "{window}: {html}");
        assert_eq!(rows(&html).len(), 1, "{window}: {html}");
        assert!(html.contains("older traces"), "{window}: {html}");
        for old in ["since=", "until=", "start=", "end="] {
            assert!(!html.contains(old), "/traces?{window} links {old}: {html}");
        }
    }
    // The services page links its window to the search as it was given.
    let (_, html) = get(&server, &format!("/?since=10s&until={}", T0 + 10 * SECOND)).await;
    assert!(
        html.contains(&format!(
            "href=\"/traces?service=checkout&amp;window=10s&amp;to={}\"",
            T0 + 10 * SECOND
        )),
        "{html}"
    );
    for (window, message) in crate::roundtrip::WINDOW_CONFLICTS {
        for page in ["/", "/traces", "/logs", "/reports/load", "/map"] {
            let (status, html) = get(&server, &format!("{page}?{window}")).await;
            assert_eq!(status, 400, "{page}?{window}: {html}");
            assert!(html.contains(message), "{page}?{window}: {html}");
        }
    }
    server.stop().await;
}

/// The navigation marks the page one is on, and only that one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_navigation_marks_the_current_page() {
    let mut server = crate::support::Server::start().await;
    for (path, entry) in [
        ("/", r#"<a href="/" aria-current="page">Services</a>"#),
        (
            "/traces",
            r#"<a href="/traces" aria-current="page">Traces</a>"#,
        ),
        (
            "/reports/cost",
            r#"<a href="/reports/cost" aria-current="page">Cost</a>"#,
        ),
    ] {
        let (status, _, page) = server.page(path, false).await;
        assert_eq!(status, 200, "{path}");
        let header = &page[page.find("<header").unwrap()..page.find("</header>").unwrap()];
        assert!(header.contains(entry), "{path}: {header}");
        assert_eq!(header.matches("aria-current").count(), 1, "{path}");
    }
    server.stop().await;
}

/// `sort=duration` ranks traces by the latency their caller saw (the entry
/// span), not by their whole envelope: a slow answer comes above a fast
/// one whose consumer worked on long after it answered.
#[tokio::test]
async fn sorting_by_duration_puts_the_slow_answer_above_the_async_tail() {
    let mut server = Server::start().await;
    let ms = 1_000_000;
    let answer = |seed: u8, answered_ms: u64| {
        let mut traces = ok_trace(seed);
        let root = &mut traces.resource_spans[0].scope_spans[0].spans[0];
        root.end_time_unix_nano = root.start_time_unix_nano + answered_ms * ms;
        traces
    };
    let slow = answer(81, 900);
    let mut tailed = answer(82, 200);
    let spans = &mut tailed.resource_spans[0].scope_spans[0].spans;
    let start = spans[0].start_time_unix_nano;
    spans.push(opentelemetry_proto::tonic::trace::v1::Span {
        trace_id: support::trace_id(82),
        span_id: support::span_id(82, 7),
        parent_span_id: support::span_id(82, 1),
        name: "notify order".into(),
        kind: opentelemetry_proto::tonic::trace::v1::span::SpanKind::Consumer as i32,
        start_time_unix_nano: start + 300 * ms,
        end_time_unix_nano: start + 1_500 * ms,
        ..Default::default()
    });
    post_traces(&server, tailed).await;
    post_traces(&server, slow).await;

    let window = format!("since={T0}&until={}", T0 + 60 * SECOND);
    let (status, found) = server
        .get_json(&format!("/api/v1/traces?{window}&sort=duration"))
        .await;
    assert_eq!(status, 200, "{found}");
    let found: Vec<(String, i64, i64)> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["trace_id"].as_str().unwrap().to_owned(),
                t["duration_ns"].as_i64().unwrap(),
                t["trace_duration_ns"].as_i64().unwrap(),
            )
        })
        .collect();
    let ms = ms as i64;
    assert_eq!(
        found,
        [
            (trace_hex(81), 900 * ms, 900 * ms),
            (trace_hex(82), 200 * ms, 1_500 * ms)
        ]
    );
    for (filter, want) in [
        ("min_duration_ms=500", trace_hex(81)),
        ("max_duration_ms=500", trace_hex(82)),
        ("min_trace_duration_ms=1000", trace_hex(82)),
    ] {
        let (_, found) = server
            .get_json(&format!("/api/v1/traces?{window}&{filter}"))
            .await;
        let ids: Vec<&str> = found
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["trace_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [want.as_str()], "{filter}");
    }

    let (status, page) = get(&server, &format!("/traces?{window}&sort=duration")).await;
    assert_eq!(status, 200);
    let rows = rows(&page);
    assert_eq!(rows.len(), 2, "{page}");
    assert!(rows[0].contains(&trace_hex(81)), "{}", rows[0]);
    assert!(
        rows[1].contains(">200 ms</span>")
            && rows[1].contains("<div class=\"tail\">trace 1.50 s, async tail</div>"),
        "{}",
        rows[1]
    );
    assert!(!rows[0].contains("async tail"), "{}", rows[0]);
    server.stop().await;
}

/// The load report's percentiles of an endpoint and trace search's
/// durations measure the same span, the entry span, so they agree (within
/// the sketches' 1 %), however long the traces' asynchronous tails.
#[tokio::test]
async fn the_load_reports_percentiles_agree_with_the_searchs_durations() {
    let mut server = Server::start().await;
    let ms = 1_000_000;
    for i in 1..=20u8 {
        let mut traces = ok_trace(100 + i);
        let spans = &mut traces.resource_spans[0].scope_spans[0].spans;
        let start = spans[0].start_time_unix_nano + u64::from(i) * SECOND;
        spans[0].start_time_unix_nano = start;
        spans[0].end_time_unix_nano = start + u64::from(i) * 10 * ms;
        spans.push(opentelemetry_proto::tonic::trace::v1::Span {
            trace_id: support::trace_id(100 + i),
            span_id: support::span_id(100 + i, 7),
            parent_span_id: support::span_id(100 + i, 1),
            name: "notify".into(),
            kind: opentelemetry_proto::tonic::trace::v1::span::SpanKind::Producer as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: start + 3 * SECOND,
            ..Default::default()
        });
        post_traces(&server, traces).await;
    }
    let window = format!("since={T0}&until={}", T0 + 60 * SECOND);
    let (_, found) = server
        .get_json(&format!("/api/v1/traces?{window}&sort=duration&limit=100"))
        .await;
    let mut durations: Vec<i64> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["duration_ns"].as_i64().unwrap())
        .collect();
    durations.sort_unstable();
    assert_eq!(durations.len(), 20);
    // Nearest rank, as the report computes them.
    let rank = |q: f64| durations[(q * 20.0).ceil() as usize - 1];
    let (_, report) = server
        .get_json(&format!("/api/v1/reports/load?{window}"))
        .await;
    let endpoints = report["endpoints"].as_array().unwrap();
    let row = endpoints
        .iter()
        .find(|r| r["service"] == "inventory" && r["requests"] == 20)
        .unwrap_or_else(|| panic!("{endpoints:?}"));
    for (name, q) in [("p50_ns", 0.5), ("p95_ns", 0.95), ("p99_ns", 0.99)] {
        let reported = row[name].as_i64().unwrap() as f64;
        let searched = rank(q) as f64;
        assert!(
            (reported - searched).abs() <= searched * 0.01,
            "{name}: the report says {reported}, the search {searched}"
        );
    }
    server.stop().await;
}

/// An endpoint of the load report leads to its slowest and its failed
/// requests, in the same window.
#[tokio::test]
async fn a_load_report_endpoint_leads_to_its_slowest_and_failed_traces() {
    let mut server = Server::start().await;
    fixture(&server).await;
    let window = format!("since={T0}&until={}", T0 + 60 * SECOND);
    let (status, html) = get(&server, &format!("/reports/load?{window}")).await;
    assert_eq!(status, 200, "{html}");
    let link = |title: &str| -> String {
        let end = html
            .find(&format!("\" title=\"{title}\""))
            .unwrap_or_else(|| panic!("a link titled {title}: {html}"));
        let start = html[..end].rfind("href=\"").unwrap() + 6;
        html[start..end].replace("&amp;", "&")
    };
    let slowest = link("its requests, slowest first");
    assert_eq!(
        slowest,
        format!(
            "/traces?service=checkout&operation=POST%20%2Fcheckout&from={T0}&to={}&sort=duration",
            T0 + 60 * SECOND
        )
    );
    let failed = link("its failed requests");
    assert!(failed.ends_with("&status=error"), "{failed}");
    for href in [slowest, failed] {
        let (status, page) = get(&server, &href).await;
        assert_eq!(status, 200, "{href}");
        let found: Vec<&str> = rows(&page)
            .into_iter()
            .filter(|r| r.contains("href=\"/traces/"))
            .collect();
        assert_eq!(found.len(), 2, "{href}: {page}");
        for seed in [71, 72] {
            assert!(page.contains(&trace_hex(seed)), "{href}: {seed}");
        }
    }
    server.stop().await;
}
