//! `loupe bench --queries`: the reads a team makes all day, timed against
//! the loupe the bench just loaded, each beside its target (the table a
//! database of any size should meet: docs in the README). Ids, names and
//! attribute values are found through the API first, as a user would
//! paste them.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::Serialize;

/// Timed runs of each read, after one untimed: the median is reported.
const RUNS: usize = 3;

#[derive(Debug, Clone, Serialize)]
pub(super) struct QueryTiming {
    name: &'static str,
    path: String,
    target_ms: f64,
    median_ms: f64,
    min_ms: f64,
    max_ms: f64,
    /// Rows (or spans and log records, for one trace) the answer held, to
    /// show it was not empty by mistake.
    rows: Option<usize>,
    within_target: bool,
}

#[derive(Debug, Serialize)]
pub(super) struct QueryReport {
    spans_stored: u64,
    /// From the end of the load until no minute waited for its report
    /// rollups (docs/adr/0021): how long the reports read spans instead.
    report_rollups_after_secs: f64,
    timings: Vec<QueryTiming>,
}

/// Waits until every minute loaded has its report rollups (the reports
/// are timed as a team sees them all day); returns how long that took.
async fn rolled_up(client: &reqwest::Client, base: &reqwest::Url) -> anyhow::Result<f64> {
    const PATIENCE: Duration = Duration::from_secs(1800);
    let started = Instant::now();
    loop {
        let system = get_json(client, &base.join("/api/v1/system")?).await?;
        let pending = system["report_minutes_pending"]
            .as_u64()
            .context("/api/v1/system has no report_minutes_pending")?;
        if pending == 0 {
            return Ok(started.elapsed().as_secs_f64());
        }
        if started.elapsed() > PATIENCE {
            bail!("{pending} minutes still wait for their report rollups after {PATIENCE:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What the reads ask for, found in the data.
struct Found {
    trace_id: String,
    span_id: String,
    operation: String,
    attribute: (String, String),
}

async fn get_json(
    client: &reqwest::Client,
    url: &reqwest::Url,
) -> anyhow::Result<serde_json::Value> {
    let response = client.get(url.clone()).send().await?;
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() {
        bail!("GET {url} answered {status}: {body}");
    }
    Ok(serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
}

async fn find(client: &reqwest::Client, base: &reqwest::Url) -> anyhow::Result<Found> {
    let traces = get_json(client, &base.join("/api/v1/traces?limit=1&window=7d")?).await?;
    let trace_id = traces[0]["trace_id"]
        .as_str()
        .context("no trace to read: load some first")?
        .to_owned();
    let trace = get_json(client, &base.join(&format!("/api/v1/traces/{trace_id}"))?).await?;
    let spans = trace["spans"].as_array().context("a trace without spans")?;
    // A child span: its operation and attributes are those a search names.
    let span = spans
        .iter()
        .find(|s| !s["parent_span_id"].is_null())
        .or_else(|| spans.first())
        .context("a trace without spans")?;
    let attribute = spans
        .iter()
        .filter_map(|s| s["attributes"].as_object())
        .flat_map(|a| a.iter())
        .find_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
        .context("no span with a string attribute")?;
    Ok(Found {
        trace_id,
        span_id: span["span_id"].as_str().unwrap_or_default().to_owned(),
        operation: span["name"].as_str().unwrap_or_default().to_owned(),
        attribute,
    })
}

fn rows_of(answer: &serde_json::Value) -> Option<usize> {
    answer
        .as_array()
        .map(Vec::len)
        .or_else(|| {
            let spans = answer["spans"].as_array()?.len();
            Some(spans + answer["logs"].as_array().map_or(0, Vec::len))
        })
        .or_else(|| answer["groups"].as_array().map(Vec::len))
        .or_else(|| answer["endpoints"].as_array().map(Vec::len))
}

/// Times the table of reads against the UI at `ui`.
pub(super) async fn time(ui: SocketAddr) -> anyhow::Result<QueryReport> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let base = reqwest::Url::parse(&format!("http://{ui}"))?;
    let report_rollups_after_secs = rolled_up(&client, &base).await?;
    let found = find(&client, &base).await?;
    let (key, value) = &found.attribute;
    let day = [("window", "24h")];
    let week = [("window", "7d")];
    let url = |path: &str, params: &[(&str, &str)]| {
        reqwest::Url::parse_with_params(&format!("http://{ui}{path}"), params)
    };
    let table: Vec<(&'static str, reqwest::Url, f64)> = vec![
        (
            "services overview, 1 h",
            url("/api/v1/services", &[("window", "1h")])?,
            100.0,
        ),
        (
            "services overview, 24 h",
            url("/api/v1/services", &day)?,
            100.0,
        ),
        ("services page", url("/", &[])?, 100.0),
        ("failures, 24 h", url("/api/v1/failures", &day)?, 100.0),
        (
            "load report, 24 h",
            url("/api/v1/reports/load", &day)?,
            1000.0,
        ),
        (
            "cost report, 24 h",
            url("/api/v1/reports/cost", &day)?,
            1000.0,
        ),
        ("service map, 24 h", url("/map", &day)?, 1000.0),
        (
            "services overview, 7 d",
            url("/api/v1/services", &week)?,
            100.0,
        ),
        ("failures, 7 d", url("/api/v1/failures", &week)?, 100.0),
        (
            "load report, 7 d",
            url("/api/v1/reports/load", &week)?,
            1000.0,
        ),
        (
            "cost report, 7 d",
            url("/api/v1/reports/cost", &week)?,
            1000.0,
        ),
        ("service map, 7 d", url("/map", &week)?, 1000.0),
        (
            "search by operation, matching",
            url(
                "/api/v1/traces",
                &[("operation", &found.operation), ("window", "24h")],
            )?,
            500.0,
        ),
        (
            "search by operation, none",
            url(
                "/api/v1/traces",
                &[("operation", "no such operation"), ("window", "24h")],
            )?,
            500.0,
        ),
        (
            "search by attribute, matching",
            url(
                "/api/v1/traces",
                &[("attr", &format!("{key}={value}")), ("window", "24h")],
            )?,
            500.0,
        ),
        (
            "search by attribute, none",
            url(
                "/api/v1/traces",
                &[("attr", &format!("{key}=no such value")), ("window", "24h")],
            )?,
            500.0,
        ),
        (
            "span id",
            url(&format!("/api/v1/requests/{}", found.span_id), &[])?,
            50.0,
        ),
        (
            "trace by id",
            url(&format!("/api/v1/traces/{}", found.trace_id), &[])?,
            10.0,
        ),
        (
            "request by trace id",
            url(&format!("/api/v1/requests/{}", found.trace_id), &[])?,
            10.0,
        ),
    ];
    let stats = get_json(&client, &base.join("/api/v1/stats")?).await?;
    let timings = time_table(&client, table).await?;
    Ok(QueryReport {
        spans_stored: stats["spans"].as_u64().unwrap_or(0),
        report_rollups_after_secs,
        timings,
    })
}

/// Times each read of `table` (name, URL, target in ms).
async fn time_table(
    client: &reqwest::Client,
    table: Vec<(&'static str, reqwest::Url, f64)>,
) -> anyhow::Result<Vec<QueryTiming>> {
    let mut timings = Vec::new();
    for (name, url, target_ms) in table {
        let mut answer = serde_json::Value::Null;
        let mut took = Vec::new();
        for run in 0..=RUNS {
            let started = Instant::now();
            let response = client.get(url.clone()).send().await?;
            let status = response.status();
            let body = response.text().await?;
            let elapsed = started.elapsed().as_secs_f64() * 1e3;
            if !status.is_success() {
                bail!("{name}: GET {url} answered {status}: {body}");
            }
            if run > 0 {
                took.push(elapsed);
            } else {
                answer = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
            }
        }
        took.sort_by(f64::total_cmp);
        let median_ms = took[took.len() / 2];
        timings.push(QueryTiming {
            name,
            path: format!(
                "{}{}",
                url.path(),
                url.query()
                    .filter(|q| !q.is_empty())
                    .map_or(String::new(), |q| format!("?{q}"))
            ),
            target_ms,
            median_ms,
            min_ms: took[0],
            max_ms: took[took.len() - 1],
            rows: rows_of(&answer),
            within_target: median_ms <= target_ms,
        });
    }
    Ok(timings)
}

/// The reads of log records, timed against the loupe the bench loaded
/// with them: the newest page, word searches with and without a match,
/// a trace's records.
pub(super) async fn time_logs(ui: SocketAddr) -> anyhow::Result<Vec<QueryTiming>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let base = reqwest::Url::parse(&format!("http://{ui}"))?;
    let newest = get_json(&client, &base.join("/api/v1/logs?limit=1&window=7d")?).await?;
    let trace_id = newest[0]["trace_id"]
        .as_str()
        .context("no log record with a trace id to read")?
        .to_owned();
    let url = |path: &str, params: &[(&str, &str)]| {
        reqwest::Url::parse_with_params(&format!("http://{ui}{path}"), params)
    };
    let day = ("window", "24h");
    let table = vec![
        (
            "logs, newest 100, 1 h",
            url("/api/v1/logs", &[("window", "1h"), ("limit", "100")])?,
            100.0,
        ),
        (
            "logs, word search, matching",
            url("/api/v1/logs", &[("q", "declined"), day, ("limit", "100")])?,
            500.0,
        ),
        (
            "logs, word search, none",
            url(
                "/api/v1/logs",
                &[("q", "nosuchword"), day, ("limit", "100")],
            )?,
            500.0,
        ),
        (
            "logs, error and above, 24 h",
            url(
                "/api/v1/logs",
                &[("severity_min", "17"), day, ("limit", "100")],
            )?,
            500.0,
        ),
        (
            "logs of a trace",
            url("/api/v1/logs", &[("trace_id", &trace_id), day])?,
            50.0,
        ),
        (
            "trace by id, logs only",
            url(&format!("/api/v1/traces/{trace_id}"), &[])?,
            50.0,
        ),
    ];
    time_table(&client, table).await
}

/// Prints timings as `QueryReport` does.
pub(super) fn write_timings(f: &mut fmt::Formatter<'_>, timings: &[QueryTiming]) -> fmt::Result {
    for t in timings {
        writeln!(
            f,
            "  {:<32} {:>9.1} ms (target {:>5.0} ms) {} {:>6}  {}",
            t.name,
            t.median_ms,
            t.target_ms,
            if t.within_target { "ok  " } else { "OVER" },
            t.rows.map_or(String::new(), |n| format!("{n} rows")),
            t.path
        )?;
    }
    Ok(())
}

impl fmt::Display for QueryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "reads over {} stored spans (median of {RUNS} warm runs, through HTTP), \
             the reports' rollups made {:.0} s after the load:",
            self.spans_stored, self.report_rollups_after_secs
        )?;
        write_timings(f, &self.timings)
    }
}
