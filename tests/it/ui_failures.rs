//! The failures page: failed requests grouped where they started.

use crate::support::{self, Server};
use crate::ui::{assert_security_headers, get, named_entities, send};

#[tokio::test]
async fn failures_page_groups_requests_at_their_origin() {
    let mut server = Server::start().await;
    for seed in 1..=2 {
        send(&server, seed).await;
    }
    let window = format!("start={}&end={}", support::T0, support::T0 + 1_000_000_000);
    let (status, headers, html) = get(&server, &format!("/failures?{window}")).await;
    assert_eq!(status, 200, "{html}");
    assert_security_headers(&headers, "/failures");
    let html = named_entities(html);
    assert!(html.contains("2 failed traces examined"), "{html}");
    assert_eq!(
        html.matches("<tr>").count(),
        2,
        "a header and one group: {html}"
    );
    for text in [
        "checkout",
        "POST /charge",
        "CardDeclined",
        "checkout › POST /checkout (2)",
        "<polyline points=",
    ] {
        assert!(html.contains(text), "{text:?} in {html}");
    }
    // Each example opens the request view, saying when, how long the
    // caller waited and what the origin said.
    let example = format!(
        "<a href=\"/requests/req-{}\" title=\"insufficient funds · request req-{0}\"><time class=\"time\" datetime=\"2023-11-14T22:13:20.000Z\">22:13:20</time> · 502 after 250 ms · <code>req-{0}</code></a>",
        1
    );
    assert!(html.contains(&example), "{example} in {html}");
    // And the group asks what sets its failures apart from the other
    // traces through the operation.
    assert!(
        html.contains(">why</a>")
            && html.contains("href=\"/compare?service=checkout&amp;operation=POST%20%2Fcharge&amp;status=error&amp;"),
        "{html}"
    );

    // The count leads to the failed traces through the origin's operation.
    let end = html
        .find("\" title=\"the failed traces through POST /charge")
        .unwrap_or_else(|| panic!("{html}"));
    let start = html[..end].rfind("href=\"").unwrap() + 6;
    let href = html[start..end].replace("&amp;", "&");
    assert!(
        href.starts_with("/traces?service=checkout&operation=POST%20%2Fcharge&status=error&"),
        "{href}"
    );
    let (status, _, traces) = get(&server, &href).await;
    assert_eq!(status, 200);
    for seed in [1, 2] {
        let id = hex::encode(support::trace_id(seed));
        assert!(
            traces.contains(&format!("href=\"/traces/{id}\"")),
            "{traces}"
        );
    }

    let (status, _, html) = get(&server, "/failures?window=1h").await;
    assert_eq!(status, 200);
    assert!(html.contains("No failed requests in this window."));

    let (status, _, html) = get(&server, "/failures?window=soon").await;
    assert_eq!(status, 400);
    assert!(named_entities(html).contains("window must look like 15m, 1h or 7d"));
    server.stop().await;
}
