//! The Search room on the server: `GET /api/search`, a typeahead over every named Unicode
//! character. [`index`] holds the characters and ranks a query; [`routes`] parses and answers.

mod index;
mod routes;

use std::time::Instant;

use axum::Router;
use axum::routing::get;
use tokio::sync::OnceCell;

pub use index::{Found, Index};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/search", get(routes::search_show))
}

/// The index: built from data compiled into the server, so one per process, shared by every
/// server in it (the tests start many).
static INDEX: OnceCell<Index> = OnceCell::const_new();

/// The index, building it first if nobody has (on a blocking thread: it is CPU work). The server
/// starts building it as it starts ([`warm_up`]); a search that comes before it is ready waits.
pub async fn index() -> &'static Index {
    INDEX
        .get_or_init(|| async {
            let started = Instant::now();
            let index = tokio::task::spawn_blocking(Index::build)
                .await
                .unwrap_or_else(|_| Index::build());
            tracing::info!(
                characters = index.len(),
                ms = started.elapsed().as_millis() as u64,
                "search index built"
            );
            index
        })
        .await
}

/// Builds the index in the background, so the first search does not wait for it and no other
/// route does either.
pub fn warm_up() {
    tokio::spawn(index());
}
