//! What the cases share: writing a batch as the pipeline does, reading
//! the totals, searching logs, and attributes of every kind of value.

use store::value::{Attributes, Value};
use store::{Batch, LogQuery, LogView};
use store::{MetricPointView, Stats};

use crate::fixtures::*;
use crate::harness::{Ctx, write_to};

pub const ZERO_STATS: Stats = Stats {
    spans: 0,
    logs: 0,
    metric_points: 0,
    traces: 0,
    services: 0,
};

pub async fn write(ctx: &Ctx, batch: &Batch) {
    write_to(&ctx.store, batch.clone())
        .await
        .unwrap_or_else(|e| panic!("[{:?}] write_batch failed: {e}", ctx.backend));
}

pub async fn stats(ctx: &Ctx) -> Stats {
    ctx.store.reader().stats().await.expect("stats")
}

pub async fn search(ctx: &Ctx, query: LogQuery) -> Vec<LogView> {
    ctx.store
        .reader()
        .logs(&query)
        .await
        .unwrap_or_else(|e| panic!("[{:?}] logs({query:?}) failed: {e}", ctx.backend))
}

/// The `n` attribute the log-search fixtures carry, in result order.
pub fn ns(logs: &[LogView]) -> Vec<i64> {
    logs.iter()
        .map(|log| match log.attributes.get("n") {
            Some(Value::Int(n)) => *n,
            other => panic!("log without an int `n` attribute: {other:?}"),
        })
        .collect()
}

pub fn all(limit: u32) -> LogQuery {
    LogQuery {
        limit,
        ..LogQuery::default()
    }
}

// ---------------------------------------------------------------------------

/// Attributes holding every kind of value, and the edges of each.
pub fn every_value() -> Attributes {
    let mut attributes = attrs([
        ("string", s("hello \"world\" ünïcödé 🚀\n\t\\ \u{7f} end")),
        ("string.empty", s("")),
        ("string.json", s("{\"$bytes\":\"AP8H\"}")),
        ("bool.true", Value::Bool(true)),
        ("bool.false", Value::Bool(false)),
        ("int.one", Value::Int(1)),
        ("double.one", Value::Double(1.0)),
        ("int.zero", Value::Int(0)),
        ("double.zero", Value::Double(0.0)),
        ("double.negative_zero", Value::Double(-0.0)),
        ("int.max", Value::Int(i64::MAX)),
        ("int.min", Value::Int(i64::MIN)),
        ("double.tenth", Value::Double(0.1)),
        ("double.sum", Value::Double(0.1 + 0.2)),
        ("double.2^53+1", Value::Double(9_007_199_254_740_993_f64)),
        ("double.1e23", Value::Double(1e23)),
        ("double.big_integral", Value::Double(1e20)),
        ("double.max", Value::Double(f64::MAX)),
        ("double.min", Value::Double(f64::MIN)),
        ("double.min_positive", Value::Double(f64::MIN_POSITIVE)),
        ("double.subnormal", Value::Double(5e-324)),
        ("double.negative", Value::Double(-2.5)),
        ("double.nan", Value::Double(f64::NAN)),
        ("double.infinity", Value::Double(f64::INFINITY)),
        ("double.negative_infinity", Value::Double(f64::NEG_INFINITY)),
        ("bytes", Value::Bytes(vec![0, 1, 0x7f, 0x80, 0xfe, 0xff])),
        ("bytes.empty", Value::Bytes(Vec::new())),
        ("empty", Value::Empty),
        (
            "array",
            Value::Array(vec![
                Value::Int(1),
                Value::Double(1.0),
                s("1"),
                Value::Bool(true),
                Value::Empty,
                Value::Bytes(vec![9]),
                Value::Double(f64::NAN),
                Value::Array(vec![Value::Array(Vec::new())]),
                map([("in.array", Value::Int(2))]),
            ]),
        ),
        ("array.empty", Value::Array(Vec::new())),
        (
            "map",
            map([
                ("$dollar", s("a key starting with $")),
                ("$$two", s("two dollars")),
                ("$double", s("NaN")),
                ("", s("the empty key")),
                ("z", Value::Int(1)),
                ("a", Value::Int(2)),
                (
                    "nested",
                    map([(
                        "deeper",
                        Value::Array(vec![map([("leaf", Value::Double(f64::NEG_INFINITY))])]),
                    )]),
                ),
            ]),
        ),
        ("map.empty", Value::Map(Attributes::default())),
        // One-key maps that look like the store's own tags stay maps.
        ("map.bytes_lookalike", map([("$bytes", s("AP8H"))])),
        ("map.double_lookalike", map([("$double", s("NaN"))])),
        ("$top.level", s("a top-level key starting with $")),
        ("", s("the empty key")),
    ]);
    attributes.0.push((
        "double.awkward".to_owned(),
        Value::Array(awkward_doubles(64).into_iter().map(Value::Double).collect()),
    ));
    attributes
}

pub async fn points(ctx: &Ctx, name: &str, limit: u32) -> Vec<MetricPointView> {
    ctx.store
        .reader()
        .metric_points(name, limit)
        .await
        .unwrap_or_else(|e| panic!("[{:?}] metric_points({name}) failed: {e}", ctx.backend))
}

/// Three traces: 1 fails in `db` and is slow, 2 is healthy, 3 has no root yet.
pub fn search_traces() -> Batch {
    let mut checkout_root = timed(span(tid(1), sid(1), None, "POST /checkout"), T0, T0 + 900);
    checkout_root.attributes = attrs([
        ("http.route", s("/checkout")),
        ("retries", Value::Int(2)),
        ("cached", Value::Bool(false)),
    ]);
    let db_call = failed(on_resource(
        timed(
            span(tid(1), sid(2), Some(sid(1)), "SELECT orders"),
            T0 + 100,
            T0 + 800,
        ),
        1,
    ));
    let mut cart_root = timed(
        span(tid(2), sid(3), None, "GET /cart"),
        T0 + 2_000,
        T0 + 2_050,
    );
    cart_root.attributes = attrs([
        ("http.route", s("/cart")),
        ("$odd", s("yes")),
        ("city", s("Zürich")),
        ("greeting", s("say \"hi\"")),
    ]);
    let orphan = on_resource(
        timed(
            span(tid(3), sid(4), Some(sid(99)), "consume"),
            T0 + 5_000,
            T0 + 5_010,
        ),
        1,
    );
    Batch {
        resources: vec![resource("gateway"), resource("db")],
        scopes: vec![scope("conformance")],
        spans: vec![checkout_root, db_call, cart_root, orphan],
        ..Batch::default()
    }
}

pub fn attr(text: &str) -> store::AttributeFilter {
    store::AttributeFilter::parse(text).unwrap_or_else(|| panic!("{text} parses"))
}
