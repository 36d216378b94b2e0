//! This tab's Mail session, alive in every room (so the navigation shows the unread count and
//! the outbox keeps sending while the person is elsewhere): who the tab is, the inbox and the
//! messages sent, the outbox and the loop that empties it, and the event stream with its
//! reconnection.

use gloo_timers::callback::Timeout;
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::mail::{CorrectionAsked, Message, MessageStatus, NewMessage, Receipt};
use wasm_bindgen::prelude::*;

use crate::api::push::{Push, PushStream, Pushed};
use crate::api::{self, ApiError};
use crate::inspector::{self, Outcome};
use crate::mail::identity::{self, Identity};
use crate::mail::outbox::{Outbox, State};

/// The event stream, as the connection indicator says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// No mailbox chosen in this tab.
    Idle,
    Connecting,
    Live,
    /// The connection dropped; a new one is on its way.
    Reconnecting,
    /// Offline (the browser's, or the page's switch): nothing leaves.
    Offline,
}

impl Connection {
    pub fn label(self) -> &'static str {
        match self {
            Self::Idle => "no mailbox",
            Self::Connecting => "connecting…",
            Self::Live => "live",
            Self::Reconnecting => "reconnecting…",
            Self::Offline => "offline",
        }
    }
}

/// Handles to the session's state; `Copy`, shared through the context.
#[derive(Clone, Copy)]
pub struct MailSession {
    pub identity: RwSignal<Option<Identity>>,
    /// Messages to this mailbox, oldest first.
    pub inbox: RwSignal<Vec<Message>>,
    /// Messages this mailbox sent (the server's outbox), oldest first.
    pub sent: RwSignal<Vec<Message>>,
    /// Written here and not yet acknowledged (and the recently acknowledged, with their attempts).
    pub outbox: RwSignal<Outbox>,
    pub connection: RwSignal<Connection>,
    /// The page's "offline" switch.
    pub offline_switch: RwSignal<bool>,
    /// What the browser says (`online` / `offline` events).
    pub browser_online: RwSignal<bool>,
    /// The share of answers to sends the page throws away after the server has processed them.
    pub lose_share: RwSignal<f64>,
    /// The last thing that went wrong outside a message (loading, the stream), for the page.
    pub problem: RwSignal<Option<String>>,
    runtime: StoredValue<Runtime, LocalStorage>,
}

#[derive(Default)]
struct Runtime {
    stream: Option<PushStream>,
    last_event_id: i64,
    retry_timer: Option<Timeout>,
    reconnect_timer: Option<Timeout>,
    reconnect_failures: u32,
    /// Bumped when the tab switches mailbox: answers for the old one are ignored.
    generation: u64,
    /// The browser's `online` and `offline` listeners, kept alive with the session.
    _network: Vec<Closure<dyn FnMut()>>,
}

/// The session, from the context the shell provides.
pub fn use_mail() -> MailSession {
    expect_context::<MailSession>()
}

/// Milliseconds since the Unix epoch: the outbox is saved across reloads, so its times must
/// outlive the page.
fn wall_ms() -> f64 {
    js_sys::Date::now()
}

impl MailSession {
    /// Creates the session, provides it as context, and resumes this tab's mailbox if it has one.
    pub fn provide() -> Self {
        let online = web_sys::window().is_none_or(|w| w.navigator().on_line());
        let session = Self {
            identity: RwSignal::new(None),
            inbox: RwSignal::new(Vec::new()),
            sent: RwSignal::new(Vec::new()),
            outbox: RwSignal::new(Outbox::default()),
            connection: RwSignal::new(Connection::Idle),
            offline_switch: RwSignal::new(false),
            browser_online: RwSignal::new(online),
            lose_share: RwSignal::new(0.0),
            problem: RwSignal::new(None),
            runtime: StoredValue::new_local(Runtime::default()),
        };
        provide_context(session);
        session.follow_the_network();
        // Going offline stops the stream; coming back reconnects and drains the outbox.
        Effect::new(move |was_offline: Option<bool>| {
            let offline = session.is_offline();
            if was_offline.is_some_and(|was| was != offline) {
                if offline {
                    session.go_offline();
                } else {
                    session.connect();
                    session.pump();
                }
            }
            offline
        });
        if let Some(identity) = identity::current() {
            session.start(identity);
        }
        session
    }

    /// Offline, by the browser or by the page's switch.
    pub fn is_offline(&self) -> bool {
        self.offline_switch.get() || !self.browser_online.get()
    }

