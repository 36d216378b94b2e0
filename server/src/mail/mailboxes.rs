//! `POST /api/mailboxes` (create one; its token is shown once; so many an hour per client
//! address) and `GET /api/mailboxes` (the addresses one can write to).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use protocol::mail::{
    DIRECTORY_MAX, Directory, DirectoryQuery, MailboxCreated, NAME_MAX, NewMailbox, is_mailbox_name,
};
use sqlx::AnyPool;

use crate::auth;
use crate::clients::{ClientAddress, Clients};
use crate::db::Reads;
use crate::db::now_ms;
use crate::error::{ApiError, ApiJson, ApiQuery, Result, is_unique_violation};

pub async fn create(
    State(db): State<AnyPool>,
    State(clients): State<Arc<Clients>>,
    client: ClientAddress,
    ApiJson(new): ApiJson<NewMailbox>,
) -> Result<(StatusCode, ApiJson<MailboxCreated>)> {
    new.validate()
        .map_err(|e| ApiError::Validation(e.to_string()))?;
    clients.new_credential(client)?;
    let token = auth::new_secret();
    sqlx::query("INSERT INTO mailboxes (name, token_hash, created_at_ms) VALUES ($1, $2, $3)")
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

/// `GET /api/mailboxes?q=`: see [`Directory`].
pub async fn directory(
    State(Reads(db)): State<Reads>,
    ApiQuery(query): ApiQuery<DirectoryQuery>,
) -> Result<ApiJson<Directory>> {
    let limit = DIRECTORY_MAX as i64;
    let addresses = match query.q.as_deref() {
        None | Some("") => {
            sqlx::query_scalar(
                "SELECT name FROM mailboxes
                 ORDER BY coalesce(active_at_ms, 0) DESC, created_at_ms DESC, name LIMIT $1",
            )
            .bind(limit)
            .fetch_all(&db)
            .await?
        }
        Some(start) if is_mailbox_name(start) => {
            // Every character a name may have sorts before `~`: the names that begin with
            // `start` are a range of the primary key.
            sqlx::query_scalar(
                "SELECT name FROM mailboxes WHERE name >= $1 AND name < $2 ORDER BY name LIMIT $3",
            )
            .bind(start)
            .bind(format!("{start}~"))
            .bind(limit)
            .fetch_all(&db)
            .await?
        }
        Some(_) => {
            return Err(ApiError::Validation(format!(
                "`q` is the start of a name: 1 to {NAME_MAX} of a-z, 0-9, _ and -."
            )));
        }
    };
    Ok(ApiJson(Directory { addresses }))
}
