//! Keys: who may send (`--ingest-keys`) and who may read (`--read-keys`),
//! and the refusal to serve a network address to anyone by mistake.

use loupe::cli::Secret;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message as _;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, COOKIE, LOCATION, SET_COOKIE, WWW_AUTHENTICATE};

use crate::support::{self, Server};

const SENDER: &str = "0123456789abcdef-ingest";
const READER: &str = "0123456789abcdef-reader";

fn starts_a_session(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(b"loupe_session="))
}

/// The CSRF token of the page's form.
fn form_token(page: &str) -> String {
    let (_, rest) = page
        .split_once(r#"name="csrf" value=""#)
        .unwrap_or_else(|| panic!("no csrf field: {page}"));
    rest[..64].to_owned()
}

fn secrets(list: &[&str]) -> Vec<Secret> {
    list.iter().map(|s| Secret((*s).to_owned())).collect()
}

async fn post(server: &Server, authorization: Option<&str>, seed: u8) -> reqwest::Response {
    let mut request = server
        .http
        .post(format!("{}/v1/traces", server.otlp_url))
        .header("content-type", "application/x-protobuf")
        .body(support::traces(seed).encode_to_vec());
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value);
    }
    request.send().await.expect("OTLP answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_need_an_ingest_key_on_both_transports() {
    let mut server =
        Server::start_with(|c| c.ingest_keys = secrets(&[&format!("ci:{SENDER}")])).await;

    for authorization in [None, Some("Bearer wrong-key-wrong-key"), Some(SENDER)] {
        let response = post(&server, authorization, 1).await;
        assert_eq!(response.status(), 401, "{authorization:?}");
        assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer");
    }
    let response = post(&server, Some(&format!("Bearer {SENDER}")), 2).await;
    assert_eq!(response.status(), 200);

    let channel = tonic::transport::Endpoint::from_shared(server.grpc_url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = TraceServiceClient::new(channel.clone());
    let error = client.export(support::traces(3)).await.unwrap_err();
    assert_eq!(error.code(), tonic::Code::Unauthenticated, "{error:?}");
    let mut client =
        TraceServiceClient::with_interceptor(channel, |mut request: tonic::Request<()>| {
            let value = format!("Bearer {SENDER}").parse().unwrap();
            request.metadata_mut().insert("authorization", value);
            Ok(request)
        });
    client
        .export(support::traces(4))
        .await
        .expect("a keyed gRPC export");

    // Stored with the key's name, never its secret.
    assert_eq!(server.stats().await["spans"], 4);
    let (_, trace) = server
        .get_json(&format!(
            "/api/v1/traces/{}",
            hex::encode(support::trace_id(2))
        ))
        .await;
    let text = trace.to_string();
    assert!(text.contains(r#""loupe.ingest.key":"ci""#), "{text}");
    assert!(!text.contains(SENDER));
    // And its volume is counted under its name.
    let (_, metrics) = server.text("/metrics").await;
    assert!(
        metrics.contains(r#"loupe_ingest_key_items_total{key="ci",signal="traces"} 4"#),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_needs_a_read_key_or_a_login() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("read-keys");
    std::fs::write(&file, format!("# the team\nteam:{READER}\n")).unwrap();
    let mut server = Server::start_with(|c| c.read_keys_file = Some(file)).await;
    server
        .export("/v1/traces", support::traces(1).encode_to_vec())
        .await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str, header: Option<(&str, String)>| {
        let mut request = no_redirects.get(format!("{}{path}", server.ui_url));
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        request.send()
    };

    // Health stays open; everything else asks.
    for path in ["/healthz", "/readyz", "/login"] {
        assert_eq!(get(path, None).await.unwrap().status(), 200, "{path}");
    }
    for path in ["/api/v1/services", "/metrics"] {
        let response = get(path, None).await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer");
    }
    let response = get("/traces?service=checkout", None).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[LOCATION],
        "/login?next=/traces%3Fservice%3Dcheckout"
    );
    let response = get("/traces", Some(("hx-request", "true".into())))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("hx-redirect"));

    // The API with the key as a bearer token.
    let bearer = Some(("authorization", format!("Bearer {READER}")));
    let response = get("/api/v1/services", bearer.clone()).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(get("/metrics", bearer).await.unwrap().status(), 200);

    // The UI through the login page, whose form carries the token the
    // page set in its own cookie.
    let login_page = get("/login", None).await.unwrap();
    let login_cookie = login_page.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/login"] {
        assert!(login_cookie.contains(attribute), "{login_cookie}");
    }
    let login_cookie = login_cookie.split(';').next().unwrap().to_owned();
    let login_token = form_token(&login_page.text().await.unwrap());
    let login = |key: &str, cookie: &str, token: &str| {
        no_redirects
            .post(format!("{}/login", server.ui_url))
            .header(COOKIE, cookie)
            .form(&[("key", key), ("next", "/traces"), ("csrf", token)])
            .send()
    };
    for (cookie, token) in [
        ("", login_token.as_str()),
        (login_cookie.as_str(), ""),
        (
            login_cookie.as_str(),
            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        ),
    ] {
        let response = login(READER, cookie, token).await.unwrap();
        assert_eq!(response.status(), 403, "{cookie:?} {token:?}");
        assert!(!starts_a_session(&response), "{cookie:?} {token:?}");
    }
    let response = login("not-the-key-at-all", &login_cookie, &login_token)
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(!starts_a_session(&response));
    let response = login(READER, &login_cookie, &login_token).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/traces");
    let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let session = set_cookie.split(';').next().unwrap().to_owned();
    let response = get("/traces", Some((COOKIE.as_str(), session.clone())))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("Log out"), "{page}");
    let session_token = form_token(&page);

    let logout = |token: &str| {
        no_redirects
            .post(format!("{}/logout", server.ui_url))
            .header(COOKIE, session.clone())
            .form(&[("csrf", token)])
            .send()
    };
    // A logout another page sends, without the session's token, is refused.
    for token in ["", login_token.as_str()] {
        assert_eq!(logout(token).await.unwrap().status(), 403, "{token:?}");
    }
    let response = get("/traces", Some((COOKIE.as_str(), session.clone())))
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "still logged in");
    let response = logout(&session_token).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        response.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let response = get("/traces", Some((COOKIE.as_str(), session)))
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "the session ended"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_address_without_keys_is_refused_unless_meant() {
    let url = |dir: &tempfile::TempDir| format!("sqlite://{}/loupe.db", dir.path().display());
    let dir = tempfile::tempdir().unwrap();
    let mut config = loupe::ServeConfig::for_tests(&url(&dir));
    config.ui_addr = "0.0.0.0:0".parse().unwrap();
    let err = loupe::server::start(&config).await.err().expect("refused");
    let message = format!("{err:#}");
    assert!(message.contains("the UI on 0.0.0.0:0"), "{message}");
    assert!(message.contains("--read-keys"), "{message}");

    config.otlp_http_addr = "0.0.0.0:0".parse().unwrap();
    config.read_keys = secrets(&[READER]);
    let err = loupe::server::start(&config).await.err().expect("refused");
    assert!(format!("{err:#}").contains("--ingest-keys"), "{err:#}");

    for (entries, message) in [(&["short"][..], "at least 16")] {
        config.ingest_keys = secrets(entries);
        let err = loupe::server::start(&config).await.err().expect("refused");
        assert!(format!("{err:#}").contains(message), "{err:#}");
    }

    // Meant: it starts, and every page says who can read it.
    config.ingest_keys = Vec::new();
    config.read_keys = Vec::new();
    config.insecure_no_auth = true;
    let running = loupe::server::start(&config)
        .await
        .expect("starts when meant");
    let page = reqwest::get(format!("http://127.0.0.1:{}/traces", running.ui.port()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("runs with --insecure-no-auth"), "{page}");
    running.stop().await.unwrap();
}

/// Behind a signing-in proxy: its user header is taken from the trusted
/// addresses only, and refused from anyone else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_signs_readers_in() {
    let header = "x-auth-request-user";
    for (trusted, with_header, without) in [("127.0.0.1/32", 200, 401), ("10.0.0.0/8", 403, 401)] {
        let mut server = Server::start_with(|c| {
            c.auth_proxy_header = Some(header.parse().unwrap());
            c.trusted_proxies = vec![trusted.parse().unwrap()];
        })
        .await;
        let url = format!("{}/api/v1/services", server.ui_url);
        let response = server
            .http
            .get(&url)
            .header(header, "ada")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            with_header,
            "from 127.0.0.1, trusting {trusted}"
        );
        let response = server.http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), without, "no header, trusting {trusted}");
        assert_eq!(
            server
                .http
                .get(format!("{}/readyz", server.ui_url))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        server.stop().await;
    }
}

