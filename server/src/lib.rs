//! The Meanwhile server as a library: [`app`] builds the whole router from the state (the API
//! under `/api`, one module per room, and the built page everywhere else) so tests drive exactly
//! what the binary serves; [`serve`] runs it on a listener until a shutdown signal; [`run`] does
//! both from a [`config::Config`].

pub mod auth;
pub mod clients;
pub mod config;
pub mod connections;
pub mod db;
pub mod error;
pub mod health;
pub mod idempotency;
pub mod lab;
pub mod mail;
pub mod metrics;
pub mod page;
pub mod panel;
pub mod retention;
pub mod search;
pub mod state;
pub mod streams;
pub mod tasks;
pub mod telemetry;
pub mod timing;
pub mod tls;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::routing::any;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::{RequestBodyDeadlineLayer, TimeoutLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::config::Config;
pub use crate::connections::Connections;
use crate::metrics::MetricsAt;
use crate::page::PageFiles;
pub use crate::state::AppState;

/// The policy of every answer that does not bring its own (the page's `index.html` does): load
/// nothing, be framed nowhere. A JSON answer is never a document.
const DEFAULT_POLICY: HeaderValue =
    HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'");

/// The header that names the instance which answered (`--name`): behind a proxy that spreads
/// requests over several, a person sees which one served each.
pub const SERVED_BY: header::HeaderName = header::HeaderName::from_static("x-served-by");

/// Builds everything the server answers from the state:
/// - the API ([`api`]): each room's router merged at its full `/api/…` paths;
/// - the built page for every other path ([`page::router`]);
/// - around both, one log line per request and the headers of every answer: `nosniff`, a default
///   Content-Security-Policy unless it brings its own, and [`SERVED_BY`].
pub fn app(state: AppState) -> Router {
    let rooms = Router::new()
        .merge(health::router())
        .merge(lab::router(&state.lab_origins))
        .merge(mail::router())
        .merge(panel::router())
        .merge(search::router())
        .merge(tasks::router());
    let edge = ServiceBuilder::new()
        // Every request gets an id (a client's own when well formed), its answer carries it, and
        // so does its log line: a person finds a request of the inspector in the server's log.
        .map_request(telemetry::drop_malformed_request_id)
        .layer(SetRequestIdLayer::new(telemetry::REQUEST_ID, MakeRequestUuid))
        .layer(PropagateRequestIdLayer::new(telemetry::REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                // Method and path only: a query string is the client's business, not the log's.
                .make_span_with(|request: &Request<_>| {
                    let id = request
                        .headers()
                        .get(telemetry::REQUEST_ID)
                        .and_then(|id| id.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), id)
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(axum::middleware::from_fn(telemetry::log_abandoned))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            DEFAULT_POLICY,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            SERVED_BY,
            state.served_by.0.clone(),
        ));
    let mut app = api(rooms, state.request_timeout, state.body_timeout);
    if let Some(handle) = state.metrics.clone() {
        app = app.route("/metrics", metrics_route(handle, state.db.clone()));
    }
    app.fallback_service(page::router(state.page.clone()))
        .with_state(state)
        .layer(edge)
}

/// `routes` with what every API answer needs: a deadline (`408`, on the answer's head only: a
/// stream that has answered runs on), a deadline for the body to arrive (`408`: a body trickled
/// in a byte at a time is cut there), the body limit (`413`), a caught panic (`500`), a `404`
/// for any other `/api` path, and [`error::ensure_envelope`] outermost, so the answers those
/// layers and the router make (405, 408, 413) are the JSON envelope too.
pub fn api(routes: Router<AppState>, deadline: Duration, body: Duration) -> Router<AppState> {
    let layers = ServiceBuilder::new()
        .map_response(error::ensure_envelope)
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            deadline,
        ))
        .layer(RequestBodyDeadlineLayer::new(body))
        .layer(DefaultBodyLimit::max(
            protocol::limits::MAX_REQUEST_BODY_BYTES,
        ));
    routes
        .route("/api", any(error::api_not_found))
        .route("/api/", any(error::api_not_found))
        .route("/api/{*rest}", any(error::api_not_found))
        .layer(layers)
        // Outermost, so what they count is what the client gets (a 408 of the deadline too).
        .layer(axum::middleware::from_fn(timing::server_timing))
        .layer(axum::middleware::from_fn(metrics::track))
}

