//! This browser's Tasks session, alive in every room (so a job that finishes while the person is
//! elsewhere is told there: a toast, the count in the navigation and the title, a system
//! notification when allowed): who the browser is to the server (a random owner id kept in
//! localStorage), the board of its jobs, and how the page learns of changes — pushed on the
//! owner's event stream, or polled at a chosen interval, to compare the two in the inspector.

use gloo_timers::callback::Timeout;
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::jobs::{Job, JobEvent, JobProgress, JobSpec};
use web_sys::{Notification, NotificationOptions, NotificationPermission};

use super::board::Board;
pub use crate::api::live::{Connection, Follow};
use crate::api::live::{Feed, Live};
use crate::api::push::{Push, PushStream, Pushed};
use crate::api::retry::{self, RetryPolicy};
use crate::api::{self, ApiError};

const OWNER: &str = "meanwhile.tasks.owner";
/// How long a toast stays before it goes by itself.
const TOAST_MS: u32 = 20_000;
/// How a submission is tried again: a few times within about ten seconds, then the person is
/// told (and may press Submit again: the server has not queued it).
const SUBMIT_RETRY: RetryPolicy = RetryPolicy {
    max_retries: 4,
    base_ms: 500,
    cap_ms: 4_000,
};

/// A finished job told to the person outside the Tasks room.
#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    pub id: u64,
    pub job: Job,
}

/// Handles to the session's state; `Copy`, shared through the context.
#[derive(Clone, Copy)]
pub struct TasksSession {
    pub board: RwSignal<Board>,
    /// Pushed on the owner's event stream, or polled at an interval.
    pub delivery: RwSignal<Follow>,
    pub connection: RwSignal<Connection>,
    pub toasts: RwSignal<Vec<Toast>>,
    /// The last thing that went wrong loading or following the jobs.
    pub problem: RwSignal<Option<String>>,
    /// Whether the browser shows this page's system notifications.
    pub notifications: RwSignal<bool>,
    live: Live,
    runtime: StoredValue<Runtime, LocalStorage>,
}

#[derive(Default)]
struct Runtime {
    owner: Option<String>,
    next_toast: u64,
}

/// The session, from the context the shell provides.
pub fn use_tasks() -> TasksSession {
    expect_context::<TasksSession>()
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

impl TasksSession {
    /// Creates the session, provides it as context, and follows this browser's jobs if it has
    /// submitted any.
    pub fn provide() -> Self {
        let live = Live::new(Follow::Push);
        let session = Self {
            board: RwSignal::new(Board::default()),
            delivery: live.follow,
            connection: live.connection,
            toasts: RwSignal::new(Vec::new()),
            problem: live.problem,
            notifications: RwSignal::new(
                Notification::permission() == NotificationPermission::Granted,
            ),
            live,
            runtime: StoredValue::new_local(Runtime {
                owner: storage().and_then(|s| s.get_item(OWNER).ok().flatten()),
                ..Runtime::default()
            }),
        };
        provide_context(session);
        // A change of delivery starts over the new way.
        Effect::new(move |previous: Option<Follow>| {
            let delivery = session.delivery.get();
            if previous.is_some_and(|previous| previous != delivery) {
                session.start();
            }
            delivery
        });
        if session.owner().is_some() {
            session.start();
        }
        session
    }

    fn owner(&self) -> Option<String> {
        self.runtime.with_value(|r| r.owner.clone())
    }

    /// This browser's owner id, made (and kept) the first time it submits a job.
    fn ensure_owner(&self) -> String {
        if let Some(owner) = self.owner() {
            return owner;
        }
        let owner = web_sys::window()
            .and_then(|w| w.crypto().ok())
            .map(|crypto| crypto.random_uuid())
            .unwrap_or_else(|| format!("{}", js_sys::Math::random()).replace('.', ""));
        if let Some(storage) = storage() {
            let _ = storage.set_item(OWNER, &owner);
        }
        self.runtime.update_value(|r| r.owner = Some(owner.clone()));
        self.start();
        owner
    }

    /// Loads the list, then follows it the chosen way (the one session mechanism, `api::live`).
    fn start(&self) {
        if self.owner().is_some() {
            self.live.start(*self);
        }
    }

    /// A job finished: outside the Tasks room a toast, and a system notification when the
    /// browser allows them and the person is not looking at the page.
    fn tell(&self, job: Job) {
        let location = web_sys::window().and_then(|w| w.location().pathname().ok());
        let in_tasks = location.as_deref() == Some("/tasks");
        let hidden = web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.hidden());
        if self.notifications.get_untracked() && (hidden || !in_tasks) {
            let options = NotificationOptions::new();
            options.set_body(&describe(&job.spec));
            options.set_tag(&job.id);
            let _ =
                Notification::new_with_options(&format!("Job {}", job.state.as_str()), &options);
        }
        if in_tasks {
            return;
        }
        let id = self.runtime.with_value(|r| r.next_toast);
        self.runtime.update_value(|r| r.next_toast += 1);
        self.toasts.update(|toasts| toasts.push(Toast { id, job }));
        let toasts = self.toasts;
        Timeout::new(TOAST_MS, move || {
            toasts.try_update(|toasts| toasts.retain(|toast| toast.id != id));
        })
        .forget();
    }

    pub fn dismiss(&self, toast: u64) {
        self.toasts
            .update(|toasts| toasts.retain(|known| known.id != toast));
    }

    /// Asks the browser to show this page's notifications.
    pub fn allow_notifications(&self) {
        let allowed = self.notifications;
        if let Ok(promise) = Notification::request_permission() {
            spawn_local(async move {
                let answer = wasm_bindgen_futures::JsFuture::from(promise).await;
                let granted = answer
                    .ok()
                    .and_then(|value| value.as_string())
                    .is_some_and(|value| value == "granted");
                allowed.set(granted);
            });
        }
    }

    /// Submits a job, trying again with the same `Idempotency-Key` while the network or the
    /// server may pass, so a lost answer never queues it twice; it is on the board as soon as
    /// the server has it. `Err` only when it was not queued.
    pub async fn submit(&self, spec: JobSpec) -> Result<(), ApiError> {
        let owner = self.ensure_owner();
        let key = retry::idempotency_key();
        let accepted =
            retry::retrying(SUBMIT_RETRY, |_| api::tasks::submit(&spec, &owner, &key)).await?;
        // Queued: from here on nothing may say otherwise. If this read fails, the stream (or the
        // next poll) brings the job instead.
        if let Ok(job) = api::tasks::job(&accepted.id).await
            && let Some(job) = self.board.try_update(|board| board.put(job)).flatten()
        {
            self.tell(job);
        }
        Ok(())
    }

    pub async fn cancel(&self, id: &str) -> Result<(), ApiError> {
        let job = api::tasks::cancel(id).await?;
        self.board.update(|board| {
            board.put(job);
        });
        Ok(())
    }

    /// Jobs queued or running, for the navigation and the title.
    pub fn unfinished(&self) -> usize {
        self.board.with(Board::unfinished)
    }
}

