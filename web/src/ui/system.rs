//! `/system`: loupe about itself, as `system::read` has it, in words.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::format;
use super::layout::{Layout, UiError};
use crate::reports::bytes;
use crate::state::AppState;
use crate::system::{self, System};

pub struct Row {
    pub label: String,
    pub value: String,
}

pub struct KeptRow {
    pub signal: &'static str,
    pub items: String,
    pub oldest: String,
}

pub struct IngestRow {
    pub signal: String,
    pub transport: String,
    pub per_second: String,
    pub accepted: String,
    pub rejected: String,
    pub refused: String,
    pub refused_any: bool,
}

pub struct ReadRow {
    pub path: String,
    pub took: String,
    pub at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "system.html")]
pub struct SystemPage {
    layout: Layout,
    refusing: Option<String>,
    database: Vec<Row>,
    kept: Vec<KeptRow>,
    retention: Vec<Row>,
    ingest: Vec<IngestRow>,
    writer: Vec<Row>,
    reads: Vec<ReadRow>,
}

fn row(label: &str, value: impl Into<String>) -> Row {
    Row {
        label: label.to_owned(),
        value: value.into(),
    }
}

/// `1 234 567`: counts with thin separators, as the eye groups them.
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// `3 d 4 h`, `25 min`, `40 s`: an age at a glance.
fn age(secs: f64) -> String {
    let secs = secs.max(0.0) as u64;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
        _ if secs % 86_400 < 3600 => format!("{} d", secs / 86_400),
        _ => format!("{} d {} h", secs / 86_400, secs % 86_400 / 3600),
    }
}

fn page(system: System) -> SystemPage {
    let mut database = vec![
        row("backend", system.backend),
        row("size on disk", bytes(system.database_bytes as f64)),
    ];
    if let Some(used) = system.used_bytes {
        database.push(row(
            "in use",
            format!(
                "{} ({} free pages, reused before the file grows)",
                bytes(used as f64),
                bytes(system.database_bytes.saturating_sub(used) as f64)
            ),
        ));
    }
    if let Some(available) = system.disk_available_bytes {
        database.push(row("free on its disk", bytes(available as f64)));
    }
    database.push(row(
        "growth per day",
        match system.running.growth_bytes_per_day {
            Some(g) if g < 0.0 => format!("−{} (retention removes more than arrives)", bytes(-g)),
            Some(g) => bytes(g),
            None => "measuring (needs 10 minutes)".to_owned(),
        },
    ));
    if let Some(max) = system.running.retention.max_size_bytes {
        database.push(row(
            "until --max-size",
            match (
                system.days_until_max_size,
                system.running.growth_bytes_per_day,
            ) {
                (Some(days), _) => {
                    format!(
                        "{days:.1} days at that growth ({} limit)",
                        bytes(max as f64)
                    )
                }
                (None, Some(_)) => format!("not growing toward its {} limit", bytes(max as f64)),
                (None, None) => format!("{} limit; measuring the growth", bytes(max as f64)),
            },
        ));
    }

    let kept = system
        .kept
        .iter()
        .map(|k| KeptRow {
            signal: k.signal,
            items: count(k.items.max(0) as u64),
            oldest: match (k.oldest_ns, k.oldest_age_secs) {
                (Some(ns), Some(secs)) => format!("{} UTC ({} ago)", format::time(ns), age(secs)),
                _ => "—".to_owned(),
            },
        })
        .collect();

    let r = &system.running.retention;
    let mut retention = vec![
        row(
            "--retention",
            r.max_age_secs
                .map_or("keeps everything".to_owned(), |s| age(s as f64)),
        ),
        row(
            "--rollup-retention",
            r.rollup_max_age_secs
                .map_or("keeps every rollup".to_owned(), |s| age(s as f64)),
        ),
        row(
            "--max-size",
            r.max_size_bytes
                .map_or("none".to_owned(), |b| bytes(b as f64)),
        ),
        row(
            "--min-free-disk",
            r.min_free_disk_bytes
                .map_or("none".to_owned(), |b| bytes(b as f64)),
        ),
        row(
            "removed since the start",
            format!(
                "{} spans, {} traces, {} log records, {} metric points, {} request ids, {} rollup rows",
                count(r.removed.spans),
                count(r.removed.traces),
                count(r.removed.logs),
                count(r.removed.metric_points),
                count(r.removed.request_ids),
                count(r.removed.rollups)
            ),
        ),
    ];
    if let Some(at) = r.last_sweep_at_ns {
        retention.push(row(
            "last sweep by age",
            format!("{} UTC", format::time(at)),
        ));
    }

    let ingest = system
        .running
        .ingest
        .iter()
        .map(|i| IngestRow {
            signal: i.signal.clone(),
            transport: i.transport.clone(),
            per_second: format::rate(i.per_second),
            accepted: count(i.accepted),
            rejected: count(i.rejected),
            refused: count(i.refused),
            refused_any: i.refused > 0,
        })
        .collect();

    let seconds =
        |s: Option<f64>| s.map_or("—".to_owned(), |s| format::duration((s * 1e9) as i64));
    let writer = vec![
        row(
            "queue",
            format!(
                "{} of {} items",
                count(system.running.queue_items),
                count(system.running.queue_capacity)
            ),
        ),
        row(
            "commits",
            format!(
                "{} ({} failed)",
                count(system.running.commits),
                count(system.running.commit_failures)
            ),
        ),
        row(
            "commit time, mean",
            seconds(system.running.commit_seconds_mean),
        ),
        row(
            "commit time, p99 at most",
            seconds(system.running.commit_seconds_p99_at_most),
        ),
        row(
            "minutes waiting for their report rollups",
            format!(
                "{} (read from the spans until rolled up)",
                count(system.report_minutes_pending)
            ),
        ),
        row("up for", age(system.uptime_secs)),
    ];

    let reads = system
        .slowest_reads
        .iter()
        .map(|r| ReadRow {
            path: r.path.clone(),
            took: format::duration((r.millis * 1e6) as i64),
            at: format::time(r.at_ns),
        })
        .collect();

    SystemPage {
        layout: Layout::new("System", ""),
        refusing: system.running.retention.refusing.clone(),
        database,
        kept,
        retention,
        ingest,
        writer,
        reads,
    }
}

pub async fn show(State(state): State<AppState>) -> Result<Response, UiError> {
    let system = system::read(&state.store, (state.running)(), &state.slow_reads).await?;
    Ok(page(system).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_ages_read_at_a_glance() {
        for (n, text) in [
            (0, "0"),
            (999, "999"),
            (1000, "1\u{202f}000"),
            (1_234_567, "1\u{202f}234\u{202f}567"),
        ] {
            assert_eq!(count(n), text);
        }
        for (secs, text) in [
            (5.0, "5 s"),
            (125.0, "2 min"),
            (7260.0, "2 h 1 min"),
            (266_400.0, "3 d 2 h"),
            (604_800.0, "7 d"),
        ] {
            assert_eq!(age(secs), text);
        }
    }
}
