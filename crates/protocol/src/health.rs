//! Body of `GET /api/health`: whether the server and its database are up, and which version runs.

use serde::{Deserialize, Serialize};

/// Body of `GET /api/health` (200 when everything is up, 503 when a component is down).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: HealthStatus,
    /// The server crate's version, e.g. `"0.1.0"`.
    pub version: String,
    pub database: ComponentStatus,
}

/// The server as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Every component answers.
    Ok,
    /// The server answers but a component does not.
    Degraded,
}

/// One component the server depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    Ok,
    Unavailable,
}
