//! Trace search (`/traces`): filters in the URL, results newest first (an
//! "older" link pages back) or longest first over every match (a "shorter"
//! link pages on).
//! With `HX-Request` only the rows are sent, for the form's htmx swap.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use store::{TraceQuery, TraceSummary};

use super::format;
use super::format::Grouped as _;
use super::layout::{HxRequest, Layout, UiError, vary_on_htmx};
use super::window_picker::WINDOWS;
use crate::params::{Pairs, ParamError, TimeText, TracesQuery, Unknown, Windowed, now_ns};
use crate::state::AppState;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;
/// Matching traces are counted up to this many; past it the page says
/// "more than" (a count reads the search's index, a row each).
const COUNT_BOUND: u32 = 10_000;

/// The filters as typed, under the parameters' current names: to refill
/// the form and to build the links to other pages of results.
#[derive(Default, Clone)]
struct Filters {
    service: String,
    also_service: String,
    operation: String,
    status: String,
    min_duration_ms: String,
    max_duration_ms: String,
    min_trace_duration_ms: String,
    max_trace_duration_ms: String,
    min_span_duration_ms: String,
    max_span_duration_ms: String,
    attrs: Vec<String>,
    time: TimeText,
    sort: String,
    offset: String,
    limit: String,
}

impl Filters {
    fn read(pairs: &Pairs) -> Filters {
        let get = |name| pairs.get(name).unwrap_or_default().to_owned();
        // The form said `min_ms` and `max_ms` before it used the API's names.
        let either = |name, old| {
            pairs
                .get(name)
                .or(pairs.get(old))
                .unwrap_or_default()
                .to_owned()
        };
        Filters {
            service: get("service"),
            also_service: get("also_service"),
            operation: get("operation"),
            // `any` is the form's word for no condition.
            status: pairs
                .get("status")
                .filter(|status| *status != "any")
                .unwrap_or_default()
                .to_owned(),
            min_duration_ms: either("min_duration_ms", "min_ms"),
            max_duration_ms: either("max_duration_ms", "max_ms"),
            min_trace_duration_ms: get("min_trace_duration_ms"),
            max_trace_duration_ms: get("max_trace_duration_ms"),
            min_span_duration_ms: get("min_span_duration_ms"),
            max_span_duration_ms: get("max_span_duration_ms"),
            attrs: pairs.all("attr").map(str::to_owned).collect(),
            time: pairs.time().text(),
            sort: get("sort"),
            offset: get("offset"),
            limit: get("limit"),
        }
    }

    /// The query string of these filters (without `?`), empty fields left out.
    fn query(&self) -> String {
        let mut pairs: Vec<(&str, &str)> = vec![
            ("service", &self.service),
            ("also_service", &self.also_service),
            ("operation", &self.operation),
            ("status", &self.status),
            ("min_duration_ms", &self.min_duration_ms),
            ("max_duration_ms", &self.max_duration_ms),
            ("min_trace_duration_ms", &self.min_trace_duration_ms),
            ("max_trace_duration_ms", &self.max_trace_duration_ms),
            ("min_span_duration_ms", &self.min_span_duration_ms),
            ("max_span_duration_ms", &self.max_span_duration_ms),
        ];
        pairs.extend(self.attrs.iter().map(|a| ("attr", a.as_str())));
        pairs.extend(self.time.pairs());
        pairs.extend([
            ("sort", self.sort.as_str()),
            ("offset", &self.offset),
            ("limit", &self.limit),
        ]);
        format::query(pairs)
    }
}

/// The store query of the parameters.
fn parse(pairs: &Pairs) -> Result<TraceQuery, ParamError> {
    // This page has always refused parameters it does not take: a misspelt
    // filter would otherwise list every trace as if it matched.
    let Windowed { time, query } = pairs.read::<Windowed<TracesQuery>>(Unknown::Refuse)?;
    let bounds = time.check()?.bounds(now_ns());
    query.store_query(bounds, DEFAULT_LIMIT, MAX_LIMIT)
}

struct ResultRow {
    href: String,
    trace_id: String,
    root: Option<(String, usize, String)>,
    start: String,
    iso: String,
    duration: String,
    /// Bar width in percent of the longest trace on the page.
    width: String,
    /// The whole trace when work went on after the answer: what the row
    /// says of it, and where its faint bar ends.
    tail: Option<(String, String)>,
    colour: usize,
    spans: i64,
    errors: i64,
    services: Vec<(String, usize)>,
    /// The HTTP status code the entry span answered, and whether it says
    /// the request failed.
    status: Option<(i64, bool)>,
    /// What the failure said where it failed.
    message: Option<String>,
    /// The request id, its first characters, and its request view.
    request: Option<(String, String, String)>,
}

