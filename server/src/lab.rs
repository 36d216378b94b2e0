//! The Lab room on the server: a slow, sometimes failing echo (`GET|POST /api/lab/echo`), its
//! counters (`GET /api/lab/stats`), and a server-sent countdown (`GET /api/lab/ticks`).
//! [`routes`] parses and answers; [`echo`] does the work; [`ticks`] is the stream.

mod echo;
mod routes;
mod ticks;

use axum::Router;
use axum::routing::get;

pub use echo::{Echoed, Lab};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/lab/echo",
            get(routes::echo_query).post(routes::echo_body),
        )
        .route("/api/lab/stats", get(routes::stats_show))
        .route("/api/lab/ticks", get(ticks::ticks_show))
}
