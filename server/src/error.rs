//! Every error the API answers with, and the one place that turns it into a status code and the
//! JSON envelope `{"error":{"code":…,"message":…}}`. Answers made outside our handlers — the
//! router's 405, the body limit's 413, the deadline's 408, a caught panic's 500 — are turned into
//! the envelope here too ([`ensure_envelope`], [`panic_response`]), so no `/api` answer ever has
//! another shape.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::FromRequest;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use protocol::{ErrorBody, ErrorCode};

/// `Result` with [`ApiError`] as the error, for handlers and domain functions.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// Each variant's status is in its documentation; [`ApiError::status_and_code`] is the mapping.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body or query could not be parsed at all.
    #[error("{0}")]
    BadRequest(String),
    /// 401: the call needs a valid `Authorization: Bearer <token>`.
    #[error("{0}")]
    Unauthorized(String),
    /// 404: nothing at this path.
    #[error("{0}")]
    NotFound(String),
    /// 406: the answer cannot be given in a form the `Accept` header allows.
    #[error("{0}")]
    NotAcceptable(String),
    /// 408: the request's body did not arrive in time.
    #[error(
        "The request body came too slowly: send it whole soon after the request's head \
         (within 10 s, unless the server was started with another `--body-timeout-secs`)."
    )]
    BodyTooSlow,
    /// 409: the request clashes with the current state (a name taken, a key in use).
    #[error("{0}")]
    Conflict(String),
    /// 409: a request with the same `Idempotency-Key` is still being processed.
    #[error("{0}")]
    RequestInProgress(String),
    /// 413: the body is larger than the limit.
    #[error("The request body is larger than the {limit} bytes this endpoint accepts.")]
    PayloadTooLarge { limit: usize },
    /// 415: the body is not declared as JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: well-formed, but a value is not allowed.
    #[error("{0}")]
    Validation(String),
    /// 422: the `Idempotency-Key` was used before with a different body.
    #[error("{0}")]
    IdempotencyKeyReused(String),
    /// 429: too many requests; `Retry-After` says when to come back.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after: Duration,
    },
    /// 503: the Lab was asked to fail and did.
    #[error("This request failed on purpose (the Lab's 503): not now; worth retrying.")]
    InjectedFailure,
    /// 500: the Lab was asked to fail as a broken server does, and did. Not logged: it is no
    /// fault of the server's.
    #[error(
        "This request failed on purpose with a 500 (the Lab's fault): a server that is broken; retrying will not help."
    )]
    InjectedInternal,
    /// 503: a component the answer needs (the database) is not answering.
    #[error("{0}")]
    Unavailable(String),
    /// 500: the database failed. Logged; the client learns nothing of the details.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// 500: the server's own fault (a row it wrote and cannot read back, an answer it cannot
    /// write). Logged; the client learns nothing of the details, and it is not worth retrying.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            Self::NotAcceptable(_) => (StatusCode::NOT_ACCEPTABLE, ErrorCode::NotAcceptable),
            Self::BodyTooSlow => (StatusCode::REQUEST_TIMEOUT, ErrorCode::RequestTimeout),
            Self::Conflict(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
            Self::RequestInProgress(_) => (StatusCode::CONFLICT, ErrorCode::RequestInProgress),
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
            Self::IdempotencyKeyReused(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::IdempotencyKeyReused,
            ),
            Self::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, ErrorCode::TooManyRequests)
            }
            Self::InjectedFailure => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::InjectedFailure),
            Self::InjectedInternal => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable),
            Self::Database(_) | Self::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            Self::Database(_) | Self::Internal(_) => {
                tracing::error!(error = %self, "request failed");
                generic_message(status).to_owned()
            }
            _ => self.to_string(),
        };
        let mut response = envelope(status, code, message);
        if let Self::TooManyRequests { retry_after, .. } = self {
            // Whole seconds, rounded up: coming back early would only be refused again.
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Any database error is the server's: a 500, logged. A constraint a client can break (a name
/// taken) is mapped where its query is ([`is_unique_violation`]), so a bug that breaks another
/// constraint never reads as the client's fault.
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(error)
    }
}

/// Whether `error` is a unique constraint refusing a duplicate.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

/// The JSON envelope with `status`.
pub fn envelope(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Response {
    (status, Json(ErrorBody::new(code, message))).into_response()
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
            JsonRejection::BytesRejection(e) if cut_by_deadline(&e) => Self::BodyTooSlow,
            other => Self::BadRequest(format!(
                "The request body could not be read ({}).",
                other.body_text()
            )),
        }
    }
}