    /// Messages in the inbox not opened yet.
    pub fn unread(&self) -> usize {
        self.inbox.with(|inbox| {
            inbox
                .iter()
                .filter(|m| m.status == MessageStatus::Delivered)
                .count()
        })
    }

    fn follow_the_network(&self) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let online = self.browser_online;
        let on_online = Closure::<dyn FnMut()>::new(move || online.set(true));
        let on_offline = Closure::<dyn FnMut()>::new(move || online.set(false));
        let _ =
            window.add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
        let _ =
            window.add_event_listener_with_callback("offline", on_offline.as_ref().unchecked_ref());
        self.runtime
            .update_value(|r| r._network = vec![on_online, on_offline]);
    }

    /// Makes a mailbox and makes it this tab's.
    pub async fn create(&self, name: &str) -> Result<(), ApiError> {
        let created = api::mail::create_mailbox(name).await?;
        let identity = Identity {
            address: created.address,
            token: created.token,
        };
        identity::remember(&identity);
        self.switch(Some(identity));
        Ok(())
    }

    /// This tab becomes `identity` (or nobody).
    pub fn switch(&self, identity: Option<Identity>) {
        identity::choose(identity.as_ref().map(|i| i.address.as_str()));
        self.runtime.update_value(|r| {
            r.generation += 1;
            r.stream = None;
            r.retry_timer = None;
            r.reconnect_timer = None;
            r.reconnect_failures = 0;
        });
        self.inbox.set(Vec::new());
        self.sent.set(Vec::new());
        self.outbox.set(Outbox::default());
        self.problem.set(None);
        match identity {
            Some(identity) => self.start(identity),
            None => {
                self.identity.set(None);
                self.connection.set(Connection::Idle);
            }
        }
    }

    fn generation(&self) -> u64 {
        self.runtime.with_value(|r| r.generation)
    }

    /// Loads the outbox kept in this browser, the inbox and the sent messages, then opens the
    /// stream from where those were read.
    fn start(&self, identity: Identity) {
        let saved = identity::load_outbox(&identity.address).unwrap_or_default();
        self.outbox.set(Outbox::from_json(&saved));
        self.identity.set(Some(identity.clone()));
        let session = *self;
        let generation = self.generation();
        spawn_local(async move {
            // The ticket first: its event id is where the stream resumes, so whatever happens
            // while the pages load comes through the stream.
            let loaded = async {
                let ticket = api::mail::ticket(&identity.token).await?;
                let inbox = api::mail::inbox(&identity.token).await?;
                let sent = api::mail::outbox(&identity.token).await?;
                Ok::<_, ApiError>((ticket, inbox, sent))
            };
            let result = loaded.await;
            if session.generation() != generation {
                return;
            }
            match result {
                Ok((ticket, inbox, sent)) => {
                    session.inbox.set(inbox);
                    session.sent.set(sent);
                    session
                        .runtime
                        .update_value(|r| r.last_event_id = ticket.last_event_id);
                    session.open_stream(&ticket.ticket);
                }
                Err(ApiError::Server { status: 401, .. }) => {
                    // The server no longer knows this mailbox (a new database): forget it.
                    identity::forget(&identity.address);
                    session.switch(None);
                    session.problem.set(Some(format!(
                        "The server no longer knows the mailbox “{}”; make a new one.",
                        identity.address
                    )));
                }
                Err(error) => {
                    session.problem.set(Some(error.to_string()));
                    session.reconnect_later();
                }
            }
            session.pump();
        });
    }

    /// A new ticket and a new stream, resuming after the last event seen.
    fn connect(&self) {
        let Some(identity) = self.identity.get_untracked() else {
            return;
        };
        if self.is_offline_untracked() {
            self.connection.set(Connection::Offline);
            return;
        }
        if self.connection.get_untracked() != Connection::Live {
            self.connection.set(Connection::Reconnecting);
        }
        let session = *self;
        let generation = self.generation();
        spawn_local(async move {
            let ticket = api::mail::ticket(&identity.token).await;
            if session.generation() != generation || session.is_offline_untracked() {
                return;
            }
            match ticket {
                Ok(ticket) => session.open_stream(&ticket.ticket),
                Err(error) => {
                    session.problem.set(Some(error.to_string()));
                    session.reconnect_later();
                }
            }
        });
    }

    fn is_offline_untracked(&self) -> bool {
        self.offline_switch.get_untracked() || !self.browser_online.get_untracked()
    }

    fn open_stream(&self, ticket: &str) {
        if self.is_offline_untracked() {
            self.connection.set(Connection::Offline);
            return;
        }
        let session = *self;
        let last = self.runtime.with_value(|r| r.last_event_id);
        let generation = self.generation();
        let stream = api::mail::events(ticket, last, move |push| {
            if session.generation() == generation {
                session.pushed(push);
            }
        });
        match stream {
            Ok(stream) => {
                if self.connection.get_untracked() != Connection::Reconnecting {
                    self.connection.set(Connection::Connecting);
                }
                self.runtime.update_value(|r| r.stream = Some(stream));
            }
            Err(error) => {
                self.problem.set(Some(error.to_string()));
                self.reconnect_later();
            }
        }
    }

    /// After a dropped stream: wait 1 s, 2 s, 4 s … (at most 15 s), then connect again.
    fn reconnect_later(&self) {
        self.connection.set(Connection::Reconnecting);
        let session = *self;
        let failures = self.runtime.with_value(|r| r.reconnect_failures);
        let wait = 1_000u32
            .saturating_mul(2u32.saturating_pow(failures))
            .min(15_000);
        let timer = Timeout::new(wait, move || session.connect());
        self.runtime.update_value(|r| {
            r.reconnect_failures += 1;
            r.reconnect_timer = Some(timer);
        });
    }

    fn go_offline(&self) {
        self.runtime.update_value(|r| {
            r.stream = None;
            r.reconnect_timer = None;
            r.retry_timer = None;
        });
        self.connection.set(Connection::Offline);
        self.outbox.update(Outbox::offline);
        self.save();
    }

    fn pushed(&self, push: Push) {
        match push {
            Push::Opened => {
                self.connection.set(Connection::Live);
                self.problem.set(None);
                self.runtime.update_value(|r| r.reconnect_failures = 0);
            }
            Push::Reconnecting => self.connection.set(Connection::Reconnecting),
            Push::Closed => {
                // The ticket was used: the browser's own reconnection is refused. A new one.
                self.runtime.update_value(|r| r.stream = None);
                if !self.is_offline_untracked() {
                    self.reconnect_later();
                }
            }
            Push::Event(event) => self.apply(&event),
        }
    }

    /// One event from the stream, into the lists.
    fn apply(&self, event: &Pushed) {
        if let Ok(id) = event.id.parse::<i64>() {
            self.runtime
                .update_value(|r| r.last_event_id = r.last_event_id.max(id));
        }
        match event.kind.as_str() {
            "message" | "corrected" => {
                if let Ok(message) = serde_json::from_str::<Message>(&event.data) {
                    self.inbox.update(|inbox| upsert(inbox, message));
                }
            }
            "receipt" => {
                if let Ok(receipt) = serde_json::from_str::<Receipt>(&event.data) {
                    self.sent.update(|sent| {
                        if let Some(message) = sent.iter_mut().find(|m| m.id == receipt.id) {
                            message.status = MessageStatus::Read;
                            message.read_at_ms = Some(receipt.read_at_ms);
                        }
                    });
                }
            }
            "correction_requested" => {
                if let Ok(asked) = serde_json::from_str::<CorrectionAsked>(&event.data) {
                    self.sent.update(|sent| {
                        if let Some(message) = sent.iter_mut().find(|m| m.id == asked.id) {
                            message.correction_requested = Some(asked.note.clone());
                            message
                                .history
                                .push(protocol::mail::Change::CorrectionRequested {
                                    note: asked.note,
                                    at_ms: asked.at_ms,
                                });
                        }
                    });
                }
            }
            _ => {}
        }
    }

    /// Writes a message: into the outbox at once (saved), then out when it can.
    pub fn write(&self, message: NewMessage) {
        self.outbox.update(|outbox| {
            outbox.write(crate::api::retry::idempotency_key(), message, wall_ms())
        });
        self.save();
        self.pump();
    }

    /// Drops a refused (or delivered) message from the outbox.
    pub fn discard(&self, key: &str) {
        self.outbox.update(|outbox| outbox.discard(key));
        self.save();
    }

    fn save(&self) {
        if let Some(identity) = self.identity.get_untracked() {
            let json = self.outbox.with_untracked(Outbox::to_json);
            identity::save_outbox(&identity.address, &json);
        }
    }

    /// Sends every message that is due, and sets a timer for the next retry.
    pub fn pump(&self) {
        let Some(identity) = self.identity.get_untracked() else {
            return;
        };
        if self.is_offline_untracked() {
            return;
        }
        let due = self
            .outbox
            .try_update(|outbox| outbox.due(wall_ms()))
            .unwrap_or_default();
        if !due.is_empty() {
            self.save();
        }
        for (key, message) in due {
            self.send_one(identity.clone(), key, message);
        }
        self.schedule();
    }

    fn schedule(&self) {
        let session = *self;
        let next = self.outbox.with_untracked(Outbox::next_retry_at);
        let timer = next.map(|at| {
            let wait = (at - wall_ms()).clamp(0.0, f64::from(u32::MAX)) as u32;
            Timeout::new(wait, move || session.pump())
        });
        self.runtime.update_value(|r| r.retry_timer = timer);
    }

    fn send_one(&self, identity: Identity, key: String, message: NewMessage) {
        let session = *self;
        let generation = self.generation();
        let lose = self.lose_share.get_untracked();
        spawn_local(async move {
            let traced = api::mail::send(&identity.token, &key, &message).await;
            if session.generation() != generation {
                return;
            }
            let result = match traced.result {
                // The server has it; the page throws the answer away, as a lossy network would.
                Ok(_) if js_sys::Math::random() < lose => {
                    inspector::reclassify(traced.entry, Outcome::Failed);
                    Err(ApiError::Network(
                        "the answer was lost on the way (the page's “lose answers” setting)"
                            .to_owned(),
                    ))
                }
                Ok(answer) => Ok(answer.body),
                Err(error) => Err(error),
            };
            let retried = matches!(&result, Err(error) if error.is_retryable());
            if retried {
                inspector::reclassify(traced.entry, Outcome::Retried);
            }
            if let Ok(sent) = &result {
                let delivered = Message {
                    id: sent.id,
                    from: identity.address.clone(),
                    to: message.to.clone(),
                    subject: message.subject.clone(),
                    body: message.body.clone(),
                    status: sent.status,
                    sent_at_ms: sent.sent_at_ms,
                    read_at_ms: None,
                    correction_requested: None,
                    history: Vec::new(),
                };
                session.sent.update(|sent| {
                    // The server's copy, if the list has it already, knows more (receipts).
                    if let Err(at) = sent.binary_search_by_key(&delivered.id, |m| m.id) {
                        sent.insert(at, delivered);
                    }
                });
            }
            session.outbox.update(|outbox| {
                outbox.answered(&key, result, wall_ms(), js_sys::Math::random());
            });
            session.save();
            session.schedule();
        });
    }

    /// Opens a message: the first time, the server sends the sender a receipt.
    pub fn open(&self, id: i64) {
        let Some(identity) = self.identity.get_untracked() else {
            return;
        };
        let unread = self.inbox.with_untracked(|inbox| {
            inbox
                .iter()
                .any(|m| m.id == id && m.status == MessageStatus::Delivered)
        });
        if !unread {
            return;
        }
        let session = *self;
        spawn_local(async move {
            match api::mail::mark_read(&identity.token, id).await {
                Ok(message) => session.inbox.update(|inbox| upsert(inbox, message)),
                Err(error) => session.problem.set(Some(error.to_string())),
            }
        });
    }

    /// Asks the sender of message `id` to correct it.
    pub async fn ask_correction(&self, id: i64, note: String) -> Result<(), ApiError> {
        let identity = self.identity.get_untracked().ok_or(ApiError::Aborted)?;
        let message = api::mail::ask_correction(&identity.token, id, &note).await?;
        self.inbox.update(|inbox| upsert(inbox, message));
        Ok(())
    }

    /// Replaces the body of message `id` this mailbox sent.
    pub async fn correct(&self, id: i64, body: String) -> Result<(), ApiError> {
        let identity = self.identity.get_untracked().ok_or(ApiError::Aborted)?;
        let message = api::mail::correct(&identity.token, id, &body).await?;
        self.sent.update(|sent| upsert(sent, message));
        Ok(())
    }

    /// The attempts the outbox made for the message the server numbered `id`, if it was sent
    /// from this browser.
    pub fn attempts_of(&self, id: i64) -> Option<u32> {
        self.outbox.with(|outbox| {
            outbox.items.iter().find_map(|item| match item.state {
                State::Delivered { id: delivered, .. } if delivered == id => Some(item.attempts),
                _ => None,
            })
        })
    }
}

/// Puts `message` in `list` (ordered by id), replacing the one with its id.
fn upsert(list: &mut Vec<Message>, message: Message) {
    match list.binary_search_by_key(&message.id, |m| m.id) {
        Ok(at) => list[at] = message,
        Err(at) => list.insert(at, message),
    }
}
