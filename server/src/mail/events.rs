//! Each mailbox's event stream. `POST /api/events/ticket` (with the token) gives a single-use
//! ticket, because an `EventSource` cannot send headers and a token in a URL ends up in logs;
//! `GET /api/events?ticket=` is the stream. Events are rows with ids from the mailbox's own
//! sequence: a stream sends the rows after the last id the client has (`Last-Event-ID`, or
//! `last_event_id` in the query for a new `EventSource`), then waits to be woken for more.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use protocol::mail::{EventTicket, EventsQuery, MailEvent, STREAMS_PER_MAILBOX};
use sqlx::{AnyConnection, AnyPool};
use tokio_util::sync::CancellationToken;

use crate::auth::{Mailbox, Ticket};
use crate::clients::{ClientAddress, Clients};
use crate::db::Reads;
use crate::error::{ApiError, ApiJson, ApiQuery, Result};
use crate::state::ServedBy;
use crate::streams::{self, Feed, Full, Hub};

/// Writes `event` for `mailbox` in the caller's transaction and returns its id (the mailbox's
/// next number). Other instances hear of it when the transaction commits ([`crate::db::notify`]);
/// wake this one's streams with it after the commit.
pub async fn append(
    conn: &mut AnyConnection,
    mailbox: &str,
    event: &MailEvent,
    at_ms: i64,
) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "UPDATE mailboxes SET last_event_id = last_event_id + 1 WHERE name = $1
         RETURNING last_event_id",
    )
    .bind(mailbox)
    .fetch_one(&mut *conn)
    .await?;
    let data = match event {
        MailEvent::Message(message) | MailEvent::Corrected(message) => {
            serde_json::to_string(message)
        }
        MailEvent::Receipt(receipt) => serde_json::to_string(receipt),
        MailEvent::CorrectionRequested(asked) => serde_json::to_string(asked),
    }
    .unwrap_or_default();
    sqlx::query("INSERT INTO events (mailbox, id, kind, data, at_ms) VALUES ($1, $2, $3, $4, $5)")
        .bind(mailbox)
        .bind(id)
        .bind(event.name())
        .bind(data)
        .bind(at_ms)
        .execute(&mut *conn)
        .await?;
    crate::db::notify(conn, mailbox, id).await?;
    Ok(id)
}

/// `POST /api/events/ticket`: a pass for one `GET /api/events`, valid for a minute.
pub async fn ticket(
    State(db): State<AnyPool>,
    Mailbox(mailbox): Mailbox,
) -> Result<(StatusCode, ApiJson<EventTicket>)> {
    let (ticket, expires_at_ms) = Ticket::Mail.issue(&db, &mailbox).await?;
    let last_event_id: i64 =
        sqlx::query_scalar("SELECT last_event_id FROM mailboxes WHERE name = $1")
            .bind(&mailbox)
            .fetch_one(&db)
            .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(EventTicket {
            ticket,
            expires_at_ms,
            last_event_id,
        }),
    ))
}

/// `GET /api/events?ticket=&last_event_id=`: the mailbox's events after the last one the client
/// has, then each new one as it is committed; a keep-alive comment every 15 s; ends when the
/// server shuts down.
#[allow(clippy::too_many_arguments)]
pub async fn stream(
    State(db): State<AnyPool>,
    State(Reads(reads)): State<Reads>,
    State(hub): State<Arc<Hub>>,
    State(clients): State<Arc<Clients>>,
    State(shutdown): State<CancellationToken>,
    State(served_by): State<ServedBy>,
    client: ClientAddress,
    ApiQuery(query): ApiQuery<EventsQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let resume = streams::last_event_id::<u64>(&headers, "the id of the last event received")?
        .map(|id| i64::try_from(id).unwrap_or(i64::MAX))
        .or(query.last_event_id);
    let (mailbox, slot) = Ticket::Mail
        .redeem(&db, &query.ticket, |mailbox| {
            let held = clients.open_stream(client)?;
            let slot = hub.open(mailbox, STREAMS_PER_MAILBOX).map_err(|Full| {
                ApiError::TooManyRequests {
                    message: format!(
                        "A mailbox may have {STREAMS_PER_MAILBOX} event streams open; close one, \
                         or try again with the same ticket when one has ended."
                    ),
                    retry_after: streams::KEEP_ALIVE,
                }
            })?;
            Ok(slot.holding(held))
        })
        .await?;
    let after = match resume {
        Some(id) => id,
        None => {
            sqlx::query_scalar("SELECT last_event_id FROM mailboxes WHERE name = $1")
                .bind(&mailbox)
                .fetch_one(&db)
                .await?
        }
    };
    let feed = Feed {
        name: "mail events",
        sql: "SELECT id, kind, data FROM events WHERE mailbox = $1 AND id > $2 ORDER BY id LIMIT $3",
        of: mailbox.clone(),
        key: mailbox,
    };
    Ok(streams::replay(
        feed, after, reads, slot, served_by, shutdown,
    ))
}
