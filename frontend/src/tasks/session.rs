//! This browser's Tasks session, alive in every room (so a job that finishes while the person is
//! elsewhere is told there: a toast, the count in the navigation and the title, a system
//! notification when allowed): who the browser is to the server (an owner's token, made by the
//! server at the first submission and kept in localStorage, as the Mail room keeps a mailbox's),
//! the board of its jobs, and how the page learns of changes — pushed on the owner's event
//! stream, or polled at a chosen interval, to compare the two in the inspector.

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

/// Where the owner's token is kept.
const TOKEN: &str = "meanwhile.tasks.token";
/// Where an earlier version kept an owner id it made up itself; the server no longer takes it.
const OLD_OWNER: &str = "meanwhile.tasks.owner";
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
    /// The owner's token, once the server has made one.
    token: Option<String>,
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
                token: storage().and_then(|s| {
                    let _ = s.remove_item(OLD_OWNER);
                    s.get_item(TOKEN).ok().flatten()
                }),
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
        if session.token().is_some() {
            session.start();
        }
        session
    }

    fn token(&self) -> Option<String> {
        self.runtime.with_value(|r| r.token.clone())
    }

    fn keep_token(&self, token: Option<String>) {
        if let Some(storage) = storage() {
            let _ = match &token {
                Some(token) => storage.set_item(TOKEN, token),
                None => storage.remove_item(TOKEN),
            };
        }
        self.runtime.update_value(|r| r.token = token);
    }

    /// This browser's owner token, asked of the server (and kept) the first time it submits.
    async fn ensure_token(&self) -> Result<String, ApiError> {
        if let Some(token) = self.token() {
            return Ok(token);
        }
        let created = api::tasks::new_owner().await?;
        self.keep_token(Some(created.token.clone()));
        self.start();
        Ok(created.token)
    }

    /// Loads the list, then follows it the chosen way (the one session mechanism, `api::live`).
    fn start(&self) {
        if self.token().is_some() {
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
        let key = retry::idempotency_key();
        let mut token = self.ensure_token().await?;
        let mut submitted = retry::retrying(SUBMIT_RETRY, |attempt| {
            api::tasks::submit(&token, &spec, &key, attempt)
        })
        .await;
        if matches!(&submitted, Err(error) if error.status() == Some(401)) {
            // The server no longer knows this owner (its database was reset): a new one.
            self.keep_token(None);
            self.board.set(Board::default());
            token = self.ensure_token().await?;
            submitted = retry::retrying(SUBMIT_RETRY, |attempt| {
                api::tasks::submit(&token, &spec, &key, attempt)
            })
            .await;
        }
        let accepted = submitted?;
        // Queued: from here on nothing may say otherwise. If this read fails, the stream (or the
        // next poll) brings the job instead.
        if let Ok(job) = api::tasks::job(&token, &accepted.id).await
            && let Some(job) = self.board.try_update(|board| board.put(job)).flatten()
        {
            self.tell(job);
        }
        Ok(())
    }

    pub async fn cancel(&self, id: &str) -> Result<(), ApiError> {
        let token = self.token().ok_or(ApiError::Aborted)?;
        let job = api::tasks::cancel(&token, id).await?;
        self.board.update(|board| {
            board.put(job);
        });
        Ok(())
    }

    /// A succeeded mandelbrot job's picture, as an object URL for an `<img>` (revoke it with
    /// `Url::revoke_object_url` when the picture is no longer shown).
    pub async fn picture_url(&self, id: &str) -> Result<String, ApiError> {
        let token = self.token().ok_or(ApiError::Aborted)?;
        let png = api::tasks::picture(&token, id).await?;
        let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(png.as_slice()));
        let options = web_sys::BlobPropertyBag::new();
        options.set_type("image/png");
        let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
            .map_err(|_| ApiError::Unreadable("the picture cannot be shown".into()))?;
        web_sys::Url::create_object_url_with_blob(&blob)
            .map_err(|_| ApiError::Unreadable("the picture cannot be shown".into()))
    }

    /// Jobs queued or running, for the navigation and the title.
    pub fn unfinished(&self) -> usize {
        self.board.with(Board::unfinished)
    }
}

/// What the Tasks session loads (the owner's list, and where its stream stands) and follows.
impl Feed for TasksSession {
    /// A ticket for the stream (when the jobs are pushed), and the last event the board has.
    type Position = (Option<String>, i64);

    async fn load(self) -> Result<Self::Position, ApiError> {
        let token = self.token().ok_or(ApiError::Aborted)?;
        // The ticket only when it will be used: polling needs none.
        let ticket = match self.delivery.get_untracked() {
            Follow::Push => Some(api::tasks::ticket(&token).await?.ticket),
            Follow::Poll(_) => None,
        };
        let list = api::tasks::list(&token).await?;
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
        Ok((ticket, position))
    }

    fn open(
        self,
        (ticket, after): Self::Position,
        on_push: impl Fn(Push) + 'static,
    ) -> Result<PushStream, ApiError> {
        // Loaded for polling, opened after a switch to push: load again with a ticket.
        let ticket = ticket.ok_or(ApiError::Aborted)?;
        api::tasks::events(&ticket, after, on_push)
    }

    /// The server no longer knows this owner (its database was reset): the board is empty, and
    /// the next submission makes a new owner.
    fn gone_for_good(self, error: &ApiError) -> bool {
        if error.status() != Some(401) {
            return false;
        }
        self.keep_token(None);
        self.board.set(Board::default());
        true
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
