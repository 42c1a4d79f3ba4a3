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

use bytes::{Buf as _, Bytes};
use prost::Message as _;
use tonic::body::Body as TonicBody;
use tonic::codec::{
    Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings, EncodeBuf, Encoder,
};
use tonic::codegen::{Body, StdError, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::decode::Encoding;
use crate::ingest::{Form, Ingest, IngestError, Logs, Metrics, OtlpSignal, Traces};
use crate::self_metrics::Transport;

/// One OTLP export service; `S` picks the signal.
pub struct OtlpService<S> {
    ingest: Ingest,
    _signal: PhantomData<fn() -> S>,
}

impl<S> Clone for OtlpService<S> {
    fn clone(&self) -> Self {
        OtlpService {
            ingest: self.ingest.clone(),
            _signal: PhantomData,
        }
    }
}

/// The three services, ready for `tonic::transport::Server::add_service`.
pub fn services(ingest: Ingest) -> (OtlpService<Traces>, OtlpService<Logs>, OtlpService<Metrics>) {
    (
        OtlpService::new(ingest.clone()),
        OtlpService::new(ingest.clone()),
        OtlpService::new(ingest),
    )
}

impl<S> OtlpService<S> {
    pub fn new(ingest: Ingest) -> Self {
        OtlpService {
            ingest,
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
            let authorization = request.headers().get("authorization");
            let key = match service
                .ingest
                .authorize(authorization.map(|v| v.as_bytes()))
            {
                Ok(key) => key,
                Err(err) => return Ok(Status::unauthenticated(err.to_string()).into_http()),
            };
            let mut gzip = EnabledCompressionEncodings::default();
            gzip.enable(CompressionEncoding::Gzip);
            let max = service.ingest.limits().max_body_bytes;
            let mut grpc = Grpc::new(OtlpCodec::<S>(PhantomData))
                .apply_compression_config(gzip, gzip)
                .apply_max_message_size_config(Some(max), Some(max));
            Ok(grpc.unary(Export { service, key }, request).await)
        })
    }
}

struct Export<S> {
    service: OtlpService<S>,
    /// The name of the key the call came with.
    key: Option<String>,
}

impl<S: OtlpSignal + 'static> UnaryService<Bytes> for Export<S> {
    type Response = S::Response;
    type Future = Pin<Box<dyn Future<Output = Result<Response<S::Response>, Status>> + Send>>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let ingest = self.service.ingest.clone();
        let key = self.key.clone();
        let form = Form {
            encoding: Encoding::Protobuf,
            gzip: false,
        };
        Box::pin(async move {
            match ingest
                .export::<S>(request.into_inner(), form, Transport::Grpc, key)
                .await
            {
                Ok(accepted) => Ok(Response::new(S::response(
                    accepted.rejected as i64,
                    accepted.message,
                ))),
                Err(IngestError::Invalid(message) | IngestError::TooLarge(message)) => {
                    Err(Status::invalid_argument(message))
                }
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
    type Decode = Bytes;
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

/// Hands the message on undecoded: `Ingest::export` decodes it off the
/// runtime, within its memory budget. (Decoding through DecodeBuf would also
/// pay a bounds check on every varint; one Bytes, taken without a copy,
/// decodes as fast as an HTTP body does.)
impl<S> Decoder for OtlpDecoder<S> {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining())))
    }
}
