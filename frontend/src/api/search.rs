//! The Search room's endpoint: `GET /api/search`.

use gloo_net::http::Method;
use protocol::search::{SearchQuery, SearchResults};
use web_sys::AbortSignal;

use super::fetch::{self, Call, Traced};

/// `GET /api/search?q=&limit=&offset=&delay_ms=`: one page of the characters matching `query`.
/// `strategy` is how the page treats answers that come out of order, for the inspector.
pub async fn search(
    query: &SearchQuery,
    abort: Option<&AbortSignal>,
    strategy: String,
) -> Traced<SearchResults> {
    let mut pairs = vec![("q", query.q.clone())];
    pairs.extend(query.limit.map(|limit| ("limit", limit.to_string())));
    pairs.extend(query.offset.map(|offset| ("offset", offset.to_string())));
    pairs.extend(query.delay_ms.map(|delay| ("delay_ms", delay.to_string())));
    let mut call = Call::new(Method::GET, "/api/search")
        .abort(abort)
        .strategy(strategy);
    call.query = pairs;
    fetch::send(call).await
}
