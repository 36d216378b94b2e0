//! What every server-sent event stream of the API shares: it ends when the server begins to
//! shut down (so a graceful shutdown does not wait on it), and it says in the log when and why it
//! ended — finished, the client left, or the server stopped — with how many events it sent.
//!
//! And the durable streams of Mail and Tasks: their events are rows with ids from a sequence of
//! their own (a mailbox's, a job owner's), committed before anyone hears of them. [`replay`]
//! sends the rows after the last id the client has, then waits for the [`Hub`] to say more were
//! committed — or for its re-read interval to pass, whichever comes first: the rows are the truth
//! and a wake only hurries the stream, so a wake that never came (a write by another process, a
//! server killed between a commit and its wake) costs latency, never an event. A client that
//! reconnects with `Last-Event-ID` misses nothing.
//!
//! Writers commit and wake inside [`detached`], so a client that leaves in the middle of its
//! request cannot cut a write off between its commit and its wake.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use sqlx::AnyPool;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clients::Held;
use crate::error::{ApiError, Result};
use crate::state::ServedBy;

/// Writes the stream's one log line when dropped: hyper drops a response body when it is done
/// with it, whatever the reason, so this sees every end.
#[derive(Debug)]
pub struct StreamEnd {
    name: &'static str,
    /// Counts the stream in `meanwhile_streams_open` while it lives.
    _open: crate::metrics::InFlight,
    shutdown: CancellationToken,
    sent: u64,
    finished: bool,
}

impl StreamEnd {
    pub fn new(name: &'static str, shutdown: &CancellationToken) -> Self {
        tracing::debug!(stream = name, "event stream started");
        Self {
            name,
            _open: crate::metrics::InFlight::new(metrics::gauge!(
                "meanwhile_streams_open",
                "stream" => name
            )),
            shutdown: shutdown.clone(),
            sent: 0,
            finished: false,
        }
    }

    /// One more event was handed to the client.
    pub fn sent_one(&mut self) {
        self.sent += 1;
    }

    /// The stream sent everything it had to send.
    pub fn finished(&mut self) {
        self.finished = true;
    }
}

impl Drop for StreamEnd {
    fn drop(&mut self) {
        let reason = if self.finished {
            "finished"
        } else if self.shutdown.is_cancelled() {
            "the server is shutting down"
        } else {
            "the client left"
        };
        tracing::info!(
            stream = self.name,
            sent = self.sent,
            reason,
            "event stream ended"
        );
    }
}

/// `stream`, ending as soon as `shutdown` is cancelled.
pub fn until_shutdown<S: Stream>(
    stream: S,
    shutdown: CancellationToken,
) -> impl Stream<Item = S::Item> {
    stream.take_until(shutdown.cancelled_owned())
}

/// The `Last-Event-ID` a reconnecting `EventSource` sends: the id of the last event it received,
/// read as the stream numbers its events; `400` (saying what an id is: `meaning`) otherwise.
pub fn last_event_id<T: FromStr>(headers: &HeaderMap, meaning: &str) -> Result<Option<T>> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .map(Some)
        .ok_or_else(|| ApiError::BadRequest(format!("`Last-Event-ID` must be {meaning}.")))
}

/// How often an idle durable stream sends a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_millis(protocol::mail::KEEP_ALIVE_MS);
/// How long a browser waits before reconnecting a dropped stream (the `retry:` hint).
pub const RECONNECT: Duration = Duration::from_millis(protocol::mail::RECONNECT_MS);
/// Rows read from the database at a time.
const BATCH: i64 = 100;

/// Runs `write` to its end as background work of the server, even when the request that started
/// it is dropped because its client left: a write that has begun commits and wakes its streams
/// (or fails) whatever the client does, and shutdown waits for it. The request awaits the answer.
pub async fn detached<T, W>(tasks: &TaskTracker, write: W) -> Result<T>
where
    T: Send + 'static,
    W: Future<Output = Result<T>> + Send + 'static,
{
    tasks
        .spawn(crate::timing::within(crate::timing::current(), write))
        .await
        .map_err(|error| ApiError::Internal(format!("a write did not finish: {error}")))?
}

