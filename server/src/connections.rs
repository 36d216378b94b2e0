//! The connection layer: how long a client may take, and how many may be connected at once.
//!
//! `axum::serve` has no clocks and no cap (its hyper builder is not configurable), so the server
//! accepts connections itself and hands each to hyper's HTTP/1 connection builder — the loop of
//! axum's `serve-with-hyper` example, with hyper's and hyper-util's own settings:
//! - **a slow or idle client**: hyper's `header_read_timeout` closes a connection that has not sent
//!   a whole request head within [`Connections::header_timeout`]. Its clock starts when the
//!   connection opens and again when an answer has been sent, so the same deadline closes an idle
//!   keep-alive connection (hyper has one clock for both);
//! - **a client that stops reading**: each socket is wrapped in `tokio-io-timeout`'s
//!   `TimeoutStream`, so a write that cannot make progress for [`Connections::write_timeout`]
//!   fails and hyper drops the connection, its answer and the buffers with it (an event stream
//!   too). A slow reader that keeps reading is not cut: the clock restarts with every write.
//!   An answer hyper holds whole (the echo's) is bounded sooner: once hyper has taken all of it,
//!   it waits for the next request head, so the header clock closes the connection of a client
//!   that has not read it within [`Connections::header_timeout`];
//! - **too many clients**: past [`Connections::max_connections`] a new connection is answered
//!   `503 unavailable` (the JSON envelope, `Retry-After: 1`, `Connection: close`) and closed,
//!   while the open ones go on being served;
//! - **one client holding too many**: past [`Connections::max_per_address`] from one address
//!   (`clients::PerAddress`), its new connection is answered `429 too_many_requests` the same way,
//!   so one client cannot take the places every other needs;
//! - **who the client is**: each request carries the connection's peer address as axum's
//!   `ConnectInfo<SocketAddr>`, which `clients::ClientAddress` reads;
//! - **a reset on purpose**: each request also carries a [`ResetConnection`], with which the
//!   Lab's `reset` fault closes its connection with a TCP RST ([`Resettable`]); over HTTP/2 it
//!   answers [`ResetStream`] instead, and hyper resets that request's stream alone;
//! - **a half-close**: with [`Connections::half_close`], hyper answers a request whose client
//!   has shut its sending side (`shutdown(SHUT_WR)`) after it. Off by default: at the TCP level a
//!   half-close looks exactly like a client that went away, and with it on hyper stops watching
//!   for either — a request abandoned by its browser (a cancelled echo, a closed event stream)
//!   would run to its end instead of being dropped, counted and logged at once.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, header};
use axum::response::IntoResponse;
use axum::serve::Listener;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tower::ServiceExt;

use crate::clients::{ClientAddress, PerAddress};
use crate::error::ApiError;
use crate::metrics::InFlight;

/// The clocks and the cap; [`Default`] is what the binary uses without flags.
#[derive(Debug, Clone)]
pub struct Connections {
    /// How long a connection may take to send a request's head, counted from when it opens or
    /// its previous answer was sent (so also how long an idle keep-alive connection stays open).
    pub header_timeout: Duration,
    /// How long a write may wait for a client that does not read before the connection is
    /// dropped.
    pub write_timeout: Duration,
    /// How many connections may be open at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// How many of them one address may hold; more from it are answered 429 and closed.
    pub max_per_address: usize,
    /// Answer a request whose client half-closed the connection after sending it, at the cost
    /// of no longer noticing clients that went away before their answer.
    pub half_close: bool,
    /// Serve over TLS, HTTP/1.1 and HTTP/2 on the one port ([`crate::tls`]).
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    /// The connections held against the two caps: every listener served with clones of these
    /// limits counts against the same caps (with `--tls`, the port speaking only HTTP/1.1 too).
    pub held: Held,
}

/// What the caps count, made when first served (with the limits then set).
#[derive(Debug, Clone, Default)]
pub struct Held(Arc<OnceLock<Counted>>);

#[derive(Debug)]
struct Counted {
    open: Arc<Semaphore>,
    per_address: Arc<PerAddress>,
}

impl Default for Connections {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            max_per_address: 256,
            half_close: false,
            tls: None,
            held: Held::default(),
        }
    }
}

/// How often HTTP/2 pings a quiet connection, and how long it waits for the answer.
const HTTP2_PING: Duration = Duration::from_secs(20);
/// Requests one HTTP/2 connection may carry at once (more wait for a stream). Each is a task and
/// a connection's worth of memory; with the cap on connections per address, one address may have
/// at most this many times that many requests in flight.
pub const HTTP2_STREAMS: u32 = 256;

