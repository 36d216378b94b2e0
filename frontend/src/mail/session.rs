//! This tab's Mail session, alive in every room (so the navigation shows the unread count and
//! the outbox keeps sending while the person is elsewhere): who the tab is, the inbox and the
//! messages sent, the outbox and the loop that empties it, and the event stream with its
//! reconnection.

use gloo_timers::callback::Timeout;
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::mail::{CorrectionAsked, Message, MessageStatus, NewMessage, Receipt};
use wasm_bindgen::prelude::*;

pub use crate::api::live::Connection;
use crate::api::live::{Feed, Follow, Live};
use crate::api::push::{Push, PushStream, Pushed};
use crate::api::retry::retry_words;
use crate::api::{self, ApiError};
use crate::inspector::{self, Outcome};
use crate::mail::identity::{self, Identity};
use crate::mail::outbox::BACKOFF;
use crate::mail::outbox::{Outbox, State};
use crate::mail::shelf::{Change, Shelf};

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
    /// Loading the lists and following the stream: the mechanism Tasks uses too.
    live: Live,
    runtime: StoredValue<Runtime, LocalStorage>,
}

#[derive(Default)]
struct Runtime {
    /// The outbox as this browser keeps it, shared with the mailbox's other tabs.
    shelf: Shelf,
    retry_timer: Option<Timeout>,
    /// A look at the outbox a little after another tab changed it.
    others_timer: Option<Timeout>,
    /// Bumped when the tab switches mailbox: answers for the old one are ignored.
    generation: u64,
    /// The browser's `online`, `offline` and `storage` listeners, kept alive with the session.
    _network: Vec<Closure<dyn FnMut()>>,
    _storage: Option<Closure<dyn FnMut(web_sys::StorageEvent)>>,
}

/// The session, from the context the shell provides.
pub fn use_mail() -> MailSession {
    expect_context::<MailSession>()
}

/// How long after another tab changed the outbox this one looks for messages still due: that
/// tab marks what it sends as sending well within it.
const OTHER_TABS_GRACE_MS: u32 = 2_000;

/// Milliseconds since the Unix epoch: the outbox is saved across reloads, so its times must
/// outlive the page.
fn wall_ms() -> f64 {
    js_sys::Date::now()
}

