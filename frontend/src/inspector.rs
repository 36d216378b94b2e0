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
    /// The inspector's own server panel (`/api/server/live`).
    Inspector,
}

impl Room {
    pub const ALL: [Self; 6] = [
        Self::Shell,
        Self::Lab,
        Self::Search,
        Self::Mail,
        Self::Tasks,
        Self::Inspector,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Shell => "the header",
            Self::Lab => "Lab",
            Self::Search => "Search",
            Self::Mail => "Mail",
            Self::Tasks => "Tasks",
            Self::Inspector => "the server panel",
        }
    }
}

/// Which attempt of a request this is, when the page may try it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first.
    pub number: u32,
    /// Most attempts the page will make.
    pub of: u32,
}

impl Attempt {
    /// "attempt 2 of 3", or "attempt 2" when there is no limit (`of` is `u32::MAX`).
    pub fn words(self) -> String {
        if self.of == u32::MAX {
            format!("attempt {}", self.number)
        } else {
            format!("attempt {} of {}", self.number, self.of)
        }
    }
}

/// What the page says of a request as it sends it, beyond its method and address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct About {
    /// How the page sends it (the Lab's strategy, Search's, the outbox's retrying).
    pub strategy: Option<String>,
    pub attempt: Option<Attempt>,
    /// The `Idempotency-Key` it carries: every attempt of one write carries the same.
    pub idempotency_key: Option<String>,
}

/// The browser's own account of a request (its resource timing), in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Phases {
    /// The protocol the answer came over, as the browser names it (`http/1.1`, `h2`).
    pub protocol: String,
    /// From the call to the request leaving: waiting for a connection (the browser's six per
    /// server over HTTP/1.1), and opening one.
    pub queued: f64,
    /// Opening a connection, when this request opened one (part of `queued`).
    pub connect: f64,
    /// From the request leaving to the answer's first byte: the network both ways and the
    /// server's whole time.
    pub waiting: f64,
    /// Reading the answer's body.
    pub download: f64,
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
    /// The server gave the first attempt's answer again (`Idempotent-Replayed`).
    pub replayed: bool,
    /// The answer's `Retry-After`, in seconds.
    pub retry_after_s: Option<u32>,
    /// The browser's own phases, once it has filed the request's resource timing.
    pub browser: Option<Phases>,
    pub about: About,
    /// Why it ended as it did, in the words of the code that knows (a newer query answered,
    /// the room was left, a retry followed); see [`Entry::reason`].
    pub why: Option<String>,
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
    begin_with(method, path, About::default())
}

/// Starts recording a request, with what the page says of it.
pub fn begin_with(method: &'static str, path: &str, about: About) -> EntryId {
    let id = push(
        EntryKind::Request {
            method,
            path: path.to_owned(),
        },
        crate::api::room_of(path),
        about,
    );
    changed();
    id
}

impl Entry {
    /// Why it ended as it did, in words: what the code that knew said, or what its outcome and
    /// answer say.
    pub fn reason(&self) -> String {
        if let Some(why) = &self.why {
            return why.clone();
        }
        if let EntryKind::Event { .. } = self.kind {
            return "pushed by the server".to_owned();
        }
        match self.outcome {
            Outcome::InFlight if self.status.is_some() => "answering".to_owned(),
            Outcome::InFlight => "waiting for the answer".to_owned(),
            Outcome::Applied if self.replayed => {
                "deduplicated by its Idempotency-Key: the first attempt's answer, nothing done twice"
                    .to_owned()
            }
            Outcome::Applied => "answered and used".to_owned(),
            Outcome::StaleDiscarded => "stale — a newer request had answered".to_owned(),
            Outcome::Aborted => "aborted by the page".to_owned(),
            Outcome::TimedOut => "timed out — the page stopped waiting".to_owned(),
            Outcome::Failed => match self.status {
                Some(status) => format!("failed — answered {status}"),
                None => "failed — no answer".to_owned(),
            },
            Outcome::Retried => "failed, and tried again".to_owned(),
        }
    }
}

