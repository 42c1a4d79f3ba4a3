//! `loupe demo --duration 20` against a `loupe serve` on port 0: after it,
//! every page has something to show, and what the demo says it sent is
//! what was stored.

use serde_json::Value;

use crate::support::Server;

fn number_after(text: &str, marker: &str) -> u64 {
    let rest = &text[text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} in {text}"))
        + marker.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a number after {marker:?} in {text}"))
}

fn services_of(rows: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = rows
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|row| row["service"].as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The server asks for an ingest key, which the demo sends.
#[tokio::test(flavor = "multi_thread")]
async fn a_demo_run_fills_every_page_and_loses_nothing() {
    const KEY: &str = "demo-0123456789abcdef";
    let mut server =
        Server::start_with(|c| c.ingest_keys = vec![loupe::cli::Secret(KEY.into())]).await;
    let (otlp, ui) = (server.otlp_url.clone(), server.ui_url.clone());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_loupe"))
            .args(["demo", "--endpoint", &otlp, "--ui", &ui, "--duration", "20"])
            .args(["--ingest-key", KEY])
            // Less history than the hour a user gets: enough for every page.
            .args(["--backfill", "15m"])
            .output()
            .expect("loupe demo runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "loupe demo: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // History first, then twenty seconds live; every item acknowledged is stored.
    let history = number_after(&stdout, "of history: ");
    let last = &stdout[stdout.find("demo stopped: ").expect("a last line")..];
    let sent = number_after(last, "sent ");
    assert!(history > 1000, "{stdout}");
    assert!(sent > history, "the live part sent requests too: {stdout}");
    let stats = server.stats().await;
    assert_eq!(
        stats["spans"].as_u64(),
        Some(number_after(last, "requests, ")),
        "{stdout}\n{stats}"
    );
    assert_eq!(stats["services"], 5);
    assert!(stats["metric_points"].as_u64() > Some(0));
    assert!(
        stdout.contains(&format!("open {}", server.ui_url)),
        "{stdout}"
    );

    let all = ["gateway", "inventory", "notifier", "orders", "payments"];
    let (status, services) = server.get_json("/api/v1/services").await;
    assert_eq!(status, 200);
    assert_eq!(services_of(&services["services"]), all);

    // Failures count once, where they started: payments' card network or
    // inventory's deadlock, never the services they travelled through.
    let (_, failures) = server.get_json("/api/v1/failures").await;
    let groups = failures["groups"].as_array().expect("groups");
    let top = &groups[0];
    assert_eq!(
        (&top["service"], &top["operation"], &top["error"]),
        (
            &Value::from("payments"),
            &Value::from("POST /v1/authorizations"),
            &Value::from("httpx.ReadTimeout")
        ),
        "{failures}"
    );
    for group in groups {
        assert!(
            matches!(group["service"].as_str(), Some("payments" | "inventory")),
            "{group}"
        );
    }

    let (status, load) = server.get_json("/api/v1/reports/load?since=1h").await;
    assert_eq!(status, 200, "{load}");
    assert_eq!(services_of(&load["services"]), all);
    let edges = load["edges"].as_array().expect("edges");
    let edge = |caller: &str, callee: &str| {
        edges
            .iter()
            .find(|e| e["caller"] == caller && e["callee"] == callee)
            .unwrap_or_else(|| panic!("edge {caller} -> {callee} in {edges:?}"))
    };
    assert_eq!(edge("orders", "notifier")["kind"], "async");
    assert_eq!(edge("orders", "payments")["kind"], "sync");
    assert!(
        load["repeated_calls"]
            .as_array()
            .expect("repeated calls")
            .iter()
            .any(|r| r["service"] == "inventory" && r["child_operation"] == "SELECT shop.stock"),
        "the N+1 is flagged: {}",
        load["repeated_calls"]
    );

    let (status, cost) = server.get_json("/api/v1/reports/cost?since=1h").await;
    assert_eq!(status, 200, "{cost}");
    assert_eq!(services_of(&cost["services"]), all);
    assert!(
        cost["total"]["wire_bytes"].as_u64() > Some(0),
        "{}",
        cost["total"]
    );

    // The request id the demo suggests: its traces (a failed checkout, and
    // the retry if the client made one) and its logs, the access log found
    // by request id alone.
    let request_id = stdout
        .split("try request id ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("a request id to try in {stdout}"));
    let (status, story) = server
        .get_json(&format!("/api/v1/requests/{request_id}"))
        .await;
    assert_eq!(status, 200, "{story}");
    assert!(!story["trace_ids"].as_array().expect("trace ids").is_empty());
    assert!(
        matches!(
            story["error_origin"]["service"].as_str(),
            Some("payments" | "inventory")
        ),
        "{}",
        story["error_origin"]
    );
    let logs = story["logs"].as_array().expect("logs");
    assert!(
        logs.iter()
            .any(|l| l["matched_by"] == "request_id" && l["trace_id"].is_null()),
        "{logs:?}"
    );

    let (_, metrics) = server.get_json("/api/v1/metrics").await;
    let names: Vec<&str> = metrics
        .as_array()
        .expect("metrics")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    for name in [
        "http.server.request.duration",
        "process.memory.usage",
        "shop.orders.placed",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }

    for page in [
        "/",
        "/traces",
        "/failures",
        "/logs",
        "/map",
        "/reports/load",
        "/reports/cost",
        "/metrics-explorer",
    ] {
        let (status, _, _) = server.page(page, false).await;
        assert_eq!(status, 200, "{page}");
    }
    server.stop().await;
}
