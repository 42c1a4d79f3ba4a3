//! The spans of one commit packed into one value, for the reports
//! (`span_packs.data`, ADR 0007, 0011). Databases hand over a million rows no faster
//! than about a microsecond each whatever their width, which alone put a
//! report over a day of a million spans past a second; a thousand packed
//! values of a thousand spans each arrive in a fraction of that.
//!
//! Three formats, all read; each starts with its version byte.
//!
//! Format 3, what the writers write: a zstd frame (recording its size) of a
//! pack in format 2, or in format 1 when the batch has too many distinct
//! texts. The random ids leave little for zstd, but times and the texts'
//! indexes compress (ADR 0007 has the figures).
//!
//! Format 2: a table of the batch's distinct texts
//! (a u16 big-endian count, then each text inline as below), then for each
//! span its fixed fields and seven u16 big-endian indexes into the table
//! (0xFFFF for none). A batch of more distinct texts than the table holds
//! (65 535) is written in format 1.
//!
//! Format 1, which the migrations also write in SQL for the spans stored
//! before packs existed (keep them in step): for each span, its fixed
//! fields, then its seven texts inline.
//!
//! The fixed fields:
//!
//! | bytes | field |
//! |---|---|
//! | 16 | trace id |
//! | 8 | span id |
//! | 8 | parent span id, zeros when none (a valid id is never all zeros) |
//! | 8 | start, Unix ns, i64 big-endian |
//! | 8 | end, likewise |
//! | 1 | kind (OTLP's SpanKind number) |
//! | 1 | 1 when the span is an error, else 0 |
//! | 4 | wire bytes, i32 big-endian |
//!
//! The texts, in order: service, name, http.route, http method, rpc.service,
//! rpc.method, db.system. Inline, a text is a u32 big-endian length then its
//! UTF-8, or the length 0xFFFFFFFF alone for none.

use std::sync::Arc;

use crate::details::SpanDetail;
use crate::error::{Result, StoreError};
use crate::model::{Batch, Span, SpanId, TraceId};
use crate::report_rows::ReportSpan;

const INLINE: u8 = 1;
const TABLE: u8 = 2;
const ZSTD: u8 = 3;
/// A frame that claims more is damaged: a commit holds far fewer spans.
const MAX_UNPACKED: u64 = 1 << 30;
const NONE: u32 = u32::MAX;
const NO_TEXT: u16 = u16::MAX;
const FIXED: usize = 16 + 8 + 8 + 8 + 8 + 1 + 1 + 4;
const TEXTS: usize = 7;

/// One row of `span_packs`: the range of start times lets a report skip
/// the packs wholly outside its window; `details` (`details`) holds
/// the rest of each span, `span_filter` (`span_filter`) its span id,
/// `traces` the distinct trace ids, whose summary rows list the pack.
#[derive(Debug, Clone, PartialEq)]
pub struct Pack {
    pub start_lo: i64,
    pub start_hi: i64,
    pub spans: i32,
    pub data: Vec<u8>,
    pub details: Vec<u8>,
    pub span_filter: Vec<u8>,
    /// What trace search asks of the spans (`pack_terms`); `None`: too
    /// much to hold, the pack is read.
    pub terms: Option<Vec<u8>>,
    pub traces: Vec<TraceId>,
}

/// The batch's spans as one pack, `details` being theirs in the same
/// order; `None` when the batch has no span.
pub fn pack(batch: &Batch, details: &[SpanDetail]) -> Result<Option<Pack>> {
    if details.len() != batch.spans.len() {
        return Err(StoreError::Scan(format!(
            "{} spans' details for {} spans",
            details.len(),
            batch.spans.len()
        )));
    }
    let Some(start_lo) = batch.spans.iter().map(|s| s.start_time_unix_nano).min() else {
        return Ok(None);
    };
    let start_hi = batch
        .spans
        .iter()
        .map(|s| s.start_time_unix_nano)
        .max()
        .unwrap_or(start_lo);
    let mut traces: Vec<TraceId> = batch.spans.iter().map(|s| s.trace_id).collect();
    traces.sort_unstable();
    traces.dedup();
    Ok(Some(Pack {
        start_lo,
        start_hi,
        spans: i32::try_from(batch.spans.len()).unwrap_or(i32::MAX),
        data: compress(&pack_table(batch).unwrap_or_else(|| pack_inline(batch))),
        details: crate::details::encode(details)?,
        span_filter: crate::span_filter::build(batch.spans.iter().map(|s| &s.span_id)),
        terms: crate::pack_terms::build(&batch.spans),
        traces,
    }))
}

