//! The database failing under a running server: exports are refused as
//! retryable rather than acknowledged and lost, `/readyz` says so at once,
//! and loupe recovers by itself when the database is back.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use crate::support::{self, Server};

async fn post_traces(server: &Server, seed: u8) -> (u16, bool, String) {
    let response = server
        .http
        .post(format!("{}/v1/traces", server.otlp_url))
        .header("content-type", "application/x-protobuf")
        .body(support::traces(seed).encode_to_vec())
        .send()
        .await
        .expect("OTLP answers");
    let status = response.status().as_u16();
    let retry_after = response.headers().contains_key("retry-after");
    (
        status,
        retry_after,
        response.text().await.unwrap_or_default(),
    )
}

async fn readyz(server: &Server) -> (u16, String) {
    server.text("/readyz").await
}

/// Polls `check` until it holds, failing after `within`.
async fn eventually<F: Future<Output = bool>>(within: Duration, what: &str, check: impl Fn() -> F) {
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_file_gone(change: impl FnOnce(&std::path::Path)) {
    let mut server = Server::start().await;
    let (status, _, _) = post_traces(&server, 1).await;
    assert_eq!(status, 200);
    assert_eq!(readyz(&server).await.0, 200);

    change(&server.dir.path().join("loupe.db"));

    let (status, retry_after, body) = post_traces(&server, 2).await;
    assert_eq!(status, 503, "{body}");
    assert!(retry_after);
    assert!(body.contains("deleted or replaced"), "{body}");
    let mut client = TraceServiceClient::connect(server.grpc_url.clone())
        .await
        .unwrap();
    let error = client.export(support::traces(3)).await.unwrap_err();
    assert_eq!(error.code(), tonic::Code::Unavailable, "{error:?}");
    let (status, body) = readyz(&server).await;
    assert_eq!(status, 503);
    assert!(body.contains("deleted or replaced"), "{body}");
    server.stop().await;
}

/// 7 840 spans were once acknowledged into an unlinked file and lost at
/// exit; now nothing is acknowledged once the file is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_file_deleted_under_the_server_refuses_exports() {
    a_file_gone(|db| std::fs::remove_file(db).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_file_replaced_under_the_server_refuses_exports() {
    a_file_gone(|db| {
        // A restore copied over it: a file of the same name, another inode.
        let copy = db.with_extension("copy");
        std::fs::copy(db, &copy).unwrap();
        std::fs::rename(&copy, db).unwrap();
    })
    .await;
}

/// A TCP proxy in front of PostgreSQL that the test cuts (every connection
/// closed, new ones dropped) and restores.
struct Proxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let links = Arc::new(Mutex::new(Vec::new()));
        let (cut_, links_) = (cut.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if cut_.load(Ordering::SeqCst) {
                    continue;
                }
                let target = target.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                links_.lock().unwrap().push(link.abort_handle());
            }
        });
        Proxy { addr, cut, links }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// `url` with its host and port swapped for `addr`, and the host and port it had.
