//! One export path per signal, shared by gRPC and HTTP: normalise, queue,
//! wait for the commit, report partial success.

use std::sync::Arc;

use bytes::Bytes;

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use crate::decode::{self, DecodeError, Encoding, Kind};
use crate::normalize::{self, Normalized, Rules};
use crate::otlp_json::{self, JsonError};
use crate::pipeline::{Pipeline, SubmitError};
use crate::self_metrics::{SelfMetrics, Signal, Transport};
use store::keys::Keys;
use store::value::Value;
use tokio::sync::Semaphore;

/// What differs between traces, logs and metrics on the way in.
pub trait OtlpSignal: Send + Sync {
    type Request: prost::Message + Default + Send + 'static;
    type Response: prost::Message + Default + Send + 'static;
    const SIGNAL: Signal;
    /// The gRPC service name, as in `/opentelemetry.proto.collector.trace.v1.TraceService/Export`.
    const GRPC_SERVICE: &'static str;
    /// The partial-success field name in OTLP/JSON (`rejectedSpans`, …).
    const REJECTED_FIELD: &'static str;
    /// The request's protobuf layout, for the decoding budget.
    const KIND: &'static Kind;
    fn decode_json(body: &[u8]) -> Result<Self::Request, JsonError>;
    fn normalize(request: Self::Request, rules: &Rules) -> Normalized;
    fn response(rejected: i64, error_message: String) -> Self::Response;
}

pub struct Traces;
pub struct Logs;
pub struct Metrics;

impl OtlpSignal for Traces {
    type Request = ExportTraceServiceRequest;
    type Response = ExportTraceServiceResponse;
    const SIGNAL: Signal = Signal::Traces;
    const GRPC_SERVICE: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    const REJECTED_FIELD: &'static str = "rejectedSpans";
    const KIND: &'static Kind = &decode::TRACES;
    fn decode_json(body: &[u8]) -> Result<Self::Request, JsonError> {
        otlp_json::decode_traces(body)
    }
    fn normalize(request: Self::Request, rules: &Rules) -> Normalized {
        normalize::traces(request, rules)
    }
    fn response(rejected_spans: i64, error_message: String) -> Self::Response {
        ExportTraceServiceResponse {
            partial_success: (rejected_spans > 0).then_some(ExportTracePartialSuccess {
                rejected_spans,
                error_message,
            }),
        }
    }
}

impl OtlpSignal for Logs {
    type Request = ExportLogsServiceRequest;
    type Response = ExportLogsServiceResponse;
    const SIGNAL: Signal = Signal::Logs;
    const GRPC_SERVICE: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    const REJECTED_FIELD: &'static str = "rejectedLogRecords";
    const KIND: &'static Kind = &decode::LOGS;
    fn decode_json(body: &[u8]) -> Result<Self::Request, JsonError> {
        otlp_json::decode_logs(body)
    }
    fn normalize(request: Self::Request, rules: &Rules) -> Normalized {
        normalize::logs(request, rules)
    }
    fn response(rejected_log_records: i64, error_message: String) -> Self::Response {
        ExportLogsServiceResponse {
            partial_success: (rejected_log_records > 0).then_some(ExportLogsPartialSuccess {
                rejected_log_records,
                error_message,
            }),
        }
    }
}

impl OtlpSignal for Metrics {
    type Request = ExportMetricsServiceRequest;
    type Response = ExportMetricsServiceResponse;
    const SIGNAL: Signal = Signal::Metrics;
    const GRPC_SERVICE: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    const REJECTED_FIELD: &'static str = "rejectedDataPoints";
    const KIND: &'static Kind = &decode::METRICS;
    fn decode_json(body: &[u8]) -> Result<Self::Request, JsonError> {
        otlp_json::decode_metrics(body)
    }
    fn normalize(request: Self::Request, rules: &Rules) -> Normalized {
        normalize::metrics(request, rules)
    }
    fn response(rejected_data_points: i64, error_message: String) -> Self::Response {
        ExportMetricsServiceResponse {
            partial_success: (rejected_data_points > 0).then_some(ExportMetricsPartialSuccess {
                rejected_data_points,
                error_message,
            }),
        }
    }
}

/// A committed export: how many items were refused as invalid, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub accepted: u64,
    pub rejected: u64,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IngestError {
    /// Permanent: the client must not retry (HTTP 400, gRPC INVALID_ARGUMENT).
    #[error("{0}")]
    Invalid(String),
    /// Retryable after a pause (HTTP 429, gRPC RESOURCE_EXHAUSTED with RetryInfo).
    #[error("{0}")]
    Overloaded(String),
    /// Retryable (HTTP 503, gRPC UNAVAILABLE).
    #[error("{0}")]
    Unavailable(String),
    /// Permanent, though smaller exports would do (HTTP 413, gRPC
    /// INVALID_ARGUMENT).
    #[error("{0}")]
    TooLarge(String),
}

/// A missing or wrong ingest key: permanent (HTTP 401, gRPC UNAUTHENTICATED).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("missing or wrong ingest key: send the header Authorization: Bearer KEY")]
pub struct Unauthorized;

pub use store::keys::INGEST_KEY_ATTRIBUTE;

/// How a body arrives: its encoding, and whether it is still gzipped (OTLP/
/// HTTP; gRPC bodies come decompressed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Form {
    pub encoding: Encoding,
    pub gzip: bool,
}

/// What one export may take: its body, before and after decompression, and
/// the memory decoding it may allocate (`DECODED_PER_BODY_BYTE` times the
/// body's bound).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
}

