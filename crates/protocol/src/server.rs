//! The server panel's stream, `GET /api/server/live`: what the instance holding it is doing, as
//! a `now` event every [`LIVE_INTERVAL_MS`] while the page keeps it open. The figures are the
//! same ones `/metrics` reports (one recording feeds both), read at that moment.

use serde::{Deserialize, Serialize};

/// The event each sample is pushed as.
pub const LIVE_EVENT: &str = "now";
/// How often a sample is pushed: four times a second.
pub const LIVE_INTERVAL_MS: u64 = 250;

/// One sample of what the server is doing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServerNow {
    /// The instance (its `X-Served-By`).
    pub instance: String,
    /// The async runtime's worker threads: every request waiting here waits on these few.
    pub threads: u64,
    /// Tasks alive on the runtime now (a waiting request is one, a stream another).
    pub tasks: u64,
    /// Requests being answered now, by the route they matched; most first. A stream counts
    /// until its head is sent, then among [`ServerNow::streams`].
    pub requests: Vec<Count>,
    /// Event streams open now, by kind; most first.
    pub streams: Vec<Count>,
    /// The Tasks room's workers here.
    pub workers: u64,
    /// The jobs they run now (at most one each).
    pub running: Vec<RunningJob>,
    /// Jobs waiting for a worker, in the whole queue (every instance's).
    pub jobs_waiting: u64,
    /// Writes waiting to begin their transaction: on SQLite, for the one writer connection.
    pub writes_waiting: u64,
    /// Connections open now, and how many may be.
    pub connections: u64,
    pub connections_max: u64,
}

impl ServerNow {
    /// Requests in flight, every route together.
    pub fn requests_in_flight(&self) -> u64 {
        self.requests.iter().map(|count| count.count).sum()
    }
}

/// How many of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub name: String,
    pub count: u64,
}

/// A job a worker runs now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningJob {
    pub id: String,
    /// Its kind, as `JobSpec::kind` names it.
    pub kind: String,
    /// From 0.0 to 1.0.
    pub progress: f64,
    /// How long it has run here.
    pub running_ms: u64,
}
