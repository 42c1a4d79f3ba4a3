//! `loupe import`: OTLP/JSON lines files (one export request a line, as
//! `loupe export` and the Collector's file exporter write them) loaded
//! through the same decoding and normalisation as an OTLP/HTTP export, or
//! sent to a running loupe's receiver.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use collector::decode::Encoding;
use collector::ingest::{Form, Limits, Logs, Metrics, Traces};
use collector::self_metrics::{Signal, Transport};
use collector::{Ingest, Pipeline, PipelineConfig, Rules, SelfMetrics};

use crate::cli::ImportArgs;

/// The signal of one line's export request, by the field it begins with.
pub fn signal_of(line: &str) -> Option<Signal> {
    let at = |key: &str| line.find(&format!("\"{key}\""));
    [
        (at("resourceSpans"), Signal::Traces),
        (at("resourceLogs"), Signal::Logs),
        (at("resourceMetrics"), Signal::Metrics),
    ]
    .into_iter()
    .filter_map(|(at, signal)| Some((at?, signal)))
    .min_by_key(|(at, _)| *at)
    .map(|(_, signal)| signal)
}

/// Where OTLP/HTTP takes a signal's exports.
fn path(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "/v1/traces",
        Signal::Logs => "/v1/logs",
        Signal::Metrics => "/v1/metrics",
    }
}

/// Items stored and refused, over every line.
#[derive(Debug, Default)]
struct Tally {
    lines: u64,
    accepted: u64,
    rejected: u64,
}

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let mut lines = Vec::new();
    for path in &args.files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let Some(signal) = signal_of(line) else {
                bail!(
                    "{} line {}: not an OTLP/JSON export request (no resourceSpans, resourceLogs or resourceMetrics)",
                    path.display(),
                    n + 1
                );
            };
            lines.push((
                format!("{} line {}", path.display(), n + 1),
                signal,
                line.to_owned(),
            ));
        }
    }
    let tally = match &args.endpoint {
        Some(endpoint) => send(&args, endpoint, lines).await?,
        None => load(&args, lines).await?,
    };
    eprintln!(
        "loupe import: {} lines: {} items stored{}",
        tally.lines,
        tally.accepted,
        if tally.rejected > 0 {
            format!(", {} refused as invalid", tally.rejected)
        } else {
            String::new()
        }
    );
    Ok(())
}

/// Into the database, through an ingest pipeline of its own.
async fn load(args: &ImportArgs, lines: Vec<(String, Signal, String)>) -> anyhow::Result<Tally> {
    let store = store::Store::open(&args.database_url)
        .await
        .context("cannot open the database")?;
    let metrics = Arc::new(SelfMetrics::default());
    let (pipeline, writers) = Pipeline::start(
        store.writer(),
        PipelineConfig {
            queue_items: 131_072,
            max_batch_items: 16_384,
            write_delay: Duration::ZERO,
        },
        metrics.clone(),
    );
    let rules = Rules {
        request_id_keys: args.request_id_keys.clone(),
        ..Rules::default()
    };
    // A line is one export request, however large the file's writer made it.
    let limits = Limits {
        max_body_bytes: lines
            .iter()
            .map(|l| l.2.len())
            .max()
            .unwrap_or(0)
            .max(1 << 20),
    };
    let ingest = Ingest::new(pipeline, rules, limits, metrics);
    let mut tally = Tally::default();
    for (place, signal, line) in lines {
        let body = Bytes::from(line);
        let form = Form {
            encoding: Encoding::Json,
            gzip: false,
        };
        let done = match signal {
            Signal::Traces => {
                ingest
                    .export::<Traces>(body, form, Transport::Http, None)
                    .await
            }
            Signal::Logs => {
                ingest
                    .export::<Logs>(body, form, Transport::Http, None)
                    .await
            }
            Signal::Metrics => {
                ingest
                    .export::<Metrics>(body, form, Transport::Http, None)
                    .await
            }
        };
        let accepted = done.with_context(|| place.clone())?;
        if accepted.rejected > 0 {
            eprintln!("loupe import: {place}: {}", accepted.message);
        }
        tally.lines += 1;
        tally.accepted += accepted.accepted;
        tally.rejected += accepted.rejected;
    }
    // The writers stop once the last handle on their queue is gone.
    drop(ingest);
    let _ = writers.await;
    store.close().await;
    Ok(tally)
}

/// To a running loupe, a line an export.
async fn send(
    args: &ImportArgs,
    endpoint: &str,
    lines: Vec<(String, Signal, String)>,
) -> anyhow::Result<Tally> {
    let client = reqwest::Client::new();
    let endpoint = endpoint.trim_end_matches('/');
    let mut tally = Tally::default();
    for (place, signal, line) in lines {
        let url = format!("{endpoint}{}", path(signal));
        let mut request = client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(line);
        if let Some(key) = &args.ingest_key {
            let secret = key.0.split_once(':').map_or(key.0.as_str(), |(_, s)| s);
            request = request.bearer_auth(secret);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{place}: cannot reach {url}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!(
                "{place}: {url} answered {status}: {}",
                text.chars().take(300).collect::<String>()
            );
        }
        tally.lines += 1;
        // The answer names what it refused (partial success); the rest it took.
        let refused: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let rejected = ["rejectedSpans", "rejectedLogRecords", "rejectedDataPoints"]
            .iter()
            .find_map(|k| {
                refused["partialSuccess"][k]
                    .as_str()?
                    .parse::<u64>()
                    .ok()
                    .or_else(|| refused["partialSuccess"][k].as_u64())
            })
            .unwrap_or(0);
        tally.rejected += rejected;
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_the_signal_its_request_begins_with() {
        for (line, want) in [
            (r#"{"resourceSpans":[]}"#, Some(Signal::Traces)),
            (
                r#"{"resourceLogs":[{"x":"resourceSpans"}]}"#,
                Some(Signal::Logs),
            ),
            (r#"{ "resourceMetrics": [] }"#, Some(Signal::Metrics)),
            (r#"{"spans":[]}"#, None),
            ("", None),
        ] {
            assert_eq!(signal_of(line), want, "{line}");
        }
    }
}
