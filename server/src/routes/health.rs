//! `GET /api/health`: is the server up, which version, does the database answer.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use protocol::{ComponentStatus, Health, HealthStatus};
use sqlx::SqlitePool;

use crate::error::ApiJson;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/health", get(health_show))
}

/// Always 200 while the server runs; a database that does not answer shows as `degraded`.
async fn health_show(State(db): State<SqlitePool>) -> ApiJson<Health> {
    let database_up = crate::db::is_up(&db).await;
    ApiJson(Health {
        status: if database_up {
            HealthStatus::Ok
        } else {
            HealthStatus::Degraded
        },
        version: env!("CARGO_PKG_VERSION").to_owned(),
        database: if database_up {
            ComponentStatus::Ok
        } else {
            ComponentStatus::Unavailable
        },
    })
}
