//! A service's page, the window every page keeps, date-time values, and
//! the links from calls between services to their traces, through the real
//! server fed the load report's checkouts (gateway → orders → payments).

use crate::reports::{self, MS};
use crate::support::{self, Server, T0};

const HOUR: u64 = 3_600_000 * MS;

/// The hour of the fixtures, as parameters and as a page writes them in
/// an attribute.
fn window() -> (String, String) {
    let w = format!("from={T0}&to={}", T0 + HOUR);
    let amp = w.replace('&', "&amp;");
    (w, amp)
}

#[tokio::test]
async fn a_service_page_shows_red_over_time_its_calls_failures_and_logs() {
    let server = Server::start().await;
    reports::seed(&server).await;
    let (w, amp) = window();
    let (status, _, html) = server.page(&format!("/services/orders?{w}"), false).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(
        html.matches("<figure class=\"time-chart\">").count(),
        3,
        "{html}"
    );
    for needle in [
        "<figcaption>Requests per second</figcaption>",
        "<figcaption>Failed requests</figcaption>",
        "<figcaption>Latency</figcaption>",
        // The charts cover the window and zoom within it.
        &format!("data-from=\"{}\"", T0 / 1_000_000),
        "data-datetime=\"2023-11-14T22:20:00.000Z\">22:20<",
        // p50, p95 and p99 have a legend.
        "<span class=\"key l2\">p99</span>",
        // Its endpoint, with its slowest requests.
        "<td class=\"op\">POST /orders <span class=\"drill\">",
        // Called by the gateway, calls payments: each call leads to the
        // traces with both ends.
        &format!("href=\"/traces?service=gateway&amp;also_service=orders&amp;{amp}\""),
        &format!("href=\"/traces?service=orders&amp;also_service=payments&amp;{amp}\""),
        &format!("href=\"/services/gateway?{amp}\""),
        // The checkout that failed, where it failed: further down.
        "payments</span> POST /charge</td>",
        // Its log records by severity, each opening the logs page.
        &format!("href=\"/logs?service=orders&amp;severity=9&amp;{amp}\">INFO<"),
        // The range form shows the window.
        "name=\"from\" step=\"1\" value=\"2023-11-14T22:13:20\"",
        "<form class=\"range\" method=\"get\" action=\"/services/orders\">",
    ] {
        assert!(html.contains(needle), "{needle} in {html}");
    }
    // The services overview leads there.
    let (_, _, overview) = server.page(&format!("/?{w}"), false).await;
    assert!(
        overview.contains(&format!("href=\"/services/orders?{amp}\"")),
        "{overview}"
    );
    // A service that never sent anything, and a wrong window.
    let (status, _, _) = server.page("/services/nobody", false).await;
    assert_eq!(status, 404);
    let (status, _, html) = server.page("/services/orders?window=1w", false).await;
    assert_eq!(status, 400);
    assert!(html.contains("window must look like"), "{html}");
}

#[tokio::test]
async fn the_navigation_keeps_the_window_of_the_page() {
    let server = Server::start().await;
    let (w, amp) = window();
    for (page, keep) in [
        ("/failures?window=6h".to_owned(), "?window=6h".to_owned()),
        // Old names are carried under the current ones.
        ("/traces?since=15m".to_owned(), "?window=15m".to_owned()),
        (format!("/?{w}"), format!("?{amp}")),
        ("/reports/load?service=payments".to_owned(), String::new()),
        ("/system".to_owned(), String::new()),
    ] {
        let (status, _, html) = server.page(&page, false).await;
        assert_eq!(status, 200, "{page}: {html}");
        for entry in ["/traces", "/logs", "/failures", "/reports/load", "/map"] {
            assert!(
                html.contains(&format!("href=\"{entry}{keep}\"")),
                "{page} links {entry}{keep}"
            );
        }
    }
}

