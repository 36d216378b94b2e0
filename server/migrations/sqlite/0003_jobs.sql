-- The Tasks room. Times are Unix milliseconds. Written for SQLite, in SQL PostgreSQL also takes.

-- A job. `seq` is the order of submission, which is the queue's order; `id` is the unguessable
-- name the API shows. A worker claims a job by setting `lease_owner` and `lease_until_ms` in one
-- statement, renews the lease while it works, and writes the end only while it holds it: a job
-- whose lease ran out (its worker's process died) is claimed again.
CREATE TABLE jobs (
    seq              INTEGER PRIMARY KEY,
    id               TEXT    NOT NULL UNIQUE,
    owner            TEXT,
    kind             TEXT    NOT NULL,
    params           TEXT    NOT NULL,
    state            TEXT    NOT NULL
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    progress         REAL    NOT NULL DEFAULT 0,
    created_at_ms    INTEGER NOT NULL,
    started_at_ms    INTEGER,
    finished_at_ms   INTEGER,
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- The result as JSON; a picture's bytes beside it.
    result           TEXT,
    image            BLOB,
    error            TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_until_ms   INTEGER
);
CREATE INDEX jobs_by_state ON jobs (state, seq);
CREATE INDEX jobs_by_owner ON jobs (owner, seq);

-- Each owner's event sequence: bumped in the transaction that writes an event, so ids are
-- dense, ordered and durable, as a mailbox's are.
CREATE TABLE job_owners (
    owner         TEXT    PRIMARY KEY,
    last_event_id INTEGER NOT NULL
);

-- What each owner's job stream carries: the stream replays from these rows.
CREATE TABLE job_events (
    owner TEXT    NOT NULL REFERENCES job_owners (owner),
    id    INTEGER NOT NULL,
    kind  TEXT    NOT NULL,
    data  TEXT    NOT NULL,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (owner, id)
);