thread_local! {
    static ENDING_BECAUSE: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// Runs `end`, and every request it aborts says `words` as the reason (a room left drops the
/// work it started: `inspector::because("aborted — left the room", …)`).
pub fn because<T>(words: &'static str, end: impl FnOnce() -> T) -> T {
    let before = ENDING_BECAUSE.replace(Some(words));
    let ended = end();
    ENDING_BECAUSE.set(before);
    ended
}

/// What an answer's headers say of the server's side: who answered (`X-Served-By`; none when the
/// answer came from elsewhere, a proxy's error say), the request's id, and the server's account
/// of its time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerSide {
    pub served_by: Option<String>,
    pub request_id: Option<String>,
    pub server_timing: Option<String>,
    /// The first attempt's answer, given again (`Idempotent-Replayed: true`).
    pub replayed: bool,
    /// `Retry-After`, in seconds.
    pub retry_after_s: Option<u32>,
}

impl ServerSide {
    /// Read from an answer's headers, `header` giving one by its name.
    pub fn read(header: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            served_by: header(SERVED_BY_HEADER),
            request_id: header("x-request-id"),
            server_timing: header("server-timing"),
            replayed: header("idempotent-replayed").is_some_and(|v| v == "true"),
            retry_after_s: header("retry-after").and_then(|v| v.trim().parse().ok()),
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
        entry.replayed = server.replayed;
        entry.retry_after_s = server.retry_after_s;
    });
}

/// A `Server-Timing` value in a few words: the total first, then each part that took any time,
/// e.g. `305.5 ms: wait 300.0, db 3.0, handler 1.2` (the rest of the value, descriptions, is
/// the browser's devtools' business).
pub fn timing_in_words(value: &str) -> String {
    let mut total = None;
    let mut parts = Vec::new();
    let mut said = Vec::new();
    for entry in value.split(',') {
        let mut fields = entry.trim().split(';');
        let name = fields.next().unwrap_or_default().trim();
        let fields: Vec<&str> = fields.map(str::trim).collect();
        let Some(ms) = fields
            .iter()
            .find_map(|field| field.strip_prefix("dur="))
            .and_then(|ms| ms.parse::<f64>().ok())
        else {
            // A metric without a time says something in words (the Lab's faults).
            said.extend(fields.iter().find_map(|field| description(field)));
            continue;
        };
        if name == "total" {
            total = Some(ms);
        } else if ms > 0.0 {
            parts.push(format!("{name} {ms:.1}"));
        }
    }
    let account = match total {
        Some(total) if parts.is_empty() => format!("{total:.1} ms"),
        Some(total) => format!("{total:.1} ms: {}", parts.join(", ")),
        None => parts.join(", "),
    };
    said.push(account);
    said.retain(|words| !words.is_empty());
    said.join(" · ")
}

/// What a `Server-Timing` metric says in words, if it has one that is not about time: the
/// Lab's `fault` (what the server did to the answer on purpose).
pub fn server_said(value: &str) -> Option<String> {
    value.split(',').find_map(|entry| {
        let mut fields = entry.trim().split(';').map(str::trim);
        (fields.next()? == "fault").then(|| fields.find_map(description))?
    })
}

/// The text of a `desc="…"` field.
fn description(field: &str) -> Option<String> {
    let text = field.strip_prefix("desc=")?;
    Some(text.trim_matches('"').to_owned())
}

/// The browser's phases in a few words: `http/1.1: queued 0.4, waiting 305.2, download 0.3`,
/// with the connection's opening when this request opened one.
pub fn phases_in_words(phases: &Phases) -> String {
    let connect = if phases.connect > 0.0 {
        format!(" (connect {:.1})", phases.connect)
    } else {
        String::new()
    };
    let protocol = if phases.protocol.is_empty() {
        String::new()
    } else {
        format!("{}: ", phases.protocol)
    };
    format!(
        "{protocol}queued {:.1}{connect}, waiting {:.1}, download {:.1}",
        phases.queued, phases.waiting, phases.download
    )
}

/// The instance holding a stream said its name (a stream cannot read headers: the server sends
/// it as the stream's first event).
pub fn served_by(id: EntryId, name: String) {
    update(id, |entry| entry.served_by = Some(name));
}

/// The header that names the instance which answered.
pub const SERVED_BY_HEADER: &str = "x-served-by";

