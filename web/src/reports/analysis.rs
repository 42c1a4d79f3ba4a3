//! One pass over a window's spans, trace by trace, that gathers everything
//! the load and cost reports print. Pure: the store hands the spans in.
//!
//! Definitions, as the reports state them:
//! - A *request* is a server or consumer span, or a trace's root.
//! - A span's *endpoint* is its service plus `METHOD http.route`, else
//!   `rpc.service/rpc.method`, else its name; never the raw URL.
//! - *Self time* is a span's duration less the time its children cover.
//! - Every span's self time is charged to the endpoint of its *local root*:
//!   the nearest request span above it in the same service (a client
//!   span's time waiting on the network belongs to the caller).
//! - The *entry endpoint* of a trace is the endpoint of its root; all the
//!   trace's work in other services is downstream load caused by it.

use std::ops::Range;
use std::sync::Arc;

use foldhash::HashMap;

use store::model::{SpanId, TraceId};
use store::{ReportSpan, SpanLogs};

use super::figures::{EdgeKind, Figures, PPM};
use super::names::Names;
use crate::critical_path::{self, Node};
use crate::params::Window;
use store::rollup::MINUTE_NS;

/// The time slices each row's series is drawn in.
pub const SERIES_BUCKETS: usize = 48;

/// A span calls the same child operation at least this many times before
/// the pattern is flagged as repeated calls (N+1).
pub const REPEATED_CALLS: u32 = 5;

/// At most this many traces per entry endpoint are walked for where the
/// time goes; more are sampled (and the report says how many).
pub const PATH_SAMPLE: usize = 1000;

const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const PRODUCER: i32 = 4;
const CONSUMER: i32 = 5;

/// A span narrowed to what the reports use, its strings interned.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub trace: TraceId,
    pub id: SpanId,
    pub parent: Option<SpanId>,
    pub service: u32,
    pub op: u32,
    /// The endpoint this span names when it is a request or local root.
    pub endpoint: u32,
    pub kind: i32,
    pub start: i64,
    pub end: i64,
    pub error: bool,
    pub wire_bytes: u64,
    pub db_system: Option<u32>,
}

impl Span {
    fn is_request(&self) -> bool {
        matches!(self.kind, SERVER | CONSUMER) || self.parent.is_none()
    }

    fn duration(&self) -> i64 {
        (self.end - self.start).max(0)
    }
}

/// The spans of a window, as read from the store.
#[derive(Debug, Default)]
pub struct Spans {
    pub names: Names,
    pub spans: Vec<Span>,
    endpoint: String,
    /// The store shares one allocation among the spans that carry the same
    /// text, so a text's id is looked up by its address before its bytes
    /// (and an endpoint's by its parts' addresses). The texts are kept
    /// alive while their addresses are keys, so no address is reused for
    /// another text meanwhile.
    by_address: HashMap<usize, u32>,
    endpoints: HashMap<[usize; 5], u32>,
    kept: Vec<Arc<str>>,
}

/// Past this many kept texts (a store that does not share them) the
/// address caches start over rather than grow without bound.
const KEPT: usize = 1 << 16;

fn address(text: Option<&Arc<str>>) -> usize {
    text.map_or(0, |t| Arc::as_ptr(t).cast::<u8>() as usize)
}

impl Spans {
    pub fn push(&mut self, span: ReportSpan) {
        if self.kept.len() > KEPT {
            self.by_address.clear();
            self.endpoints.clear();
            self.kept.clear();
        }
        let parts = [
            &span.http_route,
            &span.http_method,
            &span.rpc_service,
            &span.rpc_method,
        ];
        let key = parts.map(|p| address(p.as_ref()));
        let key = [key[0], key[1], key[2], key[3], address(Some(&span.name))];
        let endpoint = match self.endpoints.get(&key) {
            Some(&id) => id,
            None => {
                endpoint_name(&span, &mut self.endpoint);
                let id = self.names.id(&self.endpoint);
                self.kept.extend(parts.into_iter().flatten().cloned());
                self.kept.push(span.name.clone());
                self.endpoints.insert(key, id);
                id
            }
        };
        let service = self.id(&span.service);
        let op = self.id(&span.name);
        let db_system = span.db_system.as_ref().map(|db| self.id(db));
        self.spans.push(Span {
            trace: span.trace_id,
            id: span.span_id,
            parent: span.parent_span_id,
            service,
            op,
            endpoint,
            kind: span.kind,
            start: span.start_ns,
            end: span.end_ns,
            error: span.is_error,
            wire_bytes: span.wire_bytes.max(0) as u64,
            db_system,
        });
    }

