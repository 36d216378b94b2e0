//! The one API client: every request the page makes goes through here, typed on `protocol`.
//! A non-2xx answer becomes an [`ApiError`] carrying the server's error envelope, so the UI shows
//! the server's own sentence; a network failure or a cancelled request becomes its own variant.

use gloo_net::http::{Request, RequestBuilder, Response};
use protocol::{ErrorBody, ErrorCode, Health};
use serde::Serialize;
use serde::de::DeserializeOwned;
use web_sys::AbortSignal;

/// Why a request did not produce the expected answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// No answer at all: the server is down, the network is gone, or the browser refused.
    #[error("The server could not be reached. Is it running? ({0})")]
    Network(String),
    /// The server answered with an error envelope.
    #[error("{message}")]
    Server {
        status: u16,
        code: ErrorCode,
        message: String,
    },
    /// The server answered something that is not what this page expects (e.g. an old server, or
    /// a proxy's own error page).
    #[error("The server's answer could not be read: {0}")]
    Unreadable(String),
    /// The request was cancelled through its `AbortSignal` before an answer came.
    #[error("The request was cancelled.")]
    Aborted,
}

impl ApiError {
    /// Whether sending the same request again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Network(_) => true,
            Self::Server { code, .. } => code.is_retryable(),
            Self::Unreadable(_) | Self::Aborted => false,
        }
    }
}

/// `GET /api/health`.
pub async fn health() -> Result<Health, ApiError> {
    get_json("/api/health", None).await
}

/// `GET path`, reading a JSON answer. `abort` cancels the request when signalled.
pub async fn get_json<T: DeserializeOwned>(
    path: &str,
    abort: Option<&AbortSignal>,
) -> Result<T, ApiError> {
    send(Request::get(path), abort).await
}

/// `POST path` with a JSON body, reading a JSON answer.
pub async fn post_json<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
    abort: Option<&AbortSignal>,
) -> Result<T, ApiError> {
    let request = Request::post(path)
        .abort_signal(abort)
        .json(body)
        .map_err(|e| ApiError::Unreadable(e.to_string()))?;
    let response = request.send().await.map_err(transport_error)?;
    read(response).await
}

async fn send<T: DeserializeOwned>(
    request: RequestBuilder,
    abort: Option<&AbortSignal>,
) -> Result<T, ApiError> {
    let response = request
        .header("accept", "application/json")
        .abort_signal(abort)
        .send()
        .await
        .map_err(transport_error)?;
    read(response).await
}

async fn read<T: DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    let status = response.status();
    let text = response.text().await.map_err(transport_error)?;
    if (200..300).contains(&status) {
        serde_json::from_str(&text).map_err(|e| ApiError::Unreadable(e.to_string()))
    } else {
        Err(error_from_answer(status, &text))
    }
}

/// The typed error for a non-2xx answer: the envelope when there is one, else a sentence built
/// from the status (a proxy or an older server may answer without the envelope).
pub fn error_from_answer(status: u16, body: &str) -> ApiError {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(envelope) => ApiError::Server {
            status,
            code: envelope.error.code,
            message: envelope.error.message,
        },
        Err(_) => ApiError::Unreadable(format!("it answered {status} without an explanation.")),
    }
}

fn transport_error(error: gloo_net::Error) -> ApiError {
    match error {
        gloo_net::Error::JsError(js) if js.name == "AbortError" => ApiError::Aborted,
        gloo_net::Error::JsError(js) => ApiError::Network(js.message),
        other => ApiError::Network(other.to_string()),
    }
}
