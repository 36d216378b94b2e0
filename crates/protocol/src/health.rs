//! Body of `GET /api/health`: the server and its database answer, and which version runs.

use serde::{Deserialize, Serialize};

/// Body of `GET /api/health` when every component answers (200). When one does not, the answer
/// is `503 unavailable` with the error envelope naming it, so a load balancer or a monitor sees
/// the failure from the status alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: HealthStatus,
    /// The server crate's version, e.g. `"0.1.0"`.
    pub version: String,
    pub database: ComponentStatus,
}

/// The server as a whole: `"ok"` (a server that is not is answered with the envelope).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
}

/// One component the server depends on: `"ok"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    Ok,
}
