//! Messages: sending one exactly once however often it is retried (`Idempotency-Key`), the inbox
//! and the outbox, the read receipt, and corrections asked for and made. Each change that someone
//! else should hear of writes an event in the same transaction, and wakes their streams after it
//! commits.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use protocol::mail::{
    CORRECTIONS_MAX, Change, Correction, CorrectionAsked, CorrectionRequest, HISTORY_MAX,
    HISTORY_PAGE_MAX, HistoryPage, MailEvent, Message, MessagePage, MessageStatus, NewMessage,
    PageQuery, Receipt, SENDS_PER_MINUTE, Sent,
};
use sqlx::{AnyConnection, AnyPool};
use tokio_util::task::TaskTracker;

use super::events;
use crate::auth::Mailbox;
use crate::db::Reads;
use crate::db::now_ms;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, Result};
use crate::idempotency;
use crate::streams::{self, Hub};

/// How long a claimed `Idempotency-Key` stays "in progress" if the server dies before finishing:
/// after it, a retry takes the claim over (the message was not sent: that is one transaction).
const CLAIM_LEASE_MS: i64 = 10_000;

/// `POST /api/messages`: `202` once the message is in the recipient's inbox. The same key and
/// body again answer the same (marked [`idempotency::REPLAYED`]); the same key with another body is `422`; while the first request
/// with a key is still being processed, another with it is `409` (retry in a moment).
pub async fn send(
    State(tasks): State<TaskTracker>,
    State(db): State<AnyPool>,
    State(hub): State<Arc<Hub>>,
    Mailbox(sender): Mailbox,
    headers: HeaderMap,
    ApiJson(new): ApiJson<NewMessage>,
) -> Result<Response> {
    streams::detached(&tasks, async move {
        let key = idempotency::required(&headers, "Sending")?;
        new.validate()
            .map_err(|e| ApiError::Validation(e.to_string()))?;
        let request_hash = idempotency::request_hash(&new);
        let claim = match claim_key(&db, &sender, &key, &request_hash).await? {
            Claimed::Mine(claim) => claim,
            Claimed::Done(sent) => {
                // The first attempt's wake may have been lost with its answer: the recipient's
                // streams read their rows again.
                hub.nudge(&new.to);
                let replay = (StatusCode::ACCEPTED, idempotency::replayed(), ApiJson(sent));
                return Ok(replay.into_response());
            }
        };
        match deliver(&db, &sender, &key, claim, new).await {
            Ok((sent, recipient, event)) => {
                hub.wake(&recipient, event);
                Ok((StatusCode::ACCEPTED, ApiJson(sent)).into_response())
            }
            Err(error) => {
                // Nothing was sent: free the key, so a corrected retry can use it.
                sqlx::query(
                    "DELETE FROM idempotency_keys
                     WHERE sender = $1 AND key = $2 AND claim = $3 AND state = 'in_progress'",
                )
                .bind(&sender)
                .bind(&key)
                .bind(claim)
                .execute(&db)
                .await?;
                Err(error)
            }
        }
    })
    .await
}

/// What is kept of an `Idempotency-Key`.
#[derive(Debug, sqlx::FromRow)]
struct KeyRow {
    request_hash: Vec<u8>,
    state: String,
    claim: i64,
    lease_until_ms: i64,
    response: Option<String>,
}

enum Claimed {
    /// This request holds the key (with this claim number) and must do the work.
    Mine(i64),
    /// The work was done before: this is its answer.
    Done(Sent),
}