#[tokio::test]
async fn date_time_input_values_and_a_second_service_select_traces() {
    let server = Server::start().await;
    reports::seed(&server).await;
    let count = |body: &serde_json::Value| body.as_array().map_or(0, Vec::len);
    // T0 is 22:13:20 UTC; the checkouts start a second or two later. A
    // date-time input's value (no seconds, no offset) is UTC.
    for (query, expected) in [
        ("from=2023-11-14T22:13&to=2023-11-14T22:14", 3),
        ("from=2023-11-14T22:13&to=2023-11-14T22:13:20", 0),
        ("from=2023-11-14T23:13:20.5", 0),
    ] {
        let (status, body) = server.get_json(&format!("/api/v1/traces?{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(count(&body), expected, "{query}: {body}");
    }
    let (w, _) = window();
    for (query, expected) in [
        ("service=gateway&also_service=payments", 2),
        ("service=payments&also_service=gateway&status=error", 1),
        ("service=gateway&also_service=nobody", 0),
    ] {
        let (status, body) = server
            .get_json(&format!("/api/v1/traces?{query}&{w}"))
            .await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(count(&body), expected, "{query}: {body}");
    }
    // The page keeps the second service in its form.
    let (_, _, html) = server
        .page(
            &format!("/traces?service=gateway&also_service=payments&{w}"),
            false,
        )
        .await;
    assert!(
        html.contains("name=\"also_service\" value=\"payments\""),
        "{html}"
    );
}

#[tokio::test]
async fn calls_between_services_lead_to_their_traces() {
    let server = Server::start().await;
    reports::seed(&server).await;
    let (w, amp) = window();
    // On the map, each call opens the traces with both ends; its label sits
    // at the middle of its curve.
    let (_, _, map) = server.page(&format!("/map?{w}"), false).await;
    assert!(
        map.contains(&format!(
            "href=\"/traces?service=gateway&amp;also_service=orders&amp;{amp}\""
        )),
        "{map}"
    );
    assert!(map.contains("text-anchor=\"middle\""), "{map}");
    // In the load report: the edges, a critical-path row and a downstream
    // row lead to traces.
    let (_, _, load) = server.page(&format!("/reports/load?{w}"), false).await;
    for needle in [
        format!("href=\"/traces?service=orders&amp;also_service=payments&amp;{amp}\""),
        format!(
            "href=\"/traces?service=payments&amp;operation=POST%20%2Fcharge&amp;also_service=gateway&amp;{amp}&amp;sort=duration\""
        ),
        format!(
            "href=\"/traces?service=gateway&amp;operation=POST%20%2Fcheckout&amp;also_service=payments&amp;{amp}&amp;sort=duration\""
        ),
    ] {
        assert!(load.contains(&needle), "{needle} in {load}");
    }
}

#[tokio::test]
async fn a_trace_page_names_its_request_and_links_the_request_view() {
    let server = Server::start().await;
    server
        .export(
            "/v1/traces",
            prost::Message::encode_to_vec(&support::traces(71)),
        )
        .await;
    let trace = hex::encode(support::trace_id(71));
    let (status, _, html) = server.page(&format!("/traces/{trace}"), false).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Request <code>req-71</code> · <a href=\"/requests/req-71\">"),
        "{html}"
    );
    // Its start is a time the page's script shows in the reader's zone.
    assert!(
        html.contains("<time datetime=\"2023-11-14T22:13:20.000Z\">2023-11-14 22:13:20.000</time>"),
        "{html}"
    );
}