    fn id(&mut self, text: &Arc<str>) -> u32 {
        let key = address(Some(text));
        if let Some(&id) = self.by_address.get(&key) {
            return id;
        }
        let id = self.names.id(text);
        self.kept.push(text.clone());
        self.by_address.insert(key, id);
        id
    }
}

fn present(text: &Option<Arc<str>>) -> Option<&str> {
    text.as_deref().filter(|s| !s.is_empty())
}

/// `POST /orders/{id}`, `shop.Cart/Add`, or the span name, written into
/// `out` (a buffer reused across a million spans).
pub fn endpoint_name(span: &ReportSpan, out: &mut String) {
    out.clear();
    let parts: [&str; 3] = if let Some(route) = present(&span.http_route) {
        match present(&span.http_method) {
            Some(method) => [method, " ", route],
            None => [route, "", ""],
        }
    } else {
        match (present(&span.rpc_service), present(&span.rpc_method)) {
            (Some(service), Some(method)) => [service, "/", method],
            (Some(only), None) | (None, Some(only)) => [only, "", ""],
            (None, None) => [&span.name, "", ""],
        }
    };
    parts.iter().for_each(|part| out.push_str(part));
}

/// Everything the reports need, from one pass or merged from many.
#[derive(Debug)]
pub struct Analysis {
    pub window: Window,
    pub names: Names,
    pub figures: Figures,
}

impl std::ops::Deref for Analysis {
    type Target = Figures;
    fn deref(&self) -> &Figures {
        &self.figures
    }
}

/// Hands `each` the spans of every trace in turn, traces by id, a trace's
/// spans by start. Traces are numbered through a map and only the trace ids
/// sorted; the spans' indexes are then placed by their trace's rank, and each
/// trace gathered into one reused buffer (sorting a million spans whole took
/// a quarter of a report, and a sorted copy as much memory again).
fn each_trace(spans: &[Span], mut each: impl FnMut(&[Span])) {
    let mut number: HashMap<u128, u32> = HashMap::default();
    let trace_of: Vec<u32> = spans
        .iter()
        .map(|s| {
            let next = number.len() as u32;
            *number.entry(u128::from_be_bytes(s.trace)).or_insert(next)
        })
        .collect();
    let mut traces: Vec<(u128, u32)> = number.into_iter().collect();
    traces.sort_unstable();
    let mut sizes = vec![0usize; traces.len()];
    for &t in &trace_of {
        sizes[t as usize] += 1;
    }
    // Where each trace's first span goes, then the next, and so on.
    let mut next = vec![0usize; traces.len()];
    let mut at = 0;
    for &(_, t) in &traces {
        next[t as usize] = at;
        at += sizes[t as usize];
    }
    let mut order = vec![0u32; spans.len()];
    for (i, &t) in trace_of.iter().enumerate() {
        order[next[t as usize]] = i as u32;
        next[t as usize] += 1;
    }
    let mut trace = Vec::new();
    let mut from = 0;
    for &(_, t) in &traces {
        let to = from + sizes[t as usize];
        trace.clear();
        trace.extend(order[from..to].iter().map(|&i| spans[i as usize]));
        // By id too, so equal starts order the same whatever the read order.
        trace.sort_unstable_by_key(|s| (s.start, s.id));
        each(&trace);
        from = to;
    }
}

type TraceLogs = HashMap<TraceId, Vec<(Option<SpanId>, u64, u64)>>;

/// What one pass counts, and where: spans read around `counted` give their
/// traces' context, and only what started in `counted` is counted, each
/// in the part (a stretch of `part_ns`) it started in. A span counts in
/// its own part; a trace, its entry's requests and critical path in its
/// root's (else its first span's).
#[derive(Debug, Clone)]
pub struct Parts {
    pub counted: Range<i64>,
    pub part_ns: i64,
    /// The window whose series slices the requests, if any.
    pub series: Option<Window>,
    /// Traces walked for the critical path, at most, per entry and part.
    pub path_sample: u64,
}