/// Format 3 around a pack of another format.
fn compress(inner: &[u8]) -> Vec<u8> {
    match zstd::bulk::compress(inner, 3) {
        Ok(frame) => [&[ZSTD][..], &frame].concat(),
        // zstd fails only when memory does; the pack is then kept as it is.
        Err(_) => inner.to_vec(),
    }
}

/// Format 2, or `None` when the batch has too many distinct texts.
fn pack_table(batch: &Batch) -> Option<Vec<u8>> {
    let mut index: foldhash::HashMap<&str, u16> = foldhash::HashMap::default();
    let mut table: Vec<&str> = Vec::new();
    let mut refs: Vec<u16> = Vec::with_capacity(batch.spans.len() * TEXTS);
    for s in &batch.spans {
        for text in texts(batch, s) {
            refs.push(match text {
                None => NO_TEXT,
                Some(text) => match index.get(text) {
                    Some(&i) => i,
                    None => {
                        let i = u16::try_from(table.len()).ok().filter(|&i| i != NO_TEXT)?;
                        index.insert(text, i);
                        table.push(text);
                        i
                    }
                },
            });
        }
    }
    let table_bytes: usize = table.iter().map(|t| 4 + t.len()).sum();
    let mut data = Vec::with_capacity(3 + table_bytes + batch.spans.len() * (FIXED + 2 * TEXTS));
    data.push(TABLE);
    data.extend_from_slice(&(table.len() as u16).to_be_bytes());
    for text in table {
        push_text(&mut data, Some(text));
    }
    for (s, refs) in batch.spans.iter().zip(refs.chunks_exact(TEXTS)) {
        push_fixed(&mut data, s);
        for r in refs {
            data.extend_from_slice(&r.to_be_bytes());
        }
    }
    Some(data)
}

/// Format 1.
fn pack_inline(batch: &Batch) -> Vec<u8> {
    let mut data = Vec::with_capacity(1 + batch.spans.len() * (FIXED + 64));
    data.push(INLINE);
    for s in &batch.spans {
        push_fixed(&mut data, s);
        for text in texts(batch, s) {
            push_text(&mut data, text);
        }
    }
    data
}

fn texts<'a>(batch: &'a Batch, s: &'a Span) -> [Option<&'a str>; TEXTS] {
    let d = &s.derived;
    [
        Some(&batch.resources[s.resource_idx].service),
        Some(&s.name),
        d.http_route.as_deref(),
        d.http_method.as_deref(),
        d.rpc_service.as_deref(),
        d.rpc_method.as_deref(),
        d.db_system.as_deref(),
    ]
}

fn push_fixed(data: &mut Vec<u8>, s: &Span) {
    data.extend_from_slice(&s.trace_id);
    data.extend_from_slice(&s.span_id);
    data.extend_from_slice(&s.parent_span_id.unwrap_or_default());
    data.extend_from_slice(&s.start_time_unix_nano.to_be_bytes());
    data.extend_from_slice(&s.end_time_unix_nano.to_be_bytes());
    // OTLP's kinds are 0..=5; the field is a byte wide.
    data.push(u8::try_from(s.kind.as_i32()).unwrap_or(0));
    data.push(u8::from(s.derived.is_error));
    let wire_bytes = i32::try_from(s.wire_bytes).unwrap_or(i32::MAX);
    data.extend_from_slice(&wire_bytes.to_be_bytes());
}

fn push_text(data: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => {
            // A text over 4 GiB cannot pass the body limit.
            let len = u32::try_from(text.len()).unwrap_or(NONE - 1);
            data.extend_from_slice(&len.to_be_bytes());
            data.extend_from_slice(&text.as_bytes()[..len as usize]);
        }
        None => data.extend_from_slice(&NONE.to_be_bytes()),
    }
}

