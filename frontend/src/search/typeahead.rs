//! The typeahead's decisions, apart from the page so the tests can feed it keystrokes and answers
//! in any order: when a query leaves (the debounce), how slow it asks to be ("slow early
//! requests", to make the race happen on demand), and what becomes of each answer (the strategy).

/// What to do with answers that arrive out of order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Apply every answer when it arrives: a slow early answer overwrites a newer one. The bug.
    Naive,
    /// Apply only the answer to the newest request; older ones are discarded as stale.
    LatestWins,
    /// Abort the request in flight when a newer one leaves; only the newest can answer.
    AbortPrevious,
}

impl Strategy {
    pub const ALL: [Strategy; 3] = [Self::Naive, Self::LatestWins, Self::AbortPrevious];

    pub fn label(self) -> &'static str {
        match self {
            Self::Naive => "naive: apply every answer (the bug)",
            Self::LatestWins => "latest wins: discard stale answers",
            Self::AbortPrevious => "abort previous: cancel the older request",
        }
    }

    /// The value of its option in the page's form.
    pub fn key(self) -> &'static str {
        match self {
            Self::Naive => "naive",
            Self::LatestWins => "latest-wins",
            Self::AbortPrevious => "abort-previous",
        }
    }

    pub fn from_key(key: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|strategy| strategy.key() == key)
            .unwrap_or(Self::LatestWins)
    }
}

/// With "slow early requests" on, the first request after the box was empty waits this long on
/// the server, and each next one [`SLOWER_BY_MS`] less: typed quickly, their answers come back in
/// reverse order.
pub const SLOWEST_MS: u32 = 1_500;
pub const SLOWER_BY_MS: u32 = 300;

/// A request the page must send now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    pub id: u64,
    pub query: String,
    /// The `delay_ms` to ask the server for.
    pub delay_ms: u32,
    /// Requests the page must abort first.
    pub abort: Vec<u64>,
}

/// What a keystroke asks of the page.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    /// Call [`Typeahead::due`] at this time (after the debounce).
    SendAt(f64),
    /// The box is empty: clear the results, and abort these requests.
    Cleared { abort: Vec<u64> },
}

/// What to do with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Apply,
    /// It answers a query older than the newest one: do not show it.
    Discard,
}

/// How the answers of this session ended, as counts for the page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub applied: u32,
    pub stale: u32,
    pub aborted: u32,
}

#[derive(Debug, Clone)]
pub struct Typeahead {
    pub strategy: Strategy,
    pub debounce_ms: f64,
    pub slow_early: bool,
    /// Text typed and not sent yet, and when it may leave.
    pending: Option<(String, f64)>,
    next_id: u64,
    /// The newest request sent (or the moment the box was cleared).
    newest: u64,
    /// Requests sent since the box was last empty.
    burst: u32,
    in_flight: Vec<u64>,
    pub counts: Counts,
}

impl Default for Typeahead {
    fn default() -> Self {
        Self {
            strategy: Strategy::LatestWins,
            debounce_ms: 150.0,
            slow_early: false,
            pending: None,
            next_id: 1,
            newest: 0,
            burst: 0,
            in_flight: Vec::new(),
            counts: Counts::default(),
        }
    }
}

impl Typeahead {
    /// The box now holds `text`.
    pub fn typed(&mut self, text: &str, now: f64) -> Typed {
        if text.trim().is_empty() {
            self.pending = None;
            self.burst = 0;
            // Answers to what was typed before are now stale.
            self.newest = self.take_id();
            let abort = match self.strategy {
                Strategy::AbortPrevious => std::mem::take(&mut self.in_flight),
                Strategy::Naive | Strategy::LatestWins => Vec::new(),
            };
            return Typed::Cleared { abort };
        }
        let at = now + self.debounce_ms;
        self.pending = Some((text.to_owned(), at));
        Typed::SendAt(at)
    }

    /// The request to send now, if the debounce has passed since the last keystroke.
    pub fn due(&mut self, now: f64) -> Option<Send> {
        let (_, at) = self.pending.as_ref()?;
        if now < *at {
            return None;
        }
        let (query, _) = self.pending.take()?;
        Some(self.send(query))
    }

    /// The request for `query` now, whatever the debounce (the page's first load, Retry).
    pub fn send(&mut self, query: String) -> Send {
        self.pending = None;
        let id = self.take_id();
        let delay_ms = if self.slow_early {
            SLOWEST_MS.saturating_sub(SLOWER_BY_MS.saturating_mul(self.burst))
        } else {
            0
        };
        self.burst += 1;
        self.newest = id;
        let abort = match self.strategy {
            Strategy::AbortPrevious => std::mem::take(&mut self.in_flight),
            Strategy::Naive | Strategy::LatestWins => Vec::new(),
        };
        self.in_flight.push(id);
        Send {
            id,
            query,
            delay_ms,
            abort,
        }
    }

    /// Request `id` was answered (with results or an error to show).
    pub fn answered(&mut self, id: u64) -> Verdict {
        self.in_flight.retain(|other| *other != id);
        let verdict = match self.strategy {
            Strategy::Naive => Verdict::Apply,
            Strategy::LatestWins | Strategy::AbortPrevious if id == self.newest => Verdict::Apply,
            Strategy::LatestWins | Strategy::AbortPrevious => Verdict::Discard,
        };
        match verdict {
            Verdict::Apply => self.counts.applied += 1,
            Verdict::Discard => self.counts.stale += 1,
        }
        verdict
    }

    /// Request `id` was aborted before it was answered.
    pub fn aborted(&mut self, id: u64) {
        self.in_flight.retain(|other| *other != id);
        self.counts.aborted += 1;
    }

    /// Whether request `id` answers what the box holds now.
    pub fn is_newest(&self, id: u64) -> bool {
        id == self.newest
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }
}
