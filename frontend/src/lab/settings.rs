//! What one press of Start asks for: how many echoes, how slow and how faulty, sent how.

use protocol::lab::EchoRequest;

pub use crate::api::lab::EchoMethod;
pub use crate::api::retry::RetryPolicy;

/// Most requests one run may fire.
pub const MAX_COUNT: u32 = 1_000;
/// Largest N of "at most N at a time".
pub const MAX_AT_ONCE: u32 = 100;
/// Most retries after a request's first attempt.
pub const MAX_RETRIES: u32 = 10;

/// How a run's requests are scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Every request leaves at once (the browser still queues beyond 6 per host).
    AllAtOnce,
    /// Each request waits for the previous one to end.
    OneByOne,
    /// At most this many in flight; the next leaves as soon as one ends.
    AtMost(u32),
    /// All at once; the first success wins and the rest are aborted.
    Race,
}

impl Strategy {
    pub fn label(self) -> String {
        match self {
            Self::AllAtOnce => "all at once".into(),
            Self::OneByOne => "one after another".into(),
            Self::AtMost(n) => format!("at most {n} at a time"),
            Self::Race => "race: first success wins".into(),
        }
    }
}

/// Everything one run asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunSettings {
    pub count: u32,
    pub echo: EchoRequest,
    pub method: EchoMethod,
    pub strategy: Strategy,
    /// Each attempt is aborted (outcome "timed out") after this many milliseconds.
    pub timeout_ms: Option<u32>,
    pub retry: RetryPolicy,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            count: 20,
            echo: EchoRequest {
                delay_ms: 800,
                jitter_ms: 600,
                fail_rate: 0.0,
                bytes: 0,
                ..EchoRequest::default()
            },
            method: EchoMethod::Get,
            strategy: Strategy::AllAtOnce,
            timeout_ms: None,
            retry: RetryPolicy::OFF,
        }
    }
}

impl RunSettings {
    /// Checks the settings a person typed, naming the first one out of range. The echo's own
    /// fields are checked against the limits the server enforces (from `protocol`).
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_COUNT).contains(&self.count) {
            return Err(format!("How many must be from 1 to {MAX_COUNT}."));
        }
        if let Strategy::AtMost(n) = self.strategy
            && !(1..=MAX_AT_ONCE).contains(&n)
        {
            return Err(format!(
                "At most N at a time needs N from 1 to {MAX_AT_ONCE}."
            ));
        }
        if self.timeout_ms == Some(0) {
            return Err("A timeout must be at least 1 ms.".into());
        }
        if self.retry.max_retries > MAX_RETRIES {
            return Err(format!("Retries must be from 0 to {MAX_RETRIES}."));
        }
        self.echo.validate().map_err(|e| e.to_string())
    }

    /// The echo of run `run`'s request number `number` (from 1): the same numbers in every run,
    /// so a seeded run fails the same requests again, and the server counts each request's
    /// attempts apart from another run's; the run's number keeps each address unique.
    pub fn echo_for(&self, run: u32, number: u64) -> EchoRequest {
        EchoRequest {
            seq: Some(number),
            run: Some(u64::from(run)),
            ..self.echo
        }
    }
}