struct Pass {
    parts: Parts,
    figures: Vec<Figures>,
}

impl Analysis {
    /// An analysis of nothing yet, to merge into.
    pub fn empty(window: Window) -> Analysis {
        Analysis {
            window,
            names: Names::default(),
            figures: Figures::default(),
        }
    }

    /// The figures of each part of `parts.counted`, from the spans read
    /// around it and the log records written in it.
    pub fn run_parts(parts: Parts, spans: Spans, logs: &[SpanLogs]) -> (Names, Vec<Figures>) {
        let Spans { names, spans, .. } = spans;
        let mut by_trace: TraceLogs = HashMap::default();
        for group in logs {
            by_trace.entry(group.trace_id).or_default().push((
                group.span_id,
                group.records,
                group.wire_bytes,
            ));
        }
        let n = (parts.counted.end - parts.counted.start).max(0) as u128;
        let n = n.div_ceil(parts.part_ns.max(1) as u128) as usize;
        let mut pass = Pass {
            parts,
            figures: vec![Figures::default(); n],
        };
        let mut scratch = Scratch::default();
        each_trace(&spans, |trace| {
            let logs = by_trace.get(&trace[0].trace).map(Vec::as_slice);
            pass.trace(trace, logs.unwrap_or(&[]), &mut scratch);
        });
        (names, pass.figures)
    }

    /// Adds figures (ids of `names`), placing a minute's requests in the
    /// series slices it overlaps when `minute` says which minute they are.
    pub fn add(&mut self, names: &Names, figures: &Figures, minute: Option<i64>) {
        let places = minute.map(|m| placement(self.window, m));
        self.figures
            .merge(&mut self.names, figures, names, places.as_deref());
    }
}

/// The slice of `window`'s series that `t` falls in.
fn slice(window: Window, t: i64) -> u16 {
    let width = (window.end - window.start).max(1) as i128;
    let offset = (t - window.start).max(0) as i128;
    ((offset * SERIES_BUCKETS as i128 / width) as usize).min(SERIES_BUCKETS - 1) as u16
}

/// The slices a minute (its index since the epoch) overlaps, each with the
/// share of the minute in it.
fn placement(window: Window, minute: i64) -> Vec<(u16, f64)> {
    let (start, end) = (minute * MINUTE_NS, (minute + 1) * MINUTE_NS);
    let width = (window.end - window.start).max(1) as f64 / SERIES_BUCKETS as f64;
    (slice(window, start)..=slice(window, end - 1))
        .map(|b| {
            let lo = window.start as f64 + f64::from(b) * width;
            let overlap = ((lo + width).min(end as f64) - lo.max(start as f64)).max(0.0);
            (b, overlap / MINUTE_NS as f64)
        })
        .filter(|&(_, share)| share > 0.0)
        .collect()
}

impl Pass {
    fn index(&self, t: i64) -> Option<usize> {
        let c = &self.parts.counted;
        c.contains(&t)
            .then(|| ((t - c.start) / self.parts.part_ns) as usize)
            .filter(|&i| i < self.figures.len())
    }

    fn part(&mut self, t: i64) -> Option<&mut Figures> {
        self.index(t).map(|i| &mut self.figures[i])
    }

    /// The part of `t`, or the nearest one: log records are read for the
    /// counted stretch, so they count even when their span is outside it.
    fn part_near(&mut self, t: i64) -> Option<&mut Figures> {
        let c = &self.parts.counted;
        if c.is_empty() {
            return None;
        }
        self.part(t.clamp(c.start, c.end - 1))
    }

