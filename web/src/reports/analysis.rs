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

use std::collections::HashMap;

use store::model::{SpanId, TraceId};
use store::report::{ReportSpan, SpanLogs};

use super::{Names, PATH_SAMPLE, REPEATED_CALLS, SERIES_BUCKETS, Window};
use crate::critical_path::{self, Node};

const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const PRODUCER: i32 = 4;
const CONSUMER: i32 = 5;

/// A span narrowed to what the reports use, its strings interned.
#[derive(Debug, Clone)]
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
}

impl Spans {
    pub fn push(&mut self, span: ReportSpan) {
        let endpoint = endpoint_name(&span);
        self.spans.push(Span {
            trace: span.trace_id,
            id: span.span_id,
            parent: span.parent_span_id,
            service: self.names.id(&span.service),
            op: self.names.id(&span.name),
            endpoint: self.names.id(&endpoint),
            kind: span.kind,
            start: span.start_ns,
            end: span.end_ns,
            error: span.is_error,
            wire_bytes: span.wire_bytes.max(0) as u64,
            db_system: span.db_system.as_deref().map(|db| self.names.id(db)),
        });
    }
}

fn present(text: &Option<std::sync::Arc<str>>) -> Option<&str> {
    text.as_deref().filter(|s| !s.is_empty())
}

/// `POST /orders/{id}`, `shop.Cart/Add`, or the span name.
pub fn endpoint_name(span: &ReportSpan) -> String {
    if let Some(route) = present(&span.http_route) {
        return match present(&span.http_method) {
            Some(method) => format!("{method} {route}"),
            None => route.to_owned(),
        };
    }
    match (present(&span.rpc_service), present(&span.rpc_method)) {
        (Some(service), Some(method)) => format!("{service}/{method}"),
        (Some(only), None) | (None, Some(only)) => only.to_owned(),
        (None, None) => span.name.to_string(),
    }
}

/// Requests, time and telemetry of one (service, endpoint).
#[derive(Debug, Default, Clone)]
pub struct EndpointAgg {
    pub requests: u64,
    pub errors: u64,
    /// (series bucket, duration, failed) of each request.
    pub durations: Vec<(u16, i64, bool)>,
    pub total_ns: i64,
    pub self_ns: i64,
    pub spans: u64,
    pub span_bytes: u64,
    pub logs: u64,
    pub log_bytes: u64,
}

/// What one entry endpoint caused in another service.
#[derive(Debug, Default, Clone)]
pub struct DownstreamAgg {
    pub spans: u64,
    pub calls: u64,
    pub self_ns: i64,
    pub errors: u64,
}

/// One entry endpoint's traces: their telemetry and where their time went.
#[derive(Debug, Default, Clone)]
pub struct EntryAgg {
    pub traces: u64,
    pub spans: u64,
    pub logs: u64,
    pub wire_bytes: u64,
    /// Traces walked for the critical path (at most `PATH_SAMPLE`).
    pub path_traces: u64,
    /// (service, operation) → its share of each walked trace's path, for
    /// the traces where it was on the path; the others count as 0.
    pub path: HashMap<(u32, u32), Vec<f64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EdgeKind {
    /// A call answered while the caller waited (HTTP, gRPC).
    Sync,
    /// A message through a queue: producer to consumer.
    Async,
    /// A client span to a database that sends no spans of its own.
    Database,
}

impl EdgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Sync => "sync",
            EdgeKind::Async => "async",
            EdgeKind::Database => "database",
        }
    }
}

/// Calls from one service to another.
#[derive(Debug, Default, Clone)]
pub struct EdgeAgg {
    pub calls: u64,
    pub errors: u64,
    /// The caller's client or producer span durations.
    pub caller: Vec<i64>,
    /// The callee's server or consumer span durations.
    pub callee: Vec<i64>,
    /// Per call: caller less callee (sync), or the wait from the producer's
    /// start to the consumer's start (async).
    pub gap: Vec<i64>,
}

/// One child operation called `REPEATED_CALLS` or more times under one parent.
#[derive(Debug, Default, Clone)]
pub struct RepeatAgg {
    pub parents: u64,
    pub calls: u64,
    pub max_calls: u64,
}

