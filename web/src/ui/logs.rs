//! The Logs page: every log record, newest first, filtered by the URL.
//!
//! `/logs` is the page (or, for htmx, only its results); `/logs/tail` is what
//! the live view polls: the lines newer than `after`, headed by the poller
//! itself, which carries the next `after` and replaces the old poller.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use store::{LogQuery, LogView};

use super::format;
use super::layout::{HxRequest, Layout, UiError, vary_on_htmx};
use super::services::WINDOWS;
use super::waterfall::{LogRow, log_time};
use crate::state::AppState;

/// Lines per page.
const PAGE: u32 = 100;
/// Lines per poll of the live view; a burst beyond this shows its newest.
const TAIL: u32 = 500;

/// The severity choices: label and minimum severity number.
const SEVERITIES: [(&str, &str); 6] = [
    ("any", ""),
    ("DEBUG", "5"),
    ("INFO", "9"),
    ("WARN", "13"),
    ("ERROR", "17"),
    ("FATAL", "21"),
];

/// The filters as the URL gives them, already checked.
#[derive(Clone, Default)]
struct Filters {
    q: String,
    severity: Option<i32>,
    service: String,
    window: Option<&'static str>,
    start: Option<i64>,
    end: Option<i64>,
    trace_id: Option<[u8; 16]>,
    request_id: String,
    /// One attribute condition, `key=value` and the like, as typed.
    attr: String,
    attr_filter: Option<store::AttributeFilter>,
    live: bool,
}

impl Filters {
    /// Reads the parameters; the first bad one is the error message. What
    /// the form shows is returned either way, so a bad page keeps it.
    fn parse(params: &HashMap<String, String>) -> (Filters, Option<String>) {
        let get = |key: &str| params.get(key).map(|v| v.trim()).unwrap_or_default();
        let mut f = Filters {
            q: get("q").to_owned(),
            service: get("service").to_owned(),
            request_id: get("request_id").to_owned(),
            attr: get("attr").to_owned(),
            live: matches!(get("live"), "1" | "true" | "on"),
            ..Filters::default()
        };
        let mut error = None;
        let mut fail = |message: String| {
            error.get_or_insert(message);
        };
        match get("severity") {
            "" => {}
            text => match text.parse::<i32>() {
                Ok(n) if (0..=24).contains(&n) => f.severity = Some(n),
                _ => fail(format!(
                    "severity must be a severity number from 0 to 24, got “{text}”."
                )),
            },
        }
        match get("window") {
            "" => {}
            text => match WINDOWS.iter().find(|name| **name == text) {
                Some(name) => f.window = Some(name),
                None => fail(format!(
                    "window must be one of 15m, 1h, 6h, 24h, 7d, got “{text}”."
                )),
            },
        }
        for (key, slot) in [("start", &mut f.start), ("end", &mut f.end)] {
            match get(key) {
                "" => {}
                text => match text.parse::<i64>() {
                    Ok(n) if n >= 0 => *slot = Some(n),
                    _ => fail(format!(
                        "{key} must be a time in nanoseconds since the Unix epoch, got “{text}”."
                    )),
                },
            }
        }
        match get("attr") {
            "" => {}
            text => match store::AttributeFilter::parse(text) {
                Some(filter) => f.attr_filter = Some(filter),
                None => fail(format!(
                    "attribute must be key=value, key!=value or key>n (>=, <, <= too), got “{text}”."
                )),
            },
        }
        match get("trace_id") {
            "" => {}
            text => {
                let mut id = [0u8; 16];
                match hex::decode_to_slice(text, &mut id) {
                    Ok(()) => f.trace_id = Some(id),
                    Err(_) => fail(format!("trace_id must be 32 hex characters, got “{text}”.")),
                }
            }
        }
        (f, error)
    }

    /// The lower time bound: `start`, else the window back from now.
    fn lower_bound(&self, now: i64) -> Option<i64> {
        self.start.or_else(|| {
            let window = crate::api::parse_window(self.window?).ok()?;
            Some(now.saturating_sub(window))
        })
    }

