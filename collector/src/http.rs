//! OTLP/HTTP: `POST /v1/traces`, `/v1/logs`, `/v1/metrics`, protobuf or JSON,
//! optionally gzip. Answers in the request's encoding with the status codes
//! of the OTLP specification: 400 bad data, 413 too large, 415 wrong type or
//! encoding, 429 / 503 with `Retry-After` when the client should come back.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http_body_util::BodyExt as _;
use prost::Message as _;

use crate::decode::Encoding;
use crate::ingest::{Form, Ingest, IngestError, Logs, Metrics, OtlpSignal, Traces};
use crate::self_metrics::Transport;

#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// A client that has not sent its whole body by then is dropped.
    pub body_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            body_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Clone)]
struct HttpState {
    ingest: Ingest,
    config: HttpConfig,
}

pub fn router(ingest: Ingest, config: HttpConfig) -> Router {
    Router::new()
        .route("/v1/traces", post(export::<Traces>))
        .route("/v1/logs", post(export::<Logs>))
        .route("/v1/metrics", post(export::<Metrics>))
        .with_state(HttpState { ingest, config })
}

fn content_type(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Protobuf => "application/x-protobuf",
        Encoding::Json => "application/json",
    }
}

/// `application/x-protobuf` or `application/json`, parameters ignored.
pub fn encoding_of(content_type: Option<&str>) -> Option<Encoding> {
    let essence = content_type?.split(';').next()?.trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/x-protobuf" | "application/protobuf" => Some(Encoding::Protobuf),
        "application/json" => Some(Encoding::Json),
        _ => None,
    }
}

/// Whether `Content-Encoding` says gzip; `None` for a coding not served.
pub fn is_gzip(content_encoding: Option<&str>) -> Option<bool> {
    match content_encoding
        .map(|e| e.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("identity") => Some(false),
        Some("gzip") | Some("x-gzip") => Some(true),
        Some(_) => None,
    }
}

async fn export<S: OtlpSignal>(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let header_str = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let Some(encoding) = encoding_of(header_str(header::CONTENT_TYPE)) else {
        return error(
            Encoding::Json,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content type must be application/x-protobuf or application/json",
        );
    };
    // Before the body is read: a client without a key costs no more.
    let key = match state.ingest.authorize(
        headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes),
    ) {
        Ok(key) => key,
        Err(err) => {
            let mut response = error(encoding, StatusCode::UNAUTHORIZED, &err.to_string());
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    };
    let limit = state.ingest.limits().max_body_bytes;
    let collected = tokio::time::timeout(
        state.config.body_timeout,
        http_body_util::Limited::new(body, limit).collect(),
    )
    .await;
    let raw = match collected {
        Err(_) => {
            return error(
                encoding,
                StatusCode::REQUEST_TIMEOUT,
                "request body not received in time",
            );
        }
        Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => {
            return error(
                encoding,
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("body larger than {limit} bytes"),
            );
        }
        Ok(Err(err)) => {
            return error(
                encoding,
                StatusCode::BAD_REQUEST,
                &format!("could not read body: {err}"),
            );
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let Some(gzip) = is_gzip(header_str(header::CONTENT_ENCODING)) else {
        return error(
            encoding,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!(
                "unsupported content encoding {:?}: use gzip or none",
                header_str(header::CONTENT_ENCODING).unwrap_or_default()
            ),
        );
    };
    match state
        .ingest
        .export::<S>(raw, Form { encoding, gzip }, Transport::Http, key)
        .await
    {
        Ok(accepted) => {
            let rejected = accepted.rejected as i64;
            let body = match encoding {
                Encoding::Protobuf => S::response(rejected, accepted.message).encode_to_vec(),
                Encoding::Json if rejected > 0 => serde_json::json!({
                    "partialSuccess": { S::REJECTED_FIELD: rejected.to_string(), "errorMessage": accepted.message }
                })
                .to_string()
                .into_bytes(),
                Encoding::Json => b"{}".to_vec(),
            };
            ([(header::CONTENT_TYPE, content_type(encoding))], body).into_response()
        }
        Err(IngestError::Invalid(message)) => error(encoding, StatusCode::BAD_REQUEST, &message),
        Err(IngestError::TooLarge(message)) => {
            error(encoding, StatusCode::PAYLOAD_TOO_LARGE, &message)
        }
        Err(IngestError::Overloaded(message)) => {
            retry_later(error(encoding, StatusCode::TOO_MANY_REQUESTS, &message))
        }
        Err(IngestError::Unavailable(message)) => {
            retry_later(error(encoding, StatusCode::SERVICE_UNAVAILABLE, &message))
        }
    }
}

fn retry_later(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// `google.rpc.Status`, the error body the OTLP specification asks for.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn error(encoding: Encoding, status: StatusCode, message: &str) -> Response {
    // The gRPC code that matches the HTTP status, as google.rpc.Status carries it.
    let code = match status {
        StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE => 3,
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::TOO_MANY_REQUESTS => 8,
        StatusCode::REQUEST_TIMEOUT => 4,
        StatusCode::UNAUTHORIZED => 16,
        _ => 14,
    };
    let body = match encoding {
        Encoding::Protobuf => RpcStatus {
            code,
            message: message.to_owned(),
        }
        .encode_to_vec(),
        Encoding::Json => serde_json::json!({ "code": code, "message": message })
            .to_string()
            .into_bytes(),
    };
    (
        status,
        [(header::CONTENT_TYPE, content_type(encoding))],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        for (header, expected) in [
            (Some("application/x-protobuf"), Some(Encoding::Protobuf)),
            (Some("application/json"), Some(Encoding::Json)),
            (
                Some("application/json; charset=utf-8"),
                Some(Encoding::Json),
            ),
            (Some("Application/JSON"), Some(Encoding::Json)),
            (Some("text/plain"), None),
            (None, None),
        ] {
            assert_eq!(encoding_of(header), expected, "{header:?}");
        }
    }

    #[test]
    fn content_codings() {
        for (header, expected) in [
            (None, Some(false)),
            (Some(""), Some(false)),
            (Some("identity"), Some(false)),
            (Some("gzip"), Some(true)),
            (Some(" X-GZIP "), Some(true)),
            (Some("br"), None),
            (Some("deflate"), None),
        ] {
            assert_eq!(is_gzip(header), expected, "{header:?}");
        }
    }
}
