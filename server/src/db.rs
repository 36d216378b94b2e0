//! The database: SQLite (a file, the default) or PostgreSQL (what several server instances share),
//! chosen at start by the address given, through sqlx's `Any` driver, so the rest of the server
//! holds an [`AnyPool`] and names neither.
//!
//! The queries are the same SQL on both (numbered binds, `$1`, which both take; 64-bit integers;
//! no function only one of them has). Where the two differ, the difference is here, once:
//! [`Backend::now_ms`] (the database's clock), [`Backend::skip_locked`] (how a claim passes rows
//! another instance is claiming), [`notify`] (waking other instances' streams), how each is
//! opened ([`connect`]), and the schema (`migrations/sqlite`, `migrations/postgres`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Executor};

use crate::timing::{self, Part};

/// Where the database is: what `--database` takes. A file path or a `sqlite:` address is SQLite;
/// a `postgres://` (or `postgresql://`) address is PostgreSQL; any other `scheme://` is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Sqlite(PathBuf),
    Postgres(String),
}

impl FromStr for Address {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Self::Postgres(text.to_owned()));
        }
        if let Some(path) = text.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() || path.contains('?') {
                return Err(format!(
                    "`{text}`: give a SQLite database as a file path (`sqlite:data/meanwhile.db`)"
                ));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(format!(
                "`{scheme}://` is not a database Meanwhile knows: give a SQLite file path \
                 (e.g. `data/meanwhile.db`) or a `postgres://user@host:port/database` address"
            ));
        }
        if text.is_empty() {
            return Err("the database address is empty".to_owned());
        }
        Ok(Self::Sqlite(PathBuf::from(text)))
    }
}

impl fmt::Display for Address {
    /// Without a password, for the log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "SQLite at {}", path.display()),
            Self::Postgres(url) => match url::Url::parse(url) {
                Ok(mut url) => {
                    if url.password().is_some() {
                        let _ = url.set_password(Some("…"));
                    }
                    write!(f, "PostgreSQL at {url}")
                }
                Err(_) => f.write_str("PostgreSQL"),
            },
        }
    }
}

/// Which database a pool or connection talks to, for the few statements written differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend of `pool`.
    pub fn of(pool: &AnyPool) -> Self {
        match pool.connect_options().database_url.scheme() {
            "postgres" | "postgresql" => Self::Postgres,
            _ => Self::Sqlite,
        }
    }

    /// The backend of `conn`.
    pub fn of_connection(conn: &AnyConnection) -> Self {
        if conn.backend_name() == "PostgreSQL" {
            Self::Postgres
        } else {
            Self::Sqlite
        }
    }

    /// The database's own clock in Unix milliseconds, as SQL: leases are timed by it, not by each
    /// process's clock, so every instance sharing the database agrees on when a lease runs out.
    pub fn now_ms(self) -> &'static str {
        match self {
            Self::Sqlite => "CAST(unixepoch('subsec') * 1000 AS BIGINT)",
            Self::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }

    /// What follows the `SELECT` of a row to claim so that a claim passes over rows another
    /// instance is claiming at the same moment instead of queueing behind it. SQLite has one
    /// writer at a time, so nothing is being claimed meanwhile.
    pub fn skip_locked(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }
}

/// The channel of PostgreSQL's `NOTIFY` that says an event was committed: `<key> <id>`.
pub const EVENTS_CHANNEL: &str = "meanwhile_events";

