//! The Mail room on the server: mailboxes opened by a secret token ([`auth`]), messages sent
//! exactly once whatever the retries ([`messages`]: idempotency keys), read receipts and
//! corrections, and each mailbox's event stream ([`events`]), replayed from the database.
//!
//! The database is the source of truth: an event exists once its row is committed, and a stream
//! sends rows. The in-process [`Hub`] only wakes streams up, and counts them.

mod auth;
mod events;
mod mailboxes;
mod messages;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::{get, post};
use tokio::sync::watch;

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
        .route("/api/events/ticket", post(events::ticket))
        .route("/api/events", get(events::stream))
}

/// Wakes a mailbox's open streams when an event is committed for it, and counts them (to cap
/// how many one mailbox holds). One process's view: with several server processes each would
/// hear of the others' writes through the database (PostgreSQL's `LISTEN`), not through this.
#[derive(Debug, Default)]
pub struct Hub {
    mailboxes: Mutex<HashMap<String, Listeners>>,
}

#[derive(Debug)]
struct Listeners {
    /// The newest event id committed for the mailbox, as far as this process knows.
    newest: watch::Sender<i64>,
    open: usize,
}

impl Hub {
    /// Tells `mailbox`'s open streams that events up to `id` are committed.
    pub fn wake(&self, mailbox: &str, id: i64) {
        let mailboxes = self.mailboxes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(listeners) = mailboxes.get(mailbox) {
            listeners.newest.send_if_modified(|newest| {
                let newer = id > *newest;
                if newer {
                    *newest = id;
                }
                newer
            });
        }
    }

    /// Registers one more stream for `mailbox`, unless it already has `limit` open.
    fn open(&self, mailbox: &str, limit: usize) -> Option<watch::Receiver<i64>> {
        let mut mailboxes = self.mailboxes.lock().unwrap_or_else(|e| e.into_inner());
        let listeners = mailboxes
            .entry(mailbox.to_owned())
            .or_insert_with(|| Listeners {
                newest: watch::Sender::new(0),
                open: 0,
            });
        if listeners.open >= limit {
            return None;
        }
        listeners.open += 1;
        Some(listeners.newest.subscribe())
    }

    /// A stream of `mailbox` ended.
    fn close(&self, mailbox: &str) {
        let mut mailboxes = self.mailboxes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(listeners) = mailboxes.get_mut(mailbox) {
            listeners.open = listeners.open.saturating_sub(1);
            if listeners.open == 0 {
                mailboxes.remove(mailbox);
            }
        }
    }
}

/// Milliseconds since the Unix epoch: what the database stores and the API shows.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
