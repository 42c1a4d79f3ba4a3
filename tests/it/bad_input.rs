//! Bad input gets a clear 4xx (or gRPC status), leaves nothing written, and
//! the next valid export is stored.

use std::io::Write as _;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, any_value::Value};
use prost::Message as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::{self, Server, kv, s};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// A trace request of one valid span, changed by `edit`.
fn one_span(
    edit: impl FnOnce(&mut opentelemetry_proto::tonic::trace::v1::Span),
) -> ExportTraceServiceRequest {
    let mut request = support::traces(7);
    let spans = &mut request.resource_spans[0].scope_spans[0].spans;
    spans.truncate(1);
    edit(&mut spans[0]);
    request
}

fn nested(depth: usize) -> Value {
    let mut value = s("leaf");
    for _ in 0..depth {
        value = Value::ArrayValue(ArrayValue {
            values: vec![AnyValue { value: Some(value) }],
        });
    }
    value
}

fn invalid_utf8_protobuf() -> Vec<u8> {
    let body = one_span(|span| span.name = "\u{1}MARKER\u{1}".into()).encode_to_vec();
    let at = body
        .windows(8)
        .position(|w| w == b"\x01MARKER\x01")
        .unwrap();
    let mut body = body;
    body[at..at + 8].copy_from_slice(b"\xff\xfeMARKER");
    body
}

/// As many empty `ResourceSpans` as fit the body limit.
fn empty_resources() -> Vec<u8> {
    b"\x0a\x00".repeat(LIMIT / 2 - 8)
}

fn empty_resources_json() -> Vec<u8> {
    let mut body = br#"{"resourceSpans":["#.to_vec();
    body.extend(b"{},".repeat(LIMIT / 3 - 16));
    body.extend(b"{}]}");
    body
}

struct Case {
    name: &'static str,
    content_type: Option<&'static str>,
    content_encoding: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    message: &'static str,
}

fn case(
    name: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    message: &'static str,
) -> Case {
    Case {
        name,
        content_type,
        content_encoding: None,
        body,
        status,
        message,
    }
}

const PB: Option<&str> = Some("application/x-protobuf");
const JSON: Option<&str> = Some("application/json");
const LIMIT: usize = 4 * 1024 * 1024;