/// Wakes a durable stream's open connections when an event is committed for its key, and counts
/// them (to cap how many one key holds). Keys are a mailbox's name, or `jobs/` and a job owner.
/// One process's view: its writers wake it after they commit, and on PostgreSQL [`listen`] wakes
/// it with the other instances' writes; the streams' re-read (`rescan`, every keep-alive by
/// default) is what makes a missed wake cost only latency.
#[derive(Debug)]
pub struct Hub {
    keys: Mutex<HashMap<String, Listeners>>,
    rescan: Duration,
}

impl Default for Hub {
    fn default() -> Self {
        Self::rescanning_every(KEEP_ALIVE)
    }
}

#[derive(Debug)]
struct Listeners {
    /// The newest event id committed for the key, as far as this process knows.
    newest: watch::Sender<i64>,
    open: usize,
}

impl Hub {
    /// A hub whose idle streams re-read their rows every `rescan` without being woken.
    pub fn rescanning_every(rescan: Duration) -> Self {
        Self {
            keys: Mutex::default(),
            rescan,
        }
    }

    /// Tells `key`'s open streams to read their rows again: something may have been committed
    /// whose id this process does not know (an idempotent retry of a write whose wake was lost).
    pub fn nudge(&self, key: &str) {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(listeners) = keys.get(key) {
            listeners.newest.send_modify(|_| {});
        }
    }

    /// Tells every open stream to read its rows again: this process may have missed wakes (the
    /// connection that hears other instances' writes was lost for a while).
    pub fn nudge_all(&self) {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        for listeners in keys.values() {
            listeners.newest.send_modify(|_| {});
        }
    }

    /// Tells `key`'s open streams that events up to `id` are committed.
    pub fn wake(&self, key: &str, id: i64) {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(listeners) = keys.get(key) {
            listeners.newest.send_if_modified(|newest| {
                let newer = id > *newest;
                if newer {
                    *newest = id;
                }
                newer
            });
        }
    }

    /// Registers one more stream for `key`, unless it already has `limit` open ([`Full`]). Taken
    /// before anything single-use (a ticket) is spent, so a refused stream costs the client
    /// nothing but the wait.
    pub fn open(self: &Arc<Self>, key: &str, limit: usize) -> std::result::Result<Slot, Full> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let listeners = keys.entry(key.to_owned()).or_insert_with(|| Listeners {
            newest: watch::Sender::new(0),
            open: 0,
        });
        if listeners.open >= limit {
            return Err(Full);
        }
        listeners.open += 1;
        Ok(Slot {
            woken: listeners.newest.subscribe(),
            hub: self.clone(),
            key: key.to_owned(),
            rescan: self.rescan,
            _client: None,
        })
    }

    /// A stream of `key` ended.
    fn close(&self, key: &str) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(listeners) = keys.get_mut(key) {
            listeners.open = listeners.open.saturating_sub(1);
            if listeners.open == 0 {
                keys.remove(key);
            }
        }
    }
}

/// A stream's place in the [`Hub`], given back when the stream (or the refused request) is
/// dropped.
pub struct Slot {
    woken: watch::Receiver<i64>,
    hub: Arc<Hub>,
    key: String,
    rescan: Duration,
    /// Kept for its drop.
    _client: Option<Held>,
}

impl Slot {
    /// Holds the client's place (its address's count of open streams) as long as this one.
    pub fn holding(mut self, client: Held) -> Self {
        self._client = Some(client);
        self
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.hub.close(&self.key);
    }
}

/// Where a durable stream's events are.
#[derive(Debug, Clone)]
pub struct Feed {
    /// What the log calls the stream.
    pub name: &'static str,
    /// Selects `(id, kind, data)` with binds (`of`, after this id, at most this many), in order
    /// of id.
    pub sql: &'static str,
    /// Whose events: the first bind of `sql`.
    pub of: String,
    /// The [`Hub`] key the writers wake.
    pub key: String,
}

/// Too many streams are open for that key already. A stream of a client that has gone is
/// dropped at its next keep-alive at the latest, so a place frees within [`KEEP_ALIVE`]: the
/// `Retry-After` of the refusal.
#[derive(Debug)]
pub struct Full;

