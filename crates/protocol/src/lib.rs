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
pub mod server;

/// The event that opens each of Mail's and Tasks' event streams, with the `retry:` hint: its data
/// is the name of the server instance holding the stream (what the `X-Served-By` header says of
/// an ordinary answer, which an `EventSource` cannot read). It has no id: it never moves
/// `Last-Event-ID`.
pub const SERVED_BY_EVENT: &str = "served-by";

pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use health::{ComponentStatus, Health, HealthStatus};