/// Reads packs back, sharing each distinct text among the spans that name it
/// (a day of spans repeats a few dozen names a million times).
#[derive(Default)]
pub struct Unpacker {
    names: Names,
    table: Vec<Arc<str>>,
    /// The last compressed pack's bytes, the buffer reused.
    unzipped: Vec<u8>,
    unzip: Option<zstd::bulk::Decompressor<'static>>,
}

impl Unpacker {
    /// Every span of `data`, in pack order (a start at `i64::MAX` too).
    pub fn all(&mut self, data: &[u8]) -> Result<Vec<ReportSpan>> {
        let mut spans = Vec::new();
        self.each(data, &mut |s| spans.push(s))?;
        Ok(spans)
    }

    /// Hands `each` every span of `data`, in pack order.
    pub fn each(&mut self, data: &[u8], each: &mut impl FnMut(ReportSpan)) -> Result<()> {
        self.unpack_in(data, &|_| true, each)
    }

    /// Hands `each` every span of `data` that started in `[start, end)`.
    pub fn unpack(
        &mut self,
        data: &[u8],
        start: i64,
        end: i64,
        each: &mut impl FnMut(ReportSpan),
    ) -> Result<()> {
        self.unpack_in(data, &|t| t >= start && t < end, each)
    }

    /// Hands `each` every span of `data` whose start `within` accepts.
    fn unpack_in(
        &mut self,
        data: &[u8],
        within: &dyn Fn(i64) -> bool,
        each: &mut impl FnMut(ReportSpan),
    ) -> Result<()> {
        if data.first() != Some(&ZSTD) {
            return self.unpack_plain(data, within, each);
        }
        let frame = &data[1..];
        let size = match zstd::zstd_safe::get_frame_content_size(frame) {
            Ok(Some(size)) if size <= MAX_UNPACKED => size as usize,
            _ => return Err(corrupt("not a zstd frame of a sane size".into())),
        };
        let mut unzipped = std::mem::take(&mut self.unzipped);
        unzipped.clear();
        unzipped.reserve(size);
        let unzip = match &mut self.unzip {
            Some(unzip) => unzip,
            empty => empty.insert(
                zstd::bulk::Decompressor::new().map_err(|e| corrupt(format!("zstd: {e}")))?,
            ),
        };
        let read = match unzip.decompress_to_buffer(frame, &mut unzipped) {
            Ok(n) if n == size => match unzipped.first() {
                Some(&ZSTD) => Err(corrupt("compressed twice".into())),
                _ => self.unpack_plain(&unzipped, within, each),
            },
            Ok(_) => Err(corrupt("shorter than its frame says".into())),
            Err(e) => Err(corrupt(format!("zstd: {e}"))),
        };
        self.unzipped = unzipped;
        read
    }

