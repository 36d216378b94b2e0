//! The Tasks room's endpoints: submit a job (answered `202` at once), look at one, list the
//! owner's, cancel, the result, and the owner's event stream.

use gloo_net::http::Method;
use protocol::jobs::{Job, JobAccepted, JobList, JobResult, JobSpec, NewJob};

use super::fetch::{self, ApiError, Call};
use super::push::{Push, PushStream};

/// The event names the stream carries.
pub const EVENT_KINDS: [&str; 3] = ["submitted", "progress", "finished"];

async fn body<T: serde::de::DeserializeOwned>(call: Call<'_>) -> Result<T, ApiError> {
    fetch::send(call).await.result.map(|answer| answer.body)
}

/// `POST /api/jobs`: queued; the answer comes at once, whatever the workers are doing. Every
/// attempt of one submission carries the same `key`: a retry after a lost answer gets the job
/// the first attempt queued, never a second one.
pub async fn submit(spec: &JobSpec, owner: &str, key: &str) -> Result<JobAccepted, ApiError> {
    let new = NewJob {
        spec: spec.clone(),
        owner: Some(owner.to_owned()),
    };
    body(
        Call::new(Method::POST, "/api/jobs")
            .header("idempotency-key", key)
            .json(&new),
    )
    .await
}

/// `GET /api/jobs/{id}`.
pub async fn job(id: &str) -> Result<Job, ApiError> {
    body(Call::new(Method::GET, format!("/api/jobs/{id}"))).await
}

/// `GET /api/jobs?owner=`: the owner's newest jobs, and where its stream stands.
pub async fn list(owner: &str) -> Result<JobList, ApiError> {
    body(Call::new(Method::GET, "/api/jobs").query("owner", owner)).await
}

/// `POST /api/jobs/{id}/cancel`: the job as the server has it now (still `running` until its
/// worker has stopped it; a `finished` event follows).
pub async fn cancel(id: &str) -> Result<Job, ApiError> {
    body(Call::new(Method::POST, format!("/api/jobs/{id}/cancel"))).await
}

/// `GET /api/jobs/{id}/result` for the kinds whose result is JSON.
pub async fn result(id: &str) -> Result<JobResult, ApiError> {
    body(Call::new(Method::GET, format!("/api/jobs/{id}/result"))).await
}

/// Where a mandelbrot job's picture is (`image/png`), for an `<img>`.
pub fn picture_address(id: &str) -> String {
    fetch::address(&format!("/api/jobs/{id}/result"), &[])
}

/// `GET /api/jobs/events?owner=&last_event_id=`: the owner's job events after `last_event_id`;
/// the browser reconnects by itself with `Last-Event-ID`.
pub fn events(
    owner: &str,
    last_event_id: i64,
    on_push: impl Fn(Push) + 'static,
) -> Result<PushStream, ApiError> {
    let address = fetch::address(
        "/api/jobs/events",
        &[
            ("owner", owner.to_owned()),
            ("last_event_id", last_event_id.to_string()),
        ],
    );
    PushStream::open(address, &EVENT_KINDS, on_push)
}
