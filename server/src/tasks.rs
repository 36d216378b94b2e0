//! The Tasks room on the server: long-running jobs. `POST /api/jobs` queues a job and answers
//! `202` at once; a pool of workers ([`runner`]) runs the work ([`work`]) on blocking threads,
//! so CPU-heavy jobs never hold up the API; every change of a job is a row written in one
//! statement ([`store`]) and an event on its owner's durable stream. An owner is a token
//! (`crate::auth::JobOwner`), and has a share of the queue.
//!
//! After a restart, jobs that were queued or running run again (at least once: a job's result
//! depends only on its parameters): a running job's claim is a lease, and a lease that is not
//! renewed runs out.

mod routes;
mod runner;
mod store;
pub mod work;

use axum::Router;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub use runner::{Jobs, start};
pub use store::waiting;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/jobs", get(routes::list).post(routes::submit))
        .route("/api/jobs/owners", post(routes::new_owner))
        .route("/api/jobs/events/ticket", post(routes::ticket))
        .route("/api/jobs/events", get(routes::events))
        .route("/api/jobs/{id}", get(routes::show))
        .route("/api/jobs/{id}/result", get(routes::result))
        .route("/api/jobs/{id}/cancel", post(routes::cancel))
}

/// An unguessable name: 128 random bits, URL-safe.
fn new_id() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}