#[tokio::test]
async fn trace_rows_say_how_the_request_went_and_lead_to_it() {
    let server = Server::start().await;
    server
        .export(
            "/v1/traces",
            prost::Message::encode_to_vec(&support::traces(71)),
        )
        .await;
    let window = format!("start={T0}&end={}", T0 + 10_000 * MS);
    let (status, body) = server.get_json(&format!("/api/v1/traces?{window}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["http_status_code"], 502, "{body}");
    assert_eq!(body[0]["request_id"], "req-71", "{body}");
    assert_eq!(body[0]["error_message"], "insufficient funds", "{body}");
    let (_, _, html) = server.page(&format!("/traces?{window}"), false).await;
    for needle in [
        "<span class=\"code err\">502</span>",
        "<span class=\"msg err\" title=\"insufficient funds\">insufficient funds</span>",
        "<a href=\"/requests/req-71\" title=\"request req-71: every attempt, with its logs\"><code>req-71</code></a>",
    ] {
        assert!(html.contains(needle), "{needle} in {html}");
    }
}

/// A request of `api`'s `GET /items`: `slow` ones take 500 ms and missed
/// the cache on host h2; the others take 20 ms, on hosts h0 to h3, and
/// missed the cache one time in ten.
fn item_request(seed: u8, slow: bool) -> Vec<u8> {
    let mut traces = support::traces(seed);
    let rs = &mut traces.resource_spans[0];
    let host = if slow {
        "h2".to_owned()
    } else {
        format!("h{}", seed % 4)
    };
    let mut resource = support::resource("api").unwrap();
    resource
        .attributes
        .push(support::kv("host.name", support::s(&host)));
    rs.resource = Some(resource);
    let spans = &mut rs.scope_spans[0].spans;
    spans.remove(0); // the failing child
    let root = &mut spans[0];
    root.name = "GET /items".into();
    root.status = None;
    let start = T0 + u64::from(seed) * 1_000 * MS;
    root.start_time_unix_nano = start;
    root.end_time_unix_nano = start + if slow { 500 } else { 20 } * MS;
    let hit = !slow && seed % 10 != 3;
    root.attributes = vec![
        support::kv(
            "cache.hit",
            opentelemetry_proto::tonic::common::v1::any_value::Value::BoolValue(hit),
        ),
        support::kv("user.id", support::s(&format!("user-{seed}"))),
    ];
    prost::Message::encode_to_vec(&traces)
}

#[tokio::test]
async fn what_sets_slow_requests_apart_ranks_the_planted_cause_first() {
    let server = Server::start().await;
    for seed in 1..=40u8 {
        server
            .export("/v1/traces", item_request(seed, seed % 5 == 0))
            .await;
    }
    let (w, amp) = window();
    let (status, c) = server
        .get_json(&format!(
            "/api/v1/compare?service=api&operation=GET%20/items&min_duration_ms=400&{w}"
        ))
        .await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["selection"]["traces"], 8, "{c}");
    assert_eq!(c["baseline"]["traces"], 32, "{c}");
    let top = &c["differences"][0];
    assert_eq!(
        (&top["key"], &top["value"]),
        (&"cache.hit".into(), &"false".into()),
        "{c}"
    );
    // 8 of 8 missed the cache, 4 of 32 others did.
    assert_eq!(
        (&top["selection_traces"], &top["baseline_traces"]),
        (&8.into(), &4.into()),
        "{c}"
    );
    assert_eq!(c["differences"][1]["value"], "h2", "{c}");
    assert_eq!(c["high_cardinality"], serde_json::json!(["user.id"]), "{c}");
    // The page, reached from the load report's "why slow".
    let (_, _, load) = server.page(&format!("/reports/load?{w}"), false).await;
    let link = "/compare?service=api&amp;operation=GET%20%2Fitems&amp;min_span_duration_ms=";
    assert!(load.contains(link), "{load}");
    let (status, _, page) = server
        .page(
            &format!("/compare?service=api&operation=GET%20/items&min_duration_ms=400&{w}"),
            false,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<td><code>cache.hit</code></td><td class=\"op\">false</td>"),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "href=\"/compare?service=api&amp;operation=GET%20%2Fitems&amp;min_duration_ms=400&amp;attr=cache.hit%3Dfalse&amp;{amp}\""
        )),
        "{page}"
    );
    let (status, _) = server
        .get_json("/api/v1/compare?min_duration_ms=soon")
        .await;
    assert_eq!(status, 400);
}

