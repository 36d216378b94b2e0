-- What keeps one client from hurting another: a credential for each owner of jobs (as a mailbox
-- has its token), single-use tickets for their streams, and when a mailbox last sent (the
-- directory lists the active ones first, so a flood of new names does not hide them).

-- An owner of jobs is made by `POST /api/jobs/owners`; its token is kept only as its SHA-256.
-- Owners from before this migration have no token: nobody can reach them any more.
ALTER TABLE job_owners ADD COLUMN token_hash BLOB;
ALTER TABLE job_owners ADD COLUMN created_at_ms INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX job_owners_by_token ON job_owners (token_hash);

-- Single-use passes for GET /api/jobs/events, kept as their SHA-256, as Mail's are.
CREATE TABLE job_event_tickets (
    ticket_hash   BLOB    PRIMARY KEY,
    owner         TEXT    NOT NULL REFERENCES job_owners (owner),
    expires_at_ms INTEGER NOT NULL
);
CREATE INDEX job_event_tickets_by_expiry ON job_event_tickets (expires_at_ms);

-- A job's share of the queue is counted per owner.
CREATE INDEX jobs_by_owner_state ON jobs (owner, state);

-- Set in the transaction of each message the mailbox sends.
ALTER TABLE mailboxes ADD COLUMN active_at_ms INTEGER;
CREATE INDEX mailboxes_by_activity ON mailboxes (active_at_ms);

-- Corrections grow storage linearly: a change row keeps the new body only (the body before it is
-- the previous correction's, or, for the first, kept in `previous_body`), the message counts its
-- changes and corrections (the lists carry the newest few changes and these counts), and each
-- change says who made it, so it counts against that mailbox's minute.
ALTER TABLE messages ADD COLUMN changes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN corrections INTEGER NOT NULL DEFAULT 0;
UPDATE messages SET
    changes = (SELECT count(*) FROM message_changes c WHERE c.message_id = messages.id),
    corrections = (SELECT count(*) FROM message_changes c
                   WHERE c.message_id = messages.id AND c.kind = 'corrected');
ALTER TABLE message_changes ADD COLUMN by_mailbox TEXT;
CREATE INDEX message_changes_by_author ON message_changes (by_mailbox, at_ms);
