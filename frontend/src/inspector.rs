//! The inspector's recorder: every request the API client makes, and every pushed event, as a
//! bounded ring of entries. Recording is cheap (no signal is touched per request); the drawer is
//! told about changes at most once per animation frame, so a thousand completions cost one redraw.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use leptos::prelude::*;

use crate::frame::{self, now_ms};

/// How many entries the inspector keeps; older ones are forgotten.
pub const CAPACITY: usize = 2_000;

/// Identifies one recorded request.
pub type EntryId = u64;

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Sent, no answer yet.
    InFlight,
    /// Answered successfully and used.
    Applied,
    /// Answered, but a newer request made the answer irrelevant.
    StaleDiscarded,
    /// Cancelled through its `AbortSignal`.
    Aborted,
    /// Cancelled because it took longer than its timeout.
    TimedOut,
    /// Answered with an error, or no answer at all.
    Failed,
    /// Failed, and another attempt was made.
    Retried,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Self::InFlight => "in flight",
            Self::Applied => "applied",
            Self::StaleDiscarded => "stale — discarded",
            Self::Aborted => "aborted",
            Self::TimedOut => "timed out",
            Self::Failed => "failed",
            Self::Retried => "retried",
        }
    }

    /// The CSS custom property holding this outcome's colour (`style/base.css`), for what is
    /// drawn rather than styled (the Lab's waterfall).
    pub fn colour_var(self) -> &'static str {
        match self {
            Self::InFlight => "--outcome-in-flight",
            Self::Applied => "--outcome-ok",
            Self::StaleDiscarded => "--outcome-stale",
            Self::Aborted => "--outcome-aborted",
            Self::TimedOut => "--outcome-timed-out",
            Self::Failed => "--outcome-failed",
            Self::Retried => "--outcome-retried",
        }
    }

    /// The CSS class that colours this outcome everywhere.
    pub fn class(self) -> &'static str {
        match self {
            Self::InFlight => "in-flight",
            Self::Applied => "ok",
            Self::StaleDiscarded => "stale",
            Self::Aborted => "aborted",
            Self::TimedOut => "timed-out",
            Self::Failed => "failed",
            Self::Retried => "retried",
        }
    }
}

impl Outcome {
    /// Every outcome, in the order a person reads them.
    pub const ALL: [Self; 7] = [
        Self::InFlight,
        Self::Applied,
        Self::StaleDiscarded,
        Self::Aborted,
        Self::TimedOut,
        Self::Failed,
        Self::Retried,
    ];
}

/// Which part of the page a request or event belongs to, told by the API path it went to
/// ([`crate::api::room_of`]; the Techniques room's examples call the Lab's echo: they count as
/// the Lab's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// The header's server status (`/api/health`).
    Shell,
    Lab,
    Search,
    Mail,
    Tasks,
}

impl Room {
    pub const ALL: [Self; 5] = [
        Self::Shell,
        Self::Lab,
        Self::Search,
        Self::Mail,
        Self::Tasks,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Shell => "the header",
            Self::Lab => "Lab",
            Self::Search => "Search",
            Self::Mail => "Mail",
            Self::Tasks => "Tasks",
        }
    }
}

/// One line of the inspector: a request, or a pushed event (a marker).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: EntryId,
    pub kind: EntryKind,
    pub room: Room,
    /// `performance.now()` when the request was handed to the browser.
    pub started_ms: f64,
    /// When the answer's status and headers arrived.
    pub first_byte_ms: Option<f64>,
    /// When the answer was read completely (or the request ended otherwise).
    pub done_ms: Option<f64>,
    pub status: Option<u16>,
    /// The server instance that answered (its `X-Served-By`), or that holds the stream.
    pub served_by: Option<String>,
    /// The id the server gave the request (`x-request-id`), which its log line carries.
    pub request_id: Option<String>,
    /// The server's own account of its time (`Server-Timing`).
    pub server_timing: Option<String>,
    pub outcome: Outcome,
    /// Counts the changes to this entry, so a view can tell a changed entry from the same one.
    pub revision: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EntryKind {
    Request { method: &'static str, path: String },
    Event { name: String },
}

#[derive(Default)]
struct Ring {
    entries: VecDeque<Entry>,
    next_id: EntryId,
}

impl Ring {
    fn find(&mut self, id: EntryId) -> Option<&mut Entry> {
        // Ids grow by one, so the entry's place is known from the oldest one kept.
        let first = self.entries.front()?.id;
        let index = usize::try_from(id.checked_sub(first)?).ok()?;
        self.entries.get_mut(index).filter(|e| e.id == id)
    }
}

thread_local! {
    static RING: RefCell<Ring> = RefCell::new(Ring::default());
    static FLUSH_SCHEDULED: Cell<bool> = const { Cell::new(false) };
    static VERSION: RwSignal<u64> = RwSignal::new(0);
}

/// Starts recording a request; returns its id.
pub fn begin(method: &'static str, path: &str) -> EntryId {
    let id = push(
        EntryKind::Request {
            method,
            path: path.to_owned(),
        },
        crate::api::room_of(path),
    );
    changed();
    id
}

/// What an answer's headers say of the server's side: who answered (`X-Served-By`; none when the
/// answer came from elsewhere, a proxy's error say), the request's id, and the server's account
/// of its time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerSide {
    pub served_by: Option<String>,
    pub request_id: Option<String>,
    pub server_timing: Option<String>,
}