/// Claims `(sender, key)` for this request, or finds out what became of an earlier one.
async fn claim_key(db: &AnyPool, sender: &str, key: &str, request_hash: &[u8]) -> Result<Claimed> {
    let claim = rand::random::<i64>();
    let now = now_ms();
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys
           (sender, key, request_hash, state, claim, lease_until_ms, created_at_ms)
         VALUES ($1, $2, $3, 'in_progress', $4, $5, $6)
         ON CONFLICT (sender, key) DO NOTHING",
    )
    .bind(sender)
    .bind(key)
    .bind(request_hash)
    .bind(claim)
    .bind(now + CLAIM_LEASE_MS)
    .bind(now)
    .execute(db)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Claimed::Mine(claim));
    }
    let earlier: Option<KeyRow> = sqlx::query_as(
        "SELECT request_hash, state, claim, lease_until_ms, response
         FROM idempotency_keys WHERE sender = $1 AND key = $2",
    )
    .bind(sender)
    .bind(key)
    .fetch_optional(db)
    .await?;
    // Gone since the insert: the request that held it failed and let it go. Try again.
    let Some(KeyRow {
        request_hash: hash,
        state,
        claim: earlier,
        lease_until_ms,
        response,
    }) = earlier
    else {
        return Err(in_progress());
    };
    if hash != request_hash {
        return Err(ApiError::IdempotencyKeyReused(
            "This Idempotency-Key was used for a different message; use a new key for a new message."
                .to_owned(),
        ));
    }
    if state == "done" {
        let sent = response
            .and_then(|json| serde_json::from_str(&json).ok())
            .ok_or_else(|| {
                ApiError::Internal(format!(
                    "the stored answer of a sent message ({sender}, key {key}) cannot be read"
                ))
            })?;
        return Ok(Claimed::Done(sent));
    }
    if lease_until_ms > now {
        return Err(in_progress());
    }
    // The request that claimed it never finished (the server stopped): take the claim over.
    let taken = sqlx::query(
        "UPDATE idempotency_keys SET claim = $1, lease_until_ms = $2
         WHERE sender = $3 AND key = $4 AND state = 'in_progress' AND claim = $5",
    )
    .bind(claim)
    .bind(now + CLAIM_LEASE_MS)
    .bind(sender)
    .bind(key)
    .bind(earlier)
    .execute(db)
    .await?;
    if taken.rows_affected() == 1 {
        Ok(Claimed::Mine(claim))
    } else {
        Err(in_progress())
    }
}

/// Writes the message, the recipient's event and the key's answer in one transaction. Returns
/// the answer, the recipient and the event's id.
async fn deliver(
    db: &AnyPool,
    sender: &str,
    key: &str,
    claim: i64,
    new: NewMessage,
) -> Result<(Sent, String, i64)> {
    let now = now_ms();
    let mut tx = crate::db::begin(db).await?;
    act(&mut tx, sender, now).await?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO messages (sender, recipient, subject, body, sent_at_ms)
         SELECT $1, name, $2, $3, $4 FROM mailboxes WHERE name = $5
         RETURNING id",
    )
    .bind(sender)
    .bind(&new.subject)
    .bind(&new.body)
    .bind(now)
    .bind(&new.to)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else {
        return Err(ApiError::NotFound(format!(
            "There is no mailbox “{}”.",
            new.to
        )));
    };
    let message = load(&mut tx, id).await?;
    let event = events::append(&mut tx, &new.to, &MailEvent::Message(message), now).await?;
    let sent = Sent {
        id,
        status: MessageStatus::Delivered,
        sent_at_ms: now,
    };
    let finished = sqlx::query(
        "UPDATE idempotency_keys SET state = 'done', message_id = $1, response = $2
         WHERE sender = $3 AND key = $4 AND claim = $5 AND state = 'in_progress'",
    )
    .bind(id)
    .bind(serde_json::to_string(&sent).unwrap_or_default())
    .bind(sender)
    .bind(key)
    .bind(claim)
    .execute(&mut *tx)
    .await?;
    if finished.rows_affected() != 1 {
        // Our lease ran out and another request took the key over: it sends, we do not.
        return Err(in_progress());
    }
    tx.commit().await?;
    Ok((sent, new.to, event))
}