/// How long a connection refused at the cap may take to send the request it is refused.
const REFUSAL_HEADER_TIMEOUT: Duration = Duration::from_secs(1);

/// Accepts connections on `listener` and serves `router` on each until `shutdown` completes;
/// then stops accepting, lets every open connection finish its answer (idle ones are closed),
/// and returns when the last one has.
pub async fn serve(
    mut listener: TcpListener,
    router: Router,
    limits: Connections,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .half_close(limits.half_close);
    // Over TLS: HTTP/1.1 with the same clock, or HTTP/2 (which the client chose by ALPN), with
    // HTTP/2's own: a ping when a connection is quiet, and a cap on its concurrent streams.
    let mut secure = auto::Builder::new(TokioExecutor::new());
    secure
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .half_close(limits.half_close);
    secure
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(HTTP2_PING))
        .keep_alive_timeout(HTTP2_PING)
        .max_concurrent_streams(HTTP2_STREAMS);
    let acceptor = limits.tls.clone().map(TlsAcceptor::from);
    let mut refusing = http1::Builder::new();
    refusing
        .timer(TokioTimer::new())
        .header_read_timeout(REFUSAL_HEADER_TIMEOUT)
        .half_close(limits.half_close)
        .keep_alive(false);

    let held = limits.held.0.get_or_init(|| Counted {
        open: Arc::new(Semaphore::new(limits.max_connections)),
        per_address: Arc::new(PerAddress::new(limits.max_per_address)),
    });
    let (open, per_address) = (Arc::clone(&held.open), Arc::clone(&held.per_address));
    metrics::gauge!("meanwhile_connections_max").set(limits.max_connections as f64);
    let graceful = GracefulShutdown::new();
    // Logged once each time the cap is reached, not once per refused connection: a client must
    // not be able to fill the log at will.
    let mut at_cap = false;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // axum's `Listener` retries what `accept` may fail with (a reset, too many open files).
        let (stream, remote) = tokio::select! {
            accepted = Listener::accept(&mut listener) => accepted,
            () = shutdown.as_mut() => break,
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let mut stream = TimeoutStream::new(stream);
        stream.set_write_timeout(Some(limits.write_timeout));
        let reset = ResetConnection::default();
        let socket = Resettable::new(stream, &reset);

        let Some(held) = per_address.enter(ClientAddress::of(remote.ip()).0) else {
            refuse(
                &refusing,
                acceptor.is_none().then_some(socket),
                too_many_from_one,
            );
            continue;
        };
        match open.clone().try_acquire_owned() {
            Ok(permit) => {
                at_cap = false;
                let service = TowerToHyperService::new(
                    router
                        .clone()
                        .map_request(move |mut request: Request<hyper::body::Incoming>| {
                            let extensions = request.extensions_mut();
                            extensions.insert(ConnectInfo::<SocketAddr>(remote));
                            extensions.insert(reset.clone());
                            request
                        })
                        .map_result(ResetStream::from_answer),
                );
                let counted = InFlight::new(metrics::gauge!("meanwhile_connections_open"));
                let Some(acceptor) = acceptor.clone() else {
                    let io = TokioIo::new(socket);
                    let connection = graceful.watch(builder.serve_connection(io, service));
                    tokio::spawn(async move {
                        if let Err(error) = connection.await {
                            tracing::debug!(%error, "connection ended with an error");
                        }
                        drop((permit, held, counted));
                    });
                    continue;
                };
                let (secure, watcher) = (secure.clone(), graceful.watcher());
                let handshake = limits.header_timeout;
                tokio::spawn(async move {
                    // The handshake is on the same clock as a request's head.
                    match tokio::time::timeout(handshake, acceptor.accept(socket)).await {
                        Ok(Ok(tls)) => {
                            let io = TokioIo::new(tls);
                            let connection = secure.serve_connection_with_upgrades(io, service);
                            if let Err(error) = watcher.watch(connection.into_owned()).await {
                                tracing::debug!(%error, "connection ended with an error");
                            }
                        }
                        Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake too slow"),
                    }
                    drop((permit, held, counted));
                });
            }
            Err(_) => {
                if !at_cap {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "refusing new connections: as many are open as allowed"
                    );
                    at_cap = true;
                }
                drop(held);
                refuse(&refusing, acceptor.is_none().then_some(socket), server_full);
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Lets a request reset the connection it came on (a TCP RST, as a crashed server or a
/// middlebox sends): in each request's extensions. The Lab's `reset` fault uses it.
#[derive(Debug, Clone, Default)]
pub struct ResetConnection(CancellationToken);

impl ResetConnection {
    /// Resets the connection at once; the request's answer is never sent.
    pub fn reset(&self) {
        self.0.cancel();
    }
}

/// An answer that is to be none: the connection layer fails the request instead of answering
/// it, and hyper's HTTP/2 then resets its stream (`RST_STREAM`, `INTERNAL_ERROR`) while the
/// connection's other requests go on. The Lab's `reset` fault over HTTP/2. (Over HTTP/1.1 hyper
/// would close the whole connection: that is what [`ResetConnection`] is for.)
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the answer was to be a reset stream")]
pub struct ResetStream;

impl ResetStream {
    /// The answer that says so: a 500 envelope (what the log and the metrics count) carrying
    /// [`ResetStream`].
    pub fn answer() -> axum::response::Response {
        let mut response = ApiError::InjectedInternal.into_response();
        response.extensions_mut().insert(Self);
        response
    }

    /// The router's answer as hyper is to take it: [`ResetStream::answer`] becomes an error.
    fn from_answer(
        result: Result<axum::response::Response, Infallible>,
    ) -> Result<axum::response::Response, Self> {
        match result {
            Ok(response) if response.extensions().get::<Self>().is_some() => Err(Self),
            Ok(response) => Ok(response),
            Err(never) => match never {},
        }
    }
}

impl From<Infallible> for ResetStream {
    fn from(never: Infallible) -> Self {
        match never {}
    }
}

/// A connection's socket that [`ResetConnection`] can reset. Told to, it wakes whoever waits on
/// the socket (hyper always waits to read, to notice a client that leaves), sets `SO_LINGER` to
/// zero — so that closing the socket sends RST instead of FIN — and fails, and hyper drops the
/// connection.
struct Resettable {
    io: Pin<Box<TimeoutStream<TcpStream>>>,
    reset: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl Resettable {
    fn new(io: TimeoutStream<TcpStream>, reset: &ResetConnection) -> Self {
        Self {
            io: Box::pin(io),
            reset: Box::pin(reset.0.clone().cancelled_owned()),
        }
    }

    /// `Err` once the connection is to be reset.
    fn go_on(&mut self, cx: &mut Context<'_>) -> std::io::Result<()> {
        if self.reset.as_mut().poll(cx).is_pending() {
            return Ok(());
        }
        if let Err(error) =
            socket2::SockRef::from(self.io.get_ref()).set_linger(Some(Duration::ZERO))
        {
            tracing::debug!(%error, "cannot set SO_LINGER for a reset");
        }
        Err(std::io::ErrorKind::ConnectionReset.into())
    }
}

impl AsyncRead for Resettable {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.go_on(cx)?;
        self.io.as_mut().poll_read(cx, buf)
    }
}

impl AsyncWrite for Resettable {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.go_on(cx)?;
        self.io.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.go_on(cx)?;
        self.io.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.go_on(cx)?;
        self.io.as_mut().poll_shutdown(cx)
    }
}

fn server_full() -> ApiError {
    ApiError::Unavailable(
        "The server has as many connections open as it allows; try again in a moment.".to_owned(),
    )
}

fn too_many_from_one() -> ApiError {
    ApiError::TooManyRequests {
        message: "Your address has as many connections open as one may; close one or try again \
                  in a moment."
            .to_owned(),
        retry_after: Duration::from_secs(1),
    }
}

/// Answers the first request of a connection that is not let in with `error` and closes it.
/// Over TLS (no `socket` given) it is closed at once: an answer would cost a handshake.
fn refuse(refusing: &http1::Builder, socket: Option<Resettable>, error: fn() -> ApiError) {
    let Some(socket) = socket else {
        return;
    };
    let io = TokioIo::new(socket);
    let service =
        hyper::service::service_fn(
            move |_request| async move { Ok::<_, Infallible>(refusal(error())) },
        );
    let connection = refusing.serve_connection(io, service);
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "refused connection ended with an error");
        }
    });
}

/// The answer to a connection that is not let in: `error` as the envelope, `Connection: close`.
fn refusal(error: ApiError) -> axum::response::Response {
    let mut response = error.into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(1u32));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
