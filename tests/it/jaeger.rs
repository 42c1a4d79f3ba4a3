//! Jaeger's query API, golden: the answers' shapes are those of Jaeger's
//! query service, from its source: `cmd/query/app/http_handler.go` (the
//! `structuredResponse` envelope `{"data","total","limit","offset","errors"}`,
//! errors `{"code","msg"}`, 404 for a trace not found, 400 for a bad id) and
//! `model/json/model.go` (a trace `{"traceID","spans","processes","warnings"}`,
//! a span `{"traceID","spanID","flags","operationName","references",
//! "startTime","duration","tags","logs","processID","warnings"}` with times
//! in microseconds, a reference `{"refType","traceID","spanID"}` of
//! `CHILD_OF` or `FOLLOWS_FROM`, a tag `{"key","type","value"}` of type
//! string, bool, int64, float64 or binary, a log `{"timestamp","fields"}`,
//! a process `{"serviceName","tags"}`); OpenTelemetry's data mapped as
//! Jaeger's OTLP translator maps it (`span.kind`, `otel.status_code`,
//! `error`, `otel.status_description`, `otel.scope.name`, the event's name
//! as the log's `event` field).

use prost::Message as _;
use serde_json::json;

use crate::support::{self, Server};

#[tokio::test]
async fn grafana_reads_services_and_a_trace_as_jaeger_answers_them() {
    as_jaeger_answers(Server::start().await).await;
}

#[tokio::test]
async fn grafana_reads_services_and_a_trace_as_jaeger_answers_them_postgres() {
    let Some((url, admin_url)) = support::fresh_postgres("jaeger").await else {
        return;
    };
    as_jaeger_answers(Server::start_with(|c| c.database_url = url.clone()).await).await;
    support::drop_postgres(&admin_url, &url).await;
}

