//! What both backends share: the rows a batch becomes, the trace summaries
//! it changes, and the raw rows read back with their conversion to views.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use crate::model::{Batch, Exemplar, MetricKind, PointValue, Resource, Scope, TraceId};
use crate::read::{LogView, MetricPointView, ScopeView};
use crate::value::{Attributes, Value};
use crate::{Result, StoreError};

/// fingerprint → row id of interned resources, scopes and metrics. Filled
/// only after the rows' transaction committed, so it never names a row that
/// a rollback took away. Rows are never deleted while the process runs.
#[derive(Default)]
pub(crate) struct Interned {
    pub resources: HashMap<i64, i64>,
    pub scopes: HashMap<i64, i64>,
    pub metrics: HashMap<i64, i64>,
}

impl Interned {
    pub fn cached(
        this: &Mutex<Interned>,
        pick: impl Fn(&Interned) -> &HashMap<i64, i64>,
        fps: &[i64],
    ) -> Vec<Option<i64>> {
        let interned = this.lock().unwrap_or_else(|e| e.into_inner());
        let map = pick(&interned);
        fps.iter().map(|fp| map.get(fp).copied()).collect()
    }

    /// Records committed ids: resources, scopes, metrics, in that order.
    pub fn remember(this: &Mutex<Interned>, tables: [(&[i64], Vec<i64>); 3]) {
        let mut interned = this.lock().unwrap_or_else(|e| e.into_inner());
        let [resources, scopes, metrics] = tables;
        interned
            .resources
            .extend(resources.0.iter().copied().zip(resources.1));
        interned
            .scopes
            .extend(scopes.0.iter().copied().zip(scopes.1));
        interned
            .metrics
            .extend(metrics.0.iter().copied().zip(metrics.1));
    }
}

/// The rows whose id is not cached yet, in fingerprint order: a writer
/// inserting a row another has inserted but not committed waits for it, so
/// writers inserting the same new rows in different orders would deadlock.
pub(crate) fn missing<'a, T>(
    rows: &'a [T],
    cached: &[Option<i64>],
    fingerprint: impl Fn(&T) -> i64,
) -> Vec<&'a T> {
    let mut missing: Vec<&T> = rows
        .iter()
        .zip(cached)
        .filter(|(_, id)| id.is_none())
        .map(|(row, _)| row)
        .collect();
    missing.sort_by_key(|row| fingerprint(row));
    missing
}

