-- The Mail room. Times are Unix milliseconds. Written for SQLite, in SQL PostgreSQL also takes
-- (no AUTOINCREMENT tricks, sequences kept in a column and bumped in the same transaction).

-- A mailbox: its name is its address; the token that opens it is kept only as its SHA-256.
-- `last_event_id` is the mailbox's own event sequence: bumped in the transaction that writes an
-- event, so ids are dense, ordered and durable.
CREATE TABLE mailboxes (
    name          TEXT    PRIMARY KEY,
    token_hash    BLOB    NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL,
    last_event_id INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE messages (
    id            INTEGER PRIMARY KEY,
    sender        TEXT    NOT NULL REFERENCES mailboxes (name),
    recipient     TEXT    NOT NULL REFERENCES mailboxes (name),
    subject       TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    sent_at_ms    INTEGER NOT NULL,
    read_at_ms    INTEGER,
    -- The note of a correction asked for and not made yet.
    correction_requested TEXT
);
CREATE INDEX messages_by_recipient ON messages (recipient, id);
CREATE INDEX messages_by_sender ON messages (sender, id);
-- Sends in the last minute, for the per-mailbox rate limit.
CREATE INDEX messages_by_sender_time ON messages (sender, sent_at_ms);

-- Each correction asked for and made, in order.
CREATE TABLE message_changes (
    id            INTEGER PRIMARY KEY,
    message_id    INTEGER NOT NULL REFERENCES messages (id),
    kind          TEXT    NOT NULL CHECK (kind IN ('correction_requested', 'corrected')),
    note          TEXT,
    previous_body TEXT,
    body          TEXT,
    at_ms         INTEGER NOT NULL
);
CREATE INDEX message_changes_by_message ON message_changes (message_id, id);

-- One row per (sender, Idempotency-Key). Claimed `in_progress` (with a lease) before the work;
-- made `done`, with the answer to repeat, in the same transaction as the message it sent.
CREATE TABLE idempotency_keys (
    sender          TEXT    NOT NULL REFERENCES mailboxes (name),
    key             TEXT    NOT NULL,
    request_hash    BLOB    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('in_progress', 'done')),
    claim           INTEGER NOT NULL,
    lease_until_ms  INTEGER NOT NULL,
    message_id      INTEGER REFERENCES messages (id),
    response        TEXT,
    created_at_ms   INTEGER NOT NULL,
    PRIMARY KEY (sender, key)
);

-- What each mailbox's event stream carries: the stream replays from these rows.
CREATE TABLE events (
    mailbox TEXT    NOT NULL REFERENCES mailboxes (name),
    id      INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    data    TEXT    NOT NULL,
    at_ms   INTEGER NOT NULL,
    PRIMARY KEY (mailbox, id)
);

-- Single-use passes for GET /api/events, kept as their SHA-256.
CREATE TABLE event_tickets (
    ticket_hash   BLOB    PRIMARY KEY,
    mailbox       TEXT    NOT NULL REFERENCES mailboxes (name),
    expires_at_ms INTEGER NOT NULL
);
