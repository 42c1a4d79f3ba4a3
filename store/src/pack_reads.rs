//! Spans read back from their packs (ADR 0011): whole spans for a trace's
//! page, and the scan behind trace search's span conditions (operation,
//! attributes), which SQL cannot see inside a pack. The SQL that fetches
//! the packs is in `queries`; what is done with them is here,
//! pure, once for both.

use std::collections::HashMap;

use crate::details::SpanDetail;
use crate::error::{Result, StoreError};
use crate::model::{Event, Link, SpanId, SpanKind, Status, StatusCode, TraceId};
use crate::packed::Unpacker;
use crate::report_rows::ReportSpan;
use crate::stored_json::{attributes, list};
use crate::views::{AttributeFilter, Comparison, ScopeView, SpanNode, SpanView, TraceQuery};

/// A stored resource as spans show it: attributes (JSON) and schema URL.
pub(crate) type ResourceInfo = (String, String);
/// A stored scope as spans show it: name, version, attributes (JSON).
pub(crate) type ScopeInfo = (String, String, String);

/// The spans of `packs` (data, details) whose trace `keep` accepts, with
/// their details.
pub(crate) fn full_spans(
    packs: &[(Vec<u8>, Option<Vec<u8>>)],
    keep: impl Fn(&TraceId) -> bool,
) -> Result<Vec<(ReportSpan, SpanDetail)>> {
    let mut unpacker = Unpacker::default();
    let mut out = Vec::new();
    for (data, details) in packs {
        let spans = unpacker.all(data)?;
        if !spans.iter().any(|s| keep(&s.trace_id)) {
            continue;
        }
        let details = details
            .as_deref()
            .ok_or_else(|| StoreError::Scan("a pack read without its details".into()))?;
        let details = crate::details::decode(details, spans.len())?;
        out.extend(
            spans
                .into_iter()
                .zip(details)
                .filter(|(s, _)| keep(&s.trace_id)),
        );
    }
    Ok(out)
}

/// The span nodes of `packs` (data only) whose trace `keep` accepts.
pub(crate) fn nodes(packs: &[Vec<u8>], keep: impl Fn(&TraceId) -> bool) -> Result<Vec<SpanNode>> {
    let mut unpacker = Unpacker::default();
    let mut out = Vec::new();
    for data in packs {
        unpacker.each(data, &mut |s| {
            if keep(&s.trace_id) {
                out.push(SpanNode {
                    trace_id: hex::encode(s.trace_id),
                    span_id: hex::encode(s.span_id),
                    parent_span_id: s.parent_span_id.map(hex::encode),
                    start_time_unix_nano: s.start_ns,
                    is_error: s.is_error,
                });
            }
        })?;
    }
    Ok(out)
}

/// The span as the API serves it, its resource and scope looked up by
/// fingerprint (shown empty should a database have lost them: a span
/// converted from a row whose resource row was missing).
pub(crate) fn view(
    span: ReportSpan,
    d: SpanDetail,
    resources: &HashMap<i64, ResourceInfo>,
    scopes: &HashMap<i64, ScopeInfo>,
) -> Result<SpanView> {
    let unknown_resource = ("{}".to_owned(), String::new());
    let unknown_scope = (String::new(), String::new(), "{}".to_owned());
    let (resource_attributes, resource_schema_url) =
        resources.get(&d.resource).unwrap_or(&unknown_resource);
    let (scope_name, scope_version, scope_attributes) =
        scopes.get(&d.scope).unwrap_or(&unknown_scope);
    Ok(SpanView {
        trace_id: hex::encode(span.trace_id),
        span_id: hex::encode(span.span_id),
        parent_span_id: span.parent_span_id.map(hex::encode),
        service: span.service.to_string(),
        name: span.name.to_string(),
        kind: SpanKind::from_i32(span.kind),
        start_time_unix_nano: span.start_ns,
        end_time_unix_nano: span.end_ns,
        duration_ns: span.end_ns.saturating_sub(span.start_ns),
        status: Status {
            code: StatusCode::from_i32(d.status_code),
            message: d.status_message,
        },
        is_error: span.is_error,
        attributes: attributes(&d.attributes, "span attributes")?,
        resource: attributes(resource_attributes, "resource attributes")?,
        resource_schema_url: resource_schema_url.clone(),
        scope: ScopeView {
            name: scope_name.clone(),
            version: scope_version.clone(),
            attributes: attributes(scope_attributes, "scope attributes")?,
        },
        events: list::<Event>(d.events.as_deref(), "span events")?,
        links: list::<Link>(d.links.as_deref(), "span links")?,
        trace_state: d.trace_state,
        flags: d.flags,
        dropped_attributes_count: d.dropped_attributes_count,
        dropped_events_count: d.dropped_events_count,
        dropped_links_count: d.dropped_links_count,
        request_id: d.request_id,
    })
}

