//! The jobs table: every change of a job is one statement (or one transaction with its event),
//! so several workers — of one process, or of several server instances on one PostgreSQL
//! database — never run a job twice at once and never lose one. A claim is a lease held by a token drawn for that claim
//! alone and timed by the database's clock: a worker whose lease ran out and was claimed again
//! (by another process or by the next worker of its own) can renew nothing and write no end.

use std::time::Duration;

use protocol::jobs::{
    Job, JobEvent, JobProgress, JobResult, JobSpec, JobState, QUEUE_MAX, QUEUE_PER_OWNER,
};
use sqlx::{AnyConnection, AnyPool};

use crate::db::{Backend, now_ms};
use crate::error::{ApiError, Result};
use crate::streams::Hub;

/// The columns a [`Job`] is read from.
const JOB_COLUMNS: &str = "id, owner, kind, params, state, progress, created_at_ms, \
     started_at_ms, finished_at_ms, attempts, result, error";

#[derive(Debug, sqlx::FromRow)]
pub struct JobRow {
    pub id: String,
    pub owner: Option<String>,
    kind: String,
    params: String,
    state: String,
    progress: f64,
    created_at_ms: i64,
    started_at_ms: Option<i64>,
    finished_at_ms: Option<i64>,
    attempts: i64,
    result: Option<String>,
    error: Option<String>,
}

impl JobRow {
    pub fn attempts(&self) -> i64 {
        self.attempts
    }

    pub fn spec(&self) -> Result<JobSpec> {
        let params: serde_json::Value = serde_json::from_str(&self.params).map_err(corrupt)?;
        serde_json::from_value(serde_json::json!({ "kind": self.kind, "params": params }))
            .map_err(corrupt)
    }

    pub fn state(&self) -> Result<JobState> {
        serde_json::from_value(serde_json::Value::String(self.state.clone())).map_err(corrupt)
    }

    pub fn job(&self) -> Result<Job> {
        Ok(Job {
            id: self.id.clone(),
            spec: self.spec()?,
            state: self.state()?,
            progress: self.progress,
            created_at_ms: self.created_at_ms,
            started_at_ms: self.started_at_ms,
            finished_at_ms: self.finished_at_ms,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            result: self
                .result
                .as_deref()
                .map(serde_json::from_str::<JobResult>)
                .transpose()
                .map_err(corrupt)?,
            error: self.error.clone(),
        })
    }
}

/// A row the server wrote and cannot read back: a bug, answered 500 and logged.
fn corrupt(error: serde_json::Error) -> ApiError {
    ApiError::Internal(format!("a stored job cannot be read: {error}"))
}

/// What submitting found.
#[derive(Debug)]
pub enum Submitted {
    /// Queued now.
    Queued(Job),
    /// The `Idempotency-Key` was used for this same job before: that job, as it is now.
    Again(Job),
    /// [`QUEUE_MAX`] are waiting already; nothing was written.
    QueueFull,
    /// The owner has [`QUEUE_PER_OWNER`] waiting or running already; nothing was written.
    ShareUsed,
}

/// A submission's `Idempotency-Key` and the hash of the body it came with.
#[derive(Debug, Clone)]
pub struct Keyed<'a> {
    pub key: &'a str,
    pub request_hash: Vec<u8>,
}

