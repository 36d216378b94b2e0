//! The jobs API: an owner's token, submit (202 and where to look), look, list, cancel, fetch the
//! result, and the owner's event stream (opened with a single-use ticket). Every call about jobs
//! carries the owner's token; another owner's job is `404`, as if it did not exist.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::jobs::{
    EventTicket, Job, JobAccepted, JobEventsQuery, JobList, JobOwnerCreated, JobResult, JobState,
    LIST_MAX, NewJob, QUEUE_MAX, QUEUE_PER_OWNER,
};
use sqlx::AnyPool;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Jobs;
use super::store::{self, Cancel, Keyed, Submitted};
use crate::auth::{self, JobOwner, Ticket};
use crate::clients::{ClientAddress, Clients};
use crate::db::{Reads, now_ms};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, Result};
use crate::idempotency;
use crate::state::ServedBy;
use crate::streams::{self, Feed, Full, Hub};

/// Event streams one owner may hold open at once (tabs, reconnects); past it, `429`.
const STREAMS_PER_OWNER: usize = 6;
/// When to come back after the queue was full.
const QUEUE_FULL_RETRY: Duration = Duration::from_secs(5);

/// `POST /api/jobs/owners`: a new owner of jobs and its token (shown this once; so many an hour
/// per client address, as mailboxes).
pub async fn new_owner(
    State(db): State<AnyPool>,
    State(clients): State<Arc<Clients>>,
    client: ClientAddress,
) -> Result<(StatusCode, ApiJson<JobOwnerCreated>)> {
    clients.new_credential(client)?;
    let token = auth::new_secret();
    sqlx::query(
        "INSERT INTO job_owners (owner, last_event_id, token_hash, created_at_ms)
         VALUES ($1, 0, $2, $3)",
    )
    .bind(super::new_id())
    .bind(auth::hash(&token))
    .bind(now_ms())
    .execute(&db)
    .await?;
    Ok((StatusCode::CREATED, ApiJson(JobOwnerCreated { token })))
}

/// `POST /api/jobs`: queued at once, however busy the workers are, within the owner's share of
/// the queue. With an `Idempotency-Key`, a retry (the same key and body) answers with the job the
/// first attempt queued (marked [`idempotency::REPLAYED`]); the same key with another body is `422`.
pub async fn submit(
    State(tasks): State<TaskTracker>,
    State(db): State<AnyPool>,
    State(hub): State<Arc<Hub>>,
    State(jobs): State<Arc<Jobs>>,
    JobOwner(owner): JobOwner,
    headers: HeaderMap,
    ApiJson(new): ApiJson<NewJob>,
) -> Result<Response> {
    streams::detached(&tasks, async move {
        let key = idempotency::optional(&headers)?;
        new.validate()
            .map_err(|e| ApiError::Validation(e.to_string()))?;
        let id = super::new_id();
        let keyed = key.as_deref().map(|key| Keyed {
            key,
            request_hash: idempotency::request_hash(&new),
        });
        let (job, replayed) = match store::submit(&db, &hub, &id, &new.spec, &owner, keyed).await? {
            Submitted::Queued(job) => {
                jobs.submitted();
                (job, false)
            }
            Submitted::Again(job) => (job, true),
            Submitted::QueueFull => {
                return Err(ApiError::TooManyRequests {
                    message: format!(
                        "{QUEUE_MAX} jobs are waiting already; submit this one later."
                    ),
                    retry_after: QUEUE_FULL_RETRY,
                });
            }
            Submitted::ShareUsed => {
                return Err(ApiError::TooManyRequests {
                    message: format!(
                        "You have {QUEUE_PER_OWNER} jobs waiting or running, as many as one \
                             owner may; submit this one when one has finished."
                    ),
                    retry_after: QUEUE_FULL_RETRY,
                });
            }
        };
        let location = HeaderValue::try_from(format!("/api/jobs/{}", job.id))
            .expect("an id is URL-safe base64, which a header holds");
        let accepted = JobAccepted {
            id: job.id,
            state: job.state,
        };
        let mut response = (
            StatusCode::ACCEPTED,
            [(header::LOCATION, location)],
            ApiJson(accepted),
        )
            .into_response();
        if replayed {
            response.headers_mut().extend(idempotency::replayed());
        }
        Ok(response)
    })
    .await
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("There is no job `{id}`."))
}

