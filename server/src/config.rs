//! The server's configuration: command-line flags, each with an environment variable fallback.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

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

    /// SQLite database file; it and its folder are created when missing.
    #[arg(long, env = "MEANWHILE_DATABASE", default_value = "data/meanwhile.db")]
    pub database: PathBuf,

    /// What to log, as a tracing filter (e.g. `info`, `server=debug,sqlx=info`).
    #[arg(long, env = "MEANWHILE_LOG", default_value = "info,sqlx=warn")]
    pub log: String,

    /// Seconds an ordinary API request may take before it is answered 408 (streams are exempt).
    #[arg(long, env = "MEANWHILE_REQUEST_TIMEOUT", default_value_t = protocol::limits::REQUEST_TIMEOUT_MS / 1000)]
    pub request_timeout_secs: u64,

    /// Seconds to let in-flight requests finish after SIGINT/SIGTERM before closing anyway.
    #[arg(long, env = "MEANWHILE_SHUTDOWN_GRACE", default_value_t = 35)]
    pub shutdown_grace_secs: u64,
}