/// Queues a job, unless [`QUEUE_MAX`] are waiting already or the owner has its share
/// ([`QUEUE_PER_OWNER`]) waiting or running: the counts and the insert are one statement, so two
/// submissions at once cannot both take the last place. With a key, the key and the job are one
/// transaction: a retry of a submission whose answer was lost gets the job it queued, never a
/// second one.
pub async fn submit(
    db: &AnyPool,
    hub: &Hub,
    id: &str,
    spec: &JobSpec,
    owner: &str,
    keyed: Option<Keyed<'_>>,
) -> Result<Submitted> {
    let now = now_ms();
    let params = match serde_json::to_value(spec).map_err(corrupt)? {
        serde_json::Value::Object(mut tagged) => tagged.remove("params").unwrap_or_default(),
        _ => serde_json::Value::Null,
    };
    let mut tx = crate::db::begin(db).await?;
    if let Some(keyed) = &keyed {
        let scope = owner;
        let claimed = sqlx::query(
            "INSERT INTO job_keys (owner, key, request_hash, job_id, created_at_ms)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (owner, key) DO NOTHING",
        )
        .bind(scope)
        .bind(keyed.key)
        .bind(&keyed.request_hash)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            let (hash, earlier): (Vec<u8>, String) = sqlx::query_as(
                "SELECT request_hash, job_id FROM job_keys WHERE owner = $1 AND key = $2",
            )
            .bind(scope)
            .bind(keyed.key)
            .fetch_one(&mut *tx)
            .await?;
            if hash != keyed.request_hash {
                return Err(ApiError::IdempotencyKeyReused(
                    "This Idempotency-Key was used for a different job; use a new key for a new job."
                        .to_owned(),
                ));
            }
            if let Some(row) = find_optional(&mut tx, &earlier).await? {
                tx.commit().await?;
                // The first attempt's wake may have been lost with its answer.
                hub.nudge(&stream_key(owner));
                return Ok(Submitted::Again(row.job()?));
            }
            // The job was pruned long ago, the key not yet: the key now names the new job.
            sqlx::query("UPDATE job_keys SET job_id = $1 WHERE owner = $2 AND key = $3")
                .bind(id)
                .bind(scope)
                .bind(keyed.key)
                .execute(&mut *tx)
                .await?;
        }
    }
    // Holds the owner's row until the commit, so two submissions of one owner at once count one
    // after the other (PostgreSQL locks the row; SQLite's one writer holds everything anyway).
    sqlx::query("UPDATE job_owners SET last_event_id = last_event_id WHERE owner = $1")
        .bind(owner)
        .execute(&mut *tx)
        .await?;
    let row: Option<JobRow> = sqlx::query_as(&format!(
        "INSERT INTO jobs (id, owner, kind, params, state, created_at_ms)
         SELECT $1, $2, $3, $4, 'queued', $5
         WHERE (SELECT count(*) FROM jobs WHERE state = 'queued') < $6
           AND (SELECT count(*) FROM jobs
                WHERE owner = $7 AND state IN ('queued', 'running')) < $8
         RETURNING {JOB_COLUMNS}"
    ))
    .bind(id)
    .bind(owner)
    .bind(spec.kind())
    .bind(params.to_string())
    .bind(now)
    .bind(QUEUE_MAX as i64)
    .bind(owner)
    .bind(QUEUE_PER_OWNER as i64)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        // Which limit it was, read in the same transaction; dropped, it rolls back: the key is
        // not kept, so a retry may queue.
        let mine: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE owner = $1 AND state IN ('queued', 'running')",
        )
        .bind(owner)
        .fetch_one(&mut *tx)
        .await?;
        return Ok(if mine >= QUEUE_PER_OWNER as i64 {
            Submitted::ShareUsed
        } else {
            Submitted::QueueFull
        });
    };
    let job = row.job()?;
    let event = append(&mut tx, owner, &JobEvent::Submitted(job.clone()), now).await?;
    tx.commit().await?;
    wake(hub, Some(owner), Some(event));
    Ok(Submitted::Queued(job))
}

/// How many jobs wait for a worker, in the whole queue (every instance's).
pub async fn waiting(db: &AnyPool) -> sqlx::Result<u64> {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state = 'queued'")
        .fetch_one(db)
        .await?;
    Ok(count.max(0) as u64)
}

/// `owner`'s job `id`; `None` when there is none, or it is another owner's.
pub async fn find(db: &AnyPool, owner: &str, id: &str) -> Result<Option<JobRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND owner = $2"
    ))
    .bind(id)
    .bind(owner)
    .fetch_optional(db)
    .await?)
}

