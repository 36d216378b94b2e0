//! Nothing grows for ever: a background task deletes, on a schedule, what has served its purpose.
//! An `Idempotency-Key` protects the retries of one request, which end within minutes: it is kept
//! a day. A stream ticket is single-use and lives a minute. Events are kept for a stream that
//! reconnects after a while (a laptop closed over a weekend); past that, a page loads the lists
//! again and streams from their position, as it does on a first visit. A finished job stays for
//! its owner to see for as long. Messages and mailboxes are people's data and are never pruned.

use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyPool;
use tokio_util::sync::CancellationToken;

use crate::clients::Clients;
use crate::db::now_ms;

/// How long each kind of row is kept, and how often the pruning runs (`--keep-*`, `--prune-every`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Idempotency keys of sent messages and submitted jobs.
    pub keys: Duration,
    /// Mail's and Tasks' stream events.
    pub events: Duration,
    /// Jobs that have finished (succeeded, failed or cancelled).
    pub finished_jobs: Duration,
    /// Time between two prunings.
    pub every: Duration,
}

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

impl Default for Retention {
    fn default() -> Self {
        Self {
            keys: DAY,
            events: 7 * DAY,
            finished_jobs: 7 * DAY,
            every: HOUR / 6,
        }
    }
}

/// What one pruning deleted, table by table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub idempotency_keys: u64,
    pub job_keys: u64,
    pub tickets: u64,
    pub mail_events: u64,
    pub job_events: u64,
    pub jobs: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.idempotency_keys
            + self.job_keys
            + self.tickets
            + self.mail_events
            + self.job_events
            + self.jobs
    }
}

/// Deletes, as of `now_ms`, every row `retention` no longer keeps. Each table is one statement
/// on its own, so the writer is never held long.
pub async fn prune(db: &AnyPool, retention: &Retention, now_ms: i64) -> sqlx::Result<Pruned> {
    let before = |kept: Duration| now_ms - i64::try_from(kept.as_millis()).unwrap_or(i64::MAX);
    let keys = before(retention.keys);
    let events = before(retention.events);
    let delete = async |sql: &str, before: i64| -> sqlx::Result<u64> {
        Ok(sqlx::query(sql)
            .bind(before)
            .execute(db)
            .await?
            .rows_affected())
    };
    Ok(Pruned {
        // A key still in progress is kept while its lease runs: its request may yet finish.
        idempotency_keys: sqlx::query(
            "DELETE FROM idempotency_keys
             WHERE created_at_ms < $1 AND (state = 'done' OR lease_until_ms < $2)",
        )
        .bind(keys)
        .bind(now_ms)
        .execute(db)
        .await?
        .rows_affected(),
        job_keys: delete("DELETE FROM job_keys WHERE created_at_ms < $1", keys).await?,
        tickets: delete(
            "DELETE FROM event_tickets WHERE expires_at_ms <= $1",
            now_ms,
        )
        .await?
            + delete(
                "DELETE FROM job_event_tickets WHERE expires_at_ms <= $1",
                now_ms,
            )
            .await?,
        mail_events: delete("DELETE FROM events WHERE at_ms < $1", events).await?,
        job_events: delete("DELETE FROM job_events WHERE at_ms < $1", events).await?,
        jobs: delete(
            "DELETE FROM jobs WHERE finished_at_ms IS NOT NULL AND finished_at_ms < $1",
            before(retention.finished_jobs),
        )
        .await?,
    })
}

/// Prunes at start and then every `retention.every`, until shutdown; the limits per client
/// forget the addresses that have been quiet.
pub async fn run(
    db: AnyPool,
    retention: Retention,
    clients: Arc<Clients>,
    shutdown: CancellationToken,
) {
    let mut ticks = tokio::time::interval(retention.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = shutdown.cancelled() => return,
        }
        clients.forget_quiet();
        match prune(&db, &retention, now_ms()).await {
            Ok(pruned) if pruned.total() > 0 => tracing::info!(?pruned, "pruned"),
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "pruning failed; trying again next time"),
        }
    }
}
