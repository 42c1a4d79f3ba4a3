//! What every page shares: the frame around it (`Layout`), the page shown
//! when one cannot be (`UiError`), and how a handler tells an htmx request
//! for a partial from a request for the whole page (`HxRequest`).

use std::convert::Infallible;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::assets::URLS;
use super::format::Grouped as _;

/// What the base template needs besides the page itself.
pub struct Layout {
    pub title: String,
    pub css: &'static str,
    pub js: &'static str,
    pub htmx: &'static str,
    /// What the search box shows.
    pub query: String,
    pub chrome: Chrome,
}

/// What every page shows of the request's access, set by `auth::guard`
/// for the request it lets through.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    /// Read through a login session: offer to end it, with the session's
    /// CSRF token in the form.
    pub logout: Option<crate::access::Masked>,
    /// Served to anyone on a non-loopback address (`--insecure-no-auth`).
    pub open_to_all: bool,
    /// The navigation entry (its `href`) the page belongs to, marked as
    /// the current one; "" for none.
    pub nav: &'static str,
    /// The request's window as a query string (`?window=6h`, or `from`
    /// and `to`), "" for none: the navigation's links carry it, so that
    /// moving between pages keeps the window.
    pub keep: String,
}

impl Chrome {
    /// The window parameters of a request's query string, under their
    /// current names, as the navigation's links carry them.
    pub fn keep_of(query: Option<&str>) -> String {
        let pairs = crate::params::Pairs::parse(query.unwrap_or_default());
        let text = pairs.time().text();
        match super::format::query(text.pairs()) {
            query if query.is_empty() => query,
            query => format!("?{query}"),
        }
    }

    /// The navigation entry a request path belongs to.
    pub fn nav_of(path: &str) -> &'static str {
        const ENTRIES: [&str; 8] = [
            "/traces",
            "/logs",
            "/failures",
            "/reports/load",
            "/reports/cost",
            "/map",
            "/metrics-explorer",
            "/system",
        ];
        if path == "/" {
            return "/";
        }
        ENTRIES
            .into_iter()
            .find(|entry| {
                path.strip_prefix(entry)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .unwrap_or("")
    }
}

tokio::task_local! {
    static CHROME: Chrome;
}

impl Chrome {
    pub async fn scope<F: std::future::Future>(chrome: Chrome, f: F) -> F::Output {
        CHROME.scope(chrome, f).await
    }

    fn current() -> Chrome {
        CHROME.try_with(Clone::clone).unwrap_or_default()
    }
}

impl Layout {
    pub fn new(title: impl Into<String>, query: impl Into<String>) -> Layout {
        Layout {
            title: title.into(),
            css: &URLS.css,
            js: &URLS.js,
            htmx: &URLS.htmx,
            query: query.into(),
            chrome: Chrome::current(),
        }
    }
}

/// A page that could not be shown: 404 when nothing matches, 503 when the
/// database fails (details go to the log, not the page).
pub enum UiError {
    NotFound {
        query: String,
        message: String,
    },
    Store(store::StoreError),
    /// The read ran past `--query-timeout`, having read so many spans.
    TooSlow(std::time::Duration, SpansRead),
}

pub type UiResult<T> = Result<T, UiError>;

impl From<store::StoreError> for UiError {
    fn from(err: store::StoreError) -> UiError {
        UiError::Store(err)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    heading: String,
    message: String,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, query, heading, message) = match self {
            UiError::NotFound { query, message } => {
                (StatusCode::NOT_FOUND, query, "Not found", message)
            }
            UiError::Store(store::StoreError::ReadTooLarge(message)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                String::new(),
                "Too much at once",
                message,
            ),
            UiError::Store(err) => {
                tracing::error!(error = %err, "read failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    String::new(),
                    "Database unavailable",
                    "The database did not answer; try again.".to_owned(),
                )
            }
            UiError::TooSlow(deadline, spans_read) => (
                StatusCode::SERVICE_UNAVAILABLE,
                String::new(),
                "Stopped",
                too_slow_message(deadline, spans_read),
            ),
        };
        let page = ErrorPage {
            layout: Layout::new(heading, query),
            heading: heading.to_owned(),
            message,
        };
        (status, page).into_response()
    }
}

