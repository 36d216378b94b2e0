//! What every handler can reach: the database, the Lab's counters, and the shutdown signal.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;

use crate::lab::Lab;
use crate::page::PageFiles;

/// Handlers take only the part they need (`State<Arc<Lab>>`, `State<SqlitePool>`). The router
/// clones the whole state twice for every request, so every field is cheap to clone: a pool
/// handle, an `Arc` each, a number.
#[derive(Debug, Clone, FromRef)]
pub struct AppState {
    pub db: SqlitePool,
    /// The built page, served for every path outside `/api`.
    pub page: PageFiles,
    pub lab: Arc<Lab>,
    /// Cancelled when the server begins to shut down, so long-lived streams can end themselves.
    /// (In an `Arc`: cloning the token itself takes a lock.)
    pub shutdown: Arc<CancellationToken>,
    /// How long an ordinary request may take before it is answered `408 request_timeout`.
    pub request_timeout: Duration,
}

impl AppState {
    pub fn new(db: SqlitePool, page: PageFiles) -> Self {
        Self {
            db,
            page,
            lab: Arc::new(Lab::default()),
            shutdown: Arc::new(CancellationToken::new()),
            request_timeout: Duration::from_millis(protocol::limits::REQUEST_TIMEOUT_MS),
        }
    }
}