/// Begins what `mailbox` does in the transaction `tx` (a send, a correction, a correction
/// request): marks the mailbox active, and counts what it did in the last minute — `429` once
/// that is [`SENDS_PER_MINUTE`], with how long until the oldest leaves the window. Counted from
/// the rows themselves, in the transaction that writes the next: a burst at once cannot pass the
/// limit together, and any number of server processes see the same count. It begins with a
/// write, so the transaction holds SQLite's write lock from its first statement (a read first
/// could not be upgraded while another writer commits).
async fn act(tx: &mut AnyConnection, mailbox: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE mailboxes SET active_at_ms = $1 WHERE name = $2")
        .bind(now)
        .bind(mailbox)
        .execute(&mut *tx)
        .await?;
    let since = now - 60_000;
    let (count, oldest): (i64, Option<i64>) = sqlx::query_as(
        "SELECT count(*), min(at_ms) FROM (
             SELECT sent_at_ms AS at_ms FROM messages WHERE sender = $1 AND sent_at_ms > $2
             UNION ALL
             SELECT at_ms FROM message_changes WHERE by_mailbox = $3 AND at_ms > $4
         ) AS recent",
    )
    .bind(mailbox)
    .bind(since)
    .bind(mailbox)
    .bind(since)
    .fetch_one(&mut *tx)
    .await?;
    if count < i64::from(SENDS_PER_MINUTE) {
        return Ok(());
    }
    let wait_ms = oldest.map_or(60_000, |oldest| oldest + 60_000 - now).max(1);
    Err(ApiError::TooManyRequests {
        message: format!(
            "A mailbox may send, correct and ask for corrections {SENDS_PER_MINUTE} times a \
             minute; wait a little."
        ),
        retry_after: Duration::from_millis(u64::try_from(wait_ms).unwrap_or(1)),
    })
}

/// `GET /api/inbox?after=&limit=`: messages to the owner, oldest first.
pub async fn inbox(
    State(Reads(db)): State<Reads>,
    Mailbox(owner): Mailbox,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<ApiJson<MessagePage>> {
    page(&db, Side::Inbox, &owner, &query).await.map(ApiJson)
}

/// `GET /api/outbox?after=&limit=`: messages from the owner, oldest first.
pub async fn outbox(
    State(Reads(db)): State<Reads>,
    Mailbox(owner): Mailbox,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<ApiJson<MessagePage>> {
    page(&db, Side::Outbox, &owner, &query).await.map(ApiJson)
}

#[derive(Debug, Clone, Copy)]
enum Side {
    Inbox,
    Outbox,
}

async fn page(db: &AnyPool, side: Side, owner: &str, query: &PageQuery) -> Result<MessagePage> {
    let limit = query
        .limit()
        .map_err(|e| ApiError::Validation(e.to_string()))?;
    let column = match side {
        Side::Inbox => "recipient",
        Side::Outbox => "sender",
    };
    let rows: Vec<MessageRow> = sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE {column} = $1 AND id > $2 ORDER BY id LIMIT $3"
    ))
    .bind(owner)
    .bind(query.after.unwrap_or(0))
    .bind(i64::from(limit))
    .fetch_all(db)
    .await?;
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok(MessagePage {
            messages: Vec::new(),
            next_after: None,
        });
    };
    // The newest few changes of each message: a page's size is bounded whatever was corrected.
    let changes: Vec<ChangeRow> = sqlx::query_as(&format!(
        "SELECT {CHANGE_COLUMNS} FROM (
             SELECT c.*, row_number() OVER (PARTITION BY c.message_id ORDER BY c.id DESC) AS newest
             FROM message_changes c JOIN messages m ON m.id = c.message_id
             WHERE m.{column} = $1 AND c.message_id BETWEEN $2 AND $3
         ) AS c WHERE c.newest <= $4 ORDER BY c.id"
    ))
    .bind(owner)
    .bind(first.id)
    .bind(last.id)
    .bind(HISTORY_MAX as i64)
    .fetch_all(db)
    .await?;
    let next_after = (rows.len() == limit as usize).then_some(last.id);
    let messages = rows
        .into_iter()
        .map(|row| {
            let id = row.id;
            row.into_message(changes.iter().filter(|c| c.message_id == id).cloned())
        })
        .collect();
    Ok(MessagePage {
        messages,
        next_after,
    })
}

