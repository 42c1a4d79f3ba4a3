//! `loupe export`: a request, a trace or a window's traces as OTLP/JSON
//! lines (`web::otlp_export`), read straight from the database.

use std::io::Write as _;

use anyhow::{Context as _, bail};

use crate::cli::ExportArgs;

pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let store = store::Store::open(&args.database_url)
        .await
        .context("cannot open the database")?;
    let reader = store.reader();
    let (spans, logs, what) = match (&args.request, &args.trace) {
        (Some(id), _) => {
            let view = reader
                .request(id)
                .await?
                .with_context(|| format!("no trace, span or request with id {:?}", id.trim()))?;
            let logs = view.logs.into_iter().map(|l| l.log).collect();
            (view.spans, logs, format!("request {id}"))
        }
        (None, Some(id)) => {
            let trace_id = parse_trace_id(id)?;
            let view = reader
                .trace(&trace_id)
                .await?
                .with_context(|| format!("no trace {id}"))?;
            (view.spans, view.logs, format!("trace {id}"))
        }
        (None, None) => {
            let Some(back) = web::reports::parse_duration(&args.since) else {
                bail!(
                    "--since must look like 15m, 24h or 7d, got {:?}",
                    args.since
                );
            };
            let now = web::reports::now_ns();
            let found = reader
                .traces(&store::TraceQuery {
                    service: args.service.clone(),
                    start: Some(now - back),
                    end: Some(now + 1),
                    limit: args.limit.max(1),
                    ..store::TraceQuery::default()
                })
                .await?;
            let (mut spans, mut logs) = (Vec::new(), Vec::new());
            for summary in &found {
                let trace_id = parse_trace_id(&summary.trace_id)?;
                if let Some(view) = reader.trace(&trace_id).await? {
                    spans.extend(view.spans);
                    logs.extend(view.logs);
                }
            }
            (spans, logs, format!("{} traces", found.len()))
        }
    };
    let lines = web::otlp_export::lines(&spans, &logs);
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    eprintln!(
        "loupe export: {what}: {} spans, {} log records",
        spans.len(),
        logs.len()
    );
    store.close().await;
    Ok(())
}

fn parse_trace_id(text: &str) -> anyhow::Result<store::model::TraceId> {
    let bytes = hex::decode(text.trim())
        .ok()
        .filter(|b| b.len() == 16)
        .with_context(|| format!("a trace id is 32 hex digits, got {:?}", text.trim()))?;
    let mut id = [0u8; 16];
    id.copy_from_slice(&bytes);
    Ok(id)
}
