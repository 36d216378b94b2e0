//! The transport: `fetch` through gloo-net, each request recorded in the inspector from start to
//! outcome. A non-2xx answer becomes an [`ApiError`] carrying the server's error envelope, so the
//! UI shows the server's own sentence; a network failure or a cancelled request becomes its own
//! variant.

use gloo_net::http::{Method, RequestBuilder, Response};
use protocol::{ErrorBody, ErrorCode};
use serde::de::DeserializeOwned;
use web_sys::{AbortSignal, UrlSearchParams};

use crate::inspector::{self, About, Attempt, EntryId, Outcome, ServerSide};

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
        /// The `Retry-After` header, in seconds, when the server sent one.
        retry_after_s: Option<u32>,
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
    /// Whether sending the same request again may succeed: no answer at all, or an answer whose
    /// code says "not now" ([`ErrorCode::is_retryable`], the one rule both sides share).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Network(_) => true,
            Self::Server { code, .. } => code.is_retryable(),
            Self::Unreadable(_) | Self::Aborted => false,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Server { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A successful answer with what the inspector and the Lab show about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<T> {
    pub body: T,
    pub status: u16,
    /// Length of the body as received, in bytes.
    pub bytes: usize,
    /// The `Server-Timing` header, when the server sent one.
    pub server_timing: Option<String>,
}

/// One request as an endpoint function describes it.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub method: Method,
    /// The path, without a query string: `/api/lab/echo`.
    pub path: String,
    /// The query's `(name, value)` pairs, in order.
    pub query: Vec<(&'static str, String)>,
    /// Request headers beyond `Accept` (`Authorization`, `Idempotency-Key`).
    pub headers: Vec<(&'static str, String)>,
    /// A JSON body (for POST and PUT).
    pub body: Option<serde_json::Value>,
    pub abort: Option<&'a AbortSignal>,
    /// How the page sends it, for the inspector.
    pub strategy: Option<String>,
    /// Which attempt this is, for the inspector.
    pub attempt: Option<Attempt>,
}

impl<'a> Call<'a> {
    /// `method path`, with no query, headers or body yet.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            abort: None,
            strategy: None,
            attempt: None,
        }
    }

    /// Tells the inspector how the page sends it (a strategy's name).
    pub fn strategy(mut self, strategy: impl Into<String>) -> Self {
        self.strategy = Some(strategy.into());
        self
    }

    /// Tells the inspector which attempt this is: `number` of at most `of`.
    pub fn attempt(mut self, number: u32, of: u32) -> Self {
        self.attempt = Some(Attempt { number, of });
        self
    }

    /// What the inspector records of it beside its method and address.
    fn about(&self) -> About {
        About {
            strategy: self.strategy.clone(),
            attempt: self.attempt,
            idempotency_key: self
                .headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("idempotency-key"))
                .map(|(_, key)| key.clone()),
        }
    }

    /// Adds `name=value` to the query.
    pub fn query(mut self, name: &'static str, value: impl ToString) -> Self {
        self.query.push((name, value.to_string()));
        self
    }

    /// Adds a request header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// `body` as the JSON body.
    pub fn json(mut self, body: &impl serde::Serialize) -> Self {
        self.body = serde_json::to_value(body).ok();
        self
    }

    /// Cancels the request when `signal` is aborted.
    pub fn abort(mut self, signal: Option<&'a AbortSignal>) -> Self {
        self.abort = signal;
        self
    }

    /// The address as the browser fetches it, relative to the page: the path and the query as
    /// `URLSearchParams` writes it (which is how gloo-net writes it too). The inspector shows it
    /// and the browser files the request's resource timing under it.
    pub fn address(&self) -> String {
        address(&self.path, &self.query)
    }
}

