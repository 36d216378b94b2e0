//! What the Lab page knows about every request: its attempts with their timings and outcomes, the
//! order answers arrived in, and the summary (counts, the gain from concurrency, percentiles, a
//! histogram). Plain data, changed only by [`LabModel::apply`], so it is easy to test and cheap to
//! update once per animation frame.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::api::lab::EchoTiming;
use crate::inspector::Outcome;
use crate::lab::engine::{AttemptReport, LabEvent};
use crate::lab::settings::EchoMethod;

/// One attempt of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub number: u32,
    pub method: EchoMethod,
    /// Where it was fetched (path and query).
    pub address: String,
    pub started_at: f64,
    pub ended_at: Option<f64>,
    /// `None` while in flight.
    pub report: Option<AttemptReport>,
    /// How many times the browser's timing entry was looked for (it appears a little after the
    /// answer; aborted requests never get one).
    pub timing_lookups: u8,
    /// When the page saw this attempt get one of the browser's connections, while it was in
    /// flight: an estimate (see [`LabModel::note_connections`]) until the browser's resource
    /// timing gives the exact time (`report.sent_at`).
    pub slot_at: Option<f64>,
}

/// One request: its attempts, and how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub seq: u64,
    pub run: u32,
    /// One of a race's alternatives: its time is not work one-by-one would have had to do.
    pub race: bool,
    pub queued_at: f64,
    pub attempts: Vec<Attempt>,
    /// `InFlight` until it is over (also while it waits to be sent).
    pub outcome: Outcome,
    pub finished_at: Option<f64>,
}

impl Request {
    /// From leaving (the first attempt) to the end, in milliseconds; `None` until it is over.
    pub fn latency_ms(&self) -> Option<f64> {
        Some(self.finished_at? - self.attempts.first()?.started_at)
    }

    /// How long its attempts waited for one of the browser's connections after they left: the
    /// browser's own account when it has given one, else the page's estimate, else none.
    pub fn connection_wait_ms(&self) -> f64 {
        self.attempts
            .iter()
            .map(|attempt| {
                let sent = attempt
                    .report
                    .as_ref()
                    .and_then(|report| report.sent_at)
                    .or(attempt.slot_at);
                sent.map_or(0.0, |sent| (sent - attempt.started_at).max(0.0))
            })
            .sum()
    }

    /// Still waiting for its strategy to send it.
    pub fn is_queued(&self) -> bool {
        self.attempts.is_empty() && self.finished_at.is_none()
    }

    /// Over, and nothing more will be learnt about it: every attempt has ended and has its
    /// browser timing, or has been looked up for it as often as it ever will be (see
    /// [`LabModel::fill_sent_times`]). Its row in the waterfall no longer changes.
    pub fn is_settled(&self) -> bool {
        self.finished_at.is_some()
            && self.attempts.iter().all(|attempt| {
                attempt.ended_at.is_some()
                    && attempt.report.as_ref().is_none_or(|report| {
                        report.sent_at.is_some() || attempt.timing_lookups >= MAX_TIMING_LOOKUPS
                    })
            })
    }
}

/// How many frames an ended attempt's browser timing is looked for before the page gives up
/// (aborted requests never get one).
const MAX_TIMING_LOOKUPS: u8 = 10;

/// Counts and times over every request shown.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Not yet sent by their strategy.
    pub queued: usize,
    pub in_flight: usize,
    pub ok: usize,
    pub failed: usize,
    pub aborted: usize,
    pub timed_out: usize,
    /// Answered after a race was already won, and dropped.
    pub discarded: usize,
    /// Attempts that failed and were tried again.
    pub retries: usize,
    /// From the first request queued to the last one over (or now, while some are not).
    pub wall_ms: f64,
    /// The sum of every finished request's own time — its latency less the time it waited for
    /// a connection: what one-by-one would have taken.
    pub sum_ms: f64,
    /// Latencies of the successful requests, sorted.
    pub latencies: Vec<f64>,
    /// How long each successful request waited for a connection, sorted.
    pub connection_waits: Vec<f64>,
    /// Requests of races: alternatives, whose times add up to no work.
    pub racing: usize,
    /// The protocols the successful answers came over, as the browser's timing says.
    pub protocols: BTreeSet<String>,
}

impl Summary {
    pub fn done(&self) -> usize {
        self.ok + self.failed + self.aborted + self.timed_out + self.discarded
    }

    /// Nearest-rank percentile of the successful latencies, `p` in `0..=100`.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        percentile(&self.latencies, p)
    }

    /// How many times longer one-by-one would have taken; none for a race (its requests are
    /// alternatives) or when nothing succeeded.
    pub fn gain(&self) -> Option<f64> {
        (self.wall_ms > 0.0 && self.sum_ms > 0.0 && self.ok > 0 && self.racing == 0)
            .then(|| self.sum_ms / self.wall_ms)
    }

    /// Nearest-rank percentile of the successful requests' waits for a connection.
    pub fn connection_wait(&self, p: f64) -> Option<f64> {
        percentile(&self.connection_waits, p)
    }
}