fn cases() -> Vec<Case> {
    let valid = support::traces(9).encode_to_vec();
    vec![
        case("malformed protobuf", PB, vec![0xff, 0xff, 0xff, 0xff], 400, "invalid protobuf"),
        case("truncated protobuf", PB, valid[..valid.len() / 2].to_vec(), 400, "invalid protobuf"),
        case("malformed json", JSON, br#"{"resourceSpans": ["#.to_vec(), 400, "invalid json"),
        case("json of the wrong shape", JSON, br#"{"resourceSpans": 5}"#.to_vec(), 400, "resourceSpans"),
        case("json with a bad hex id", JSON, br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"0102030405060708","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#.to_vec(), 400, "traceId"),
        case("invalid utf-8 in protobuf", PB, invalid_utf8_protobuf(), 400, "invalid protobuf"),
        case("invalid utf-8 in json", JSON, b"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"\xff\xfe\"}]}]}]}".to_vec(), 400, "invalid json"),
        case("wrong content type", Some("text/plain"), valid.clone(), 415, "content type"),
        case("no content type", None, valid.clone(), 415, "content type"),
        Case { content_encoding: Some("br"), ..case("unsupported content encoding", PB, valid.clone(), 415, "encoding") },
        case("body over the limit", PB, vec![0u8; LIMIT + 1], 413, "larger than"),
        Case { content_encoding: Some("gzip"), ..case("gzip bomb", PB, gzip(&vec![0u8; 64 * 1024 * 1024]), 413, "larger than") },
        // Two bytes an empty resource on the wire, a hundred once decoded.
        Case { content_encoding: Some("gzip"), ..case("gzip of empty resources", PB, gzip(&empty_resources()), 413, "memory to decode") },
        Case { content_encoding: Some("gzip"), ..case("gzip of empty resources (JSON)", JSON, gzip(&empty_resources_json()), 413, "memory to decode") },
        Case { content_encoding: Some("gzip"), ..case("invalid gzip", PB, b"not gzip at all".to_vec(), 400, "gzip") },
        case("absurd timestamp", PB, one_span(|span| span.end_time_unix_nano = u64::MAX).encode_to_vec(), 400, "absurd end time"),
        case("span ending before it starts", PB, one_span(|span| span.end_time_unix_nano = span.start_time_unix_nano - 1).encode_to_vec(), 400, "before it starts"),
        case("all-zero trace id", PB, one_span(|span| span.trace_id = vec![0; 16]).encode_to_vec(), 400, "invalid trace id"),
        case("short span id", PB, one_span(|span| span.span_id = vec![1; 4]).encode_to_vec(), 400, "invalid span id"),
        case(
            "100 000 attributes",
            PB,
            one_span(|span| span.attributes = (0..100_000).map(|i| kv(&format!("k{i}"), Value::IntValue(i))).collect()).encode_to_vec(),
            400,
            "too many attributes",
        ),
        case("value nested 40 deep", PB, one_span(|span| span.attributes = vec![kv("deep", nested(40))]).encode_to_vec(), 400, "nested deeper"),
        case("value nested 500 deep", PB, one_span(|span| span.attributes = vec![kv("deep", nested(500))]).encode_to_vec(), 400, "invalid protobuf"),
    ]
}

#[tokio::test]
async fn http_bad_input_is_refused_and_nothing_is_written() {
    let mut server = Server::start_with(|config| {
        config.max_body_bytes = LIMIT;
        config.request_timeout_secs = 1;
    })
    .await;
    for case in cases() {
        let mut request = server
            .http
            .post(format!("{}/v1/traces", server.otlp_url))
            .body(case.body);
        if let Some(content_type) = case.content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(encoding) = case.content_encoding {
            request = request.header("content-encoding", encoding);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: no answer: {e}", case.name));
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert_eq!(status, case.status, "{}: {text}", case.name);
        assert!(
            text.contains(case.message),
            "{}: {text:?} should say {:?}",
            case.name,
            case.message
        );
    }
    assert_eq!(server.stats().await["spans"], 0, "nothing half-written");

    // A request with one good and one bad span stores the good one and says so.
    let mut request = support::traces(3);
    request.resource_spans[0].scope_spans[0].spans[0].span_id = vec![0; 8];
    let response = server
        .http
        .post(format!("{}/v1/traces", server.otlp_url))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&request).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["partialSuccess"]["rejectedSpans"], "1");
    assert!(
        body["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("invalid span id: all zero"),
        "{body}"
    );
    assert_eq!(server.stats().await["spans"], 1);

    // The server still takes a valid export.
    let response = server
        .http
        .post(format!("{}/v1/traces", server.otlp_url))
        .header("content-type", "application/x-protobuf")
        .body(support::traces(4).encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.stats().await["spans"], 3);
    server.stop().await;
}

#[tokio::test]
async fn a_stalled_client_is_dropped() {
    let mut server = Server::start_with(|config| config.request_timeout_secs = 1).await;
    let address = server.otlp_url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(b"POST /v1/traces HTTP/1.1\r\nHost: loupe\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\npartial")
        .await
        .unwrap();
    let mut answer = Vec::new();
    // The server answers and closes; this read ends when it does.
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("the server gives up on the client")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    // A client that never finishes its headers is disconnected too.
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(b"POST /v1/traces HTTP/1.1\r\nHost: lou")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("the server hangs up")
        .ok();
    server.stop().await;
}

/// Sends raw bytes as a gRPC Export call and returns the grpc-status and message.
async fn grpc_raw(server: &Server, message: &[u8]) -> (String, String) {
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(message);
    let response = client
        .post(format!(
            "{}/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            server.grpc_url
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(frame)
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    (header("grpc-status"), header("grpc-message"))
}

#[tokio::test]
async fn grpc_bad_input_is_invalid_argument_never_internal() {
    let mut server = Server::start_with(|config| config.max_body_bytes = LIMIT).await;
    let (status, message) = grpc_raw(&server, &[0xff, 0xff, 0xff, 0xff]).await;
    assert_eq!(
        status, "3",
        "INVALID_ARGUMENT for undecodable data: {message}"
    );
    let (status, message) = grpc_raw(&server, &invalid_utf8_protobuf()).await;
    assert_eq!(status, "3", "INVALID_ARGUMENT for invalid UTF-8: {message}");
    let (status, message) = grpc_raw(&server, &empty_resources()).await;
    assert_eq!(
        status, "3",
        "INVALID_ARGUMENT for empty resources: {message}"
    );
    assert!(message.contains("memory"), "{message}");

    let mut client = TraceServiceClient::connect(server.grpc_url.clone())
        .await
        .unwrap()
        .max_encoding_message_size(64 * 1024 * 1024);
    let error = client
        .export(one_span(|span| span.trace_id = vec![1; 3]))
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::InvalidArgument);
    assert!(
        error.message().contains("invalid trace id"),
        "{}",
        error.message()
    );

    let huge = one_span(|span| span.attributes = vec![kv("blob", s(&"x".repeat(LIMIT + 1)))]);
    let error = client.export(huge).await.unwrap_err();
    assert_ne!(error.code(), tonic::Code::Internal, "{error:?}");
    assert_ne!(error.code(), tonic::Code::Ok);

    let response = client
        .export(support::traces(5))
        .await
        .expect("a valid export after bad ones")
        .into_inner();
    assert_eq!(response.partial_success, None);
    assert_eq!(server.stats().await["spans"], 2);
    server.stop().await;
}

/// A service and a route named like spreadsheet formulas reach the CSV of
/// the reports as text a spreadsheet shows but does not run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_csv_cells_never_start_a_formula() {
    let server = Server::start().await;
    let mut request = support::traces(11);
    request.resource_spans[0].resource = support::resource("=HYPERLINK(\"http://evil\",\"x\")");
    for span in &mut request.resource_spans[0].scope_spans[0].spans {
        span.name = "@SUM(A1:A9)".into();
    }
    server.export("/v1/traces", request.encode_to_vec()).await;
    let window = format!(
        "since={}&until={}",
        support::T0,
        support::T0 + 3_600_000_000_000
    );
    for (report, table) in [("cost", "services"), ("load", "endpoints")] {
        let response = server
            .http
            .get(format!(
                "{}/api/v1/reports/{report}?{window}&format=csv&table={table}",
                server.ui_url
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let csv = response.text().await.unwrap();
        let cells: Vec<&str> = csv
            .lines()
            .skip(1)
            .flat_map(|line| line.split(','))
            .map(|cell| cell.trim_start_matches('"'))
            .collect();
        assert!(
            cells.iter().any(|c| c.starts_with("'=HYPERLINK")),
            "{report}: the service is in the table: {csv}"
        );
        for cell in cells {
            assert!(
                !cell.starts_with(['=', '+', '@']),
                "{report}: {cell:?} in {csv}"
            );
        }
    }
}

/// Too many attribute conditions are the client's mistake: a 400 that says
/// so, on the API and on the pages, never a server error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_attribute_conditions_are_a_client_error() {
    let server = Server::start().await;
    server
        .export("/v1/traces", support::traces(3).encode_to_vec())
        .await;
    let many: Vec<String> = (0..1000).map(|i| format!("attr=k{i}%3Dv")).collect();
    let many = many.join("&");
    for path in ["/api/v1/traces", "/api/v1/logs"] {
        let (status, body) = server.get_json(&format!("{path}?{many}")).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap_or_default().contains("attr"),
            "{path}: {body}"
        );
    }
    let (status, _, html) = server.page(&format!("/traces?{many}"), false).await;
    assert_eq!(status, 400);
    assert!(html.contains("attr may be given at most"), "{html}");
    // As many as are allowed are a search like any other.
    let few: Vec<String> = (0..32).map(|i| format!("attr=k{i}%3Dv")).collect();
    let (status, body) = server
        .get_json(&format!("/api/v1/traces?{}", few.join("&")))
        .await;
    assert_eq!((status, body), (200, serde_json::json!([])));
}

/// A page another site made resolve to 127.0.0.1 (DNS rebinding) sends
/// its own name as `Host`: a loopback-only loupe does not answer it, and
/// answers the names it is bound to and those `--allowed-hosts` adds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_listeners_own_host_names_are_answered() {
    let server = Server::start_with(|c| c.allowed_hosts = vec!["loupe.internal".into()]).await;
    let port = server
        .ui_url
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    for (host, status) in [
        (format!("127.0.0.1:{port}"), 200),
        (format!("localhost:{port}"), 200),
        (format!("loupe.internal:{port}"), 200),
        (format!("rebound.evil.example:{port}"), 421),
        ("127.0.0.1.evil.example".to_owned(), 421),
    ] {
        for path in ["/api/v1/services", "/", "/healthz"] {
            let response = server
                .http
                .get(format!("{}{path}", server.ui_url))
                .header(reqwest::header::HOST, &host)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), status, "{host} {path}");
            // The API's answers and the refusals carry the pages' headers.
            crate::ui::assert_security_headers(response.headers(), &format!("{host} {path}"));
        }
    }
}

