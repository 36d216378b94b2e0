//! Credentials, one mechanism for every room that has them: a token is 256 random bits, shown
//! once, kept only as its SHA-256, and sent as `Authorization: Bearer <token>` (never in a URL,
//! which ends up in logs). [`Mailbox`] is the mailbox a token opens (Mail), [`JobOwner`] the
//! owner of jobs (Tasks). An `EventSource` cannot send headers, so a stream is opened with a
//! single-use [`Ticket`] asked for with the token.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use sqlx::AnyPool;

use crate::db::{Reads, now_ms};
use crate::error::{ApiError, Result};

/// A new secret: 32 random bytes from the operating system's generator, URL-safe base64.
pub fn new_secret() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// What the database keeps of a secret.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Who holds the bearer token of `parts`: `lookup` selects the holder's name by the token's hash.
/// `401` saying `needs` when there is no token, `unknown` when it opens nothing.
async fn holder(
    parts: &Parts,
    reads: &AnyPool,
    lookup: &'static str,
    needs: &str,
    unknown: &str,
) -> Result<String> {
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| ApiError::Unauthorized(needs.to_owned()))?;
    // Looked up by its hash: the comparison is the index's, on a value an attacker cannot steer
    // towards a stored one.
    let name: Option<String> = sqlx::query_scalar(lookup)
        .bind(hash(token))
        .fetch_optional(reads)
        .await?;
    name.ok_or_else(|| ApiError::Unauthorized(unknown.to_owned()))
}

/// The mailbox whose token the request carries; `401` when there is none or it opens nothing.
#[derive(Debug, Clone)]
pub struct Mailbox(pub String);

impl<S> FromRequestParts<S> for Mailbox
where
    Reads: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Reads(reads) = Reads::from_ref(state);
        holder(
            parts,
            &reads,
            "SELECT name FROM mailboxes WHERE token_hash = $1",
            "This needs your mailbox's token: `Authorization: Bearer <token>`.",
            "That token opens no mailbox.",
        )
        .await
        .map(Self)
    }
}

/// The owner of jobs whose token the request carries (from `POST /api/jobs/owners`); `401` when
/// there is none or it is unknown.
#[derive(Debug, Clone)]
pub struct JobOwner(pub String);

impl<S> FromRequestParts<S> for JobOwner
where
    Reads: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Reads(reads) = Reads::from_ref(state);
        holder(
            parts,
            &reads,
            "SELECT owner FROM job_owners WHERE token_hash = $1",
            "Jobs need their owner's token: `Authorization: Bearer <token>` \
             (a new one from POST /api/jobs/owners).",
            "That token is no owner's: ask for a new one (POST /api/jobs/owners).",
        )
        .await
        .map(Self)
    }
}

/// Which stream a ticket opens: the table that keeps it and the column naming whose stream.
#[derive(Debug, Clone, Copy)]
pub enum Ticket {
    /// `GET /api/events`: a mailbox's.
    Mail,
    /// `GET /api/jobs/events`: an owner's jobs'.
    Jobs,
}

impl Ticket {
    /// How long a ticket may wait to be used.
    pub const TTL_MS: i64 = protocol::mail::TICKET_TTL_MS;

    fn table(self) -> (&'static str, &'static str) {
        match self {
            Self::Mail => ("event_tickets", "mailbox"),
            Self::Jobs => ("job_event_tickets", "owner"),
        }
    }

    /// A new ticket for `holder`'s stream, and when it expires. Used tickets are deleted when
    /// used ([`Ticket::spend`]), expired ones by the pruning (`retention.rs`).
    pub async fn issue(self, db: &AnyPool, holder: &str) -> Result<(String, i64)> {
        let (table, column) = self.table();
        let ticket = new_secret();
        let expires_at_ms = now_ms() + Self::TTL_MS;
        sqlx::query(&format!(
            "INSERT INTO {table} (ticket_hash, {column}, expires_at_ms) VALUES ($1, $2, $3)"
        ))
        .bind(hash(&ticket))
        .bind(holder)
        .bind(expires_at_ms)
        .execute(db)
        .await?;
        Ok((ticket, expires_at_ms))
    }

    /// Whose stream `ticket` opens, if it is known and not expired (it is not spent).
    async fn holder(self, db: &AnyPool, ticket: &str) -> Result<String> {
        let (table, column) = self.table();
        let holder: Option<String> = sqlx::query_scalar(&format!(
            "SELECT {column} FROM {table} WHERE ticket_hash = $1 AND expires_at_ms > $2"
        ))
        .bind(hash(ticket))
        .bind(now_ms())
        .fetch_optional(db)
        .await?;
        holder.ok_or_else(|| self.unknown())
    }

    /// Opens a stream with `ticket`: whose it is, then the places `take_places` takes for the
    /// stream (a client's and a key's, given back when the stream ends), and only then the ticket
    /// is spent — so a stream refused for now (`429`) keeps its ticket for the retry.
    pub async fn redeem<P>(
        self,
        db: &AnyPool,
        ticket: &str,
        take_places: impl FnOnce(&str) -> Result<P>,
    ) -> Result<(String, P)> {
        let holder = self.holder(db, ticket).await?;
        let places = take_places(&holder)?;
        self.spend(db, ticket).await?;
        Ok((holder, places))
    }

    /// Uses `ticket` up; `401` if another request used it in the meantime.
    async fn spend(self, db: &AnyPool, ticket: &str) -> Result<()> {
        let (table, _) = self.table();
        let spent = sqlx::query(&format!("DELETE FROM {table} WHERE ticket_hash = $1"))
            .bind(hash(ticket))
            .execute(db)
            .await?;
        if spent.rows_affected() == 0 {
            return Err(self.unknown());
        }
        Ok(())
    }

    fn unknown(self) -> ApiError {
        let ask = match self {
            Self::Mail => "POST /api/events/ticket",
            Self::Jobs => "POST /api/jobs/events/ticket",
        };
        ApiError::Unauthorized(format!(
            "That ticket is unknown, used or expired: ask for a new one ({ask})."
        ))
    }
}
