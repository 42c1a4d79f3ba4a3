//! Trace search (`/traces`): filters in the URL, results newest first (an
//! "older" link pages back) or longest first over every match (a "shorter"
//! link pages on).
//! With `HX-Request` only the rows are sent, for the form's htmx swap.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use store::{TraceQuery, TraceSummary};

use super::format;
use super::layout::{HxRequest, Layout, UiError, vary_on_htmx};
use super::services::WINDOWS;
use crate::api::{millis_to_nanos, parse_number, parse_window};
use crate::state::AppState;

const DEFAULT_LIMIT: u32 = 50;

/// The filters as typed, to refill the form and rebuild links.
#[derive(Default, Clone)]
struct Filters {
    service: String,
    operation: String,
    status: String,
    min_ms: String,
    max_ms: String,
    attrs: Vec<String>,
    window: String,
    start: String,
    end: String,
    sort: String,
    offset: String,
    limit: String,
}

impl Filters {
    fn read(params: &[(String, String)]) -> Filters {
        let mut f = Filters::default();
        for (key, value) in params {
            let value = value.trim().to_owned();
            match key.as_str() {
                "service" => f.service = value,
                "operation" => f.operation = value,
                "status" => f.status = value,
                "min_ms" => f.min_ms = value,
                "max_ms" => f.max_ms = value,
                "attr" if !value.is_empty() => f.attrs.push(value),
                "window" => f.window = value,
                "start" => f.start = value,
                "end" => f.end = value,
                "sort" => f.sort = value,
                "offset" => f.offset = value,
                "limit" => f.limit = value,
                _ => {}
            }
        }
        f
    }

