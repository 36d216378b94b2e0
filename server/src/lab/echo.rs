//! The Lab's echo, the domain behind its routes: wait without holding a thread, maybe fail on
//! purpose, and count what happened, including clients that went away before the answer was ready.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use protocol::lab::{EchoRequest, EchoResponse, LabStats};

use crate::error::{ApiError, Result};

/// The echo endpoint's counters since the server started.
#[derive(Debug, Default)]
pub struct Lab {
    served: AtomicU64,
    failed_injected: AtomicU64,
    abandoned: AtomicU64,
    in_flight: AtomicU64,
}

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
    pub async fn echo(&self, request: EchoRequest) -> Result<Echoed> {
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

        if request.fail_rate > 0.0 && fastrand::f64() < request.fail_rate {
            self.failed_injected.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError::InjectedFailure);
        }
        self.served.fetch_add(1, Ordering::Relaxed);
        let took = arrived.elapsed();
        Ok(Echoed {
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

/// An echo's answer.
#[derive(Debug)]
pub struct Echoed {
    pub answer: EchoResponse,
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
