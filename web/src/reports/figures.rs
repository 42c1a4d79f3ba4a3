//! What the analysis of a stretch of time adds up to, in a form that
//! merges: counts and sums add, latencies are sketches (within
//! `store::sketch::RELATIVE_ERROR`). The figures of each minute are kept in
//! the database (docs/adr/0021), so that a report over a day merges 1 440
//! of them instead of reading every span again.

use std::collections::BTreeMap;

use foldhash::HashMap;

use store::sketch::Sketch;
use store::varint::{Reader, put_i64, put_text, put_u64};

use super::names::Names;

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

    const ALL: [EdgeKind; 3] = [EdgeKind::Sync, EdgeKind::Async, EdgeKind::Database];
}

/// A slice of the window's series: fractional when a minute's figures are
/// shared between two slices it straddles.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Slice {
    pub requests: f64,
    pub errors: f64,
    pub latency: Sketch,
}

/// Requests, time and telemetry of one (service, endpoint).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EndpointAgg {
    pub requests: u64,
    pub errors: u64,
    pub latency: Sketch,
    pub total_ns: i64,
    pub self_ns: i64,
    pub spans: u64,
    pub span_bytes: u64,
    pub logs: u64,
    pub log_bytes: u64,
    /// By slice of the report's window; empty in a minute's figures.
    pub series: BTreeMap<u16, Slice>,
}

/// What one entry endpoint caused in another service.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DownstreamAgg {
    pub spans: u64,
    pub calls: u64,
    pub self_ns: i64,
    pub errors: u64,
}

impl EndpointAgg {
    /// Adds `other`'s figures, series slice by slice.
    pub fn absorb(&mut self, o: &EndpointAgg) {
        self.absorb_totals(o);
        for (&slice, o) in &o.series {
            let s = self.series.entry(slice).or_default();
            s.requests += o.requests;
            s.errors += o.errors;
            s.latency.merge(&o.latency);
        }
    }

    /// Adds `other`'s figures but its series.
    fn absorb_totals(&mut self, o: &EndpointAgg) {
        self.requests += o.requests;
        self.errors += o.errors;
        self.latency.merge(&o.latency);
        self.total_ns += o.total_ns;
        self.self_ns += o.self_ns;
        self.spans += o.spans;
        self.span_bytes += o.span_bytes;
        self.logs += o.logs;
        self.log_bytes += o.log_bytes;
    }
}

/// A (service, operation)'s shares of the critical paths walked.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PathAgg {
    pub sum: f64,
    /// In parts per million, of the walked traces where it was on the path.
    pub shares: Sketch,
}

/// Parts per million: a share as a sketch holds it.
pub const PPM: f64 = 1e6;

/// One entry endpoint's traces: their telemetry and where their time went.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EntryAgg {
    pub traces: u64,
    pub spans: u64,
    pub logs: u64,
    pub wire_bytes: u64,
    /// Traces walked for the critical path.
    pub path_traces: u64,
    pub path: HashMap<(u32, u32), PathAgg>,
}

/// Calls from one service to another.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EdgeAgg {
    pub calls: u64,
    pub errors: u64,
    /// The caller's client or producer span durations.
    pub caller: Sketch,
    /// The callee's server or consumer span durations.
    pub callee: Sketch,
    /// Per call: caller less callee (sync), or the wait from the producer's
    /// start to the consumer's start (async).
    pub gap: Sketch,
}

/// One child operation called `REPEATED_CALLS` or more times under one parent.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RepeatAgg {
    pub parents: u64,
    pub calls: u64,
    pub max_calls: u64,
}

/// Everything the reports print, for one stretch of time, its texts as
/// ids of a `Names`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Figures {
    pub spans: u64,
    pub traces: u64,
    pub traces_without_root: u64,
    pub endpoints: HashMap<(u32, u32), EndpointAgg>,
    /// (entry service, entry endpoint, other service).
    pub downstream: HashMap<(u32, u32, u32), DownstreamAgg>,
    pub entries: HashMap<(u32, u32), EntryAgg>,
    /// (caller service, callee service or database, kind).
    pub edges: HashMap<(u32, u32, EdgeKind), EdgeAgg>,
    /// (parent service, parent operation, child service, child operation).
    pub repeated: HashMap<(u32, u32, u32, u32), RepeatAgg>,
}

impl Figures {
    pub fn is_empty(&self) -> bool {
        self.spans == 0 && self.endpoints.values().all(|e| e.logs == 0)
    }

