//! The server's configuration: command-line flags, each with an environment variable fallback.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::HeaderValue;
use clap::Parser;

use crate::clients::{ClientLimits, Clients};
use crate::connections::Connections;
use crate::retention::Retention;
use crate::tasks::Jobs;

/// Meanwhile: see asynchronous request/response at work.
///
/// Serves the built page (from `--dist`) and the JSON API under /api.
#[derive(Debug, Clone, Parser)]
#[command(name = "meanwhile", version, about, long_about = None)]
pub struct Config {
    /// Address and port to listen on. Use 0.0.0.0:PORT to accept connections from other machines.
    #[arg(long, env = "MEANWHILE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Folder holding the built page (trunk's output: index.html, the .wasm, .js and .css files).
    #[arg(long, env = "MEANWHILE_DIST", default_value = "dist")]
    pub dist: PathBuf,

    /// The database: a SQLite file (created with its folder when missing; `sqlite:PATH` too), or
    /// a PostgreSQL address, `postgres://USER[:PASSWORD]@HOST:PORT/DATABASE`, which several
    /// instances may share.
    #[arg(long, env = "MEANWHILE_DATABASE", default_value = "data/meanwhile.db")]
    pub database: crate::db::Address,

    /// This instance's name, sent with every answer as `X-Served-By` (the page's inspector shows
    /// it): letters, digits and `.`, `_`, `:`, `-`. By default the machine's name and the port.
    #[arg(long, env = "MEANWHILE_NAME", value_parser = instance_name)]
    pub name: Option<HeaderValue>,

    /// Where `GET /metrics` (the Prometheus text format) is served: `here` (on `--addr`, beside
    /// the API), an address of its own (e.g. `127.0.0.1:9100`), or `off`.
    #[arg(long, env = "MEANWHILE_METRICS", default_value = "here")]
    pub metrics: crate::metrics::MetricsAt,

    /// How to write the log: `human` (a line a event) or `json` (a JSON object a line).
    #[arg(long, env = "MEANWHILE_LOG_FORMAT", value_enum, default_value_t)]
    pub log_format: crate::telemetry::LogFormat,

    /// What to log, as a tracing filter (e.g. `info`, `server=debug,sqlx=info`).
    #[arg(long, env = "MEANWHILE_LOG", default_value = "info,sqlx=warn")]
    pub log: String,

    /// Seconds an ordinary API request may take before it is answered 408 (streams are exempt).
    #[arg(long, env = "MEANWHILE_REQUEST_TIMEOUT", default_value_t = protocol::limits::REQUEST_TIMEOUT_MS / 1000)]
    pub request_timeout_secs: u64,

    /// Seconds a request's body may take to arrive, counted from its head (a body trickled in
    /// is cut there and answered 408, instead of holding its place until the request deadline).
    #[arg(long, env = "MEANWHILE_BODY_TIMEOUT", default_value_t = 10)]
    pub body_timeout_secs: u64,

    /// Seconds to let in-flight requests finish after SIGINT/SIGTERM before closing anyway.
    #[arg(long, env = "MEANWHILE_SHUTDOWN_GRACE", default_value_t = 35)]
    pub shutdown_grace_secs: u64,

    /// Seconds a connection may take to send a request's head, counted from when it opens or
    /// its previous answer was sent; an idle keep-alive connection is closed after as long.
    #[arg(long, env = "MEANWHILE_HEADER_TIMEOUT", default_value_t = 5)]
    pub header_timeout_secs: u64,

    /// Seconds a write may wait for a client that has stopped reading before the connection
    /// (an event stream too) is dropped.
    #[arg(long, env = "MEANWHILE_WRITE_TIMEOUT", default_value_t = 30)]
    pub write_timeout_secs: u64,

    /// Connections open at once; past it, new ones are answered 503 and closed.
    #[arg(long, env = "MEANWHILE_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Connections one client address may hold open at once; past it, its new ones are answered
    /// 429 and closed.
    #[arg(long, env = "MEANWHILE_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = Connections::default().max_per_address)]
    pub max_connections_per_address: usize,

    /// Event streams (Mail's, Tasks') one client address may hold open at once; past it, 429.
    #[arg(long, env = "MEANWHILE_MAX_STREAMS_PER_ADDRESS", default_value_t = ClientLimits::default().streams_per_address)]
    pub max_streams_per_address: usize,

    /// New mailboxes and owners of jobs one client address may make in an hour; past it, 429.
    #[arg(long, env = "MEANWHILE_CREDENTIALS_PER_HOUR", default_value_t = ClientLimits::default().credentials_per_hour)]
    pub credentials_per_hour: u32,

    /// How many of those one address may make at once (a class starting together).
    #[arg(long, env = "MEANWHILE_CREDENTIALS_BURST", default_value_t = ClientLimits::default().credentials_burst)]
    pub credentials_burst: u32,

