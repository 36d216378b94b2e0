//! When to try a failed request again, and after how long: exponential backoff with full jitter
//! (the wait is drawn uniformly between 0 and a ceiling that doubles with each retry), and the
//! server's `Retry-After` honoured when it sends one. One policy for every caller of the client:
//! the Lab's runs (its knobs), Mail's outbox and Tasks' submissions.

use super::{ApiError, Traced};
use crate::inspector::{self, Attempt, Outcome};

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

/// Why an attempt that failed is tried again, in the inspector's words: "retry 2 of 3 after 503,
/// Retry-After 1 s" (`retry` counts from 1; `retries` is the most there will be, `u32::MAX` for
/// no limit; `wait_ms` the backoff that was drawn).
pub fn retry_words(retry: u32, retries: u32, error: &ApiError, wait_ms: u32) -> String {
    let after = match error {
        ApiError::Server { status, .. } => status.to_string(),
        ApiError::Network(_) => "no answer".to_owned(),
        other => other.to_string(),
    };
    let wait = match error {
        ApiError::Server {
            retry_after_s: Some(seconds),
            ..
        } => format!("Retry-After {seconds} s"),
        _ => format!("backoff {wait_ms} ms"),
    };
    let of = if retries == u32::MAX {
        String::new()
    } else {
        format!(" of {retries}")
    };
    format!("retry {retry}{of} after {after}, {wait}")
}

/// Runs `attempt` until it succeeds, fails for good, or `policy` gives up, waiting the policy's
/// backoff between attempts. `attempt` gets the attempt's number (1 for the first) and the most
/// there will be; a write it makes must carry the same `Idempotency-Key` every time, so a retry
/// after a lost answer does not do the work twice. An attempt that is tried again is marked so
/// in the inspector, with why ([`retry_words`]).
pub async fn retrying<T, F, Fut>(policy: RetryPolicy, mut attempt: F) -> Result<T, ApiError>
where
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Traced<T>>,
{
    let mut retries = 0;
    let of = policy.max_retries.saturating_add(1);
    loop {
        let Traced { entry, result } = attempt(Attempt {
            number: retries + 1,
            of,
        })
        .await;
        match result {
            Ok(answer) => return Ok(answer.body),
            Err(error) => match policy.next_retry(&error, retries, js_sys::Math::random()) {
                Some(wait_ms) => {
                    retries += 1;
                    let words = retry_words(retries, policy.max_retries, &error, wait_ms);
                    inspector::reclassify_because(entry, Outcome::Retried, words);
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
