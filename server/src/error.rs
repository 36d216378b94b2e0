//! Every error the API answers with, and the one place that turns it into a status code and the
//! JSON envelope `{"error":{"code":…,"message":…}}`. Extractor rejections and responses made by
//! layers (405, 413), the deadline (408) and a caught panic (500) pass through here too (see
//! [`crate::guard`]), so no `/api` answer ever has another shape.

use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use protocol::{ErrorBody, ErrorCode};

/// `Result` with [`ApiError`] as the error, for handlers and domain functions.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body or query could not be parsed at all.
    #[error("{0}")]
    BadRequest(String),
    /// 404: nothing at this path.
    #[error("{0}")]
    NotFound(String),
    /// 413: the body is larger than the limit.
    #[error("The request body is larger than the {limit} bytes this endpoint accepts.")]
    PayloadTooLarge { limit: usize },
    /// 415: the body is not declared as JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: well-formed, but a value is not allowed.
    #[error("{0}")]
    Validation(String),
    /// 503: the Lab was asked to fail and did.
    #[error("This request failed on purpose: the Lab's failure rate drew it.")]
    InjectedFailure,
    /// 500: the database failed. Logged; the client learns nothing of the details.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            Self::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge)
            }
            Self::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
            ),
            Self::Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::ValidationFailed,
            ),
            Self::InjectedFailure => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::InjectedFailure),
            Self::Database(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status.is_server_error() && !matches!(self, Self::InjectedFailure) {
            tracing::error!(error = %self, "request failed");
            generic_message(status).to_owned()
        } else {
            self.to_string()
        };
        envelope(status, code, message)
    }
}

/// The JSON envelope with `status`.
pub fn envelope(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Response {
    (status, axum::Json(ErrorBody::new(code, message))).into_response()
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonSyntaxError(e) => Self::BadRequest(format!(
                "The body is not valid JSON ({}). Send a JSON object.",
                e.body_text()
                    .trim_start_matches("Failed to parse the request body as JSON: ")
            )),
            JsonRejection::JsonDataError(e) => Self::Validation(format!(
                "The JSON body does not fit this endpoint: {}.",
                e.body_text().trim_start_matches(
                    "Failed to deserialize the JSON body into the target type: "
                )
            )),
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType(
                "Send the body as JSON with the header `Content-Type: application/json`.".into(),
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::PayloadTooLarge {
                    limit: protocol::limits::MAX_REQUEST_BODY_BYTES,
                }
            }
            other => Self::BadRequest(format!(
                "The request body could not be read ({}).",
                other.body_text()
            )),
        }
    }
}

/// `axum::Json` whose rejections are [`ApiError`]s, so a bad body gets the envelope. The body is
/// read through [`http_body_util::Limited`]: at most `MAX_REQUEST_BODY_BYTES`, else 413. Every
/// API body is read through this extractor, so the limit costs nothing on requests without one
/// (a router-wide `DefaultBodyLimit` would touch every request's extensions).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let limited = Body::new(http_body_util::Limited::new(
            body,
            protocol::limits::MAX_REQUEST_BODY_BYTES,
        ));
        let request = Request::from_parts(parts, limited);
        let axum::Json(value) = axum::Json::<T>::from_request(request, state).await?;
        Ok(Self(value))
    }
}

/// How many headers an API answer ends with: its content type and length, maybe `Server-Timing`
/// or `Allow`, and the edge's two (`nosniff`, the default policy). Reserved at once, the map
/// never grows on the way out.
const API_ANSWER_HEADERS: usize = 6;

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        // Like `axum::Json`, but into a `Vec` (one growth check per write, where `BytesMut`'s
        // writer checks per piece) and with the header map sized for the whole trip.
        let mut body = Vec::with_capacity(128);
        if let Err(error) = serde_json::to_writer(&mut body, &self.0) {
            tracing::error!(%error, "an answer could not be written as JSON");
            return envelope(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                generic_message(StatusCode::INTERNAL_SERVER_ERROR),
            );
        }
        let mut headers = HeaderMap::with_capacity(API_ANSWER_HEADERS);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let mut response = Response::new(Body::from(body));
        *response.headers_mut() = headers;
        response
    }
}

const TIMEOUT_MESSAGE: &str = "The server took too long to answer; try again.";

/// `408 request_timeout`: the handler did not answer within the request deadline.
pub fn timeout_response() -> Response {
    envelope(
        StatusCode::REQUEST_TIMEOUT,
        ErrorCode::RequestTimeout,
        TIMEOUT_MESSAGE,
    )
}

/// `response` itself when it is a success or already our JSON; otherwise the envelope for its
/// status, keeping its `Allow` header.
pub fn ensure_envelope(method: &Method, response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            format!(
                "This endpoint does not accept {method}; the Allow header lists the methods it takes."
            ),
        ),
        StatusCode::REQUEST_TIMEOUT => (ErrorCode::RequestTimeout, TIMEOUT_MESSAGE.to_owned()),
        StatusCode::PAYLOAD_TOO_LARGE => (
            ErrorCode::PayloadTooLarge,
            ApiError::PayloadTooLarge {
                limit: protocol::limits::MAX_REQUEST_BODY_BYTES,
            }
            .to_string(),
        ),
        StatusCode::NOT_FOUND => (
            ErrorCode::NotFound,
            "There is nothing at this address.".to_owned(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            ErrorCode::UnsupportedMediaType,
            "Send the body as JSON with the header `Content-Type: application/json`.".to_owned(),
        ),
        s if s.is_server_error() => (ErrorCode::Internal, generic_message(s).to_owned()),
        _ => (
            ErrorCode::BadRequest,
            "The request could not be understood.".to_owned(),
        ),
    };
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut replaced = envelope(status, code, message);
    if let Some(allow) = allow {
        replaced.headers_mut().insert(header::ALLOW, allow);
    }
    replaced
}

/// Answers a panic inside a handler: logged, and a 500 envelope with nothing of the panic in it.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %detail, "a handler panicked");
    let mut response = envelope(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Internal,
        generic_message(StatusCode::INTERNAL_SERVER_ERROR),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `404 not_found` for any `/api` path no route matches.
/// (The router is flat, never nested, so the request's URI is the one the client sent.)
pub async fn api_not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!(
        "There is no API endpoint at {}. Check the path.",
        uri.path()
    ))
}

fn generic_message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::SERVICE_UNAVAILABLE => {
            "The server cannot handle this right now; try again in a moment."
        }
        _ => "Something went wrong on the server; it has been logged. Try again.",
    }
}
