//! Logging: one tracing subscriber for the whole process, filtered by `--log`.

use std::time::Instant;

use axum::extract::Request;
use axum::http::{Method, Uri};
use axum::middleware::Next;
use axum::response::Response;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. A filter that does not parse falls back to `info`, with a
/// warning, rather than stopping the server.
pub fn init(filter: &str) {
    let (filter, warning) = match EnvFilter::try_new(filter) {
        Ok(filter) => (filter, None),
        Err(error) => (EnvFilter::new("info"), Some(error)),
    };
    // A second call (in tests) finds a subscriber already set; that is fine.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
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
