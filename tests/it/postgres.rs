//! Several loupe processes in front of one PostgreSQL database.

use prost::Message as _;

use crate::support::{self, Server};

#[tokio::test]
async fn two_servers_share_one_postgres_database() {
    let Some((url, admin_url)) = support::fresh_postgres("shared").await else {
        return;
    };
    let mut first = Server::start_with(|c| c.database_url = url.clone()).await;
    let mut second = Server::start_with(|c| c.database_url = url.clone()).await;
    let mut sends = Vec::new();
    for (i, server) in [&first, &second, &first, &second].into_iter().enumerate() {
        let http = server.http.clone();
        let endpoint = format!("{}/v1/traces", server.otlp_url);
        sends.push(tokio::spawn(async move {
            // The same resource and scope from every request: both processes intern them at once.
            for j in 0..10u8 {
                let seed = (i as u8) * 10 + j + 1;
                let response = http
                    .post(&endpoint)
                    .header("content-type", "application/x-protobuf")
                    .body(support::traces(seed).encode_to_vec())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
            }
        }));
    }
    for send in sends {
        send.await.unwrap();
    }
    for server in [&first, &second] {
        let stats = server.stats().await;
        assert_eq!(stats["spans"], 80);
        assert_eq!(stats["traces"], 40);
        assert_eq!(stats["services"], 1);
        // Each process reads what the other wrote.
        let (status, trace) = server
            .get_json(&format!(
                "/api/v1/traces/{}",
                hex::encode(support::trace_id(40))
            ))
            .await;
        assert_eq!(status, 200);
        assert_eq!(trace["spans"].as_array().unwrap().len(), 2);
    }
    first.stop().await;
    second.stop().await;
    support::drop_postgres(&admin_url, &url).await;
}