/// Enough for an export of the largest allowed size in either encoding
/// (JSON's parsed values cost the most, about 30 times their text for
/// attribute-heavy spans, measured), little enough that a body of empty
/// messages cannot reach gigabytes.
pub const DECODED_PER_BODY_BYTE: usize = 32;

#[derive(Clone)]
pub struct Ingest {
    pipeline: Pipeline,
    rules: Arc<Rules>,
    limits: Limits,
    /// Who may send; anyone when empty.
    keys: Arc<Keys>,
    /// Bodies decoded at once; with the budget it bounds decoding's memory.
    decoding: Arc<Semaphore>,
    metrics: Arc<SelfMetrics>,
}

impl Ingest {
    pub fn new(
        pipeline: Pipeline,
        rules: Rules,
        limits: Limits,
        metrics: Arc<SelfMetrics>,
    ) -> Ingest {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ingest {
            pipeline,
            rules: Arc::new(rules),
            limits,
            keys: Arc::default(),
            decoding: Arc::new(Semaphore::new(cores)),
            metrics,
        }
    }

    /// Exports must then carry one of `keys` (`authorize`).
    pub fn requiring(mut self, keys: Keys) -> Ingest {
        self.keys = Arc::new(keys);
        self
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Who sent an export, from its `Authorization` header (the gRPC
    /// `authorization` metadata): `Ok(None)` when no keys are set, the key's
    /// name when one matches.
    ///
    /// # Errors
    ///
    /// `Unauthorized` for a missing or wrong key.
    pub fn authorize(&self, authorization: Option<&[u8]>) -> Result<Option<String>, Unauthorized> {
        if self.keys.is_empty() {
            return Ok(None);
        }
        match self.keys.bearer(authorization) {
            Some(name) => Ok(Some(name.to_owned())),
            None => Err(Unauthorized),
        }
    }

    pub fn metrics(&self) -> &Arc<SelfMetrics> {
        &self.metrics
    }

    /// Decodes the body, stores what is valid in it and returns once that
    /// is committed. Decompressing, decoding and normalising run on the
    /// blocking pool, a few bodies at a time: a large export must not stall
    /// the runtime's workers, nor many of them exhaust memory.
    pub async fn export<S: OtlpSignal>(
        &self,
        body: Bytes,
        form: Form,
        transport: Transport,
        key: Option<String>,
    ) -> Result<Accepted, IngestError> {
        let wire_len = body.len();
        let key_name = key.clone();
        let permit = self.decoding.clone().acquire_owned().await.ok();
        let rules = self.rules.clone();
        let limits = self.limits;
        let prepared = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let body = if form.gzip {
                decode::gunzip(&body, limits.max_body_bytes)?
            } else {
                body
            };
            let request = decode::decode(
                body,
                form.encoding,
                S::KIND,
                S::decode_json,
                limits.max_body_bytes.saturating_mul(DECODED_PER_BODY_BYTE),
            )?;
            let mut normalized = S::normalize(request, &rules);
            if let Some(key) = key {
                // Set here, over whatever the sender wrote under that name.
                for resource in &mut normalized.batch.resources {
                    let attributes = &mut resource.attributes.0;
                    attributes.retain(|(k, _)| k != INGEST_KEY_ATTRIBUTE);
                    attributes.push((INGEST_KEY_ATTRIBUTE.to_owned(), Value::String(key.clone())));
                }
            }
            Ok::<_, DecodeError>(normalized)
        })
        .await;
        let mut normalized = match prepared {
            Ok(Ok(normalized)) => normalized,
            Ok(Err(DecodeError::TooLarge(message))) => return Err(IngestError::TooLarge(message)),
            Ok(Err(DecodeError::Invalid(message))) => return Err(IngestError::Invalid(message)),
            // A panic while decoding is a bug, not the client's fault.
            Err(err) => {
                tracing::error!(error = %err, "decoding an export failed");
                return Err(IngestError::Unavailable(
                    "could not decode the export".into(),
                ));
            }
        };
        normalized
            .batch
            .share_wire_bytes(wire_len as u64, normalized.sized_total);
        let accepted = normalized.batch.n_items() as u64;
        let rejected = normalized.rejected;
        let message = normalized.first_rejection.unwrap_or_default();
        if accepted == 0 && rejected > 0 {
            self.metrics
                .record_export(S::SIGNAL, transport, 0, rejected);
            return Err(IngestError::Invalid(format!(
                "all {rejected} items rejected; first: {message}"
            )));
        }
        match self.pipeline.submit(normalized.batch).await {
            Ok(()) => {
                self.metrics
                    .record_export(S::SIGNAL, transport, accepted, rejected);
                if let Some(key) = &key_name {
                    self.metrics
                        .record_key(key, S::SIGNAL, accepted, wire_len as u64);
                }
                let message = if rejected > 0 {
                    format!("{rejected} items rejected; first: {message}")
                } else {
                    message
                };
                Ok(Accepted {
                    accepted,
                    rejected,
                    message,
                })
            }
            Err(err) => {
                self.metrics
                    .record_refused(S::SIGNAL, transport, accepted + rejected);
                Err(match err {
                    SubmitError::Overloaded { .. } => IngestError::Overloaded(err.to_string()),
                    SubmitError::Store(_) | SubmitError::NoRoom(_) | SubmitError::ShuttingDown => {
                        IngestError::Unavailable(err.to_string())
                    }
                })
            }
        }
    }
}