/// A megabyte log body and attribute value keep `--max-value-bytes` (64
/// KiB by default), the cut marked: a few kilobytes of gzip on the wire
/// cannot become megabytes stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_bodies_and_attribute_values_are_cut() {
    let server = Server::start().await;
    let mut request = support::logs(5);
    let record = &mut request.resource_logs[0].scope_logs[0].log_records[0];
    record.body = Some(AnyValue {
        value: Some(s(&"a".repeat(1 << 20))),
    });
    record
        .attributes
        .push(kv("payload", s(&"b".repeat(1 << 20))));
    let body = gzip(&request.encode_to_vec());
    assert!(body.len() < 20_000, "{} bytes of gzip", body.len());
    let response = server
        .http
        .post(format!("{}/v1/logs", server.otlp_url))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, logs) = server.get_json("/api/v1/logs?limit=10").await;
    assert_eq!(status, 200);
    let kept = 64 * 1024;
    let marked = format!("{}…[{} bytes cut]", "a".repeat(kept), (1 << 20) - kept);
    let found = logs
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["body"].as_str().is_some_and(|b| b.starts_with("aaa")))
        .expect("the record");
    assert_eq!(found["body"], marked.as_str());
    let payload = found["attributes"]["payload"].as_str().unwrap_or_default();
    assert_eq!(
        payload.len(),
        kept + format!("…[{} bytes cut]", (1 << 20) - kept).len()
    );
}