    fn trace(&mut self, spans: &[Span], logs: &[(Option<SpanId>, u64, u64)], s: &mut Scratch) {
        let n = spans.len();
        s.reset(spans);
        let Scratch {
            parent,
            children,
            self_ns,
            kids,
            local_root,
            path,
            index,
        } = s;

        // Self time: duration less the union of the children's intervals.
        self_ns.clear();
        for (i, span) in spans.iter().enumerate() {
            let mut covered = 0;
            let mut reach = span.start;
            kids.clear();
            kids.extend(
                children[i]
                    .iter()
                    .map(|&c| (spans[c].start.max(span.start), spans[c].end.min(span.end)))
                    .filter(|(a, b)| a < b),
            );
            kids.sort_unstable();
            for &(a, b) in kids.iter() {
                let a = a.max(reach);
                if b > a {
                    covered += b - a;
                    reach = b;
                }
            }
            self_ns.push(span.duration() - covered);
        }

        // Each span's local root (walked up iteratively: traces can be deep).
        local_root.clear();
        local_root.resize(n, None);
        for i in 0..n {
            path.clear();
            let mut at = i;
            let root = loop {
                if let Some(r) = local_root[at] {
                    break r;
                }
                let span = &spans[at];
                match parent[at] {
                    Some(p)
                        if !span.is_request()
                            && spans[p].service == span.service
                            && path.len() < n =>
                    {
                        path.push(at);
                        at = p;
                    }
                    _ => break at,
                }
            };
            local_root[at] = Some(root);
            for &j in path.iter() {
                local_root[j] = Some(root);
            }
        }

        let root = (0..n)
            .filter(|&i| spans[i].parent.is_none())
            .min_by_key(|&i| spans[i].start);
        let entry = root.map(|r| (spans[r].service, spans[r].endpoint));
        let first = root.map_or(spans[0].start, |r| spans[r].start);
        if let Some(p) = self.part(first) {
            p.traces += 1;
            p.traces_without_root += u64::from(root.is_none());
        }

        let series = self.parts.series;
        for (i, span) in spans.iter().enumerate() {
            let Some(p) = self.part(span.start) else {
                continue;
            };
            p.spans += 1;
            let r = &spans[local_root[i].unwrap_or(i)];
            let agg = p.endpoints.entry((r.service, r.endpoint)).or_default();
            agg.self_ns += self_ns[i];
            agg.spans += 1;
            agg.span_bytes += span.wire_bytes;
            if span.is_request() {
                let agg = p
                    .endpoints
                    .entry((span.service, span.endpoint))
                    .or_default();
                agg.requests += 1;
                agg.errors += u64::from(span.error);
                agg.latency.add(span.duration());
                agg.total_ns += span.duration();
                if let Some(window) = series {
                    let s = agg.series.entry(slice(window, span.start)).or_default();
                    s.requests += 1.0;
                    s.errors += f64::from(u8::from(span.error));
                    s.latency.add(span.duration());
                }
            }
            let Some(entry) = entry else {
                continue;
            };
            let e = p.entries.entry(entry).or_default();
            e.spans += 1;
            e.wire_bytes += span.wire_bytes;
            if span.service != entry.0 {
                let d = p
                    .downstream
                    .entry((entry.0, entry.1, span.service))
                    .or_default();
                d.spans += 1;
                d.calls += u64::from(span.is_request());
                d.self_ns += self_ns[i];
                d.errors += u64::from(span.error);
            }
        }

        // Log records, charged to the span that wrote them and to the entry.
        for &(span_id, records, bytes) in logs {
            let at = span_id.as_ref().and_then(|id| index.get(id)).copied();
            let Some(p) = self.part_near(at.map_or(first, |i| spans[i].start)) else {
                continue;
            };
            if let Some(i) = at {
                let r = &spans[local_root[i].unwrap_or(i)];
                let agg = p.endpoints.entry((r.service, r.endpoint)).or_default();
                agg.logs += records;
                agg.log_bytes += bytes;
            }
            if let Some(entry) = entry {
                let e = p.entries.entry(entry).or_default();
                e.logs += records;
                e.wire_bytes += bytes;
            }
        }

        self.edges_and_repeats(spans, parent, children);

        let (Some(root), Some(entry)) = (root, entry) else {
            return;
        };
        let duration = spans[root].duration();
        let sample = self.parts.path_sample;
        let Some(p) = self.part(spans[root].start) else {
            return;
        };
        let e = p.entries.entry(entry).or_default();
        e.traces += 1;
        if e.path_traces >= sample || duration == 0 {
            return;
        }
        e.path_traces += 1;
        let nodes: Vec<Node> = spans
            .iter()
            .zip(parent)
            .map(|(span, parent)| Node {
                parent: *parent,
                start: span.start,
                end: span.end,
            })
            .collect();
        let own = critical_path::walk(&nodes);
        let mut shares: HashMap<(u32, u32), i64> = HashMap::default();
        for i in s.subtree(root) {
            if let Some(t) = own[i] {
                *shares.entry((spans[i].service, spans[i].op)).or_default() += t;
            }
        }
        for (key, t) in shares {
            let share = t as f64 / duration as f64;
            let p = e.path.entry(key).or_default();
            p.sum += share;
            p.shares.add((share * PPM).round() as i64);
        }
    }

