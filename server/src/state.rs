//! What every handler can reach: the database, the built page, the Lab's counters, the event
//! streams' hub, the jobs' worker pool, the shutdown signal and the tracker of background work.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use axum::http::HeaderValue;
use sqlx::AnyPool;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clients::Clients;
use crate::db::Reads;
use crate::lab::Lab;
use crate::page::PageFiles;
use crate::retention::Retention;
use crate::streams::Hub;
use crate::tasks::Jobs;

/// Handlers take only the part they need (`State<Arc<Lab>>`, `State<AnyPool>`), through
/// `FromRef`. Every field is a handle, cheap to clone.
#[derive(Debug, Clone, FromRef)]
pub struct AppState {
    /// The database's one writer (and reads that must see what this request just wrote).
    pub db: AnyPool,
    /// Read-only connections for everything else.
    pub reads: Reads,
    /// The built page, served for every path outside `/api`.
    pub page: PageFiles,
    pub lab: Arc<Lab>,
    /// Where else the server listens, for the Lab's comparison of the protocols (`--tls`).
    pub lab_origins: crate::lab::Origins,
    /// Wakes the durable event streams (Mail's, Tasks').
    pub hub: Arc<Hub>,
    /// The Tasks room's worker pool (started by `serve`).
    pub jobs: Arc<Jobs>,
    /// Cancelled when the server begins to shut down, so long-lived streams can end themselves.
    pub shutdown: CancellationToken,
    /// Background work (jobs, stream pumps) spawned with `tasks.spawn(…)`: `serve` waits for it
    /// to finish, within the grace period, before it returns.
    pub tasks: TaskTracker,
    /// How long an ordinary request may take before it is answered `408 request_timeout`.
    pub request_timeout: Duration,
    /// How long a request's body may take to arrive, from the request's head; past it `408`.
    #[from_ref(skip)]
    pub body_timeout: Duration,
    /// What the pruning keeps, and how often it runs.
    pub retention: Retention,
    /// The limits per client address (new credentials, open streams).
    pub clients: Arc<Clients>,
    /// This instance's name, sent with every answer as `X-Served-By`.
    pub served_by: ServedBy,
    /// The recorder `GET /metrics` renders, when it is served beside the API (`--metrics here`).
    #[from_ref(skip)]
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

/// An instance's name (`--name`), as every answer's `X-Served-By` header gives it and every
/// durable stream's first event.
#[derive(Debug, Clone)]
pub struct ServedBy(pub HeaderValue);

impl AppState {
    pub fn new(db: AnyPool, page: PageFiles) -> Self {
        Self {
            reads: Reads::beside(&db),
            db,
            page,
            lab: Arc::new(Lab::default()),
            lab_origins: crate::lab::Origins::default(),
            hub: Arc::new(Hub::default()),
            jobs: Arc::new(Jobs::per_core()),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            request_timeout: Duration::from_millis(protocol::limits::REQUEST_TIMEOUT_MS),
            body_timeout: Duration::from_secs(10),
            retention: Retention::default(),
            clients: Arc::new(Clients::default()),
            served_by: ServedBy(HeaderValue::from_static("meanwhile")),
            metrics: Some(crate::metrics::recorder()),
        }
    }
}
