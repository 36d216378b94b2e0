//! `POST /api/mailboxes` (create one; its token is shown once) and `GET /api/mailboxes` (the
//! addresses one can write to).

use axum::extract::State;
use axum::http::StatusCode;
use protocol::mail::{Directory, MailboxCreated, NewMailbox};
use sqlx::SqlitePool;

use super::auth;
use crate::db::Reads;
use crate::db::now_ms;
use crate::error::{ApiError, ApiJson, Result, is_unique_violation};

/// How many addresses the directory lists.
const DIRECTORY_SIZE: i64 = 200;

pub async fn create(
    State(db): State<SqlitePool>,
    ApiJson(new): ApiJson<NewMailbox>,
) -> Result<(StatusCode, ApiJson<MailboxCreated>)> {
    new.validate()
        .map_err(|e| ApiError::Validation(e.to_string()))?;
    let token = auth::new_secret();
    sqlx::query("INSERT INTO mailboxes (name, token_hash, created_at_ms) VALUES (?, ?, ?)")
        .bind(&new.name)
        .bind(auth::hash(&token))
        .bind(now_ms())
        .execute(&db)
        .await
        .map_err(|error| {
            if is_unique_violation(&error) {
                ApiError::Conflict(format!("The name “{}” is taken; choose another.", new.name))
            } else {
                error.into()
            }
        })?;
    Ok((
        StatusCode::CREATED,
        ApiJson(MailboxCreated {
            address: new.name,
            token,
        }),
    ))
}

pub async fn directory(State(Reads(db)): State<Reads>) -> Result<ApiJson<Directory>> {
    let addresses =
        sqlx::query_scalar("SELECT name FROM mailboxes ORDER BY created_at_ms DESC, name LIMIT ?")
            .bind(DIRECTORY_SIZE)
            .fetch_all(&db)
            .await?;
    Ok(ApiJson(Directory { addresses }))
}
