//! The Mail room on the server: mailboxes opened by a secret token (`crate::auth`), messages sent
//! exactly once whatever the retries ([`messages`]: idempotency keys), read receipts and
//! corrections, and each mailbox's event stream ([`events`]), replayed from the database.
//!
//! The database is the source of truth: an event exists once its row is committed, and a stream
//! sends rows (`streams::replay`). The in-process `streams::Hub` only wakes streams up, and
//! counts them.

mod events;
mod mailboxes;
mod messages;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/mailboxes",
            get(mailboxes::directory).post(mailboxes::create),
        )
        .route("/api/messages", post(messages::send))
        .route("/api/inbox", get(messages::inbox))
        .route("/api/outbox", get(messages::outbox))
        .route("/api/messages/{id}/read", post(messages::mark_read))
        .route(
            "/api/messages/{id}/correction-requests",
            post(messages::ask_correction),
        )
        .route("/api/messages/{id}/corrections", post(messages::correct))
        .route("/api/messages/{id}/history", get(messages::history))
        .route("/api/events/ticket", post(events::ticket))
        .route("/api/events", get(events::stream))
}
