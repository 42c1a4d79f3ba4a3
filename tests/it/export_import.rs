//! Export and import: a request downloaded as OTLP/JSON lines, loaded into
//! a fresh database and into a running loupe, reads as it did; a file in
//! the Collector's file exporter format imports; a line that is no export
//! request is refused by its place.

use loupe::cli::{ExportArgs, ImportArgs, REQUEST_ID_KEYS};
use prost::Message as _;

use crate::support::{self, Server};

fn import_args(files: Vec<std::path::PathBuf>, database_url: String) -> ImportArgs {
    ImportArgs {
        files,
        database_url,
        endpoint: None,
        ingest_key: None,
        request_id_keys: REQUEST_ID_KEYS.split(',').map(str::to_owned).collect(),
    }
}

#[tokio::test]
async fn a_request_exported_and_imported_reads_the_same() {
    let a = Server::start().await;
    a.export("/v1/traces", support::traces(3).encode_to_vec())
        .await;
    a.export("/v1/logs", support::logs(3).encode_to_vec()).await;
    // The request view's Download link.
    let (_, _, page) = a.page("/requests/req-3", false).await;
    assert!(
        page.contains("<a href=\"/api/v1/requests/req-3/otlp\" download"),
        "{page}"
    );
    let response = a
        .http
        .get(format!("{}/api/v1/requests/req-3/otlp", a.ui_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"request-req-3.otlp.jsonl\""
    );
    let file = response.text().await.unwrap();
    let lines: Vec<&str> = file.lines().collect();
    assert_eq!(lines.len(), 2, "{file}");
    assert!(lines[0].starts_with("{\"resourceSpans\":["), "{file}");
    assert!(lines[1].starts_with("{\"resourceLogs\":["), "{file}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("req-3.jsonl");
    std::fs::write(&path, &file).unwrap();

    // Into a fresh database, and out again: the same file.
    let url = format!("sqlite://{}/b.db", dir.path().display());
    loupe::import::run(import_args(vec![path.clone()], url.clone()))
        .await
        .expect("import");
    let out = dir.path().join("again.jsonl");
    loupe::export::run(ExportArgs {
        database_url: url,
        request: Some("req-3".into()),
        trace: None,
        service: None,
        since: "1h".into(),
        limit: 1000,
        output: Some(out.clone()),
    })
    .await
    .expect("export");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), file);

    // Into a running loupe over OTLP/HTTP: the same request view.
    let b = Server::start().await;
    let mut args = import_args(vec![path], String::new());
    args.endpoint = Some(b.otlp_url.clone());
    loupe::import::run(args).await.expect("import over HTTP");
    let (status, before) = a.get_json("/api/v1/requests/req-3").await;
    assert_eq!(status, 200);
    let (status, after) = b.get_json("/api/v1/requests/req-3").await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after, before);
    assert_eq!(before["spans"].as_array().unwrap().len(), 2, "{before}");
}

/// Written by hand from the OTLP/JSON encoding of the OpenTelemetry
/// protocol specification (opentelemetry-proto's docs/specification.md,
/// "JSON Protobuf Encoding": hex ids, integers as strings, enums as
/// numbers) and the Collector's file exporter README (one export request
/// a line): a trace of two spans, then its service's log record.
const COLLECTOR_FILE: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cart"}},{"key":"service.version","value":{"stringValue":"2.0.1"}}]},"scopeSpans":[{"scope":{"name":"opentelemetry.instrumentation.fastapi","version":"0.48b0"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"GET /cart","kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000250000000","attributes":[{"key":"http.request.method","value":{"stringValue":"GET"}},{"key":"http.response.status_code","value":{"intValue":"200"}}],"status":{}},{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b173","parentSpanId":"eee19b7ec3c1b174","name":"SELECT cart","kind":3,"startTimeUnixNano":"1700000000010000000","endTimeUnixNano":"1700000000200000000","attributes":[{"key":"db.system","value":{"stringValue":"postgresql"}}],"status":{"code":2,"message":"timeout"}}]}]}]}
{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cart"}}]},"scopeLogs":[{"scope":{"name":"cart.app"},"logRecords":[{"timeUnixNano":"1700000000100000000","severityNumber":17,"severityText":"ERROR","body":{"stringValue":"cart query timed out"},"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b173"}]}]}]}
"#;

#[tokio::test]
async fn a_file_of_the_collectors_file_exporter_imports() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("collector.jsonl");
    std::fs::write(&path, COLLECTOR_FILE).unwrap();
    let mut args = import_args(vec![path], String::new());
    args.endpoint = Some(server.otlp_url.clone());
    loupe::import::run(args).await.expect("import");
    let (status, trace) = server
        .get_json("/api/v1/traces/5b8efff798038103d269b633813fc60c")
        .await;
    assert_eq!(status, 200, "{trace}");
    let names: Vec<&str> = trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["GET /cart", "SELECT cart"], "{trace}");
    assert_eq!(trace["logs"][0]["body"], "cart query timed out", "{trace}");
    assert_eq!(
        trace["error_origin"]["span_id"], "eee19b7ec3c1b173",
        "{trace}"
    );

    // A line that is no export request is refused, by its place.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, format!("{COLLECTOR_FILE}{{\"spans\":[]}}\n")).unwrap();
    let err = loupe::import::run(import_args(
        vec![bad],
        format!("sqlite://{}/c.db", dir.path().display()),
    ))
    .await
    .expect_err("a line of no export request");
    let text = format!("{err:#}");
    assert!(
        text.contains("bad.jsonl line 3: not an OTLP/JSON export request"),
        "{text}"
    );
}
