//! The decoding budget's estimates against what decoding really asks the
//! allocator for, counted by this test binary's own allocator: each estimate
//! must be an upper bound, not a loose one, and an ordinary export must fit
//! the budget whatever its size.

// A global allocator can only be written with `unsafe`; this one only counts.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use collector::decode::{self, Kind};
use collector::ingest::DECODED_PER_BODY_BYTE;
use collector::otlp_json;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::json;

mod fixtures;
use fixtures::{json_logs, json_traces, logs, metrics, traces};

struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grow(bytes: usize) {
    let live = LIVE.get() + bytes;
    LIVE.set(live);
    PEAK.set(PEAK.get().max(live));
}

fn shrink(bytes: usize) {
    LIVE.set(LIVE.get().saturating_sub(bytes));
}

// SAFETY: every call is passed on to the system allocator unchanged; the
// counters are thread-local cells that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: the caller's layout, passed on as the trait requires.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrink(layout.size());
        // SAFETY: `ptr` came from `System` with this layout (every allocation here does).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            grow(new_size - layout.size());
        } else {
            shrink(layout.size() - new_size);
        }
        // SAFETY: as for `dealloc`; `new_size` is the caller's, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most bytes live at once, beyond those live before, while `f` runs
/// (what it returns is dropped inside).
fn peak<T>(f: impl FnOnce() -> T) -> usize {
    let before = LIVE.get();
    PEAK.set(before);
    drop(f());
    PEAK.get() - before
}

/// `n` copies of a field `tag` holding `inner`, wrapped in `outer` levels
/// of (tag, message) from the outermost in.
fn repeated(tag: u8, inner: &[u8], n: usize, outer: &[u8]) -> Vec<u8> {
    let mut one = vec![tag << 3 | 2];
    prost::encoding::encode_varint(inner.len() as u64, &mut one);
    one.extend_from_slice(inner);
    let mut body = one.repeat(n);
    for &tag in outer.iter().rev() {
        let mut wrapped = vec![tag << 3 | 2];
        prost::encoding::encode_varint(body.len() as u64, &mut wrapped);
        wrapped.extend_from_slice(&body);
        body = wrapped;
    }
    body
}

struct Case {
    name: &'static str,
    body: Vec<u8>,
    /// Protobuf layout, or `None` for JSON.
    kind: Option<&'static Kind>,
    measure: fn(&[u8]) -> usize,
    /// An export a real SDK would send, which must fit the budget.
    ordinary: bool,
}

fn protobuf<T: Message + Default>(
    name: &'static str,
    body: Vec<u8>,
    kind: &'static Kind,
    ordinary: bool,
) -> Case {
    Case {
        name,
        body,
        kind: Some(kind),
        measure: |body| {
            let body = Bytes::copy_from_slice(body);
            peak(|| T::decode(body).unwrap())
        },
        ordinary,
    }
}

fn json_case(
    name: &'static str,
    body: serde_json::Value,
    decode: fn(&[u8]) -> usize,
    ordinary: bool,
) -> Case {
    Case {
        name,
        body: body.to_string().into_bytes(),
        kind: None,
        measure: decode,
        ordinary,
    }
}

