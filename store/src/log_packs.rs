//! Log records live in packs, as spans do (`log_packs`, docs/adr/0022):
//! the records of one export are one row, a zstd frame of them beside two
//! Bloom filters, so that a record costs what its compressed bytes do
//! instead of a row, four index entries and a full-text index's postings.
//!
//! - `ids`: the trace ids and request ids of the records, what a trace, a
//!   request and a pasted id look for (small: read for every pack when no
//!   time window is known).
//! - `terms`: their services, the words of their bodies (as
//!   `log_text::search_words` splits them, lower-cased), their attribute
//!   keys and the values of keys with few (`pack_terms`); `NULL` past
//!   `MAX_TERMS`, and then the pack is read for any search.
//!
//! Both filters have `span_filter`'s format and `pack_terms`' probes. A
//! search reads the filters of its window's packs and unpacks only those
//! that may hold a match; the records are then asked in Rust (`LogMatch`).
//!
//! `data` is the byte `FORMAT` then a zstd frame (recording its size) of
//! the number of records, then each record: its time and observed time,
//! resource and scope fingerprints, service, severity number and text,
//! body and attributes as their stored JSON, event name, dropped count,
//! flags, wire bytes, trace id, span id and request id (each optional),
//! written with `varint`.
//!
//! Pure.

use std::collections::{HashMap, HashSet};

use crate::error::{Result, StoreError};
use crate::log_text::body_text;
use crate::model::{Batch, SpanId, TraceId};
use crate::pack_reads::{ResourceInfo, ScopeInfo, attribute_matches};
use crate::pack_terms::{attribute_probes, probe};
use crate::stored_json::attributes;
use crate::value::{Value, stored_key};
use crate::varint::{Reader, put_i64, put_opt, put_text, put_u64};
use crate::views::{AttributeFilter, LogQuery, LogView, ScopeView, SpanView};

const FORMAT: u8 = 1;
/// Terms a pack's filter holds at most (about 20 KB at ten bits a term).
pub(crate) const MAX_TERMS: usize = 16_384;

/// How far from a trace's spans its log records are looked for: a record
/// is stamped while its span runs, give or take the clocks of two hosts.
/// Bounding the search keeps a trace's page from reading every pack's
/// filter (docs/adr/0022).
pub(crate) const NEAR_SPANS_NS: i64 = 120_000_000_000;

/// The records a trace's or a request's page shows at most.
pub(crate) const TRACE_LOGS: usize = 10_000;
pub(crate) const REQUEST_LOGS: usize = 10_000;

/// The most bytes a pack's `ids` filter takes when it can: SQLite keeps an
/// index entry of up to about a thousand bytes in its page, and moves a
/// longer one to a page of its own (9 bytes a record instead of 1.3, and
/// scans several times slower).
const ID_FILTER_BYTES: usize = 960;

/// Bits an id in a pack's `ids` filter: as many as `ID_FILTER_BYTES`
/// allow, from 10 (one pack in 125 that lacks an id is unpacked anyway)
/// to 16 (one in 1 400). A search by id with no window reads every pack's
/// filter and unpacks those that may hold the id.
fn id_bits(ids: usize) -> usize {
    (ID_FILTER_BYTES * 8 / ids.max(1)).clamp(10, 16)
}

const TRACE: u8 = b't';
const REQUEST: u8 = b'r';
const SERVICE: u8 = b's';
const WORD: u8 = b'w';

/// One row of `log_packs`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LogPack {
    /// The least and greatest time (`LogRecord::effective_time`) of its records.
    pub ts_lo: i64,
    pub ts_hi: i64,
    pub records: i32,
    pub ids: Vec<u8>,
    pub terms: Option<Vec<u8>>,
    pub data: Vec<u8>,
}

/// A record as a pack holds it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredLog {
    pub time_ns: i64,
    pub observed_ns: i64,
    pub resource: i64,
    pub scope: i64,
    pub service: String,
    pub severity_number: i32,
    pub severity_text: String,
    /// JSON.
    pub body: String,
    /// JSON.
    pub attributes: String,
    pub event_name: String,
    pub dropped_attributes_count: u32,
    pub flags: u32,
    pub wire_bytes: u32,
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
    pub request_id: Option<String>,
}

