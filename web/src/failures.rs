//! Failed requests grouped by where they failed: one group per (origin
//! service, origin operation, exception type or status message). A failure
//! that propagated through five services counts once, at its origin; a trace
//! with several origins counts at its earliest. Pure but for `read`, which
//! loads a window's failed traces and groups them.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use store::{SpanView, TraceQuery, TraceSummary};

use crate::error_origin::{self, Placed};

/// How many failed traces are examined at most: the newest ones.
pub const FAILED_TRACES_EXAMINED: u32 = 1000;

/// Slices of the window in a group's `trend`.
const TREND_SLICES: usize = 24;

/// The failures of a window, as the API answers and the page shows them.
#[derive(Debug, Serialize)]
pub struct Failures {
    pub start_time_unix_nano: i64,
    pub end_time_unix_nano: i64,
    /// Failed traces looked at; when it reaches the limit, older ones in the
    /// window were not (`sampled` is true).
    pub traces_examined: usize,
    pub sampled: bool,
    pub groups: Vec<FailureGroup>,
}

/// Failed traces of `start..end` (those with spans of `service`, when
/// given) grouped by their origin, biggest group first.
pub async fn read(
    store: &store::Reader,
    start: i64,
    end: i64,
    service: Option<&str>,
) -> store::Result<Failures> {
    let traces = store
        .traces(&TraceQuery {
            service: service.map(str::to_owned),
            failed: Some(true),
            start: Some(start),
            end: Some(end),
            limit: FAILED_TRACES_EXAMINED,
            ..TraceQuery::default()
        })
        .await?;
    let trace_ids: Vec<String> = traces.iter().map(|t| t.trace_id.clone()).collect();
    // Placed from narrow rows; whole spans are read for the origins alone.
    let nodes = store.span_nodes(&trace_ids).await?;
    let origins = store.spans_by_id(&first_origins(&nodes)).await?;
    Ok(Failures {
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        traces_examined: traces.len(),
        sampled: traces.len() == FAILED_TRACES_EXAMINED as usize,
        groups: group(&traces, &origins, start, end, TREND_SLICES),
    })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureGroup {
    pub service: String,
    pub operation: String,
    /// The exception type, else the error message, else `error`.
    pub error: String,
    pub count: u64,
    /// Entry endpoints (root service › root operation) of the failed traces, most first.
    pub entry_endpoints: Vec<EndpointCount>,
    pub first_seen_unix_nano: i64,
    pub last_seen_unix_nano: i64,
    /// Up to five failed traces, newest first.
    pub example_trace_ids: Vec<String>,
    /// The same traces with what a reader picks one by: when, how long
    /// the caller waited, what the origin said, the request id.
    pub examples: Vec<FailureExample>,
    /// Failures per equal slice of the window, oldest first.
    pub trend: Vec<u64>,
    /// The failures by the origin's release (its resource's
    /// `service.version`, empty for none), most first.
    pub versions: Vec<VersionCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionCount {
    pub version: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureExample {
    pub trace_id: String,
    pub start_time_unix_nano: i64,
    /// The entry span's: the latency the caller saw (docs/adr/0023).
    pub duration_ns: i64,
    /// The exception message at the origin, else its status message.
    pub message: Option<String>,
    pub request_id: Option<String>,
    /// The HTTP status code the entry span answered with, when it says.
    pub http_status_code: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointCount {
    pub endpoint: String,
    pub count: u64,
}

/// The earliest origin of each trace among `spans` (of any number of
/// traces, in any order), as (trace id, span id).
pub fn first_origins<S: Placed>(spans: &[S]) -> Vec<(String, String)> {
    let mut by_trace: HashMap<&str, Vec<&S>> = HashMap::new();
    for span in spans {
        by_trace.entry(span.trace_id()).or_default().push(span);
    }
    by_trace
        .into_iter()
        .filter_map(|(trace, spans)| {
            let first = *error_origin::origins(&spans).first()?;
            Some((trace.to_owned(), first.span_id().to_owned()))
        })
        .collect()
}

/// Groups `traces` (failed trace summaries, newest first) by their origin,
/// given the spans `first_origins` named; biggest group first.
pub fn group(
    traces: &[TraceSummary],
    origins: &[SpanView],
    start: i64,
    end: i64,
    buckets: usize,
) -> Vec<FailureGroup> {
    let by_trace: HashMap<&str, &SpanView> =
        origins.iter().map(|s| (s.trace_id.as_str(), s)).collect();
    let buckets = buckets.max(1);
    let width = ((end - start).max(1) as f64) / buckets as f64;
    // (service, operation, error) → the group, and its entry endpoints and
    // versions counted.
    type Counts = (BTreeMap<String, u64>, BTreeMap<String, u64>);
    type Groups = BTreeMap<(String, String, String), (FailureGroup, Counts)>;
    let mut groups = Groups::new();
    for trace in traces {
        let Some(origin) = by_trace.get(trace.trace_id.as_str()) else {
            continue;
        };
        let (exception_type, exception_message, _) = error_origin::exception(origin);
        let error = exception_type
            .or(exception_message)
            .unwrap_or_else(|| "error".to_owned());
        let key = (origin.service.clone(), origin.name.clone(), error.clone());
        let (group, (endpoints, versions)) = groups.entry(key).or_insert_with(|| {
            (
                FailureGroup {
                    service: origin.service.clone(),
                    operation: origin.name.clone(),
                    error,
                    count: 0,
                    entry_endpoints: Vec::new(),
                    first_seen_unix_nano: trace.start_time_unix_nano,
                    last_seen_unix_nano: trace.start_time_unix_nano,
                    example_trace_ids: Vec::new(),
                    examples: Vec::new(),
                    trend: vec![0; buckets],
                    versions: Vec::new(),
                },
                Default::default(),
            )
        });
        group.count += 1;
        group.first_seen_unix_nano = group.first_seen_unix_nano.min(trace.start_time_unix_nano);
        group.last_seen_unix_nano = group.last_seen_unix_nano.max(trace.start_time_unix_nano);
        if group.example_trace_ids.len() < 5 {
            group.example_trace_ids.push(trace.trace_id.clone());
            let status = Some(origin.status.message.clone()).filter(|m| !m.is_empty());
            group.examples.push(FailureExample {
                trace_id: trace.trace_id.clone(),
                start_time_unix_nano: trace.start_time_unix_nano,
                duration_ns: trace.duration_ns,
                message: error_origin::exception(origin).1.or(status),
                request_id: origin
                    .request_id
                    .clone()
                    .or_else(|| trace.request_id.clone()),
                http_status_code: trace.http_status_code,
            });
        }
        let bucket =
            (((trace.start_time_unix_nano - start) as f64 / width) as usize).min(buckets - 1);
        group.trend[bucket] += 1;
        let endpoint = match (&trace.root_service, &trace.root_name) {
            (Some(service), Some(name)) => format!("{service} › {name}"),
            _ => "(root missing)".to_owned(),
        };
        *endpoints.entry(endpoint).or_default() += 1;
        let version = store::rollup::version_of(&origin.resource);
        *versions.entry(version.to_owned()).or_default() += 1;
    }
    let mut groups: Vec<FailureGroup> = groups
        .into_values()
        .map(|(mut group, (endpoints, versions))| {
            let mut endpoints: Vec<EndpointCount> = endpoints
                .into_iter()
                .map(|(endpoint, count)| EndpointCount { endpoint, count })
                .collect();
            endpoints.sort_by(|a, b| b.count.cmp(&a.count).then(a.endpoint.cmp(&b.endpoint)));
            group.entry_endpoints = endpoints;
            let mut versions: Vec<VersionCount> = versions
                .into_iter()
                .map(|(version, count)| VersionCount { version, count })
                .collect();
            versions.sort_by(|a, b| b.count.cmp(&a.count).then(a.version.cmp(&b.version)));
            group.versions = versions;
            group
        })
        .collect();
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.last_seen_unix_nano.cmp(&a.last_seen_unix_nano))
    });
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use store::model::Event;

    use store::value::{Attributes, Value};

    fn span(
        trace: &str,
        id: &str,
        parent: Option<&str>,
        service: &str,
        error: Option<&str>,
    ) -> SpanView {
        let mut span = testing::span(trace, id, parent, 0, 1);
        span.service = service.into();
        span.name = format!("op-{service}");
        let Some(exception) = error else { return span };
        if !exception.is_empty() {
            span.events.push(Event {
                time_unix_nano: 0,
                name: "exception".into(),
                attributes: Attributes(vec![(
                    "exception.type".into(),
                    Value::String(exception.into()),
                )]),
                dropped_attributes_count: 0,
            });
        }
        testing::failed(span)
    }

    fn summary(trace: &str, start: i64, root: &str) -> TraceSummary {
        TraceSummary {
            trace_id: trace.into(),
            root_service: Some(root.into()),
            root_name: Some(format!("op-{root}")),
            start_time_unix_nano: start,
            duration_ns: 1,
            trace_duration_ns: 1,
            span_count: 3,
            error_count: 1,
            services: vec![],
            http_status_code: None,
            request_id: None,
            error_message: None,
        }
    }

    #[test]
    fn failures_count_once_at_their_origin() {
        // t1 and t2 fail in payments (propagated through orders and gateway);
        // t3 fails in inventory without an exception; t4 failed but its spans
        // are not loaded, so it cannot be placed and is left out.
        let spans = vec![
            span("t1", "a", None, "gateway", Some("")),
            span("t1", "b", Some("a"), "orders", Some("")),
            span("t1", "c", Some("b"), "payments", Some("CardDeclined")),
            span("t2", "d", None, "shop", Some("")),
            span("t2", "e", Some("d"), "payments", Some("CardDeclined")),
            span("t3", "f", None, "gateway", None),
            span("t3", "g", Some("f"), "inventory", Some("")),
        ];
        let traces = vec![
            summary("t3", 90, "gateway"),
            summary("t2", 50, "shop"),
            summary("t1", 10, "gateway"),
            summary("t4", 5, "gateway"),
        ];
        // As the failures page does: origins placed, then their spans read.
        let mut origins = first_origins(&spans);
        origins.sort();
        assert_eq!(
            origins,
            [("t1", "c"), ("t2", "e"), ("t3", "g")].map(|(t, s)| (t.to_owned(), s.to_owned()))
        );
        let origin_spans: Vec<SpanView> = spans
            .iter()
            .filter(|s| origins.contains(&(s.trace_id.clone(), s.span_id.clone())))
            .cloned()
            .collect();
        let groups = group(&traces, &origin_spans, 0, 100, 4);
        assert_eq!(groups.len(), 2);
        let payments = &groups[0];
        assert_eq!(
            (
                payments.service.as_str(),
                payments.operation.as_str(),
                payments.error.as_str(),
                payments.count
            ),
            ("payments", "op-payments", "CardDeclined", 2)
        );
        assert_eq!(
            payments.entry_endpoints,
            vec![
                EndpointCount {
                    endpoint: "gateway › op-gateway".into(),
                    count: 1
                },
                EndpointCount {
                    endpoint: "shop › op-shop".into(),
                    count: 1
                }
            ]
        );
        assert_eq!(
            (payments.first_seen_unix_nano, payments.last_seen_unix_nano),
            (10, 50)
        );
        assert_eq!(payments.example_trace_ids, vec!["t2", "t1"]);
        assert_eq!(payments.trend, vec![1, 0, 1, 0]);
        let inventory = &groups[1];
        assert_eq!(
            (
                inventory.service.as_str(),
                inventory.error.as_str(),
                inventory.count
            ),
            ("inventory", "error", 1)
        );
        assert_eq!(inventory.trend, vec![0, 0, 0, 1]);
    }
}