/// FNV-1a: stable across processes and releases, which a std hasher is not,
/// so that every loupe process sharing a database interns the same way.
pub(crate) fn fingerprint(text: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

pub(crate) struct ResourceRow {
    pub fingerprint: i64,
    pub service: String,
    pub attributes: String,
    pub dropped_attributes_count: i64,
    pub schema_url: String,
}

impl ResourceRow {
    pub fn new(resource: &Resource) -> ResourceRow {
        let attributes = resource.attributes.to_json_string();
        let key = format!(
            "{}\u{0}{}\u{0}{}\u{0}{}",
            resource.service, attributes, resource.dropped_attributes_count, resource.schema_url
        );
        ResourceRow {
            fingerprint: fingerprint(&key),
            service: resource.service.clone(),
            attributes,
            dropped_attributes_count: i64::from(resource.dropped_attributes_count),
            schema_url: resource.schema_url.clone(),
        }
    }
}

pub(crate) struct ScopeRow {
    pub fingerprint: i64,
    pub name: String,
    pub version: String,
    pub attributes: String,
    pub dropped_attributes_count: i64,
    pub schema_url: String,
}

impl ScopeRow {
    pub fn new(scope: &Scope) -> ScopeRow {
        let attributes = scope.attributes.to_json_string();
        let key = format!(
            "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
            scope.name, scope.version, attributes, scope.dropped_attributes_count, scope.schema_url
        );
        ScopeRow {
            fingerprint: fingerprint(&key),
            name: scope.name.clone(),
            version: scope.version.clone(),
            attributes,
            dropped_attributes_count: i64::from(scope.dropped_attributes_count),
            schema_url: scope.schema_url.clone(),
        }
    }
}

/// A metric stream's identity apart from point attributes, interned per
/// (resource, scope, descriptor).
pub(crate) struct MetricRow {
    pub fingerprint: i64,
    pub resource_idx: usize,
    pub scope_idx: usize,
    pub name: String,
    pub kind: &'static str,
    pub unit: String,
    pub description: String,
    pub temporality: i32,
    pub monotonic: bool,
    pub metadata: String,
}

/// The distinct metric streams of a batch, and for each point the index of its stream.
pub(crate) fn metric_rows(
    batch: &Batch,
    resource_fingerprints: &[i64],
    scope_fingerprints: &[i64],
) -> (Vec<MetricRow>, Vec<usize>) {
    let mut rows: Vec<MetricRow> = Vec::new();
    let mut by_fingerprint: BTreeMap<i64, usize> = BTreeMap::new();
    let mut point_metric = Vec::with_capacity(batch.metric_points.len());
    for point in &batch.metric_points {
        let metric = &point.metric;
        let metadata = metric.metadata.to_json_string();
        let key = format!(
            "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
            resource_fingerprints[point.resource_idx],
            scope_fingerprints[point.scope_idx],
            metric.name,
            metric.kind.as_str(),
            metric.unit,
            metric.description,
            metric.temporality,
            metric.monotonic,
            metadata
        );
        let fingerprint = fingerprint(&key);
        let idx = *by_fingerprint.entry(fingerprint).or_insert_with(|| {
            rows.push(MetricRow {
                fingerprint,
                resource_idx: point.resource_idx,
                scope_idx: point.scope_idx,
                name: metric.name.clone(),
                kind: metric.kind.as_str(),
                unit: metric.unit.clone(),
                description: metric.description.clone(),
                temporality: metric.temporality,
                monotonic: metric.monotonic,
                metadata,
            });
            rows.len() - 1
        });
        point_metric.push(idx);
    }
    (rows, point_metric)
}

/// How one batch changes one trace's summary row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TraceDelta {
    pub trace_id: TraceId,
    pub start_ns: i64,
    pub end_ns: i64,
    pub span_count: i64,
    pub error_count: i64,
    /// Set when the batch holds the root span (the span without a parent).
    pub root_service: Option<String>,
    pub root_name: Option<String>,
    /// The services of the batch's spans of the trace, as a `service_list`.
    pub services: String,
}

/// The per-trace changes of a batch, sorted by trace id so that concurrent
/// writers lock summary rows in the same order and never deadlock.
pub(crate) fn trace_deltas(batch: &Batch) -> Vec<TraceDelta> {
    let mut deltas: BTreeMap<TraceId, TraceDelta> = BTreeMap::new();
    let mut services: HashMap<TraceId, Vec<&str>> = HashMap::new();
    for span in &batch.spans {
        let service = &batch.resources[span.resource_idx].service;
        let delta = deltas.entry(span.trace_id).or_insert_with(|| TraceDelta {
            trace_id: span.trace_id,
            start_ns: span.start_time_unix_nano,
            end_ns: span.end_time_unix_nano,
            span_count: 0,
            error_count: 0,
            root_service: None,
            root_name: None,
            services: String::new(),
        });
        delta.start_ns = delta.start_ns.min(span.start_time_unix_nano);
        delta.end_ns = delta.end_ns.max(span.end_time_unix_nano);
        delta.span_count += 1;
        delta.error_count += i64::from(span.derived.is_error);
        if span.parent_span_id.is_none() {
            delta.root_service = Some(service.clone());
            delta.root_name = Some(span.name.clone());
        }
        services.entry(span.trace_id).or_default().push(service);
    }
    for delta in deltas.values_mut() {
        let names = services.remove(&delta.trace_id).unwrap_or_default();
        delta.services = service_list::of(names);
    }
    deltas.into_values().collect()
}

