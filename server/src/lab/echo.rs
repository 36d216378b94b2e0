//! The Lab's echo, the domain behind its routes: wait without holding a thread, maybe fail on
//! purpose (on a script: the first attempts of each request, a rate drawn from a seed), and count
//! what happened, including clients that went away before the answer was ready.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use protocol::lab::{EchoRequest, EchoResponse, Fault, LabStats};

use crate::error::{ApiError, Result};

/// The echo endpoint's counters since the server started, and the attempts it has seen of each
/// request (for `fail_first`).
#[derive(Debug, Default)]
pub struct Lab {
    served: AtomicU64,
    failed_injected: AtomicU64,
    abandoned: AtomicU64,
    in_flight: AtomicU64,
    attempts: Mutex<HashMap<String, Seen>>,
}

/// How many attempts of one request arrived, and when the last did.
#[derive(Debug, Clone, Copy)]
struct Seen {
    attempts: u32,
    last: Instant,
}

/// Requests whose attempts are remembered, at most; past it the oldest are forgotten.
const REMEMBERED: usize = 10_000;
/// How long a request's attempts are remembered after its last one.
const REMEMBER_FOR: Duration = Duration::from_secs(600);

impl Lab {
    /// What this instance counted (its name left for the caller to fill in).
    pub fn stats(&self) -> LabStats {
        LabStats {
            instance: String::new(),
            served: self.served.load(Ordering::Relaxed),
            failed_injected: self.failed_injected.load(Ordering::Relaxed),
            abandoned: self.abandoned.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
        }
    }

    /// Answers one validated echo request after its delay. The wait is a timer, not a thread: a
    /// waiting echo costs a few hundred bytes. When the client disconnects, hyper drops this
    /// future mid-wait, and dropping its [`Waiting`] counter counts the echo as abandoned.
    ///
    /// `identity` names the request its attempts are counted under (its `Idempotency-Key`, or
    /// its run and `seq`); without one, each attempt is a first. A failure that is an answer
    /// (503, 429, 500) is returned as the error; one the connection must act out (a reset, a
    /// cut or dripped body, silence) comes back in [`Echoed::fault`].
    pub async fn echo(&self, request: EchoRequest, identity: Option<&str>) -> Result<Echoed> {
        // One reading of each clock on arrival and one of the steady clock at the end: the answer
        // time is the arrival plus the steady time taken, so it never reads before the arrival
        // even if the wall clock is set back meanwhile.
        let arrived = Instant::now();
        let received_at = SystemTime::now();
        let mut waiting = Waiting::start(self);
        let delay = actual_delay(request.delay_ms, request.jitter_ms);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        // Waited on purpose: so the request's `Server-Timing` says.
        crate::timing::add(crate::timing::Part::Wait, delay);
        waiting.finished = true;
        drop(waiting);

        let attempt = identity.map_or(1, |identity| self.attempt_of(identity));
        let fails = attempt <= request.fail_first
            || (request.fail_rate > 0.0
                && draw(request.seed, request.seq, attempt) < request.fail_rate);
        let fault = if fails {
            self.failed_injected.fetch_add(1, Ordering::Relaxed);
            match request.fault {
                Fault::Unavailable => return Err(ApiError::InjectedFailure),
                Fault::TooMany => {
                    return Err(ApiError::TooManyRequests {
                        message: "This request was refused on purpose (the Lab's 429): come back \
                                  after its Retry-After."
                            .to_owned(),
                        retry_after: Duration::from_secs(1),
                    });
                }
                Fault::Internal => return Err(ApiError::InjectedInternal),
                other => Some(other),
            }
        } else {
            self.served.fetch_add(1, Ordering::Relaxed);
            None
        };
        let took = arrived.elapsed();
        Ok(Echoed {
            fault,
            answer: EchoResponse {
                seq: request.seq,
                delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                received_at_ms: ms_since_epoch(received_at),
                responded_at_ms: ms_since_epoch(received_at + took),
                padding: ".".repeat(request.bytes as usize),
            },
        })
    }
}