/// The request ended with `outcome` (an abort within [`because`] says its words).
pub fn finish(id: EntryId, outcome: Outcome) {
    let because = ENDING_BECAUSE.get();
    update(id, |entry| {
        entry.done_ms.get_or_insert_with(now_ms);
        entry.outcome = outcome;
        if outcome == Outcome::Aborted
            && let Some(words) = because
        {
            entry.why.get_or_insert_with(|| words.to_owned());
        }
    });
}

/// Changes the outcome of a request that already ended: e.g. a caller learns its answer is stale,
/// or that the abort it saw was a timeout.
pub fn reclassify(id: EntryId, outcome: Outcome) {
    update(id, |entry| entry.outcome = outcome);
}

/// [`reclassify`], saying why in words ("stale — a newer query had answered").
pub fn reclassify_because(id: EntryId, outcome: Outcome, why: String) {
    update(id, |entry| {
        entry.outcome = outcome;
        entry.why = Some(why);
    });
}

/// The browser filed its resource timing of the request to `address` (absolute, as the browser
/// names it) that it was asked for at `fetch_start_ms`: its phases go to that entry. A request's
/// entry begins just before the browser is asked, so it is the newest request to that address
/// begun at most a few milliseconds before, without phases yet.
pub fn browser_phases(address: &str, fetch_start_ms: f64, phases: Phases) {
    let found = RING.with_borrow_mut(|ring| {
        // Entries are in the order they began: look only at those begun just before.
        let from = ring
            .entries
            .partition_point(|entry| entry.started_ms < fetch_start_ms - MATCH_WINDOW_MS);
        let to = ring
            .entries
            .partition_point(|entry| entry.started_ms <= fetch_start_ms + 1.0);
        let entry = ring
            .entries
            .range_mut(from..to)
            .rev()
            .find(|entry| match &entry.kind {
                EntryKind::Request { path, .. } => {
                    entry.browser.is_none() && address.ends_with(path.as_str())
                }
                EntryKind::Event { .. } => false,
            })?;
        entry.browser = Some(phases);
        entry.revision += 1;
        Some(())
    });
    if found.is_some() {
        changed();
    }
}

/// Files the browser's resource timing of every `fetch` and `XMLHttpRequest` of the page under
/// its entry, as the browser reports them (a `PerformanceObserver`: it hears of each however
/// full the browser's own buffer is). Called once, when the page starts.
pub fn watch_resource_timing() {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{
        PerformanceObserver, PerformanceObserverEntryList, PerformanceObserverInit,
        PerformanceResourceTiming,
    };
    let on_entries = Closure::<dyn FnMut(PerformanceObserverEntryList)>::new(
        |list: PerformanceObserverEntryList| {
            for entry in list.get_entries() {
                let Ok(timing) = entry.dyn_into::<PerformanceResourceTiming>() else {
                    continue;
                };
                if !matches!(timing.initiator_type().as_str(), "fetch" | "xmlhttprequest") {
                    continue;
                }
                // 0 when the browser does not say (a request that failed before it left).
                let left = if timing.request_start() > 0.0 {
                    timing.request_start()
                } else {
                    timing.fetch_start()
                };
                let first_byte = timing.response_start().max(left);
                let phases = Phases {
                    protocol: timing.next_hop_protocol(),
                    queued: left - timing.start_time(),
                    connect: timing.connect_end() - timing.connect_start(),
                    waiting: first_byte - left,
                    download: (timing.response_end() - first_byte).max(0.0),
                };
                browser_phases(&timing.name(), timing.start_time(), phases);
            }
        },
    );
    let Ok(observer) = PerformanceObserver::new(on_entries.as_ref().unchecked_ref()) else {
        return;
    };
    let options = PerformanceObserverInit::new(&js_sys::Array::of1(&"resource".into()));
    observer.observe(&options);
    // Observes for the page's whole life.
    on_entries.forget();
}

/// How long before the browser's `fetch` a request's entry may have begun.
const MATCH_WINDOW_MS: f64 = 50.0;

/// Records a pushed event as a marker, with the instance whose stream brought it when known.
/// `source` is the stream's address.
pub fn event(name: &str, source: &str, served_by: Option<String>) {
    let id = push(
        EntryKind::Event {
            name: name.to_owned(),
        },
        crate::api::room_of(source),
        About::default(),
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

fn push(kind: EntryKind, room: Room, about: About) -> EntryId {
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
            replayed: false,
            retry_after_s: None,
            browser: None,
            about,
            why: None,
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