    /// Answer a request whose client half-closed the connection (`shutdown(SHUT_WR)`) after
    /// sending it. Off by default: the server then cannot tell a half-close from a client that
    /// went away, and abandoned requests run to their end instead of being dropped.
    #[arg(long, env = "MEANWHILE_HALF_CLOSE")]
    pub half_close: bool,

    /// Serve over TLS, HTTP/1.1 and HTTP/2 on the one port, with a certificate made at start
    /// for 127.0.0.1 and localhost (a browser warns once: it does not know who made it), or
    /// the one `--tls-cert` and `--tls-key` give.
    #[arg(long, env = "MEANWHILE_TLS")]
    pub tls: bool,

    /// The certificate chain for `--tls`, PEM (with `--tls-key`).
    #[arg(long, env = "MEANWHILE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// Its private key, PEM.
    #[arg(long, env = "MEANWHILE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,

    /// With `--tls`, where the server also listens speaking only HTTP/1.1 (over TLS, the same
    /// certificate), so the Lab can run the same experiment over both protocols. By default a
    /// free port on `--addr`'s address.
    #[arg(long, env = "MEANWHILE_TLS_HTTP1_ADDR")]
    pub tls_http1_addr: Option<SocketAddr>,

    /// Jobs run at once (the Tasks room); the rest wait in order. 0: one per core.
    #[arg(long, env = "MEANWHILE_JOB_WORKERS", default_value_t = 0)]
    pub job_workers: usize,

    /// Hours an `Idempotency-Key` is kept: a retry within it gets the first attempt's answer.
    #[arg(long, env = "MEANWHILE_KEEP_KEYS_HOURS", default_value_t = 24)]
    pub keep_keys_hours: u64,

    /// Days Mail's and Tasks' stream events are kept for a stream that resumes.
    #[arg(long, env = "MEANWHILE_KEEP_EVENTS_DAYS", default_value_t = 7)]
    pub keep_events_days: u64,

    /// Days a finished job is kept for its owner to see.
    #[arg(long, env = "MEANWHILE_KEEP_JOBS_DAYS", default_value_t = 7)]
    pub keep_jobs_days: u64,

    /// Minutes between two prunings of what is no longer kept.
    #[arg(long, env = "MEANWHILE_PRUNE_EVERY_MINUTES", default_value_t = 10)]
    pub prune_every_minutes: u64,
}

impl Config {
    /// The jobs' worker pool, from `--job-workers`.
    pub fn jobs(&self) -> Jobs {
        match self.job_workers {
            0 => Jobs::per_core(),
            workers => Jobs::new(workers),
        }
    }

    /// What the pruning keeps, from the `--keep-*` and `--prune-every-minutes` flags.
    pub fn retention(&self) -> Retention {
        const HOUR: u64 = 3600;
        Retention {
            keys: Duration::from_secs(self.keep_keys_hours * HOUR),
            events: Duration::from_secs(self.keep_events_days * 24 * HOUR),
            finished_jobs: Duration::from_secs(self.keep_jobs_days * 24 * HOUR),
            every: Duration::from_secs(self.prune_every_minutes.max(1) * 60),
        }
    }

    /// The limits per client address, from the flags.
    pub fn clients(&self) -> Clients {
        Clients::new(ClientLimits {
            credentials_per_hour: self.credentials_per_hour,
            credentials_burst: self.credentials_burst,
            streams_per_address: self.max_streams_per_address,
        })
    }

    /// Where `--tls`'s certificate comes from, when the server is to speak TLS (a certificate
    /// given means TLS too).
    pub fn tls(&self) -> Option<crate::tls::Certificate> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::Certificate::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => self.tls.then_some(crate::tls::Certificate::MadeAtStart),
        }
    }

    /// The connection layer's clocks and cap, from the flags.
    pub fn connections(&self) -> Connections {
        Connections {
            header_timeout: Duration::from_secs(self.header_timeout_secs),
            write_timeout: Duration::from_secs(self.write_timeout_secs),
            max_connections: self.max_connections,
            max_per_address: self.max_connections_per_address,
            half_close: self.half_close,
            ..Connections::default()
        }
    }
}

/// An instance's name, checked: 1 to 64 of the characters a header shows as they are.
pub fn instance_name(name: &str) -> Result<HeaderValue, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
    if name.is_empty() || name.len() > 64 || !name.chars().all(allowed) {
        return Err(format!(
            "`{name}`: an instance's name is 1 to 64 letters, digits, `.`, `_`, `:` or `-`"
        ));
    }
    HeaderValue::from_str(name).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_name_is_what_a_header_shows_as_it_is() {
        for name in ["a", "web-1:3000", "eu_west.2"] {
            assert_eq!(instance_name(name).expect(name), name);
        }
        let long = "x".repeat(65);
        for refused in ["", "a b", "ä", "a\r\nb", long.as_str()] {
            assert!(instance_name(refused).is_err(), "{refused:?}");
        }
    }
}