    /// Calls between services, counted where the callee started (a
    /// database's, where the client did); repeated calls where the parent did.
    fn edges_and_repeats(
        &mut self,
        spans: &[Span],
        parent: &[Option<usize>],
        children: &[Vec<usize>],
    ) {
        for (i, span) in spans.iter().enumerate() {
            let Some(p) = self.part(span.start) else {
                continue;
            };
            if let Some(at) = parent[i] {
                let caller = &spans[at];
                if caller.service != span.service {
                    let asynchronous = span.kind == CONSUMER || caller.kind == PRODUCER;
                    let kind = if asynchronous {
                        EdgeKind::Async
                    } else {
                        EdgeKind::Sync
                    };
                    let edge = p
                        .edges
                        .entry((caller.service, span.service, kind))
                        .or_default();
                    edge.calls += 1;
                    edge.errors += u64::from(span.error);
                    edge.callee.add(span.duration());
                    if asynchronous {
                        edge.gap.add(span.start - caller.start);
                        if caller.kind == PRODUCER {
                            edge.caller.add(caller.duration());
                        }
                    } else if caller.kind == CLIENT {
                        edge.caller.add(caller.duration());
                        edge.gap.add(caller.duration() - span.duration());
                    }
                }
            }
            if let (CLIENT, Some(db)) = (span.kind, span.db_system) {
                let answered = children[i]
                    .iter()
                    .any(|&c| spans[c].service != span.service);
                if !answered {
                    let edge = p
                        .edges
                        .entry((span.service, db, EdgeKind::Database))
                        .or_default();
                    edge.calls += 1;
                    edge.errors += u64::from(span.error);
                    edge.caller.add(span.duration());
                }
            }
            if children[i].len() >= REPEATED_CALLS as usize {
                let mut counts: HashMap<(u32, u32), u64> = HashMap::default();
                for &c in &children[i] {
                    *counts.entry((spans[c].service, spans[c].op)).or_default() += 1;
                }
                for ((child_service, child_op), count) in counts {
                    if count >= u64::from(REPEATED_CALLS) {
                        let r = p
                            .repeated
                            .entry((span.service, span.op, child_service, child_op))
                            .or_default();
                        r.parents += 1;
                        r.calls += count;
                        r.max_calls = r.max_calls.max(count);
                    }
                }
            }
        }
    }
}

/// Per-trace working memory, reused so a million small traces do not
/// allocate a million maps.
#[derive(Default)]
struct Scratch {
    index: HashMap<SpanId, usize>,
    parent: Vec<Option<usize>>,
    children: Vec<Vec<usize>>,
    self_ns: Vec<i64>,
    kids: Vec<(i64, i64)>,
    local_root: Vec<Option<usize>>,
    path: Vec<usize>,
}

impl Scratch {
    fn reset(&mut self, spans: &[Span]) {
        self.index.clear();
        for (i, span) in spans.iter().enumerate() {
            self.index.entry(span.id).or_insert(i);
        }
        self.parent.clear();
        self.parent
            .extend(spans.iter().enumerate().map(|(i, span)| {
                span.parent
                    .and_then(|p| self.index.get(&p).copied())
                    .filter(|&p| p != i)
            }));
        self.children.iter_mut().for_each(Vec::clear);
        self.children.resize(spans.len(), Vec::new());
        for (i, p) in self.parent.iter().enumerate() {
            if let Some(p) = p {
                self.children[*p].push(i);
            }
        }
    }