/// `GET /api/jobs/{id}`.
pub async fn show(
    State(Reads(reads)): State<Reads>,
    JobOwner(owner): JobOwner,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<Job>> {
    let row = store::find(&reads, &owner, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(ApiJson(row.job()?))
}

/// `GET /api/jobs/{id}/result`: the result as JSON, or the picture (`image/png`); `409` while
/// the job has none.
pub async fn result(
    State(Reads(reads)): State<Reads>,
    JobOwner(owner): JobOwner,
    ApiPath(id): ApiPath<String>,
) -> Result<Response> {
    let row = store::find(&reads, &owner, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let job = row.job()?;
    let Some(result) = job.result else {
        return Err(ApiError::Conflict(match job.state {
            JobState::Queued | JobState::Running => format!(
                "The job is {}: its result is there once it has succeeded.",
                job.state.as_str()
            ),
            state => format!("The job {} and has no result.", state.as_str()),
        }));
    };
    // A result never changes: the browser may keep it (for this owner only).
    let forever = HeaderValue::from_static("private, max-age=31536000, immutable");
    if let JobResult::Mandelbrot { .. } = result {
        let png = store::image(&reads, &id)
            .await?
            .ok_or_else(|| not_found(&id))?;
        return Ok((
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
                (header::CACHE_CONTROL, forever),
            ],
            png,
        )
            .into_response());
    }
    Ok(([(header::CACHE_CONTROL, forever)], ApiJson(result)).into_response())
}

/// `POST /api/jobs/{id}/cancel`: `200` and the job when it was waiting (it never starts), `202`
/// when it is running (its worker stops it and a `finished` event follows), `409` when it had
/// finished.
pub async fn cancel(
    State(tasks): State<TaskTracker>,
    State(db): State<AnyPool>,
    State(hub): State<Arc<Hub>>,
    State(jobs): State<Arc<Jobs>>,
    JobOwner(owner): JobOwner,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, ApiJson<Job>)> {
    streams::detached(&tasks, async move {
        match store::cancel(&db, &hub, &owner, &id).await? {
            Cancel::NotFound => Err(not_found(&id)),
            Cancel::AlreadyFinished(state) => Err(ApiError::Conflict(format!(
                "The job has {} already; there is nothing to cancel.",
                match state {
                    JobState::Succeeded => "succeeded",
                    JobState::Failed => "failed",
                    _ => "been cancelled",
                }
            ))),
            Cancel::Cancelled(job) => Ok((StatusCode::OK, ApiJson(job))),
            Cancel::Requested(job) => {
                jobs.stop(&id);
                Ok((StatusCode::ACCEPTED, ApiJson(job)))
            }
        }
    })
    .await
}

/// `GET /api/jobs`: the owner's newest jobs, and where its stream stands.
pub async fn list(
    State(Reads(reads)): State<Reads>,
    JobOwner(owner): JobOwner,
) -> Result<ApiJson<JobList>> {
    let (jobs, last_event_id) = store::list(&reads, &owner, LIST_MAX).await?;
    Ok(ApiJson(JobList {
        jobs,
        last_event_id,
    }))
}

/// `POST /api/jobs/events/ticket`: a pass for one `GET /api/jobs/events`, valid for a minute.
pub async fn ticket(
    State(db): State<AnyPool>,
    JobOwner(owner): JobOwner,
) -> Result<(StatusCode, ApiJson<EventTicket>)> {
    let (ticket, expires_at_ms) = Ticket::Jobs.issue(&db, &owner).await?;
    let last_event_id = store::last_event_id(&mut *db.acquire().await?, &owner).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(EventTicket {
            ticket,
            expires_at_ms,
            last_event_id,
        }),
    ))
}

/// `GET /api/jobs/events?ticket=&last_event_id=`: the owner's job events after the last one the
/// client has (`Last-Event-ID` or the query), then each new one as it is committed.
#[allow(clippy::too_many_arguments)]
pub async fn events(
    State(db): State<AnyPool>,
    State(Reads(reads)): State<Reads>,
    State(hub): State<Arc<Hub>>,
    State(clients): State<Arc<Clients>>,
    State(shutdown): State<CancellationToken>,
    State(served_by): State<ServedBy>,
    client: ClientAddress,
    ApiQuery(query): ApiQuery<JobEventsQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let resume = streams::last_event_id::<u64>(&headers, "the id of the last event received")?
        .map(|id| i64::try_from(id).unwrap_or(i64::MAX))
        .or(query.last_event_id);
    let (owner, slot) = Ticket::Jobs
        .redeem(&db, &query.ticket, |owner| {
            let held = clients.open_stream(client)?;
            let slot = hub
                .open(&store::stream_key(owner), STREAMS_PER_OWNER)
                .map_err(|Full| ApiError::TooManyRequests {
                    message: format!(
                        "One owner may have {STREAMS_PER_OWNER} job streams open; close one first."
                    ),
                    retry_after: streams::KEEP_ALIVE,
                })?;
            Ok(slot.holding(held))
        })
        .await?;
    let after = match resume {
        Some(id) => id,
        None => store::last_event_id(&mut *reads.acquire().await?, &owner).await?,
    };
    let feed = Feed {
        name: "job events",
        sql: "SELECT id, kind, data FROM job_events WHERE owner = $1 AND id > $2 ORDER BY id LIMIT $3",
        key: store::stream_key(&owner),
        of: owner,
    };
    Ok(streams::replay(
        feed, after, reads, slot, served_by, shutdown,
    ))
}
