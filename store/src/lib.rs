//! store: where telemetry lives. One `Store`, two backends (SQLite, the
//! embedded default, and PostgreSQL, for several loupe processes in front of
//! one database), one contract. It knows nothing of OTLP's wire types: the
//! collector translates. Every module, bottom layer first:
//!
//! - `error`: `StoreError`, the one error type.
//! - `runtime`: blocking sections inside tokio, lock timeouts.
//! - `value`: OpenTelemetry's AnyValue and attributes, and their JSON form.
//! - `model`: what is written: a `Batch` of spans, log records and metric
//!   points with their resources and scopes.
//! - `views`: what readers return, shaped as the JSON API serves it, and
//!   the queries they take.
//! - `report_rows`: the narrow rows the load and cost reports stream.
//! - `stored_json`: the JSON forms attributes, events and links are stored in.
//! - `fingerprint`: the keys resources, scopes and metric streams are interned by.
//! - `trace_lists`: a trace summary's lists of services and of packs.
//! - `log_text`: log bodies' words, as a search for words sees them.
//! - `framed`: a format byte and a zstd frame, the stored form of span
//!   details and log packs.
//! - `details`, `span_filter`, `packed`: the three parts of a pack of spans.
//! - `log_packs`: a pack of log records, its filters and the searches
//!   asked of it.
//! - `write_rows`: what a batch becomes on the write side (interned rows,
//!   trace summary deltas, counters).
//! - `prepared`: `PreparedBatch`, a batch packed ahead of its write.
//! - `retention`: what removing old data removes, step by step.
//! - `read_rows`: the rows the read queries fetch and their views.
//! - `pack_reads`: spans read back from packs; trace search's span conditions.
//! - `queries`: the read queries, written once and expanded into both backends.
//! - `sqlite_ffi`: SQLite's C API (the workspace's only `unsafe`).
//! - `sqlite_write`, `sqlite_sweep`, `sqlite`: the SQLite writer's
//!   transaction, its retention steps, the backend.
//! - `postgres_write`, `postgres_sweep`, `postgres`: the same for PostgreSQL.
//! - `legacy`: the conversion of databases older than packs (ADR 0011, 0022).
//! - `admin`: sizes of tables and indexes; fresh PostgreSQL databases and
//!   the server's WAL position, for `loupe bench`.
//! - `handles`: `Store`, the entry point, and the `Reader` and `Writer` it
//!   hands out.
//! - `testing` (tests only): what unit tests build batches from.

pub mod admin;
mod details;
mod error;
mod fingerprint;
mod framed;
mod handles;
pub mod keys;
mod legacy;
mod log_packs;
mod log_text;
pub mod model;
mod pack_reads;
mod pack_terms;
mod packed;
mod postgres;
mod postgres_sweep;
mod postgres_write;
mod prepared;
mod queries;
mod read_rows;
mod report_rollups;
pub mod report_rows;
pub mod retention;
pub mod rollup;
mod rollup_reads;
mod runtime;
pub mod sketch;
mod span_filter;
mod sqlite;
mod sqlite_ffi;
mod sqlite_sweep;
mod sqlite_write;
mod stored_json;
#[cfg(test)]
mod testing;
mod trace_lists;
pub mod value;
pub mod varint;
pub mod views;
mod write_rows;

pub use error::{Result, StoreError};
pub use handles::{Reader, Store, Sweeper, Writer};
pub use model::Batch;
pub use prepared::PreparedBatch;
pub use report_rows::{
    AttributeSample, KeyUsage, LogSource, MetricUsage, ReportSpan, SignalBytes, SpanLogs,
};
pub use runtime::blocking;
pub use views::{
    AttributeFilter, Comparison, LogQuery, LogView, Match, MetricInfo, MetricPointView, Oldest,
    Operation, RequestLog, RequestView, ScopeView, ServiceRed, SpanNode, SpanView, Stats,
    TraceQuery, TraceSummary, TraceView, percentile,
};
