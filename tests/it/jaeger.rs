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
    server.stop().await;
}