/// A connection that never sends a byte is closed at the header deadline,
/// on the UI and on OTLP/HTTP: enough of them would otherwise hold every
/// file descriptor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed() {
    let server = Server::start_with(|config| config.request_timeout_secs = 1).await;
    let grpc = server.grpc_url.clone();
    for url in [&server.ui_url, &server.otlp_url, &grpc] {
        let address = url.trim_start_matches("http://").to_owned();
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let mut answer = Vec::new();
        // Ends when the server closes the connection.
        tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
            .await
            .unwrap_or_else(|_| panic!("{url}: a silent connection is still open after 30 s"))
            .unwrap();
        assert!(answer.is_empty(), "{url}: {answer:?}");
    }
    // Clients that speak are served as before.
    let (status, _) = server.get_json("/api/v1/services").await;
    assert_eq!(status, 200);
}

/// Each listener holds at most --max-connections at once: clients that
/// fill the UI's keep the next one waiting there, while OTLP still takes
/// exports; a place freed lets the waiting one in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_listener_leaves_the_others_room() {
    let server = Server::start_with(|config| {
        config.max_connections = 3;
        config.request_timeout_secs = 120;
    })
    .await;
    let ui = server.ui_url.trim_start_matches("http://").to_owned();
    // Three connections that started a request and never finish it.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = tokio::net::TcpStream::connect(&ui).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        held.push(stream);
    }
    let mut waiting = {
        let url = format!("{}/healthz", server.ui_url);
        tokio::spawn(async move { reqwest::get(url).await.unwrap().status() })
    };
    // OTLP/HTTP has its own room.
    server
        .export("/v1/traces", support::traces(1).encode_to_vec())
        .await;
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut waiting)
            .await
            .is_err(),
        "a fourth UI connection was served"
    );
    drop(held.pop());
    let status = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("served once a place was free")
        .unwrap();
    assert_eq!(status, 200);
}