/// A succeeded mandelbrot job's picture (its owner checked with [`find`]).
pub async fn image(db: &AnyPool, id: &str) -> Result<Option<Vec<u8>>> {
    Ok(sqlx::query_scalar("SELECT image FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?
        .flatten())
}

/// The owner's newest jobs, newest first, and the newest event id of the owner's stream.
pub async fn list(db: &AnyPool, owner: &str, limit: usize) -> Result<(Vec<Job>, i64)> {
    // Both in one read transaction, so no event falls between the list and the id.
    let mut tx = crate::db::begin(db).await?;
    let rows: Vec<JobRow> = sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE owner = $1 ORDER BY seq DESC LIMIT $2"
    ))
    .bind(owner)
    .bind(limit as i64)
    .fetch_all(&mut *tx)
    .await?;
    let last_event_id = last_event_id(&mut tx, owner).await?;
    tx.commit().await?;
    let jobs = rows.iter().map(JobRow::job).collect::<Result<_>>()?;
    Ok((jobs, last_event_id))
}

/// The newest event id of `owner`'s stream (0 before its first event).
pub async fn last_event_id(conn: &mut AnyConnection, owner: &str) -> Result<i64> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT last_event_id FROM job_owners WHERE owner = $1")
            .bind(owner)
            .fetch_optional(conn)
            .await?;
    Ok(id.unwrap_or(0))
}

/// What asking to cancel did.
#[derive(Debug)]
pub enum Cancel {
    NotFound,
    /// It had finished already, in this state.
    AlreadyFinished(JobState),
    /// It was waiting: it is cancelled and will never start.
    Cancelled(Job),
    /// It is running: its worker stops it.
    Requested(Job),
}

/// Cancels `owner`'s job `id` ([`Cancel::NotFound`] for another owner's).
pub async fn cancel(db: &AnyPool, hub: &Hub, owner: &str, id: &str) -> Result<Cancel> {
    let now = now_ms();
    let mut tx = crate::db::begin(db).await?;
    // Every SET expression reads the row as it was, so `state = 'queued'` is the old state.
    let row: Option<JobRow> = sqlx::query_as(&format!(
        "UPDATE jobs SET cancel_requested = 1,
             finished_at_ms = CASE WHEN state = 'queued' THEN $1 ELSE finished_at_ms END,
             state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END
         WHERE id = $2 AND owner = $3 AND state IN ('queued', 'running')
         RETURNING {JOB_COLUMNS}"
    ))
    .bind(now)
    .bind(id)
    .bind(owner)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        tx.commit().await?;
        return Ok(match find(db, owner, id).await? {
            Some(row) => Cancel::AlreadyFinished(row.state()?),
            None => Cancel::NotFound,
        });
    };
    let job = row.job()?;
    if job.state != JobState::Cancelled {
        tx.commit().await?;
        return Ok(Cancel::Requested(job));
    }
    let event = match &row.owner {
        Some(owner) => Some(append(&mut tx, owner, &JobEvent::Finished(job.clone()), now).await?),
        None => None,
    };
    tx.commit().await?;
    wake(hub, row.owner.as_deref(), event);
    Ok(Cancel::Cancelled(job))
}

/// A job claimed by one worker: `lease` is the token drawn for this claim, which renewing and
/// ending the run must show.
#[derive(Debug)]
pub struct Claim {
    pub row: JobRow,
    pub lease: String,
}

/// Claims the oldest job that waits, or whose lease ran out (its worker died or stalled), until
/// `lease` from now by the database's clock, in one statement. On PostgreSQL the inner SELECT
/// takes `FOR UPDATE SKIP LOCKED`: two instances claiming at once take the two oldest jobs, not
/// one of them each in turn; the outer WHERE checks the state again either way.
pub async fn claim(db: &AnyPool, hub: &Hub, lease: Duration) -> Result<Option<Claim>> {
    let now = now_ms();
    let token = super::new_id();
    let backend = Backend::of(db);
    let (clock, skip_locked) = (backend.now_ms(), backend.skip_locked());
    // `now` may be read before a job submitted meanwhile was created: it never starts before it.
    let mut tx = crate::db::begin(db).await?;
    let row: Option<JobRow> = sqlx::query_as(&format!(
        "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until_ms = {clock} + $2,
             started_at_ms = CASE WHEN created_at_ms > $3 THEN created_at_ms ELSE $3 END,
             attempts = attempts + 1, progress = 0
         WHERE seq = (SELECT seq FROM jobs
                      WHERE cancel_requested = 0 AND (state = 'queued'
                          OR (state = 'running' AND lease_until_ms < {clock}))
                      ORDER BY seq LIMIT 1 {skip_locked})
           AND cancel_requested = 0
           AND (state = 'queued' OR (state = 'running' AND lease_until_ms < {clock}))
         RETURNING {JOB_COLUMNS}"
    ))
    .bind(&token)
    .bind(lease.as_millis() as i64)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        tx.commit().await?;
        return Ok(None);
    };
    let event = match &row.owner {
        Some(owner) => {
            let progress = JobEvent::Progress(progress_of(&row)?);
            Some(append(&mut tx, owner, &progress, now).await?)
        }
        None => None,
    };
    tx.commit().await?;
    wake(hub, row.owner.as_deref(), event);
    Ok(Some(Claim { row, lease: token }))
}

