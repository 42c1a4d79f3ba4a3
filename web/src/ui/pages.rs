//! The handlers and the templates they fill. Templates get strings ready to
//! print; the logic stays here.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use store::value::Value;
use store::{Match, SpanView};

use super::format;
use super::format::Grouped as _;
use super::layout::{HxRequest, Layout, UiError, UiResult, vary_on_htmx};
use super::waterfall::{self, Item, LogRow, SpanRow};
use crate::error_origin::{self, ErrorOrigin};
use crate::outcome;
use crate::params::{Pairs, RowsQuery, SearchQuery, TraceViewQuery, Unknown};
use crate::state::AppState;

// ---------------------------------------------------------------- search

// The pages below ignore parameters they do not take: they are opened from
// links and bookmarks, and one naming a parameter they no longer read
// still shows.

pub async fn search(pairs: Pairs) -> Redirect {
    let query = pairs.read::<SearchQuery>(Unknown::Ignore);
    match query.ok().and_then(|query| query.id) {
        Some(id) => Redirect::to(&format!("/requests/{}", format::path_segment(&id))),
        None => Redirect::to("/"),
    }
}

// ---------------------------------------------------------------- banner

/// The error origin in one line: where it failed, with what, and which spans
/// passed the failure on.
pub struct Banner {
    failed: bool,
    /// "failed in", or which attempt did when a later one succeeded.
    verdict: String,
    service: String,
    colour: usize,
    operation: String,
    exception: Option<String>,
    href: Option<String>,
    propagated: Vec<(String, String, usize)>,
    other_origins: usize,
    stacktrace: Option<String>,
}

impl Banner {
    fn new(origin: Option<&ErrorOrigin>, spans: &[SpanView]) -> Banner {
        let Some(origin) = origin else {
            return Banner {
                failed: false,
                verdict: String::new(),
                service: String::new(),
                colour: 0,
                operation: String::new(),
                exception: None,
                href: None,
                propagated: vec![],
                other_origins: 0,
                stacktrace: None,
            };
        };
        let exception = match (&origin.exception_type, &origin.exception_message) {
            (Some(t), Some(m)) => Some(format!("{t}: {m}")),
            (Some(t), None) => Some(t.clone()),
            (None, Some(m)) => Some(m.clone()),
            (None, None) => None,
        };
        let href = spans
            .iter()
            .find(|s| s.span_id == origin.span_id)
            .map(|s| format::span_href(&s.trace_id, &s.span_id));
        Banner {
            failed: true,
            verdict: "failed in".to_owned(),
            service: origin.service.clone(),
            colour: format::colour(&origin.service),
            operation: origin.operation.clone(),
            exception,
            href,
            propagated: origin
                .propagated_through
                .iter()
                .map(|s| {
                    (
                        s.service.clone(),
                        s.operation.clone(),
                        format::colour(&s.service),
                    )
                })
                .collect(),
            other_origins: origin.origins.len().saturating_sub(1),
            stacktrace: origin.stacktrace.clone(),
        }
    }
}

// ---------------------------------------------------------------- request

struct TraceLink {
    href: String,
    trace_id: String,
    root: String,
    spans: usize,
    errors: usize,
    /// "attempt 2" when the request has several traces.
    attempt: String,
    /// What the caller got: "502 after 2.04 s at 21:10:54".
    answer: String,
    failed: bool,
    /// Where the attempt failed, when it did.
    origin: Option<String>,
    /// When it started.
    start: String,
    start_iso: String,
    /// Its spans over the request's whole range.
    bars: Vec<waterfall::MiniBar>,
    bars_height: usize,
}

/// The log records of one trace of a request (an attempt), or of none.
struct LogGroup {
    heading: String,
    logs: Vec<LogRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "request.html")]
pub struct RequestPage {
    layout: Layout,
    id: String,
    matched_as: String,
    banner: Banner,
    /// Whether the request finally succeeded, in one line.
    outcome: Option<(bool, String)>,
    /// Older spans retention removed from these traces.
    expired_spans: u64,
    traces: Vec<TraceLink>,
    log_count: usize,
    log_groups: Vec<LogGroup>,
}

fn match_label(m: Match) -> &'static str {
    match m {
        Match::TraceId => "trace id",
        Match::SpanId => "span id",
        Match::RequestId => "request id",
    }
}