/// `POST /api/messages/{id}/read` (the recipient): marks it read and, the first time, sends the
/// sender a receipt.
pub async fn mark_read(
    State(tasks): State<TaskTracker>,
    State(db): State<AnyPool>,
    State(hub): State<Arc<Hub>>,
    Mailbox(reader): Mailbox,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<Message>> {
    streams::detached(&tasks, async move {
        let now = now_ms();
        let mut tx = crate::db::begin(&db).await?;
        let sender: Option<String> = sqlx::query_scalar(
            "UPDATE messages SET read_at_ms = $1
             WHERE id = $2 AND recipient = $3 AND read_at_ms IS NULL RETURNING sender",
        )
        .bind(now)
        .bind(id)
        .bind(&reader)
        .fetch_optional(&mut *tx)
        .await?;
        let message = find(&mut tx, id)
            .await?
            .filter(|m| m.to == reader)
            .ok_or_else(|| not_in("inbox", id))?;
        let woken = match sender {
            Some(sender) => {
                let receipt = MailEvent::Receipt(Receipt {
                    id,
                    by: reader,
                    read_at_ms: now,
                });
                let event = events::append(&mut tx, &sender, &receipt, now).await?;
                Some((sender, event))
            }
            // Read before: no second receipt.
            None => None,
        };
        tx.commit().await?;
        if let Some((sender, event)) = woken {
            hub.wake(&sender, event);
        }
        Ok(ApiJson(message))
    })
    .await
}

/// `POST /api/messages/{id}/correction-requests` (the recipient): tells the sender what is wrong.
pub async fn ask_correction(
    State(tasks): State<TaskTracker>,
    State(db): State<AnyPool>,
    State(hub): State<Arc<Hub>>,
    Mailbox(recipient): Mailbox,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<CorrectionRequest>,
) -> Result<(StatusCode, ApiJson<Message>)> {
    streams::detached(&tasks, async move {
        request
            .validate()
            .map_err(|e| ApiError::Validation(e.to_string()))?;
        let now = now_ms();
        let mut tx = crate::db::begin(&db).await?;
        act(&mut tx, &recipient, now).await?;
        let sender: String = sqlx::query_scalar(
            "UPDATE messages SET correction_requested = $1, changes = changes + 1
             WHERE id = $2 AND recipient = $3 RETURNING sender",
        )
        .bind(&request.note)
        .bind(id)
        .bind(&recipient)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| not_in("inbox", id))?;
        sqlx::query(
            "INSERT INTO message_changes (message_id, kind, note, at_ms, by_mailbox)
             VALUES ($1, 'correction_requested', $2, $3, $4)",
        )
        .bind(id)
        .bind(&request.note)
        .bind(now)
        .bind(&recipient)
        .execute(&mut *tx)
        .await?;
        let asked = MailEvent::CorrectionRequested(CorrectionAsked {
            id,
            by: recipient,
            note: request.note,
            at_ms: now,
        });
        let event = events::append(&mut tx, &sender, &asked, now).await?;
        let message = load(&mut tx, id).await?;
        tx.commit().await?;
        hub.wake(&sender, event);
        Ok((StatusCode::CREATED, ApiJson(message)))
    })
    .await
}