/// Whether htmx asked for a partial: an `HX-Request` that is not a history
/// restore (htmx restoring a page it has no copy of wants all of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HxRequest(pub bool);

pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request") && !headers.contains_key("hx-history-restore-request")
}

impl<S: Send + Sync> FromRequestParts<S> for HxRequest {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<HxRequest, Infallible> {
        Ok(HxRequest(is_htmx(&parts.headers)))
    }
}

/// Marks a response that is a partial for htmx and a whole page otherwise,
/// so that no cache answers the one with the other.
pub fn vary_on_htmx(mut response: Response) -> Response {
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("HX-Request"));
    response
}

/// How far a read got: spans read, of how many at most (0: not known).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpansRead {
    pub read: u64,
    pub of: u64,
}

/// A count as a sentence says it: `950`, `12,400`, `3.2 million`.
fn count_in_words(n: u64) -> String {
    if n >= 1_000_000 {
        let millions = format!("{:.1}", n as f64 / 1e6);
        return format!("{} million", millions.trim_end_matches(".0"));
    }
    n.grouped()
}

/// What a read stopped at the deadline answers, on a page and in the API.
pub fn too_slow_message(deadline: std::time::Duration, spans_read: SpansRead) -> String {
    let read = match spans_read {
        SpansRead { read: 0, .. } => String::new(),
        SpansRead { read, of } if of >= read => format!(
            ": {} of {} spans read",
            count_in_words(read),
            count_in_words(of)
        ),
        SpansRead { read, .. } => format!(": {} spans read", count_in_words(read)),
    };
    format!(
        "This read stopped after {} s (--query-timeout){read}. Narrow the window or the filters and try again.",
        deadline.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_path_marks_its_navigation_entry() {
        for (path, entry) in [
            ("/", "/"),
            ("/traces", "/traces"),
            ("/traces/0af7651916cd43dd8448eb211c80319c", "/traces"),
            ("/tracesx", ""),
            ("/reports/load", "/reports/load"),
            ("/reports", ""),
            ("/metrics-explorer", "/metrics-explorer"),
            ("/requests/abc", ""),
            ("/login", ""),
        ] {
            assert_eq!(Chrome::nav_of(path), entry, "{path}");
        }
    }

    #[test]
    fn a_stopped_read_says_how_far_it_got() {
        let deadline = std::time::Duration::from_secs(10);
        for (read, of, says) in [
            (0, 0, "stopped after 10 s (--query-timeout). Narrow"),
            (0, 5, "stopped after 10 s (--query-timeout). Narrow"),
            (
                3_200_000,
                10_000_000,
                "(--query-timeout): 3.2 million of 10 million spans read.",
            ),
            (100_000, 2_450_000, ": 100,000 of 2.5 million spans read."),
            (950, 12_045, ": 950 of 12,045 spans read."),
            // The total was not known (or grew meanwhile).
            (40_000, 0, ": 40,000 spans read."),
        ] {
            let message = too_slow_message(deadline, SpansRead { read, of });
            assert!(message.contains(says), "{read} {of}: {message}");
        }
    }

    #[test]
    fn htmx_wants_a_partial_unless_it_restores_history() {
        for (headers, partial) in [
            (&[][..], false),
            (&[("hx-request", "true")][..], true),
            (
                &[
                    ("hx-request", "true"),
                    ("hx-history-restore-request", "true"),
                ][..],
                false,
            ),
        ] {
            let mut map = HeaderMap::new();
            for (name, value) in headers {
                map.insert(*name, HeaderValue::from_static(value));
            }
            assert_eq!(is_htmx(&map), partial, "{headers:?}");
        }
    }
}