    /// Formats 1 and 2.
    fn unpack_plain(
        &mut self,
        data: &[u8],
        within: &dyn Fn(i64) -> bool,
        each: &mut impl FnMut(ReportSpan),
    ) -> Result<()> {
        let mut r = Reader { data, at: 0 };
        let [format] = r.array()?;
        if format == TABLE {
            let n = u16::from_be_bytes(r.array()?);
            self.table.clear();
            for _ in 0..n {
                let text = inline_text(&mut r, &mut self.names)?
                    .ok_or_else(|| corrupt("a table entry of no text".into()))?;
                self.table.push(text);
            }
        } else if format != INLINE {
            return Err(corrupt(format!("unknown format {format}")));
        }
        while r.at < data.len() {
            let fixed: [u8; FIXED] = r.array()?;
            let field = |at: usize, n: usize| &fixed[at..at + n];
            let trace_id: TraceId = field(0, 16).try_into().expect("16 bytes");
            let span_id: SpanId = field(16, 8).try_into().expect("8 bytes");
            let parent: SpanId = field(24, 8).try_into().expect("8 bytes");
            let start_ns = i64::from_be_bytes(field(32, 8).try_into().expect("8 bytes"));
            let end_ns = i64::from_be_bytes(field(40, 8).try_into().expect("8 bytes"));
            let (kind, is_error) = (fixed[48], fixed[49]);
            let wire_bytes = i32::from_be_bytes(field(50, 4).try_into().expect("4 bytes"));
            let mut texts: [Option<Arc<str>>; TEXTS] = Default::default();
            if !within(start_ns) {
                // Skipped, but read: the next span starts after its texts.
                if format == TABLE {
                    r.take(2 * TEXTS)?;
                } else {
                    for _ in 0..TEXTS {
                        let len = u32::from_be_bytes(r.array()?);
                        if len != NONE {
                            r.take(len as usize)?;
                        }
                    }
                }
                continue;
            }
            if format == TABLE {
                let refs: [u8; 2 * TEXTS] = r.array()?;
                for (text, i) in texts.iter_mut().zip(refs.chunks_exact(2)) {
                    *text = match u16::from_be_bytes([i[0], i[1]]) {
                        NO_TEXT => None,
                        i => Some(
                            self.table
                                .get(usize::from(i))
                                .ok_or_else(|| corrupt(format!("text {i} is not in the table")))?
                                .clone(),
                        ),
                    };
                }
            } else {
                for text in &mut texts {
                    *text = inline_text(&mut r, &mut self.names)?;
                }
            }
            let [
                service,
                name,
                http_route,
                http_method,
                rpc_service,
                rpc_method,
                db_system,
            ] = texts;
            each(ReportSpan {
                trace_id,
                span_id,
                parent_span_id: (parent != SpanId::default()).then_some(parent),
                service: service.ok_or_else(|| corrupt("a span without a service".into()))?,
                name: name.ok_or_else(|| corrupt("a span without a name".into()))?,
                kind: i32::from(kind),
                start_ns,
                end_ns,
                is_error: is_error != 0,
                http_route,
                http_method,
                rpc_service,
                rpc_method,
                db_system,
                wire_bytes: i64::from(wire_bytes),
            });
        }
        Ok(())
    }
}

/// Each distinct name allocated once per read, then shared by the spans
/// that carry it.
#[derive(Default)]
struct Names(foldhash::HashMap<Box<[u8]>, Arc<str>>);

impl Names {
    /// Past this many distinct names (ids used as span names, say) the map
    /// starts over rather than grow without bound.
    const MAX: usize = 65_536;

    fn get(&mut self, bytes: &[u8]) -> Arc<str> {
        if let Some(name) = self.0.get(bytes) {
            return name.clone();
        }
        if self.0.len() >= Self::MAX {
            self.0.clear();
        }
        let name: Arc<str> = String::from_utf8_lossy(bytes).into();
        self.0.insert(bytes.into(), name.clone());
        name
    }
}

fn inline_text(r: &mut Reader<'_>, names: &mut Names) -> Result<Option<Arc<str>>> {
    let len = u32::from_be_bytes(r.array()?);
    if len == NONE {
        return Ok(None);
    }
    Ok(Some(names.get(r.take(len as usize)?)))
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let bytes = self
            .data
            .get(self.at..self.at.saturating_add(n))
            .ok_or_else(|| corrupt(format!("cut short at byte {}", self.at)))?;
        self.at += n;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("take(N) is N bytes"))
    }
}