/// `GET /metrics` with its own state (the recorder and the database), for any router.
fn metrics_route<S: Clone + Send + Sync + 'static>(
    handle: metrics_exporter_prometheus::PrometheusHandle,
    db: sqlx::AnyPool,
) -> axum::routing::MethodRouter<S> {
    axum::routing::get(metrics::scrape).with_state(metrics::Scrape { handle, db })
}

/// Serves [`app`] on `listener`, with the clocks and the cap of `connections`, until `shutdown`
/// completes. Then, in this order: it stops
/// accepting connections and cancels `state.shutdown` (so event streams end themselves), lets the
/// requests in flight finish and waits for the background work in `state.tasks`, and returns —
/// or, if that takes longer than `grace`, returns anyway and logs what it cut short.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    connections: Connections,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let token = state.shutdown.clone();
    let tasks = state.tasks.clone();
    search::warm_up();
    tasks::start(&state);
    if db::Backend::of(&state.db) == db::Backend::Postgres {
        let url = state.db.connect_options().database_url.to_string();
        tasks.spawn(streams::listen(
            url,
            state.hub.clone(),
            state.shutdown.clone(),
        ));
    }
    tasks.spawn(retention::run(
        state.db.clone(),
        state.retention,
        state.clients.clone(),
        state.shutdown.clone(),
    ));
    let signalled = token.clone();
    let server = connections::serve(listener, app(state), connections, async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests and background work");
        signalled.cancel();
    });
    let finished = async {
        server.await;
        tasks.close();
        tasks.wait().await;
        Ok(())
    };
    let deadline = async {
        token.cancelled().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = finished => result,
        () = deadline => {
            tracing::warn!(
                background_tasks = tasks.len(),
                "requests or background work still running after {grace:?}; stopping anyway"
            );
            Ok(())
        }
    }
}

/// With TLS (`connections.tls`): serves [`app`] on `listener` too, speaking only HTTP/1.1 there,
/// as background work of `state` until it shuts down (`serve` waits for its connections to
/// finish). The Lab runs the same experiment against it and against the page's own port, over
/// HTTP/2; `state.lab_origins` says where both are. Its connections have the same clocks, and
/// count against the same caps when `connections` is a clone of the page's.
pub fn serve_http1_beside(listener: TcpListener, state: &AppState, connections: Connections) {
    let tls = connections.tls.as_deref().map(tls::http1_only);
    let connections = Connections { tls, ..connections };
    let stop = state.shutdown.clone().cancelled_owned();
    state.tasks.spawn(connections::serve(
        listener,
        app(state.clone()),
        connections,
        stop,
    ));
}

/// Opens the database, binds `config.addr`, and serves until SIGINT or SIGTERM.
pub async fn run(config: Config) -> startup::Result<()> {
    let db = db::open_for_start(&config.database).await?;
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|source| startup::Error::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr()?;
    if !config.dist.join("index.html").is_file() {
        tracing::warn!(
            dist = %config.dist.display(),
            "no built page here; the API works, the page will say it is not built"
        );
    }
    let mut connections = config.connections();
    let mut http1 = None;
    if let Some(certificate) = config.tls() {
        connections.tls = Some(tls::server_config(&certificate)?);
        let at = config
            .tls_http1_addr
            .unwrap_or(std::net::SocketAddr::new(addr.ip(), 0));
        let listener = TcpListener::bind(at)
            .await
            .map_err(|source| startup::Error::Bind { addr: at, source })?;
        http1 = Some(listener);
    }
    let scheme = if connections.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let name = config
        .name
        .clone()
        .unwrap_or_else(|| default_name(addr.port()));
    let shown = name.to_str().unwrap_or_default();
    tracing::info!(name = shown, database = %config.database, "Meanwhile is serving on {scheme}://{addr}");
    println!("Meanwhile is serving on {scheme}://{addr}");
    let http1_addr = http1.as_ref().map(TcpListener::local_addr).transpose()?;
    if let Some(http1_addr) = http1_addr {
        tracing::info!(
            "and speaking only HTTP/1.1, for the Lab's comparison, on https://{http1_addr}"
        );
    }
    let state = AppState {
        lab_origins: lab::Origins {
            page_port: http1_addr.map(|_| addr.port()),
            http1_port: http1_addr.map(|a| a.port()),
        },
        request_timeout: Duration::from_secs(config.request_timeout_secs),
        body_timeout: Duration::from_secs(config.body_timeout_secs),
        jobs: Arc::new(config.jobs()),
        retention: config.retention(),
        clients: Arc::new(config.clients()),
        served_by: state::ServedBy(name),
        metrics: (config.metrics == MetricsAt::Here).then(metrics::recorder),
        ..AppState::new(
            db.clone(),
            PageFiles::new(config.dist).also_connecting_to(http1_addr.map(|a| a.port())),
        )
    };
    if let MetricsAt::Address(metrics_addr) = config.metrics {
        let listener =
            TcpListener::bind(metrics_addr)
                .await
                .map_err(|source| startup::Error::Bind {
                    addr: metrics_addr,
                    source,
                })?;
        tracing::info!("metrics on http://{metrics_addr}/metrics");
        let router = Router::new().route("/metrics", metrics_route(metrics::recorder(), db));
        let stop = state.shutdown.clone().cancelled_owned();
        state.tasks.spawn(async move {
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::error!(%error, "serving /metrics failed");
            }
        });
    }
    if let Some(http1) = http1 {
        serve_http1_beside(http1, &state, connections.clone());
    }
    serve(
        listener,
        state,
        connections,
        shutdown_signal(),
        Duration::from_secs(config.shutdown_grace_secs),
    )
    .await?;
    tracing::info!("stopped");
    Ok(())
}