impl StoredLog {
    /// The time the record is ordered and searched by, as
    /// `LogRecord::effective_time` gave its pack's bounds.
    pub fn ts(&self) -> i64 {
        crate::model::log_time(self.time_ns, self.observed_ns)
    }
}

/// The lower-cased words a body is searched by.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split_whitespace().map(str::to_lowercase)
}

/// The pack of a batch's log records (`None` without any); `resources`
/// and `scopes` are the fingerprints of the batch's.
pub(crate) fn pack(batch: &Batch, resources: &[i64], scopes: &[i64]) -> Result<Option<LogPack>> {
    if batch.logs.is_empty() {
        return Ok(None);
    }
    let mut inner = Vec::new();
    put_u64(&mut inner, batch.logs.len() as u64);
    let (mut ts_lo, mut ts_hi) = (i64::MAX, i64::MIN);
    let mut ids: HashSet<LogId> = HashSet::new();
    let mut services: HashSet<&str> = HashSet::new();
    let mut body_words: HashSet<String> = HashSet::new();
    for log in &batch.logs {
        let ts = log.effective_time();
        ts_lo = ts_lo.min(ts);
        ts_hi = ts_hi.max(ts);
        let service = batch.resources[log.resource_idx].service.as_str();
        services.insert(service);
        if body_words.len() <= MAX_TERMS {
            body_words.extend(words(&body_text(&log.body)));
        }
        if let Some(trace_id) = &log.trace_id {
            ids.insert(LogId::Trace(*trace_id));
        }
        if let Some(request_id) = &log.request_id {
            ids.insert(LogId::Request(request_id.clone()));
        }
        put_i64(&mut inner, log.time_unix_nano);
        put_i64(&mut inner, log.observed_time_unix_nano);
        put_i64(&mut inner, resources[log.resource_idx]);
        put_i64(&mut inner, scopes[log.scope_idx]);
        put_text(&mut inner, service);
        put_i64(&mut inner, i64::from(log.severity_number));
        put_text(&mut inner, &log.severity_text);
        put_text(&mut inner, &log.body.to_json_string());
        put_text(&mut inner, &log.attributes.to_json_string());
        put_text(&mut inner, &log.event_name);
        put_u64(&mut inner, u64::from(log.dropped_attributes_count));
        put_u64(&mut inner, u64::from(log.flags));
        put_u64(&mut inner, u64::from(log.wire_bytes));
        put_opt(&mut inner, log.trace_id.as_ref(), |w, id| {
            w.extend_from_slice(id)
        });
        put_opt(&mut inner, log.span_id.as_ref(), |w, id| {
            w.extend_from_slice(id)
        });
        put_opt(&mut inner, log.request_id.as_deref(), put_text);
    }
    Ok(Some(LogPack {
        ts_lo,
        ts_hi,
        records: i32::try_from(batch.logs.len()).unwrap_or(i32::MAX),
        ids: crate::span_filter::of_probes_with(ids.iter().map(LogId::probe), id_bits(ids.len())),
        terms: terms(batch, &services, &body_words),
        data: crate::framed::seal(FORMAT, &inner, "log pack")?,
    }))
}

fn terms(batch: &Batch, services: &HashSet<&str>, words: &HashSet<String>) -> Option<Vec<u8>> {
    if words.len() > MAX_TERMS {
        return None;
    }
    let mut probes: Vec<(u64, u64)> = services.iter().map(|s| probe(SERVICE, &[s])).collect();
    probes.extend(words.iter().map(|w| probe(WORD, &[w])));
    attribute_probes(
        batch.logs.iter().map(|l| &l.attributes),
        &mut probes,
        MAX_TERMS,
    )?;
    Some(crate::span_filter::of_probes(probes.into_iter()))
}