    /// The spans under `top`, itself included.
    fn subtree(&self, top: usize) -> Vec<usize> {
        let mut seen = vec![false; self.parent.len()];
        let mut out = Vec::new();
        let mut stack = vec![top];
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            out.push(i);
            stack.extend(&self.children[i]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_ordered_by_trace_then_start() {
        let span = |trace: u8, start: i64| Span {
            trace: [trace; 16],
            id: [start as u8; 8],
            parent: None,
            service: 0,
            op: 0,
            endpoint: 0,
            kind: 2,
            start,
            end: start + 1,
            error: false,
            wire_bytes: 0,
            db_system: None,
        };
        let key = |spans: &[Span]| -> Vec<(u8, i64)> {
            spans.iter().map(|s| (s.trace[0], s.start)).collect()
        };
        for (given, want) in [
            (vec![], vec![]),
            (vec![(1, 5)], vec![(1, 5)]),
            (
                vec![(3, 9), (1, 5), (3, 1), (2, 7), (1, 2), (3, 4)],
                vec![(1, 2), (1, 5), (2, 7), (3, 1), (3, 4), (3, 9)],
            ),
            (vec![(0xff, 1), (0x01, 2)], vec![(0x01, 2), (0xff, 1)]),
        ] {
            let spans: Vec<Span> = given.iter().map(|&(t, s)| span(t, s)).collect();
            let mut got = Vec::new();
            each_trace(&spans, |trace| {
                assert!(trace.iter().all(|s| s.trace == trace[0].trace));
                got.extend(key(trace));
            });
            assert_eq!(got, want);
        }
    }

    #[test]
    fn spans_get_one_id_per_text_however_the_store_shares_them() {
        let shared_route: Arc<str> = "/orders".into();
        let span = |name: &str, route: &Arc<str>, method: &str| ReportSpan {
            trace_id: [1; 16],
            span_id: [1; 8],
            parent_span_id: None,
            service: "api".into(),
            name: name.into(),
            kind: 2,
            start_ns: 0,
            end_ns: 1,
            is_error: false,
            http_route: Some(route.clone()),
            http_method: Some(method.into()),
            rpc_service: None,
            rpc_method: None,
            db_system: None,
            wire_bytes: 0,
        };
        let mut spans = Spans::default();
        for s in [
            span("a", &shared_route, "GET"),
            span("a", &"/orders".into(), "GET"),
            span("b", &shared_route, "POST"),
            span("b", &shared_route, "GET"),
        ] {
            spans.push(s);
        }
        let names = |f: fn(&Span) -> u32| -> Vec<String> {
            spans
                .spans
                .iter()
                .map(|s| spans.names.name(f(s)).to_owned())
                .collect()
        };
        assert_eq!(names(|s| s.op), ["a", "a", "b", "b"]);
        assert_eq!(names(|s| s.service), ["api"; 4]);
        assert_eq!(
            names(|s| s.endpoint),
            ["GET /orders", "GET /orders", "POST /orders", "GET /orders"]
        );
        assert_eq!(spans.spans[0].endpoint, spans.spans[3].endpoint);
    }

    #[test]
    fn an_endpoint_is_named_by_route_then_rpc_then_span_name() {
        let span = |route: Option<&str>, method: Option<&str>, rpc: [Option<&str>; 2]| ReportSpan {
            trace_id: [1; 16],
            span_id: [1; 8],
            parent_span_id: None,
            service: "api".into(),
            name: "span name".into(),
            kind: 2,
            start_ns: 0,
            end_ns: 1,
            is_error: false,
            http_route: route.map(Into::into),
            http_method: method.map(Into::into),
            rpc_service: rpc[0].map(Into::into),
            rpc_method: rpc[1].map(Into::into),
            db_system: None,
            wire_bytes: 0,
        };
        let mut out = String::from("left over");
        for (span, want) in [
            (
                span(Some("/orders/{id}"), Some("POST"), [None, None]),
                "POST /orders/{id}",
            ),
            (
                span(Some("/orders"), None, [Some("shop.Cart"), None]),
                "/orders",
            ),
            (span(Some("/orders"), Some(""), [None, None]), "/orders"),
            (
                span(Some(""), Some("GET"), [Some("shop.Cart"), Some("Add")]),
                "shop.Cart/Add",
            ),
            (span(None, None, [Some("shop.Cart"), None]), "shop.Cart"),
            (span(None, None, [None, Some("Add")]), "Add"),
            (span(None, Some("GET"), [None, None]), "span name"),
        ] {
            endpoint_name(&span, &mut out);
            assert_eq!(out, want);
        }
    }
}
