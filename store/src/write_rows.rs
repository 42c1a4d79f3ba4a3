//! What a batch becomes on the write side, for both backends: the rows
//! its resources, scopes and metric streams are interned as, the changes
//! it makes to trace summaries, request ids and counters, and the stored
//! forms of log bodies and point values.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use crate::fingerprint::Fingerprints;
use crate::keys::INGEST_KEY_ATTRIBUTE;
use crate::model::{Batch, PointValue, Resource, Scope, TraceId};
use crate::rollup::minute_of;
use crate::trace_lists::service_list;
use crate::value::Value;

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
    /// The ids known of these fingerprints (resources, scopes, metrics).
    pub fn cached(this: &Mutex<Interned>, fps: &[Vec<i64>; 3]) -> [Vec<Option<i64>>; 3] {
        let interned = this.lock().unwrap_or_else(|e| e.into_inner());
        let maps = [&interned.resources, &interned.scopes, &interned.metrics];
        std::array::from_fn(|t| fps[t].iter().map(|fp| maps[t].get(fp).copied()).collect())
    }

    /// Records committed ids of these fingerprints, table by table.
    pub fn remember(this: &Mutex<Interned>, fps: &[Vec<i64>; 3], ids: [Vec<i64>; 3]) {
        let mut interned = this.lock().unwrap_or_else(|e| e.into_inner());
        let Interned {
            resources,
            scopes,
            metrics,
        } = &mut *interned;
        for ((map, fps), ids) in [resources, scopes, metrics].into_iter().zip(fps).zip(ids) {
            map.extend(fps.iter().copied().zip(ids));
        }
    }
}

/// The rows a batch interns (its resources, scopes and metric streams),
/// each with its fingerprint, and the metric stream of each point.
pub(crate) struct InternRows {
    pub resources: Vec<ResourceRow>,
    pub scopes: Vec<ScopeRow>,
    pub metrics: Vec<MetricRow>,
    /// The `metrics` row of each of the batch's points.
    pub point_metric: Vec<usize>,
}

impl InternRows {
    pub fn of(batch: &Batch, fingerprints: &Fingerprints) -> InternRows {
        let resources: Vec<ResourceRow> = batch
            .resources
            .iter()
            .map(|r| ResourceRow::new(r, fingerprints))
            .collect();
        let scopes: Vec<ScopeRow> = batch
            .scopes
            .iter()
            .map(|s| ScopeRow::new(s, fingerprints))
            .collect();
        let resource_fps: Vec<i64> = resources.iter().map(|r| r.fingerprint).collect();
        let scope_fps: Vec<i64> = scopes.iter().map(|s| s.fingerprint).collect();
        let (metrics, point_metric) = metric_rows(batch, fingerprints, &resource_fps, &scope_fps);
        InternRows {
            resources,
            scopes,
            metrics,
            point_metric,
        }
    }