/// `POST /api/messages/{id}/corrections` (the sender): replaces the body, keeps the new one in
/// the history (each revision is stored once), and tells the recipient; at most
/// [`CORRECTIONS_MAX`] times a message.
pub async fn correct(
    State(tasks): State<TaskTracker>,
    State(db): State<AnyPool>,
    State(hub): State<Arc<Hub>>,
    Mailbox(sender): Mailbox,
    ApiPath(id): ApiPath<i64>,
    ApiJson(correction): ApiJson<Correction>,
) -> Result<(StatusCode, ApiJson<Message>)> {
    streams::detached(&tasks, async move {
        correction
            .validate()
            .map_err(|e| ApiError::Validation(e.to_string()))?;
        let now = now_ms();
        let mut tx = crate::db::begin(&db).await?;
        act(&mut tx, &sender, now).await?;
        // The body it replaces is kept only the first time: after that it is the previous
        // correction's body, already stored.
        let recorded = sqlx::query(
            "INSERT INTO message_changes (message_id, kind, previous_body, body, at_ms, by_mailbox)
             SELECT id, 'corrected', CASE WHEN corrections = 0 THEN body END, $1, $2, sender
             FROM messages WHERE id = $3 AND sender = $4 AND corrections < $5",
        )
        .bind(&correction.body)
        .bind(now)
        .bind(id)
        .bind(&sender)
        .bind(i64::from(CORRECTIONS_MAX))
        .execute(&mut *tx)
        .await?;
        if recorded.rows_affected() == 0 {
            let corrections: Option<i64> = sqlx::query_scalar(
                "SELECT corrections FROM messages WHERE id = $1 AND sender = $2",
            )
            .bind(id)
            .bind(&sender)
            .fetch_optional(&mut *tx)
            .await?;
            return Err(match corrections {
                None => not_in("outbox", id),
                Some(_) => ApiError::Conflict(format!(
                    "This message was corrected {CORRECTIONS_MAX} times, as many as one may be; \
                     write a new message instead."
                )),
            });
        }
        let recipient: String = sqlx::query_scalar(
            "UPDATE messages SET body = $1, correction_requested = NULL,
                 changes = changes + 1, corrections = corrections + 1
             WHERE id = $2 RETURNING recipient",
        )
        .bind(&correction.body)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let message = load(&mut tx, id).await?;
        // The recipient hears of this correction, not of every one before it.
        let mut told = message.clone();
        let earlier = told.history.len().saturating_sub(1);
        told.history.drain(..earlier);
        let event = events::append(&mut tx, &recipient, &MailEvent::Corrected(told), now).await?;
        tx.commit().await?;
        hub.wake(&recipient, event);
        Ok((StatusCode::CREATED, ApiJson(message)))
    })
    .await
}

/// `409 request_in_progress`: another request holds the key; its answer will be there soon.
fn in_progress() -> ApiError {
    ApiError::RequestInProgress(
        "A request with this Idempotency-Key is still being processed; try again in a moment."
            .to_owned(),
    )
}

/// `404` for a message that is not in the caller's `side`: one that does not exist and one that
/// belongs to somebody else look the same.
fn not_in(side: &str, id: i64) -> ApiError {
    ApiError::NotFound(format!("There is no message {id} in your {side}."))
}

const MESSAGE_COLUMNS: &str = "id, sender, recipient, subject, body, sent_at_ms, read_at_ms, \
     correction_requested, changes, corrections";
/// A change of `message_changes c`; a correction's `previous_body` is the body of the correction
/// before it (only the first keeps its own).
const CHANGE_COLUMNS: &str = "c.id, c.message_id, c.kind, c.note, \
     coalesce(c.previous_body, (SELECT p.body FROM message_changes p \
         WHERE p.message_id = c.message_id AND p.kind = 'corrected' AND p.id < c.id \
         ORDER BY p.id DESC LIMIT 1)) AS previous_body, \
     c.body, c.at_ms";

/// One message with its history, as it is in this transaction; it must exist.
async fn load(conn: &mut AnyConnection, id: i64) -> Result<Message> {
    find(conn, id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("message {id} vanished in its transaction")))
}