/// Every record of a pack's `data`, in the order written.
pub(crate) fn unpack(data: &[u8]) -> Result<Vec<StoredLog>> {
    let inner = crate::framed::open(data, FORMAT, "log pack")?;
    let mut r = Reader::new(&inner, "log pack");
    let n = r.u64()?;
    let mut logs = Vec::with_capacity(usize::try_from(n.min(1 << 20)).unwrap_or(0));
    for _ in 0..n {
        logs.push(StoredLog {
            time_ns: r.i64()?,
            observed_ns: r.i64()?,
            resource: r.i64()?,
            scope: r.i64()?,
            service: r.text()?,
            severity_number: i32::try_from(r.i64()?).unwrap_or(0),
            severity_text: r.text()?,
            body: r.text()?,
            attributes: r.text()?,
            event_name: r.text()?,
            dropped_attributes_count: r.u32()?,
            flags: r.u32()?,
            wire_bytes: r.u32()?,
            trace_id: r.opt(|r| r.bytes::<16>())?,
            span_id: r.opt(|r| r.bytes::<8>())?,
            request_id: r.opt(Reader::text)?,
        });
    }
    r.finish()?;
    Ok(logs)
}

/// An id a record is looked for by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum LogId {
    Trace(TraceId),
    Request(String),
}

impl LogId {
    fn probe(&self) -> (u64, u64) {
        match self {
            LogId::Trace(id) => probe(TRACE, &[&hex::encode(id)]),
            LogId::Request(id) => probe(REQUEST, &[id]),
        }
    }

    fn held_by(&self, log: &StoredLog) -> bool {
        match self {
            LogId::Trace(id) => log.trace_id.as_ref() == Some(id),
            LogId::Request(id) => log.request_id.as_deref() == Some(id.as_str()),
        }
    }
}

/// What a read asks of log records, asked first of each pack's filters
/// (`may_be_in`), then of each record (`keeps`).
#[derive(Debug, Clone, Default)]
pub(crate) struct LogMatch {
    /// Inclusive, exclusive; of the record's time.
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// Each group is met when the record holds one of its ids.
    pub ids: Vec<Vec<LogId>>,
    pub service: Option<String>,
    pub severity_min: Option<i32>,
    /// Lower-cased; all must be words of the body.
    pub words: Vec<String>,
    /// Each with its key as stored.
    pub attributes: Vec<(String, AttributeFilter)>,
}

impl LogMatch {
    pub fn of_query(query: &LogQuery) -> LogMatch {
        let mut ids = Vec::new();
        if let Some(trace_id) = query.trace_id {
            ids.push(vec![LogId::Trace(trace_id)]);
        }
        if let Some(request_id) = &query.request_id {
            ids.push(vec![LogId::Request(request_id.clone())]);
        }
        let words = query
            .text
            .as_deref()
            .map(|text| words(&crate::log_text::search_words(text)).collect())
            .unwrap_or_default();
        LogMatch {
            start: query.start,
            end: query.end,
            ids,
            service: query.service.clone(),
            severity_min: query.severity_min,
            words,
            attributes: query
                .attributes
                .iter()
                .map(|f| (stored_key(&f.key), f.clone()))
                .collect(),
        }
    }

    /// Records holding any of these ids, whenever they were.
    pub fn any_of(ids: Vec<LogId>) -> LogMatch {
        LogMatch {
            ids: vec![ids],
            ..LogMatch::default()
        }
    }

    /// Keeps only records within `NEAR_SPANS_NS` of these spans (all
    /// records when there are none).
    pub fn near(mut self, spans: &[SpanView]) -> LogMatch {
        let start = spans.iter().map(|s| s.start_time_unix_nano).min();
        let end = spans.iter().map(|s| s.end_time_unix_nano).max();
        if let (Some(start), Some(end)) = (start, end) {
            self.start = Some(start.saturating_sub(NEAR_SPANS_NS));
            self.end = Some(end.saturating_add(NEAR_SPANS_NS));
        }
        self
    }

    /// Whether a pack's `ids` filter may rule it out.
    pub fn asks_ids(&self) -> bool {
        !self.ids.is_empty()
    }

    /// Whether a pack's `terms` filter may rule it out.
    pub fn asks_terms(&self) -> bool {
        self.service.is_some() || !self.words.is_empty() || !self.attributes.is_empty()
    }