fn through(url: &str, addr: SocketAddr) -> (String, String) {
    let (scheme_user, rest) = url.split_once('@').expect("user@host in the URL");
    let (authority, path) = rest.split_once('/').expect("a database in the URL");
    let target = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:5432")
    };
    (format!("{scheme_user}@{addr}/{path}"), target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cut_and_restored_refuses_then_recovers_losing_nothing() {
    let Some((url, admin_url)) = support::fresh_postgres("faults").await else {
        return;
    };
    let (_, target) = through(&url, "127.0.0.1:1".parse().unwrap());
    let proxy = Proxy::start(target).await;
    let (proxied, _) = through(&url, proxy.addr);
    let mut server = Server::start_with(|c| c.database_url = proxied).await;
    let (status, _, _) = post_traces(&server, 1).await;
    assert_eq!(status, 200);
    assert_eq!(readyz(&server).await.0, 200);

    proxy.cut();
    // Refused as retryable, and promptly: the writers' pool stops trying
    // after two seconds, where it used to hold exports for thirty.
    let started = Instant::now();
    let (status, retry_after, body) = post_traces(&server, 2).await;
    assert_eq!(status, 503, "{body}");
    assert!(retry_after);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "refused after {:?}",
        started.elapsed()
    );
    let s = &server;
    eventually(
        Duration::from_secs(30),
        "/readyz turning 503",
        || async move { readyz(s).await.0 == 503 },
    )
    .await;
    let (status, _) = server.get_json("/api/v1/services").await;
    assert_eq!(status, 503);

    proxy.restore();
    eventually(
        Duration::from_secs(60),
        "an export accepted again",
        || async move { post_traces(s, 3).await.0 == 200 },
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "/readyz turning 200",
        || async move { readyz(s).await.0 == 200 },
    )
    .await;
    // What was acknowledged is there (seed 3 perhaps more than once: each
    // try the loop made counts).
    let (status, trace) = server
        .get_json(&format!(
            "/api/v1/traces/{}",
            hex::encode(support::trace_id(1))
        ))
        .await;
    assert_eq!(status, 200, "{trace}");
    let (status, _) = server
        .get_json(&format!(
            "/api/v1/traces/{}",
            hex::encode(support::trace_id(3))
        ))
        .await;
    assert_eq!(status, 200);
    server.stop().await;
    support::drop_postgres(&admin_url, &url).await;
}

/// A read past --query-timeout is stopped and says so, on a page and in
/// the API; reads waiting their turn count against it; and the health
/// checks never wait behind reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_stop_at_the_deadline_and_health_never_waits() {
    let mut server = Server::start_with(|c| {
        c.query_timeout = Duration::from_millis(1500);
        c.test_read_delay_ms = 60_000;
    })
    .await;
    let started = Instant::now();
    // More slow reads than there are turns: the later ones wait theirs.
    let slow: Vec<_> = (0..6)
        .map(|_| {
            let (http, url) = (
                server.http.clone(),
                format!("{}/api/v1/services", server.ui_url),
            );
            tokio::spawn(async move { http.get(url).send().await.unwrap() })
        })
        .collect();
    let (status, body) = readyz(&server).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "/readyz waited behind the reads"
    );
    for read in slow {
        let response = read.await.unwrap();
        assert_eq!(response.status(), 503);
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("stopped after 1.5 s (--query-timeout)"),
            "{body}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the reads ran past their deadline: {:?}",
        started.elapsed()
    );
    let (status, _, page) = server.page("/traces", false).await;
    assert_eq!(status, 503);
    assert!(page.contains("--query-timeout"), "{page}");
    server.stop().await;
}

/// A report that would hold more spans than `--max-report-spans` is refused
/// before it reads any, saying so, on the API and on the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_past_its_memory_bound_is_refused_saying_so() {
    let mut server = Server::start_with(|c| c.max_report_spans = 5).await;
    for seed in 1..=3 {
        server
            .export("/v1/traces", support::traces(seed).encode_to_vec())
            .await;
    }
    // Starts mid-minute: the spans of its first minute are read, not rolled up.
    let window = format!(
        "since={}&until={}",
        support::T0,
        support::T0 + 3_600_000_000_000
    );
    for report in ["load", "cost"] {
        let (status, body) = server
            .get_json(&format!("/api/v1/reports/{report}?{window}"))
            .await;
        assert_eq!(status, 503, "{report}: {body}");
        let message = body["error"].as_str().unwrap();
        assert!(
            message.contains("more than --max-report-spans (5)"),
            "{message}"
        );
    }
    let (status, _, page) = server.page(&format!("/reports/load?{window}"), false).await;
    assert_eq!(status, 503);
    assert!(
        page.contains("Too much at once") && page.contains("--max-report-spans"),
        "{page}"
    );

    // Within the bound, the same report is answered.
    let mut roomy = Server::start_with(|c| c.max_report_spans = 1_000).await;
    roomy
        .export("/v1/traces", support::traces(1).encode_to_vec())
        .await;
    let (status, body) = roomy
        .get_json(&format!("/api/v1/reports/load?{window}"))
        .await;
    assert_eq!(status, 200, "{body}");
    roomy.stop().await;
    server.stop().await;
}
