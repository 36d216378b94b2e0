//! Tokens and tickets: 256 random bits, shown once, kept only as their SHA-256; and the
//! [`Owner`] extractor that turns `Authorization: Bearer <token>` into the mailbox it opens.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::db::Reads;
use crate::error::ApiError;

/// A new secret: 32 random bytes from the operating system's generator, URL-safe base64.
pub fn new_secret() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// What the database keeps of a secret.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The mailbox whose token the request carries; `401` when there is none or it opens nothing.
#[derive(Debug, Clone)]
pub struct Owner(pub String);

impl<S> FromRequestParts<S> for Owner
where
    Reads: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "This needs your mailbox's token: `Authorization: Bearer <token>`.".to_owned(),
                )
            })?;
        let Reads(db) = Reads::from_ref(state);
        // Looked up by its hash: the comparison is the index's, on a value an attacker cannot
        // steer towards a stored one.
        let name: Option<String> =
            sqlx::query_scalar("SELECT name FROM mailboxes WHERE token_hash = ?")
                .bind(hash(token))
                .fetch_optional(&db)
                .await?;
        name.map(Owner)
            .ok_or_else(|| ApiError::Unauthorized("That token opens no mailbox.".to_owned()))
    }
}