    /// Adds `other` (its ids of `from`) into these (ids of `into`). The
    /// endpoints' series are added as they are, unless `places` says where
    /// a minute's requests go among the window's slices: `(slice, share)`.
    pub fn merge(
        &mut self,
        into: &mut Names,
        other: &Figures,
        from: &Names,
        places: Option<&[(u16, f64)]>,
    ) {
        let ids: Vec<u32> = (0..from.len() as u32)
            .map(|id| into.id(from.name(id)))
            .collect();
        let id = |i: u32| ids[i as usize];
        self.spans += other.spans;
        self.traces += other.traces;
        self.traces_without_root += other.traces_without_root;
        for (&(s, e), o) in &other.endpoints {
            let a = self.endpoints.entry((id(s), id(e))).or_default();
            match places {
                None => a.absorb(o),
                Some(places) => {
                    a.absorb_totals(o);
                    // The slice holding most of the minute takes its latencies.
                    let most = places.iter().max_by(|x, y| x.1.total_cmp(&y.1));
                    for &(slice, fraction) in places.iter().filter(|_| o.requests > 0) {
                        let s = a.series.entry(slice).or_default();
                        s.requests += o.requests as f64 * fraction;
                        s.errors += o.errors as f64 * fraction;
                        if most.is_some_and(|m| m.0 == slice) {
                            s.latency.merge(&o.latency);
                        }
                    }
                }
            }
        }
        for (&(es, ee, s), o) in &other.downstream {
            let d = self.downstream.entry((id(es), id(ee), id(s))).or_default();
            d.spans += o.spans;
            d.calls += o.calls;
            d.self_ns += o.self_ns;
            d.errors += o.errors;
        }
        for (&(s, e), o) in &other.entries {
            let a = self.entries.entry((id(s), id(e))).or_default();
            a.traces += o.traces;
            a.spans += o.spans;
            a.logs += o.logs;
            a.wire_bytes += o.wire_bytes;
            a.path_traces += o.path_traces;
            for (&(s, op), o) in &o.path {
                let p = a.path.entry((id(s), id(op))).or_default();
                p.sum += o.sum;
                p.shares.merge(&o.shares);
            }
        }
        for (&(c, e, kind), o) in &other.edges {
            let a = self.edges.entry((id(c), id(e), kind)).or_default();
            a.calls += o.calls;
            a.errors += o.errors;
            a.caller.merge(&o.caller);
            a.callee.merge(&o.callee);
            a.gap.merge(&o.gap);
        }
        for (&(s, op, cs, cop), o) in &other.repeated {
            let r = self
                .repeated
                .entry((id(s), id(op), id(cs), id(cop)))
                .or_default();
            r.parents += o.parents;
            r.calls += o.calls;
            r.max_calls = r.max_calls.max(o.max_calls);
        }
    }

    /// A minute's figures as the database keeps them: the texts they name,
    /// then each table, series left out. Maps iterate in no set order, so
    /// the bytes of equal figures may differ; what they decode to does not.
    pub fn encode(&self, names: &Names) -> Vec<u8> {
        let mut w = Vec::with_capacity(4096);
        put_u64(&mut w, FORMAT);
        put_u64(&mut w, names.len() as u64);
        for id in 0..names.len() as u32 {
            put_text(&mut w, names.name(id));
        }
        for n in [self.spans, self.traces, self.traces_without_root] {
            put_u64(&mut w, n);
        }
        let ids = |w: &mut Vec<u8>, ids: &[u32]| ids.iter().for_each(|&i| put_u64(w, i.into()));
        put_u64(&mut w, self.endpoints.len() as u64);
        for (&(s, e), a) in &self.endpoints {
            ids(&mut w, &[s, e]);
            for n in [
                a.requests,
                a.errors,
                a.spans,
                a.span_bytes,
                a.logs,
                a.log_bytes,
            ] {
                put_u64(&mut w, n);
            }
            put_i64(&mut w, a.total_ns);
            put_i64(&mut w, a.self_ns);
            a.latency.encode(&mut w);
        }
        put_u64(&mut w, self.downstream.len() as u64);
        for (&(es, ee, s), d) in &self.downstream {
            ids(&mut w, &[es, ee, s]);
            for n in [d.spans, d.calls, d.errors] {
                put_u64(&mut w, n);
            }
            put_i64(&mut w, d.self_ns);
        }
        put_u64(&mut w, self.entries.len() as u64);
        for (&(s, e), a) in &self.entries {
            ids(&mut w, &[s, e]);
            for n in [a.traces, a.spans, a.logs, a.wire_bytes, a.path_traces] {
                put_u64(&mut w, n);
            }
            put_u64(&mut w, a.path.len() as u64);
            for (&(s, op), p) in &a.path {
                ids(&mut w, &[s, op]);
                put_u64(&mut w, p.sum.to_bits());
                p.shares.encode(&mut w);
            }
        }
        put_u64(&mut w, self.edges.len() as u64);
        for (&(c, e, kind), a) in &self.edges {
            ids(&mut w, &[c, e]);
            put_u64(&mut w, kind as u64);
            put_u64(&mut w, a.calls);
            put_u64(&mut w, a.errors);
            for sketch in [&a.caller, &a.callee, &a.gap] {
                sketch.encode(&mut w);
            }
        }
        put_u64(&mut w, self.repeated.len() as u64);
        for (&(s, op, cs, cop), r) in &self.repeated {
            ids(&mut w, &[s, op, cs, cop]);
            for n in [r.parents, r.calls, r.max_calls] {
                put_u64(&mut w, n);
            }
        }
        w
    }

