//! What every server-sent event stream of the API shares: it ends when the server begins to
//! shut down (so a graceful shutdown does not wait on it), and it says in the log when and why it
//! ended — finished, the client left, or the server stopped — with how many events it sent.

use std::str::FromStr;

use axum::http::HeaderMap;
use futures::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::error::{ApiError, Result};

/// Writes the stream's one log line when dropped: hyper drops a response body when it is done
/// with it, whatever the reason, so this sees every end.
#[derive(Debug)]
pub struct StreamEnd {
    name: &'static str,
    shutdown: CancellationToken,
    sent: u64,
    finished: bool,
}

impl StreamEnd {
    pub fn new(name: &'static str, shutdown: &CancellationToken) -> Self {
        tracing::debug!(stream = name, "event stream started");
        Self {
            name,
            shutdown: shutdown.clone(),
            sent: 0,
            finished: false,
        }
    }

    /// One more event was handed to the client.
    pub fn sent_one(&mut self) {
        self.sent += 1;
    }

    /// The stream sent everything it had to send.
    pub fn finished(&mut self) {
        self.finished = true;
    }
}

impl Drop for StreamEnd {
    fn drop(&mut self) {
        let reason = if self.finished {
            "finished"
        } else if self.shutdown.is_cancelled() {
            "the server is shutting down"
        } else {
            "the client left"
        };
        tracing::info!(
            stream = self.name,
            sent = self.sent,
            reason,
            "event stream ended"
        );
    }
}

/// `stream`, ending as soon as `shutdown` is cancelled.
pub fn until_shutdown<S: Stream>(
    stream: S,
    shutdown: CancellationToken,
) -> impl Stream<Item = S::Item> {
    stream.take_until(shutdown.cancelled_owned())
}

/// The `Last-Event-ID` a reconnecting `EventSource` sends: the id of the last event it received,
/// read as the stream numbers its events; `400` (saying what an id is: `meaning`) otherwise.
pub fn last_event_id<T: FromStr>(headers: &HeaderMap, meaning: &str) -> Result<Option<T>> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .map(Some)
        .ok_or_else(|| ApiError::BadRequest(format!("`Last-Event-ID` must be {meaning}.")))
}
