//! collector: OTLP in, batches out. Data flows one way:
//!
//! - `http`, `grpc`: receivers; they only read bodies and call `Ingest::export`.
//! - `decode`: a body to OTLP messages, its memory bounded before decoding.
//! - `otlp_json`: the OTLP/JSON mapping, lenient where real exporters are.
//! - `normalize`: OTLP wire types → the store's model; pure.
//! - `ingest`: one export path per signal, shared by both transports.
//! - `pipeline`: the bounded queue and the group-committing writer.
//! - `self_metrics`: counters for `/metrics`.
//!
//! Only this crate touches `opentelemetry_proto` types.

pub mod decode;
pub mod grpc;
pub mod http;
pub mod ingest;
pub mod normalize;
pub mod otlp_json;
pub mod pipeline;
pub mod self_metrics;

pub use ingest::Ingest;
pub use normalize::Rules;
pub use pipeline::{Pipeline, PipelineConfig};
pub use self_metrics::SelfMetrics;
