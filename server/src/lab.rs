//! The Lab room on the server: a slow, sometimes failing echo (`GET|POST /api/lab/echo`), its
//! counters (`GET /api/lab/stats`), a server-sent countdown (`GET /api/lab/ticks`), and where
//! else the server listens for the Lab's comparison of the protocols (`GET /api/lab/origins`).
//! [`routes`] parses and answers; [`echo`] does the work; [`ticks`] is the stream.

mod echo;
mod routes;
mod ticks;

use std::time::Duration;

use axum::Router;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::Response;
use axum::routing::get;
use protocol::lab::LabOrigins;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

pub use echo::{Echoed, Lab};

use crate::state::AppState;

pub fn router(origins: &Origins) -> Router<AppState> {
    Router::new()
        .route(
            "/api/lab/echo",
            get(routes::echo_query)
                .post(routes::echo_body)
                .layer(origins.cors())
                .layer(axum::middleware::map_response(timing_allowed)),
        )
        .route("/api/lab/origins", get(routes::origins_show))
        .route("/api/lab/stats", get(routes::stats_show))
        .route("/api/lab/ticks", get(ticks::ticks_show))
}

/// Where the server listens besides the page's address, for the Lab's comparison of HTTP/1.1 and
/// HTTP/2 (`--tls`): the page's port (over TLS, HTTP/2) and the port speaking only HTTP/1.1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Origins {
    pub page_port: Option<u16>,
    pub http1_port: Option<u16>,
}

impl Origins {
    /// What the page is told (`GET /api/lab/origins`).
    pub fn shown(self) -> LabOrigins {
        let http1_port = self.http1_port.filter(|_| self.page_port.is_some());
        LabOrigins {
            http1_port,
            http2_streams: http1_port.map(|_| crate::connections::HTTP2_STREAMS),
        }
    }

    /// Lets the page on the server's TLS port fetch the echo from the HTTP/1.1 port (another
    /// origin: another port): CORS (tower-http's) for an origin on the same host as the request
    /// and the page's port, its answer's headers readable, and `Timing-Allow-Origin` for the same
    /// origin, so the browser's resource timing of the echo (its wait for a connection, its
    /// protocol) is not zeroed. Without `--tls`, no origin is let in.
    fn cors(self) -> CorsLayer {
        let page_port = self.page_port.filter(|_| self.http1_port.is_some());
        let allowed = move |origin: &HeaderValue, request: &Parts| {
            let Some(port) = page_port else {
                return false;
            };
            crate::page::request_host(&request.uri, &request.headers).is_some_and(|host| {
                origin.as_bytes() == format!("https://{host}:{port}").as_bytes()
            })
        };
        CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(allowed))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE, crate::idempotency::KEY])
            .expose_headers(Any)
            .max_age(Duration::from_secs(600))
    }
}

/// `Timing-Allow-Origin` for whom the answer is allowed (its `Access-Control-Allow-Origin`).
async fn timing_allowed(mut response: Response) -> Response {
    if let Some(origin) = response
        .headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .cloned()
    {
        response
            .headers_mut()
            .insert(HeaderName::from_static("timing-allow-origin"), origin);
    }
    response
}