/// A trace's services as one text of its summary row (`traces.services`),
/// so that a span adds no row of its own for them: the distinct names in
/// byte order, each between two U+001F (unit separator), e.g.
/// `"\u{1f}api\u{1f}db\u{1f}"`. A search for a service looks for its
/// `token`. The separator inside a name (which no service is expected to
/// have) becomes U+FFFD in the list; the spans keep the name as it is.
pub(crate) mod service_list {
    use std::collections::BTreeSet;

    const SEPARATOR: char = '\u{1f}';

    fn clean(name: &str) -> std::borrow::Cow<'_, str> {
        match name.contains(SEPARATOR) {
            true => name.replace(SEPARATOR, "\u{fffd}").into(),
            false => name.into(),
        }
    }

    fn join<'a>(names: impl IntoIterator<Item = std::borrow::Cow<'a, str>>) -> String {
        let names: BTreeSet<_> = names.into_iter().filter(|n| !n.is_empty()).collect();
        let mut list = String::new();
        for name in &names {
            list.push(SEPARATOR);
            list.push_str(name);
        }
        if !list.is_empty() {
            list.push(SEPARATOR);
        }
        list
    }

    /// The list of these names.
    pub(crate) fn of<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
        join(names.into_iter().map(clean))
    }

    /// The list of the names of both lists.
    pub(crate) fn union(a: &str, b: &str) -> String {
        join(a.split(SEPARATOR).chain(b.split(SEPARATOR)).map(Into::into))
    }

    /// The names of a list.
    pub(crate) fn names(list: &str) -> Vec<String> {
        list.split(SEPARATOR)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// What a list holding `name` contains, and no other list does.
    pub(crate) fn token(name: &str) -> String {
        format!("{SEPARATOR}{}{SEPARATOR}", clean(name))
    }
}

/// The (request id, trace id) pairs a batch's spans carry, once each and
/// sorted (concurrent PostgreSQL writers insert in one order). A request's
/// spans share a few traces: one row per pair, not an index entry per span.
pub(crate) fn request_traces(batch: &Batch) -> Vec<(&str, TraceId)> {
    let pairs: BTreeSet<(&str, TraceId)> = batch
        .spans
        .iter()
        .filter_map(|s| Some((s.derived.request_id.as_deref()?, s.trace_id)))
        .collect();
    pairs.into_iter().collect()
}

/// Whether an attribute equal to `value` must show `value` verbatim in the
/// stored JSON: true for text that JSON writes as it is (no quote,
/// backslash or control character) and that is no number (a number's text
/// may be written otherwise: `1e3` for `1000.0`) nor array or map (which
/// PostgreSQL writes back with spaces). Attribute filters then
/// look for the text before parsing the JSON, which most rows lack.
pub(crate) fn literal_in_json(value: &str) -> bool {
    !value.is_empty()
        && !value.chars().any(|c| c == '"' || c == '\\' || c < ' ')
        && value.trim().parse::<f64>().is_err()
        && !value.starts_with(['[', '{'])
}

/// What one batch adds to each running total in `counters`, in one fixed
/// order (PostgreSQL writers would deadlock updating them in any order).
pub(crate) fn counter_deltas(batch: &Batch) -> [(&'static str, u64); 6] {
    let bytes = |sizes: &mut dyn Iterator<Item = u32>| sizes.map(u64::from).sum::<u64>();
    [
        ("logs", batch.logs.len() as u64),
        (
            "logs_wire_bytes",
            bytes(&mut batch.logs.iter().map(|l| l.wire_bytes)),
        ),
        ("metric_points", batch.metric_points.len() as u64),
        (
            "metric_points_wire_bytes",
            bytes(&mut batch.metric_points.iter().map(|p| p.wire_bytes)),
        ),
        ("spans", batch.spans.len() as u64),
        (
            "spans_wire_bytes",
            bytes(&mut batch.spans.iter().map(|s| s.wire_bytes)),
        ),
    ]
}

/// The packs holding a trace's spans, as its summary row lists them
/// (`traces.packs`): their ids, 8 bytes big-endian each, in the order the
/// packs were written.
pub(crate) mod pack_ids {
    pub(crate) fn push(list: &mut Vec<u8>, id: i64) {
        list.extend_from_slice(&id.to_be_bytes());
    }

    /// The ids of a list; a damaged tail (not 8 bytes) is left out.
    pub(crate) fn of(list: &[u8]) -> impl Iterator<Item = i64> + '_ {
        list.chunks_exact(8)
            .map(|id| i64::from_be_bytes(id.try_into().expect("8 bytes")))
    }
}