/// The SSE answer of a durable stream in `slot`: a `retry:` hint with the instance's name
/// ([`protocol::SERVED_BY_EVENT`]), the rows of `feed` after
/// `after`, then each new one as it is committed (or found by the re-read); a keep-alive comment
/// every 15 s; ends at shutdown. `reads` is a read-only pool: the stream only reads.
pub fn replay(
    feed: Feed,
    after: i64,
    reads: AnyPool,
    slot: Slot,
    served_by: ServedBy,
    shutdown: CancellationToken,
) -> Response {
    let pump = Pump {
        served_by,
        end: StreamEnd::new(feed.name, &shutdown),
        feed,
        db: reads,
        slot,
        after,
        pending: VecDeque::new(),
        hinted: false,
    };
    let events = futures::stream::unfold(pump, Pump::next);
    Sse::new(until_shutdown(events, shutdown))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}

/// One stream's state: what it has sent up to, and what it has read but not sent yet.
struct Pump {
    served_by: ServedBy,
    feed: Feed,
    db: AnyPool,
    slot: Slot,
    after: i64,
    pending: VecDeque<(i64, String, String)>,
    hinted: bool,
    end: StreamEnd,
}

impl Pump {
    async fn next(mut self) -> Option<(std::result::Result<Event, Infallible>, Self)> {
        if !self.hinted {
            self.hinted = true;
            let name = self.served_by.0.to_str().unwrap_or_default();
            let opening = Event::default()
                .retry(RECONNECT)
                .event(protocol::SERVED_BY_EVENT)
                .data(name);
            return Some((Ok(opening), self));
        }
        loop {
            if let Some((id, kind, data)) = self.pending.pop_front() {
                self.after = id;
                self.end.sent_one();
                let event = Event::default().id(id.to_string()).event(kind).data(data);
                return Some((Ok(event), self));
            }
            // Seen before reading, so a wake that comes during the read is not lost.
            self.slot.woken.borrow_and_update();
            let rows: Vec<(i64, String, String)> = match sqlx::query_as(self.feed.sql)
                .bind(&self.feed.of)
                .bind(self.after)
                .bind(BATCH)
                .fetch_all(&self.db)
                .await
            {
                Ok(rows) => rows,
                Err(error) => {
                    // The client reconnects with its Last-Event-ID and misses nothing.
                    tracing::error!(%error, stream = self.feed.name, "reading the events failed");
                    return None;
                }
            };
            if rows.is_empty() {
                // Woken by a writer here, or after `rescan` anyway: the rows are read again.
                let woken = tokio::time::timeout(self.slot.rescan, self.slot.woken.changed());
                if let Ok(Err(_)) = woken.await {
                    return None;
                }
            }
            self.pending.extend(rows);
        }
    }
}

/// Wakes this instance's streams with the events other instances commit: one connection per
/// instance `LISTEN`s on [`crate::db::EVENTS_CHANNEL`] (the writers `NOTIFY` in their
/// transactions, see [`crate::db::notify`]) and hands each `<key> <id>` to the [`Hub`]. When the
/// connection is lost, what was notified meanwhile is gone: once it is back, every open stream
/// reads its rows again. PostgreSQL only; runs until `shutdown`.
pub async fn listen(url: String, hub: Arc<Hub>, shutdown: CancellationToken) {
    let connect = async || {
        let mut listener = sqlx::postgres::PgListener::connect(&url).await?;
        listener.listen(crate::db::EVENTS_CHANNEL).await?;
        Ok::<_, sqlx::Error>(listener)
    };
    loop {
        let connected = tokio::select! {
            () = shutdown.cancelled() => return,
            connected = connect() => connected,
        };
        let mut listener = match connected {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(%error, "cannot listen for other instances' events; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        // Whatever was notified while no connection listened is gone: read the rows again.
        hub.nudge_all();
        loop {
            let received = tokio::select! {
                () = shutdown.cancelled() => return,
                received = listener.try_recv() => received,
            };
            match received {
                Ok(Some(notification)) => {
                    if let Some((key, id)) = notification.payload().rsplit_once(' ')
                        && let Ok(id) = id.parse()
                    {
                        hub.wake(key, id);
                    }
                }
                Ok(None) => {
                    tracing::warn!("lost the connection that hears other instances' events");
                    break;
                }
                Err(error) => {
                    tracing::error!(%error, "listening for other instances' events failed");
                    break;
                }
            }
        }
    }
}