/// The whole trace beside the latency the caller saw, when work went on
/// after the answer: "trace 1.08 s, async tail".
fn tail_of(t: &TraceSummary) -> Option<String> {
    let whole = format::duration(t.trace_duration_ns);
    (t.trace_duration_ns > t.duration_ns && whole != format::duration(t.duration_ns))
        .then(|| format!("trace {whole}, async tail"))
}

impl ResultRow {
    fn new(t: &TraceSummary, longest: i64) -> ResultRow {
        let root = match (&t.root_service, &t.root_name) {
            (Some(s), Some(n)) => Some((s.clone(), format::colour(s), n.clone())),
            _ => None,
        };
        let percent =
            |ns: i64| (ns.max(0) as f64 / longest.max(1) as f64 * 100.0).clamp(0.5, 100.0);
        ResultRow {
            href: format!("/traces/{}", t.trace_id),
            trace_id: t.trace_id.clone(),
            colour: root.as_ref().map_or(7, |r| r.1),
            root,
            start: format::time(t.start_time_unix_nano),
            iso: format::iso(t.start_time_unix_nano),
            duration: format::duration(t.duration_ns),
            width: format!("{:.3}%", percent(t.duration_ns)),
            tail: tail_of(t).map(|text| (text, format!("{:.3}%", percent(t.trace_duration_ns)))),
            spans: t.span_count,
            errors: t.error_count,
            status: t.http_status_code.map(|code| (code, code >= 500)),
            message: t.error_message.clone(),
            request: t.request_id.as_ref().map(|id| {
                let short: String = id.chars().take(8).collect();
                let short = if short.len() < id.len() {
                    format!("{short}…")
                } else {
                    short
                };
                (
                    id.clone(),
                    short,
                    format!("/requests/{}", format::path_segment(id)),
                )
            }),
            services: t
                .services
                .iter()
                .map(|s| (s.clone(), format::colour(s)))
                .collect(),
        }
    }
}

