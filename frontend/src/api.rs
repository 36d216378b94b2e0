//! The one door to the network: every request the page makes goes through here, typed on
//! `protocol`, and is recorded in the inspector (sent, first byte, done, outcome). Nothing else
//! in the page calls `fetch`, and no path string of the API is written outside this module.
//!
//! - The transports, each recording into the inspector: [`fetch`] (gloo-net's `fetch`; the error
//!   envelope turned into an [`ApiError`] carrying the server's own sentence), [`push`] (the
//!   browser's `EventSource`: pushed events as markers, reconnection with `Last-Event-ID`) and
//!   [`xhr`] (`XMLHttpRequest` with callbacks, for the Techniques room), and [`promise`]
//!   (`fetch` as a bare promise, for the Techniques room's promise chain).
//! - [`retry`]: when to try a failed request again (backoff with full jitter, `Retry-After`).
//! - One module per room with a typed function per endpoint: [`health`], [`lab`], [`mail`], [`search`], [`tasks`].

pub mod fetch;
pub mod health;
pub mod lab;
pub mod mail;
pub mod promise;
pub mod push;
pub mod retry;
pub mod search;
pub mod tasks;
pub mod xhr;

pub use fetch::{Answer, ApiError, Traced, error_from_answer};
pub use health::health;