    /// The query string of these filters (without `?`), empty fields left out.
    fn query(&self) -> String {
        let mut pairs: Vec<(&str, &str)> = vec![
            ("service", &self.service),
            ("operation", &self.operation),
            ("status", &self.status),
            ("min_ms", &self.min_ms),
            ("max_ms", &self.max_ms),
        ];
        pairs.extend(self.attrs.iter().map(|a| ("attr", a.as_str())));
        pairs.extend([
            ("window", self.window.as_str()),
            ("start", &self.start),
            ("end", &self.end),
            ("sort", &self.sort),
            ("offset", &self.offset),
            ("limit", &self.limit),
        ]);
        pairs
            .into_iter()
            .filter(|(_, v)| !v.is_empty() && *v != "any")
            .map(|(k, v)| format!("{k}={}", format::path_segment(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// The store query of the parameters; the message of the first bad one.
fn parse(params: &[(String, String)]) -> Result<TraceQuery, String> {
    let e = |err: crate::api::ApiError| err.to_string();
    let mut query = TraceQuery {
        limit: DEFAULT_LIMIT,
        ..TraceQuery::default()
    };
    let mut window = None;
    for (key, value) in params {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match key.as_str() {
            "service" => query.service = Some(value.to_owned()),
            "operation" => query.operation = Some(value.to_owned()),
            "status" => {
                query.failed = match value {
                    "any" => None,
                    "error" => Some(true),
                    "ok" => Some(false),
                    other => return Err(format!("status must be any, error or ok, got “{other}”")),
                }
            }
            "min_ms" => query.min_duration_ns = Some(millis_to_nanos(value, "min_ms").map_err(e)?),
            "max_ms" => query.max_duration_ns = Some(millis_to_nanos(value, "max_ms").map_err(e)?),
            "attr" => query
                .attributes
                .push(store::AttributeFilter::parse(value).ok_or_else(|| {
                    format!(
                        "attr must be key=value, key!=value or key>n (>=, <, <= too), got “{value}”"
                    )
                })?),
            "window" => window = Some(parse_window(value).map_err(e)?),
            "start" => query.start = Some(parse_number(value, "start").map_err(e)?),
            "end" => query.end = Some(parse_number(value, "end").map_err(e)?),
            "sort" => query.longest_first = crate::api::longest_first(value).map_err(e)?,
            "offset" => query.offset = parse_number(value, "offset").map_err(e)?,
            "limit" => {
                query.limit = parse_number::<u32>(value, "limit")
                    .map_err(e)?
                    .clamp(1, 500)
            }
            other => return Err(format!("unknown parameter “{other}”")),
        }
    }
    // A window bounds the start relative to now; an explicit start wins.
    if let (None, Some(window)) = (query.start, window) {
        query.start = Some(crate::reports::now_ns().saturating_sub(window));
    }
    if let (Some(start), Some(end)) = (query.start, query.end)
        && start >= end
    {
        return Err("start must be before end".to_owned());
    }
    if let (Some(min), Some(max)) = (query.min_duration_ns, query.max_duration_ns)
        && min > max
    {
        return Err("min duration must not exceed max duration".to_owned());
    }
    Ok(query)
}

struct ResultRow {
    href: String,
    trace_id: String,
    root: Option<(String, usize, String)>,
    start: String,
    duration: String,
    /// Bar width in percent of the longest trace on the page.
    width: String,
    colour: usize,
    spans: i64,
    errors: i64,
    services: Vec<(String, usize)>,
}

impl ResultRow {
    fn new(t: &TraceSummary, longest: i64) -> ResultRow {
        let root = match (&t.root_service, &t.root_name) {
            (Some(s), Some(n)) => Some((s.clone(), format::colour(s), n.clone())),
            _ => None,
        };
        ResultRow {
            href: format!("/traces/{}", t.trace_id),
            trace_id: t.trace_id.clone(),
            colour: root.as_ref().map_or(7, |r| r.1),
            root,
            start: format::time(t.start_time_unix_nano),
            duration: format::duration(t.duration_ns),
            width: format!(
                "{:.3}%",
                (t.duration_ns.max(0) as f64 / longest.max(1) as f64 * 100.0).max(0.5)
            ),
            spans: t.span_count,
            errors: t.error_count,
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

#[derive(Template, WebTemplate)]
#[template(path = "traces.html")]
struct SearchPage {
    layout: Layout,
    f: Filters,
    services: Vec<SelectOption>,
    windows: Vec<SelectOption>,
    /// Kept as hidden fields when the range came from a link.
    start: String,
    end: String,
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

async fn rows(state: &AppState, params: &[(String, String)], f: &Filters) -> Result<Rows, UiError> {
    let query = match parse(params) {
        Ok(query) => query,
        Err(message) => {
            return Ok(Rows {
                error: Some(message),
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
            ..query
        })
        .await?;
    let more = found.len() > limit as usize;
    found.truncate(limit as usize);
    let longest_first = query.longest_first;
    let next = match found.iter().map(|t| t.start_time_unix_nano).min() {
        Some(_) if more && longest_first => {
            let next = Filters {
                offset: (query.offset + limit).to_string(),
                ..f.clone()
            };
            Some((format!("/traces?{}", next.query()), "shorter traces →"))
        }
        // Newest first: the oldest shown bounds the next page. Traces
        // starting in the same nanosecond as it would be skipped: rare enough.
        Some(oldest) if more => {
            let older = Filters {
                end: oldest.to_string(),
                ..f.clone()
            };
            Some((format!("/traces?{}", older.query()), "older traces →"))
        }
        _ => None,
    };
    let longest = found.iter().map(|t| t.duration_ns).max().unwrap_or(1);
    let plural = if found.len() == 1 { "" } else { "s" };
    let note = match (found.len(), longest_first) {
        (0, _) => String::new(),
        (1, true) if query.offset > 0 => {
            format!("matching trace {}, longest first", query.offset + 1)
        }
        (n, true) if query.offset > 0 => format!(
            "matching traces {} to {}, longest first",
            query.offset + 1,
            query.offset as usize + n
        ),
        (n, true) => format!("{n} longest matching trace{plural}, longest first"),
        (n, false) => format!("{n} matching trace{plural}, newest first"),
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
    Query(params): Query<Vec<(String, String)>>,
    HxRequest(partial): HxRequest,
) -> Result<Response, UiError> {
    let f = Filters::read(&params);
    let r = rows(&state, &params, &f).await?;
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
        let mut windows: Vec<(&str, &str)> = vec![("", "any time")];
        windows.extend(WINDOWS.iter().map(|w| (*w, *w)));
        let windows = options(&windows, &f.window);
        let explicit = !f.start.is_empty();
        let page = SearchPage {
            layout: Layout::new("Traces", ""),
            services,
            windows,
            start: f.start.clone(),
            end: if explicit {
                f.end.clone()
            } else {
                String::new()
            },
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

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parameters() {
        let p = parse(&pairs(&[
            ("service", "api"),
            ("status", "error"),
            ("attr", "http.route = /x"),
            ("attr", "a=b=c"),
            ("min_ms", "1.5"),
            ("sort", "duration"),
            ("operation", ""),
        ]))
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
        for bad in [
            ("status", "maybe"),
            ("attr", "novalue"),
            ("attr", "=x"),
            ("min_ms", "-1"),
            ("window", "1w"),
            ("sort", "name"),
            ("bogus", "1"),
        ] {
            assert!(parse(&pairs(&[bad])).is_err(), "{bad:?}");
        }
        assert!(parse(&pairs(&[("start", "5"), ("end", "5")])).is_err());
    }

    #[test]
    fn links_keep_the_filters() {
        let f = Filters::read(&pairs(&[
            ("service", "a b"),
            ("status", "any"),
            ("attr", "k=v&w"),
            ("end", "9"),
        ]));
        assert_eq!(f.query(), "service=a%20b&attr=k%3Dv%26w&end=9");
    }
}
