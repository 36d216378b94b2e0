//! The Meanwhile server as a library: [`app`] builds the whole router from the state (the API
//! under `/api`, the built page everywhere else) so tests drive exactly what the binary serves;
//! [`serve`] runs it on a listener until a shutdown signal; [`run`] does both from a
//! [`config::Config`].

pub mod config;
pub mod db;
pub mod edge;
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
use axum::routing::any;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower::make::Shared;
use tower_http::catch_panic::CatchPanicLayer;

use crate::config::Config;
use crate::page::PageFiles;
pub use crate::state::AppState;

/// Everything the server answers: `/api/*` (JSON, errors always in the envelope) and, for every
/// other path, the built page in `dist`.
pub type App = edge::Edge<guard::ApiGuard<Router>>;

/// Builds [`App`]: one flat router (no `nest`, which rewrites every request's URI) with the two
/// layers outside it, so they run once per request instead of being boxed and cloned per route:
/// - [`edge`]: around everything, the security headers and one log line per request at info;
/// - [`guard`]: around every `/api` path, including the catch-all 404 and the router's own 405s,
///   a deadline, a caught panic, and the envelope for errors made outside our handlers. (Bodies
///   are limited where they are read: `ApiJson`.)
///
/// This keeps a 0-delay echo close to bare hyper (`cargo xtask bench`).
pub fn app(state: AppState) -> App {
    let api_guard = guard::ApiGuardLayer::new(state.request_timeout);
    let page =
        page::router(state.page.clone()).layer(CatchPanicLayer::custom(error::panic_response));
    let router = routes::router()
        // Any other /api path is a 404 envelope, never the page.
        .route("/api", any(error::api_not_found))
        .route("/api/", any(error::api_not_found))
        .route("/api/{*rest}", any(error::api_not_found))
        .with_state(state)
        .fallback_service(page);
    ServiceBuilder::new()
        .layer(edge::EdgeLayer)
        .layer(api_guard)
        .service(router)
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
    let server = axum::serve(listener, Shared::new(router)).with_graceful_shutdown(async move {
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
