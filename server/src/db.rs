//! The SQLite database: opened in WAL mode with a busy timeout, migrated at start.

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// Opens (creating when missing) the database at `path`, its folder included, and applies the
/// embedded migrations.
pub async fn connect(path: &Path) -> Result<SqlitePool, DbError> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|source| DbError::Folder {
            folder: folder.display().to_string(),
            source,
        })?;
    }
    let options = SqliteConnectOptions::from_str("sqlite:")
        .map_err(DbError::Open)?
        .filename(path)
        .create_if_missing(true)
        // WAL lets readers go on while a write commits; NORMAL sync is durable across a process
        // crash in WAL mode (an acknowledged write is in the log before we answer).
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    // One writer: SQLite takes one write at a time anyway, and writers queued in the pool wait
    // in order, where writers racing for the file lock would sleep in SQLite's busy handler
    // (1, 2, 5 … 100 ms) and make the slowest requests ten times slower. Reads go to [`Reads`].
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(DbError::Open)?;
    sqlx::migrate!("./migrations")
        .run(&pool)
        .await
        .map_err(DbError::Migrate)?;
    Ok(pool)
}

/// What the server does with its database at every start: [`connect`], then record the start
/// with the server's version, so the database is known to be writable from the outset.
pub async fn open_for_start(path: &Path) -> Result<SqlitePool, DbError> {
    let pool = connect(path).await?;
    sqlx::query("INSERT INTO server_starts (version) VALUES (?)")
        .bind(env!("CARGO_PKG_VERSION"))
        .execute(&pool)
        .await
        .map_err(DbError::Write)?;
    Ok(pool)
}

/// Read-only connections beside the one writer, for what only reads (the event streams, pages
/// of messages, looking up a token): in WAL mode they read the last committed state while the
/// writer writes. A newtype, so a handler asks for `State<Reads>` or `State<SqlitePool>` (the
/// writer) and says which it needs.
#[derive(Debug, Clone)]
pub struct Reads(pub SqlitePool);

impl Reads {
    /// Up to four read-only connections to the writer's database, opened when first needed.
    pub fn beside(writer: &SqlitePool) -> Self {
        let options = (*writer.connect_options()).clone().read_only(true);
        Self(
            SqlitePoolOptions::new()
                .max_connections(4)
                .connect_lazy_with(options),
        )
    }
}

/// The database's own clock in Unix milliseconds, as SQL: leases are timed by it, not by each
/// process's clock, so every process sharing the database agrees on when a lease runs out.
pub const NOW_MS_SQL: &str = "CAST(unixepoch('subsec') * 1000 AS INTEGER)";

/// Milliseconds since the Unix epoch: what the database stores and the API shows.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Whether the database answers a trivial query.
pub async fn is_up(pool: &SqlitePool) -> bool {
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