/// One message with its history, as it is in this transaction, if there is one.
async fn find(conn: &mut AnyConnection, id: i64) -> Result<Option<Message>> {
    let row: Option<MessageRow> = sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut changes: Vec<ChangeRow> = sqlx::query_as(&format!(
        "SELECT {CHANGE_COLUMNS} FROM message_changes c WHERE c.message_id = $1
         ORDER BY c.id DESC LIMIT $2"
    ))
    .bind(id)
    .bind(HISTORY_MAX as i64)
    .fetch_all(&mut *conn)
    .await?;
    changes.reverse();
    Ok(Some(row.into_message(changes)))
}

#[derive(Debug, sqlx::FromRow)]
struct MessageRow {
    id: i64,
    sender: String,
    recipient: String,
    subject: String,
    body: String,
    sent_at_ms: i64,
    read_at_ms: Option<i64>,
    correction_requested: Option<String>,
    changes: i64,
    corrections: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct ChangeRow {
    id: i64,
    message_id: i64,
    kind: String,
    note: Option<String>,
    previous_body: Option<String>,
    body: Option<String>,
    at_ms: i64,
}

impl MessageRow {
    fn into_message(self, changes: impl IntoIterator<Item = ChangeRow>) -> Message {
        let history = changes.into_iter().map(ChangeRow::into_change).collect();
        Message {
            id: self.id,
            from: self.sender,
            to: self.recipient,
            subject: self.subject,
            body: self.body,
            status: if self.read_at_ms.is_some() {
                MessageStatus::Read
            } else {
                MessageStatus::Delivered
            },
            sent_at_ms: self.sent_at_ms,
            read_at_ms: self.read_at_ms,
            correction_requested: self.correction_requested,
            history,
            changes: u32::try_from(self.changes).unwrap_or(u32::MAX),
            corrections: u32::try_from(self.corrections).unwrap_or(u32::MAX),
        }
    }
}

impl ChangeRow {
    fn into_change(self) -> Change {
        match self.kind.as_str() {
            "correction_requested" => Change::CorrectionRequested {
                note: self.note.unwrap_or_default(),
                at_ms: self.at_ms,
            },
            _ => Change::Corrected {
                previous_body: self.previous_body.unwrap_or_default(),
                body: self.body.unwrap_or_default(),
                at_ms: self.at_ms,
            },
        }
    }
}

/// `GET /api/messages/{id}/history?after=&limit=` (its sender or its recipient): the message's
/// changes, oldest first, [`HISTORY_PAGE_MAX`] at most a page.
pub async fn history(
    State(Reads(db)): State<Reads>,
    Mailbox(reader): Mailbox,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<ApiJson<HistoryPage>> {
    let limit = query.limit.unwrap_or(HISTORY_PAGE_MAX);
    if !(1..=HISTORY_PAGE_MAX).contains(&limit) {
        return Err(ApiError::Validation(format!(
            "`limit` is a whole number from 1 to {HISTORY_PAGE_MAX}."
        )));
    }
    let visible: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM messages WHERE id = $1 AND (sender = $2 OR recipient = $3)",
    )
    .bind(id)
    .bind(&reader)
    .bind(&reader)
    .fetch_optional(&db)
    .await?;
    if visible.is_none() {
        return Err(ApiError::NotFound(format!(
            "There is no message {id} in your inbox or outbox."
        )));
    }
    let rows: Vec<ChangeRow> = sqlx::query_as(&format!(
        "SELECT {CHANGE_COLUMNS} FROM message_changes c WHERE c.message_id = $1 AND c.id > $2
         ORDER BY c.id LIMIT $3"
    ))
    .bind(id)
    .bind(query.after.unwrap_or(0))
    .bind(i64::from(limit))
    .fetch_all(&db)
    .await?;
    let next_after = (rows.len() == limit as usize)
        .then(|| rows.last().map(|row| row.id))
        .flatten();
    Ok(ApiJson(HistoryPage {
        changes: rows.into_iter().map(ChangeRow::into_change).collect(),
        next_after,
    }))
}