/// Every request of every run since the last Clear.
#[derive(Debug, Clone, Default)]
pub struct LabModel {
    requests: Vec<Request>,
    index: HashMap<u64, usize>,
    arrivals: Vec<u64>,
    /// The latest time an attempt ended (and so gave its connection to the next in line).
    latest_end: f64,
    /// Counts the changes, Clear included (see [`LabModel::revision`]).
    revision: u64,
    /// Runs whose requests share one connection (HTTP/2), and how many requests it carries at
    /// once (its streams).
    sharing: HashSet<u32>,
    streams: usize,
}

impl LabModel {
    pub fn requests(&self) -> &[Request] {
        &self.requests
    }

    pub fn request(&self, seq: u64) -> Option<&Request> {
        self.index.get(&seq).map(|i| &self.requests[*i])
    }

    /// Sequence numbers in the order the requests ended.
    pub fn arrivals(&self) -> &[u64] {
        &self.arrivals
    }

    /// Changes whenever anything in the model does. A view that drew the same revision has
    /// nothing new to show but the clock's progress (the waterfall skips frames that way).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn clear(&mut self) {
        *self = Self {
            revision: self.revision + 1,
            ..Self::default()
        };
    }

    /// Says that `run`'s requests share one connection (the page came over HTTP/2) that carries
    /// `streams` of them at once: beyond that they wait for a stream, and the page estimates that
    /// wait as it does the wait for a connection ([`LabModel::note_connections`]).
    pub fn shares_one_connection(&mut self, run: u32, streams: usize) {
        self.sharing.insert(run);
        self.streams = streams;
    }

    pub fn apply(&mut self, event: LabEvent) {
        self.revision += 1;
        match event {
            LabEvent::Queued { seq, run, at, race } => {
                self.index.insert(seq, self.requests.len());
                self.requests.push(Request {
                    seq,
                    run,
                    race,
                    queued_at: at,
                    attempts: Vec::new(),
                    outcome: Outcome::InFlight,
                    finished_at: None,
                });
            }
            LabEvent::AttemptStarted {
                seq,
                attempt,
                at,
                method,
                address,
            } => {
                if let Some(request) = self.get_mut(seq) {
                    request.attempts.push(Attempt {
                        number: attempt,
                        method,
                        address,
                        started_at: at,
                        ended_at: None,
                        report: None,
                        timing_lookups: 0,
                        slot_at: None,
                    });
                }
            }
            LabEvent::AttemptEnded {
                seq,
                attempt,
                at,
                report,
            } => {
                if let Some(found) = self
                    .get_mut(seq)
                    .and_then(|r| r.attempts.iter_mut().find(|a| a.number == attempt))
                {
                    found.ended_at = Some(at);
                    found.report = Some(report);
                }
                self.latest_end = self.latest_end.max(at);
            }
            LabEvent::Finished { seq, at, outcome } => {
                if let Some(request) = self.get_mut(seq) {
                    request.outcome = outcome;
                    request.finished_at = Some(at);
                    self.arrivals.push(seq);
                }
            }
        }
    }

    /// Estimates, while requests are in flight, which of them hold one of the browser's
    /// `connections` to the server: over HTTP/1.1 a browser opens at most 6 per host and gives
    /// them out first come, first served, so the oldest attempts in flight hold them and the rest
    /// wait. An attempt seen among the holders for the first time got its connection when it was
    /// sent or when the latest attempt before now ended, whichever is later. (The browser tells
    /// the exact time only after the answer, through resource timing; see
    /// [`LabModel::fill_sent_times`].) Runs that share one connection are estimated the same
    /// way among themselves, with its streams for connections. Returns whether anything changed.
    pub fn note_connections(&mut self, connections: usize) -> bool {
        let streams = self.streams;
        self.note_holders(false, connections) | self.note_holders(true, streams)
    }

    /// [`LabModel::note_connections`] for the runs that share a connection, or for the others.
    fn note_holders(&mut self, sharing: bool, connections: usize) -> bool {
        let mut in_flight: Vec<(f64, usize, usize)> = Vec::new();
        let pool = self
            .requests
            .iter()
            .enumerate()
            .filter(|(_, request)| self.sharing.contains(&request.run) == sharing);
        for (r, request) in pool {
            for (a, attempt) in request.attempts.iter().enumerate() {
                if attempt.ended_at.is_none() {
                    in_flight.push((attempt.started_at, r, a));
                }
            }
        }
        if in_flight.len() > connections {
            in_flight.select_nth_unstable_by(connections, |x, y| x.0.total_cmp(&y.0));
            in_flight.truncate(connections);
        }
        let mut changed = false;
        for (started_at, r, a) in in_flight {
            let attempt = &mut self.requests[r].attempts[a];
            if attempt.slot_at.is_none() {
                attempt.slot_at = Some(started_at.max(self.latest_end));
                changed = true;
            }
        }
        self.revision += u64::from(changed);
        changed
    }

    /// Fills in when ended attempts really left (after waiting for a connection) and over which
    /// protocol, from the browser's resource timing: `lookup` gives it for an address. Each
    /// attempt is looked up on a few frames at most. Returns whether anything changed.
    pub fn fill_sent_times(&mut self, lookup: impl Fn(&str) -> Option<EchoTiming>) -> bool {
        let mut changed = false;
        for request in &mut self.requests {
            for attempt in &mut request.attempts {
                let Some(report) = attempt.report.as_mut() else {
                    continue;
                };
                if report.sent_at.is_some() || attempt.timing_lookups >= MAX_TIMING_LOOKUPS {
                    continue;
                }
                attempt.timing_lookups += 1;
                if let Some(timing) = lookup(&attempt.address) {
                    report.sent_at = Some(timing.request_start);
                    report.protocol = timing.protocol;
                    changed = true;
                }
            }
        }
        self.revision += u64::from(changed);
        changed
    }

    /// The summary of every request shown.
    pub fn summary(&self, now: f64) -> Summary {
        summary_of(&self.requests, now)
    }

    /// The summary of one run's requests.
    pub fn summary_of_run(&self, run: u32, now: f64) -> Summary {
        summary_of(
            self.requests.iter().filter(|request| request.run == run),
            now,
        )
    }

    fn get_mut(&mut self, seq: u64) -> Option<&mut Request> {
        let index = *self.index.get(&seq)?;
        self.requests.get_mut(index)
    }
}

