-- What the edges need: a job's newest progress replaces its previous one (so a job's events are
-- found by the job), an `Idempotency-Key` for submitting a job, and the ages the pruning reads.

-- The job an event is about; a job's `progress` row is replaced by its next one, not added to.
ALTER TABLE job_events ADD COLUMN job TEXT;
CREATE INDEX job_events_by_job ON job_events (owner, job, kind);

-- One row per (owner, Idempotency-Key) of `POST /api/jobs`, written in the transaction that
-- queues the job: a retry with the key gets the same job. `owner` is '' for a job without one.
CREATE TABLE job_keys (
    owner         TEXT    NOT NULL,
    key           TEXT    NOT NULL,
    request_hash  BLOB    NOT NULL,
    job_id        TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (owner, key)
);

-- What the pruning looks for (`retention.rs`).
CREATE INDEX job_keys_by_age ON job_keys (created_at_ms);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at_ms);
CREATE INDEX events_by_age ON events (at_ms);
CREATE INDEX job_events_by_age ON job_events (at_ms);
CREATE INDEX event_tickets_by_expiry ON event_tickets (expires_at_ms);
CREATE INDEX jobs_by_finish ON jobs (finished_at_ms) WHERE finished_at_ms IS NOT NULL;
