//! The parameters of each page and endpoint, one struct each (a window's
//! are read beside them, through `Windowed`). Values arrive trimmed and
//! non-empty (`Pairs`), so `None` is also what `?service=` gives.
//!
//! Every struct refuses names it does not know (`deny_unknown_fields`);
//! the reader checks them first, to say `unknown parameter "x"`, and lets
//! pages ignore them instead.

use serde::Deserialize;
use store::{LogQuery, TraceQuery};

use super::error::ParamError;
use super::values::{
    Attr, Cursor, Flag, Format, Millis, Number, Severity, Sort, StatusFilter, TraceId,
};

/// For endpoints that take no parameter: every name is unknown.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// The attribute conditions one search takes at most: each is asked of
/// every span or record read, and the store refuses trace searches of
/// more than 64 span conditions.
pub const MAX_ATTR: usize = 32;

/// The conditions of `attr`, or a 400 past `MAX_ATTR`.
fn conditions(attr: &[Attr]) -> Result<Vec<store::AttributeFilter>, ParamError> {
    if attr.len() > MAX_ATTR {
        return Err(ParamError::new(format!(
            "attr may be given at most {MAX_ATTR} times, got {}",
            attr.len()
        )));
    }
    Ok(attr.iter().map(|a| a.0.clone()).collect())
}

/// `/api/v1/traces` and the trace search page (`/traces`), with a window.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracesQuery {
    pub service: Option<String>,
    /// A second service the trace must have a span of: a call's other end.
    pub also_service: Option<String>,
    pub operation: Option<String>,
    pub status: Option<StatusFilter>,
    /// The page's form once said `min_ms` and `max_ms`.
    #[serde(alias = "min_ms")]
    pub min_duration_ms: Option<Millis>,
    #[serde(alias = "max_ms")]
    pub max_duration_ms: Option<Millis>,
    /// Bounds of the whole trace, asynchronous tail included.
    pub min_trace_duration_ms: Option<Millis>,
    pub max_trace_duration_ms: Option<Millis>,
    /// Bounds of the operation's span: an endpoint's latency where it is
    /// not the trace's entry.
    pub min_span_duration_ms: Option<Millis>,
    pub max_span_duration_ms: Option<Millis>,
    #[serde(default)]
    pub attr: Vec<Attr>,
    pub sort: Option<Sort>,
    pub offset: Option<Number<u32>>,
    pub limit: Option<Number<u32>>,
}

impl TracesQuery {
    /// The store's query over `start..end`; `limit` is `default_limit`
    /// when absent and at most `max_limit`.
    pub fn store_query(
        &self,
        (start, end): (Option<i64>, Option<i64>),
        default_limit: u32,
        max_limit: u32,
    ) -> Result<TraceQuery, ParamError> {
        let min = self.min_duration_ms.map(|m| m.0);
        let max = self.max_duration_ms.map(|m| m.0);
        let min_trace = self.min_trace_duration_ms.map(|m| m.0);
        let max_trace = self.max_trace_duration_ms.map(|m| m.0);
        let min_span = self.min_span_duration_ms.map(|m| m.0);
        let max_span = self.max_span_duration_ms.map(|m| m.0);
        if (min_span.is_some() || max_span.is_some()) && self.operation.is_none() {
            return Err(ParamError::new(
                "min_span_duration_ms and max_span_duration_ms bound the operation's span: \
                 give the operation too",
            ));
        }
        for (low, high, names) in [
            (
                min_span,
                max_span,
                "min_span_duration_ms must not exceed max_span_duration_ms",
            ),
            (min, max, "min_duration_ms must not exceed max_duration_ms"),
            (
                min_trace,
                max_trace,
                "min_trace_duration_ms must not exceed max_trace_duration_ms",
            ),
        ] {
            if let (Some(low), Some(high)) = (low, high)
                && low > high
            {
                return Err(ParamError::new(names));
            }
        }
        Ok(TraceQuery {
            service: self.service.clone(),
            also_service: self.also_service.clone(),
            operation: self.operation.clone(),
            failed: self.status.and_then(|s| s.failed),
            min_duration_ns: min,
            max_duration_ns: max,
            min_trace_duration_ns: min_trace,
            max_trace_duration_ns: max_trace,
            min_span_duration_ns: min_span,
            max_span_duration_ns: max_span,
            attributes: conditions(&self.attr)?,
            start,
            end,
            longest_first: self.sort.is_some_and(|s| s.longest_first),
            offset: self.offset.map_or(0, |n| n.0),
            limit: self
                .limit
                .map_or(default_limit, |n| n.0.clamp(1, max_limit)),
        })
    }
}

/// `/api/v1/logs`, with a window.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    pub service: Option<String>,
    /// Words that must all occur in the body.
    pub q: Option<String>,
    pub trace_id: Option<TraceId>,
    pub request_id: Option<String>,
    pub severity_min: Option<Number<i32>>,
    #[serde(default)]
    pub attr: Vec<Attr>,
    pub limit: Option<Number<u32>>,
}

