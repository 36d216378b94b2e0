//! A room's live session with the server, one mechanism for Mail and Tasks: load what the server
//! has and where its event stream stands, then follow the stream from there. Whenever the lists
//! were never loaded, the stream was lost, or an event names something the page does not know,
//! it starts over the same way — load, then stream from the position loaded — after a backoff
//! with jitter. So a tab that starts offline, or whose first load failed, catches up exactly as a
//! tab that lost its stream does, and an event missed in between is in the lists.
//!
//! A room says what loading and following mean for it ([`Feed`]); the session keeps the one
//! stream, the one timer and the generation (each start bumps it, and anything a superseded
//! start still delivers is ignored).

use std::future::Future;

use gloo_timers::callback::Timeout;
use leptos::prelude::*;

use super::ApiError;
use super::push::{Push, PushStream, Pushed};
use super::retry::RetryPolicy;

/// How the session is doing, for the room to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// Nothing to follow yet (no mailbox chosen, no job submitted).
    Idle,
    Connecting,
    Live,
    /// Lost: loading again after a pause.
    Reconnecting,
    /// Asking for the lists at an interval instead of following a stream.
    Polling,
    /// Offline (the browser's, or the page's switch): nothing leaves.
    Offline,
}

impl Connection {
    pub fn label(self) -> &'static str {
        match self {
            Self::Idle => "not started",
            Self::Connecting => "connecting…",
            Self::Live => "live",
            Self::Reconnecting => "reconnecting…",
            Self::Polling => "polling",
            Self::Offline => "offline",
        }
    }
}

/// How the session learns of changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// The server pushes each change on the event stream.
    Push,
    /// The lists are loaded again every so many milliseconds.
    Poll(u32),
}

/// What a room's session loads and follows.
pub trait Feed: Copy + 'static {
    /// Where the stream stands after a load (an event id; for Mail also the stream's ticket).
    type Position: 'static;

    /// Loads what the server has, puts it in the room's lists, and says where the stream stands.
    fn load(self) -> impl Future<Output = Result<Self::Position, ApiError>> + 'static;

    /// Opens the event stream after `position`; `on_push` hears what it brings.
    fn open(
        self,
        position: Self::Position,
        on_push: impl Fn(Push) + 'static,
    ) -> Result<PushStream, ApiError>;

    /// One event from the stream. `false` when it names something the lists do not have (a
    /// receipt for a message whose answer was lost): the session loads again.
    fn apply(self, event: &Pushed) -> bool;

    /// Whether `error` means loading again cannot help (the server no longer knows who this is).
    fn gone_for_good(self, error: &ApiError) -> bool {
        let _ = error;
        false
    }
}

/// Starting over after a loss: from 1 s, doubling, never above 15 s, drawn with full jitter so
/// the tabs of a restarted server do not all come back at once.
pub const RECONNECT: RetryPolicy = RetryPolicy {
    max_retries: u32::MAX,
    base_ms: 1_000,
    cap_ms: 15_000,
};

/// One room's session; `Copy`.
#[derive(Clone, Copy)]
pub struct Live {
    pub connection: RwSignal<Connection>,
    /// The last thing that went wrong loading or following, for the room to show.
    pub problem: RwSignal<Option<String>>,
    pub follow: RwSignal<Follow>,
    runtime: StoredValue<Runtime, LocalStorage>,
}

#[derive(Default)]
struct Runtime {
    generation: u64,
    stream: Option<PushStream>,
    timer: Option<Timeout>,
    /// Losses in a row, for the backoff.
    losses: u32,
}

impl Live {
    pub fn new(follow: Follow) -> Self {
        Self {
            connection: RwSignal::new(Connection::Idle),
            problem: RwSignal::new(None),
            follow: RwSignal::new(follow),
            runtime: StoredValue::new_local(Runtime::default()),
        }
    }

    /// Starts over: drops the stream and the timer, loads, then follows from what was loaded.
    pub fn start<F: Feed>(&self, feed: F) {
        let generation = self.reset();
        // Reloading while live, polling or reconnecting says so already.
        if matches!(
            self.connection.get_untracked(),
            Connection::Idle | Connection::Offline
        ) {
            self.connection.set(Connection::Connecting);
        }
        let live = *self;
        leptos::task::spawn_local(async move {
            let loaded = feed.load().await;
            if !live.current(generation) {
                return;
            }
            match loaded {
                Ok(position) => live.loaded(feed, generation, position),
                Err(error) if feed.gone_for_good(&error) => live.stop(Connection::Idle),
                Err(error) => live.lost(feed, generation, error.to_string()),
            }
        });
    }

    /// Stops following: no stream, no timer, `connection` shown.
    pub fn stop(&self, connection: Connection) {
        self.reset();
        self.connection.set(connection);
    }

    /// Drops what a previous start left running and returns the new generation.
    fn reset(&self) -> u64 {
        self.runtime.update_value(|r| {
            r.generation += 1;
            r.stream = None;
            r.timer = None;
        });
        self.runtime.with_value(|r| r.generation)
    }

    fn current(&self, generation: u64) -> bool {
        self.runtime
            .try_with_value(|r| r.generation == generation)
            .unwrap_or(false)
    }

    fn loaded<F: Feed>(&self, feed: F, generation: u64, position: F::Position) {
        self.problem.set(None);
        match self.follow.get_untracked() {
            Follow::Poll(every) => {
                self.runtime.update_value(|r| r.losses = 0);
                self.connection.set(Connection::Polling);
                self.after(every, generation, move |live| live.start(feed));
            }
            Follow::Push => {
                let live = *self;
                let opened = feed.open(position, move |push| {
                    if live.current(generation) {
                        live.pushed(feed, generation, push);
                    }
                });
                match opened {
                    Ok(stream) => self.runtime.update_value(|r| r.stream = Some(stream)),
                    Err(error) => self.lost(feed, generation, error.to_string()),
                }
            }
        }
    }

    fn pushed<F: Feed>(&self, feed: F, generation: u64, push: Push) {
        match push {
            Push::Opened => {
                self.connection.set(Connection::Live);
                self.problem.set(None);
                self.runtime.update_value(|r| r.losses = 0);
            }
            // The browser reconnects by itself with `Last-Event-ID`; if it is refused, `Closed`.
            Push::Reconnecting => self.connection.set(Connection::Reconnecting),
            Push::Closed => self.lost(feed, generation, "the event stream closed".to_owned()),
            Push::Event(event) => {
                if !feed.apply(&event) {
                    self.start(feed);
                }
            }
        }
    }

    /// Lost (a failed load, a closed stream): say so, and start over after a backoff.
    fn lost<F: Feed>(&self, feed: F, generation: u64, why: String) {
        self.runtime.update_value(|r| r.stream = None);
        self.problem.set(Some(why));
        self.connection.set(Connection::Reconnecting);
        let losses = self.runtime.with_value(|r| r.losses);
        self.runtime.update_value(|r| r.losses += 1);
        let wait = RECONNECT.backoff_ms(losses, js_sys::Math::random(), None);
        self.after(wait.max(250), generation, move |live| live.start(feed));
    }

    /// Runs `then` after `ms`, unless the session has started over meanwhile.
    fn after(&self, ms: u32, generation: u64, then: impl FnOnce(Self) + 'static) {
        let live = *self;
        let timer = Timeout::new(ms, move || {
            if live.current(generation) {
                then(live);
            }
        });
        self.runtime.update_value(|r| r.timer = Some(timer));
    }
}
