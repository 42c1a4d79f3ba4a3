//! OTLP/gRPC: the trace, logs and metrics services, gzip accepted and sent.
//!
//! The services are written here rather than taken from the generated
//! servers because those decode with a codec that answers undecodable data
//! with INTERNAL; OTLP clients treat INTERNAL as a server fault, while a bad
//! payload is the client's and must be INVALID_ARGUMENT (never retried).

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Buf as _;
use prost::Message as _;
use tonic::body::Body as TonicBody;
use tonic::codec::{
    Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings, EncodeBuf, Encoder,
};
use tonic::codegen::{Body, StdError, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::ingest::{Ingest, IngestError, Logs, Metrics, OtlpSignal, Traces};
use crate::self_metrics::Transport;

/// One OTLP export service; `S` picks the signal.
pub struct OtlpService<S> {
    ingest: Ingest,
    max_message_bytes: usize,
    _signal: PhantomData<fn() -> S>,
}

impl<S> Clone for OtlpService<S> {
    fn clone(&self) -> Self {
        OtlpService {
            ingest: self.ingest.clone(),
            max_message_bytes: self.max_message_bytes,
            _signal: PhantomData,
        }
    }
}

/// The three services, ready for `tonic::transport::Server::add_service`.
pub fn services(
    ingest: Ingest,
    max_message_bytes: usize,
) -> (OtlpService<Traces>, OtlpService<Logs>, OtlpService<Metrics>) {
    (
        OtlpService::new(ingest.clone(), max_message_bytes),
        OtlpService::new(ingest.clone(), max_message_bytes),
        OtlpService::new(ingest, max_message_bytes),
    )
}

impl<S> OtlpService<S> {
    pub fn new(ingest: Ingest, max_message_bytes: usize) -> Self {
        OtlpService {
            ingest,
            max_message_bytes,
            _signal: PhantomData,
        }
    }
}

impl<S: OtlpSignal> NamedService for OtlpService<S> {
    const NAME: &'static str = S::GRPC_SERVICE;
}

impl<S, B> tonic::codegen::Service<http::Request<B>> for OtlpService<S>
where
    S: OtlpSignal + 'static,
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<TonicBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let service = self.clone();
        Box::pin(async move {
            if request.uri().path().rsplit('/').next() != Some("Export") {
                return Ok(Status::unimplemented("only Export is served").into_http());
            }
            let mut gzip = EnabledCompressionEncodings::default();
            gzip.enable(CompressionEncoding::Gzip);
            let max = service.max_message_bytes;
            let mut grpc = Grpc::new(OtlpCodec::<S>(PhantomData))
                .apply_compression_config(gzip, gzip)
                .apply_max_message_size_config(Some(max), Some(max));
            Ok(grpc.unary(Export(service), request).await)
        })
    }
}

struct Export<S>(OtlpService<S>);

impl<S: OtlpSignal + 'static> UnaryService<S::Request> for Export<S> {
    type Response = S::Response;
    type Future = Pin<Box<dyn Future<Output = Result<Response<S::Response>, Status>> + Send>>;

    fn call(&mut self, request: Request<S::Request>) -> Self::Future {
        let ingest = self.0.ingest.clone();
        Box::pin(async move {
            match ingest
                .export::<S>(request.into_inner(), Transport::Grpc, None)
                .await
            {
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
        })
    }
}

struct OtlpCodec<S>(PhantomData<fn() -> S>);

impl<S: OtlpSignal + 'static> Codec for OtlpCodec<S> {
    type Encode = S::Response;
    type Decode = S::Request;
    type Encoder = OtlpEncoder<S>;
    type Decoder = OtlpDecoder<S>;

    fn encoder(&mut self) -> Self::Encoder {
        OtlpEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        OtlpDecoder(PhantomData)
    }
}

struct OtlpEncoder<S>(PhantomData<fn() -> S>);

impl<S: OtlpSignal> Encoder for OtlpEncoder<S> {
    type Item = S::Response;
    type Error = Status;

    fn encode(&mut self, item: S::Response, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(buf)
            .map_err(|e| Status::internal(format!("cannot encode response: {e}")))
    }
}

struct OtlpDecoder<S>(PhantomData<fn() -> S>);

impl<S: OtlpSignal> Decoder for OtlpDecoder<S> {
    type Item = S::Request;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<S::Request>, Status> {
        // Decoding through DecodeBuf pays its bounds check and BytesMut's
        // bookkeeping on every varint, and splits the shared buffer for every
        // id; the message as one Bytes (taken without a copy) decodes as fast
        // as an HTTP body does.
        let message = buf.copy_to_bytes(buf.remaining());
        S::Request::decode(message)
            .map(Some)
            .map_err(|e| Status::invalid_argument(format!("invalid protobuf: {e}")))
    }
}