fn summary_of<'a>(requests: impl IntoIterator<Item = &'a Request>, now: f64) -> Summary {
    let mut summary = Summary::default();
    let mut first_queued = f64::INFINITY;
    let mut last_end = f64::NEG_INFINITY;
    let mut any = false;
    for request in requests {
        any = true;
        first_queued = first_queued.min(request.queued_at);
        last_end = last_end.max(request.finished_at.unwrap_or(now));
        summary.retries += request
            .attempts
            .iter()
            .filter(|a| {
                a.report
                    .as_ref()
                    .is_some_and(|r| r.outcome == Outcome::Retried)
            })
            .count();
        match request.outcome {
            Outcome::InFlight if request.is_queued() => summary.queued += 1,
            Outcome::InFlight => summary.in_flight += 1,
            Outcome::Applied => summary.ok += 1,
            Outcome::Aborted => summary.aborted += 1,
            Outcome::TimedOut => summary.timed_out += 1,
            Outcome::StaleDiscarded => summary.discarded += 1,
            Outcome::Failed | Outcome::Retried => summary.failed += 1,
        }
        summary.racing += usize::from(request.race);
        if let Some(latency) = request.latency_ms() {
            let waited = request.connection_wait_ms().min(latency);
            summary.sum_ms += latency - waited;
            if request.outcome == Outcome::Applied {
                summary.latencies.push(latency);
                summary.connection_waits.push(waited);
                summary.protocols.extend(
                    request
                        .attempts
                        .iter()
                        .filter_map(|a| a.report.as_ref()?.protocol.clone()),
                );
            }
        }
    }
    if any {
        summary.wall_ms = (last_end - first_queued).max(0.0);
    }
    summary.latencies.sort_by(f64::total_cmp);
    summary.connection_waits.sort_by(f64::total_cmp);
    summary
}

/// Nearest-rank percentile of `sorted` (ascending), `p` in `0..=100`.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// One bar of the latency histogram: `[from_ms, to_ms)` and how many latencies fell in it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bin {
    pub from_ms: f64,
    pub to_ms: f64,
    pub count: usize,
}

/// `bins` equal-width bins from 0 to the largest value (the largest falls in the last bin).
pub fn histogram(values: &[f64], bins: usize) -> Vec<Bin> {
    let bins = bins.max(1);
    let max = values.iter().copied().fold(0.0, f64::max);
    let width = if max > 0.0 { max / bins as f64 } else { 1.0 };
    let mut counts = vec![0; bins];
    for value in values {
        let bin = ((value / width).floor() as usize).min(bins - 1);
        counts[bin] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, count)| Bin {
            from_ms: i as f64 * width,
            to_ms: (i + 1) as f64 * width,
            count,
        })
        .collect()
}
