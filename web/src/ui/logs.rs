//! The Logs page: every log record, newest first, filtered by the URL.
//!
//! `/logs` is the page (or, for htmx, only its results); `/logs/tail` is what
//! the live view polls: the lines newer than `after`, headed by the poller
//! itself, which carries the next `after` and replaces the old poller.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use store::LogView;

use super::format;
use super::layout::{HxRequest, Layout, UiError, vary_on_htmx};
use super::waterfall::{LogRow, log_time};
use super::window_picker::WINDOWS;
use crate::params::{
    LogsPageQuery, Pairs, ParamError, TimeSpec, TimeText, Unknown, Windowed, now_ns, parse_time,
};
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

/// The filters as typed, under the parameters' current names: what the
/// form shows again and what the links carry, whatever is wrong with them.
#[derive(Clone, Default)]
struct Filters {
    q: String,
    severity: String,
    service: String,
    trace_id: String,
    request_id: String,
    /// One attribute condition, `key=value` and the like.
    attr: String,
    time: TimeText,
    live: bool,
}

impl Filters {
    fn read(pairs: &Pairs) -> Filters {
        let get = |name| pairs.get(name).unwrap_or_default().to_owned();
        Filters {
            q: get("q"),
            severity: get("severity"),
            service: get("service"),
            trace_id: get("trace_id"),
            request_id: get("request_id"),
            attr: get("attr"),
            time: pairs.time().text(),
            live: matches!(pairs.get("live"), Some("1" | "true" | "on")),
        }
    }

    /// `path` with these filters as its query string.
    fn url(&self, path: &str) -> String {
        let mut pairs: Vec<(&str, &str)> = vec![
            ("q", &self.q),
            ("severity", &self.severity),
            ("service", &self.service),
            ("attr", &self.attr),
        ];
        pairs.extend(self.time.pairs());
        pairs.extend([
            ("trace_id", self.trace_id.as_str()),
            ("request_id", &self.request_id),
            ("live", if self.live { "1" } else { "" }),
        ]);
        match format::query(pairs) {
            query if query.is_empty() => path.to_owned(),
            query => format!("{path}?{query}"),
        }
    }

    /// The same filters with one change, as a `/logs` URL.
    fn with(&self, change: impl FnOnce(&mut Filters)) -> String {
        let mut f = self.clone();
        change(&mut f);
        f.url("/logs")
    }
}

/// What the store is asked, from the parameters checked.
struct Search {
    query: LogsPageQuery,
    time: TimeSpec,
}

fn read(pairs: &Pairs) -> Result<Search, ParamError> {
    // Unknown parameters are ignored: a page opened from an old link or a
    // bookmark still shows.
    let Windowed { time, query } = pairs.read::<Windowed<LogsPageQuery>>(Unknown::Ignore)?;
    Ok(Search {
        query,
        time: time.check()?,
    })
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
    from: String,
    to: String,
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

/// The poller's URL: the filters, and the newest time already shown.
fn tail_url(f: &Filters, after: i64) -> String {
    let mut f = f.clone();
    f.live = false;
    f.time.to = None;
    let url = f.url("/logs/tail");
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}after={after}")
}

/// The toolbar, lines and links of the results; `lower` is the lower time
/// bound the lines were read with.
fn rows(f: &Filters, error: Option<String>, logs: &[LogView], lower: Option<i64>) -> Rows {
    let windows = std::iter::once(("all", None))
        .chain(WINDOWS.iter().map(|n| (*n, Some(*n))))
        .map(|(label, window)| Choice {
            label,
            on: f.time.window.as_deref() == window && f.time.from.is_none() && f.time.to.is_none(),
            href: f.with(|f| {
                f.time = TimeText {
                    window: window.map(str::to_owned),
                    ..TimeText::default()
                };
            }),
        })
        .collect();
    // Live shows the newest, so it drops `to`.
    let live_href = f.with(|f| {
        f.live = !f.live;
        if f.live {
            f.time.to = None;
        }
    });
    let newest = logs.first().map(log_time);
    let tail = (f.live && f.time.to.is_none() && error.is_none()).then(|| {
        let after = newest.or(lower.map(|s| s - 1)).unwrap_or(-1);
        tail_url(f, after)
    });
    // The next page keeps this one's lower bound (a window becomes the
    // time it started at). Ties at the last nanosecond may show again.
    let older = (logs.len() == PAGE as usize)
        .then(|| logs.last().map(log_time))
        .flatten()
        .map(|oldest| {
            f.with(|f| {
                f.time = TimeText {
                    window: None,
                    from: lower.map(|start| start.to_string()),
                    to: Some(oldest.to_string()),
                };
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
    pairs: Pairs,
    HxRequest(partial): HxRequest,
) -> Response {
    let f = Filters::read(&pairs);
    let (logs, lower, error) = match read(&pairs) {
        Ok(search) => {
            let bounds = search.time.bounds(now_ns());
            match state
                .store
                .logs(&search.query.store_query(bounds, PAGE))
                .await
            {
                Ok(logs) => (logs, bounds.0, None),
                Err(err) => return UiError::Store(err).into_response(),
            }
        }
        Err(err) => (Vec::new(), None, Some(err.to_string())),
    };
    let bad = error.is_some();
    let r = rows(&f, error, &logs, lower);
    if partial {
        // htmx swaps only 2xx answers; the message shows in the results.
        return vary_on_htmx(LogsRows { r }.into_response());
    }
    let text = |t: &Option<String>| t.clone().unwrap_or_default();
    // The date-time inputs take their own format; a bound they cannot show
    // (a mistyped one) stays as typed, to be corrected.
    let input = |t: &Option<String>| match t.as_deref().map(|text| (text, parse_time(text))) {
        Some((_, Some(ns))) => super::format::datetime_input(ns),
        Some((text, None)) => text.to_owned(),
        None => String::new(),
    };
    let form = Form {
        q: f.q.clone(),
        severities: SEVERITIES
            .iter()
            .map(|(label, value)| (*label, *value, f.severity == *value))
            .collect(),
        service: f.service.clone(),
        window: text(&f.time.window),
        from: input(&f.time.from),
        to: input(&f.time.to),
        trace_id: f.trace_id.clone(),
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
pub async fn tail(State(state): State<AppState>, pairs: Pairs) -> Response {
    let search = match read(&pairs) {
        Ok(search) => search,
        Err(err) => return (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
    };
    let Some(after) = search.query.after.map(|cursor| cursor.0) else {
        return (
            StatusCode::BAD_REQUEST,
            "after must be a time in Unix nanoseconds",
        )
            .into_response();
    };
    let (start, _) = search.time.bounds(now_ns());
    let start = start.map_or(after + 1, |s| s.max(after + 1));
    let query = search.query.store_query((Some(start), None), TAIL);
    let logs = match state.store.logs(&query).await {
        Ok(logs) => logs,
        Err(err) => return UiError::Store(err).into_response(),
    };
    let next = logs.first().map_or(after, log_time);
    LogsTail {
        tail: Some(tail_url(&Filters::read(&pairs), next)),
        lines: logs.iter().map(LogLine::new).collect(),
    }
    .into_response()
}