/// Tells every instance listening (PostgreSQL's `LISTEN`, see `streams::listen`) that `key`'s
/// events up to `id` are committed, in `conn`'s transaction: it is sent when the transaction
/// commits, and not at all when it rolls back. Only the key and the id (a notification's payload
/// is at most 8000 bytes): the rows are the truth. Nothing to do on SQLite, which one process
/// serves.
pub async fn notify(conn: &mut AnyConnection, key: &str, id: i64) -> sqlx::Result<()> {
    if Backend::of_connection(conn) == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(EVENTS_CHANNEL)
            .bind(format!("{key} {id}"))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Opens the database at `address` (a SQLite file and its folder are created when missing) and
/// applies the embedded migrations of its kind.
pub async fn connect(address: &Address) -> Result<AnyPool, DbError> {
    sqlx::any::install_default_drivers();
    let pool = match address {
        Address::Sqlite(path) => {
            if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(folder).map_err(|source| DbError::Folder {
                    folder: folder.display().to_string(),
                    source,
                })?;
            }
            // One writer: SQLite takes one write at a time anyway, and writers queued in the pool
            // wait in order, where writers racing for the file lock would sleep in SQLite's busy
            // handler (1, 2, 5 … 100 ms) and make the slowest requests ten times slower. Reads
            // go to [`Reads`]. sqlx waits up to 5 s on a lock and turns foreign keys on.
            AnyPoolOptions::new()
                .max_connections(1)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        // WAL lets readers go on while a write commits; NORMAL sync is durable
                        // across a process crash in WAL mode (an acknowledged write is in the log
                        // before we answer).
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL")
                            .await
                            .map(|_| ())
                    })
                })
                .connect_with(sqlite_options(path, "rwc")?)
                .await
                .map_err(DbError::Open)?
        }
        Address::Postgres(url) => {
            let options = AnyConnectOptions::from_str(url).map_err(DbError::Open)?;
            AnyPoolOptions::new()
                .max_connections(POSTGRES_CONNECTIONS)
                .connect_with(options)
                .await
                .map_err(DbError::Open)?
        }
    };
    let migrations = match Backend::of(&pool) {
        Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
    };
    migrations.run(&pool).await.map_err(DbError::Migrate)?;
    Ok(pool)
}

/// Connections one instance opens to PostgreSQL (its default cap is 100 in all): requests, the
/// job workers and the streams' reads share them.
const POSTGRES_CONNECTIONS: u32 = 16;

/// A SQLite file's address for the `Any` driver, opened in `mode` (`rwc`, `ro`).
fn sqlite_options(path: &Path, mode: &str) -> Result<AnyConnectOptions, DbError> {
    // Percent-encoded as a URL's path (sqlx decodes it), so any file name reads back the same.
    let path = path.to_string_lossy();
    let encoded = percent_encoding::utf8_percent_encode(&path, PATH);
    AnyConnectOptions::from_str(&format!("sqlite:{encoded}?mode={mode}")).map_err(DbError::Open)
}

/// What a file path may not hold as it is inside a `sqlite:` address.
const PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'%')
    .add(b'?')
    .add(b'#');

/// What the server does with its database at every start: [`connect`], then record the start
/// with the server's version, so the database is known to be writable from the outset.
pub async fn open_for_start(address: &Address) -> Result<AnyPool, DbError> {
    let pool = connect(address).await?;
    sqlx::query("INSERT INTO server_starts (version) VALUES ($1)")
        .bind(env!("CARGO_PKG_VERSION"))
        .execute(&pool)
        .await
        .map_err(DbError::Write)?;
    Ok(pool)
}

/// The pool for what only reads (the event streams, pages of messages, looking up a token). On
/// SQLite, up to four read-only connections beside the one writer: in WAL mode they read the last
/// committed state while the writer writes. On PostgreSQL, the same pool: every connection reads
/// while others write. A newtype, so a handler asks for `State<Reads>` or `State<AnyPool>` (where
/// writes go) and says which it needs.
#[derive(Debug, Clone)]
pub struct Reads(pub AnyPool);

impl Reads {
    /// Readers of `writer`'s database, opened when first needed.
    pub fn beside(writer: &AnyPool) -> Self {
        let readers = match Backend::of(writer) {
            Backend::Postgres => None,
            Backend::Sqlite => {
                let mut options = (*writer.connect_options()).clone();
                options
                    .database_url
                    .query_pairs_mut()
                    .clear()
                    .append_pair("mode", "ro");
                Some(
                    AnyPoolOptions::new()
                        .max_connections(4)
                        .connect_lazy_with(options),
                )
            }
        };
        Self(readers.unwrap_or_else(|| writer.clone()))
    }
}

