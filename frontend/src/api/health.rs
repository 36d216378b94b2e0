//! `GET /api/health`.

use protocol::Health;

use super::fetch::{self, ApiError};

/// `GET /api/health`: 200 with the version while the server and its database answer.
pub async fn health() -> Result<Health, ApiError> {
    fetch::get_json("/api/health", None).await
}