impl LogsQuery {
    pub fn store_query(
        &self,
        (start, end): (Option<i64>, Option<i64>),
    ) -> Result<LogQuery, ParamError> {
        Ok(LogQuery {
            service: self.service.clone(),
            text: self.q.clone(),
            trace_id: self.trace_id.map(|id| id.0),
            request_id: self.request_id.clone(),
            severity_min: self.severity_min.map(|n| n.0),
            attributes: conditions(&self.attr)?,
            start,
            end,
            limit: self.limit.map_or(100, |n| n.0.clamp(1, 1000)),
        })
    }
}

/// The logs page (`/logs`) and its live tail (`/logs/tail`, which alone
/// reads `after`), with a window.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsPageQuery {
    pub q: Option<String>,
    /// The lowest severity shown.
    pub severity: Option<Severity>,
    pub service: Option<String>,
    pub trace_id: Option<TraceId>,
    pub request_id: Option<String>,
    pub attr: Option<Attr>,
    pub live: Option<Flag>,
    /// The newest time the live tail has shown.
    pub after: Option<Cursor>,
}

impl LogsPageQuery {
    pub fn store_query(&self, (start, end): (Option<i64>, Option<i64>), limit: u32) -> LogQuery {
        LogQuery {
            service: self.service.clone(),
            text: self.q.clone(),
            trace_id: self.trace_id.map(|id| id.0),
            request_id: self.request_id.clone(),
            severity_min: self.severity.map(|s| s.0),
            attributes: self.attr.iter().map(|a| a.0.clone()).collect(),
            start,
            end,
            limit,
        }
    }
}

/// `/api/v1/metrics/{name}/points`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointsQuery {
    pub limit: Option<Number<u32>>,
}

/// `/api/v1/metrics/{name}/chart`, with a window.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartQuery {
    /// A point attribute, or `service`: one line per value.
    pub group_by: Option<String>,
}

/// The metrics explorer (`/metrics-explorer`), with a window.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplorerQuery {
    /// The metric charted, if any.
    pub metric: Option<String>,
    pub group_by: Option<String>,
}

/// `/api/v1/reports/load`, with a window.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadQuery {
    /// Only the rows that touch this service.
    pub service: Option<String>,
    pub format: Option<Format>,
    /// The table of the CSV.
    pub table: Option<String>,
}

/// `/api/v1/reports/cost`, with a window.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostQuery {
    pub format: Option<Format>,
    /// The table of the CSV.
    pub table: Option<String>,
}

/// The load report's page (`/reports/load`), with a window.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadPageQuery {
    pub service: Option<String>,
    /// How much earlier the window its figures are compared with lies.
    pub against: Option<String>,
}

/// A service's releases (`/api/v1/services/{name}/releases`, and its
/// page), with a window: `base_version` against `version`, both or none.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasesQuery {
    pub base_version: Option<String>,
    pub version: Option<String>,
}

impl ReleasesQuery {
    /// The two releases to compare, when given.
    pub fn pick(&self) -> Result<Option<(&str, &str)>, ParamError> {
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().filter(|v| !v.is_empty())
        }
        match (given(&self.base_version), given(&self.version)) {
            (Some(base), Some(version)) => Ok(Some((base, version))),
            (None, None) => Ok(None),
            _ => Err(ParamError::new(
                "base_version and version come together: the two releases to compare",
            )),
        }
    }
}

/// What a selection of traces is compared with (`/compare`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Baseline {
    /// The rest of the same endpoint's traces (the search's service and
    /// operation).
    #[default]
    Endpoint,
    /// The rest of the same service's.
    Service,
    /// Every other trace.
    All,
}

impl Baseline {
    pub fn as_str(self) -> &'static str {
        match self {
            Baseline::Endpoint => "endpoint",
            Baseline::Service => "service",
            Baseline::All => "all",
        }
    }
}

/// `/compare`'s own parameters, beside a trace search's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareQuery {
    pub baseline: Option<Baseline>,
}

/// `/api/v1/reports/change`, with a window: every endpoint's figures
/// against the window `against` earlier (the one before, by default).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeQuery {
    pub service: Option<String>,
    pub against: Option<String>,
}

/// The search box (`/search`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// A trace id, span id or request id.
    pub id: Option<String>,
}

/// A trace's page (`/traces/{trace_id}`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceViewQuery {
    /// A span to keep shown (with its ancestors) however large the trace.
    pub span: Option<String>,
}

/// A trace against another (`/traces/{trace_id}/compare`): `with` names
/// it, else a typical one is found.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceCompareQuery {
    pub with: Option<TraceId>,
}

/// The rows a large trace's page left out (`/traces/{trace_id}/rows`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowsQuery {
    /// The span ids of the run's first and last row.
    pub first: Option<String>,
    pub last: Option<String>,
}
