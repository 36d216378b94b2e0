//! The `Idempotency-Key` header of the writes a client retries (sending a message, submitting a
//! job): one key for every attempt of one request, so a retry after a lost answer gets the first
//! attempt's answer instead of doing the work twice. Each room keeps its keys beside what they
//! made, in the same transaction; this is what the rooms share: reading the header, and the hash
//! that tells "the same request again" from "another request under a used key".

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use protocol::mail::is_idempotency_key;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, Result};

/// The request header that names a write, the same on each of its retries.
pub const KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The header on an answer that is a replay: the first attempt's answer given again, the work
/// not done twice (the name some public APIs use for it). The page's inspector says so of the
/// request it answered.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// [`REPLAYED`] as a header of an answer.
pub fn replayed() -> [(HeaderName, HeaderValue); 1] {
    [(REPLAYED, HeaderValue::from_static("true"))]
}

/// The header when it is there; `400` when it is there and not 1–64 visible ASCII characters.
pub fn optional(headers: &HeaderMap) -> Result<Option<String>> {
    let Some(value) = headers.get(KEY) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|key| is_idempotency_key(key))
        .map(|key| Some(key.to_owned()))
        .ok_or_else(|| {
            ApiError::BadRequest(
                "`Idempotency-Key` must be 1 to 64 visible ASCII characters.".to_owned(),
            )
        })
}

/// The header, which this request must carry (`400` naming `what` without it).
pub fn required(headers: &HeaderMap, what: &str) -> Result<String> {
    optional(headers)?.ok_or_else(|| {
        ApiError::BadRequest(format!(
            "{what} needs an `Idempotency-Key` header: the same key on every retry."
        ))
    })
}

/// What a key's row keeps of the request: the SHA-256 of its body as JSON.
pub fn request_hash(body: &impl serde::Serialize) -> Vec<u8> {
    Sha256::digest(serde_json::to_vec(body).unwrap_or_default()).to_vec()
}