pub async fn request(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> UiResult<RequestPage> {
    let id = id.trim().to_owned();
    let Some(view) = state.store.request(&id).await? else {
        return Err(UiError::NotFound {
            message: format!(
                "No trace, span or request has the id “{id}”, and no one trace's id starts so."
            ),
            query: id,
        });
    };
    let origin = error_origin::find(&view.spans);
    let attempts = outcome::attempts(&view.spans);
    let several = attempts.len() > 1;
    let answer = |a: &outcome::Attempt| {
        let said = match (a.http_status, a.failed) {
            (Some(code), _) => code.to_string(),
            (None, true) => "failed".to_owned(),
            (None, false) => "ok".to_owned(),
        };
        let at = format::time(a.start_ns);
        format!(
            "{said} after {} at {}",
            format::duration(a.duration_ns),
            at.get(11..19).unwrap_or(&at)
        )
    };
    let outcome = attempts.last().map(|last| {
        let failed_before = attempts.iter().filter(|a| a.failed).count();
        let text = match (last.failed, several) {
            (false, false) => format!("Succeeded: {}.", answer(last)),
            (true, false) => format!("Failed: {}.", answer(last)),
            (false, true) if failed_before > 0 => format!(
                "Succeeded on attempt {} of {}: {}, after {failed_before} failed.",
                attempts.len(),
                attempts.len(),
                answer(last)
            ),
            (false, true) => format!(
                "Succeeded: {} attempts, the last {}.",
                attempts.len(),
                answer(last)
            ),
            (true, true) => format!(
                "Failed: all {} attempts failed, the last {}.",
                attempts.len(),
                answer(last)
            ),
        };
        (!last.failed, text)
    });
    let mut trace_ids: Vec<&String> = view.trace_ids.iter().collect();
    // Attempts in the order they started; traces without spans last.
    trace_ids.sort_by_key(|t| {
        attempts
            .iter()
            .position(|a| &a.trace_id == *t)
            .unwrap_or(usize::MAX)
    });
    // Every attempt is drawn over the request's whole range.
    let range_start = view
        .spans
        .iter()
        .map(|s| s.start_time_unix_nano)
        .min()
        .unwrap_or(0);
    let range_end = view
        .spans
        .iter()
        .map(|s| s.end_time_unix_nano)
        .max()
        .unwrap_or(0);
    let traces: Vec<TraceLink> = trace_ids
        .into_iter()
        .map(|trace_id| {
            let spans: Vec<&SpanView> = view
                .spans
                .iter()
                .filter(|s| &s.trace_id == trace_id)
                .collect();
            let attempt = attempts
                .iter()
                .enumerate()
                .find(|(_, a)| &a.trace_id == trace_id);
            let root = spans
                .iter()
                .find(|s| s.parent_span_id.as_deref().is_none_or(str::is_empty))
                .map_or_else(
                    || "(root span not received)".to_owned(),
                    |s| format!("{} › {}", s.service, s.name),
                );
            TraceLink {
                href: format!("/traces/{trace_id}"),
                trace_id: trace_id.clone(),
                root,
                spans: spans.len(),
                errors: spans.iter().filter(|s| s.is_error).count(),
                attempt: match attempt {
                    Some((i, _)) if several => format!("attempt {}", i + 1),
                    _ => String::new(),
                },
                answer: attempt.map_or_else(String::new, |(_, a)| answer(a)),
                failed: attempt.is_some_and(|(_, a)| a.failed),
                origin: attempt.and_then(|(_, a)| a.origin.clone()),
                start: spans
                    .iter()
                    .map(|s| s.start_time_unix_nano)
                    .min()
                    .map(format::time)
                    .unwrap_or_default(),
                start_iso: spans
                    .iter()
                    .map(|s| s.start_time_unix_nano)
                    .min()
                    .map(format::iso)
                    .unwrap_or_default(),
                bars_height: spans.len().min(waterfall::MINI_ROWS) * waterfall::MINI_ROW_H,
                bars: waterfall::mini(
                    &spans
                        .iter()
                        .map(|s| {
                            (
                                s.service.as_str(),
                                s.start_time_unix_nano,
                                s.end_time_unix_nano,
                                s.is_error,
                            )
                        })
                        .collect::<Vec<_>>(),
                    range_start,
                    range_end,
                ),
            }
        })
        .collect();
    let mut logs: Vec<_> = view.logs.iter().collect();
    logs.sort_by_key(|l| waterfall::log_time(&l.log));
    let log_count = logs.len();
    // Grouped by the trace (the attempt) each record belongs to, in the
    // attempts' order; records joined by the request id alone last.
    let mut log_groups: Vec<LogGroup> = traces
        .iter()
        .map(|t| LogGroup {
            heading: match t.attempt.as_str() {
                "" => format!("trace {}", t.trace_id),
                attempt => format!("{attempt} · trace {}", t.trace_id),
            },
            logs: vec![],
        })
        .collect();
    let mut outside = LogGroup {
        heading: "in no trace: joined by the request id".to_owned(),
        logs: vec![],
    };
    for l in logs {
        let row = LogRow::new(&l.log, Some(match_label(l.matched_by)));
        let group = l
            .log
            .trace_id
            .as_ref()
            .and_then(|t| traces.iter().position(|x| &x.trace_id == t));
        match group {
            Some(i) => log_groups[i].logs.push(row),
            None => outside.logs.push(row),
        }
    }
    log_groups.retain(|g| !g.logs.is_empty());
    if !outside.logs.is_empty() {
        log_groups.push(outside);
    }
    Ok(RequestPage {
        layout: Layout::new(format!("Request {id}"), id.clone()),
        matched_as: view
            .matched_as
            .iter()
            .map(|m| match_label(*m))
            .collect::<Vec<_>>()
            .join(", "),
        banner: Banner {
            // The request answered in the end: say which attempt failed.
            verdict: match (&origin, outcome.as_ref().is_some_and(|(ok, _)| *ok)) {
                (Some(origin), true) => view
                    .spans
                    .iter()
                    .find(|s| s.span_id == origin.span_id)
                    .and_then(|s| attempts.iter().position(|a| a.trace_id == s.trace_id))
                    .map_or_else(
                        || "failed in".to_owned(),
                        |i| format!("attempt {} failed in", i + 1),
                    ),
                _ => "failed in".to_owned(),
            },
            ..Banner::new(origin.as_ref(), &view.spans)
        },
        outcome,
        expired_spans: view.expired_spans,
        id: view.id,
        traces,
        log_count,
        log_groups,
    })
}

// ---------------------------------------------------------------- trace

#[derive(Template, WebTemplate)]
#[template(path = "trace.html")]
pub struct TracePage {
    layout: Layout,
    trace_id: String,
    start: String,
    start_iso: String,
    /// The request the trace served (its spans' request id), which the
    /// request view shows with every attempt and its logs.
    request_id: Option<String>,
    duration: String,
    span_count: usize,
    error_count: usize,
    /// Older spans retention removed: the trace is cut, not broken.
    expired_spans: u64,
    banner: Banner,
    items: Vec<Item>,
    /// Rows printed, when fewer than the spans: the rest load on demand.
    rows_shown: Option<usize>,
    log_count: usize,
    logs: Vec<LogRow>,
    /// The logs page for the trace, when its records are more than are listed here.
    more_logs: Option<String>,
}

/// Waterfall rows printed at once; a larger trace shows its top levels and
/// loads the rest on demand (`window`), so a 10 000-span trace opens fast.
const ROW_BUDGET: usize = 500;

/// Records listed under the waterfall; the logs page pages through the rest.
const LOG_BUDGET: usize = 1_000;

/// The rows of a waterfall and which of them to keep shown: the origin of
/// its failure and the spans in `focus`.
fn waterfall_rows(
    trace: &store::TraceView,
    origin: Option<&ErrorOrigin>,
    focus: &[&str],
) -> (Vec<SpanRow>, Vec<usize>) {
    let origin = origin.map(|o| o.span_id.as_str());
    let rows = waterfall::rows(&trace.spans, &trace.logs, origin);
    let focus = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| origin == Some(r.span_id.as_str()) || focus.contains(&r.span_id.as_str()))
        .map(|(i, _)| i)
        .collect();
    (rows, focus)
}

