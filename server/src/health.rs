//! `GET /api/health`: the server answers, which version runs, and whether its database does.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use protocol::{ComponentStatus, Health, HealthStatus};
use sqlx::AnyPool;

use crate::error::{ApiError, ApiJson, Result};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/health", get(health_show))
}

/// 200 with [`Health`] while everything answers; `503 unavailable` when the database does not,
/// so a monitor or a load balancer sees it from the status alone.
async fn health_show(State(db): State<AnyPool>) -> Result<ApiJson<Health>> {
    if !crate::db::is_up(&db).await {
        return Err(ApiError::Unavailable(
            "The server is running but its database is not answering; try again in a moment."
                .to_owned(),
        ));
    }
    Ok(ApiJson(Health {
        status: HealthStatus::Ok,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        database: ComponentStatus::Ok,
    }))
}
