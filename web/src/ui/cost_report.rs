//! `/reports/cost`: the cost report of `crate::reports` as a page, with
//! its CSV a click away.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::format::Grouped as _;
use super::format::{self, percent as pct};
use super::layout::{Layout, UiError};
use super::window_picker::Picker;
use crate::params::{LAST_HOUR, Pairs, TimeParams, Unknown, now_ns};
use crate::reports::{self, bytes};
use crate::state::AppState;

/// One row of "what to drop", with where to see it.
pub struct DropView {
    pub kind: &'static str,
    pub service: String,
    pub colour: usize,
    pub what: String,
    pub received: String,
    pub share: String,
    pub saving: String,
    pub href: String,
}

pub struct CostRowView {
    pub service: String,
    pub colour: usize,
    pub endpoint: String,
    pub spans: u64,
    pub logs: u64,
    pub points: u64,
    pub received: String,
    pub received_share: String,
    pub share_width: String,
    pub stored: String,
    pub stored_share: String,
    pub per_day: String,
    pub monthly: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "report_cost.html")]
pub struct CostPage {
    layout: Layout,
    windows: Picker,
    error: Option<String>,
    range: String,
    csv: Vec<(&'static str, String)>,
    prices: Vec<(String, &'static str)>,
    projection: String,
    services: Vec<CostRowView>,
    total: Option<CostRowView>,
    endpoints: Vec<CostRowView>,
    ingest_keys: Vec<[String; 8]>,
    drops: Vec<DropView>,
    per_request: Vec<[String; 5]>,
    sample: String,
    keys: Vec<[String; 5]>,
    /// Service, severity, scope, records, bytes, share, and the logs page
    /// of that service from that severity up, in the same window.
    sources: Vec<[String; 7]>,
    metrics: Vec<[String; 5]>,
}

fn cost_row(
    c: &reports::cost::CostRow,
    max_share: f64,
    currency: reports::Currency,
) -> CostRowView {
    CostRowView {
        colour: format::colour(&c.service),
        service: c.service.clone(),
        endpoint: c.endpoint.clone().unwrap_or_default(),
        spans: c.spans,
        logs: c.logs,
        points: c.metric_points,
        received: bytes(c.wire_bytes as f64),
        received_share: pct(c.wire_share),
        share_width: format!(
            "{:.1}",
            c.wire_share / max_share.max(f64::MIN_POSITIVE) * 100.0
        ),
        stored: bytes(c.stored_bytes as f64),
        stored_share: pct(c.stored_share),
        per_day: bytes(c.wire_bytes_per_day),
        monthly: currency.amount(c.monthly_cost),
    }
}

pub async fn page(State(state): State<AppState>, pairs: Pairs) -> Result<Response, UiError> {
    let time = pairs.time().text().or_default(LAST_HOUR);
    // Unknown parameters are ignored: a page opened from an old link or a
    // bookmark still shows.
    let window = pairs
        .read::<TimeParams>(Unknown::Ignore)
        .and_then(|time| time.check()?.window(LAST_HOUR, now_ns()));
    let p = state.prices;
    let money = |amount: f64| p.currency.amount(amount);
    let mut page = CostPage {
        layout: Layout::new("Cost report", ""),
        windows: Picker::new("/reports/cost", time.picked(), &[]),
        error: None,
        range: String::new(),
        csv: vec![],
        prices: vec![
            (money(p.per_gb), "per GB received"),
            (money(p.per_million_spans), "per million spans"),
            (money(p.per_million_logs), "per million log records"),
            (
                money(p.per_million_metric_points),
                "per million metric points",
            ),
        ],
        projection: String::new(),
        services: vec![],
        total: None,
        endpoints: vec![],
        ingest_keys: vec![],
        drops: vec![],
        per_request: vec![],
        sample: String::new(),
        keys: vec![],
        sources: vec![],
        metrics: vec![],
    };
    let window = match window {
        Ok(window) => window,
        Err(err) => {
            page.error = Some(err.to_string());
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    page.windows.show(window);
    let r = reports::cost(
        &state.store,
        window,
        state.prices,
        &mut crate::state::note_spans_read,
    )
    .await?;
    let query = format::query(time.pairs());
    page.csv = reports::csv::COST_TABLES
        .iter()
        .map(|t| {
            (
                *t,
                format!("/api/v1/reports/cost?{query}&format=csv&table={t}"),
            )
        })
        .collect();
    page.range = format::time_range(r.since_ns, r.until_ns);
    page.projection = format!(
        "{} · {} received a day · {} spans, {} log records, {} metric points a day · a 30-day month: {} received, {}",
        covered(&r),
        bytes(r.total.wire_bytes_per_day),
        (r.total.spans_per_day.round() as u64).grouped(),
        (r.total.logs_per_day.round() as u64).grouped(),
        (r.total.metric_points_per_day.round() as u64).grouped(),
        bytes(r.total.monthly_gb * 1e9),
        money(r.total.monthly_cost)
    );
    let max_service = r.services.iter().map(|c| c.wire_share).fold(0.0, f64::max);
    page.services = r
        .services
        .iter()
        .map(|c| cost_row(c, max_service, p.currency))
        .collect();
    page.total = Some(cost_row(&r.total, 1.0, p.currency));
    let max_endpoint = r.endpoints.iter().map(|c| c.wire_share).fold(0.0, f64::max);
    page.endpoints = r
        .endpoints
        .iter()
        .map(|c| cost_row(c, max_endpoint, p.currency))
        .collect();
    page.ingest_keys = r
        .ingest_keys
        .iter()
        .map(|k| {
            [
                k.key.clone(),
                k.spans.grouped(),
                k.logs.grouped(),
                k.metric_points.grouped(),
                bytes(k.wire_bytes as f64),
                pct(k.wire_share),
                bytes(k.stored_bytes as f64),
                money(k.monthly_cost),
            ]
        })
        .collect();
    page.drops = r
        .what_to_drop
        .iter()
        .map(|d| {
            let mut pairs = vec![("service", d.service.as_str())];
            if let Some(operation) = &d.operation {
                pairs.push(("operation", operation));
            }
            pairs.extend(time.pairs());
            let href = match d.kind.as_str() {
                "repeated_calls" => format!("/traces?{}&sort=duration", format::query(pairs)),
                "debug_logs" | "access_log" => format!("/logs?{}", format::query(pairs)),
                // Traces with spans that carry the key (any value but none).
                _ => {
                    let has = format!("{}!=", d.what);
                    let mut pairs = vec![("attr", has.as_str())];
                    pairs.extend(time.pairs());
                    format!("/traces?{}", format::query(pairs))
                }
            };
            DropView {
                kind: match d.kind.as_str() {
                    "repeated_calls" => "repeated calls (N+1)",
                    "debug_logs" => "debug-level logs",
                    "access_log" => "access log, repeats server spans",
                    "repeated_attribute" => "same value on every span of a trace",
                    _ => "heavy attribute",
                },
                colour: format::colour(&d.service),
                service: d.service.clone(),
                what: d.what.clone(),
                received: bytes(d.wire_bytes as f64),
                share: pct(d.share),
                saving: money(d.monthly_saving),
                href,
            }
        })
        .collect();
    page.per_request = r
        .per_request
        .iter()
        .map(|q| {
            [
                format!("{} {}", q.entry_service, q.entry_endpoint),
                q.requests.grouped(),
                format!("{:.1}", q.spans_per_request),
                format!("{:.1}", q.logs_per_request),
                bytes(q.wire_bytes_per_request),
            ]
        })
        .collect();
    page.sample = format!(
        "measured on the spans of the newest traces ({} spans) and the newest {} log records, scaled to the window",
        r.attribute_sample.spans, r.attribute_sample.logs
    );
    page.keys = r
        .attribute_keys
        .iter()
        .map(|k| {
            [
                k.signal.clone(),
                k.key.clone(),
                k.occurrences.grouped(),
                pct(k.share),
                bytes(k.estimated_bytes as f64),
            ]
        })
        .collect();
    page.sources = r
        .log_sources
        .iter()
        .map(|s| {
            [
                s.service.clone(),
                s.severity.clone(),
                s.scope.clone(),
                s.records.grouped(),
                bytes(s.wire_bytes as f64),
                pct(s.share),
                {
                    let severity = s.severity_number.to_string();
                    let mut pairs = vec![("service", s.service.as_str())];
                    if s.severity_number > 0 {
                        pairs.push(("severity", &severity));
                    }
                    pairs.extend(time.pairs());
                    format!("/logs?{}", format::query(pairs))
                },
            ]
        })
        .collect();
    page.metrics = r
        .metrics_by_series
        .iter()
        .map(|m| {
            [
                m.service.clone(),
                m.name.clone(),
                m.kind.clone(),
                m.series.grouped(),
                m.points.grouped(),
            ]
        })
        .collect();
    Ok(page.into_response())
}

/// A length of time in the unit that reads best: `35 min`, `1 h`, `2.5 h`, `7 d`.
fn span(days: f64) -> String {
    let (value, unit) = match days * 24.0 {
        hours if hours < 1.0 => (hours * 60.0, "min"),
        hours if hours < 48.0 => (hours, "h"),
        _ => (days, "d"),
    };
    if (value - value.round()).abs() < 0.05 {
        format!("{value:.0} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

/// What the projection is made from: "1 h of data in the 24 h window".
fn covered(r: &reports::CostReport) -> String {
    match r.data_since_ns {
        None => format!("no data in the {} window", span(r.days)),
        Some(_) => format!(
            "projected from {} of data in the {} window",
            span(r.data_days),
            span(r.days)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::span;

    #[test]
    fn lengths_read_in_their_unit() {
        for (days, text) in [
            (1.0 / 1440.0, "1 min"),
            (35.0 / 1440.0, "35 min"),
            (1.0 / 24.0, "1 h"),
            (2.5 / 24.0, "2.5 h"),
            (1.0, "24 h"),
            (7.0, "7 d"),
            (6.52, "6.5 d"),
        ] {
            assert_eq!(span(days), text, "{days}");
        }
    }
}