fn parse_trace_id(text: &str) -> UiResult<[u8; 16]> {
    let mut id = [0u8; 16];
    hex::decode_to_slice(text.trim(), &mut id).map_err(|_| UiError::NotFound {
        query: text.trim().to_owned(),
        message: format!("“{}” is not a trace id (32 hex characters).", text.trim()),
    })?;
    Ok(id)
}

async fn load_trace(state: &AppState, trace_id: &str) -> UiResult<store::TraceView> {
    let id = parse_trace_id(trace_id)?;
    state
        .store
        .trace(&id)
        .await?
        .ok_or_else(|| UiError::NotFound {
            query: hex::encode(id),
            message: format!("No trace {} has arrived.", hex::encode(id)),
        })
}

pub async fn trace(
    State(state): State<AppState>,
    Path(trace_id): Path<String>,
    pairs: Pairs,
) -> UiResult<TracePage> {
    // A span to keep shown (with its ancestors) however large the trace.
    let span = pairs
        .read::<TraceViewQuery>(Unknown::Ignore)
        .ok()
        .and_then(|q| q.span);
    let trace = load_trace(&state, &trace_id).await?;
    let origin = error_origin::find(&trace.spans);
    let focus: Vec<&str> = span.as_deref().into_iter().collect();
    let (rows, focus) = waterfall_rows(&trace, origin.as_ref(), &focus);
    let depths: Vec<usize> = rows.iter().map(|r| r.depth).collect();
    let shown = waterfall::window(&depths, &focus, ROW_BUDGET);
    let items = waterfall::items(rows, &shown, &trace.trace_id);
    let rows_shown = items.iter().filter(|i| matches!(i, Item::Row(_))).count();
    let start = trace.spans.iter().map(|s| s.start_time_unix_nano).min();
    let end = trace.spans.iter().map(|s| s.end_time_unix_nano).max();
    let mut logs: Vec<_> = trace.logs.iter().collect();
    logs.sort_by_key(|l| waterfall::log_time(l));
    Ok(TracePage {
        layout: Layout::new(format!("Trace {}", trace.trace_id), trace.trace_id.clone()),
        start: start.map(format::time).unwrap_or_default(),
        start_iso: start.map(format::iso).unwrap_or_default(),
        request_id: trace.spans.iter().find_map(|s| s.request_id.clone()),
        duration: match (start, end) {
            (Some(s), Some(e)) => format::duration(e - s),
            _ => String::new(),
        },
        span_count: trace.spans.len(),
        expired_spans: trace.expired_spans,
        error_count: trace.spans.iter().filter(|s| s.is_error).count(),
        banner: Banner::new(origin.as_ref(), &trace.spans),
        rows_shown: (rows_shown < trace.spans.len()).then_some(rows_shown),
        items,
        log_count: logs.len(),
        more_logs: (logs.len() > LOG_BUDGET).then(|| format!("/logs?trace_id={}", trace.trace_id)),
        logs: logs
            .into_iter()
            .take(LOG_BUDGET)
            .map(|l| LogRow::new(l, None))
            .collect(),
        trace_id: trace.trace_id,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "waterfall_more.html")]
pub struct WaterfallRows {
    trace_id: String,
    items: Vec<Item>,
}

/// A run of waterfall rows a large trace left out (`first` … `last`, span
/// ids of its first and last row), for the placeholder that stood for it; if
/// the run is large itself, its own top levels and placeholders again.
pub async fn waterfall_run(
    State(state): State<AppState>,
    Path(trace_id): Path<String>,
    pairs: Pairs,
) -> UiResult<Response> {
    let run = pairs.read::<RowsQuery>(Unknown::Ignore);
    let Ok(RowsQuery {
        first: Some(run_first),
        last: Some(run_last),
    }) = run
    else {
        return Ok((
            StatusCode::BAD_REQUEST,
            "first and last must be the span ids of the run's first and last row",
        )
            .into_response());
    };
    let trace = load_trace(&state, &trace_id).await?;
    let origin = error_origin::find(&trace.spans);
    let (rows, _) = waterfall_rows(&trace, origin.as_ref(), &[]);
    let first = rows.iter().position(|r| r.span_id == run_first);
    let last = first.and_then(|f| Some(f + rows[f..].iter().position(|r| r.span_id == run_last)?));
    let (Some(first), Some(last)) = (first, last) else {
        // More spans arrived since the page was made and moved the rows.
        return Ok((
            StatusCode::OK,
            axum::response::Html(
                "<div class=\"span-more stale\">This trace changed since the page was loaded: reload it.</div>",
            ),
        )
            .into_response());
    };
    let depths: Vec<usize> = rows[first..=last].iter().map(|r| r.depth).collect();
    let shown: Vec<_> = waterfall::window(&depths, &[], ROW_BUDGET)
        .into_iter()
        .map(|s| s.shifted(first))
        .collect();
    Ok(WaterfallRows {
        items: waterfall::items(rows, &shown, &trace.trace_id),
        trace_id: trace.trace_id,
    }
    .into_response())
}

// ---------------------------------------------------------------- span

struct EventRow {
    time: String,
    name: String,
    exception_type: Option<String>,
    exception_message: Option<String>,
    stacktrace: Option<String>,
    attributes: Vec<(String, String)>,
}

struct LinkRow {
    href: String,
    trace_id: String,
    span_id: String,
    trace_state: String,
    attributes: Vec<(String, String)>,
}

/// One span's details, as the partial and as a page of its own.
pub struct SpanDetail {
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    service: String,
    name: String,
    kind: String,
    start: String,
    start_iso: String,
    duration: String,
    status: String,
    request_id: String,
    trace_state: String,
    dropped: String,
    /// Key, value, and trace search for spans of this service with that
    /// value ("" for values a search cannot ask: lists, maps, long text).
    attributes: Vec<(String, String, String)>,
    resource: Vec<(String, String)>,
    scope: String,
    scope_attributes: Vec<(String, String)>,
    events: Vec<EventRow>,
    links: Vec<LinkRow>,
}

impl SpanDetail {
    fn new(span: &SpanView) -> SpanDetail {
        let text =
            |event: &store::model::Event, key: &str| event.attributes.get(key).map(format::value);
        SpanDetail {
            trace_id: span.trace_id.clone(),
            span_id: span.span_id.clone(),
            parent_span_id: span.parent_span_id.clone().unwrap_or_default(),
            service: span.service.clone(),
            name: span.name.clone(),
            kind: format!("{:?}", span.kind),
            start: format::time(span.start_time_unix_nano),
            start_iso: format::iso(span.start_time_unix_nano),
            duration: format::duration(span.duration_ns),
            status: match span.status.message.as_str() {
                "" => format!("{:?}", span.status.code),
                m => format!("{:?}: {m}", span.status.code),
            },
            request_id: span.request_id.clone().unwrap_or_default(),
            trace_state: span.trace_state.clone(),
            dropped: match (
                span.dropped_attributes_count,
                span.dropped_events_count,
                span.dropped_links_count,
            ) {
                (0, 0, 0) => String::new(),
                (a, e, l) => format!("{a} attributes, {e} events, {l} links"),
            },
            attributes: span
                .attributes
                .0
                .iter()
                .map(|(key, value)| {
                    let text = format::value(value);
                    let searchable = matches!(
                        value,
                        Value::String(_) | Value::Int(_) | Value::Bool(_) | Value::Double(_)
                    ) && text.len() <= 200
                        && !key.contains(['=', '!', '<', '>']);
                    let href = match searchable {
                        true => format!(
                            "/traces?{}",
                            format::query([
                                ("service", span.service.as_str()),
                                ("attr", &format!("{key}={text}")),
                            ])
                        ),
                        false => String::new(),
                    };
                    (key.clone(), text, href)
                })
                .collect(),
            resource: format::attributes(&span.resource),
            scope: match span.scope.version.as_str() {
                "" => span.scope.name.clone(),
                v => format!("{} {v}", span.scope.name),
            },
            scope_attributes: format::attributes(&span.scope.attributes),
            events: span
                .events
                .iter()
                .map(|e| EventRow {
                    time: format::time(e.time_unix_nano),
                    name: e.name.clone(),
                    exception_type: text(e, "exception.type"),
                    exception_message: text(e, "exception.message"),
                    stacktrace: text(e, "exception.stacktrace"),
                    attributes: format::attributes(&e.attributes),
                })
                .collect(),
            links: span
                .links
                .iter()
                .map(|l| {
                    let (trace_id, span_id) = (hex::encode(&l.trace_id), hex::encode(&l.span_id));
                    LinkRow {
                        href: format::span_href(&trace_id, &span_id),
                        trace_id,
                        span_id,
                        trace_state: l.trace_state.clone(),
                        attributes: format::attributes(&l.attributes),
                    }
                })
                .collect(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "span_partial.html")]
pub struct SpanPartial {
    d: SpanDetail,
}

#[derive(Template, WebTemplate)]
#[template(path = "span_page.html")]
pub struct SpanPage {
    layout: Layout,
    d: SpanDetail,
}

/// The htmx partial behind a waterfall row; without htmx, a page of its own.
pub async fn span(
    State(state): State<AppState>,
    Path((trace_id, span_id)): Path<(String, String)>,
    HxRequest(partial): HxRequest,
) -> UiResult<Response> {
    let trace = load_trace(&state, &trace_id).await?;
    let span_id = span_id.trim().to_ascii_lowercase();
    let Some(span) = trace.spans.iter().find(|s| s.span_id == span_id) else {
        return Err(UiError::NotFound {
            query: trace.trace_id.clone(),
            message: format!("Trace {} has no span {span_id}.", trace.trace_id),
        });
    };
    let d = SpanDetail::new(span);
    Ok(vary_on_htmx(if partial {
        SpanPartial { d }.into_response()
    } else {
        SpanPage {
            layout: Layout::new(format!("Span {}", span.name), trace.trace_id.clone()),
            d,
        }
        .into_response()
    }))
}

// ---------------------------------------------------------------- trace compare

struct PathRowView {
    /// The steps from the root, the last one the span's: all of them, and
    /// the last two as the row shows them.
    path: String,
    tail: String,
    kind: &'static str,
    calls: String,
    self_time: String,
    /// Where the difference went: "+60.0 ms" when this trace spent more.
    change: String,
    slower: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "trace_compare.html")]
pub struct TraceComparePage {
    layout: Layout,
    trace_id: String,
    typical_trace_id: String,
    chosen: String,
    durations: String,
    rows: Vec<PathRowView>,
}

/// `/traces/{trace_id}/compare`: this trace against `with`, or a typical
/// one of its root.
pub async fn trace_compare(
    State(state): State<AppState>,
    Path(trace_id): Path<String>,
    pairs: Pairs,
) -> UiResult<TraceComparePage> {
    let here = load_trace(&state, &trace_id).await?;
    let with = match pairs.read::<crate::params::TraceCompareQuery>(Unknown::Ignore) {
        Ok(query) => match query.with {
            Some(id) => Some(load_trace(&state, &hex::encode(id.0)).await?),
            None => None,
        },
        Err(err) => {
            return Err(UiError::NotFound {
                query: String::new(),
                message: err.to_string(),
            });
        }
    };
    let Some(d) = crate::trace_diff::read(&state.store, &here, with.as_ref()).await? else {
        return Err(UiError::NotFound {
            query: here.trace_id.clone(),
            message: "No other trace of the same root started within an hour of this one."
                .to_owned(),
        });
    };
    let rows = d
        .paths
        .iter()
        .map(|p| PathRowView {
            path: p.path.join("  ›  "),
            tail: match p.path.len() {
                0..=2 => p.path.join("  ›  "),
                n => format!("…  ›  {}", p.path[n - 2..].join("  ›  ")),
            },
            kind: match p.kind {
                "only_here" => "only in this trace",
                "only_typical" => "only in the typical trace",
                "more_calls" => "more calls",
                "fewer_calls" => "fewer calls",
                _ => "self time",
            },
            calls: format!("{} · {}", p.calls, p.typical_calls),
            self_time: format!(
                "{} · {}",
                format::duration(p.self_ns),
                format::duration(p.typical_self_ns)
            ),
            change: {
                let change = p.self_ns - p.typical_self_ns;
                let sign = if change >= 0 { "+" } else { "−" };
                format!("{sign}{}", format::duration(change.abs()))
            },
            slower: p.self_ns > p.typical_self_ns,
        })
        .collect();
    Ok(TraceComparePage {
        layout: Layout::new(format!("Trace {} compared", d.trace_id), d.trace_id.clone()),
        durations: format!(
            "{} against {}",
            format::duration(d.duration_ns),
            format::duration(d.typical_duration_ns)
        ),
        trace_id: d.trace_id,
        typical_trace_id: d.typical_trace_id,
        chosen: d.chosen,
        rows,
    })
}