    /// The fingerprints of the resources, scopes and metrics, in order.
    pub fn fingerprints(&self) -> [Vec<i64>; 3] {
        [
            self.resources.iter().map(|r| r.fingerprint).collect(),
            self.scopes.iter().map(|s| s.fingerprint).collect(),
            self.metrics.iter().map(|m| m.fingerprint).collect(),
        ]
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

pub(crate) struct ResourceRow {
    pub fingerprint: i64,
    pub service: String,
    pub attributes: String,
    pub dropped_attributes_count: i64,
    pub schema_url: String,
}

impl ResourceRow {
    pub fn new(resource: &Resource, fingerprints: &Fingerprints) -> ResourceRow {
        let attributes = resource.attributes.to_json_string();
        let key = format!(
            "{}\u{0}{}\u{0}{}\u{0}{}",
            resource.service, attributes, resource.dropped_attributes_count, resource.schema_url
        );
        ResourceRow {
            fingerprint: fingerprints.of(&key),
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
    pub fn new(scope: &Scope, fingerprints: &Fingerprints) -> ScopeRow {
        let attributes = scope.attributes.to_json_string();
        let key = format!(
            "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
            scope.name, scope.version, attributes, scope.dropped_attributes_count, scope.schema_url
        );
        ScopeRow {
            fingerprint: fingerprints.of(&key),
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
fn metric_rows(
    batch: &Batch,
    fingerprints: &Fingerprints,
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
        let fingerprint = fingerprints.of(&key);
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
    /// The batch's best candidate for the trace's entry span.
    pub entry: Option<Entry>,
    /// The first request id among the batch's spans of the trace.
    pub request_id: Option<String>,
    /// What the batch's last-started failed span of the trace says
    /// (`error_message`): in a chain of calls that failed, the one that
    /// failed first, deepest down; the summary keeps the first batch's,
    /// and spans end, and are sent, deepest first.
    pub error_message: Option<String>,
}

/// The longest error message a trace's summary keeps: a list shows its
/// beginning; the span keeps it whole.
const ERROR_MESSAGE_MAX: usize = 240;

/// What a failed span says went wrong: its exception's message, else its
/// status message, else its exception type; cut to `ERROR_MESSAGE_MAX`
/// bytes at a character boundary.
pub(crate) fn error_message(span: &crate::model::Span) -> Option<String> {
    use crate::value::Value;
    let exception = span
        .events
        .iter()
        .filter(|e| e.name == "exception")
        .find_map(|e| match e.attributes.get("exception.message") {
            Some(Value::String(m)) if !m.is_empty() => Some(m.as_str()),
            _ => None,
        });
    let status = Some(span.status.message.as_str()).filter(|m| !m.is_empty());
    let mut message = exception
        .or(status)
        .or(span.derived.exception_type.as_deref())?
        .to_owned();
    if message.len() > ERROR_MESSAGE_MAX {
        let mut cut = ERROR_MESSAGE_MAX;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    Some(message)
}

/// A trace's entry span, whose duration is the latency its caller saw
/// (docs/adr/0023): the root; without one, the earliest server or
/// consumer span. Of two candidates the lesser is the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    /// 0 the root, 1 a server or consumer span.
    pub rank: i64,
    pub start_ns: i64,
    pub duration_ns: i64,
    /// The HTTP status code it answered with, if it says.
    pub status: Option<i64>,
}

impl Entry {
    pub(crate) fn of(span: &crate::model::Span) -> Option<Entry> {
        use crate::model::SpanKind;
        let rank = match (&span.parent_span_id, span.kind) {
            (None, _) => 0,
            (Some(_), SpanKind::Server | SpanKind::Consumer) => 1,
            _ => return None,
        };
        Some(Entry {
            rank,
            start_ns: span.start_time_unix_nano,
            duration_ns: span
                .end_time_unix_nano
                .saturating_sub(span.start_time_unix_nano),
            status: span.derived.http_status_code,
        })
    }
}

/// The per-trace changes of a batch, sorted by trace id so that concurrent
/// writers lock summary rows in the same order and never deadlock.
pub(crate) fn trace_deltas(batch: &Batch) -> Vec<TraceDelta> {
    let mut deltas: BTreeMap<TraceId, TraceDelta> = BTreeMap::new();
    let mut services: HashMap<TraceId, Vec<&str>> = HashMap::new();
    // The start of the failed span each trace's message came from.
    let mut failed_at: HashMap<TraceId, i64> = HashMap::new();
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
            entry: None,
            request_id: None,
            error_message: None,
        });
        delta.start_ns = delta.start_ns.min(span.start_time_unix_nano);
        delta.end_ns = delta.end_ns.max(span.end_time_unix_nano);
        delta.span_count += 1;
        delta.error_count += i64::from(span.derived.is_error);
        if span.parent_span_id.is_none() {
            delta.root_service = Some(service.clone());
            delta.root_name = Some(span.name.clone());
        }
        if let Some(entry) = Entry::of(span) {
            delta.entry = Some(delta.entry.map_or(entry, |e| e.min(entry)));
        }
        if delta.request_id.is_none() {
            delta.request_id.clone_from(&span.derived.request_id);
        }
        if span.derived.is_error
            && failed_at
                .get(&span.trace_id)
                .is_none_or(|&at| span.start_time_unix_nano > at)
            && let Some(message) = error_message(span)
        {
            failed_at.insert(span.trace_id, span.start_time_unix_nano);
            delta.error_message = Some(message);
        }
        services.entry(span.trace_id).or_default().push(service);
    }
    for delta in deltas.values_mut() {
        let names = services.remove(&delta.trace_id).unwrap_or_default();
        delta.services = service_list::of(names);
    }
    deltas.into_values().collect()
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

/// What one ingest key sent in one minute (of the items' own time
/// stamps): items and bytes on the wire of each signal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyUsageRow {
    pub(crate) minute: i64,
    pub(crate) key: String,
    /// Spans, log records, metric points.
    pub(crate) items: [i64; 3],
    pub(crate) wire_bytes: [i64; 3],
}

/// The batch's items by ingest key and minute, sorted by (minute, key),
/// the one order PostgreSQL writers upsert them in. Items of resources
/// without a key (an open receiver) are not counted.
pub(crate) fn key_usage(batch: &Batch) -> Vec<KeyUsageRow> {
    let keys: Vec<Option<&str>> = batch
        .resources
        .iter()
        .map(|r| {
            r.attributes
                .get(INGEST_KEY_ATTRIBUTE)
                .and_then(Value::as_str)
        })
        .collect();
    if keys.iter().all(Option::is_none) {
        return Vec::new();
    }
    let mut rows: BTreeMap<(i64, &str), KeyUsageRow> = BTreeMap::new();
    let mut add = |resource: usize, time: i64, signal: usize, wire: u32| {
        let Some(key) = keys.get(resource).copied().flatten() else {
            return;
        };
        let minute = minute_of(time);
        let row = rows.entry((minute, key)).or_insert_with(|| KeyUsageRow {
            minute,
            key: key.to_owned(),
            ..KeyUsageRow::default()
        });
        row.items[signal] += 1;
        row.wire_bytes[signal] += i64::from(wire);
    };
    for s in &batch.spans {
        add(s.resource_idx, s.start_time_unix_nano, 0, s.wire_bytes);
    }
    for l in &batch.logs {
        add(l.resource_idx, l.effective_time(), 1, l.wire_bytes);
    }
    for p in &batch.metric_points {
        add(p.resource_idx, p.time_unix_nano, 2, p.wire_bytes);
    }
    rows.into_values().collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::span;
    use crate::value::Attributes;

    #[test]
    fn key_usage_counts_each_keys_items_by_minute_and_skips_keyless_ones() {
        let resource = |key: Option<&str>| Resource {
            service: "api".into(),
            attributes: Attributes(
                key.map(|k| (INGEST_KEY_ATTRIBUTE.to_owned(), Value::String(k.into())))
                    .into_iter()
                    .collect(),
            ),
            dropped_attributes_count: 0,
            schema_url: String::new(),
        };
        let minute = 60_000_000_000;
        let mut spans = vec![
            span(1, 1, None, 5 * minute + 1, 5 * minute + 2, false),
            span(1, 2, Some(1), 5 * minute + 3, 6 * minute, false),
            span(2, 1, None, 6 * minute + 1, 6 * minute + 2, false),
            span(3, 1, None, 5 * minute, 5 * minute + 1, false),
        ];
        for (s, (resource_idx, wire)) in spans.iter_mut().zip([(0, 10), (0, 20), (0, 5), (1, 7)]) {
            s.resource_idx = resource_idx;
            s.wire_bytes = wire;
        }
        let batch = Batch {
            resources: vec![resource(Some("shop")), resource(None)],
            spans,
            ..Batch::default()
        };
        let row = |minute: i64, spans: i64, bytes: i64| KeyUsageRow {
            minute,
            key: "shop".into(),
            items: [spans, 0, 0],
            wire_bytes: [bytes, 0, 0],
        };
        assert_eq!(key_usage(&batch), [row(5, 2, 30), row(6, 1, 5)]);

        let open = Batch {
            resources: vec![resource(None)],
            ..batch
        };
        assert_eq!(key_usage(&open), []);
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
                    entry: Some(Entry {
                        rank: 0,
                        start_ns: 10,
                        duration_ns: 30,
                        status: None,
                    }),
                    request_id: None,
                    error_message: None,
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
                    entry: Some(Entry {
                        rank: 1,
                        start_ns: 50,
                        duration_ns: 10,
                        status: None,
                    }),
                    request_id: None,
                    error_message: None,
                },
            ]
        );
    }

    #[test]
    fn trace_deltas_keep_the_entry_status_a_request_id_and_where_it_failed() {
        use crate::model::Event;
        let resource = Resource {
            service: "api".into(),
            attributes: Attributes::default(),
            dropped_attributes_count: 0,
            schema_url: String::new(),
        };
        let mut root = span(1, 1, None, 10, 90, true);
        root.derived.http_status_code = Some(502);
        root.status.message = "bad gateway".into();
        let mut child = span(1, 2, Some(1), 20, 80, true);
        child.derived.request_id = Some("req-1".into());
        child.status.message = "upstream failed".into();
        let mut deepest = span(1, 3, Some(2), 30, 70, true);
        deepest.derived.exception_type = Some("httpx.ReadTimeout".into());
        deepest.events.push(Event {
            time_unix_nano: 70,
            name: "exception".into(),
            attributes: Attributes(vec![(
                "exception.message".to_owned(),
                crate::value::Value::String("é".repeat(200)),
            )]),
            dropped_attributes_count: 0,
        });
        // A failed span that says nothing is passed over.
        let silent = span(1, 4, Some(3), 40, 50, true);
        let batch = Batch {
            resources: vec![resource],
            spans: vec![root, child, deepest.clone(), silent],
            ..Batch::default()
        };
        let delta = &trace_deltas(&batch)[0];
        assert_eq!(delta.entry.and_then(|e| e.status), Some(502));
        assert_eq!(delta.request_id.as_deref(), Some("req-1"));
        // The deepest failure's exception message, cut at a character.
        let message = delta.error_message.clone().unwrap_or_default();
        assert!(
            message.starts_with("éé") && message.ends_with('…'),
            "{message}"
        );
        assert_eq!(message.len(), 240 + '…'.len_utf8());
        // Without a message, the status message; without one, the type.
        deepest.events.clear();
        assert_eq!(
            error_message(&deepest).as_deref(),
            Some("httpx.ReadTimeout")
        );
        deepest.status.message = "timed out".into();
        assert_eq!(error_message(&deepest).as_deref(), Some("timed out"));
    }

    #[test]
    fn the_entry_is_the_root_else_the_earliest_server_or_consumer_span() {
        use crate::model::SpanKind::{Client, Consumer, Internal, Producer, Server};
        let entry = |parent: Option<u8>, kind, start: i64, end: i64| {
            let mut s = span(1, 2, parent, start, end, false);
            s.kind = kind;
            Entry::of(&s)
        };
        let at = |rank, start_ns, duration_ns| {
            Some(Entry {
                rank,
                start_ns,
                duration_ns,
                status: None,
            })
        };
        for (got, want) in [
            (entry(None, Internal, 10, 30), at(0, 10, 20)),
            (entry(None, Client, 10, 30), at(0, 10, 20)),
            (entry(Some(1), Server, 10, 30), at(1, 10, 20)),
            (entry(Some(1), Consumer, 40, 90), at(1, 40, 50)),
            (entry(Some(1), Client, 10, 30), None),
            (entry(Some(1), Producer, 10, 30), None),
            (entry(Some(1), Internal, 10, 30), None),
        ] {
            assert_eq!(got, want);
        }
        // The root wins over an earlier server span; of two server spans,
        // the earlier.
        assert!(at(0, 50, 1) < at(1, 10, 100));
        assert!(at(1, 10, 100) < at(1, 20, 1));
    }
}
