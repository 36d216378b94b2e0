//! The one error body every `/api` endpoint answers with when something goes wrong:
//! `{"error":{"code":"snake_case_code","message":"A sentence a person can act on."}}`.

use serde::{Deserialize, Serialize};

/// Body of every non-2xx answer under `/api`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable machine-readable code and a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message: message.into(),
            },
        }
    }
}

/// Every error code the server can answer with. The server maps each one to its HTTP status;
/// the page uses them to decide what to show and whether a retry can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body or a query string could not be parsed (400).
    BadRequest,
    /// No valid `Authorization: Bearer <token>` for a call that needs one (401).
    Unauthorized,
    /// No resource at this path (404).
    NotFound,
    /// The path exists but not with this method (405).
    MethodNotAllowed,
    /// The server cannot answer in a form the `Accept` header allows (406).
    NotAcceptable,
    /// The request took longer than the server allows (408).
    RequestTimeout,
    /// The request clashes with the current state: a name already taken, a request with the
    /// same idempotency key still in progress, a job already finished (409).
    Conflict,
    /// A second request with this `Idempotency-Key` came while the first is still being
    /// processed: try again in a moment and get the first one's answer (409).
    RequestInProgress,
    /// The body is larger than the endpoint accepts (413).
    PayloadTooLarge,
    /// The body is not `application/json` (415).
    UnsupportedMediaType,
    /// The request is well-formed but a value is out of its allowed range (422).
    ValidationFailed,
    /// This `Idempotency-Key` was used before with a different body (422).
    IdempotencyKeyReused,
    /// Too many requests; the `Retry-After` header says when to come back (429).
    TooManyRequests,
    /// The Lab was asked to fail this request (`fail_rate`) and did (503).
    InjectedFailure,
    /// The server failed in a way that is not the client's fault (500).
    Internal,
    /// A dependency (such as the database) is not available right now (503).
    Unavailable,
    /// A code this version of the page does not know yet (a newer server). Never sent.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The code as it appears on the wire, e.g. `"not_found"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::NotAcceptable => "not_acceptable",
            Self::RequestTimeout => "request_timeout",
            Self::Conflict => "conflict",
            Self::RequestInProgress => "request_in_progress",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::ValidationFailed => "validation_failed",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::TooManyRequests => "too_many_requests",
            Self::InjectedFailure => "injected_failure",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
            Self::Unknown => "unknown",
        }
    }

    /// Whether sending the same request again later may succeed: the server was too slow,
    /// too busy, or asked to fail. The page's one retry rule (the Lab's retries, the outbox).
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::RequestTimeout
                | Self::RequestInProgress
                | Self::TooManyRequests
                | Self::InjectedFailure
                | Self::Unavailable
        )
    }

    /// Every code the server sends (all but [`ErrorCode::Unknown`]).
    pub const ALL: [ErrorCode; 16] = [
        Self::BadRequest,
        Self::Unauthorized,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::NotAcceptable,
        Self::RequestTimeout,
        Self::Conflict,
        Self::RequestInProgress,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::ValidationFailed,
        Self::IdempotencyKeyReused,
        Self::TooManyRequests,
        Self::InjectedFailure,
        Self::Internal,
        Self::Unavailable,
    ];
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