/// Orders a trace's spans as its page shows them.
pub(crate) fn sort(spans: &mut [SpanView]) {
    spans.sort_by(|a, b| {
        (a.start_time_unix_nano, &a.span_id).cmp(&(b.start_time_unix_nano, &b.span_id))
    });
}

/// Traces a search with span conditions first asks them of (the newest,
/// or longest, that meet its other conditions); each next page is four
/// times larger, up to `MAX_PROBE_TRACES`.
pub(crate) const PROBE_TRACES: u32 = 1000;
pub(crate) const MAX_PROBE_TRACES: u32 = 64_000;

/// Packs a trace search reads alone, when no more may meet one of its
/// conditions, rather than walking the traces of its window: a second or
/// so of unpacking at most, and room for the false positives (about one
/// pack in a hundred) of some 25 million spans in exports of 512.
pub(crate) const FEW_PACKS: usize = 512;

/// Packs read from the database at once, so that memory holds a few
/// whatever the number of traces a read covers.
pub(crate) const PACKS_AT_ONCE: usize = 32;

/// Trace search's span conditions: the operation, and each attribute
/// filter, each met by some span of the trace (not necessarily the same).
pub(crate) struct SpanConditions {
    /// The span's name, service and bounds of its duration.
    operation: Option<(String, Option<String>, (i64, i64))>,
    attributes: Vec<(String, AttributeFilter)>,
    /// The conditions each trace met so far, one bit each.
    met: HashMap<TraceId, u64>,
}

impl SpanConditions {
    /// `None` when the query has no span condition.
    pub(crate) fn of(query: &TraceQuery) -> Result<Option<SpanConditions>> {
        let bounded = query.min_span_duration_ns.is_some() || query.max_span_duration_ns.is_some();
        if bounded && query.operation.is_none() {
            return Err(StoreError::Scan(
                "bounds of a span's duration need the operation whose span it is".into(),
            ));
        }
        if query.operation.is_none() && query.attributes.is_empty() {
            return Ok(None);
        }
        if query.attributes.len() + usize::from(query.operation.is_some()) > 64 {
            return Err(StoreError::Scan(
                "a trace search takes at most 64 span conditions".into(),
            ));
        }
        Ok(Some(SpanConditions {
            operation: query.operation.clone().map(|op| {
                let bounds = (
                    query.min_span_duration_ns.unwrap_or(i64::MIN),
                    query.max_span_duration_ns.unwrap_or(i64::MAX),
                );
                (op, query.service.clone(), bounds)
            }),
            attributes: query
                .attributes
                .iter()
                .map(|f| (crate::value::stored_key(&f.key), f.clone()))
                .collect(),
            met: HashMap::new(),
        }))
    }

    /// Whether a pack with these terms (`pack_terms`) may hold a span that
    /// meets one of the conditions; a pack that may not is not read.
    pub(crate) fn may_meet_any(&self, terms: &[u8]) -> bool {
        self.operation
            .as_ref()
            .is_some_and(|(name, _, _)| crate::pack_terms::may_have_operation(terms, name))
            || self
                .attributes
                .iter()
                .any(|(key, filter)| crate::pack_terms::may_pass(terms, key, filter))
    }

