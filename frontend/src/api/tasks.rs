//! The Tasks room's endpoints: an owner's token, submit a job (answered `202` at once), look at
//! one, list the owner's, cancel, the result, and the owner's event stream (a single-use ticket,
//! then an `EventSource`). Every call about jobs carries the owner's token as
//! `Authorization: Bearer`, as Mail's calls carry the mailbox's.

use gloo_net::http::Method;
use protocol::jobs::{
    EventTicket, Job, JobAccepted, JobList, JobOwnerCreated, JobResult, JobSpec, NewJob,
};

use super::fetch::{self, ApiError, Call, Traced};
use super::push::{Push, PushStream};
use crate::inspector::Attempt;

/// The event names the stream carries.
pub const EVENT_KINDS: [&str; 3] = ["submitted", "progress", "finished"];

async fn body<T: serde::de::DeserializeOwned>(call: Call<'_>) -> Result<T, ApiError> {
    fetch::send(call).await.result.map(|answer| answer.body)
}

/// `POST /api/jobs/owners`: a new owner of jobs and its token (shown this once).
pub async fn new_owner() -> Result<JobOwnerCreated, ApiError> {
    body(Call::new(Method::POST, "/api/jobs/owners")).await
}

/// `POST /api/jobs`: queued; the answer comes at once, whatever the workers are doing. Every
/// attempt of one submission carries the same `key`: a retry after a lost answer gets the job
/// the first attempt queued, never a second one.
pub async fn submit(
    token: &str,
    spec: &JobSpec,
    key: &str,
    attempt: Attempt,
) -> Traced<JobAccepted> {
    let new = NewJob { spec: spec.clone() };
    let call = Call::new(Method::POST, "/api/jobs")
        .bearer(token)
        .header("idempotency-key", key)
        .json(&new)
        .strategy("retried with backoff under one Idempotency-Key")
        .attempt(attempt.number, attempt.of);
    fetch::send(call).await
}

/// `GET /api/jobs/{id}`.
pub async fn job(token: &str, id: &str) -> Result<Job, ApiError> {
    body(Call::new(Method::GET, format!("/api/jobs/{id}")).bearer(token)).await
}

/// `GET /api/jobs`: the owner's newest jobs, and where its stream stands.
pub async fn list(token: &str) -> Result<JobList, ApiError> {
    body(Call::new(Method::GET, "/api/jobs").bearer(token)).await
}

/// `POST /api/jobs/{id}/cancel`: the job as the server has it now (still `running` until its
/// worker has stopped it; a `finished` event follows).
pub async fn cancel(token: &str, id: &str) -> Result<Job, ApiError> {
    body(Call::new(Method::POST, format!("/api/jobs/{id}/cancel")).bearer(token)).await
}

/// `GET /api/jobs/{id}/result` for the kinds whose result is JSON.
pub async fn result(token: &str, id: &str) -> Result<JobResult, ApiError> {
    body(Call::new(Method::GET, format!("/api/jobs/{id}/result")).bearer(token)).await
}

/// `GET /api/jobs/{id}/result` of a mandelbrot job: the picture's PNG bytes (fetched with the
/// token, so an `<img>` shows them from an object URL, not from the address).
pub async fn picture(token: &str, id: &str) -> Result<Vec<u8>, ApiError> {
    fetch::send_for_bytes(Call::new(Method::GET, format!("/api/jobs/{id}/result")).bearer(token))
        .await
}

/// `POST /api/jobs/events/ticket`: a pass for one `GET /api/jobs/events`.
pub async fn ticket(token: &str) -> Result<EventTicket, ApiError> {
    body(Call::new(Method::POST, "/api/jobs/events/ticket").bearer(token)).await
}

/// `GET /api/jobs/events?ticket=&last_event_id=`: the owner's job events after `last_event_id`.
/// The ticket works once, so when the connection drops the browser's own reconnection is refused
/// and the stream reports [`Push::Closed`]: the session opens a new one with a new ticket.
pub fn events(
    ticket: &str,
    last_event_id: i64,
    on_push: impl Fn(Push) + 'static,
) -> Result<PushStream, ApiError> {
    let address = fetch::address(
        "/api/jobs/events",
        &[
            ("ticket", ticket.to_owned()),
            ("last_event_id", last_event_id.to_string()),
        ],
    );
    PushStream::open(address, &EVENT_KINDS, on_push)
}
