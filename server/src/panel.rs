//! The server panel's stream, `GET /api/server/live`: what this instance is doing, pushed as a
//! `now` event four times a second for as long as the page keeps it open (the inspector opens it
//! while its server panel shows, and closes it when it does not).
//!
//! Each sample reads the same gauges `/metrics` reports ([`crate::metrics::live`]: requests in
//! flight by route, streams open by kind, writes waiting for the database writer, connections),
//! the runtime's own figures (its worker threads and the tasks alive on them), the jobs this
//! instance's workers run, and how many jobs wait in the queue. A panel is an event stream like
//! any other: it counts against the address's open streams.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use protocol::server::{Count, LIVE_EVENT, LIVE_INTERVAL_MS, ServerNow};
use tokio::time::MissedTickBehavior;

use crate::clients::ClientAddress;
use crate::error::Result;
use crate::state::AppState;
use crate::streams::{self, StreamEnd};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/server/live", get(live))
}

/// `GET /api/server/live`.
async fn live(State(state): State<AppState>, client: ClientAddress) -> Result<Response> {
    let held = state.clients.open_stream(client)?;
    let end = StreamEnd::new("server panel", &state.shutdown);
    let mut every = tokio::time::interval(Duration::from_millis(LIVE_INTERVAL_MS));
    // A sample late by a busy moment is not made up for: the next one is what counts.
    every.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let shutdown = state.shutdown.clone();
    let samples = futures::stream::unfold(
        (state, every, end, held),
        |(state, mut every, mut end, held)| async move {
            every.tick().await;
            let now = sample(&state).await;
            let event = Event::default().event(LIVE_EVENT).json_data(now);
            end.sent_one();
            Some((event, (state, every, end, held)))
        },
    );
    Ok(Sse::new(streams::until_shutdown(samples, shutdown))
        .keep_alive(KeepAlive::new().interval(streams::KEEP_ALIVE))
        .into_response())
}

/// What this instance is doing now.
pub async fn sample(state: &AppState) -> ServerNow {
    let live = crate::metrics::live();
    let runtime = tokio::runtime::Handle::current().metrics();
    let counts = |gauge: &str, label: &str| {
        live.by(gauge, label)
            .into_iter()
            .map(|(name, count)| Count {
                name,
                count: count as u64,
            })
            .collect()
    };
    let jobs_waiting = crate::tasks::waiting(&state.reads.0)
        .await
        .unwrap_or_else(|error| {
            tracing::debug!(%error, "the panel cannot count the waiting jobs");
            0
        });
    ServerNow {
        instance: state.served_by.0.to_str().unwrap_or_default().to_owned(),
        threads: runtime.num_workers() as u64,
        tasks: runtime.num_alive_tasks() as u64,
        requests: counts("meanwhile_http_requests_in_flight", "route"),
        streams: counts("meanwhile_streams_open", "stream"),
        workers: state.jobs.workers as u64,
        running: state.jobs.running_now(),
        jobs_waiting,
        writes_waiting: live.total("meanwhile_db_writes_waiting") as u64,
        connections: live.total("meanwhile_connections_open") as u64,
        connections_max: live.total("meanwhile_connections_max") as u64,
    }
}
