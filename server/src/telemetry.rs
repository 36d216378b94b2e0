//! Logging: one tracing subscriber for the whole process, filtered by `--log`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. A filter that does not parse falls back to `info`, with a
/// warning, rather than stopping the server.
pub fn init(filter: &str) {
    let (filter, warning) = match EnvFilter::try_new(filter) {
        Ok(filter) => (filter, None),
        Err(error) => (EnvFilter::new("info"), Some(error)),
    };
    // A second call (in tests) finds a subscriber already set; that is fine.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    if let Some(error) = warning {
        tracing::warn!("--log filter ignored ({error}); logging at info");
    }
}
