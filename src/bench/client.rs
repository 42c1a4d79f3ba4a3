//! The load: concurrent clients, each with its own connection and one
//! export in flight, sending the pre-encoded requests as fast as they are
//! acknowledged over OTLP/HTTP protobuf or OTLP/gRPC, retrying what the
//! server refuses for now as an SDK would.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::{BufMut as _, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;

use super::args::Transport;
use super::server::{machine_cpu_seconds, peak_rss_bytes, process_cpu_seconds};
use super::workload::Body;

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// Tries of one refused (429/503, RESOURCE_EXHAUSTED/UNAVAILABLE) request.
const MAX_TRIES: u32 = 200;

/// What one run of the load measured.
#[derive(Debug, Clone)]
pub(super) struct Load {
    pub(super) transport: Transport,
    pub(super) requests: u64,
    pub(super) spans_acked: u64,
    pub(super) spans_rejected: u64,
    pub(super) retries: u64,
    pub(super) wall: Duration,
    /// Sorted.
    pub(super) latencies: Vec<Duration>,
    /// The server's CPU seconds during the load, and its peak RSS in bytes.
    pub(super) server_cpu_s: Option<f64>,
    pub(super) server_peak_rss: Option<u64>,
    pub(super) client_cpu_s: Option<f64>,
    /// Busy and available CPU seconds of the whole machine during the load.
    pub(super) machine_cpu_s: Option<(f64, f64)>,
}

