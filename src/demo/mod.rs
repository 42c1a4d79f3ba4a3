//! `loupe demo`: a simulated shop sending its telemetry through the real
//! OTLP/HTTP receiver, either of a `loupe serve` started here or of one
//! already running (`--endpoint`). History first, so that the pages are full
//! at once, then live at a modest rate. This file sends; the shop is pure.
//!
//! - `shop`: what happens in the shop: requests, calls, timings, failures
//! - `telemetry`: the spans, log records and metrics its SDKs would send
//! - `tests`: the shop's properties, checked over simulated time

mod shop;
mod telemetry;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;

pub use shop::{SERVICES, Shop};

use crate::cli::DemoArgs;

/// Live slices end this far behind the clock, so that every span of a
/// request (a card-network timeout takes 2 s) has ended when it is sent.
const LAG: Duration = Duration::from_secs(4);
/// History is sent in slices of this much simulated time.
const HISTORY_SLICE: Duration = Duration::from_secs(10);
/// How long an export is retried (overload, loupe restarting) before the demo gives up.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let mut running = None;
    let (endpoint, ui) = match &args.endpoint {
        Some(endpoint) => {
            let url = reqwest::Url::parse(endpoint)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .with_context(|| {
                    format!("--endpoint {endpoint:?} is not an http:// address like http://127.0.0.1:4318")
                })?;
            let ui = args.ui.clone().unwrap_or_else(|| {
                format!("http://{}:8080", url.host_str().unwrap_or("127.0.0.1"))
            });
            (url.as_str().trim_end_matches('/').to_owned(), ui)
        }
        None => {
            let server = crate::server::start(&args.serve).await.context(
                "cannot start loupe for the demo (to feed a loupe that is already running, add --endpoint http://HOST:4318)",
            )?;
            println!("{}", server.listening_line());
            let addresses = (
                format!("http://{}", server.otlp_http),
                format!("http://{}", server.ui),
            );
            running = Some(server);
            addresses
        }
    };
    let fed = feed(&args, &endpoint, &ui).await;
    if let Some(server) = running {
        if fed.is_ok() && args.duration.is_some() {
            println!("demo finished; loupe keeps serving {ui} until Ctrl-C");
            crate::server::shutdown_signal().await;
        }
        server.stop().await?;
    }
    fed
}

async fn feed(args: &DemoArgs, endpoint: &str, ui: &str) -> anyhow::Result<()> {
    let key = args.ingest_key.clone().or_else(|| {
        let first = &args.serve.ingest_keys.first()?.0;
        Some(
            first
                .split_once(':')
                .map_or(first.as_str(), |(_, secret)| secret)
                .to_owned(),
        )
    });
    let sender = Sender::new(endpoint, key)?;
    let seed = args.seed.unwrap_or_else(|| web::reports::now_ns() as u64);
    let lag = LAG.as_nanos() as i64;
    let history_start = web::reports::now_ns() - lag - args.backfill.as_nanos() as i64;
    let mut shop = Shop::new(seed, args.rate, history_start);
    let mut totals = Totals::default();
    let mut example: Option<String> = None;
    println!(
        "loupe demo: a simulated shop ({}) sending to {endpoint}",
        SERVICES.join(", ")
    );

    let mut cursor = history_start;
    let step = HISTORY_SLICE.as_nanos() as i64;
    while cursor < web::reports::now_ns() - lag - step {
        let exports = shop.advance(cursor, cursor + step);
        cursor += step;
        example = example.or(exports.failed_request.clone());
        sender.send(&exports).await?;
        totals.add(&exports);
    }
    if !args.backfill.is_zero() {
        println!(
            "  sent {} of history: {} requests, {} spans, {} log records",
            humanize(args.backfill),
            totals.requests,
            totals.spans,
            totals.logs
        );
    }
    match args.duration {
        Some(d) => println!("  now about {} requests/s for {}", args.rate, humanize(d)),
        None => println!("  now about {} requests/s, until Ctrl-C", args.rate),
    }
    println!("  open {ui}");
    let mut told = false;
    if let Some(id) = &example {
        tell(ui, id);
        told = true;
    }

    let stop = async {
        match args.duration {
            Some(d) => tokio::time::sleep(d).await,
            None => crate::server::shutdown_signal().await,
        }
    };
    tokio::pin!(stop);
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_status = std::time::Instant::now();
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = ticks.tick() => {}
        }
        let to = web::reports::now_ns() - lag;
        if to <= cursor {
            continue;
        }
        let exports = shop.advance(cursor, to);
        cursor = to;
        sender.send(&exports).await?;
        totals.add(&exports);
        if !told && let Some(id) = &exports.failed_request {
            tell(ui, id);
            told = true;
        }
        if last_status.elapsed() >= Duration::from_secs(60) {
            last_status = std::time::Instant::now();
            println!(
                "  sent so far: {} requests, {} spans, {} log records, {} metric exports",
                totals.requests, totals.spans, totals.logs, totals.metric_exports
            );
        }
    }
    println!(
        "demo stopped: sent {} requests, {} spans, {} log records",
        totals.requests, totals.spans, totals.logs
    );
    Ok(())
}