    /// Whether the packs' details must be read (attribute filters).
    pub(crate) fn needs_details(&self) -> bool {
        !self.attributes.is_empty()
    }

    fn all(&self) -> u64 {
        let n = self.attributes.len() + usize::from(self.operation.is_some());
        u64::MAX.checked_shr(64 - n as u32).unwrap_or(0)
    }

    /// Looks at the spans of one pack.
    pub(crate) fn scan(
        &mut self,
        unpacker: &mut Unpacker,
        data: &[u8],
        details: Option<&[u8]>,
    ) -> Result<()> {
        let spans = unpacker.all(data)?;
        let details = match details {
            Some(details) if self.needs_details() => {
                Some(crate::details::decode(details, spans.len())?)
            }
            _ => None,
        };
        let first_attribute = u32::from(self.operation.is_some());
        for (i, span) in spans.iter().enumerate() {
            let mut met = 0u64;
            if let Some((name, service, (low, high))) = &self.operation
                && *span.name == **name
                && service.as_deref().is_none_or(|s| *span.service == *s)
                && (*low..=*high).contains(&(span.end_ns - span.start_ns))
            {
                met |= 1;
            }
            if let Some(details) = &details {
                let json = &details[i].attributes;
                for (bit, (key, filter)) in (first_attribute..).zip(&self.attributes) {
                    if attribute_matches(json, key, filter) {
                        met |= 1 << bit;
                    }
                }
            }
            if met != 0 {
                *self.met.entry(span.trace_id).or_default() |= met;
            }
        }
        Ok(())
    }

    /// Whether the trace met every condition in the packs scanned.
    pub(crate) fn met_all(&self, trace: &TraceId) -> bool {
        self.met.get(trace).is_some_and(|met| *met == self.all())
    }

    /// The traces that met every condition in the packs scanned.
    pub(crate) fn met_by_all(&self) -> std::collections::HashSet<TraceId> {
        let all = self.all();
        self.met
            .iter()
            .filter(|(_, met)| **met == all)
            .map(|(trace, _)| *trace)
            .collect()
    }

    /// Drops what is known of these traces (decided: the search has taken
    /// them or not), so that memory holds only the traces still to come.
    pub(crate) fn forget(&mut self, traces: &[TraceId]) {
        for trace in traces {
            self.met.remove(trace);
        }
    }
}

/// Whether the attribute `key` (as stored) of the attributes' JSON passes
/// `filter`: for `=` and `!=` its value as text (strings as they are,
/// numbers and booleans as JSON writes them, maps and arrays as their JSON),
/// present and not null; for the orderings a number.
pub(crate) fn attribute_matches(json: &str, key: &str, filter: &AttributeFilter) -> bool {
    // Cheap refusals before parsing: the key, and for `=` a value JSON
    // writes as it is, must appear in the text.
    if plain(key) && !json.contains(&format!("\"{key}\"")) {
        return false;
    }
    if filter.comparison == Comparison::Equal
        && crate::stored_json::literal_in_json(&filter.value)
        && !json.contains(filter.value.as_str())
    {
        return false;
    }
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(json) else {
        return false;
    };
    let Some(value) = map.get(key) else {
        return false;
    };
    let ordering = |op: fn(f64, f64) -> bool| match (value.as_f64(), filter.value.parse::<f64>()) {
        (Some(v), Ok(wanted)) if value.is_number() => op(v, wanted),
        _ => false,
    };
    let text = || -> Option<String> {
        match value {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            other => Some(other.to_string()),
        }
    };
    match filter.comparison {
        Comparison::Equal => text().is_some_and(|t| t == filter.value),
        Comparison::NotEqual => text().is_some_and(|t| t != filter.value),
        Comparison::Greater => ordering(|a, b| a > b),
        Comparison::GreaterOrEqual => ordering(|a, b| a >= b),
        Comparison::Less => ordering(|a, b| a < b),
        Comparison::LessOrEqual => ordering(|a, b| a <= b),
    }
}

