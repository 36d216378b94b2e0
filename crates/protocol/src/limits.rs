//! Limits shared by both sides: the server rejects what exceeds them, the page never sends it.

/// Largest request body any `/api` endpoint accepts, in bytes (64 KiB). Larger bodies get
/// `413 payload_too_large`.
pub const MAX_REQUEST_BODY_BYTES: usize = 64 * 1024;

/// How long, by default, the server works on one ordinary (non-streaming) request before it
/// answers `408 request_timeout`, in milliseconds. Long-lived streams are not subject to it.
pub const REQUEST_TIMEOUT_MS: u64 = 60_000;