/// Begins a write's transaction on `pool`. While it waits for a connection (on SQLite, its turn
/// for the one writer) it is counted in `meanwhile_db_writes_waiting`; how long it waited is
/// recorded in `meanwhile_db_begin_wait_seconds` and, with the time
/// the transaction then lasts, in its request's `Server-Timing` ([`crate::timing`]).
pub async fn begin(pool: &AnyPool) -> sqlx::Result<Write> {
    let started = Instant::now();
    let waiting = crate::metrics::InFlight::new(metrics::gauge!("meanwhile_db_writes_waiting"));
    let transaction = pool.begin().await;
    drop(waiting);
    let waited = started.elapsed();
    metrics::histogram!("meanwhile_db_begin_wait_seconds").record(waited.as_secs_f64());
    timing::add(Part::DbWait, waited);
    Ok(Write {
        transaction: Some(transaction?),
        began: Instant::now(),
    })
}

/// A write's transaction ([`begin`]): its connection (`&mut *write`), [`Write::commit`]; rolled
/// back when dropped uncommitted, as sqlx's is. Its time counts as `db` in its request's account.
#[derive(Debug)]
pub struct Write {
    /// Taken by `commit`.
    transaction: Option<sqlx::Transaction<'static, sqlx::Any>>,
    began: Instant,
}

impl Write {
    pub async fn commit(mut self) -> sqlx::Result<()> {
        match self.transaction.take() {
            Some(transaction) => transaction.commit().await,
            None => Ok(()),
        }
    }
}

impl std::ops::Deref for Write {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        self.transaction
            .as_deref()
            .expect("a write is used only before its commit")
    }
}

impl std::ops::DerefMut for Write {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.transaction
            .as_deref_mut()
            .expect("a write is used only before its commit")
    }
}

impl Drop for Write {
    fn drop(&mut self) {
        timing::add(Part::Db, self.began.elapsed());
    }
}

/// Milliseconds since the Unix epoch: what the database stores and the API shows.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Whether the database answers a trivial query.
pub async fn is_up(pool: &AnyPool) -> bool {
    sqlx::query("SELECT 1").execute(pool).await.is_ok()
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot create the database folder {folder}: {source}")]
    Folder {
        folder: String,
        source: std::io::Error,
    },
    #[error("cannot open the database: {0}")]
    Open(sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    #[error("cannot write to the database: {0}")]
    Write(sqlx::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_a_file_a_sqlite_address_or_a_postgres_one_and_nothing_else() {
        let cases = [
            (
                "data/meanwhile.db",
                Ok(Address::Sqlite("data/meanwhile.db".into())),
            ),
            ("/srv/m.db", Ok(Address::Sqlite("/srv/m.db".into()))),
            ("sqlite:data/m.db", Ok(Address::Sqlite("data/m.db".into()))),
            (
                "sqlite:///srv/m.db",
                Ok(Address::Sqlite("/srv/m.db".into())),
            ),
            (
                "postgres://me@127.0.0.1:5432/meanwhile",
                Ok(Address::Postgres(
                    "postgres://me@127.0.0.1:5432/meanwhile".into(),
                )),
            ),
            (
                "postgresql://db/m",
                Ok(Address::Postgres("postgresql://db/m".into())),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<Address>(), expected, "{text}");
        }
        for refused in [
            "mysql://db/m",
            "http://x",
            "",
            "sqlite:",
            "sqlite:m.db?mode=ro",
        ] {
            assert!(refused.parse::<Address>().is_err(), "{refused} is refused");
        }
        let shown = Address::Postgres("postgres://me:secret@db/m".into()).to_string();
        assert!(!shown.contains("secret"), "{shown}");
    }
}
