//! The Meanwhile server as a library: [`app`] builds the whole router from the state (the API
//! under `/api`, the built page everywhere else) so tests drive exactly what the binary serves;
//! [`serve`] runs it on a listener until a shutdown signal; [`run`] does both from a
//! [`config::Config`].

pub mod config;
pub mod db;
pub mod error;
pub mod guard;
pub mod lab;
pub mod page;
pub mod routes;
pub mod state;
pub mod telemetry;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::any;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::config::Config;
use crate::page::PageFiles;
pub use crate::state::AppState;

/// Everything the server answers: `/api/*` (JSON, errors always in the envelope) and, for every
/// other path, the built page in `dist`.
///
/// One flat router (no `nest`, which rewrites every request's URI), with each group of
/// middleware applied as one `ServiceBuilder` stack: every `Router::layer` call boxes the routes
/// again, and each box is cloned per request. This keeps a 0-delay echo close to bare hyper.
pub fn app(state: AppState) -> Router {
    // Around every /api route, including the catch-all 404 and the router's own 405s: a deadline
    // (streams, added per room, will be routed outside it), a caught panic, errors made by a
    // layer turned into the envelope. (Bodies are limited where they are read: `ApiJson`.)
    let api_layers = guard::ApiGuardLayer::new(state.request_timeout);
    // Around everything: one log line per request at info (method, path, status, latency) and
    // the security headers.
    let outer_layers = ServiceBuilder::new()
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ));
    let page =
        page::router(state.page.clone()).layer(CatchPanicLayer::custom(error::panic_response));

    routes::router()
        // Any other /api path is a 404 envelope, never the page.
        .route("/api", any(error::api_not_found))
        .route("/api/", any(error::api_not_found))
        .route("/api/{*rest}", any(error::api_not_found))
        .route_layer(api_layers)
        .with_state(state)
        .fallback_service(page)
        .layer(outer_layers)
}

/// Serves [`app`] on `listener` until `shutdown` completes; then stops accepting, lets in-flight
/// requests finish for up to `grace`, tells streams to end (via `state.shutdown`), and returns.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let token = state.shutdown.clone();
    let router = app(state);
    let signalled = token.clone();
    let server = axum::serve(listener, router).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
        signalled.cancel();
    });
    let deadline = async {
        token.cancelled().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!("requests still open after {grace:?}; closing them");
            Ok(())
        }
    }
}

/// Opens the database, binds `config.addr`, and serves until SIGINT or SIGTERM.
pub async fn run(config: Config) -> startup::Result<()> {
    let db = db::connect(&config.database).await?;
    db::record_start(&db, env!("CARGO_PKG_VERSION")).await?;
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
    tracing::info!("Meanwhile is serving on http://{addr}");
    println!("Meanwhile is serving on http://{addr}");
    serve(
        listener,
        AppState {
            request_timeout: Duration::from_secs(config.request_timeout_secs),
            ..AppState::new(db, PageFiles::new(config.dist))
        },
        shutdown_signal(),
        Duration::from_secs(config.shutdown_grace_secs),
    )
    .await?;
    tracing::info!("stopped");
    Ok(())
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
        #[error("cannot record the start in the database: {0}")]
        Record(#[from] sqlx::Error),
        #[error("cannot listen on {addr}: {source} (is another server running there? try --addr)")]
        Bind {
            addr: std::net::SocketAddr,
            source: std::io::Error,
        },
        #[error(transparent)]
        Io(#[from] std::io::Error),
    }
}
