-- Every start of the server, with its version: the first write proves the database is writable.
CREATE TABLE server_starts (
    id         INTEGER PRIMARY KEY,
    version    TEXT    NOT NULL,
    started_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
