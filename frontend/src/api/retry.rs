//! When to try a failed request again, and after how long: exponential backoff with full jitter
//! (the wait is drawn uniformly between 0 and a ceiling that doubles with each retry), and the
//! server's `Retry-After` honoured when it sends one. One policy for every caller of the client:
//! the Lab's runs (its knobs), Mail's outbox and Tasks' submissions.

use super::ApiError;

/// Whether failed attempts are tried again, how often, and how long to wait between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 turns retrying off.
    pub max_retries: u32,
    /// The first backoff's ceiling, in milliseconds; it doubles with each retry.
    pub base_ms: u32,
    /// No backoff's ceiling grows beyond this, in milliseconds.
    pub cap_ms: u32,
}

impl RetryPolicy {
    pub const OFF: Self = Self {
        max_retries: 0,
        base_ms: 200,
        cap_ms: 5_000,
    };

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

/// Runs `attempt` until it succeeds, fails for good, or `policy` gives up, waiting the policy's
/// backoff between attempts. `attempt` gets the attempt's number (1 for the first); a write it
/// makes must carry the same `Idempotency-Key` every time, so a retry after a lost answer does
/// not do the work twice.
pub async fn retrying<T, F, Fut>(policy: RetryPolicy, mut attempt: F) -> Result<T, ApiError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut retries = 0;
    loop {
        match attempt(retries + 1).await {
            Ok(answer) => return Ok(answer),
            Err(error) => match policy.next_retry(&error, retries, js_sys::Math::random()) {
                Some(wait_ms) => {
                    retries += 1;
                    gloo_timers::future::TimeoutFuture::new(wait_ms).await;
                }
                None => return Err(error),
            },
        }
    }
}

/// A new `Idempotency-Key`: a random UUID from the browser.
pub fn idempotency_key() -> String {
    web_sys::window()
        .and_then(|w| w.crypto().ok())
        .map(|crypto| crypto.random_uuid())
        .unwrap_or_else(|| format!("{}-{}", js_sys::Date::now(), js_sys::Math::random()))
}
