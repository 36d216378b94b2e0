//! The `meanwhile` binary: reads its configuration and serves the page and the API.
//! Everything it does lives in the library (`lib.rs`) so the tests drive the same code.

use clap::Parser;
use server::config::Config;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    server::telemetry::init(&config.log, config.log_format);
    match server::run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("meanwhile: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