/// A checkout (seed's trace) whose charge is called `charges` times, each
/// call 20 ms, one after another, `seed` seconds after T0; the checkout
/// spends 30 ms of its own.
fn checkout_calling(seed: u8, charges: u8) -> Vec<u8> {
    let mut traces = support::traces(seed);
    let spans = &mut traces.resource_spans[0].scope_spans[0].spans;
    let base = T0 + u64::from(seed) * 1_000 * MS;
    let mut charge = spans.remove(0);
    let mut root = spans.remove(0);
    root.start_time_unix_nano = base;
    // The charges take all the time the checkout spends waiting.
    root.end_time_unix_nano = base + (30 + 20 * u64::from(charges)) * MS;
    for i in 0..charges {
        charge.span_id = support::span_id(seed, 10 + i);
        charge.start_time_unix_nano = base + (10 + 20 * u64::from(i)) * MS;
        charge.end_time_unix_nano = charge.start_time_unix_nano + 20 * MS;
        spans.push(charge.clone());
    }
    spans.push(root);
    prost::Message::encode_to_vec(&traces)
}

#[tokio::test]
async fn a_trace_against_a_typical_one_shows_its_extra_calls_first() {
    let server = Server::start().await;
    // Three typical checkouts, one charge each; one with four.
    for seed in 1..=3u8 {
        server.export("/v1/traces", checkout_calling(seed, 1)).await;
    }
    server.export("/v1/traces", checkout_calling(9, 4)).await;
    let odd = hex::encode(support::trace_id(9));
    let (status, d) = server
        .get_json(&format!("/api/v1/traces/{odd}/compare"))
        .await;
    assert_eq!(status, 200, "{d}");
    assert_ne!(d["typical_trace_id"], odd.as_str(), "{d}");
    // The latency each caller saw: 110 ms against 50 ms.
    assert_eq!(
        (&d["duration_ns"], &d["typical_duration_ns"]),
        (&(110 * MS).into(), &(50 * MS).into()),
        "{d}"
    );
    let top = &d["paths"][0];
    assert_eq!(
        top["path"],
        serde_json::json!(["checkout › POST /checkout", "checkout › POST /charge"]),
        "{d}"
    );
    assert_eq!(
        (&top["kind"], &top["calls"], &top["typical_calls"]),
        (&"more_calls".into(), &4.into(), &1.into()),
        "{d}"
    );
    // 80 ms of charges against 20.
    assert_eq!(
        (&top["self_ns"], &top["typical_self_ns"]),
        (&(80 * MS).into(), &(20 * MS).into()),
        "{d}"
    );
    // Named: against the first checkout.
    let first = hex::encode(support::trace_id(1));
    let (status, d) = server
        .get_json(&format!("/api/v1/traces/{odd}/compare?with={first}"))
        .await;
    assert_eq!(
        (status, d["typical_trace_id"].as_str()),
        (200, Some(first.as_str())),
        "{d}"
    );
    let (status, _) = server
        .get_json(&format!("/api/v1/traces/{odd}/compare?with=nonsense"))
        .await;
    assert_eq!(status, 400);
    // The page, linked from the trace's.
    let (_, _, trace) = server.page(&format!("/traces/{odd}"), false).await;
    assert!(
        trace.contains(&format!(
            "<a href=\"/traces/{odd}/compare\">compare with a typical trace</a>"
        )),
        "{trace}"
    );
    let (status, _, page) = server.page(&format!("/traces/{odd}/compare"), false).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<td class=\"op\" title=\"checkout › POST /checkout  ›  checkout › POST /charge\">checkout › POST /checkout  ›  checkout › POST /charge</td><td class=\"muted\">more calls</td><td class=\"num\">4 · 1</td>"),
        "{page}"
    );
}