impl Load {
    pub(super) fn spans_per_s(&self) -> f64 {
        self.spans_acked as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

#[derive(Default)]
struct ClientStats {
    requests: u64,
    acked: u64,
    rejected: u64,
    retries: u64,
    latencies: Vec<Duration>,
}

pub(super) async fn load(
    transport: Transport,
    endpoint: &str,
    ingest_key: Option<&str>,
    bodies: &Arc<Vec<Body>>,
    clients: u32,
    timeout: Duration,
    server_pid: Option<u32>,
) -> anyhow::Result<Load> {
    let mut connected = Vec::new();
    for _ in 0..clients {
        connected.push(Client::connect(transport, endpoint, ingest_key).await?);
    }
    let server = server_pid.map(|pid| pid.to_string());
    let server_cpu_before = server.as_deref().and_then(process_cpu_seconds);
    let client_cpu_before = process_cpu_seconds("self");
    let machine_before = machine_cpu_seconds();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let give_up = started + timeout;
    let tasks: Vec<_> = connected
        .into_iter()
        .map(|client| tokio::spawn(client_loop(client, bodies.clone(), next.clone(), give_up)))
        .collect();
    let mut total = ClientStats::default();
    let mut failure = None;
    for task in tasks {
        match task.await {
            Ok(Ok(stats)) => {
                total.requests += stats.requests;
                total.acked += stats.acked;
                total.rejected += stats.rejected;
                total.retries += stats.retries;
                total.latencies.extend(stats.latencies);
            }
            Ok(Err(err)) => {
                // The other clients stop at their next request.
                next.store(usize::MAX / 2, Ordering::Relaxed);
                failure.get_or_insert(err);
            }
            Err(err) => {
                next.store(usize::MAX / 2, Ordering::Relaxed);
                failure.get_or_insert(err.into());
            }
        }
    }
    let wall = started.elapsed();
    if let Some(err) = failure {
        return Err(err);
    }
    let server_cpu_s = server
        .as_deref()
        .and_then(process_cpu_seconds)
        .zip(server_cpu_before)
        .map(|(after, before)| after - before);
    let server_peak_rss = server.as_deref().and_then(peak_rss_bytes);
    let client_cpu_s = process_cpu_seconds("self")
        .zip(client_cpu_before)
        .map(|(after, before)| after - before);
    let machine_cpu_s = machine_cpu_seconds()
        .zip(machine_before)
        .map(|(after, before)| (after.0 - before.0, after.1 - before.1));
    total.latencies.sort_unstable();
    Ok(Load {
        transport,
        requests: total.requests,
        spans_acked: total.acked,
        spans_rejected: total.rejected,
        retries: total.retries,
        wall,
        latencies: total.latencies,
        server_cpu_s,
        server_peak_rss,
        client_cpu_s,
        machine_cpu_s,
    })
}

async fn client_loop(
    mut client: Client,
    bodies: Arc<Vec<Body>>,
    next: Arc<AtomicUsize>,
    give_up: Instant,
) -> anyhow::Result<ClientStats> {
    let mut stats = ClientStats::default();
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        let Some(body) = bodies.get(index) else {
            return Ok(stats);
        };
        if Instant::now() > give_up {
            bail!("timed out with {} requests left", bodies.len() - index);
        }
        let started = Instant::now();
        let mut backoff = Duration::from_millis(10);
        let mut tries = 0;
        loop {
            tries += 1;
            match client.export(&body.bytes).await {
                Attempt::Acked { rejected } => {
                    let rejected = rejected.min(body.spans);
                    stats.acked += body.spans - rejected;
                    stats.rejected += rejected;
                    stats.latencies.push(started.elapsed());
                    break;
                }
                Attempt::Retry(why) => {
                    stats.retries += 1;
                    if tries >= MAX_TRIES || Instant::now() > give_up {
                        bail!("request {index} still refused after {tries} tries: {why}");
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                Attempt::Failed(why) => bail!("request {index} failed: {why}"),
            }
        }
        stats.requests += 1;
    }
}

enum Client {
    Http {
        client: reqwest::Client,
        url: String,
    },
    Grpc {
        grpc: tonic::client::Grpc<tonic::transport::Channel>,
        authorization: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
    },
}

enum Attempt {
    Acked { rejected: u64 },
    Retry(String),
    Failed(String),
}

impl Client {
    /// Its own connection: clients share nothing but the server.
    async fn connect(
        transport: Transport,
        endpoint: &str,
        ingest_key: Option<&str>,
    ) -> anyhow::Result<Client> {
        let authorization = ingest_key.map(|key| format!("Bearer {key}"));
        match transport {
            Transport::Http => {
                let mut headers = reqwest::header::HeaderMap::new();
                if let Some(value) = &authorization {
                    let mut value = reqwest::header::HeaderValue::from_str(value)
                        .context("--ingest-key is not a valid header value")?;
                    value.set_sensitive(true);
                    headers.insert(reqwest::header::AUTHORIZATION, value);
                }
                Ok(Client::Http {
                    client: reqwest::Client::builder()
                        .no_proxy()
                        .tcp_nodelay(true)
                        .pool_max_idle_per_host(1)
                        .timeout(Duration::from_secs(120))
                        .default_headers(headers)
                        .build()?,
                    url: endpoint.to_owned(),
                })
            }
            Transport::Grpc => {
                let channel = tonic::transport::Endpoint::from_shared(endpoint.to_owned())?
                    .tcp_nodelay(true)
                    .timeout(Duration::from_secs(120))
                    .connect()
                    .await
                    .with_context(|| format!("cannot connect to {endpoint}"))?;
                let authorization = match authorization {
                    Some(value) => Some(
                        value
                            .parse()
                            .context("--ingest-key is not a valid metadata value")?,
                    ),
                    None => None,
                };
                Ok(Client::Grpc {
                    grpc: tonic::client::Grpc::new(channel),
                    authorization,
                })
            }
        }
    }

    async fn export(&mut self, body: &Bytes) -> Attempt {
        match self {
            Client::Http { client, url } => {
                let sent = client
                    .post(url.as_str())
                    .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
                    .body(body.clone())
                    .send()
                    .await;
                let response = match sent {
                    Ok(response) => response,
                    Err(err) => return Attempt::Failed(format!("{err:#}")),
                };
                let status = response.status();
                let answer = match response.bytes().await {
                    Ok(answer) => answer,
                    Err(err) => return Attempt::Failed(format!("reading the answer: {err:#}")),
                };
                match status.as_u16() {
                    200 => match ExportTraceServiceResponse::decode(answer) {
                        Ok(answer) => Attempt::Acked {
                            rejected: rejected_spans(&answer),
                        },
                        Err(err) => Attempt::Failed(format!("undecodable answer: {err}")),
                    },
                    429 | 502 | 503 | 504 => Attempt::Retry(format!("HTTP {status}")),
                    _ => Attempt::Failed(format!(
                        "HTTP {status}: {}",
                        String::from_utf8_lossy(&answer[..answer.len().min(300)])
                    )),
                }
            }
            Client::Grpc {
                grpc,
                authorization,
            } => {
                if let Err(err) = grpc.ready().await {
                    return Attempt::Failed(format!("connection: {err}"));
                }
                let path = tonic::codegen::http::uri::PathAndQuery::from_static(EXPORT_PATH);
                let mut request = tonic::Request::new(body.clone());
                if let Some(value) = authorization {
                    request
                        .metadata_mut()
                        .insert("authorization", value.clone());
                }
                match grpc.unary(request, path, RawCodec).await {
                    Ok(answer) => Attempt::Acked {
                        rejected: rejected_spans(answer.get_ref()),
                    },
                    Err(status)
                        if matches!(
                            status.code(),
                            tonic::Code::ResourceExhausted | tonic::Code::Unavailable
                        ) =>
                    {
                        Attempt::Retry(format!("{:?}: {}", status.code(), status.message()))
                    }
                    Err(status) => {
                        Attempt::Failed(format!("{:?}: {}", status.code(), status.message()))
                    }
                }
            }
        }
    }
}

fn rejected_spans(answer: &ExportTraceServiceResponse) -> u64 {
    answer
        .partial_success
        .as_ref()
        .map_or(0, |p| p.rejected_spans.max(0) as u64)
}

/// Sends an already encoded ExportTraceServiceRequest, so that gRPC clients,
/// like HTTP ones, spend nothing on encoding while they are timed.
#[derive(Debug, Clone, Copy)]
struct RawCodec;
struct RawEncoder;
struct AnswerDecoder;

impl tonic::codec::Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawEncoder;
    type Decoder = AnswerDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> AnswerDecoder {
        AnswerDecoder
    }
}

impl tonic::codec::Encoder for RawEncoder {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for AnswerDecoder {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<ExportTraceServiceResponse>, tonic::Status> {
        ExportTraceServiceResponse::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(format!("undecodable answer: {e}")))
    }
}