/// What loupe refused of an export (it says so in the partial success).
fn say_rejected(what: &str, rejected: Option<(i64, String)>) {
    if let Some((count, message)) = rejected.filter(|(count, _)| *count > 0) {
        eprintln!("loupe demo: {count} {what} rejected: {message}");
    }
}

fn tell(ui: &str, request_id: &str) {
    println!("  try request id {request_id} (a checkout that failed): {ui}/requests/{request_id}");
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..120 => format!("{s}s"),
        120..7200 => format!("{}m", s / 60),
        _ => format!("{}h", s / 3600),
    }
}

#[derive(Default)]
struct Totals {
    requests: u64,
    spans: u64,
    logs: u64,
    metric_exports: u64,
}

impl Totals {
    fn add(&mut self, exports: &shop::Exports) {
        self.requests += exports.requests;
        self.spans += exports.spans() as u64;
        self.logs += exports.log_records() as u64;
        self.metric_exports += exports.metrics.resource_metrics.len() as u64;
    }
}

/// OTLP/HTTP protobuf, as the SDKs send it: 429/502/503/504 are retried
/// after `Retry-After`, anything the server rejects is said on stderr.
struct Sender {
    client: reqwest::Client,
    endpoint: String,
    /// `Bearer KEY`, for a loupe with ingest keys.
    authorization: Option<String>,
    /// Whether an export went through: before that, an unreachable
    /// endpoint is a mistake to report, after it an outage to wait out.
    reached: AtomicBool,
}

impl Sender {
    fn new(endpoint: &str, key: Option<String>) -> anyhow::Result<Sender> {
        Ok(Sender {
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()?,
            endpoint: endpoint.to_owned(),
            authorization: key.map(|key| format!("Bearer {key}")),
            reached: AtomicBool::new(false),
        })
    }

    async fn send(&self, exports: &shop::Exports) -> anyhow::Result<()> {
        if !exports.traces.resource_spans.is_empty() {
            let answer: ExportTraceServiceResponse =
                self.export("/v1/traces", &exports.traces).await?;
            let rejected = answer
                .partial_success
                .map(|p| (p.rejected_spans, p.error_message));
            say_rejected("spans", rejected);
        }
        if !exports.logs.resource_logs.is_empty() {
            let answer: ExportLogsServiceResponse = self.export("/v1/logs", &exports.logs).await?;
            let rejected = answer
                .partial_success
                .map(|p| (p.rejected_log_records, p.error_message));
            say_rejected("log records", rejected);
        }
        if !exports.metrics.resource_metrics.is_empty() {
            let answer: ExportMetricsServiceResponse =
                self.export("/v1/metrics", &exports.metrics).await?;
            let rejected = answer
                .partial_success
                .map(|p| (p.rejected_data_points, p.error_message));
            say_rejected("metric points", rejected);
        }
        Ok(())
    }

    async fn export<A: prost::Message + Default>(
        &self,
        path: &str,
        request: &impl prost::Message,
    ) -> anyhow::Result<A> {
        let answer = self.post(path, request.encode_to_vec()).await?;
        A::decode(answer).with_context(|| format!("{path}: the answer is not OTLP protobuf"))
    }

    async fn post(&self, path: &str, body: Vec<u8>) -> anyhow::Result<Bytes> {
        let url = format!("{}{path}", self.endpoint);
        let body = Bytes::from(body);
        let started = std::time::Instant::now();
        let mut warned = false;
        loop {
            let mut request = self
                .client
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
                .body(body.clone());
            if let Some(authorization) = &self.authorization {
                request = request.header(reqwest::header::AUTHORIZATION, authorization);
            }
            let (wait, why) = match request.send().await {
                Ok(response) if response.status().is_success() => {
                    self.reached.store(true, Ordering::Relaxed);
                    return Ok(response.bytes().await?);
                }
                Ok(response) if matches!(response.status().as_u16(), 429 | 502 | 503 | 504) => {
                    let wait = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                        .map_or(Duration::from_secs(1), Duration::from_secs);
                    (wait, format!("it answered {}", response.status()))
                }
                Ok(response) if response.status() == reqwest::StatusCode::UNAUTHORIZED => {
                    bail!(
                        "{url} asks for an ingest key: pass the one it was given with --ingest-key (or LOUPE_DEMO_INGEST_KEY)"
                    );
                }
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    bail!(
                        "{url} answered {status}: {}",
                        text.chars().take(300).collect::<String>()
                    );
                }
                Err(err) => {
                    let why = crate::errors::error_line(&anyhow::Error::from(err));
                    if !self.reached.load(Ordering::Relaxed) {
                        bail!(
                            "cannot reach loupe at {url} ({why}): start `loupe serve` there, or leave out --endpoint and the demo starts one"
                        );
                    }
                    (Duration::from_secs(1), why)
                }
            };
            if started.elapsed() + wait > GIVE_UP_AFTER {
                bail!("gave up on {url} after {GIVE_UP_AFTER:?}: {why}");
            }
            if !warned {
                eprintln!("loupe demo: {url}: {why}; trying again for up to {GIVE_UP_AFTER:?}");
                warned = true;
            }
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests;