fn corrupt(what: String) -> StoreError {
    StoreError::Corrupt(format!("packed spans: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Derived, Resource, Span, SpanKind};
    use crate::value::Attributes;

    fn span(trace: u8, id: u8, parent: Option<u8>, start: i64, derived: Derived) -> Span {
        let mut span =
            crate::testing::span(trace, id, parent, start, start.saturating_add(7), false);
        span.resource_idx = usize::from(id % 2);
        span.kind = SpanKind::Client;
        span.derived = derived;
        span.wire_bytes = u32::from(id) * 100;
        span
    }

    fn batch(spans: Vec<Span>) -> Batch {
        let resource = |service: &str| Resource {
            service: service.into(),
            attributes: Attributes::default(),
            dropped_attributes_count: 0,
            schema_url: String::new(),
        };
        Batch {
            resources: vec![resource("api"), resource("ünïcode")],
            spans,
            ..Batch::default()
        }
    }

    fn details(b: &Batch) -> Vec<SpanDetail> {
        vec![SpanDetail::default(); b.spans.len()]
    }

    /// The pack a format-3 pack holds.
    fn inner(data: &[u8]) -> Vec<u8> {
        assert_eq!(data[0], ZSTD);
        zstd::decode_all(&data[1..]).expect("a zstd frame")
    }

    fn unpack(data: &[u8], start: i64, end: i64) -> Result<Vec<ReportSpan>> {
        let mut got = Vec::new();
        Unpacker::default().unpack(data, start, end, &mut |s| got.push(s))?;
        Ok(got)
    }

    #[test]
    fn spans_come_back_as_they_were_packed() {
        let derived = Derived {
            is_error: true,
            http_route: Some("/orders/{id}".into()),
            http_method: Some("POST".into()),
            rpc_service: Some(String::new()),
            rpc_method: None,
            db_system: Some("postgresql".into()),
            ..Derived::default()
        };
        let b = batch(vec![
            span(1, 1, None, 300, derived),
            span(1, 2, Some(1), 100, Derived::default()),
        ]);
        let pack = pack(&b, &details(&b)).expect("packed").expect("a pack");
        assert_eq!((pack.start_lo, pack.start_hi, pack.spans), (100, 300, 2));
        assert_eq!(pack.data[0], ZSTD);
        assert_eq!(inner(&pack.data)[0], TABLE);
        let table = unpack(&pack.data, i64::MIN, i64::MAX).expect("unpack");
        let inline = unpack(&pack_inline(&b), i64::MIN, i64::MAX).expect("unpack format 1");
        assert_eq!(inline, table);
        let plain = unpack(&inner(&pack.data), i64::MIN, i64::MAX).expect("unpack format 2");
        assert_eq!(plain, table);
        let got = table;
        let first = &got[0];
        assert_eq!(first.trace_id, [1; 16]);
        assert_eq!(first.span_id, [1; 8]);
        assert_eq!(first.parent_span_id, None);
        assert_eq!(&*first.service, "ünïcode");
        assert_eq!(&*first.name, "op1");
        assert_eq!(first.kind, 3);
        assert_eq!((first.start_ns, first.end_ns), (300, 307));
        assert!(first.is_error);
        assert_eq!(first.http_route.as_deref(), Some("/orders/{id}"));
        assert_eq!(first.http_method.as_deref(), Some("POST"));
        assert_eq!(first.rpc_service.as_deref(), Some(""));
        assert_eq!(first.rpc_method, None);
        assert_eq!(first.db_system.as_deref(), Some("postgresql"));
        assert_eq!(first.wire_bytes, 100);
        let second = &got[1];
        assert_eq!(second.parent_span_id, Some([1; 8]));
        assert_eq!(&*second.service, "api");
        assert!(!second.is_error);
        assert_eq!(second.http_route, None);
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn only_spans_started_inside_the_window_are_handed_on() {
        let b = batch(
            (1..=5)
                .map(|i| span(1, i, None, i64::from(i) * 10, Derived::default()))
                .collect(),
        );
        let packed = pack(&b, &details(&b))
            .expect("packed")
            .expect("a pack")
            .data;
        for data in [inner(&packed), packed, pack_inline(&b)] {
            for (start, end, want) in [
                (0, 100, vec![10, 20, 30, 40, 50]),
                (20, 40, vec![20, 30]),
                (50, 51, vec![50]),
                (51, 100, vec![]),
            ] {
                let got: Vec<i64> = unpack(&data, start, end)
                    .expect("unpack")
                    .iter()
                    .map(|s| s.start_ns)
                    .collect();
                assert_eq!(got, want, "[{start}, {end}) of format {}", data[0]);
            }
        }
    }

    #[test]
    fn a_batch_of_more_distinct_texts_than_a_table_holds_is_packed_inline() {
        let mut spans: Vec<Span> = (0..70_000u32)
            .map(|i| span(1, 1, None, i64::from(i), Derived::default()))
            .collect();
        for (i, s) in spans.iter_mut().enumerate() {
            s.name = format!("name {i}");
        }
        let b = batch(spans);
        let data = pack(&b, &details(&b))
            .expect("packed")
            .expect("a pack")
            .data;
        assert_eq!(inner(&data)[0], INLINE);
        let got = unpack(&data, 0, i64::MAX).expect("unpack");
        assert_eq!(got.len(), 70_000);
        assert_eq!(&*got[69_999].name, "name 69999");
    }

    #[test]
    fn every_span_comes_back_whatever_its_start() {
        let b = batch(vec![
            span(1, 1, None, i64::MAX, Derived::default()),
            span(1, 2, None, i64::MIN, Derived::default()),
        ]);
        let data = pack(&b, &details(&b))
            .expect("packed")
            .expect("a pack")
            .data;
        let starts: Vec<i64> = Unpacker::default()
            .all(&data)
            .expect("unpack")
            .iter()
            .map(|s| s.start_ns)
            .collect();
        assert_eq!(starts, [i64::MAX, i64::MIN]);
    }

    #[test]
    fn a_batch_without_spans_packs_nothing() {
        assert_eq!(pack(&batch(vec![]), &[]).expect("packed"), None);
    }

    #[test]
    fn texts_are_shared_among_the_spans_that_name_them() {
        let b = batch(vec![
            span(1, 2, None, 1, Derived::default()),
            span(1, 4, None, 2, Derived::default()),
        ]);
        let got = unpack(
            &pack(&b, &details(&b))
                .expect("packed")
                .expect("a pack")
                .data,
            0,
            10,
        )
        .expect("unpack");
        assert!(Arc::ptr_eq(&got[0].service, &got[1].service));
    }

    #[test]
    fn damaged_packs_are_refused_not_misread() {
        let b = batch(vec![span(1, 2, None, 1, Derived::default())]);
        let packed = pack(&b, &details(&b))
            .expect("packed")
            .expect("a pack")
            .data;
        let data = inner(&packed);
        let inline = pack_inline(&b);
        let mut out_of_table = data.clone();
        let last = out_of_table.len() - 2;
        out_of_table[last..].copy_from_slice(&9u16.to_be_bytes());
        for (bytes, why) in [
            (&data[..data.len() - 1], "cut short"),
            (&data[..FIXED], "cut short"),
            (&inline[..inline.len() - 1], "cut short"),
            (&inline[..FIXED], "cut short"),
            (&out_of_table[..], "text 9 is not in the table"),
            (&[4u8][..], "unknown format 4"),
            (&[3u8][..], "not a zstd frame"),
            (&compress(&packed)[..], "compressed twice"),
            (&packed[..packed.len() - 3], "zstd"),
            (&compress(&data[..data.len() - 1])[..], "cut short"),
            (&[][..], "cut short"),
        ] {
            let err = unpack(bytes, 0, 10).expect_err(why);
            assert!(err.to_string().contains(why), "{why}: {err}");
        }
    }

    /// Whatever a pack's bytes are (a disk fault, a bug, a hand-edited
    /// file), reading them gives spans or an error, never a panic: random
    /// bytes in each format, and real packs with bytes flipped or cut.
    mod hostile {
        use super::*;
        use proptest::prelude::*;

        fn packs() -> Vec<Vec<u8>> {
            let b = batch(
                (1..=20)
                    .map(|i| {
                        span(
                            i % 3,
                            i,
                            (i > 1).then_some(1),
                            i64::from(i) * 10,
                            Derived::default(),
                        )
                    })
                    .collect(),
            );
            let zipped = pack(&b, &details(&b))
                .expect("packed")
                .expect("a pack")
                .data;
            vec![inner(&zipped), pack_inline(&b), zipped]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn random_bytes(format in prop::sample::select(vec![ZSTD, TABLE, 1u8, 0u8, 255u8]),
                            body in prop::collection::vec(any::<u8>(), 0..512)) {
                let mut data = vec![format];
                data.extend(body);
                let _ = unpack(&data, i64::MIN, i64::MAX);
                let _ = crate::details::decode(&data, 20);
            }

            #[test]
            fn edited_packs(which in 0usize..3,
                            flips in prop::collection::vec((any::<usize>(), 1u8..=255), 0..4),
                            cut in any::<usize>()) {
                let mut data = packs().swap_remove(which);
                for (at, bits) in flips {
                    let at = at % data.len();
                    data[at] ^= bits;
                }
                data.truncate(cut % (data.len() + 1));
                let _ = unpack(&data, i64::MIN, i64::MAX);
            }
        }
    }
}