    /// What `encode` wrote; damaged data is an error, never wrong figures.
    pub fn decode(data: &[u8]) -> store::Result<(Names, Figures)> {
        let corrupt = |what: String| store::StoreError::Corrupt(format!("report rollup: {what}"));
        let mut r = Reader::new(data, "report rollup");
        let format = r.u64()?;
        if format != FORMAT {
            return Err(corrupt(format!("format {format}")));
        }
        let mut names = Names::default();
        let n = r.u64()?;
        for i in 0..n {
            if names.id(&r.text()?) as u64 != i {
                return Err(corrupt("a text twice".into()));
            }
        }
        let id = |r: &mut Reader<'_>| -> store::Result<u32> {
            let i = r.u64()?;
            if i < n {
                Ok(i as u32)
            } else {
                Err(corrupt(format!("text {i} of {n}")))
            }
        };
        let mut f = Figures {
            spans: r.u64()?,
            traces: r.u64()?,
            traces_without_root: r.u64()?,
            ..Figures::default()
        };
        for _ in 0..r.u64()? {
            let key = (id(&mut r)?, id(&mut r)?);
            let [requests, errors, spans, span_bytes, logs, log_bytes] = [(); 6].map(|()| r.u64());
            let agg = EndpointAgg {
                requests: requests?,
                errors: errors?,
                spans: spans?,
                span_bytes: span_bytes?,
                logs: logs?,
                log_bytes: log_bytes?,
                total_ns: r.i64()?,
                self_ns: r.i64()?,
                latency: Sketch::read(&mut r)?,
                series: BTreeMap::new(),
            };
            f.endpoints.insert(key, agg);
        }
        for _ in 0..r.u64()? {
            let key = (id(&mut r)?, id(&mut r)?, id(&mut r)?);
            let agg = DownstreamAgg {
                spans: r.u64()?,
                calls: r.u64()?,
                errors: r.u64()?,
                self_ns: r.i64()?,
            };
            f.downstream.insert(key, agg);
        }
        for _ in 0..r.u64()? {
            let key = (id(&mut r)?, id(&mut r)?);
            let mut agg = EntryAgg {
                traces: r.u64()?,
                spans: r.u64()?,
                logs: r.u64()?,
                wire_bytes: r.u64()?,
                path_traces: r.u64()?,
                path: HashMap::default(),
            };
            for _ in 0..r.u64()? {
                let key = (id(&mut r)?, id(&mut r)?);
                let sum = f64::from_bits(r.u64()?);
                let shares = Sketch::read(&mut r)?;
                agg.path.insert(key, PathAgg { sum, shares });
            }
            f.entries.insert(key, agg);
        }
        for _ in 0..r.u64()? {
            let (c, e) = (id(&mut r)?, id(&mut r)?);
            let kind = r.u64()?;
            let kind = *EdgeKind::ALL
                .get(kind as usize)
                .ok_or_else(|| corrupt(format!("edge kind {kind}")))?;
            let agg = EdgeAgg {
                calls: r.u64()?,
                errors: r.u64()?,
                caller: Sketch::read(&mut r)?,
                callee: Sketch::read(&mut r)?,
                gap: Sketch::read(&mut r)?,
            };
            f.edges.insert((c, e, kind), agg);
        }
        for _ in 0..r.u64()? {
            let key = (id(&mut r)?, id(&mut r)?, id(&mut r)?, id(&mut r)?);
            let agg = RepeatAgg {
                parents: r.u64()?,
                calls: r.u64()?,
                max_calls: r.u64()?,
            };
            f.repeated.insert(key, agg);
        }
        r.finish()?;
        Ok((names, f))
    }
}

/// The version of `encode`'s layout; a change is a new number and a
/// migration that marks every minute stale.
const FORMAT: u64 = 1;
