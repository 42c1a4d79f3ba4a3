//! OTLP/gRPC: the trace, logs and metrics services, gzip accepted and sent.
//! Undecodable requests never reach this code: tonic answers them with
//! INVALID_ARGUMENT-class errors itself.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::{
    logs::v1 as logs, metrics::v1 as metrics, trace::v1 as trace,
};
use tonic::codec::CompressionEncoding;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::ingest::{Ingest, IngestError, Logs, Metrics, OtlpSignal, Traces};
use crate::self_metrics::Transport;

#[derive(Clone)]
pub struct OtlpGrpc {
    ingest: Ingest,
}

/// The three services, ready for `tonic::transport::Server::add_service`.
pub fn services(
    ingest: Ingest,
    max_message_bytes: usize,
) -> (
    TraceServiceServer<OtlpGrpc>,
    LogsServiceServer<OtlpGrpc>,
    MetricsServiceServer<OtlpGrpc>,
) {
    let svc = OtlpGrpc { ingest };
    (
        TraceServiceServer::new(svc.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(max_message_bytes),
        LogsServiceServer::new(svc.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(max_message_bytes),
        MetricsServiceServer::new(svc)
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(max_message_bytes),
    )
}

impl OtlpGrpc {
    async fn export<S: OtlpSignal>(
        &self,
        request: S::Request,
    ) -> Result<Response<S::Response>, Status> {
        match self.ingest.export::<S>(request, Transport::Grpc).await {
            Ok(accepted) => Ok(Response::new(S::response(
                accepted.rejected as i64,
                accepted.message,
            ))),
            Err(IngestError::Invalid(message)) => Err(Status::invalid_argument(message)),
            // RetryInfo is what makes RESOURCE_EXHAUSTED retryable for OTLP clients.
            Err(IngestError::Overloaded(message)) => Err(Status::with_error_details(
                Code::ResourceExhausted,
                message,
                ErrorDetails::with_retry_info(Some(Duration::from_secs(1))),
            )),
            Err(IngestError::Unavailable(message)) => Err(Status::with_error_details(
                Code::Unavailable,
                message,
                ErrorDetails::with_retry_info(Some(Duration::from_secs(1))),
            )),
        }
    }
}

#[tonic::async_trait]
impl TraceService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<trace::ExportTraceServiceRequest>,
    ) -> Result<Response<trace::ExportTraceServiceResponse>, Status> {
        OtlpGrpc::export::<Traces>(self, request.into_inner()).await
    }
}

#[tonic::async_trait]
impl LogsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<logs::ExportLogsServiceRequest>,
    ) -> Result<Response<logs::ExportLogsServiceResponse>, Status> {
        OtlpGrpc::export::<Logs>(self, request.into_inner()).await
    }
}

#[tonic::async_trait]
impl MetricsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<metrics::ExportMetricsServiceRequest>,
    ) -> Result<Response<metrics::ExportMetricsServiceResponse>, Status> {
        OtlpGrpc::export::<Metrics>(self, request.into_inner()).await
    }
}