fn progress_of(row: &JobRow) -> Result<JobProgress> {
    Ok(JobProgress {
        id: row.id.clone(),
        state: row.state()?,
        progress: row.progress,
        started_at_ms: row.started_at_ms,
        attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
    })
}

/// What renewing a lease found.
#[derive(Debug, PartialEq, Eq)]
pub enum Renewal {
    /// Still this worker's; `cancel` if someone asked to cancel it.
    Held { cancel: bool },
    /// Another worker has it (this one's lease ran out): stop, and write nothing.
    Lost,
}

/// Extends the lease held by `token` and records the progress; with an event when `announce`
/// (which replaces the job's previous progress event: a stream resumed later gets where the job
/// is, not every step it took).
pub async fn renew(
    db: &AnyPool,
    hub: &Hub,
    id: &str,
    token: &str,
    lease: Duration,
    progress: f64,
    announce: bool,
) -> Result<Renewal> {
    let now = now_ms();
    let clock = Backend::of(db).now_ms();
    let mut tx = crate::db::begin(db).await?;
    let row: Option<(i64, Option<String>)> = sqlx::query_as(&format!(
        "UPDATE jobs SET lease_until_ms = {clock} + $1, progress = $2
         WHERE id = $3 AND lease_owner = $4 AND state = 'running'
         RETURNING cancel_requested, owner"
    ))
    .bind(lease.as_millis() as i64)
    .bind(progress)
    .bind(id)
    .bind(token)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((cancel, owner)) = row else {
        tx.commit().await?;
        return Ok(Renewal::Lost);
    };
    let mut event = None;
    if announce && let Some(owner) = &owner {
        let row = find_in(&mut tx, id).await?;
        let progress = JobEvent::Progress(progress_of(&row)?);
        event = Some(append(&mut tx, owner, &progress, now).await?);
    }
    tx.commit().await?;
    wake(hub, owner.as_deref(), event);
    Ok(Renewal::Held {
        cancel: cancel != 0,
    })
}

/// The job `id`, which must exist in this transaction.
async fn find_in(conn: &mut AnyConnection, id: &str) -> Result<JobRow> {
    find_optional(conn, id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("job {id} vanished in its transaction")))
}

