//! `GET /api/lab/ticks`: a short server-sent countdown, the simplest push there is. Each `tick`
//! event carries its number as its id, so a client that reconnects with `Last-Event-ID` (as an
//! `EventSource` does by itself) resumes after the last one it saw; once every event is sent, a
//! reconnect gets `204 No Content`, which tells an `EventSource` to stop.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use protocol::lab::{Tick, TicksRequest};
use tokio_util::sync::CancellationToken;

use crate::error::{ApiError, ApiQuery, Result};
use crate::streams::{self, StreamEnd};

/// `GET /api/lab/ticks?count=&interval_ms=`.
pub async fn ticks_show(
    State(shutdown): State<CancellationToken>,
    ApiQuery(request): ApiQuery<TicksRequest>,
    headers: HeaderMap,
) -> Result<Response> {
    request
        .validate()
        .map_err(|e| ApiError::Validation(e.to_string()))?;
    let first = streams::last_event_id::<u32>(&headers, "the number of the last tick received")?
        .map_or(1, |seen| seen.saturating_add(1));
    if first > request.count {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let interval = Duration::from_millis(u64::from(request.interval_ms));
    let count = request.count;
    let end = StreamEnd::new("lab ticks", &shutdown);
    let ticks = futures::stream::unfold((first, end), move |(n, mut end)| async move {
        if n > count {
            end.finished();
            return None;
        }
        tokio::time::sleep(interval).await;
        let event = Event::default()
            .event("tick")
            .id(n.to_string())
            .json_data(Tick {
                n,
                remaining: count - n,
            });
        end.sent_one();
        Some((event, (n + 1, end)))
    });
    Ok(Sse::new(streams::until_shutdown(ticks, shutdown)).into_response())
}
