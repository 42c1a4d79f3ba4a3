//! One export path per signal, shared by gRPC and HTTP: normalise, queue,
//! wait for the commit, report partial success.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use crate::normalize::{self, Normalized, Rules};
use crate::otlp_json::{self, JsonError};
use crate::pipeline::{Pipeline, SubmitError};
use crate::self_metrics::{SelfMetrics, Signal, Transport};

/// What differs between traces, logs and metrics on the way in.
pub trait OtlpSignal: Send + Sync {
    type Request: prost::Message + Default + Send + 'static;
    type Response: prost::Message + Default + Send + 'static;
    const SIGNAL: Signal;
    /// The gRPC service name, as in `/opentelemetry.proto.collector.trace.v1.TraceService/Export`.
    const GRPC_SERVICE: &'static str;
    /// The partial-success field name in OTLP/JSON (`rejectedSpans`, …).
    const REJECTED_FIELD: &'static str;
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
}

#[derive(Clone)]
pub struct Ingest {
    pipeline: Pipeline,
    rules: Arc<Rules>,
    metrics: Arc<SelfMetrics>,
}

impl Ingest {
    pub fn new(pipeline: Pipeline, rules: Rules, metrics: Arc<SelfMetrics>) -> Ingest {
        Ingest {
            pipeline,
            rules: Arc::new(rules),
            metrics,
        }
    }

    pub fn metrics(&self) -> &Arc<SelfMetrics> {
        &self.metrics
    }

    /// Stores what is valid in the request and returns once it is committed.
    /// `wire_len` is the body's size as received; `None` takes the
    /// message's encoded size (gRPC, which decompresses before decoding).
    pub async fn export<S: OtlpSignal>(
        &self,
        request: S::Request,
        transport: Transport,
        wire_len: Option<usize>,
    ) -> Result<Accepted, IngestError> {
        let wire_len = wire_len.unwrap_or_else(|| prost::Message::encoded_len(&request));
        let mut normalized = S::normalize(request, &self.rules);
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
