//! TLS on all three listeners, with a certificate this test makes, and a
//! renewed certificate picked up without a restart.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message as _;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use crate::support::{self, Server};

/// A self-signed certificate for localhost and 127.0.0.1, as PEM (cert, key).
fn certificate() -> (String, String) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("a certificate");
    (made.cert.pem(), made.key_pair.serialize_pem())
}

fn client_trusting(cert_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .https_only(true)
        .build()
        .unwrap()
}

fn https(url: &str) -> String {
    url.replacen("http://", "https://", 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listener_speaks_tls_and_a_renewed_certificate_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let (cert, key) = certificate();
    std::fs::write(&cert_file, &cert).unwrap();
    std::fs::write(&key_file, &key).unwrap();
    let mut server = Server::start_with(|c| {
        c.tls_cert = Some(cert_file.clone());
        c.tls_key = Some(key_file.clone());
    })
    .await;
    let client = client_trusting(&cert);

    // OTLP/HTTP and the UI.
    let response = client
        .post(format!("{}/v1/traces", https(&server.otlp_url)))
        .header("content-type", "application/x-protobuf")
        .body(support::traces(1).encode_to_vec())
        .send()
        .await
        .expect("OTLP/HTTP over TLS");
    assert_eq!(response.status(), 200);
    let response = client
        .get(format!("{}/api/v1/stats", https(&server.ui_url)))
        .send()
        .await
        .expect("the UI over TLS");
    assert_eq!(response.status(), 200);

    // OTLP/gRPC, HTTP/2 chosen by ALPN.
    let channel = Endpoint::from_shared(https(&server.grpc_url))
        .unwrap()
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&cert))
                .domain_name("localhost"),
        )
        .unwrap()
        .connect()
        .await
        .expect("gRPC over TLS");
    TraceServiceClient::new(channel)
        .export(support::traces(2))
        .await
        .expect("a gRPC export over TLS");
    let stats: serde_json::Value = client
        .get(format!("{}/api/v1/stats", https(&server.ui_url)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["spans"], 4, "{stats}");

    // Plain HTTP is not served.
    assert!(
        reqwest::get(format!("{}/healthz", server.ui_url))
            .await
            .is_err(),
        "plain HTTP answered on a TLS listener"
    );

    // A renewal: new files in place; the next connection gets the new
    // certificate, which a client trusting only it accepts.
    let (renewed, renewed_key) = certificate();
    std::fs::write(&key_file, &renewed_key).unwrap();
    std::fs::write(&cert_file, &renewed).unwrap();
    let response = client_trusting(&renewed)
        .get(format!("{}/healthz", https(&server.ui_url)))
        .send()
        .await
        .expect("the renewed certificate is served");
    assert_eq!(response.status(), 200);
    server.stop().await;
}
