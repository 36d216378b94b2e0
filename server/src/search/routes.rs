//! `GET /api/search?q=&limit=&offset=&delay_ms=`: validate, wait if asked to (so the page can
//! make races happen), search, answer with the page of results and the server's time.
//!
//! A search is CPU work of up to a few milliseconds (a query of many common letters): it runs on
//! a blocking thread, and no more of them at once than the machine has cores less one, so a
//! flood of costly queries waits its turn here instead of taking the threads and the cores that
//! answer everything else.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use protocol::search::{SearchQuery, SearchResults};
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiJson, ApiQuery, Result};

/// Searches that may run at once: a core is always left to the rest of the server.
static SEARCHING: LazyLock<Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    Semaphore::new(cores.saturating_sub(1).max(1))
});

pub async fn search_show(ApiQuery(query): ApiQuery<SearchQuery>) -> Result<ApiJson<SearchResults>> {
    let query = query
        .validate()
        .map_err(|e| ApiError::Validation(e.to_string()))?;
    if query.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(u64::from(query.delay_ms))).await;
    }
    let index = super::index().await;
    let _turn = SEARCHING
        .acquire()
        .await
        .map_err(|_| ApiError::Unavailable("The server is shutting down.".to_owned()))?;
    let (q, offset, limit) = (query.q.clone(), query.offset, query.limit);
    let (found, took) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        (index.search(&q, offset, limit), started.elapsed())
    })
    .await
    .map_err(|error| ApiError::Internal(format!("a search did not finish: {error}")))?;
    let took_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    Ok(ApiJson(SearchResults {
        query: query.q,
        total: found.total,
        took_us,
        items: found.items,
    }))
}
