//! The Mail room's wire types: mailboxes, messages with their read receipts and corrections, and
//! the events the server pushes on `GET /api/events`.

use serde::{Deserialize, Serialize};

use crate::lab::OutOfRange;

/// Longest mailbox name, in characters (`a-z`, `0-9`, `_`, `-`).
pub const NAME_MAX: usize = 32;
/// Longest subject, in characters.
pub const SUBJECT_MAX: usize = 200;
/// Longest message body, in characters.
pub const BODY_MAX: usize = 10_000;
/// Longest note asking for a correction, in characters.
pub const NOTE_MAX: usize = 2_000;
/// Longest `Idempotency-Key`, in (visible ASCII) characters.
pub const IDEMPOTENCY_KEY_MAX: usize = 64;
/// Messages per page of `GET /api/inbox` and `/api/outbox` when the query does not say.
pub const PAGE_DEFAULT: u32 = 50;
/// Most messages one page may hold.
pub const PAGE_MAX: u32 = 200;
/// What one mailbox may do in a minute — messages sent, corrections made and asked for, all
/// counted together; past it, `429` with `Retry-After`.
pub const SENDS_PER_MINUTE: u32 = 600;
/// How many times the sender may correct one message; past it, `409` (write a new one).
pub const CORRECTIONS_MAX: u32 = 50;
/// How many of a message's newest changes an inbox or outbox page carries with it; the rest
/// are at `GET /api/messages/{id}/history`.
pub const HISTORY_MAX: usize = 5;
/// Most changes one page of `GET /api/messages/{id}/history` holds.
pub const HISTORY_PAGE_MAX: u32 = 20;
/// Event streams one mailbox may hold open at once (tabs, reconnects); past it, `429`.
pub const STREAMS_PER_MAILBOX: usize = 6;
/// How long a ticket for `GET /api/events` stays valid, in milliseconds (it is used once).
pub const TICKET_TTL_MS: i64 = 60_000;
/// How often an idle event stream sends a keep-alive comment, in milliseconds.
pub const KEEP_ALIVE_MS: u64 = 15_000;
/// How long a browser waits before reconnecting a dropped stream (the `retry:` hint), in ms.
pub const RECONNECT_MS: u64 = 2_000;

/// `POST /api/mailboxes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMailbox {
    pub name: String,
}

impl NewMailbox {
    pub fn validate(&self) -> Result<(), OutOfRange> {
        if is_mailbox_name(&self.name) {
            Ok(())
        } else {
            Err(OutOfRange {
                field: "name",
                allowed: format!("1 to {NAME_MAX} of a-z, 0-9, _ and -"),
            })
        }
    }
}

/// Whether `name` can name a mailbox: 1–[`NAME_MAX`] of `a-z 0-9 _ -`.
pub fn is_mailbox_name(name: &str) -> bool {
    (1..=NAME_MAX).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// `201` to `POST /api/mailboxes`: the address and the secret that opens it. The token is shown
/// this once; the server keeps only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxCreated {
    pub address: String,
    pub token: String,
}

/// `GET /api/mailboxes?q=`: the addresses one can write to (at most [`DIRECTORY_MAX`]). Without
/// `q`, those that sent most recently first, then the newest; with it, those that begin with it,
/// in order of name. Creating names cannot push the people who write out of the first list, and
/// anyone is found by the start of their name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    pub addresses: Vec<String>,
}

/// The query of `GET /api/mailboxes`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirectoryQuery {
    /// The start of the names to list (1 to [`NAME_MAX`] characters a name may have).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
}

/// How many addresses the directory lists.
pub const DIRECTORY_MAX: usize = 200;

/// Whether `key` can be an `Idempotency-Key`: 1–[`IDEMPOTENCY_KEY_MAX`] visible ASCII characters.
pub fn is_idempotency_key(key: &str) -> bool {
    (1..=IDEMPOTENCY_KEY_MAX).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// `POST /api/messages` (with an `Idempotency-Key` header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl NewMessage {
    pub fn validate(&self) -> Result<(), OutOfRange> {
        if !is_mailbox_name(&self.to) {
            return Err(OutOfRange {
                field: "to",
                allowed: format!("a mailbox name: 1 to {NAME_MAX} of a-z, 0-9, _ and -"),
            });
        }
        within("subject", &self.subject, SUBJECT_MAX)?;
        within("body", &self.body, BODY_MAX)
    }
}

/// `field` holds 1 to `max` characters.
fn within(field: &'static str, text: &str, max: usize) -> Result<(), OutOfRange> {
    let count = text.chars().count();
    if (1..=max).contains(&count) {
        Ok(())
    } else {
        Err(OutOfRange {
            field,
            allowed: format!("1 to {max} characters"),
        })
    }
}

/// `202` to `POST /api/messages`: the message is in the recipient's inbox. Sending it again with
/// the same `Idempotency-Key` and body answers this same body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub id: i64,
    pub status: MessageStatus,
    pub sent_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// In the recipient's inbox, not opened yet.
    Delivered,
    /// The recipient opened it (the sender got a receipt).
    Read,
}