/// A stored id as its fixed-size array.
pub(crate) fn fixed_id<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N]> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what} id of {} bytes", bytes.len())))
}

/// Which signal a table or index belongs to, for the bytes each signal
/// occupies; `None` for what all signals share (resources, scopes, counters).
pub(crate) fn signal_of_table(table: &str) -> Option<Signal> {
    if table == "spans"
        || table.starts_with("spans_")
        || table.starts_with("span_packs")
        || table.starts_with("trace")
        || table.starts_with("request_traces")
        || table == "payload_dicts"
    {
        Some(Signal::Spans)
    } else if table == "logs" || table.starts_with("logs_") {
        Some(Signal::Logs)
    } else if table.starts_with("metric") {
        Some(Signal::MetricPoints)
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    Spans,
    Logs,
    MetricPoints,
}

impl crate::report::SignalBytes {
    /// Sums (table or index, bytes) by the signal each belongs to.
    pub(crate) fn of_tables(sizes: Vec<(String, i64)>) -> crate::report::SignalBytes {
        let mut bytes = crate::report::SignalBytes::default();
        for (table, size) in sizes {
            let size = size.max(0) as u64;
            match signal_of_table(&table) {
                Some(Signal::Spans) => bytes.spans += size,
                Some(Signal::Logs) => bytes.logs += size,
                Some(Signal::MetricPoints) => bytes.metric_points += size,
                None => {}
            }
        }
        bytes
    }
}

/// `None` for an empty list, so that the common span without events stores nothing.
pub(crate) fn json_list<T: serde::Serialize>(items: &[T]) -> Option<String> {
    if items.is_empty() {
        None
    } else {
        serde_json::to_string(items).ok()
    }
}

pub(crate) fn point_value_json(value: &PointValue) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// The number a point is summed and charted by: the value of a gauge or sum,
/// the sum of a histogram or summary.
pub(crate) fn point_number(value: &PointValue) -> Option<f64> {
    match value {
        PointValue::Value(Value::Int(i)) => Some(*i as f64),
        PointValue::Value(Value::Double(d)) => Some(*d),
        PointValue::Value(_) => None,
        PointValue::Histogram(h) => h.sum,
        PointValue::ExponentialHistogram(h) => h.sum,
        PointValue::Summary(s) => Some(s.sum),
    }
}

pub(crate) fn body_json(body: &Value) -> String {
    body.to_json_string()
}

/// The words of a log body that PostgreSQL's full-text index sees: a string
/// body as is, any other body as its JSON text, every character that is not
/// a letter or digit turned into a space. PostgreSQL's parser would keep
/// `/api/checkout` or `bob@example.com` as one word; FTS5 splits them, and
/// search must find the same records on both backends.
pub(crate) fn body_text(body: &Value) -> String {
    match body {
        Value::String(s) => search_words(s),
        Value::Empty => String::new(),
        other => search_words(&other.to_json_string()),
    }
}

/// Letters and digits kept, everything else a word break.
pub(crate) fn search_words(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect()
}

fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {err}"))
}

/// Stored attributes (JSON) read back; `what` names them in the error.
pub(crate) fn attributes(text: &str, what: &str) -> Result<Attributes> {
    Attributes::from_json_str(text).map_err(|e| corrupt(what, e))
}

/// A stored JSON list read back (`None`: empty).
pub(crate) fn list<T: serde::de::DeserializeOwned>(
    text: Option<&str>,
    what: &str,
) -> Result<Vec<T>> {
    match text {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(text).map_err(|e| corrupt(what, e)),
    }
}