    /// False only when the pack of these filters surely holds no match
    /// (`terms` none: not asked, or the pack has none).
    pub fn may_be_in(&self, ids: &[u8], terms: Option<&[u8]>) -> bool {
        self.ids_may_hold(ids) && terms.is_none_or(|terms| self.terms_may_hold(terms))
    }

    /// False only when a pack of this `ids` filter surely holds no match.
    pub fn ids_may_hold(&self, ids: &[u8]) -> bool {
        self.ids.iter().all(|group| {
            group
                .iter()
                .any(|id| crate::span_filter::may_hold(ids, id.probe()))
        })
    }

    /// False only when a pack of this `terms` filter surely holds no
    /// match; an empty filter (a pack with none) may hold anything.
    pub fn terms_may_hold(&self, terms: &[u8]) -> bool {
        let holds = |p| crate::span_filter::may_hold(terms, p);
        self.service
            .as_deref()
            .is_none_or(|s| holds(probe(SERVICE, &[s])))
            && self.words.iter().all(|w| holds(probe(WORD, &[w])))
            && self
                .attributes
                .iter()
                .all(|(key, f)| crate::pack_terms::may_pass(terms, key, f))
    }

    pub fn keeps(&self, log: &StoredLog) -> bool {
        let ts = log.ts();
        self.start.is_none_or(|s| ts >= s)
            && self.end.is_none_or(|e| ts < e)
            && self.ids.iter().all(|g| g.iter().any(|id| id.held_by(log)))
            && self.service.as_deref().is_none_or(|s| log.service == s)
            && self.severity_min.is_none_or(|s| log.severity_number >= s)
            && self
                .attributes
                .iter()
                .all(|(key, f)| attribute_matches(&log.attributes, key, f))
            && (self.words.is_empty() || self.body_has_words(log))
    }

    fn body_has_words(&self, log: &StoredLog) -> bool {
        let Ok(body) = Value::from_json_str(&log.body) else {
            return false;
        };
        let have: HashSet<String> = words(&body_text(&body)).collect();
        self.words.iter().all(|w| have.contains(w))
    }
}

/// The newest `limit` records of packs read newest first (by their
/// greatest time), ties broken by the order of writing: `add` each pack's
/// kept records, and stop reading once `done` says the next pack, whose
/// greatest time is given, cannot hold a newer one.
#[derive(Debug)]
pub(crate) struct Newest {
    limit: usize,
    /// (time, pack id, place in the pack), newest first once sorted.
    found: Vec<((i64, i64, usize), StoredLog)>,
}

impl Newest {
    pub fn new(limit: usize) -> Newest {
        Newest {
            limit,
            found: Vec::new(),
        }
    }

    pub fn add(&mut self, pack: i64, logs: impl IntoIterator<Item = (usize, StoredLog)>) {
        self.found
            .extend(logs.into_iter().map(|(i, log)| ((log.ts(), pack, i), log)));
        self.found.sort_by_key(|(key, _)| std::cmp::Reverse(*key));
        self.found.truncate(self.limit);
    }

    pub fn done(&self, next_ts_hi: i64) -> bool {
        self.found.len() >= self.limit
            && self
                .found
                .last()
                .is_some_and(|((ts, _, _), _)| *ts > next_ts_hi)
    }

    pub fn into_logs(self) -> Vec<StoredLog> {
        self.found.into_iter().map(|(_, log)| log).collect()
    }
}

