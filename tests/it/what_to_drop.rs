//! The cost report's "what to drop", through the real server: an attribute
//! that carries one value on every span of its trace is named, measured
//! and linked to the traces that carry it.

use prost::Message as _;

use crate::support::{self, Server, T0};

#[tokio::test]
async fn an_attribute_repeated_on_every_span_of_a_trace_is_named() {
    let server = Server::start().await;
    for seed in 1..=6u8 {
        let mut traces = support::traces(seed);
        for span in &mut traces.resource_spans[0].scope_spans[0].spans {
            span.attributes
                .push(support::kv("tenant", support::s(&format!("tenant-{seed}"))));
        }
        server.export("/v1/traces", traces.encode_to_vec()).await;
    }
    let window = format!("from={T0}&to={}", T0 + 60_000_000_000);
    let (status, report) = server
        .get_json(&format!("/api/v1/reports/cost?{window}"))
        .await;
    assert_eq!(status, 200, "{report}");
    let drops = report["what_to_drop"].as_array().unwrap();
    let tenant = drops
        .iter()
        .find(|d| d["kind"] == "repeated_attribute")
        .unwrap_or_else(|| panic!("{drops:?}"));
    assert_eq!(tenant["what"], "tenant", "{tenant}");
    // One copy past one in each of six traces of two spans: "tenant" and
    // "\"tenant-1\"" are 16 bytes, scaled by the whole sample (1).
    assert_eq!(tenant["wire_bytes"], 6 * 16, "{tenant}");
    // The request id repeats too, and is never offered.
    assert!(drops.iter().all(|d| d["what"] != "request_id"), "{drops:?}");
    let (_, _, page) = server.page(&format!("/reports/cost?{window}"), false).await;
    let amp = window.replace('&', "&amp;");
    assert!(
        page.contains(&format!("href=\"/traces?attr=tenant%21%3D&amp;{amp}\"")),
        "{page}"
    );
    assert!(
        page.contains("same value on every span of a trace"),
        "{page}"
    );
}