/// What the Tasks session loads (the owner's list, and where its stream stands) and follows.
impl Feed for TasksSession {
    type Position = (String, i64);

    async fn load(self) -> Result<Self::Position, ApiError> {
        let owner = self.owner().ok_or(ApiError::Aborted)?;
        let list = api::tasks::list(&owner).await?;
        let mut told = Vec::new();
        self.board.update(|board| {
            if board.last_event_id() == 0 && board.jobs().is_empty() {
                *board = Board::from_list(list);
            } else {
                told = board.sync(list);
            }
        });
        told.into_iter().for_each(|job| self.tell(job));
        let position = self.board.with_untracked(Board::last_event_id);
        Ok((owner, position))
    }

    fn open(
        self,
        (owner, after): Self::Position,
        on_push: impl Fn(Push) + 'static,
    ) -> Result<PushStream, ApiError> {
        api::tasks::events(&owner, after, on_push)
    }

    /// One event from the owner's stream, onto the board.
    fn apply(self, pushed: &Pushed) -> bool {
        let Ok(id) = pushed.id.parse::<i64>() else {
            return true;
        };
        let event = match pushed.kind.as_str() {
            "submitted" => serde_json::from_str::<Job>(&pushed.data).map(JobEvent::Submitted),
            "finished" => serde_json::from_str::<Job>(&pushed.data).map(JobEvent::Finished),
            "progress" => serde_json::from_str::<JobProgress>(&pushed.data).map(JobEvent::Progress),
            _ => return true,
        };
        let Ok(event) = event else {
            return true;
        };
        if let Some(job) = self
            .board
            .try_update(|board| board.apply(id, event))
            .flatten()
        {
            self.tell(job);
        }
        true
    }
}

/// A job in a few words: "primes up to 100 000 000".
pub fn describe(spec: &JobSpec) -> String {
    match spec {
        JobSpec::Primes(p) => format!("primes up to {}", grouped(p.limit)),
        JobSpec::Mandelbrot(m) => format!(
            "Mandelbrot {}×{}, {} iterations",
            m.width,
            m.height,
            grouped(m.max_iterations.into())
        ),
        JobSpec::Hashchain(h) => format!("SHA-256 ×{} of “{}”", grouped(h.rounds), h.seed),
        JobSpec::Wait(w) => format!("wait {} s", w.seconds),
    }
}

/// `100000000` → `100 000 000`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(digit);
    }
    out
}