async fn find_optional(conn: &mut AnyConnection, id: &str) -> Result<Option<JobRow>> {
    Ok(
        sqlx::query_as(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

/// How a job's run ended.
#[derive(Debug)]
pub enum End {
    Succeeded {
        result: JobResult,
        image: Option<Vec<u8>>,
    },
    Failed(String),
    /// The work stopped when told to: cancelled if someone asked for it, otherwise (the server
    /// is shutting down) back in the queue, to run again at the next start.
    Stopped,
}

/// Writes how the run ended, only while `token` holds the lease; `None` when it does not.
pub async fn finish(
    db: &AnyPool,
    hub: &Hub,
    id: &str,
    token: &str,
    end: End,
) -> Result<Option<Job>> {
    let now = now_ms();
    if let End::Stopped = end {
        return stopped(db, hub, id, token, now).await;
    }
    let (state, progress, result, image, error, finished) = match end {
        End::Succeeded { result, image } => (
            JobState::Succeeded,
            Some(1.0),
            Some(serde_json::to_string(&result).map_err(corrupt)?),
            image,
            None,
            Some(now),
        ),
        End::Failed(error) => (JobState::Failed, None, None, None, Some(error), Some(now)),
        End::Stopped => unreachable!("written by `stopped`"),
    };
    let statement = format!(
        "UPDATE jobs SET state = $1, progress = coalesce($2, progress), result = $3, image = $4,
             error = $5, finished_at_ms = $6, lease_owner = NULL, lease_until_ms = NULL
         WHERE id = $7 AND lease_owner = $8 AND state = 'running'
         RETURNING {JOB_COLUMNS}"
    );
    let query = sqlx::query_as(&statement)
        .bind(state.as_str())
        .bind(progress)
        .bind(result)
        .bind(image)
        .bind(error)
        .bind(finished)
        .bind(id)
        .bind(token);
    write_end(db, hub, query, now).await
}

/// [`End::Stopped`]: cancelled when asked for, otherwise queued again.
async fn stopped(db: &AnyPool, hub: &Hub, id: &str, token: &str, now: i64) -> Result<Option<Job>> {
    let statement = format!(
        "UPDATE jobs SET
             state = CASE WHEN cancel_requested = 1 THEN 'cancelled' ELSE 'queued' END,
             finished_at_ms = CASE WHEN cancel_requested = 1 THEN $1 ELSE NULL END,
             progress = CASE WHEN cancel_requested = 1 THEN progress ELSE 0 END,
             lease_owner = NULL, lease_until_ms = NULL
         WHERE id = $2 AND lease_owner = $3 AND state = 'running'
         RETURNING {JOB_COLUMNS}"
    );
    let query = sqlx::query_as(&statement).bind(now).bind(id).bind(token);
    write_end(db, hub, query, now).await
}

/// Runs the UPDATE … RETURNING that ends a run and, when the job finished, its event, in one
/// transaction.
async fn write_end<'q>(
    db: &AnyPool,
    hub: &Hub,
    query: sqlx::query::QueryAs<'q, sqlx::Any, JobRow, sqlx::any::AnyArguments<'q>>,
    now: i64,
) -> Result<Option<Job>> {
    let mut tx = crate::db::begin(db).await?;
    let row: Option<JobRow> = query.fetch_optional(&mut *tx).await?;
    let Some(row) = row else {
        tx.commit().await?;
        return Ok(None);
    };
    let job = row.job()?;
    let event = match (&row.owner, job.state.is_finished()) {
        (Some(owner), true) => {
            Some(append(&mut tx, owner, &JobEvent::Finished(job.clone()), now).await?)
        }
        _ => None,
    };
    tx.commit().await?;
    wake(hub, row.owner.as_deref(), event);
    Ok(Some(job))
}

/// Jobs asked to cancel whose worker died before it could stop them: cancelled.
pub async fn sweep(db: &AnyPool, hub: &Hub) -> Result<()> {
    let now = now_ms();
    let clock = Backend::of(db).now_ms();
    let mut tx = crate::db::begin(db).await?;
    let rows: Vec<JobRow> = sqlx::query_as(&format!(
        "UPDATE jobs SET state = 'cancelled', finished_at_ms = $1,
             lease_owner = NULL, lease_until_ms = NULL
         WHERE state = 'running' AND cancel_requested = 1 AND lease_until_ms < {clock}
         RETURNING {JOB_COLUMNS}"
    ))
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let mut events = Vec::new();
    for row in &rows {
        if let Some(owner) = &row.owner {
            let id = append(&mut tx, owner, &JobEvent::Finished(row.job()?), now).await?;
            events.push((owner, id));
        }
    }
    tx.commit().await?;
    for (owner, id) in events {
        wake(hub, Some(owner), Some(id));
    }
    Ok(())
}

/// Writes `event` on `owner`'s stream in the caller's transaction; returns its id. A job keeps
/// one `progress` row, its newest: a new one replaces it, and the job's end removes it (the
/// `finished` event carries the whole job).
async fn append(
    conn: &mut AnyConnection,
    owner: &str,
    event: &JobEvent,
    at_ms: i64,
) -> Result<i64> {
    let (job, data) = match event {
        JobEvent::Submitted(job) | JobEvent::Finished(job) => (&job.id, serde_json::to_string(job)),
        JobEvent::Progress(progress) => (&progress.id, serde_json::to_string(progress)),
    };
    let data = data.map_err(corrupt)?;
    if !matches!(event, JobEvent::Submitted(_)) {
        sqlx::query("DELETE FROM job_events WHERE owner = $1 AND job = $2 AND kind = 'progress'")
            .bind(owner)
            .bind(job)
            .execute(&mut *conn)
            .await?;
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO job_owners (owner, last_event_id) VALUES ($1, 1)
         ON CONFLICT (owner) DO UPDATE SET last_event_id = job_owners.last_event_id + 1
         RETURNING last_event_id",
    )
    .bind(owner)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO job_events (owner, id, job, kind, data, at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(owner)
    .bind(id)
    .bind(job)
    .bind(event.name())
    .bind(data)
    .bind(at_ms)
    .execute(&mut *conn)
    .await?;
    crate::db::notify(conn, &stream_key(owner), id).await?;
    Ok(id)
}

/// The [`Hub`] key of `owner`'s job stream.
pub fn stream_key(owner: &str) -> String {
    format!("jobs/{owner}")
}

fn wake(hub: &Hub, owner: Option<&str>, event: Option<i64>) {
    if let (Some(owner), Some(id)) = (owner, event) {
        hub.wake(&stream_key(owner), id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker that stalled past its lease (a long pause, a blocked thread) finds its job
    /// claimed again — here by another worker of the same process — and can neither renew the
    /// lease nor write an end; the new claim can.
    #[tokio::test]
    async fn a_lease_belongs_to_its_claim_not_to_its_process() {
        let folder = tempfile::tempdir().expect("a folder");
        let db = crate::db::connect(&crate::db::Address::Sqlite(folder.path().join("jobs.db")))
            .await
            .expect("the database opens");
        let hub = Hub::default();
        let spec: JobSpec =
            serde_json::from_value(serde_json::json!({"kind": "wait", "params": {"seconds": 1}}))
                .expect("a job");
        submit(&db, &hub, "job", &spec, "owner", None)
            .await
            .expect("queued");

        let stalled = claim(&db, &hub, Duration::from_millis(50))
            .await
            .expect("claims")
            .expect("the job");
        let held = claim(&db, &hub, Duration::from_secs(60))
            .await
            .expect("claims");
        assert!(held.is_none(), "a held lease is not claimed");
        tokio::time::sleep(Duration::from_millis(150)).await;
        let next = claim(&db, &hub, Duration::from_secs(60))
            .await
            .expect("claims")
            .expect("the job whose lease ran out");
        assert_eq!(next.row.id, "job");
        assert_ne!(next.lease, stalled.lease);

        let renewed = renew(
            &db,
            &hub,
            "job",
            &stalled.lease,
            Duration::from_secs(60),
            0.5,
            true,
        )
        .await
        .expect("renews");
        assert!(matches!(renewed, Renewal::Lost), "{renewed:?}");
        let late = finish(
            &db,
            &hub,
            "job",
            &stalled.lease,
            End::Failed("late".to_owned()),
        )
        .await
        .expect("writes");
        assert!(late.is_none(), "the stalled claim writes no end");

        let renewed = renew(
            &db,
            &hub,
            "job",
            &next.lease,
            Duration::from_secs(60),
            0.5,
            true,
        )
        .await
        .expect("renews");
        assert!(
            matches!(renewed, Renewal::Held { cancel: false }),
            "{renewed:?}"
        );
        let ended = finish(
            &db,
            &hub,
            "job",
            &next.lease,
            End::Failed("on time".to_owned()),
        )
        .await
        .expect("writes")
        .expect("the claim holding the lease writes the end");
        assert_eq!(ended.state, JobState::Failed);
        assert_eq!(ended.attempts, 2);
    }
}
