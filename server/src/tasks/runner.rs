//! The worker pool: a fixed number of workers (default: one per core), each a loop that claims
//! the oldest waiting job, runs its work on a blocking thread, renews its lease and records its
//! progress every [`PROGRESS_INTERVAL_MS`], and writes how it ended.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::jobs::PROGRESS_INTERVAL_MS;
use protocol::server::RunningJob;
use sqlx::AnyPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::store::{self, Claim, End, Renewal};
use super::work::{self, Step};
use crate::state::AppState;
use crate::streams::Hub;

/// How long a claim holds without being renewed: after a crash, a job runs again this long
/// after its worker died.
pub const LEASE: Duration = Duration::from_secs(3);
/// How often a running job's lease is renewed and its progress recorded (and announced).
const RENEW: Duration = Duration::from_millis(PROGRESS_INTERVAL_MS);
/// How often an idle worker looks for work it was not told of (a claim whose lease ran out,
/// a job another process queued).
const POLL: Duration = Duration::from_secs(1);

/// The pool's shared state: the bell idle workers wait on, and the jobs running here (to stop one
/// at once when it is cancelled, and for the server panel to show).
#[derive(Debug)]
pub struct Jobs {
    submitted: Notify,
    running: Mutex<HashMap<String, Running>>,
    pub workers: usize,
}

/// A job a worker of this process runs.
#[derive(Debug)]
struct Running {
    step: Arc<Step>,
    kind: &'static str,
    started: Instant,
}

impl Jobs {
    pub fn new(workers: usize) -> Self {
        Self {
            submitted: Notify::new(),
            running: Mutex::new(HashMap::new()),
            workers: workers.max(1),
        }
    }

    /// One worker per core.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// A job was queued: wake a worker (or let the next to wait go straight on).
    pub fn submitted(&self) {
        self.submitted.notify_one();
    }

    /// Stops job `id` if it runs in this process; its worker writes it cancelled. (One running
    /// elsewhere learns of the cancel when its worker next renews its lease.)
    pub fn stop(&self, id: &str) {
        if let Some(running) = self.running().get(id) {
            running.step.cancel.cancel();
        }
    }

    /// The jobs running here now, longest running first.
    pub fn running_now(&self) -> Vec<RunningJob> {
        let mut jobs: Vec<_> = self
            .running()
            .iter()
            .map(|(id, running)| RunningJob {
                id: id.clone(),
                kind: running.kind.to_owned(),
                progress: running.step.progress(),
                running_ms: running.started.elapsed().as_millis() as u64,
            })
            .collect();
        jobs.sort_by_key(|job| std::cmp::Reverse(job.running_ms));
        jobs
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Starts the workers as background work of `state`: they stop at shutdown, putting the jobs
/// they were running back in the queue.
pub fn start(state: &AppState) {
    for _ in 0..state.jobs.workers {
        state.tasks.spawn(worker(
            state.db.clone(),
            state.hub.clone(),
            state.jobs.clone(),
            state.shutdown.clone(),
        ));
    }
}

async fn worker(db: AnyPool, hub: Arc<Hub>, jobs: Arc<Jobs>, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        if let Err(error) = store::sweep(&db, &hub).await {
            tracing::error!(%error, "jobs: sweeping cancelled jobs failed");
        }
        match store::claim(&db, &hub, LEASE).await {
            Ok(Some(claim)) => run(&db, &hub, &jobs, &shutdown, claim).await,
            Ok(None) => {
                tokio::select! {
                    () = jobs.submitted.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                    () = shutdown.cancelled() => {}
                }
            }
            Err(error) => {
                tracing::error!(%error, "jobs: claiming a job failed");
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    () = shutdown.cancelled() => {}
                }
            }
        }
    }
}

/// Runs one claimed job to its end, renewing its lease with the claim's token; a worker whose
/// lease was taken over stops the work and writes nothing.
async fn run(
    db: &AnyPool,
    hub: &Hub,
    jobs: &Jobs,
    shutdown: &CancellationToken,
    Claim { row, lease }: Claim,
) {
    let id = row.id.clone();
    let spec = match row.spec() {
        Ok(spec) => spec,
        Err(error) => {
            tracing::error!(%error, id, "jobs: a job's parameters cannot be read");
            let end = End::Failed("The job's parameters could not be read.".to_owned());
            write(db, hub, &id, &lease, end).await;
            return;
        }
    };
    tracing::info!(
        id,
        kind = spec.kind(),
        attempt = row.attempts(),
        "job started"
    );
    let step = Arc::new(Step::stopped_by(shutdown));
    let kind = spec.kind();
    let started = Instant::now();
    jobs.running().insert(
        id.clone(),
        Running {
            step: step.clone(),
            kind,
            started,
        },
    );
    let running = crate::metrics::InFlight::new(metrics::gauge!("meanwhile_jobs_running"));
    let mut work = {
        let step = step.clone();
        tokio::task::spawn_blocking(move || work::run(&spec, &step))
    };
    let mut renewal = tokio::time::interval(RENEW);
    renewal.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    renewal.tick().await;
    let mut announced = 0.0;
    let mut lost = false;
    let outcome = loop {
        tokio::select! {
            joined = &mut work => break joined,
            _ = renewal.tick() => {
                let progress = step.progress();
                let announce = progress != announced;
                match store::renew(db, hub, &id, &lease, LEASE, progress, announce).await {
                    Ok(Renewal::Held { cancel }) => {
                        announced = progress;
                        if cancel {
                            step.cancel.cancel();
                        }
                    }
                    Ok(Renewal::Lost) => {
                        tracing::warn!(id, "jobs: the lease ran out and another worker has the job");
                        lost = true;
                        step.cancel.cancel();
                    }
                    // The lease may run out meanwhile; then another worker runs the job again.
                    Err(error) => tracing::error!(%error, id, "jobs: renewing a lease failed"),
                }
            }
        }
    };
    jobs.running().remove(&id);
    drop(running);
    if lost {
        return;
    }
    let end = match outcome {
        Ok(Ok(output)) => End::Succeeded {
            result: output.result,
            image: output.image,
        },
        Ok(Err(work::Stopped)) => End::Stopped,
        Err(error) => {
            tracing::error!(%error, id, "jobs: the work panicked");
            End::Failed("The job's work failed unexpectedly.".to_owned())
        }
    };
    let job = write(db, hub, &id, &lease, end).await;
    let state = job.as_ref().map_or("lost", |job| job.state.as_str());
    metrics::histogram!("meanwhile_job_run_seconds", "kind" => kind, "end" => state)
        .record(started.elapsed().as_secs_f64());
    tracing::info!(
        id,
        state = job.as_ref().map_or("lost", |job| job.state.as_str()),
        ms = started.elapsed().as_millis() as u64,
        "job ended"
    );
}

async fn write(
    db: &AnyPool,
    hub: &Hub,
    id: &str,
    lease: &str,
    end: End,
) -> Option<protocol::jobs::Job> {
    match store::finish(db, hub, id, lease, end).await {
        Ok(job) => job,
        Err(error) => {
            // The lease runs out and the job runs again: at least once.
            tracing::error!(%error, id, "jobs: writing a job's end failed");
            None
        }
    }
}