impl ServerSide {
    /// Read from an answer's headers, `header` giving one by its name.
    pub fn read(header: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            served_by: header(SERVED_BY_HEADER),
            request_id: header("x-request-id"),
            server_timing: header("server-timing"),
        }
    }
}

/// The answer's status and headers arrived.
pub fn first_byte(id: EntryId, status: u16, server: ServerSide) {
    update(id, |entry| {
        entry.first_byte_ms = Some(now_ms());
        entry.status = Some(status);
        if server.served_by.is_some() {
            entry.served_by = server.served_by;
        }
        entry.request_id = server.request_id;
        entry.server_timing = server.server_timing;
    });
}

/// A `Server-Timing` value in a few words: the total first, then each part that took any time,
/// e.g. `305.5 ms: wait 300.0, db 3.0, handler 1.2` (the rest of the value, descriptions, is
/// the browser's devtools' business).
pub fn timing_in_words(value: &str) -> String {
    let mut total = None;
    let mut parts = Vec::new();
    for entry in value.split(',') {
        let mut fields = entry.trim().split(';');
        let name = fields.next().unwrap_or_default().trim();
        let Some(ms) = fields
            .find_map(|field| field.trim().strip_prefix("dur="))
            .and_then(|ms| ms.parse::<f64>().ok())
        else {
            continue;
        };
        if name == "total" {
            total = Some(ms);
        } else if ms > 0.0 {
            parts.push(format!("{name} {ms:.1}"));
        }
    }
    match total {
        Some(total) if parts.is_empty() => format!("{total:.1} ms"),
        Some(total) => format!("{total:.1} ms: {}", parts.join(", ")),
        None => parts.join(", "),
    }
}

/// The instance holding a stream said its name (a stream cannot read headers: the server sends
/// it as the stream's first event).
pub fn served_by(id: EntryId, name: String) {
    update(id, |entry| entry.served_by = Some(name));
}

/// The header that names the instance which answered.
pub const SERVED_BY_HEADER: &str = "x-served-by";

/// The request ended with `outcome`.
pub fn finish(id: EntryId, outcome: Outcome) {
    update(id, |entry| {
        entry.done_ms.get_or_insert_with(now_ms);
        entry.outcome = outcome;
    });
}

/// Changes the outcome of a request that already ended: e.g. a caller learns its answer is stale,
/// or that the abort it saw was a timeout.
pub fn reclassify(id: EntryId, outcome: Outcome) {
    update(id, |entry| entry.outcome = outcome);
}

/// Records a pushed event as a marker, with the instance whose stream brought it when known.
/// `source` is the stream's address.
pub fn event(name: &str, source: &str, served_by: Option<String>) {
    let id = push(
        EntryKind::Event {
            name: name.to_owned(),
        },
        crate::api::room_of(source),
    );
    update(id, |entry| entry.served_by = served_by);
    finish(id, Outcome::Applied);
}

/// A copy of one entry, if it is still kept.
pub fn get(id: EntryId) -> Option<Entry> {
    RING.with_borrow_mut(|ring| ring.find(id).cloned())
}

/// Copies of the newest `count` entries, newest first.
pub fn newest(count: usize) -> Vec<Entry> {
    newest_matching(count, |_| true)
}

/// Copies of the newest `count` entries that `wanted` keeps, newest first.
pub fn newest_matching(count: usize, wanted: impl Fn(&Entry) -> bool) -> Vec<Entry> {
    RING.with_borrow(|ring| {
        ring.entries
            .iter()
            .rev()
            .filter(|entry| wanted(entry))
            .take(count)
            .cloned()
            .collect()
    })
}

/// How many entries are kept, and how many of them are still in flight.
pub fn counts() -> (usize, usize) {
    RING.with_borrow(|ring| {
        let in_flight = ring
            .entries
            .iter()
            .filter(|e| e.outcome == Outcome::InFlight)
            .count();
        (ring.entries.len(), in_flight)
    })
}

/// Forgets every entry.
pub fn clear() {
    RING.with_borrow_mut(|ring| ring.entries.clear());
    changed();
}

/// A signal that changes (at most once per animation frame) whenever the entries do.
pub fn version() -> RwSignal<u64> {
    VERSION.with(|v| *v)
}

fn push(kind: EntryKind, room: Room) -> EntryId {
    RING.with_borrow_mut(|ring| {
        let id = ring.next_id;
        ring.next_id += 1;
        if ring.entries.len() == CAPACITY {
            ring.entries.pop_front();
        }
        ring.entries.push_back(Entry {
            id,
            kind,
            room,
            started_ms: now_ms(),
            first_byte_ms: None,
            done_ms: None,
            status: None,
            served_by: None,
            request_id: None,
            server_timing: None,
            outcome: Outcome::InFlight,
            revision: 0,
        });
        id
    })
}

fn update(id: EntryId, change: impl FnOnce(&mut Entry)) {
    let found = RING.with_borrow_mut(|ring| {
        ring.find(id)
            .map(|entry| {
                change(entry);
                entry.revision += 1;
            })
            .is_some()
    });
    if found {
        changed();
    }
}

/// Tells the drawer at the next animation frame, once however many changes come before it.
fn changed() {
    if FLUSH_SCHEDULED.replace(true) {
        return;
    }
    frame::next_frame(|| {
        FLUSH_SCHEDULED.set(false);
        version().update(|v| *v += 1);
    });
}