fn count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[derive(sqlx::FromRow)]
pub struct RawLog {
    pub time_ns: i64,
    pub observed_ns: i64,
    pub service: String,
    pub severity_number: i32,
    pub severity_text: String,
    pub body: String,
    pub event_name: String,
    pub attributes: String,
    pub dropped_attributes_count: i64,
    pub flags: i64,
    pub trace_id: Option<Vec<u8>>,
    pub span_id: Option<Vec<u8>>,
    pub request_id: Option<String>,
    pub resource_attributes: String,
    pub scope_name: String,
    pub scope_version: String,
    pub scope_attributes: String,
}

pub(crate) const LOG_COLUMNS: &str = "l.time_ns, l.observed_ns, l.service, l.severity_number, \
     l.severity_text, l.body, l.event_name, l.attributes, l.dropped_attributes_count, l.flags, \
     l.trace_id, l.span_id, l.request_id, r.attributes AS resource_attributes, \
     sc.name AS scope_name, sc.version AS scope_version, sc.attributes AS scope_attributes \
     FROM logs l JOIN resources r ON r.id = l.resource_id JOIN scopes sc ON sc.id = l.scope_id";

impl RawLog {
    pub fn into_view(self) -> Result<LogView> {
        Ok(LogView {
            time_unix_nano: self.time_ns,
            observed_time_unix_nano: self.observed_ns,
            service: self.service,
            severity_number: self.severity_number,
            severity_text: self.severity_text,
            body: Value::from_json_str(&self.body).map_err(|e| corrupt("log body", e))?,
            event_name: self.event_name,
            attributes: attributes(&self.attributes, "log attributes")?,
            dropped_attributes_count: count(self.dropped_attributes_count),
            flags: count(self.flags),
            trace_id: self.trace_id.as_deref().map(hex::encode),
            span_id: self.span_id.as_deref().map(hex::encode),
            request_id: self.request_id,
            resource: attributes(&self.resource_attributes, "resource attributes")?,
            scope: ScopeView {
                name: self.scope_name,
                version: self.scope_version,
                attributes: attributes(&self.scope_attributes, "scope attributes")?,
            },
        })
    }
}

/// Parses an id of `N` bytes written as hex, in either case.
pub(crate) fn hex_id<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut id = [0u8; N];
    hex::decode_to_slice(text, &mut id).ok()?;
    Some(id)
}

#[derive(sqlx::FromRow)]
pub struct RawTraceSummary {
    pub trace_id: Vec<u8>,
    pub root_service: Option<String>,
    pub root_name: Option<String>,
    pub start_ns: i64,
    pub end_ns: i64,
    pub span_count: i64,
    pub error_count: i64,
    pub services: String,
}

