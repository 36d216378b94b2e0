//! When to try a failed request again, and after how long: exponential backoff with full jitter
//! (the wait is drawn uniformly between 0 and a ceiling that doubles with each retry), and the
//! server's `Retry-After` honoured when it sends one.

use crate::api::ApiError;
use crate::lab::settings::RetryPolicy;

impl RetryPolicy {
    /// The wait before retry number `retry` (0 for the first retry), given a uniform `random`
    /// number in `[0, 1)` and the server's `Retry-After` in seconds, if any.
    pub fn backoff_ms(&self, retry: u32, random: f64, retry_after_s: Option<u32>) -> u32 {
        if let Some(seconds) = retry_after_s {
            // The server said when; waiting less would only be refused again.
            return seconds.saturating_mul(1000);
        }
        let ceiling = self
            .base_ms
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.cap_ms);
        (f64::from(ceiling) * random.clamp(0.0, 1.0)).floor() as u32
    }

    /// The wait before trying again after `error`, when `retries_done` retries were already
    /// made; `None` when the request must not be retried.
    pub fn next_retry(&self, error: &ApiError, retries_done: u32, random: f64) -> Option<u32> {
        if retries_done >= self.max_retries || !error.is_retryable() {
            return None;
        }
        let retry_after_s = match error {
            ApiError::Server { retry_after_s, .. } => *retry_after_s,
            _ => None,
        };
        Some(self.backoff_ms(retries_done, random, retry_after_s))
    }
}