/// Everything the reports need, from one pass.
#[derive(Debug)]
pub struct Analysis {
    pub window: Window,
    pub names: Names,
    pub spans: u64,
    pub traces: u64,
    pub traces_without_root: u64,
    /// Earliest span start seen, to tell the span of time data covers.
    pub first_start: Option<i64>,
    pub endpoints: HashMap<(u32, u32), EndpointAgg>,
    /// (entry service, entry endpoint, other service).
    pub downstream: HashMap<(u32, u32, u32), DownstreamAgg>,
    pub entries: HashMap<(u32, u32), EntryAgg>,
    /// (caller service, callee service or database, kind).
    pub edges: HashMap<(u32, u32, EdgeKind), EdgeAgg>,
    /// (parent service, parent operation, child service, child operation).
    pub repeated: HashMap<(u32, u32, u32, u32), RepeatAgg>,
}

type TraceLogs = HashMap<TraceId, Vec<(Option<SpanId>, u64, u64)>>;

impl Analysis {
    pub fn run(window: Window, spans: Spans, logs: &[SpanLogs]) -> Analysis {
        let Spans { names, mut spans } = spans;
        let mut by_trace: TraceLogs = HashMap::new();
        for group in logs {
            by_trace.entry(group.trace_id).or_default().push((
                group.span_id,
                group.records,
                group.wire_bytes,
            ));
        }
        spans.sort_unstable_by_key(|s| (s.trace, s.start));
        let mut analysis = Analysis {
            window,
            names,
            spans: spans.len() as u64,
            traces: 0,
            traces_without_root: 0,
            first_start: spans.iter().map(|s| s.start).min(),
            endpoints: HashMap::new(),
            downstream: HashMap::new(),
            entries: HashMap::new(),
            edges: HashMap::new(),
            repeated: HashMap::new(),
        };
        let mut scratch = Scratch::default();
        for trace in spans.chunk_by(|a, b| a.trace == b.trace) {
            let logs = by_trace.get(&trace[0].trace).map(Vec::as_slice);
            analysis.trace(trace, logs.unwrap_or(&[]), &mut scratch);
        }
        analysis
    }

    fn bucket(&self, start: i64) -> u16 {
        let width = (self.window.end - self.window.start).max(1) as i128;
        let offset = (start - self.window.start).max(0) as i128;
        ((offset * SERIES_BUCKETS as i128 / width) as usize).min(SERIES_BUCKETS - 1) as u16
    }