/// A key JSON writes as it is (no quote, backslash or control character).
fn plain(key: &str) -> bool {
    !key.chars().any(|c| c == '"' || c == '\\' || c.is_control())
}

/// Adds to `traces` those whose spans in `packs` include `span_id`, each
/// once, until it holds `limit`.
pub(crate) fn traces_with_span(
    packs: &[Vec<u8>],
    span_id: &SpanId,
    traces: &mut Vec<Vec<u8>>,
    limit: usize,
) -> Result<()> {
    let mut unpacker = Unpacker::default();
    for data in packs {
        unpacker.each(data, &mut |s| {
            if s.span_id == *span_id && !traces.iter().any(|t| t[..] == s.trace_id) {
                traces.push(s.trace_id.to_vec());
            }
        })?;
        if traces.len() >= limit {
            traces.truncate(limit);
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(text: &str) -> AttributeFilter {
        AttributeFilter::parse(text).expect(text)
    }

    #[test]
    fn attribute_filters_compare_as_the_search_promises() {
        let json = r#"{"s":"GET","i":200,"f":1.5,"one":1.0,"b":true,"n":null,"m":{"a":1},"a":[1,"x"],"$$k":"v","q\"k":"w"}"#;
        for (text, key, want) in [
            ("s=GET", "s", true),
            ("s=get", "s", false),
            ("s!=POST", "s", true),
            ("s!=GET", "s", false),
            ("i=200", "i", true),
            ("i>199", "i", true),
            ("i>=200", "i", true),
            ("i<200", "i", false),
            ("i<=200.5", "i", true),
            ("f=1.5", "f", true),
            ("f>1", "f", true),
            ("one=1.0", "one", true),
            ("b=true", "b", true),
            ("b!=false", "b", true),
            ("s>1", "s", false),
            ("b>0", "b", false),
            ("n=null", "n", false),
            ("n!=x", "n", false),
            ("missing!=x", "missing", false),
            ("missing=x", "missing", false),
            (r#"m={"a":1}"#, "m", true),
            (r#"a=[1,"x"]"#, "a", true),
            ("$k=v", "$$k", true),
        ] {
            let f = filter(text);
            assert_eq!(attribute_matches(json, key, &f), want, "{text}");
        }
        let quoted = AttributeFilter {
            key: "q\"k".into(),
            comparison: Comparison::Equal,
            value: "w".into(),
        };
        assert!(attribute_matches(json, "q\"k", &quoted));
        assert!(!attribute_matches("not json", "s", &filter("s=GET")));
    }

    #[test]
    fn value_texts_are_those_the_stored_json_reads_back() {
        // A search skips packs by the text `pack_terms` indexes for each
        // value: it must be the text read back here from the stored JSON.
        for value in [
            crate::value::Value::String("a \"quoted\" ünïcode".into()),
            crate::value::Value::Int(-42),
            crate::value::Value::Int(i64::MAX),
            crate::value::Value::Bool(true),
            crate::value::Value::Double(1.0),
            crate::value::Value::Double(0.1),
            crate::value::Value::Double(1e300),
            crate::value::Value::Double(-2.5e-8),
        ] {
            let json = crate::value::Attributes(vec![("k".into(), value.clone())]).to_json_string();
            let filter = AttributeFilter {
                key: "k".into(),
                comparison: Comparison::Equal,
                value: crate::pack_terms::value_text(&value)
                    .expect("indexed")
                    .into_owned(),
            };
            assert!(
                attribute_matches(&json, "k", &filter),
                "{value:?} as {json}"
            );
        }
        for value in [
            crate::value::Value::Double(f64::NAN),
            crate::value::Value::Empty,
            crate::value::Value::Bytes(vec![1]),
        ] {
            assert_eq!(crate::pack_terms::value_text(&value), None, "{value:?}");
        }
    }
}