/// `path?name=value&…` with the query written by the browser's own `URLSearchParams`.
pub fn address(path: &str, query: &[(&'static str, String)]) -> String {
    let Some(params) = UrlSearchParams::new().ok().filter(|_| !query.is_empty()) else {
        return path.to_owned();
    };
    for (name, value) in query {
        params.append(name, value);
    }
    format!("{path}?{}", String::from(params.to_string()))
}

/// What came of a [`Call`], with the inspector entry that recorded it (so the caller can say
/// more about it later: stale, timed out, retried).
#[derive(Debug, Clone, PartialEq)]
pub struct Traced<T> {
    pub entry: EntryId,
    pub result: Result<Answer<T>, ApiError>,
}

/// `GET path`, reading a JSON answer. `abort` cancels the request when signalled.
pub async fn get_json<T: DeserializeOwned>(
    path: &'static str,
    abort: Option<&AbortSignal>,
) -> Result<T, ApiError> {
    send(Call::new(Method::GET, path).abort(abort))
        .await
        .result
        .map(|answer| answer.body)
}

/// Sends `call`, recording it in the inspector from start to outcome, and reads the JSON answer as
/// a `T`. Only the reading is generic: the exchange itself ([`exchange`]) is one function for
/// every answer type, so the page carries one copy of it rather than one per type.
///
/// Every call can be aborted: through the caller's signal, or — when the caller gave none — by
/// dropping its future before the answer (a room left, a race lost): the browser then drops the
/// request for real, and the inspector says "aborted" instead of leaving it in flight.
pub async fn send<T: DeserializeOwned>(call: Call<'_>) -> Traced<T> {
    let Traced { entry, result } = send_reading(call, Read::Text).await;
    Traced {
        entry,
        result: result.and_then(read_json),
    }
}

/// Like [`send`], for an answer that is not text (a picture): its bytes.
pub async fn send_for_bytes(call: Call<'_>) -> Result<Vec<u8>, ApiError> {
    let Traced { result, .. } = send_reading(call, Read::Bytes).await;
    result.and_then(|answer| match answer.body {
        Body::Bytes(bytes) => Ok(bytes),
        Body::Text(_) => Err(ApiError::Unreadable(
            "text where bytes were asked for".into(),
        )),
    })
}

/// How a 2xx answer's body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    Text,
    Bytes,
}

/// A 2xx answer's body, read the way it was asked for.
#[derive(Debug)]
enum Body {
    Text(String),
    Bytes(Vec<u8>),
}

async fn send_reading(mut call: Call<'_>, read: Read) -> Traced<Body> {
    let entry = inspector::begin_with(method_name(&call.method), &call.address(), call.about());
    let own = match call.abort {
        Some(_) => None,
        None => web_sys::AbortController::new().ok(),
    };
    let own_signal = own.as_ref().map(web_sys::AbortController::signal);
    if own_signal.is_some() {
        call.abort = own_signal.as_ref();
    }
    let mut unfinished = Unfinished {
        entry,
        own,
        answered: false,
    };
    let result = exchange(&call, entry, read).await;
    unfinished.disarm();
    let outcome = match &result {
        Ok(_) => Outcome::Applied,
        Err(ApiError::Aborted) => Outcome::Aborted,
        Err(_) => Outcome::Failed,
    };
    inspector::finish(entry, outcome);
    Traced { entry, result }
}

/// A 2xx answer's text read as a `T`.
fn read_json<T: DeserializeOwned>(answer: Answer<Body>) -> Result<Answer<T>, ApiError> {
    let Body::Text(text) = &answer.body else {
        return Err(ApiError::Unreadable(
            "bytes where text was asked for".into(),
        ));
    };
    let body = serde_json::from_str(text).map_err(|e| ApiError::Unreadable(e.to_string()))?;
    Ok(Answer {
        body,
        status: answer.status,
        bytes: answer.bytes,
        server_timing: answer.server_timing,
    })
}

/// A call on its way: if its future is dropped before the answer, the request is aborted (when
/// the call owns its signal; a caller's own signal is the caller's to abort) and its entry
/// finished as aborted.
struct Unfinished {
    entry: EntryId,
    own: Option<web_sys::AbortController>,
    answered: bool,
}

impl Unfinished {
    /// The answer came: nothing to abort.
    fn disarm(&mut self) {
        self.answered = true;
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        if let Some(own) = &self.own {
            own.abort();
        }
        inspector::finish(self.entry, Outcome::Aborted);
    }
}

/// The request and its answer: a 2xx answer's body, read as `read` says, or the error it is.
async fn exchange(call: &Call<'_>, entry: EntryId, read: Read) -> Result<Answer<Body>, ApiError> {
    let mut request = RequestBuilder::new(&call.path)
        .method(call.method.clone())
        .query(call.query.iter().map(|(name, value)| (*name, value)))
        .header("accept", "application/json")
        .abort_signal(call.abort);
    for (name, value) in &call.headers {
        request = request.header(name, value);
    }
    let response: Response = match &call.body {
        Some(body) => {
            request
                .json(body)
                .map_err(|e| ApiError::Unreadable(e.to_string()))?
                .send()
                .await
        }
        None => request.send().await,
    }
    .map_err(transport_error)?;
    let status = response.status();
    let headers = response.headers();
    inspector::first_byte(entry, status, ServerSide::read(|name| headers.get(name)));
    let server_timing = headers.get("server-timing");
    let retry_after_s = headers
        .get("retry-after")
        .and_then(|v| v.trim().parse().ok());
    if (200..300).contains(&status) {
        let body = match read {
            Read::Text => Body::Text(response.text().await.map_err(transport_error)?),
            Read::Bytes => Body::Bytes(response.binary().await.map_err(transport_error)?),
        };
        return Ok(Answer {
            bytes: match &body {
                Body::Text(text) => text.len(),
                Body::Bytes(bytes) => bytes.len(),
            },
            body,
            status,
            server_timing,
        });
    }
    let text = response.text().await.map_err(transport_error)?;
    Err(match error_from_answer(status, &text) {
        ApiError::Server {
            status,
            code,
            message,
            ..
        } => ApiError::Server {
            status,
            code,
            message,
            retry_after_s,
        },
        other => other,
    })
}

/// The typed error for a non-2xx answer: the envelope when there is one, else a sentence built
/// from the status (a proxy or an older server may answer without the envelope).
pub fn error_from_answer(status: u16, body: &str) -> ApiError {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(envelope) => ApiError::Server {
            status,
            code: envelope.error.code,
            message: envelope.error.message,
            retry_after_s: None,
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

fn method_name(method: &Method) -> &'static str {
    [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::HEAD,
    ]
    .into_iter()
    .zip(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"])
    .find_map(|(known, name)| (known == *method).then_some(name))
    .unwrap_or("OTHER")
}
