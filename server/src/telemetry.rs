//! Logging: one tracing subscriber for the whole process, filtered by `--log`, written as
//! `--log-format` says; and the request id every answer and its log line carry.

use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::Response;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One line a event, for a person reading a terminal (colours when it is one).
    #[default]
    Human,
    /// One JSON object a line, for a log collector: `timestamp`, `level`, `fields`, `target`,
    /// and the request's span (its method, path and id) in `span`.
    Json,
}

/// Installs the global subscriber. A filter that does not parse falls back to `info`, with a
/// warning, rather than stopping the server.
pub fn init(filter: &str, format: LogFormat) {
    let (filter, warning) = match EnvFilter::try_new(filter) {
        Ok(filter) => (filter, None),
        Err(error) => (EnvFilter::new("info"), Some(error)),
    };
    let subscriber = tracing_subscriber::fmt().with_env_filter(filter);
    // A second call (in tests) finds a subscriber already set; that is fine.
    let _ = match format {
        LogFormat::Human => subscriber.try_init(),
        LogFormat::Json => subscriber.json().try_init(),
    };
    if let Some(error) = warning {
        tracing::warn!("--log filter ignored ({error}); logging at info");
    }
}

/// For `middleware::from_fn`: one log line, at info, for a request whose client left before the
/// answer (tower-http's `TraceLayer` logs answers; an abandoned request never has one).
pub async fn log_abandoned(request: Request, next: Next) -> Response {
    let mut watch = Abandoned {
        method: request.method().clone(),
        uri: request.uri().clone(),
        started: Instant::now(),
        answered: false,
    };
    let response = next.run(request).await;
    watch.answered = true;
    response
}

/// Logs when dropped before `answered`: hyper drops the request's future when its client goes.
struct Abandoned {
    method: Method,
    uri: Uri,
    started: Instant,
    answered: bool,
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        if !self.answered {
            tracing::info!(
                method = %self.method,
                path = %self.uri.path(),
                after_ms = self.started.elapsed().as_millis(),
                "abandoned by the client before the answer"
            );
        }
    }
}

/// The header that carries a request's id, in the request (a client's own, when well formed) and
/// in its answer.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// For `map_request`, before tower-http's `SetRequestIdLayer` (which keeps an id the request
/// brings): an id a client sent is kept only when it is 1 to 64 letters, digits, `-`, `_`, `.`
/// or `:` — what a log line and a search for it can hold as it is; any other is dropped, and
/// the server makes one.
pub fn drop_malformed_request_id(mut request: Request) -> Request {
    let well_formed = |id: &HeaderValue| {
        let id = id.as_bytes();
        (1..=64).contains(&id.len())
            && id
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    };
    if request
        .headers()
        .get(REQUEST_ID)
        .is_some_and(|id| !well_formed(id))
    {
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}
