//! Decoding an export body, with a bound on the memory it may take.
//!
//! An export's size on the wire says little about its size once decoded: an
//! empty `ResourceSpans` is two bytes of protobuf and over a hundred bytes of
//! struct, so 16 MB of them (16 KB gzipped) decode into gigabytes. Before a
//! body is decoded its structure is walked, without allocating, adding up
//! what decoding will allocate; past the budget the export is refused and
//! nothing is allocated. The walk is linear in the body and stops as soon as
//! the budget is passed.
//!
//! The figures are upper bounds of what the decoders ask the allocator for
//! (checked against a counting allocator in `tests/decode_memory.rs`).

use std::io::Read as _;
use std::mem::size_of;

use bytes::Bytes;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

/// How an export body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

/// Why a body was not decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Past a bound; a smaller batch would fit.
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Invalid(String),
}

/// What one protobuf message type costs to decode: its struct, and what
/// each of its fields adds on the heap.
pub struct Kind {
    size: usize,
    field: fn(u32) -> Field,
}

#[derive(Clone, Copy)]
enum Field {
    /// Skipped by the decoder, or decoded into the struct itself.
    Free,
    /// An embedded message held in its parent (an optional field, a oneof).
    Inline(&'static Kind),
    /// One element of a repeated message field.
    Element(&'static Kind),
    /// A string or bytes field: its length on the heap.
    Text,
    /// One element of a repeated string field.
    TextElement,
    /// A repeated scalar, packed or not: eight bytes an element.
    Scalars,
}

/// Adds up what decoding `body` as `kind` allocates, refusing once the sum
/// passes `budget`. Structure the walk cannot follow is an error, as it is
/// for the decoder: nothing it skips can hide an allocation.
pub fn protobuf_cost(
    body: &[u8],
    kind: &'static Kind,
    budget: usize,
) -> Result<usize, DecodeError> {
    let mut walk = Walk { total: 0, budget };
    walk.message(body, kind, 0)?;
    Ok(walk.total)
}

/// The decoder's own nesting limit; deeper input is its error to report.
const MAX_DEPTH: u32 = 100;

struct Walk {
    total: usize,
    budget: usize,
}

impl Walk {
    fn add(&mut self, bytes: usize) -> Result<(), DecodeError> {
        self.total = self.total.saturating_add(bytes);
        if self.total > self.budget {
            return Err(over_budget(self.budget));
        }
        Ok(())
    }

    fn message(
        &mut self,
        mut buf: &[u8],
        kind: &'static Kind,
        depth: u32,
    ) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(invalid("recursion limit reached"));
        }
        // A repeated field's first element costs a vector of four (the
        // least a vector grows to); the others two each (it grows by
        // doubling). Its elements come one after another in practice; when
        // they do not, each run counts as a first.
        let mut last_tag = 0;
        while !buf.is_empty() {
            let key = varint(&mut buf)?;
            let tag = u32::try_from(key >> 3).map_err(|_| invalid("invalid key"))?;
            let field = (kind.field)(tag);
            let slots = if tag == last_tag { 2 } else { 4 };
            last_tag = tag;
            match key & 7 {
                0 | 1 | 5 => {
                    buf = match key & 7 {
                        0 => varint(&mut buf).map(|_| buf)?,
                        1 => advance(buf, 8)?,
                        _ => advance(buf, 4)?,
                    };
                    if let Field::Scalars = field {
                        self.add(slots * 8)?;
                    }
                }
                2 => {
                    let len = usize::try_from(varint(&mut buf)?).map_err(|_| invalid("length"))?;
                    let Some((inner, rest)) = buf.split_at_checked(len) else {
                        return Err(invalid("buffer underflow"));
                    };
                    buf = rest;
                    match field {
                        Field::Free => {}
                        Field::Inline(inner_kind) => self.message(inner, inner_kind, depth + 1)?,
                        Field::Element(inner_kind) => {
                            self.add(slots * inner_kind.size)?;
                            self.message(inner, inner_kind, depth + 1)?;
                        }
                        Field::Text => self.add(len)?,
                        Field::TextElement => self.add(slots * size_of::<String>() + len)?,
                        // Packed: as many varints as bytes that end one, or
                        // as many fixed-width values as fit.
                        Field::Scalars => {
                            let ends = inner.iter().filter(|b| **b < 0x80).count();
                            self.add(32 + 2 * (ends * 8).max(len))?;
                        }
                    }
                }
                3 => buf = skip_group(buf, tag, depth)?,
                _ => return Err(invalid("invalid wire type")),
            }
        }
        Ok(())
    }
}

fn over_budget(budget: usize) -> DecodeError {
    DecodeError::TooLarge(format!(
        "export would take more than {budget} bytes of memory to decode; send smaller batches"
    ))
}