/// The record as the API serves it, its resource and scope looked up by
/// fingerprint (shown empty should the database have lost them).
pub(crate) fn view(
    log: StoredLog,
    resources: &HashMap<i64, ResourceInfo>,
    scopes: &HashMap<i64, ScopeInfo>,
) -> Result<LogView> {
    let unknown_resource = ("{}".to_owned(), String::new());
    let unknown_scope = (String::new(), String::new(), "{}".to_owned());
    let (resource, _) = resources.get(&log.resource).unwrap_or(&unknown_resource);
    let (name, version, scope) = scopes.get(&log.scope).unwrap_or(&unknown_scope);
    Ok(LogView {
        time_unix_nano: log.time_ns,
        observed_time_unix_nano: log.observed_ns,
        service: log.service,
        severity_number: log.severity_number,
        severity_text: log.severity_text,
        body: Value::from_json_str(&log.body)
            .map_err(|e| StoreError::Corrupt(format!("log body: {e}")))?,
        event_name: log.event_name,
        attributes: attributes(&log.attributes, "log attributes")?,
        dropped_attributes_count: log.dropped_attributes_count,
        flags: log.flags,
        trace_id: log.trace_id.map(hex::encode),
        span_id: log.span_id.map(hex::encode),
        request_id: log.request_id,
        resource: attributes(resource, "resource attributes")?,
        scope: ScopeView {
            name: name.clone(),
            version: version.clone(),
            attributes: attributes(scope, "scope attributes")?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LogRecord, Resource, Scope};
    use crate::value::Attributes;

    fn record(ts: i64, body: &str, trace: Option<u8>, request: Option<&str>) -> LogRecord {
        LogRecord {
            resource_idx: 0,
            scope_idx: 0,
            time_unix_nano: ts,
            observed_time_unix_nano: ts + 1,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: Value::String(body.into()),
            event_name: String::new(),
            attributes: Attributes(vec![("http.route".into(), Value::String("/cart".into()))]),
            dropped_attributes_count: 0,
            flags: 1,
            trace_id: trace.map(|t| [t; 16]),
            span_id: trace.map(|t| [t; 8]),
            request_id: request.map(str::to_owned),
            wire_bytes: 40,
        }
    }

    fn batch(logs: Vec<LogRecord>) -> Batch {
        Batch {
            resources: vec![Resource {
                service: "cart".into(),
                attributes: Attributes::default(),
                dropped_attributes_count: 0,
                schema_url: String::new(),
            }],
            scopes: vec![Scope {
                name: "app".into(),
                version: String::new(),
                attributes: Attributes::default(),
                dropped_attributes_count: 0,
                schema_url: String::new(),
            }],
            logs,
            ..Batch::default()
        }
    }

    fn packed(logs: Vec<LogRecord>) -> LogPack {
        pack(&batch(logs), &[11], &[22])
            .expect("pack")
            .expect("records")
    }

    #[test]
    fn records_read_back_as_written() {
        let mut untimed = record(0, "no time", None, None);
        untimed.observed_time_unix_nano = 7;
        untimed.body = Value::Int(3);
        let p = packed(vec![
            record(5, "Cart added", Some(1), Some("req-1")),
            untimed,
        ]);
        assert_eq!((p.ts_lo, p.ts_hi, p.records), (5, 7, 2));
        let logs = unpack(&p.data).expect("unpack");
        assert_eq!(logs.len(), 2);
        let first = &logs[0];
        assert_eq!((first.time_ns, first.observed_ns, first.ts()), (5, 6, 5));
        assert_eq!((first.resource, first.scope), (11, 22));
        assert_eq!(first.service, "cart");
        assert_eq!(first.body, "\"Cart added\"");
        assert_eq!(first.attributes, r#"{"http.route":"/cart"}"#);
        assert_eq!(first.trace_id, Some([1; 16]));
        assert_eq!(first.span_id, Some([1; 8]));
        assert_eq!(first.request_id.as_deref(), Some("req-1"));
        assert_eq!((first.flags, first.wire_bytes), (1, 40));
        assert_eq!((logs[1].ts(), logs[1].body.as_str()), (7, "3"));
        assert_eq!(logs[1].trace_id, None);
    }

    #[test]
    fn id_filters_stay_in_their_index_page_when_they_can() {
        for (records, bits) in [(1, 16), (480, 16), (512, 15), (768, 10), (4096, 10)] {
            assert_eq!(id_bits(records), bits, "{records}");
        }
        let logs: Vec<LogRecord> = (0..512u32)
            .map(|i| {
                record(
                    i64::from(i),
                    "x",
                    Some((i % 250) as u8),
                    Some(&format!("r{i}")),
                )
            })
            .collect();
        // 250 traces and 512 requests: 762 ids at 10 bits.
        assert!(packed(logs).ids.len() <= ID_FILTER_BYTES + 1);
    }

    #[test]
    fn damaged_packs_are_errors() {
        let p = packed(vec![record(5, "x", None, None)]);
        for bad in [vec![], vec![9], p.data[..p.data.len() - 1].to_vec()] {
            assert!(unpack(&bad).is_err(), "{bad:?}");
        }
    }

    fn query(f: impl FnOnce(&mut LogQuery)) -> LogMatch {
        let mut q = LogQuery {
            limit: 10,
            ..LogQuery::default()
        };
        f(&mut q);
        LogMatch::of_query(&q)
    }

    #[test]
    fn packs_are_skipped_only_when_they_hold_no_match() {
        let p = packed(vec![
            record(5, "Payment DECLINED: card_expired", Some(1), Some("req-1")),
            record(6, "cart saved", Some(2), None),
        ]);
        let logs = unpack(&p.data).expect("unpack");
        let terms = p.terms.as_deref();
        let cases: Vec<(&str, LogMatch, usize)> = vec![
            ("everything", query(|_| {}), 2),
            (
                "a word, any case",
                query(|q| q.text = Some("declined".into())),
                1,
            ),
            (
                "words split as bodies are",
                query(|q| q.text = Some("card-expired".into())),
                1,
            ),
            (
                "a word no body has",
                query(|q| q.text = Some("refund".into())),
                0,
            ),
            (
                "part of a word",
                query(|q| q.text = Some("declin".into())),
                0,
            ),
            ("the trace", query(|q| q.trace_id = Some([2; 16])), 1),
            ("another trace", query(|q| q.trace_id = Some([3; 16])), 0),
            (
                "the request",
                query(|q| q.request_id = Some("req-1".into())),
                1,
            ),
            (
                "another request",
                query(|q| q.request_id = Some("req-2".into())),
                0,
            ),
            ("the service", query(|q| q.service = Some("cart".into())), 2),
            (
                "another service",
                query(|q| q.service = Some("pay".into())),
                0,
            ),
            ("severity", query(|q| q.severity_min = Some(13)), 0),
            ("the window", query(|q| q.start = Some(6)), 1),
            (
                "an attribute value",
                query(|q| {
                    q.attributes = vec![AttributeFilter::parse("http.route=/cart").expect("f")]
                }),
                2,
            ),
            (
                "another value",
                query(|q| {
                    q.attributes = vec![AttributeFilter::parse("http.route=/pay").expect("f")]
                }),
                0,
            ),
            (
                "trace or request",
                LogMatch::any_of(vec![LogId::Trace([2; 16]), LogId::Request("req-1".into())]),
                2,
            ),
        ];
        for (case, m, n) in cases {
            let kept = logs.iter().filter(|l| m.keeps(l)).count();
            assert_eq!(kept, n, "{case}");
            if n > 0 {
                assert!(
                    m.may_be_in(&p.ids, terms),
                    "{case}: a match is never skipped"
                );
            }
        }
        // What the filters rule out (one pack in a hundred may slip through).
        for m in [
            query(|q| q.text = Some("refund".into())),
            query(|q| q.trace_id = Some([3; 16])),
            query(|q| q.request_id = Some("req-2".into())),
            query(|q| q.service = Some("pay".into())),
        ] {
            assert!(!m.may_be_in(&p.ids, terms), "{m:?}");
        }
    }

    #[test]
    fn newest_reads_until_no_older_pack_can_hold_a_newer_record() {
        let log = |ts: i64| {
            let p = packed(vec![record(ts, "x", None, None)]);
            unpack(&p.data).expect("unpack").remove(0)
        };
        let mut newest = Newest::new(2);
        newest.add(1, [(0, log(50)), (1, log(10))]);
        assert!(
            !newest.done(40),
            "one pack may still hold a record after 10"
        );
        newest.add(2, [(0, log(30))]);
        assert!(newest.done(29));
        assert!(!newest.done(30), "a tie may be newer in writing order");
        let times: Vec<i64> = newest.into_logs().iter().map(StoredLog::ts).collect();
        assert_eq!(times, [50, 30]);
    }
}
