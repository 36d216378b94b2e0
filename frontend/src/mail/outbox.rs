//! The outbox: messages written but not yet acknowledged, kept in the browser (localStorage) so a
//! reload or a crashed tab loses none, and sent in the background. Each message has one
//! `Idempotency-Key` for all its attempts, so a retry after a lost answer never sends it twice.
//!
//! This is the state machine alone, with time and chance passed in, so tests can drive it: the
//! page calls [`Outbox::due`] when it may send, [`Outbox::answered`] with each outcome, and saves
//! it after every change (`shelf.rs`: a key per message, shared with the mailbox's other tabs).

use protocol::mail::{NewMessage, Sent};
use serde::{Deserialize, Serialize};

use crate::api::ApiError;
use crate::api::retry::RetryPolicy;

/// How the outbox backs off: from 500 ms, doubling, never above 30 s, and never giving up on an
/// error that may pass (the network, a busy server).
pub const BACKOFF: RetryPolicy = RetryPolicy {
    max_retries: u32::MAX,
    base_ms: 500,
    cap_ms: 30_000,
};

/// One message on its way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outgoing {
    /// The `Idempotency-Key` of every attempt.
    pub key: String,
    pub message: NewMessage,
    pub state: State,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it was written (the page's clock, ms since the Unix epoch).
    pub written_at_ms: f64,
}

/// Where one message is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// Waiting for its turn (or for the network to come back).
    Queued,
    /// An attempt is on its way.
    Sending,
    /// The last attempt failed in a way that may pass; the next one is due at `retry_at_ms`.
    Waiting { retry_at_ms: f64, error: String },
    /// The server has it.
    Delivered { id: i64, sent_at_ms: i64 },
    /// The server refused it for good (an unknown recipient, a body too long): it stays, with
    /// the reason, until the person discards it.
    Refused { error: String },
}

/// Delivered messages kept (for their attempt counts) before the oldest are dropped.
pub const KEEP_DELIVERED: usize = 50;

/// The messages in the order they were written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outbox {
    pub items: Vec<Outgoing>,
}

impl Outbox {
    /// Reads a saved outbox. An attempt that was on its way when the tab went away is queued
    /// again: its answer never came, so it is sent again with the same key.
    pub fn from_json(json: &str) -> Self {
        let mut outbox: Self = serde_json::from_str(json).unwrap_or_default();
        outbox.resume();
        outbox
    }

    /// After a reload: attempts that were on their way are queued again, their answer lost.
    pub fn resume(&mut self) {
        for item in &mut self.items {
            if item.state == State::Sending {
                item.state = State::Queued;
            }
        }
    }

    /// Puts `item` in, in the order messages were written, replacing the one with its key (as
    /// another tab of the same mailbox changed it).
    pub fn put(&mut self, item: Outgoing) {
        match self.items.iter_mut().find(|known| known.key == item.key) {
            Some(known) => *known = item,
            None => {
                let at = self
                    .items
                    .partition_point(|known| known.written_at_ms <= item.written_at_ms);
                self.items.insert(at, item);
            }
        }
    }

    /// Takes out the message with `key` (another tab removed it).
    pub fn remove(&mut self, key: &str) {
        self.items.retain(|item| item.key != key);
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Adds a message written now; `key` must be unique (the page draws it at random).
    pub fn write(&mut self, key: String, message: NewMessage, now_ms: f64) {
        self.items.push(Outgoing {
            key,
            message,
            state: State::Queued,
            attempts: 0,
            written_at_ms: now_ms,
        });
    }

    /// The messages to send now, marked as sending: every queued one, and every waiting one
    /// whose time has come. Several at once: one slow message holds up no other.
    pub fn due(&mut self, now_ms: f64) -> Vec<(String, NewMessage)> {
        let mut due = Vec::new();
        for item in &mut self.items {
            let ready = match &item.state {
                State::Queued => true,
                State::Waiting { retry_at_ms, .. } => *retry_at_ms <= now_ms,
                _ => false,
            };
            if ready {
                item.state = State::Sending;
                item.attempts += 1;
                due.push((item.key.clone(), item.message.clone()));
            }
        }
        due
    }

    /// When the next waiting message is due, if any is waiting.
    pub fn next_retry_at(&self) -> Option<f64> {
        self.items
            .iter()
            .filter_map(|item| match item.state {
                State::Waiting { retry_at_ms, .. } => Some(retry_at_ms),
                _ => None,
            })
            .min_by(f64::total_cmp)
    }

    /// Attempts made so far at sending the message under `key`.
    pub fn attempts(&self, key: &str) -> u32 {
        self.items
            .iter()
            .find(|item| item.key == key)
            .map_or(0, |item| item.attempts)
    }

    /// The outcome of the attempt for `key`. `random` is uniform in `[0, 1)`, for the jitter.
    /// Returns the wait before it is tried again, when it will be.
    pub fn answered(
        &mut self,
        key: &str,
        outcome: Result<Sent, ApiError>,
        now_ms: f64,
        random: f64,
    ) -> Option<u32> {
        let item = self.items.iter_mut().find(|item| item.key == key)?;
        let mut retry_in = None;
        let delivered = outcome.is_ok();
        item.state = match outcome {
            Ok(sent) => State::Delivered {
                id: sent.id,
                sent_at_ms: sent.sent_at_ms,
            },
            Err(error) => match BACKOFF.next_retry(&error, item.attempts.saturating_sub(1), random)
            {
                Some(wait_ms) => {
                    retry_in = Some(wait_ms);
                    State::Waiting {
                        retry_at_ms: now_ms + f64::from(wait_ms),
                        error: error.to_string(),
                    }
                }
                None => State::Refused {
                    error: error.to_string(),
                },
            },
        };
        if delivered {
            self.keep_delivered(KEEP_DELIVERED);
        }
        retry_in
    }

    /// Drops the oldest delivered messages beyond `keep`.
    fn keep_delivered(&mut self, keep: usize) {
        let delivered = |item: &Outgoing| matches!(item.state, State::Delivered { .. });
        let mut extra = self
            .items
            .iter()
            .filter(|i| delivered(i))
            .count()
            .saturating_sub(keep);
        self.items.retain(|item| {
            let drop = extra > 0 && delivered(item);
            if drop {
                extra -= 1;
            }
            !drop
        });
    }

    /// The network went away: attempts on their way will fail; waiting ones wait for it to come
    /// back rather than for their timer.
    pub fn offline(&mut self) {
        for item in &mut self.items {
            if matches!(item.state, State::Waiting { .. }) {
                item.state = State::Queued;
            }
        }
    }

    /// Removes a refused or delivered message (the person has seen what became of it). One still
    /// on its way stays: its fate is not known yet.
    pub fn discard(&mut self, key: &str) {
        self.items.retain(|item| {
            let settled = matches!(item.state, State::Delivered { .. } | State::Refused { .. });
            !(item.key == key && settled)
        });
    }

    /// How many are not yet delivered (queued, sending, waiting).
    pub fn pending(&self) -> usize {
        self.items
            .iter()
            .filter(|item| {
                matches!(
                    item.state,
                    State::Queued | State::Sending | State::Waiting { .. }
                )
            })
            .count()
    }
}