/// Undoes gzip, refusing as soon as the output passes `limit` so that a
/// small gzip bomb costs only `limit` bytes of work.
pub fn gunzip(body: &[u8], limit: usize) -> Result<Bytes, DecodeError> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Invalid(format!("invalid gzip body: {e}")))?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge(format!(
            "decompressed body larger than {limit} bytes"
        )));
    }
    Ok(Bytes::from(out))
}

fn invalid(what: &str) -> DecodeError {
    DecodeError::Invalid(format!("invalid protobuf: {what}"))
}

fn varint(buf: &mut &[u8]) -> Result<u64, DecodeError> {
    let mut value = 0u64;
    for (i, &byte) in buf.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            *buf = &buf[i + 1..];
            return Ok(value);
        }
    }
    Err(invalid("invalid varint"))
}

fn advance(buf: &[u8], n: usize) -> Result<&[u8], DecodeError> {
    buf.get(n..).ok_or_else(|| invalid("buffer underflow"))
}

/// Skips a (deprecated) group up to its end marker, as the decoder does for
/// an unknown field: it allocates nothing.
fn skip_group(mut buf: &[u8], tag: u32, depth: u32) -> Result<&[u8], DecodeError> {
    if depth > MAX_DEPTH {
        return Err(invalid("recursion limit reached"));
    }
    loop {
        let key = varint(&mut buf)?;
        let inner = u32::try_from(key >> 3).map_err(|_| invalid("invalid key"))?;
        match key & 7 {
            0 => {
                varint(&mut buf)?;
            }
            1 => buf = advance(buf, 8)?,
            5 => buf = advance(buf, 4)?,
            2 => {
                let len = usize::try_from(varint(&mut buf)?).map_err(|_| invalid("length"))?;
                buf = advance(buf, len)?;
            }
            3 => buf = skip_group(buf, inner, depth + 1)?,
            4 if inner == tag => return Ok(buf),
            _ => return Err(invalid("unexpected end group")),
        }
    }
}

/// What decoding a JSON body allocates, at most: every JSON value (at most
/// one more than its commas, braces and brackets) as a `serde_json::Value`
/// in a map or array slot, twice over for the slack of growing them; every
/// object as the largest message it may become; every string twice (the
/// parsed value, then the message's copy).
pub fn json_cost(body: &[u8]) -> usize {
    let (mut commas, mut objects, mut arrays) = (0usize, 0usize, 0usize);
    let mut in_string = false;
    let mut escaped = false;
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b',' => commas += 1,
            b'{' => objects += 1,
            b'[' => arrays += 1,
            _ => {}
        }
    }
    let values = 1 + commas + objects + arrays;
    values
        .saturating_mul(2 * JSON_SLOT)
        .saturating_add(objects.saturating_mul(LARGEST_MESSAGE))
        .saturating_add(body.len().saturating_mul(2))
}

/// A parsed JSON value in its map entry: the value, the key's `String`, the
/// entry's hash and its index slot.
const JSON_SLOT: usize = size_of::<serde_json::Value>() + size_of::<String>() + 16;

const LARGEST_MESSAGE: usize = max(
    max(size_of::<Span>(), size_of::<LogRecord>()),
    max(
        size_of::<ExponentialHistogramDataPoint>(),
        size_of::<HistogramDataPoint>(),
    ),
);

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

/// Checks what decoding `body` would cost, then decodes it.
pub fn decode<T: prost::Message + Default>(
    body: Bytes,
    encoding: Encoding,
    kind: &'static Kind,
    json: fn(&[u8]) -> Result<T, crate::otlp_json::JsonError>,
    budget: usize,
) -> Result<T, DecodeError> {
    match encoding {
        Encoding::Protobuf => {
            protobuf_cost(&body, kind, budget)?;
            T::decode(body).map_err(|e| DecodeError::Invalid(format!("invalid protobuf: {e}")))
        }
        Encoding::Json => {
            if json_cost(&body) > budget {
                return Err(over_budget(budget));
            }
            json(&body).map_err(|e| DecodeError::Invalid(e.to_string()))
        }
    }
}

macro_rules! kind {
    ($name:ident: $ty:ty { $($tag:literal => $field:expr),* $(,)? }) => {
        pub static $name: Kind = Kind {
            size: size_of::<$ty>(),
            field: |tag| match tag {
                $($tag => $field,)*
                _ => Field::Free,
            },
        };
    };
}

use Field::{Element, Inline, Scalars, Text, TextElement};