async fn as_jaeger_answers(mut server: Server) {
    server
        .export("/v1/traces", support::traces(9).encode_to_vec())
        .await;
    let (status, services) = server.get_json("/jaeger/api/services").await;
    assert_eq!(status, 200);
    assert_eq!(
        services,
        json!({"data": ["checkout"], "total": 1, "limit": 0, "offset": 0, "errors": null})
    );
    let id = hex::encode(support::trace_id(9));
    let (status, body) = server.get_json(&format!("/jaeger/api/traces/{id}")).await;
    assert_eq!(status, 200, "{body}");
    // The checkout of `support::traces`: a failed server span with every
    // kind of attribute and a link, and its client child with an exception.
    let golden: serde_json::Value =
        serde_json::from_str(include_str!("golden/jaeger-trace.json")).unwrap();
    assert_eq!(
        body,
        golden,
        "{}",
        serde_json::to_string_pretty(&body).unwrap()
    );
    // A trace not found, and an id that is none, as Jaeger answers them.
    let (status, body) = server
        .get_json(&format!("/jaeger/api/traces/{}", "0".repeat(32)))
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"data": null, "total": 0, "limit": 0, "offset": 0,
               "errors": [{"code": 404, "msg": "trace not found"}]})
    );
    let (status, body) = server.get_json("/jaeger/api/traces/nonsense").await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["code"], 400, "{body}");
    assert!(
        body["errors"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("32 hex"),
        "{body}"
    );
    // Operations, in both of the forms the UI and Grafana call.
    let (status, body) = server
        .get_json("/jaeger/api/services/checkout/operations")
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"data": ["POST /charge", "POST /checkout"], "total": 2, "limit": 0, "offset": 0, "errors": null})
    );
    let (_, body) = server
        .get_json("/jaeger/api/operations?service=checkout")
        .await;
    assert_eq!(
        body["data"],
        json!([{"name": "POST /charge", "spanKind": "client"}, {"name": "POST /checkout", "spanKind": "server"}])
    );
    let (_, body) = server
        .get_json("/jaeger/api/operations?service=checkout&spanKind=server")
        .await;
    assert_eq!(
        body["data"],
        json!([{"name": "POST /checkout", "spanKind": "server"}])
    );
    let (status, body) = server.get_json("/jaeger/api/operations").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"],
        json!([{"code": 400, "msg": "parameter 'service' is required"}])
    );
    // Search, as the UI and Grafana ask: microseconds, Go durations, tags.
    let window = format!(
        "start={}&end={}",
        support::T0 / 1000,
        support::T0 / 1000 + 60_000_000
    );
    let (_, body) = server
        .get_json(&format!("/jaeger/api/traces?service=checkout&{window}"))
        .await;
    assert_eq!(body["data"][0], golden["data"][0]);
    assert_eq!(body["errors"], serde_json::Value::Null);
    for (query, traces) in [
        ("", 1),
        ("tags=%7B%22error%22%3A%22true%22%7D", 1),
        ("tags=%7B%22error%22%3A%22false%22%7D", 0),
        ("tags=%7B%22rpc.service%22%3A%22payments%22%7D", 1),
        ("tag=rpc.service:nope", 0),
        ("operation=POST%20%2Fcharge&minDuration=150ms", 1),
        ("operation=POST%20%2Fcharge&minDuration=0.2s", 0),
        ("minDuration=200ms", 1),
        ("maxDuration=200ms", 0),
        ("limit=1", 1),
    ] {
        let (status, body) = server
            .get_json(&format!(
                "/jaeger/api/traces?service=checkout&{window}&{query}"
            ))
            .await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(body["data"].as_array().unwrap().len(), traces, "{query}");
    }
    let (_, body) = server
        .get_json(&format!(
            "/jaeger/api/traces?traceID={id}&traceID={}",
            "1".repeat(32)
        ))
        .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(
        body["errors"],
        json!([{"msg": "trace not found", "traceID": "1".repeat(32)}])
    );
    for (query, says) in [
        ("", "parameter 'service' is required"),
        (
            "service=checkout&minDuration=soon",
            "unable to parse param 'minDuration'",
        ),
        (
            "service=checkout&minDuration=2ms&maxDuration=1ms",
            "'maxDuration' should be greater than 'minDuration'",
        ),
        (
            "service=checkout&tags=nonsense",
            "malformed 'tags' parameter",
        ),
        ("service=checkout&tag=nocolon", "malformed 'tag' parameter"),
        (
            "service=checkout&start=yesterday",
            "unable to parse param 'start'",
        ),
        ("traceID=xyz", "cannot parse traceID param"),
    ] {
        let (status, body) = server
            .get_json(&format!("/jaeger/api/traces?{query}"))
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        let msg = body["errors"][0]["msg"].as_str().unwrap();
        assert!(msg.contains(says), "{query}: {msg}");
    }
    server.stop().await;
}

#[tokio::test]
async fn dependencies_are_the_calls_between_services() {
    let server = Server::start().await;
    crate::reports::seed(&server).await;
    let end_ms = support::T0 / 1_000_000 + 3_600_000;
    let (status, body) = server
        .get_json(&format!(
            "/jaeger/api/dependencies?endTs={end_ms}&lookback=3600000"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    // Two checkouts through gateway, orders and payments; orders queried
    // its database five times in each (a database is a node, as the map
    // draws it).
    assert_eq!(
        body,
        json!({"data": [
            {"parent": "gateway", "child": "orders", "callCount": 2},
            {"parent": "orders", "child": "payments", "callCount": 2},
            {"parent": "orders", "child": "postgresql", "callCount": 10},
        ], "total": 0, "limit": 0, "offset": 0, "errors": null})
    );
    let (status, body) = server.get_json("/jaeger/api/dependencies?endTs=soon").await;
    assert_eq!(status, 400);
    assert!(
        body["errors"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("unable to parse param 'endTs'"),
        "{body}"
    );
}
