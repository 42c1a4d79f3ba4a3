//! `loupe report load|cost`: the reports of the UI, read straight from the
//! database and printed as tables, JSON (the API's) or CSV (one table).

use std::io::{IsTerminal as _, Write as _};

use anyhow::{Context as _, bail};
use web::params::{LAST_DAY, TimeParams};
use web::reports::{self, CostReport, LoadReport, bytes};

use crate::cli::{ReportArgs, ReportFormat, ReportKind};

pub async fn run(args: ReportArgs) -> anyhow::Result<()> {
    // The API's window, flag for parameter, so a report reads the same
    // window on the command line as in the browser.
    let flag = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let window = TimeParams {
        window: flag(&args.window),
        from: flag(&args.from),
        to: flag(&args.to),
        since: flag(&args.since),
        until: flag(&args.until),
        ..TimeParams::default()
    }
    .check()
    .and_then(|spec| spec.window(LAST_DAY, reports::now_ns()))
    .map_err(|err| anyhow::anyhow!("{}", err.message()))?;
    let tables = match args.report {
        ReportKind::Load => reports::csv::LOAD_TABLES,
        ReportKind::Cost => reports::csv::COST_TABLES,
    };
    if args.format == ReportFormat::Csv && !tables.contains(&args.table.as_str()) {
        bail!(
            "--table must be one of {}, got {:?}",
            tables.join(", "),
            args.table
        );
    }
    if let Some(path) = args.database_url.strip_prefix("sqlite://")
        && !path.starts_with(':')
        && !std::path::Path::new(path.split('?').next().unwrap_or(path)).exists()
    {
        bail!("no database at {path}: pass --database-url of the one `loupe serve` writes");
    }
    let store = store::Store::open(&args.database_url)
        .await
        .with_context(|| format!("cannot open the database {}", args.database_url))?;
    // Progress goes to stderr, and only to a terminal, so pipes stay clean.
    let terminal = std::io::stderr().is_terminal();
    let mut progress = move |spans: u64, of: u64| {
        if terminal {
            eprint!("\rloupe: read {spans} of {of} spans…");
        }
    };
    let service = args.service.as_deref().filter(|s| !s.is_empty());
    let out = match args.report {
        ReportKind::Load => {
            let report = reports::load(&store.reader(), window, service, &mut progress).await?;
            match args.format {
                ReportFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
                ReportFormat::Csv => {
                    reports::csv::load_table(&report, &args.table).unwrap_or_default()
                }
                ReportFormat::Table => load_text(&report),
            }
        }
        ReportKind::Cost => {
            let report =
                reports::cost(&store.reader(), window, args.prices.prices(), &mut progress).await?;
            match args.format {
                ReportFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
                ReportFormat::Csv => {
                    reports::csv::cost_table(&report, &args.table).unwrap_or_default()
                }
                ReportFormat::Table => cost_text(&report),
            }
        }
    };
    if terminal {
        eprint!("\r\x1b[K");
    }
    store.close().await;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

fn ms(ns: Option<i64>) -> String {
    ns.map_or_else(|| "-".into(), |ns| format!("{:.1}", ns as f64 / 1e6))
}

fn ms_f(ns: f64) -> String {
    format!("{:.1}", ns / 1e6)
}

fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// Columns padded to their widest cell; text left, numbers right.
fn table(out: &mut String, title: &str, header: &[&str], rows: Vec<Vec<String>>) {
    out.push_str(&format!("\n{title}\n"));
    if rows.is_empty() {
        out.push_str("  (none)\n");
        return;
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let numeric = |i: usize| {
        rows.iter().all(|r| {
            r[i].chars()
                .next()
                .is_none_or(|c| c.is_ascii_digit() || c == '-' || c == '$')
        })
    };
    let right: Vec<bool> = (0..header.len()).map(numeric).collect();
    let line = |cells: Vec<&str>| {
        let mut text = String::from(" ");
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            text.push(' ');
            if right[i] {
                text.push_str(&" ".repeat(pad));
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.push_str(&" ".repeat(pad));
            }
        }
        text.trim_end().to_owned() + "\n"
    };
    out.push_str(&line(header.to_vec()));
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
}

fn load_text(r: &LoadReport) -> String {
    let mut out = format!(
        "Load report, {} spans in {} traces; percentiles are {}; durations in ms\n",
        r.spans, r.traces, r.percentiles
    );
    let red = |row: &reports::load::LoadRow| {
        vec![
            row.requests.to_string(),
            format!("{:.2}", row.rate_per_second),
            pct(row.error_rate),
            ms(row.p50_ns),
            ms(row.p95_ns),
            ms(row.p99_ns),
            ms_f(row.total_ns as f64),
            ms_f(row.self_ns as f64),
            pct(row.self_share),
        ]
    };
    let head = [
        "requests",
        "req/s",
        "errors",
        "p50",
        "p95",
        "p99",
        "total",
        "self",
        "self share",
    ];
    let mut header = vec!["service"];
    header.extend(head);
    table(
        &mut out,
        "Services",
        &header,
        r.services
            .iter()
            .map(|row| [vec![row.service.clone()], red(row)].concat())
            .collect(),
    );
    let mut header = vec!["service", "endpoint"];
    header.extend(head);
    table(
        &mut out,
        "Endpoints",
        &header,
        r.endpoints
            .iter()
            .map(|row| {
                [
                    vec![
                        row.service.clone(),
                        row.endpoint.clone().unwrap_or_default(),
                    ],
                    red(row),
                ]
                .concat()
            })
            .collect(),
    );
    table(
        &mut out,
        "Downstream load by entry endpoint",
        &[
            "entry",
            "in service",
            "requests",
            "spans",
            "calls",
            "self",
            "errors",
            "spans/req",
            "calls/req",
            "self/req",
        ],
        r.downstream
            .iter()
            .map(|d| {
                vec![
                    format!("{} {}", d.entry_service, d.entry_endpoint),
                    d.service.clone(),
                    d.entry_requests.to_string(),
                    d.spans.to_string(),
                    d.calls.to_string(),
                    ms_f(d.self_ns as f64),
                    d.errors.to_string(),
                    format!("{:.2}", d.spans_per_request),
                    format!("{:.2}", d.calls_per_request),
                    ms_f(d.self_ns_per_request),
                ]
            })
            .collect(),
    );
    table(
        &mut out,
        "Where the time goes: share of the critical path",
        &[
            "entry",
            "service",
            "operation",
            "traces",
            "walked",
            "p50",
            "p95",
            "mean",
        ],
        r.time_breakdown
            .iter()
            .map(|p| {
                vec![
                    format!("{} {}", p.entry_service, p.entry_endpoint),
                    p.service.clone(),
                    p.operation.clone(),
                    p.traces.to_string(),
                    p.sampled.to_string(),
                    pct(p.share_p50),
                    pct(p.share_p95),
                    pct(p.share_mean),
                ]
            })
            .collect(),
    );
    table(
        &mut out,
        "Calls between services (caller and callee p50/p95, gap = caller - callee)",
        &[
            "caller",
            "callee",
            "kind",
            "calls",
            "errors",
            "caller p50",
            "caller p95",
            "callee p50",
            "callee p95",
            "gap p50",
            "gap p95",
        ],
        r.edges
            .iter()
            .map(|e| {
                vec![
                    e.caller.clone(),
                    e.callee.clone(),
                    e.kind.clone(),
                    e.calls.to_string(),
                    pct(e.error_rate),
                    ms(e.caller_p50_ns),
                    ms(e.caller_p95_ns),
                    ms(e.callee_p50_ns),
                    ms(e.callee_p95_ns),
                    ms(e.gap_p50_ns),
                    ms(e.gap_p95_ns),
                ]
            })
            .collect(),
    );
    table(
        &mut out,
        &format!(
            "Repeated calls (one parent calling the same operation {}+ times)",
            reports::REPEATED_CALLS
        ),
        &[
            "parent",
            "calls operation",
            "of service",
            "parents",
            "max per parent",
            "total calls",
        ],
        r.repeated_calls
            .iter()
            .map(|c| {
                vec![
                    format!("{} {}", c.service, c.operation),
                    c.child_operation.clone(),
                    c.child_service.clone(),
                    c.parents.to_string(),
                    c.max_calls.to_string(),
                    c.calls.to_string(),
                ]
            })
            .collect(),
    );
    out
}

fn cost_text(r: &CostReport) -> String {
    let p = &r.prices;
    let money = |amount: f64| p.currency.amount(amount);
    let mut out = format!(
        "Cost report over {:.2} days, of which the data covers {:.3}; prices: {} per GB, {} per million spans, {} per million log records, {} per million metric points\n\
         Projected month (30 days at the pace of the data): {:.3} GB, {}\n",
        r.days,
        r.data_days,
        money(p.per_gb),
        money(p.per_million_spans),
        money(p.per_million_logs),
        money(p.per_million_metric_points),
        r.total.monthly_gb,
        money(r.total.monthly_cost)
    );
    let row = |c: &reports::cost::CostRow| {
        vec![
            c.spans.to_string(),
            c.logs.to_string(),
            c.metric_points.to_string(),
            bytes(c.wire_bytes as f64),
            pct(c.wire_share),
            bytes(c.stored_bytes as f64),
            pct(c.stored_share),
            bytes(c.wire_bytes_per_day),
            money(c.monthly_cost),
        ]
    };
    let head = [
        "spans", "logs", "points", "received", "share", "stored", "share", "per day", "month",
    ];
    let mut header = vec!["service"];
    header.extend(head);
    let mut rows: Vec<Vec<String>> = r
        .services
        .iter()
        .map(|c| [vec![c.service.clone()], row(c)].concat())
        .collect();
    rows.push([vec!["all".to_owned()], row(&r.total)].concat());
    table(&mut out, "Services", &header, rows);
    let mut header = vec!["service", "endpoint"];
    header.extend(head);
    table(
        &mut out,
        "Endpoints (their spans and the log records those spans wrote)",
        &header,
        r.endpoints
            .iter()
            .map(|c| {
                [
                    vec![c.service.clone(), c.endpoint.clone().unwrap_or_default()],
                    row(c),
                ]
                .concat()
            })
            .collect(),
    );
    table(
        &mut out,
        "Telemetry per request, by entry endpoint",
        &["entry", "requests", "spans/req", "logs/req", "bytes/req"],
        r.per_request
            .iter()
            .map(|q| {
                vec![
                    format!("{} {}", q.entry_service, q.entry_endpoint),
                    q.requests.to_string(),
                    format!("{:.1}", q.spans_per_request),
                    format!("{:.1}", q.logs_per_request),
                    bytes(q.wire_bytes_per_request),
                ]
            })
            .collect(),
    );
    table(
        &mut out,
        &format!(
            "Attribute keys by bytes (sampled: {} spans, {} log records)",
            r.attribute_sample.spans, r.attribute_sample.logs
        ),
        &["signal", "key", "in sample", "share", "estimated"],
        r.attribute_keys
            .iter()
            .map(|k| {
                vec![
                    k.signal.clone(),
                    k.key.clone(),
                    k.occurrences.to_string(),
                    pct(k.share),
                    bytes(k.estimated_bytes as f64),
                ]
            })
            .collect(),
    );
    table(
        &mut out,
        "Log sources by bytes",
        &[
            "service", "severity", "scope", "records", "received", "share",
        ],
        r.log_sources
            .iter()
            .map(|s| {
                vec![
                    s.service.clone(),
                    s.severity.clone(),
                    s.scope.clone(),
                    s.records.to_string(),
                    bytes(s.wire_bytes as f64),
                    pct(s.share),
                ]
            })
            .collect(),
    );
    table(
        &mut out,
        "Metrics by series",
        &["service", "metric", "kind", "series", "points", "received"],
        r.metrics_by_series
            .iter()
            .map(|m| {
                vec![
                    m.service.clone(),
                    m.name.clone(),
                    m.kind.clone(),
                    m.series.to_string(),
                    m.points.to_string(),
                    bytes(m.wire_bytes as f64),
                ]
            })
            .collect(),
    );
    out
}