    fn query(&self, now: i64, limit: u32) -> LogQuery {
        let text = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
        LogQuery {
            service: text(&self.service),
            text: text(&self.q),
            trace_id: self.trace_id,
            request_id: text(&self.request_id),
            severity_min: self.severity,
            attributes: self.attr_filter.iter().cloned().collect(),
            start: self.lower_bound(now),
            end: self.end,
            limit,
        }
    }

    /// `path` with these filters as its query string.
    fn url(&self, path: &str) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        let mut add = |key, value: String| {
            if !value.is_empty() {
                pairs.push((key, value));
            }
        };
        add("q", self.q.clone());
        add(
            "severity",
            self.severity.map(|n| n.to_string()).unwrap_or_default(),
        );
        add("service", self.service.clone());
        add("attr", self.attr.clone());
        add("window", self.window.unwrap_or_default().to_owned());
        add(
            "start",
            self.start.map(|n| n.to_string()).unwrap_or_default(),
        );
        add("end", self.end.map(|n| n.to_string()).unwrap_or_default());
        add(
            "trace_id",
            self.trace_id.map(hex::encode).unwrap_or_default(),
        );
        add("request_id", self.request_id.clone());
        add(
            "live",
            if self.live {
                "1".to_owned()
            } else {
                String::new()
            },
        );
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", format::path_segment(v)))
            .collect();
        if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", query.join("&"))
        }
    }

    /// The same filters with one change, as a `/logs` URL.
    fn with(&self, change: impl FnOnce(&mut Filters)) -> String {
        let mut f = self.clone();
        change(&mut f);
        f.url("/logs")
    }
}

/// One line of the list.
pub struct LogLine {
    row: LogRow,
    /// Where "request" leads: by request id, else by trace id.
    href: Option<String>,
    link_title: String,
}

impl LogLine {
    fn new(log: &LogView) -> LogLine {
        let (href, link_title) = match (&log.request_id, &log.trace_id) {
            (Some(r), _) => (
                Some(format!("/requests/{}", format::path_segment(r))),
                format!("request {r}"),
            ),
            (None, Some(t)) => (Some(format!("/requests/{t}")), format!("trace {t}")),
            (None, None) => (None, String::new()),
        };
        LogLine {
            row: LogRow::new(log, None),
            href,
            link_title,
        }
    }
}

/// A link of the toolbar; `on` marks the current choice.
struct Choice {
    label: &'static str,
    href: String,
    on: bool,
}

/// The results: toolbar, lines, poller and "older" link.
pub struct Rows {
    error: Option<String>,
    windows: Vec<Choice>,
    live_href: String,
    live: bool,
    /// The poller's URL when the live view is on.
    tail: Option<String>,
    lines: Vec<LogLine>,
    older: Option<String>,
}

/// What the form shows.
struct Form {
    q: String,
    severities: Vec<(&'static str, &'static str, bool)>,
    service: String,
    window: String,
    start: String,
    end: String,
    trace_id: String,
    request_id: String,
    attr: String,
    live: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "logs_page.html")]
pub struct LogsPage {
    layout: Layout,
    form: Form,
    r: Rows,
}

#[derive(Template, WebTemplate)]
#[template(path = "logs_page_rows.html")]
pub struct LogsRows {
    r: Rows,
}

#[derive(Template, WebTemplate)]
#[template(path = "logs_page_tail.html")]
pub struct LogsTail {
    tail: Option<String>,
    lines: Vec<LogLine>,
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The poller's URL: the filters, and the newest time already shown.
fn tail_url(f: &Filters, after: i64) -> String {
    let mut f = f.clone();
    f.live = false;
    f.end = None;
    let url = f.url("/logs/tail");
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}after={after}")
}

