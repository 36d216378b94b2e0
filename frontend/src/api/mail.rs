//! The Mail room's endpoints: mailboxes, messages (sent with an `Idempotency-Key`), the inbox and
//! the outbox, receipts and corrections, and the event stream (a single-use ticket, then an
//! `EventSource`). Every owner call carries the mailbox's token as `Authorization: Bearer`.

use gloo_net::http::Method;
use protocol::mail::{
    Correction, CorrectionRequest, Directory, EventTicket, MailboxCreated, Message, MessagePage,
    NewMailbox, NewMessage, Sent,
};

use super::fetch::{self, ApiError, Call, Traced};
use super::push::{Push, PushStream};

/// The event names the stream carries.
pub const EVENT_KINDS: [&str; 4] = ["message", "receipt", "correction_requested", "corrected"];

async fn body<T: serde::de::DeserializeOwned>(call: Call<'_>) -> Result<T, ApiError> {
    fetch::send(call).await.result.map(|answer| answer.body)
}

/// `POST /api/mailboxes`: a new mailbox and its token (shown this once).
pub async fn create_mailbox(name: &str) -> Result<MailboxCreated, ApiError> {
    let new = NewMailbox {
        name: name.to_owned(),
    };
    body(Call::new(Method::POST, "/api/mailboxes").json(&new)).await
}

/// `GET /api/mailboxes?q=`: the addresses one can write to — those that begin with `start`, or
/// (when it is empty) those that wrote most recently.
pub async fn directory(start: &str) -> Result<Directory, ApiError> {
    let mut call = Call::new(Method::GET, "/api/mailboxes");
    if !start.is_empty() {
        call = call.query("q", start);
    }
    body(call).await
}

/// `POST /api/messages`: one attempt at sending `message` under `key`. Traced, so the outbox can
/// mark the attempt in the inspector (a lost answer, a retry).
/// `attempt` counts from 1; the outbox tries for as long as it takes.
pub async fn send(token: &str, key: &str, message: &NewMessage, attempt: u32) -> Traced<Sent> {
    let call = Call::new(Method::POST, "/api/messages")
        .bearer(token)
        .header("idempotency-key", key)
        .json(message)
        .strategy("outbox: retried with backoff under one Idempotency-Key")
        .attempt(attempt, u32::MAX);
    fetch::send(call).await
}

/// `GET /api/inbox` or `/api/outbox`, every page after `after`.
async fn all(path: &'static str, token: &str, after: i64) -> Result<Vec<Message>, ApiError> {
    let mut messages = Vec::new();
    let mut after = after;
    loop {
        let page: MessagePage = body(
            Call::new(Method::GET, path)
                .bearer(token)
                .query("after", after)
                .query("limit", protocol::mail::PAGE_MAX),
        )
        .await?;
        messages.extend(page.messages);
        match page.next_after {
            Some(next) => after = next,
            None => return Ok(messages),
        }
    }
}

/// Every message in the inbox, oldest first.
pub async fn inbox(token: &str) -> Result<Vec<Message>, ApiError> {
    all("/api/inbox", token, 0).await
}

/// Every message the mailbox sent, oldest first.
pub async fn outbox(token: &str) -> Result<Vec<Message>, ApiError> {
    all("/api/outbox", token, 0).await
}

/// `POST /api/messages/{id}/read`: opened; the sender gets a receipt.
pub async fn mark_read(token: &str, id: i64) -> Result<Message, ApiError> {
    body(Call::new(Method::POST, format!("/api/messages/{id}/read")).bearer(token)).await
}

/// `POST /api/messages/{id}/correction-requests`: ask the sender to correct it.
pub async fn ask_correction(token: &str, id: i64, note: &str) -> Result<Message, ApiError> {
    let request = CorrectionRequest {
        note: note.to_owned(),
    };
    let path = format!("/api/messages/{id}/correction-requests");
    body(Call::new(Method::POST, path).bearer(token).json(&request)).await
}

/// `POST /api/messages/{id}/corrections`: replace the body of a message sent.
pub async fn correct(token: &str, id: i64, new_body: &str) -> Result<Message, ApiError> {
    let correction = Correction {
        body: new_body.to_owned(),
    };
    let path = format!("/api/messages/{id}/corrections");
    body(
        Call::new(Method::POST, path)
            .bearer(token)
            .json(&correction),
    )
    .await
}

/// `POST /api/events/ticket`: a single-use pass for the stream.
pub async fn ticket(token: &str) -> Result<EventTicket, ApiError> {
    body(Call::new(Method::POST, "/api/events/ticket").bearer(token)).await
}

/// `GET /api/events?ticket=&last_event_id=`: the mailbox's events after `last_event_id`. The
/// ticket works once, so when the connection drops the browser's own reconnection is refused
/// and the stream reports [`Push::Closed`]: open a new one with a new ticket.
pub fn events(
    ticket: &str,
    last_event_id: i64,
    on_push: impl Fn(Push) + 'static,
) -> Result<PushStream, ApiError> {
    let address = fetch::address(
        "/api/events",
        &[
            ("ticket", ticket.to_owned()),
            ("last_event_id", last_event_id.to_string()),
        ],
    );
    PushStream::open(address, &EVENT_KINDS, on_push)
}