/// Hostile query strings, thousands of them, against every read: each is
/// answered 200, 400 or 404, never a server error (a 503 "database error"
/// for a parameter the store choked on was one such bug). The cases are
/// drawn by a fixed-seed generator, the same on every run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_query_strings_are_never_a_server_error() {
    let mut server = Server::start().await;
    server
        .export("/v1/traces", support::traces(1).encode_to_vec())
        .await;
    server
        .export("/v1/logs", support::logs(1).encode_to_vec())
        .await;
    let trace = hex::encode(support::trace_id(1));
    let paths = [
        "/api/v1/services".to_owned(),
        "/api/v1/failures".into(),
        "/api/v1/traces".into(),
        format!("/api/v1/traces/{trace}"),
        "/api/v1/requests/req-1".into(),
        "/api/v1/logs".into(),
        "/api/v1/metrics".into(),
        "/api/v1/metrics/http.server.duration/points".into(),
        "/api/v1/metrics/http.server.duration/chart".into(),
        "/api/v1/reports/load".into(),
        "/api/v1/reports/cost".into(),
        "/".into(),
        "/traces".into(),
        "/search".into(),
        format!("/traces/{trace}"),
        format!("/traces/{trace}/rows"),
        "/logs".into(),
        "/logs/tail".into(),
        "/failures".into(),
        "/reports/load".into(),
        "/reports/cost".into(),
        "/map".into(),
        "/metrics-explorer".into(),
    ];
    let names = [
        "service",
        "operation",
        "status",
        "min_duration_ms",
        "max_duration_ms",
        "min_ms",
        "attr",
        "sort",
        "offset",
        "limit",
        "since",
        "until",
        "from",
        "to",
        "window",
        "q",
        "severity",
        "trace_id",
        "cursor",
        "format",
        "name",
        "id",
        "span",
        "before",
        "x",
    ];
    let long = "x".repeat(20_000);
    let values = [
        "",
        "-1",
        "0",
        "1",
        "18446744073709551616",
        "9223372036854775807",
        "-9223372036854775808",
        "NaN",
        "inf",
        "1e309",
        "%00",
        "%ff%fe",
        "a%3Db%3Dc",
        &long,
        "'%3B DROP TABLE spans--",
        "%E2%80%AE",
        "1h",
        "-1h",
        "99999999999d",
        "2024-13-45T25:61:61Z",
        "0000-01-01T00:00:00Z",
        "%3D",
        "*",
        "%25",
        "_",
        "%5C",
        "%7B%7D",
        "k%3Dv",
        "k",
        "%3Dv",
        "duration",
        "-duration",
        "json",
        "csv",
        "xml",
        "error",
        "ok",
        "ERROR",
        "12345678901234567890123456789012",
        "zz",
        "0000000000000000",
    ];
    // A small linear congruential generator: the same cases every run.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        ((state >> 33) as usize) % n
    };
    let mut failures = Vec::new();
    for _ in 0..5_000 {
        let path = &paths[next(paths.len())];
        let query: Vec<String> = (0..1 + next(3))
            .map(|_| {
                format!(
                    "{}={}",
                    names[next(names.len())],
                    values[next(values.len())]
                )
            })
            .collect();
        let url = format!("{}{path}?{}", server.ui_url, query.join("&"));
        let status = match server.http.get(&url).send().await {
            Ok(response) => response.status().as_u16().to_string(),
            Err(err) => format!("no answer ({err})"),
        };
        if !matches!(status.as_str(), "200" | "400" | "404") {
            let query: String = query.join("&").chars().take(200).collect();
            failures.push(format!("{status} {path}?{query}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} server errors:\n{}",
        failures.len(),
        failures.join("\n")
    );
    server.stop().await;
}