impl MailSession {
    /// Creates the session, provides it as context, and resumes this tab's mailbox if it has one
    /// (and its "offline" switch: a reload keeps the queued messages waiting).
    pub fn provide() -> Self {
        let online = web_sys::window().is_none_or(|w| w.navigator().on_line());
        let live = Live::new(Follow::Push);
        let session = Self {
            identity: RwSignal::new(None),
            inbox: RwSignal::new(Vec::new()),
            sent: RwSignal::new(Vec::new()),
            outbox: RwSignal::new(Outbox::default()),
            connection: live.connection,
            offline_switch: RwSignal::new(
                tab_storage()
                    .and_then(|s| s.get_item(OFFLINE_SWITCH).ok().flatten())
                    .is_some(),
            ),
            browser_online: RwSignal::new(online),
            lose_share: RwSignal::new(0.0),
            problem: live.problem,
            live,
            runtime: StoredValue::new_local(Runtime::default()),
        };
        provide_context(session);
        session.follow_the_network();
        Effect::new(move |_| {
            let on = session.offline_switch.get();
            if let Some(storage) = tab_storage() {
                let _ = match on {
                    true => storage.set_item(OFFLINE_SWITCH, "on"),
                    false => storage.remove_item(OFFLINE_SWITCH),
                };
            }
        });
        // Going offline stops the stream; coming back loads again and drains the outbox.
        Effect::new(move |was_offline: Option<bool>| {
            let offline = session.is_offline();
            if was_offline.is_some_and(|was| was != offline) {
                if offline {
                    session.go_offline();
                } else {
                    session.resync();
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
        let session = *self;
        let on_storage = Closure::<dyn FnMut(web_sys::StorageEvent)>::new(
            move |event: web_sys::StorageEvent| {
                if let Some(key) = event.key() {
                    session.other_tab_changed(&key, event.new_value());
                }
            },
        );
        let _ =
            window.add_event_listener_with_callback("storage", on_storage.as_ref().unchecked_ref());
        self.runtime.update_value(|r| {
            r._network = vec![on_online, on_offline];
            r._storage = Some(on_storage);
        });
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
            r.retry_timer = None;
            r.others_timer = None;
            r.shelf = Shelf::default();
        });
        self.inbox.set(Vec::new());
        self.sent.set(Vec::new());
        self.outbox.set(Outbox::default());
        self.problem.set(None);
        match identity {
            Some(identity) => self.start(identity),
            None => {
                self.identity.set(None);
                self.live.stop(Connection::Idle);
            }
        }
    }

    fn generation(&self) -> u64 {
        self.runtime.with_value(|r| r.generation)
    }

    /// Takes up `identity`: its outbox kept in this browser, then the lists and the stream.
    fn start(&self, identity: Identity) {
        let (shelf, outbox) = Shelf::open(&identity.address);
        self.runtime.update_value(|r| r.shelf = shelf);
        self.outbox.set(outbox);
        self.identity.set(Some(identity));
        self.resync();
        self.pump();
    }

    /// Loads the lists and where the stream stands, then follows the stream from there — at
    /// the start, after the stream was lost, and when the tab comes back online.
    fn resync(&self) {
        if self.identity.get_untracked().is_none() {
            return;
        }
        if self.is_offline_untracked() {
            self.live.stop(Connection::Offline);
        } else {
            self.live.start(*self);
        }
    }

    fn is_offline_untracked(&self) -> bool {
        self.offline_switch.get_untracked() || !self.browser_online.get_untracked()
    }

    fn go_offline(&self) {
        self.runtime.update_value(|r| r.retry_timer = None);
        self.live.stop(Connection::Offline);
        self.outbox.update(Outbox::offline);
        self.save();
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

    /// Keeps what changed in the outbox (every change at once: a crash loses nothing).
    fn save(&self) {
        let outbox = self.outbox;
        self.runtime
            .update_value(|r| outbox.with_untracked(|outbox| r.shelf.save(outbox)));
    }

    /// Another tab of this browser changed `key` in storage: if it is one of this mailbox's
    /// messages, this tab's outbox shows it too. A message the other tab wrote is sent by that
    /// tab; this one looks again a little later and sends what is still due (that tab may have
    /// been closed).
    fn other_tab_changed(&self, key: &str, value: Option<String>) {
        let change = self
            .runtime
            .try_update_value(|r| r.shelf.changed(key, value))
            .flatten();
        let Some(change) = change else {
            return;
        };
        self.outbox.update(|outbox| match change {
            Change::Put(item) => outbox.put(item),
            Change::Removed(key) => outbox.remove(&key),
        });
        let session = *self;
        let look = Timeout::new(OTHER_TABS_GRACE_MS, move || session.pump());
        self.runtime.update_value(|r| r.others_timer = Some(look));
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
        let attempt = self.outbox.with_untracked(|outbox| outbox.attempts(&key));
        spawn_local(async move {
            let traced = api::mail::send(&identity.token, &key, &message, attempt).await;
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
            let failed = result.as_ref().err().cloned();
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
                    changes: 0,
                    corrections: 0,
                };
                session.sent.update(|sent| {
                    // The server's copy, if the list has it already, knows more (receipts).
                    if let Err(at) = sent.binary_search_by_key(&delivered.id, |m| m.id) {
                        sent.insert(at, delivered);
                    }
                });
            }
            let (attempts, retry_in) = session
                .outbox
                .try_update(|outbox| {
                    let attempts = outbox.attempts(&key);
                    let retry_in = outbox.answered(&key, result, wall_ms(), js_sys::Math::random());
                    (attempts, retry_in)
                })
                .unwrap_or_default();
            if let (Some(error), Some(wait)) = (failed, retry_in) {
                let words = retry_words(attempts, BACKOFF.max_retries, &error, wait);
                inspector::reclassify_because(traced.entry, Outcome::Retried, words);
            }
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

/// What the Mail session loads (the inbox, the sent messages, and a ticket that says where the
/// stream stands) and follows.
impl Feed for MailSession {
    type Position = (String, i64);

    async fn load(self) -> Result<Self::Position, ApiError> {
        let identity = self.identity.get_untracked().ok_or(ApiError::Aborted)?;
        let generation = self.generation();
        // The ticket first: its event id is where the stream resumes, so whatever happens
        // while the lists load comes through the stream.
        let ticket = api::mail::ticket(&identity.token).await?;
        let inbox = api::mail::inbox(&identity.token).await?;
        let sent = api::mail::outbox(&identity.token).await?;
        if self.generation() != generation {
            return Err(ApiError::Aborted);
        }
        self.inbox.set(inbox);
        self.sent.set(sent);
        Ok((ticket.ticket, ticket.last_event_id))
    }

    fn open(
        self,
        (ticket, after): Self::Position,
        on_push: impl Fn(Push) + 'static,
    ) -> Result<PushStream, ApiError> {
        api::mail::events(&ticket, after, on_push)
    }

    /// One event from the stream, into the lists; `false` if it is about a message this tab
    /// does not have (a receipt that came before the answer to its send).
    fn apply(self, event: &Pushed) -> bool {
        match event.kind.as_str() {
            "message" | "corrected" => {
                if let Ok(message) = serde_json::from_str::<Message>(&event.data) {
                    self.inbox.update(|inbox| upsert(inbox, message));
                }
                true
            }
            "receipt" => {
                let Ok(receipt) = serde_json::from_str::<Receipt>(&event.data) else {
                    return true;
                };
                self.sent
                    .try_update(|sent| {
                        let message = sent.iter_mut().find(|m| m.id == receipt.id)?;
                        message.status = MessageStatus::Read;
                        message.read_at_ms = Some(receipt.read_at_ms);
                        Some(())
                    })
                    .flatten()
                    .is_some()
            }
            "correction_requested" => {
                let Ok(asked) = serde_json::from_str::<CorrectionAsked>(&event.data) else {
                    return true;
                };
                self.sent
                    .try_update(|sent| {
                        let message = sent.iter_mut().find(|m| m.id == asked.id)?;
                        message.correction_requested = Some(asked.note.clone());
                        message
                            .history
                            .push(protocol::mail::Change::CorrectionRequested {
                                note: asked.note,
                                at_ms: asked.at_ms,
                            });
                        message.changes += 1;
                        // The page keeps the newest few, as the server's lists do.
                        let extra = message
                            .history
                            .len()
                            .saturating_sub(protocol::mail::HISTORY_MAX);
                        message.history.drain(..extra);
                        Some(())
                    })
                    .flatten()
                    .is_some()
            }
            _ => true,
        }
    }

    /// The server no longer knows this mailbox (a new database): forget it.
    fn gone_for_good(self, error: &ApiError) -> bool {
        if error.status() != Some(401) {
            return false;
        }
        if let Some(identity) = self.identity.get_untracked() {
            identity::forget(&identity.address);
            self.switch(None);
            self.problem.set(Some(format!(
                "The server no longer knows the mailbox “{}”; make a new one.",
                identity.address
            )));
        }
        true
    }
}

/// Puts `message` in `list` (ordered by id), replacing the one with its id.
fn upsert(list: &mut Vec<Message>, message: Message) {
    match list.binary_search_by_key(&message.id, |m| m.id) {
        Ok(at) => list[at] = message,
        Err(at) => list.insert(at, message),
    }
}

/// Where this tab keeps its "offline" switch (sessionStorage: the tab's own, kept by a reload).
const OFFLINE_SWITCH: &str = "meanwhile.mail.offline";

fn tab_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}
