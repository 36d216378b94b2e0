//! `GET /api/search?q=&limit=&offset=&delay_ms=`: validate, wait if asked to (so the page can
//! make races happen), search, answer with the page of results and the server's time.

use std::time::{Duration, Instant};

use protocol::search::{SearchQuery, SearchResults};

use crate::error::{ApiError, ApiJson, ApiQuery, Result};

pub async fn search_show(ApiQuery(query): ApiQuery<SearchQuery>) -> Result<ApiJson<SearchResults>> {
    let query = query
        .validate()
        .map_err(|e| ApiError::Validation(e.to_string()))?;
    if query.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(u64::from(query.delay_ms))).await;
    }
    let index = super::index().await;
    let started = Instant::now();
    let found = index.search(&query.q, query.offset, query.limit);
    let took_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    Ok(ApiJson(SearchResults {
        query: query.q,
        total: found.total,
        took_us,
        items: found.items,
    }))
}