/// A message as its sender or its recipient sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: i64,
    pub from: String,
    pub to: String,
    pub subject: String,
    /// The body as it is now (after any corrections).
    pub body: String,
    pub status: MessageStatus,
    pub sent_at_ms: i64,
    pub read_at_ms: Option<i64>,
    /// The note of a correction the recipient asked for and the sender has not made yet.
    pub correction_requested: Option<String>,
    /// The newest corrections asked for and made (at most [`HISTORY_MAX`]), oldest first; the
    /// whole history is at `GET /api/messages/{id}/history`. A `corrected` event carries only
    /// the correction it is about.
    pub history: Vec<Change>,
    /// How many changes the whole history has (more than `history` holds when it was cut).
    #[serde(default)]
    pub changes: u32,
    /// How many times the sender corrected it.
    #[serde(default)]
    pub corrections: u32,
}

/// `GET /api/messages/{id}/history?after=&limit=`: a page of a message's changes, oldest first;
/// `next_after` is the `after` of the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub changes: Vec<Change>,
    pub next_after: Option<i64>,
}

/// One step in a message's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// The recipient asked the sender to correct the message.
    CorrectionRequested { note: String, at_ms: i64 },
    /// The sender replaced the body.
    Corrected {
        previous_body: String,
        body: String,
        at_ms: i64,
    },
}

/// The query of `GET /api/inbox` and `GET /api/outbox`: messages with an id above `after`,
/// oldest first, at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PageQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl PageQuery {
    /// The limit, checked: `1..=PAGE_MAX`, [`PAGE_DEFAULT`] when not given.
    pub fn limit(&self) -> Result<u32, OutOfRange> {
        let limit = self.limit.unwrap_or(PAGE_DEFAULT);
        if (1..=PAGE_MAX).contains(&limit) {
            Ok(limit)
        } else {
            Err(OutOfRange {
                field: "limit",
                allowed: format!("a whole number from 1 to {PAGE_MAX}"),
            })
        }
    }
}

/// A page of messages; `next_after` is the `after` of the next page, if there may be one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    pub next_after: Option<i64>,
}

/// `POST /api/messages/{id}/correction-requests` (the recipient).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectionRequest {
    pub note: String,
}

impl CorrectionRequest {
    pub fn validate(&self) -> Result<(), OutOfRange> {
        within("note", &self.note, NOTE_MAX)
    }
}

/// `POST /api/messages/{id}/corrections` (the sender): the new body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    pub body: String,
}

impl Correction {
    pub fn validate(&self) -> Result<(), OutOfRange> {
        within("body", &self.body, BODY_MAX)
    }
}

/// `201` to `POST /api/events/ticket`: a single-use pass for `GET /api/events?ticket=`, so the
/// token never sits in a URL. `last_event_id` is the mailbox's newest event as the ticket was
/// made: read the inbox after this, then stream from it, and nothing falls in between.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventTicket {
    pub ticket: String,
    pub expires_at_ms: i64,
    pub last_event_id: i64,
}

/// The query of `GET /api/events`. A reconnecting `EventSource` sends `Last-Event-ID` as a
/// header; a new one (the ticket is single-use, so the page opens a new one) says it here.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    pub ticket: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_event_id: Option<i64>,
}

/// Every event a mailbox's stream carries; the SSE event name is [`MailEvent::name`] and the data
/// is the inner value as JSON. Each has an id from the mailbox's own durable sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum MailEvent {
    /// A new message in the inbox.
    Message(Message),
    /// A message this mailbox sent was read.
    Receipt(Receipt),
    /// The recipient of a message this mailbox sent asks for a correction.
    CorrectionRequested(CorrectionAsked),
    /// A message in the inbox was corrected by its sender.
    Corrected(Message),
}

impl MailEvent {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Message(_) => "message",
            Self::Receipt(_) => "receipt",
            Self::CorrectionRequested(_) => "correction_requested",
            Self::Corrected(_) => "corrected",
        }
    }
}

/// The data of a `receipt` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub id: i64,
    pub by: String,
    pub read_at_ms: i64,
}

/// The data of a `correction_requested` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionAsked {
    pub id: i64,
    pub by: String,
    pub note: String,
    pub at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys() {
        assert!(is_mailbox_name("alice"));
        assert!(is_mailbox_name("a_b-9"));
        assert!(is_mailbox_name(&"a".repeat(NAME_MAX)));
        for bad in ["", "Alice", "a b", "ä", "a.b", &"a".repeat(NAME_MAX + 1)] {
            assert!(!is_mailbox_name(bad), "{bad:?}");
        }
        assert!(is_idempotency_key("k-1:~!"));
        assert!(is_idempotency_key(&"k".repeat(IDEMPOTENCY_KEY_MAX)));
        for bad in ["", "a b", "é", "\t", &"k".repeat(IDEMPOTENCY_KEY_MAX + 1)] {
            assert!(!is_idempotency_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let message = NewMessage {
            to: "bob".into(),
            subject: "☃".repeat(SUBJECT_MAX),
            body: "x".into(),
        };
        assert!(message.validate().is_ok());
        let long = NewMessage {
            subject: "☃".repeat(SUBJECT_MAX + 1),
            ..message.clone()
        };
        assert_eq!(long.validate().map_err(|e| e.field), Err("subject"));
        let empty = NewMessage {
            body: String::new(),
            ..message
        };
        assert_eq!(empty.validate().map_err(|e| e.field), Err("body"));
    }

    #[test]
    fn events_name_themselves_and_carry_their_data() {
        let event = MailEvent::Receipt(Receipt {
            id: 7,
            by: "bob".into(),
            read_at_ms: 1,
        });
        assert_eq!(event.name(), "receipt");
        let json = serde_json::to_value(&event).expect("serialises");
        assert_eq!(json["type"], "receipt");
        assert_eq!(json["data"]["id"], 7);
    }
}