fn rows(f: &Filters, error: Option<String>, logs: &[LogView], now: i64) -> Rows {
    let windows = std::iter::once(("all", None))
        .chain(WINDOWS.iter().map(|n| (*n, Some(*n))))
        .map(|(label, window)| Choice {
            label,
            on: f.window == window && f.start.is_none() && f.end.is_none(),
            href: f.with(|f| {
                f.window = window;
                f.start = None;
                f.end = None;
            }),
        })
        .collect();
    // Live shows the newest, so it drops `end`.
    let live_href = f.with(|f| {
        f.live = !f.live;
        if f.live {
            f.end = None;
        }
    });
    let newest = logs.first().map(log_time);
    let tail = (f.live && f.end.is_none() && error.is_none()).then(|| {
        let after = newest
            .or_else(|| f.lower_bound(now).map(|s| s - 1))
            .unwrap_or(-1);
        tail_url(f, after)
    });
    // Ties at the last nanosecond may show again on the next page.
    let older = (logs.len() == PAGE as usize)
        .then(|| logs.last().map(log_time))
        .flatten()
        .map(|end| {
            f.with(|f| {
                f.end = Some(end);
                f.live = false;
            })
        });
    Rows {
        error,
        windows,
        live_href,
        live: f.live,
        tail,
        lines: logs.iter().map(LogLine::new).collect(),
        older,
    }
}

/// `GET /logs`: the page, or for htmx only its results.
pub async fn page(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    HxRequest(partial): HxRequest,
) -> Response {
    let (f, error) = Filters::parse(&params);
    let now = now_ns();
    let logs = match &error {
        Some(_) => Vec::new(),
        None => match state.store.logs(&f.query(now, PAGE)).await {
            Ok(logs) => logs,
            Err(err) => return UiError::Store(err).into_response(),
        },
    };
    let bad = error.is_some();
    let r = rows(&f, error, &logs, now);
    if partial {
        // htmx swaps only 2xx answers; the message shows in the results.
        return vary_on_htmx(LogsRows { r }.into_response());
    }
    let raw = |key: &str| {
        params
            .get(key)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let form = Form {
        q: f.q.clone(),
        severities: SEVERITIES
            .iter()
            .map(|(label, value)| {
                let on = f.severity.map(|n| n.to_string()).unwrap_or_default() == *value;
                (*label, *value, on)
            })
            .collect(),
        service: f.service.clone(),
        window: f.window.unwrap_or_default().to_owned(),
        // As typed, so a bad value can be corrected.
        start: raw("start"),
        end: raw("end"),
        trace_id: raw("trace_id"),
        attr: f.attr.clone(),
        request_id: f.request_id.clone(),
        live: f.live,
    };
    let page = LogsPage {
        layout: Layout::new("Logs", ""),
        form,
        r,
    };
    let status = if bad {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    vary_on_htmx((status, page).into_response())
}

/// `GET /logs/tail?…&after=NS`: the lines newer than `after`, headed by the
/// poller that asks for the ones after those.
pub async fn tail(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let (f, mut error) = Filters::parse(&params);
    let after = match params.get("after").map(|v| v.trim()).unwrap_or_default() {
        "" => None,
        text => text.parse::<i64>().ok().filter(|n| *n >= -1),
    };
    let Some(after) = after else {
        error.get_or_insert("after must be a time in nanoseconds".to_owned());
        return (StatusCode::BAD_REQUEST, error.unwrap_or_default()).into_response();
    };
    if let Some(error) = error {
        return (StatusCode::BAD_REQUEST, error).into_response();
    }
    let mut query = f.query(now_ns(), TAIL);
    query.start = Some(query.start.map_or(after + 1, |s| s.max(after + 1)));
    query.end = None;
    let logs = match state.store.logs(&query).await {
        Ok(logs) => logs,
        Err(err) => return UiError::Store(err).into_response(),
    };
    let next = logs.first().map_or(after, log_time);
    LogsTail {
        tail: Some(tail_url(&f, next)),
        lines: logs.iter().map(LogLine::new).collect(),
    }
    .into_response()
}