/// The cost report tells apart what each ingest key sent, by its name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cost_report_counts_what_each_ingest_key_sent() {
    const OTHER: &str = "fedcba9876543210-ingest";
    let mut server = Server::start_with(|c| {
        c.ingest_keys = secrets(&[&format!("shop:{SENDER}"), &format!("batch:{OTHER}")])
    })
    .await;
    let send = |path: &'static str, body: Vec<u8>, secret: &'static str| {
        let request = server
            .http
            .post(format!("{}{path}", server.otlp_url))
            .header("content-type", "application/x-protobuf")
            .header(AUTHORIZATION, format!("Bearer {secret}"))
            .body(body);
        async move {
            let response = request.send().await.expect("OTLP answers");
            assert_eq!(response.status(), 200, "{path}");
        }
    };
    send("/v1/traces", support::traces(1).encode_to_vec(), SENDER).await;
    send("/v1/traces", support::traces(2).encode_to_vec(), SENDER).await;
    send("/v1/logs", support::logs(3).encode_to_vec(), SENDER).await;
    let shop = server.stats().await;
    send("/v1/traces", support::traces(4).encode_to_vec(), OTHER).await;
    send("/v1/metrics", support::metrics(5).encode_to_vec(), OTHER).await;
    let all = server.stats().await;
    let count = |stats: &serde_json::Value, what: &str| stats[what].as_u64().unwrap();

    let hour = 3_600_000_000_000;
    let window = format!("since={}&until={}", support::T0 - hour, support::T0 + hour);
    let (status, cost) = server
        .get_json(&format!("/api/v1/reports/cost?{window}"))
        .await;
    assert_eq!(status, 200, "{cost}");
    let rows = cost["ingest_keys"].as_array().expect("ingest_keys");
    let row = |key: &str| {
        rows.iter()
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("no row for {key}: {rows:?}"))
    };
    let (shop_row, batch_row) = (row("shop"), row("batch"));
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(shop_row["spans"], count(&shop, "spans"));
    assert_eq!(shop_row["logs"], count(&shop, "logs"));
    assert_eq!(shop_row["metric_points"], 0);
    assert_eq!(
        batch_row["spans"],
        count(&all, "spans") - count(&shop, "spans")
    );
    assert_eq!(batch_row["logs"], 0);
    assert_eq!(batch_row["metric_points"], count(&all, "metric_points"));
    let bytes = |r: &serde_json::Value| r["wire_bytes"].as_u64().unwrap();
    assert!(bytes(shop_row) > 0 && bytes(batch_row) > 0, "{rows:?}");
    let shares =
        shop_row["wire_share"].as_f64().unwrap() + batch_row["wire_share"].as_f64().unwrap();
    assert!((shares - 1.0).abs() < 1e-9, "{rows:?}");
    // Never the secret.
    assert!(!cost.to_string().contains(SENDER));

    let (_, csv) = server
        .text(&format!(
            "/api/v1/reports/cost?{window}&format=csv&table=ingest_keys"
        ))
        .await;
    assert!(csv.starts_with("key,"), "{csv}");
    assert!(
        csv.contains("\r\nshop,") && csv.contains("\r\nbatch,"),
        "{csv}"
    );
    let (status, _, page) = server.page(&format!("/reports/cost?{window}"), false).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<h2>Ingest keys</h2>") && page.contains("<code>batch</code>"),
        "{page}"
    );
    server.stop().await;
}

/// `loupe bench --target` loads a loupe that asks for an ingest key with
/// the one it is given, over both transports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bench_sends_the_ingest_key_it_is_given() {
    let mut server =
        Server::start_with(|c| c.ingest_keys = secrets(&[&format!("bench:{SENDER}")])).await;
    let bench = |key: Option<&'static str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_loupe"));
        command.args([
            "bench",
            "--target",
            &server.otlp_url,
            "--target-grpc",
            &server.grpc_url,
            "--spans",
            "600",
            "--batch",
            "100",
            "--no-ceiling",
        ]);
        if let Some(key) = key {
            command.args(["--ingest-key", key]);
        }
        tokio::task::spawn_blocking(move || command.output().expect("loupe bench runs"))
    };
    let refused = bench(None).await.unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("401"), "{stderr}");

    let keyed = bench(Some(SENDER)).await.unwrap();
    assert!(
        keyed.status.success(),
        "{}",
        String::from_utf8_lossy(&keyed.stderr)
    );
    assert_eq!(
        server.stats().await["spans"],
        1200,
        "600 over each transport"
    );
    server.stop().await;
}