/// Whether the body could not be read because its deadline (`RequestBodyDeadlineLayer`) passed.
fn cut_by_deadline(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = error.source();
    }
    false
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        // axum names the field: "Failed to deserialize query string: delay_ms: invalid digit…".
        let text = rejection.body_text();
        let detail = text.trim_start_matches("Failed to deserialize query string: ");
        Self::BadRequest(format!(
            "The query string does not fit this endpoint: {detail}."
        ))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::NotFound(format!(
            "There is nothing at this path ({}).",
            rejection.body_text()
        ))
    }
}

/// `axum::Json` whose rejections are [`ApiError`]s, so a bad body gets the envelope, and whose
/// body must be a JSON object: serde would otherwise read a struct from an array too
/// (`[1, 2, 0.5]` as the echo's fields, in order). The body's size is limited by the
/// `DefaultBodyLimit` the API's router sets.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self> {
        let Json(value) = Json::<serde_json::Value>::from_request(request, state).await?;
        if !value.is_object() {
            return Err(Self::Rejection::Validation(
                "The body must be a JSON object (`{…}`).".to_owned(),
            ));
        }
        // The error names the field, as axum's own would: "delay_ms: invalid type …".
        serde_path_to_error::deserialize(value)
            .map(ApiJson)
            .map_err(|e| {
                ApiError::Validation(format!("The JSON body does not fit this endpoint: {e}."))
            })
    }
}

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

/// `axum::extract::Query` whose rejections are [`ApiError`]s naming the field.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `axum::extract::Path` whose rejections (`/api/messages/abc`) are a `404` envelope.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

const TIMEOUT_MESSAGE: &str = "The server took too long to answer; try again.";

/// For the API's `ServiceBuilder::map_response`: `response` itself when it is a success or
/// already our JSON; otherwise the envelope for its status, keeping its `Allow` header. This is
/// what turns the router's 405, the deadline's 408 and the body limit's 413, which axum and
/// tower-http answer with plain text or nothing, into the envelope.
pub fn ensure_envelope<B>(response: Response<B>) -> Response
where
    B: http_body::Body<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let response = response.map(Body::new);
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
            "This endpoint does not accept this method; the Allow header lists the methods it takes."
                .to_owned(),
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

/// Answers a panic inside a handler (tower-http's `CatchPanicLayer::custom`): logged, and a 500
/// envelope with nothing of the panic in it.
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
/// (The API's routes are at their full paths, never nested, so the URI is the one sent.)
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

#[cfg(test)]
mod tests {

    use super::*;

    async fn status_of(error: ApiError) -> (StatusCode, ErrorBody, Option<HeaderValue>) {
        let response = error.into_response();
        let status = response.status();
        let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}: {bytes:?}"));
        (status, body, retry_after)
    }

    /// A broken constraint is a 500 unless the query that can break it says it is the client's
    /// doing (a name taken): a server bug never reads as the client's fault.
    #[tokio::test]
    async fn a_database_error_is_the_servers_unless_its_query_says_otherwise() {
        sqlx::any::install_default_drivers();
        // One connection: each opens an in-memory database of its own.
        let db = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("opens");
        sqlx::query("CREATE TABLE names (name TEXT PRIMARY KEY CHECK (length(name) < 5))")
            .execute(&db)
            .await
            .expect("created");
        sqlx::query("INSERT INTO names VALUES ('bob')")
            .execute(&db)
            .await
            .expect("inserted");
        let insert = |name: &'static str| {
            let db = db.clone();
            async move {
                sqlx::query("INSERT INTO names VALUES ($1)")
                    .bind(name)
                    .execute(&db)
                    .await
                    .expect_err("refused")
            }
        };

        let taken = insert("bob").await;
        assert!(is_unique_violation(&taken));
        let (status, _, _) = status_of(ApiError::from(taken)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "unless mapped");
        let too_long = insert("roberta").await;
        assert!(!is_unique_violation(&too_long));
        let (status, body, _) = status_of(ApiError::from(too_long)).await;
        assert_eq!(
            (status, body.error.code),
            (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal)
        );
        let broken = sqlx::query("SELECT * FROM no_such_table")
            .execute(&db)
            .await
            .map_err(ApiError::from)
            .expect_err("fails");
        let (status, body, _) = status_of(broken).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            !body.error.message.contains("no_such_table"),
            "no detail leaks: {}",
            body.error.message
        );
        let (status, body, retry_after) =
            status_of(ApiError::Internal("an answer could not be written".into())).await;
        assert_eq!(
            (status, body.error.code, retry_after),
            (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, None),
            "not worth retrying"
        );
    }

    #[tokio::test]
    async fn too_many_requests_says_when_to_come_back_in_whole_seconds() {
        let (status, body, retry_after) = status_of(ApiError::TooManyRequests {
            message: "Too many jobs are waiting; try again shortly.".into(),
            retry_after: Duration::from_millis(1_200),
        })
        .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(body.error.code, ErrorCode::TooManyRequests);
        assert_eq!(retry_after, Some(HeaderValue::from(2u64)));
    }
}