/// An instance's name when none is given: the machine's name and the port (`web-1:3000`), each
/// character a header cannot show as it is replaced by `-`.
fn default_name(port: u16) -> HeaderValue {
    let host: String = gethostname::gethostname()
        .to_string_lossy()
        .chars()
        .take(50)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    config::instance_name(&format!("{host}:{port}"))
        .unwrap_or_else(|_| HeaderValue::from_static("meanwhile"))
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

/// Why the server could not start.
pub mod startup {
    pub type Result<T> = std::result::Result<T, Error>;

    #[derive(Debug, thiserror::Error)]
    pub enum Error {
        #[error(transparent)]
        Database(#[from] crate::db::DbError),
        #[error("cannot listen on {addr}: {source} (is another server running there? try --addr)")]
        Bind {
            addr: std::net::SocketAddr,
            source: std::io::Error,
        },
        #[error(transparent)]
        Io(#[from] std::io::Error),
        #[error(transparent)]
        Tls(#[from] crate::tls::TlsError),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use protocol::{ErrorBody, ErrorCode};
    use tower::ServiceExt;

    use super::*;

    /// What the API layers make of the one route `/api/test`, answered by `handler`.
    async fn answer_of<H, T>(handler: H) -> (StatusCode, ErrorBody)
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        sqlx::any::install_default_drivers();
        // One connection: each opens an in-memory database of its own.
        let db = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("database");
        let state = AppState::new(db, PageFiles::new("no-page"));
        let routes = Router::new().route("/api/test", get(handler));
        let response = api(routes, Duration::from_millis(50), Duration::from_millis(50))
            .with_state(state)
            .oneshot(
                Request::get("/api/test")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .unwrap_or_else(|never| match never {});
        let status = response.status();
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}: {bytes:?}"));
        (status, body)
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_500_envelope_without_the_panic_message() {
        async fn panics() -> &'static str {
            panic!("secret detail")
        }
        let (status, body) = answer_of(panics).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body.error.code, ErrorCode::Internal);
        assert!(
            !body.error.message.contains("secret"),
            "{}",
            body.error.message
        );
    }

    #[tokio::test]
    async fn a_handler_past_the_deadline_is_a_408_envelope() {
        async fn dawdles() -> &'static str {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "too late"
        }
        let (status, body) = answer_of(dawdles).await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(body.error.code, ErrorCode::RequestTimeout);
    }

    #[tokio::test]
    async fn a_plain_error_answer_becomes_the_envelope_for_its_status() {
        async fn refuses() -> (StatusCode, &'static str) {
            (StatusCode::PAYLOAD_TOO_LARGE, "too big")
        }
        let (status, body) = answer_of(refuses).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body.error.code, ErrorCode::PayloadTooLarge);
    }
}