    fn trace(&mut self, spans: &[Span], logs: &[(Option<SpanId>, u64, u64)], s: &mut Scratch) {
        self.traces += 1;
        let n = spans.len();
        s.reset(spans);
        let parent = &s.parent;

        // Self time: duration less the union of the children's intervals.
        let mut self_ns = vec![0i64; n];
        for (i, span) in spans.iter().enumerate() {
            let mut covered = 0;
            let mut reach = span.start;
            let mut kids: Vec<(i64, i64)> = s.children[i]
                .iter()
                .map(|&c| (spans[c].start.max(span.start), spans[c].end.min(span.end)))
                .filter(|(a, b)| a < b)
                .collect();
            kids.sort_unstable();
            for (a, b) in kids {
                let a = a.max(reach);
                if b > a {
                    covered += b - a;
                    reach = b;
                }
            }
            self_ns[i] = span.duration() - covered;
        }

        // Each span's local root (walked up iteratively: traces can be deep).
        let mut local_root: Vec<Option<usize>> = vec![None; n];
        for i in 0..n {
            let mut path = Vec::new();
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
            for j in path {
                local_root[j] = Some(root);
            }
        }

        for (i, span) in spans.iter().enumerate() {
            let r = &spans[local_root[i].unwrap_or(i)];
            let agg = self.endpoints.entry((r.service, r.endpoint)).or_default();
            agg.self_ns += self_ns[i];
            agg.spans += 1;
            agg.span_bytes += span.wire_bytes;
            if span.is_request() {
                let bucket = self.bucket(span.start);
                let agg = self
                    .endpoints
                    .entry((span.service, span.endpoint))
                    .or_default();
                agg.requests += 1;
                agg.errors += u64::from(span.error);
                agg.durations.push((bucket, span.duration(), span.error));
                agg.total_ns += span.duration();
            }
        }

        let root = (0..n)
            .filter(|&i| spans[i].parent.is_none())
            .min_by_key(|&i| spans[i].start);
        let entry = root.map(|r| (spans[r].service, spans[r].endpoint));

        // Log records, charged to the span that wrote them and to the entry.
        for &(span_id, records, bytes) in logs {
            if let Some(&i) = span_id.as_ref().and_then(|id| s.index.get(id)) {
                let r = &spans[local_root[i].unwrap_or(i)];
                let agg = self.endpoints.entry((r.service, r.endpoint)).or_default();
                agg.logs += records;
                agg.log_bytes += bytes;
            }
            if let Some(entry) = entry {
                let e = self.entries.entry(entry).or_default();
                e.logs += records;
                e.wire_bytes += bytes;
            }
        }

        self.edges_and_repeats(spans, parent, &s.children);

        let (Some(root), Some(entry)) = (root, entry) else {
            self.traces_without_root += 1;
            return;
        };
        let e = self.entries.entry(entry).or_default();
        e.traces += 1;
        e.spans += n as u64;
        e.wire_bytes += spans.iter().map(|s| s.wire_bytes).sum::<u64>();
        for (i, span) in spans.iter().enumerate() {
            if span.service == entry.0 {
                continue;
            }
            let d = self
                .downstream
                .entry((entry.0, entry.1, span.service))
                .or_default();
            d.spans += 1;
            d.calls += u64::from(span.is_request());
            d.self_ns += self_ns[i];
            d.errors += u64::from(span.error);
        }

        let e = self.entries.get_mut(&entry).expect("inserted above");
        let duration = spans[root].duration();
        if e.path_traces >= PATH_SAMPLE as u64 || duration == 0 {
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
        let mut shares: HashMap<(u32, u32), i64> = HashMap::new();
        for i in s.subtree(root) {
            if let Some(t) = own[i] {
                *shares.entry((spans[i].service, spans[i].op)).or_default() += t;
            }
        }
        for (key, t) in shares {
            e.path
                .entry(key)
                .or_default()
                .push(t as f64 / duration as f64);
        }
    }

    fn edges_and_repeats(
        &mut self,
        spans: &[Span],
        parent: &[Option<usize>],
        children: &[Vec<usize>],
    ) {
        for (i, span) in spans.iter().enumerate() {
            if let Some(p) = parent[i] {
                let caller = &spans[p];
                if caller.service != span.service {
                    let asynchronous = span.kind == CONSUMER || caller.kind == PRODUCER;
                    let kind = if asynchronous {
                        EdgeKind::Async
                    } else {
                        EdgeKind::Sync
                    };
                    let edge = self
                        .edges
                        .entry((caller.service, span.service, kind))
                        .or_default();
                    edge.calls += 1;
                    edge.errors += u64::from(span.error);
                    edge.callee.push(span.duration());
                    if asynchronous {
                        edge.gap.push(span.start - caller.start);
                        if caller.kind == PRODUCER {
                            edge.caller.push(caller.duration());
                        }
                    } else if caller.kind == CLIENT {
                        edge.caller.push(caller.duration());
                        edge.gap.push(caller.duration() - span.duration());
                    }
                }
            }
            if let (CLIENT, Some(db)) = (span.kind, span.db_system) {
                let answered = children[i]
                    .iter()
                    .any(|&c| spans[c].service != span.service);
                if !answered {
                    let edge = self
                        .edges
                        .entry((span.service, db, EdgeKind::Database))
                        .or_default();
                    edge.calls += 1;
                    edge.errors += u64::from(span.error);
                    edge.caller.push(span.duration());
                }
            }
            if children[i].len() >= REPEATED_CALLS as usize {
                let mut counts: HashMap<(u32, u32), u64> = HashMap::new();
                for &c in &children[i] {
                    *counts.entry((spans[c].service, spans[c].op)).or_default() += 1;
                }
                for ((child_service, child_op), count) in counts {
                    if count >= u64::from(REPEATED_CALLS) {
                        let r = self
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