impl Lab {
    /// Counts one more attempt of the request `identity`; returns its number (1 for the first).
    fn attempt_of(&self, identity: &str) -> u32 {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if attempts.len() >= REMEMBERED && !attempts.contains_key(identity) {
            attempts.retain(|_, seen| now.duration_since(seen.last) < REMEMBER_FOR);
            if attempts.len() >= REMEMBERED {
                attempts.clear();
            }
        }
        let seen = attempts.entry(identity.to_owned()).or_insert(Seen {
            attempts: 0,
            last: now,
        });
        seen.attempts = seen.attempts.saturating_add(1);
        seen.last = now;
        seen.attempts
    }
}

/// A number in `[0, 1)` that decides whether attempt `attempt` of request `seq` fails: from
/// `seed` when there is one (the same for the same seed, request and attempt), else at random.
fn draw(seed: Option<u64>, seq: Option<u64>, attempt: u32) -> f64 {
    match seed {
        Some(seed) => {
            let mixed = seed
                ^ seq.unwrap_or(0).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ u64::from(attempt).rotate_left(32);
            fastrand::Rng::with_seed(mixed).f64()
        }
        None => fastrand::f64(),
    }
}

/// An echo's answer, and the fault its connection must act out instead of answering plainly.
#[derive(Debug)]
pub struct Echoed {
    pub answer: EchoResponse,
    /// [`Fault::Reset`], [`Fault::Cut`], [`Fault::Drip`] or [`Fault::Silent`] when this attempt
    /// fails that way.
    pub fault: Option<Fault>,
}

/// Counts an echo as in flight while it exists, and as abandoned if dropped before it finished.
struct Waiting<'a> {
    lab: &'a Lab,
    finished: bool,
}

impl<'a> Waiting<'a> {
    fn start(lab: &'a Lab) -> Self {
        lab.in_flight.fetch_add(1, Ordering::Relaxed);
        Self {
            lab,
            finished: false,
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.lab.in_flight.fetch_sub(1, Ordering::Relaxed);
        if !self.finished {
            self.lab.abandoned.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("an echo's client went away before its answer");
        }
    }
}

/// Uniform in `delay ± jitter`, never below zero.
pub fn actual_delay(delay_ms: u32, jitter_ms: u32) -> Duration {
    let low = i64::from(delay_ms) - i64::from(jitter_ms);
    let high = i64::from(delay_ms) + i64::from(jitter_ms);
    let drawn = if jitter_ms == 0 {
        i64::from(delay_ms)
    } else {
        fastrand::i64(low..=high)
    };
    Duration::from_millis(u64::try_from(drawn.max(0)).unwrap_or(0))
}

fn ms_since_epoch(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_spreads_the_delay_within_its_bounds_and_clamps_at_zero() {
        // The generator is this thread's; seeded, the draws are the same on every run.
        fastrand::seed(7);
        let draws = |delay, jitter| -> Vec<u128> {
            (0..1000)
                .map(|_| actual_delay(delay, jitter).as_millis())
                .collect()
        };

        let around_100 = draws(100, 30);
        assert!(around_100.iter().all(|d| (70..=130).contains(d)));
        assert_eq!(around_100.iter().min(), Some(&70), "reaches its low end");
        assert_eq!(around_100.iter().max(), Some(&130), "reaches its high end");

        // 10 ± 50 spans -40..=60: the 41 values at or below zero all wait 0 ms.
        let near_zero = draws(10, 50);
        assert!(near_zero.iter().all(|d| *d <= 60));
        let zeros = near_zero.iter().filter(|d| **d == 0).count();
        assert!((300..=520).contains(&zeros), "{zeros} of 1000 clamped to 0");

        assert_eq!(actual_delay(250, 0), Duration::from_millis(250));
    }
}
