//! Messages: sending one exactly once however often it is retried (`Idempotency-Key`), the inbox
//! and the outbox, the read receipt, and corrections asked for and made. Each change that someone
//! else should hear of writes an event in the same transaction, and wakes their streams after it
//! commits.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use protocol::mail::{
    Change, Correction, CorrectionAsked, CorrectionRequest, MailEvent, Message, MessagePage,
    MessageStatus, NewMessage, PageQuery, Receipt, SENDS_PER_MINUTE, Sent,
};
use sqlx::{SqliteConnection, SqlitePool};
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
/// body again answer the same; the same key with another body is `422`; while the first request
/// with a key is still being processed, another with it is `409` (retry in a moment).
pub async fn send(
    State(tasks): State<TaskTracker>,
    State(db): State<SqlitePool>,
    State(hub): State<Arc<Hub>>,
    Mailbox(sender): Mailbox,
    headers: HeaderMap,
    ApiJson(new): ApiJson<NewMessage>,
) -> Result<(StatusCode, ApiJson<Sent>)> {
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
                return Ok((StatusCode::ACCEPTED, ApiJson(sent)));
            }
        };
        match deliver(&db, &sender, &key, claim, new).await {
            Ok((sent, recipient, event)) => {
                hub.wake(&recipient, event);
                Ok((StatusCode::ACCEPTED, ApiJson(sent)))
            }
            Err(error) => {
                // Nothing was sent: free the key, so a corrected retry can use it.
                sqlx::query(
                    "DELETE FROM idempotency_keys
                     WHERE sender = ? AND key = ? AND claim = ? AND state = 'in_progress'",
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
async fn claim_key(
    db: &SqlitePool,
    sender: &str,
    key: &str,
    request_hash: &[u8],
) -> Result<Claimed> {
    let claim = rand::random::<i64>();
    let now = now_ms();
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys
           (sender, key, request_hash, state, claim, lease_until_ms, created_at_ms)
         VALUES (?, ?, ?, 'in_progress', ?, ?, ?)
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
         FROM idempotency_keys WHERE sender = ? AND key = ?",
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
        "UPDATE idempotency_keys SET claim = ?, lease_until_ms = ?
         WHERE sender = ? AND key = ? AND state = 'in_progress' AND claim = ?",
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
    db: &SqlitePool,
    sender: &str,
    key: &str,
    claim: i64,
    new: NewMessage,
) -> Result<(Sent, String, i64)> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    // Every transaction here begins with a write, so it holds SQLite's write lock from its
    // first statement (a read first could not be upgraded while another writer commits); and
    // the sends are counted in it, so a burst sent at once cannot pass the limit together.
    sqlx::query("UPDATE mailboxes SET active_at_ms = ? WHERE name = ?")
        .bind(now)
        .bind(sender)
        .execute(&mut *tx)
        .await?;
    check_send_rate(&mut tx, sender, now).await?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO messages (sender, recipient, subject, body, sent_at_ms)
         SELECT ?, name, ?, ?, ? FROM mailboxes WHERE name = ?
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
        "UPDATE idempotency_keys SET state = 'done', message_id = ?, response = ?
         WHERE sender = ? AND key = ? AND claim = ? AND state = 'in_progress'",
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

/// `429` once `sender` has sent [`SENDS_PER_MINUTE`] in the last minute, with how long until the
/// oldest of them leaves the window. Counted from the messages themselves, in the transaction
/// that inserts the next: any number of requests and server processes see the same count.
async fn check_send_rate(tx: &mut SqliteConnection, sender: &str, now: i64) -> Result<()> {
    let (count, oldest): (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MIN(sent_at_ms) FROM messages WHERE sender = ? AND sent_at_ms > ?",
    )
    .bind(sender)
    .bind(now - 60_000)
    .fetch_one(tx)
    .await?;
    if count < i64::from(SENDS_PER_MINUTE) {
        return Ok(());
    }
    let wait_ms = oldest.map_or(60_000, |oldest| oldest + 60_000 - now).max(1);
    Err(ApiError::TooManyRequests {
        message: format!("A mailbox may send {SENDS_PER_MINUTE} messages a minute; wait a little."),
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

async fn page(db: &SqlitePool, side: Side, owner: &str, query: &PageQuery) -> Result<MessagePage> {
    let limit = query
        .limit()
        .map_err(|e| ApiError::Validation(e.to_string()))?;
    let column = match side {
        Side::Inbox => "recipient",
        Side::Outbox => "sender",
    };
    let rows: Vec<MessageRow> = sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE {column} = ? AND id > ? ORDER BY id LIMIT ?"
    ))
    .bind(owner)
    .bind(query.after.unwrap_or(0))
    .bind(limit)
    .fetch_all(db)
    .await?;
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok(MessagePage {
            messages: Vec::new(),
            next_after: None,
        });
    };
    let changes: Vec<ChangeRow> = sqlx::query_as(&format!(
        "SELECT {CHANGE_COLUMNS} FROM message_changes c JOIN messages m ON m.id = c.message_id
         WHERE m.{column} = ? AND c.message_id BETWEEN ? AND ? ORDER BY c.id"
    ))
    .bind(owner)
    .bind(first.id)
    .bind(last.id)
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
    State(db): State<SqlitePool>,
    State(hub): State<Arc<Hub>>,
    Mailbox(reader): Mailbox,
    ApiPath(id): ApiPath<i64>,
) -> Result<ApiJson<Message>> {
    streams::detached(&tasks, async move {
        let now = now_ms();
        let mut tx = db.begin().await?;
        let sender: Option<String> = sqlx::query_scalar(
            "UPDATE messages SET read_at_ms = ?
             WHERE id = ? AND recipient = ? AND read_at_ms IS NULL RETURNING sender",
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
    State(db): State<SqlitePool>,
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
        let mut tx = db.begin().await?;
        let sender: String = sqlx::query_scalar(
            "UPDATE messages SET correction_requested = ?
             WHERE id = ? AND recipient = ? RETURNING sender",
        )
        .bind(&request.note)
        .bind(id)
        .bind(&recipient)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| not_in("inbox", id))?;
        sqlx::query(
            "INSERT INTO message_changes (message_id, kind, note, at_ms)
             VALUES (?, 'correction_requested', ?, ?)",
        )
        .bind(id)
        .bind(&request.note)
        .bind(now)
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

/// `POST /api/messages/{id}/corrections` (the sender): replaces the body, keeps the old one in
/// the history, and tells the recipient.
pub async fn correct(
    State(tasks): State<TaskTracker>,
    State(db): State<SqlitePool>,
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
        let mut tx = db.begin().await?;
        let recorded = sqlx::query(
            "INSERT INTO message_changes (message_id, kind, previous_body, body, at_ms)
             SELECT id, 'corrected', body, ?, ? FROM messages WHERE id = ? AND sender = ?",
        )
        .bind(&correction.body)
        .bind(now)
        .bind(id)
        .bind(&sender)
        .execute(&mut *tx)
        .await?;
        if recorded.rows_affected() == 0 {
            return Err(not_in("outbox", id));
        }
        let recipient: String = sqlx::query_scalar(
            "UPDATE messages SET body = ?, correction_requested = NULL WHERE id = ? RETURNING recipient",
        )
        .bind(&correction.body)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let message = load(&mut tx, id).await?;
        let event = events::append(
            &mut tx,
            &recipient,
            &MailEvent::Corrected(message.clone()),
            now,
        )
        .await?;
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

const MESSAGE_COLUMNS: &str =
    "id, sender, recipient, subject, body, sent_at_ms, read_at_ms, correction_requested";
const CHANGE_COLUMNS: &str = "c.message_id, c.kind, c.note, c.previous_body, c.body, c.at_ms";

/// One message with its history, as it is in this transaction; it must exist.
async fn load(conn: &mut SqliteConnection, id: i64) -> Result<Message> {
    find(conn, id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("message {id} vanished in its transaction")))
}

/// One message with its history, as it is in this transaction, if there is one.
async fn find(conn: &mut SqliteConnection, id: i64) -> Result<Option<Message>> {
    let row: Option<MessageRow> = sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let changes: Vec<ChangeRow> = sqlx::query_as(&format!(
        "SELECT {CHANGE_COLUMNS} FROM message_changes c WHERE c.message_id = ? ORDER BY c.id"
    ))
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
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
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct ChangeRow {
    message_id: i64,
    kind: String,
    note: Option<String>,
    previous_body: Option<String>,
    body: Option<String>,
    at_ms: i64,
}

impl MessageRow {
    fn into_message(self, changes: impl IntoIterator<Item = ChangeRow>) -> Message {
        let history = changes
            .into_iter()
            .map(|c| match c.kind.as_str() {
                "correction_requested" => Change::CorrectionRequested {
                    note: c.note.unwrap_or_default(),
                    at_ms: c.at_ms,
                },
                _ => Change::Corrected {
                    previous_body: c.previous_body.unwrap_or_default(),
                    body: c.body.unwrap_or_default(),
                    at_ms: c.at_ms,
                },
            })
            .collect();
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
        }
    }
}