fn cases() -> Vec<Case> {
    let traces_json = |b: &[u8]| peak(|| otlp_json::decode_traces(b).unwrap());
    let logs_json = |b: &[u8]| peak(|| otlp_json::decode_logs(b).unwrap());
    let metrics_json = |b: &[u8]| peak(|| otlp_json::decode_metrics(b).unwrap());
    let nested = (0..25).fold(
        json!({"stringValue": "leaf"}),
        |v, _| json!({"kvlistValue": {"values": [{"key": "k", "value": v}]}}),
    );
    vec![
        protobuf::<ExportTraceServiceRequest>(
            "spans with attributes, events, links",
            traces(300).encode_to_vec(),
            &decode::TRACES,
            true,
        ),
        protobuf::<ExportTraceServiceRequest>(
            "empty resources",
            repeated(1, &[], 50_000, &[]),
            &decode::TRACES,
            false,
        ),
        protobuf::<ExportTraceServiceRequest>(
            "empty spans",
            repeated(2, &[], 50_000, &[1, 2]),
            &decode::TRACES,
            false,
        ),
        protobuf::<ExportTraceServiceRequest>(
            "empty attributes",
            repeated(9, &[], 50_000, &[1, 2, 2]),
            &decode::TRACES,
            false,
        ),
        protobuf::<ExportTraceServiceRequest>(
            "empty array values",
            repeated(1, &[], 50_000, &[1, 2, 2, 9, 2, 5]),
            &decode::TRACES,
            false,
        ),
        protobuf::<ExportTraceServiceRequest>(
            "empty entity ref keys",
            repeated(3, &[], 50_000, &[1, 1, 3]),
            &decode::TRACES,
            false,
        ),
        protobuf::<ExportLogsServiceRequest>(
            "log records",
            logs(500).encode_to_vec(),
            &decode::LOGS,
            true,
        ),
        protobuf::<ExportLogsServiceRequest>(
            "empty log records",
            repeated(2, &[], 50_000, &[1, 2]),
            &decode::LOGS,
            false,
        ),
        protobuf::<ExportMetricsServiceRequest>(
            "points of every kind",
            metrics(200).encode_to_vec(),
            &decode::METRICS,
            true,
        ),
        protobuf::<ExportMetricsServiceRequest>(
            "empty number points",
            repeated(1, &[], 50_000, &[1, 2, 2, 5]),
            &decode::METRICS,
            false,
        ),
        protobuf::<ExportMetricsServiceRequest>(
            "packed exponential bucket counts of one byte",
            repeated(2, &[0; 100_000], 1, &[1, 2, 2, 10, 1, 8]),
            &decode::METRICS,
            false,
        ),
        json_case("spans (JSON)", json_traces(300), traces_json, true),
        json_case(
            "empty resources (JSON)",
            json!({"resourceSpans": vec![json!({}); 50_000]}),
            traces_json,
            false,
        ),
        json_case(
            "empty spans (JSON)",
            json!({"resourceSpans": [{"scopeSpans": [{"spans": vec![json!({}); 50_000]}]}]}),
            traces_json,
            false,
        ),
        json_case("log records (JSON)", json_logs(500), logs_json, true),
        json_case(
            "nested attribute maps (JSON)",
            json!({"resourceLogs": [{"scopeLogs": [{"logRecords": vec![json!({"body": nested}); 200]}]}]}),
            logs_json,
            false,
        ),
        json_case(
            "empty number points (JSON)",
            json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m", "gauge": {"dataPoints": vec![json!({}); 50_000]}}]}]}]}),
            metrics_json,
            false,
        ),
    ]
}

#[test]
fn estimates_bound_what_decoding_allocates() {
    for case in cases() {
        let estimate = match case.kind {
            Some(kind) => decode::protobuf_cost(&case.body, kind, usize::MAX).unwrap(),
            None => decode::json_cost(&case.body),
        };
        let measured = (case.measure)(&case.body);
        let wire = case.body.len();
        println!(
            "{:45} wire {wire:>9}  decoded {measured:>10} ({:>5.1}x)  estimate {estimate:>10} ({:.2} of decoded)",
            case.name,
            measured as f64 / wire as f64,
            estimate as f64 / measured as f64,
        );
        assert!(
            estimate >= measured,
            "{}: estimated {estimate} bytes, decoding took {measured}",
            case.name
        );
        assert!(
            estimate <= 4 * measured,
            "{}: estimated {estimate} bytes, far above the {measured} decoding took",
            case.name
        );
        if case.ordinary {
            assert!(
                estimate <= wire * DECODED_PER_BODY_BYTE,
                "{}: an ordinary export of {wire} bytes is estimated at {estimate}, past the budget",
                case.name
            );
        }
    }
}

#[test]
fn the_walk_stops_at_the_budget_and_at_broken_structure() {
    let bomb = repeated(1, &[], 1_000_000, &[]);
    assert!(matches!(
        decode::protobuf_cost(&bomb, &decode::TRACES, 1_000_000),
        Err(decode::DecodeError::TooLarge(_))
    ));
    for broken in [
        &[0x0a, 0x05, 0x00][..], // length past the end
        &[0x0a, 0x80][..],       // varint cut short
        &[0x0f][..],             // wire type 7
        &[0x0b, 0x10, 0x01][..], // group never closed
    ] {
        assert!(
            matches!(
                decode::protobuf_cost(broken, &decode::TRACES, usize::MAX),
                Err(decode::DecodeError::Invalid(_))
            ),
            "{broken:?}"
        );
    }
    // An unknown group is skipped, as the decoder skips it.
    assert_eq!(
        decode::protobuf_cost(&[0x0b, 0x10, 0x01, 0x0c], &decode::TRACES, usize::MAX),
        Ok(0)
    );
}