/// What the rows partial shows: results, or the error that stopped them.
struct Rows {
    error: Option<String>,
    rows: Vec<ResultRow>,
    note: String,
    /// The next page (older, or shorter when sorted by duration) and its link text.
    next: Option<(String, &'static str)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "traces_rows.html")]
struct RowsPartial {
    r: Rows,
}

struct SelectOption {
    value: String,
    label: String,
    selected: bool,
}

/// Span names the operation field suggests at most.
const OPERATIONS_SUGGESTED: usize = 500;

#[derive(Template, WebTemplate)]
#[template(path = "traces.html")]
struct SearchPage {
    layout: Layout,
    f: Filters,
    services: Vec<SelectOption>,
    /// The span names the operation field suggests: the service's, or
    /// every service's.
    operations: Vec<String>,
    windows: Vec<SelectOption>,
    /// Kept as hidden fields when the range came from a link.
    from: String,
    to: String,
    r: Rows,
}

fn options(values: &[(&str, &str)], current: &str) -> Vec<SelectOption> {
    values
        .iter()
        .map(|(value, label)| SelectOption {
            value: (*value).to_owned(),
            label: (*label).to_owned(),
            selected: *value == current,
        })
        .collect()
}

async fn rows(state: &AppState, pairs: &Pairs, f: &Filters) -> Result<Rows, UiError> {
    let query = match parse(pairs) {
        Ok(query) => query,
        Err(err) => {
            return Ok(Rows {
                error: Some(err.to_string()),
                rows: vec![],
                note: String::new(),
                next: None,
            });
        }
    };
    let limit = query.limit;
    // One more than shown, to know whether there is an older page.
    let mut found = state
        .store
        .traces(&TraceQuery {
            limit: limit + 1,
            ..query.clone()
        })
        .await?;
    let more = found.len() > limit as usize;
    found.truncate(limit as usize);
    let matched = match more || query.offset > 0 {
        true => state.store.count_traces(&query, COUNT_BOUND).await?,
        false => None,
    };
    let longest_first = query.longest_first;
    let next = match found.iter().map(|t| t.start_time_unix_nano).min() {
        Some(_) if more && longest_first => {
            let next = Filters {
                offset: (query.offset + limit).to_string(),
                ..f.clone()
            };
            Some((format!("/traces?{}", next.query()), "shorter traces →"))
        }
        // Newest first: the oldest shown bounds the next page, which keeps
        // this page's lower bound (a window becomes the time it started at).
        // Traces starting in the same nanosecond as it would be skipped:
        // rare enough.
        Some(oldest) if more => {
            let older = Filters {
                time: TimeText {
                    window: None,
                    from: query.start.map(|start| start.to_string()),
                    to: Some(oldest.to_string()),
                },
                ..f.clone()
            };
            Some((format!("/traces?{}", older.query()), "older traces →"))
        }
        _ => None,
    };
    let longest = found.iter().map(|t| t.duration_ns).max().unwrap_or(1);
    let plural = if found.len() == 1 { "" } else { "s" };
    // Of how many, when the page is not all of them and they can be counted.
    let of = match matched {
        Some(n) if n > u64::from(COUNT_BOUND) => {
            format!(" of more than {}", COUNT_BOUND.grouped())
        }
        Some(n) => format!(" of {}", n.grouped()),
        None => String::new(),
    };
    let plural = if of.is_empty() { plural } else { "s" };
    let note = match (found.len(), longest_first) {
        (0, _) => String::new(),
        (1, true) if query.offset > 0 => {
            format!("matching trace {}{of}, longest first", query.offset + 1)
        }
        (n, true) if query.offset > 0 => format!(
            "matching traces {} to {}{of}, longest first",
            query.offset + 1,
            query.offset as usize + n
        ),
        (n, true) => format!("{n} longest{of} matching trace{plural}, longest first"),
        (n, false) => format!("{n}{of} matching trace{plural}, newest first"),
    };
    Ok(Rows {
        error: None,
        rows: found.iter().map(|t| ResultRow::new(t, longest)).collect(),
        note,
        next,
    })
}

pub async fn traces(
    State(state): State<AppState>,
    pairs: Pairs,
    HxRequest(partial): HxRequest,
) -> Result<Response, UiError> {
    let f = Filters::read(&pairs);
    let r = rows(&state, &pairs, &f).await?;
    let status = if r.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    // htmx does not swap 4xx answers, so a partial carrying an error
    // message is sent as 200; the full page keeps the 400.
    let response = if partial {
        RowsPartial { r }.into_response()
    } else {
        let mut names: Vec<String> = state.store.service_names().await?;
        if !f.service.is_empty() && !names.contains(&f.service) {
            names.push(f.service.clone());
            names.sort();
        }
        let mut services = vec![SelectOption {
            value: String::new(),
            label: "any service".to_owned(),
            selected: f.service.is_empty(),
        }];
        services.extend(names.into_iter().map(|name| SelectOption {
            selected: name == f.service,
            label: name.clone(),
            value: name,
        }));
        let service = (!f.service.is_empty()).then_some(f.service.as_str());
        let mut operations: Vec<String> = state
            .store
            .operations(service)
            .await?
            .into_iter()
            .map(|o| o.name)
            .collect();
        operations.sort();
        operations.dedup();
        operations.truncate(OPERATIONS_SUGGESTED);
        let mut windows: Vec<(&str, &str)> = vec![("", "any time")];
        windows.extend(WINDOWS.iter().map(|w| (*w, *w)));
        let windows = options(&windows, f.time.window.as_deref().unwrap_or_default());
        // A range from a link (the services page, an older page) stays in
        // hidden fields; the form itself picks windows only.
        let (from, to) = match &f.time.from {
            Some(from) => (from.clone(), f.time.to.clone().unwrap_or_default()),
            None => (String::new(), String::new()),
        };
        let page = SearchPage {
            layout: Layout::new("Traces", ""),
            services,
            operations,
            windows,
            from,
            to,
            f,
            r,
        };
        (status, page).into_response()
    };
    Ok(vary_on_htmx(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters() {
        let p = parse(&Pairs::parse(
            "service=api&status=error&attr=http.route+%3D+/x&attr=a%3Db%3Dc&min_ms=1.5&sort=duration&operation=",
        ))
        .unwrap();
        assert_eq!(p.service.as_deref(), Some("api"));
        assert_eq!(p.failed, Some(true));
        assert_eq!(p.min_duration_ns, Some(1_500_000));
        assert_eq!(
            p.attributes,
            vec![
                store::AttributeFilter::parse("http.route=/x").unwrap(),
                store::AttributeFilter::parse("a=b=c").unwrap()
            ]
        );
        assert!(p.longest_first && p.operation.is_none());
        assert_eq!(p.limit, DEFAULT_LIMIT);
        assert_eq!(parse(&Pairs::parse("limit=9999")).unwrap().limit, MAX_LIMIT);
        for bad in [
            "status=maybe",
            "attr=novalue",
            "attr=%3Dx",
            "min_ms=-1",
            "window=1w",
            "sort=name",
            "bogus=1",
            "from=5&to=5",
            "min_duration_ms=5&max_duration_ms=4",
        ] {
            assert!(parse(&Pairs::parse(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn links_keep_the_filters_under_their_new_names() {
        let f = Filters::read(&Pairs::parse(
            "service=a+b&status=any&attr=k%3Dv%26w&end=9&min_ms=3",
        ));
        assert_eq!(
            f.query(),
            "service=a%20b&min_duration_ms=3&attr=k%3Dv%26w&to=9"
        );
    }
}