kind!(TRACES: ExportTraceServiceRequest { 1 => Element(&RESOURCE_SPANS) });
kind!(LOGS: ExportLogsServiceRequest { 1 => Element(&RESOURCE_LOGS) });
kind!(METRICS: ExportMetricsServiceRequest { 1 => Element(&RESOURCE_METRICS) });

kind!(ANY_VALUE: AnyValue { 1 => Text, 5 => Inline(&ARRAY_VALUE), 6 => Inline(&KEY_VALUE_LIST), 7 => Text });
kind!(ARRAY_VALUE: ArrayValue { 1 => Element(&ANY_VALUE) });
kind!(KEY_VALUE_LIST: KeyValueList { 1 => Element(&KEY_VALUE) });
kind!(KEY_VALUE: KeyValue { 1 => Text, 2 => Inline(&ANY_VALUE) });
kind!(SCOPE: InstrumentationScope { 1 => Text, 2 => Text, 3 => Element(&KEY_VALUE) });
kind!(RESOURCE: Resource { 1 => Element(&KEY_VALUE), 3 => Element(&ENTITY_REF) });
kind!(ENTITY_REF: EntityRef { 1 => Text, 2 => Text, 3 => TextElement, 4 => TextElement });

kind!(RESOURCE_SPANS: ResourceSpans { 1 => Inline(&RESOURCE), 2 => Element(&SCOPE_SPANS), 3 => Text });
kind!(SCOPE_SPANS: ScopeSpans { 1 => Inline(&SCOPE), 2 => Element(&SPAN), 3 => Text });
kind!(SPAN: Span {
    1 => Text, 2 => Text, 3 => Text, 4 => Text, 5 => Text,
    9 => Element(&KEY_VALUE), 11 => Element(&EVENT), 13 => Element(&LINK), 15 => Inline(&STATUS),
});
kind!(EVENT: Event { 2 => Text, 3 => Element(&KEY_VALUE) });
kind!(LINK: Link { 1 => Text, 2 => Text, 3 => Text, 4 => Element(&KEY_VALUE) });
kind!(STATUS: Status { 2 => Text });

kind!(RESOURCE_LOGS: ResourceLogs { 1 => Inline(&RESOURCE), 2 => Element(&SCOPE_LOGS), 3 => Text });
kind!(SCOPE_LOGS: ScopeLogs { 1 => Inline(&SCOPE), 2 => Element(&LOG_RECORD), 3 => Text });
kind!(LOG_RECORD: LogRecord {
    3 => Text, 5 => Inline(&ANY_VALUE), 6 => Element(&KEY_VALUE), 9 => Text, 10 => Text, 12 => Text,
});

kind!(RESOURCE_METRICS: ResourceMetrics { 1 => Inline(&RESOURCE), 2 => Element(&SCOPE_METRICS), 3 => Text });
kind!(SCOPE_METRICS: ScopeMetrics { 1 => Inline(&SCOPE), 2 => Element(&METRIC), 3 => Text });
kind!(METRIC: Metric {
    1 => Text, 2 => Text, 3 => Text, 12 => Element(&KEY_VALUE),
    5 => Inline(&GAUGE), 7 => Inline(&SUM), 9 => Inline(&HISTOGRAM),
    10 => Inline(&EXPONENTIAL_HISTOGRAM), 11 => Inline(&SUMMARY),
});
kind!(GAUGE: Gauge { 1 => Element(&NUMBER_POINT) });
kind!(SUM: Sum { 1 => Element(&NUMBER_POINT) });
kind!(HISTOGRAM: Histogram { 1 => Element(&HISTOGRAM_POINT) });
kind!(EXPONENTIAL_HISTOGRAM: ExponentialHistogram { 1 => Element(&EXPONENTIAL_POINT) });
kind!(SUMMARY: Summary { 1 => Element(&SUMMARY_POINT) });
kind!(NUMBER_POINT: NumberDataPoint { 7 => Element(&KEY_VALUE), 5 => Element(&EXEMPLAR) });
kind!(HISTOGRAM_POINT: HistogramDataPoint {
    9 => Element(&KEY_VALUE), 6 => Scalars, 7 => Scalars, 8 => Element(&EXEMPLAR),
});
kind!(EXPONENTIAL_POINT: ExponentialHistogramDataPoint {
    1 => Element(&KEY_VALUE), 8 => Inline(&BUCKETS), 9 => Inline(&BUCKETS), 11 => Element(&EXEMPLAR),
});
kind!(BUCKETS: Buckets { 2 => Scalars });
kind!(SUMMARY_POINT: SummaryDataPoint { 7 => Element(&KEY_VALUE), 6 => Element(&QUANTILE) });
kind!(QUANTILE: ValueAtQuantile {});
kind!(EXEMPLAR: Exemplar { 7 => Element(&KEY_VALUE), 4 => Text, 5 => Text });