impl RawTraceSummary {
    pub fn into_summary(self) -> crate::read::TraceSummary {
        let services = service_list::names(&self.services);
        crate::read::TraceSummary {
            trace_id: hex::encode(&self.trace_id),
            root_service: self.root_service,
            root_name: self.root_name,
            start_time_unix_nano: self.start_ns,
            duration_ns: self.end_ns.saturating_sub(self.start_ns),
            span_count: self.span_count,
            error_count: self.error_count,
            services,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct RawMetricInfo {
    pub name: String,
    pub kind: String,
    pub unit: String,
    pub description: String,
    pub series_count: i64,
}

pub(crate) const METRICS_SQL: &str = "SELECT m.name, m.kind, m.unit, m.description, \
     COUNT(*) AS series_count \
     FROM (SELECT DISTINCT metric_id, attributes FROM metric_points) p \
     JOIN metrics m ON m.id = p.metric_id \
     GROUP BY m.name, m.kind, m.unit, m.description ORDER BY m.name, m.kind";

impl RawMetricInfo {
    pub fn into_view(self) -> Result<crate::read::MetricInfo> {
        Ok(crate::read::MetricInfo {
            kind: MetricKind::parse(&self.kind)
                .ok_or_else(|| corrupt("metric kind", &self.kind))?,
            name: self.name,
            unit: self.unit,
            description: self.description,
            series_count: self.series_count,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct RawPoint {
    pub name: String,
    pub service: String,
    pub kind: String,
    pub unit: String,
    pub temporality: i32,
    pub monotonic: bool,
    pub attributes: String,
    pub start_ns: i64,
    pub time_ns: i64,
    pub flags: i64,
    pub data: String,
    pub exemplars: Option<String>,
}

pub(crate) const POINTS_SQL: &str = "SELECT m.name, r.service, m.kind, m.unit, m.temporality, \
     m.monotonic, p.attributes, p.start_ns, p.time_ns, p.flags, p.data, p.exemplars \
     FROM metric_points p JOIN metrics m ON m.id = p.metric_id \
     JOIN resources r ON r.id = m.resource_id \
     WHERE m.name = $1 ORDER BY p.time_ns DESC LIMIT $2";

pub(crate) const POINTS_BETWEEN_SQL: &str = "SELECT m.name, r.service, m.kind, m.unit, \
     m.temporality, m.monotonic, p.attributes, p.start_ns, p.time_ns, p.flags, p.data, p.exemplars \
     FROM metric_points p JOIN metrics m ON m.id = p.metric_id \
     JOIN resources r ON r.id = m.resource_id \
     WHERE m.name = $1 AND p.time_ns >= $2 AND p.time_ns < $3 ORDER BY p.time_ns LIMIT $4";

impl RawPoint {
    pub fn into_view(self) -> Result<MetricPointView> {
        Ok(MetricPointView {
            kind: MetricKind::parse(&self.kind)
                .ok_or_else(|| corrupt("metric kind", &self.kind))?,
            name: self.name,
            service: self.service,
            unit: self.unit,
            temporality: self.temporality,
            monotonic: self.monotonic,
            attributes: attributes(&self.attributes, "point attributes")?,
            start_time_unix_nano: self.start_ns,
            time_unix_nano: self.time_ns,
            flags: count(self.flags),
            value: serde_json::from_str(&self.data).map_err(|e| corrupt("point value", e))?,
            exemplars: list::<Exemplar>(self.exemplars.as_deref(), "exemplars")?,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{SpanKind, Status, StatusCode};

    #[test]
    fn which_values_are_literal_in_json() {
        for (value, literal) in [
            ("/cart", true),
            ("acme", true),
            ("ünïcode", true),
            ("false", true),
            ("[]", false),
            ("[1, 2]", false),
            ("{}", false),
            ("", false),
            ("say \"hi\"", false),
            ("back\\slash", false),
            ("tab\there", false),
            ("2", false),
            ("1000.0", false),
            (" 1e3 ", false),
            ("-0", false),
            ("NaN", false),
        ] {
            assert_eq!(literal_in_json(value), literal, "{value:?}");
        }
    }
    use crate::model::{Derived, Span};

    pub(crate) fn span(
        trace: u8,
        span: u8,
        parent: Option<u8>,
        start: i64,
        end: i64,
        error: bool,
    ) -> Span {
        Span {
            resource_idx: 0,
            scope_idx: 0,
            trace_id: [trace; 16],
            span_id: [span; 8],
            parent_span_id: parent.map(|p| [p; 8]),
            trace_state: String::new(),
            flags: 0,
            name: format!("op{span}"),
            kind: SpanKind::Server,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes: Attributes::default(),
            dropped_attributes_count: 0,
            events: vec![],
            dropped_events_count: 0,
            links: vec![],
            dropped_links_count: 0,
            status: Status {
                code: StatusCode::Unset,
                message: String::new(),
            },
            derived: Derived {
                is_error: error,
                ..Derived::default()
            },
            wire_bytes: 0,
        }
    }

    #[test]
    fn tables_belong_to_their_signal() {
        for (table, signal) in [
            ("spans", Some(Signal::Spans)),
            ("spans_payload", Some(Signal::Spans)),
            ("spans_packed", Some(Signal::Spans)),
            ("span_packs", Some(Signal::Spans)),
            ("traces", Some(Signal::Spans)),
            ("request_traces", Some(Signal::Spans)),
            ("logs", Some(Signal::Logs)),
            ("logs_fts_data", Some(Signal::Logs)),
            ("metric_points", Some(Signal::MetricPoints)),
            ("metrics", Some(Signal::MetricPoints)),
            ("resources", None),
            ("counters", None),
        ] {
            assert_eq!(signal_of_table(table), signal, "{table}");
        }
    }

    #[test]
    fn trace_deltas_fold_spans_per_trace() {
        let batch = Batch {
            resources: vec![Resource {
                service: "api".into(),
                attributes: Attributes::default(),
                dropped_attributes_count: 0,
                schema_url: String::new(),
            }],
            spans: vec![
                span(2, 1, Some(9), 50, 60, true),
                span(1, 2, Some(1), 20, 30, false),
                span(1, 1, None, 10, 40, true),
                span(1, 3, Some(1), 5, 45, true),
            ],
            ..Batch::default()
        };
        let deltas = trace_deltas(&batch);
        assert_eq!(
            deltas,
            vec![
                TraceDelta {
                    trace_id: [1; 16],
                    start_ns: 5,
                    end_ns: 45,
                    span_count: 3,
                    error_count: 2,
                    root_service: Some("api".into()),
                    root_name: Some("op1".into()),
                    services: "\u{1f}api\u{1f}".into(),
                },
                TraceDelta {
                    trace_id: [2; 16],
                    start_ns: 50,
                    end_ns: 60,
                    span_count: 1,
                    error_count: 1,
                    root_service: None,
                    root_name: None,
                    services: "\u{1f}api\u{1f}".into(),
                },
            ]
        );
    }

    #[test]
    fn service_lists() {
        use service_list::{names, of, token, union};
        let list = |names: &[&str]| of(names.iter().copied());
        for (given, expected) in [
            (&[][..], ""),
            (&["api"][..], "\u{1f}api\u{1f}"),
            (&["db", "api", "db"][..], "\u{1f}api\u{1f}db\u{1f}"),
            (&["Zeta", "alpha"][..], "\u{1f}Zeta\u{1f}alpha\u{1f}"),
            (&["", "x"][..], "\u{1f}x\u{1f}"),
            (&["a\u{1f}b"][..], "\u{1f}a\u{fffd}b\u{1f}"),
        ] {
            assert_eq!(list(given), expected, "{given:?}");
        }
        for (a, b, expected) in [
            (&[][..], &["api"][..], &["api"][..]),
            (&["api"][..], &["api"][..], &["api"][..]),
            (&["api", "web"][..], &["db"][..], &["api", "db", "web"][..]),
            (
                &["db"][..],
                &["api", "db", "web"][..],
                &["api", "db", "web"][..],
            ),
        ] {
            let merged = union(&list(a), &list(b));
            assert_eq!(merged, list(expected), "{a:?} + {b:?}");
            assert_eq!(names(&merged), expected, "{a:?} + {b:?}");
        }
        let listed = list(&["api", "api-gateway", "b"]);
        for (name, found) in [
            ("api", true),
            ("api-gateway", true),
            ("gateway", false),
            ("ap", false),
            ("", false),
            ("a\u{1f}b", false),
        ] {
            assert_eq!(listed.contains(&token(name)), found, "{name:?}");
        }
        assert!(list(&["a\u{1f}b"]).contains(&token("a\u{1f}b")));
    }

    #[test]
    fn fingerprint_is_stable() {
        // Changing the hash would split every interned resource in existing databases.
        assert_eq!(fingerprint(""), 0xcbf2_9ce4_8422_2325_u64 as i64);
        assert_eq!(fingerprint("a"), 0xaf63_dc4c_8601_ec8c_u64 as i64);
    }
}
