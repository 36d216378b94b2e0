//! The API's routes, each at its full path under `/api`: each resource module owns its router
//! and the root merges them.

mod health;
mod lab;

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().merge(health::router()).merge(lab::router())
}
