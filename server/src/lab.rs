//! The Lab room on the server: a slow, sometimes failing echo (`GET|POST /api/lab/echo`) and its
//! counters (`GET /api/lab/stats`). [`routes`] parses and answers; [`echo`] does the work.

mod echo;
mod routes;

use axum::Router;
use axum::routing::get;

pub use echo::{Echoed, Lab, actual_delay};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/lab/echo",
            get(routes::echo_query).post(routes::echo_body),
        )
        .route("/api/lab/stats", get(routes::stats_show))
}
