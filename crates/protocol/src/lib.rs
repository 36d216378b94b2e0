//! The wire contract of Meanwhile: every request body, response body, pushed event and error body
//! that crosses between the page (`frontend`) and the server, with the limits both sides enforce.
//!
//! This crate depends on serde and nothing else, so it builds for `wasm32-unknown-unknown` and
//! native alike. It knows nothing of HTTP status codes, storage or time: those belong to the server.

pub mod error;
pub mod health;
pub mod jobs;
pub mod lab;
pub mod limits;
pub mod mail;
pub mod search;

pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use health::{ComponentStatus, Health, HealthStatus};
