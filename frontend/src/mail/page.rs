//! The Mail page: choose or make this tab's mailbox, write (the outbox sends in the background),
//! watch each message go queued → sending → delivered ✓ → read ✓✓, read the inbox as it arrives,
//! and ask for or make corrections. Two network conditions make the hard cases happen on demand:
//! offline, and answers lost after the server processed the request.

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::mail::{Message, MessageStatus, NewMessage};

use crate::api;
use crate::mail::identity::{self, Identity};
use crate::mail::outbox::{Outgoing, State};
use crate::mail::session::{Connection, MailSession, use_mail};

#[component]
pub fn Mail() -> impl IntoView {
    let mail = use_mail();
    view! {
        <section class="page mail">
            <h1>"Mail"</h1>
            <p class="lede">
                "Each side writes whenever it likes and reads when it wants. A message goes into "
                "this tab's outbox at once, kept in the browser, and leaves in the background, "
                "retried with the same key until the server has it — once. Open a second tab as "
                "another mailbox to write to yourself: each tab is one person."
            </p>
            <p class="problem" role="alert" data-testid="mail-problem">{move || mail.problem.get()}</p>
            {move || match mail.identity.get() {
                None => view! { <ChooseMailbox/> }.into_any(),
                Some(me) => view! { <Mailbox me=me/> }.into_any(),
            }}
        </section>
    }
}

/// Make a mailbox, or use one this browser made before.
#[component]
fn ChooseMailbox() -> impl IntoView {
    let mail = use_mail();
    let name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let known = identity::known();
    let create = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        busy.set(true);
        spawn_local(async move {
            let result = mail.create(name.get_untracked().trim()).await;
            let _ = busy.try_set(false);
            if let Err(e) = result {
                let _ = error.try_set(Some(e.to_string()));
            }
        });
    };
    view! {
        <div class="mail-choose">
            <form class="mail-card" on:submit=create>
                <h2>"Make a mailbox"</h2>
                <label class="field">
                    <span>"Name"</span>
                    <input
                        type="text"
                        data-testid="mail-new-name"
                        autocomplete="off"
                        maxlength="32"
                        prop:value=move || name.get()
                        on:input=move |e| name.set(event_target_value(&e))
                    />
                    <small>"1–32 of a–z, 0–9, _ and -. It is your address."</small>
                </label>
                <button type="submit" data-testid="mail-create" disabled=move || busy.get()>"Make it mine"</button>
                <p class="form-error" role="alert">{move || error.get()}</p>
            </form>
            {(!known.is_empty()).then(|| view! {
                <div class="mail-card">
                    <h2>"Or use one made in this browser"</h2>
                    <ul class="mail-known">
                        {known.into_iter().map(|identity| {
                            let label = format!("Use {}", identity.address);
                            view! {
                                <li>
                                    <button type="button" class="secondary" on:click=move |_| mail.switch(Some(identity.clone()))>
                                        {label}
                                    </button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                </div>
            })}
        </div>
    }
}

#[component]
fn Mailbox(me: Identity) -> impl IntoView {
    let mail = use_mail();
    view! {
        <div class="mail-me">
            <p>
                "This tab is " <b data-testid="mail-me">{me.address.clone()}</b> ". "
                <span class="connection" data-testid="mail-connection" aria-live="polite"
                    class:live=move || mail.connection.get() == Connection::Live>
                    {move || mail.connection.get().label()}
                </span>
            </p>
            <button type="button" class="quiet" on:click=move |_| mail.switch(None)>"Switch mailbox"</button>
        </div>
        <Conditions/>
        <div class="mail-grid">
            <div>
                <Compose/>
                <Outgoing/>
            </div>
            <Inbox/>
        </div>
    }
}

/// The network conditions: offline, and answers lost after the server processed the request.
#[component]
fn Conditions() -> impl IntoView {
    let mail = use_mail();
    view! {
        <fieldset class="mail-conditions">
            <legend>"Network conditions"</legend>
            <label class="check">
                <input
                    type="checkbox"
                    data-testid="mail-offline"
                    prop:checked=move || mail.offline_switch.get()
                    on:change=move |e| mail.offline_switch.set(event_target_checked(&e))
                />
                <span>"Offline: nothing leaves this tab (the browser's own offline counts too)"</span>
            </label>
            <label class="field">
                <span>{move || format!("Lose answers: {:.0}%", mail.lose_share.get() * 100.0)}</span>
                <input
                    type="range"
                    min="0"
                    max="90"
                    step="10"
                    data-testid="mail-lose"
                    prop:value=move || (mail.lose_share.get() * 100.0).round().to_string()
                    on:input=move |e| {
                        let percent = event_target_value(&e).parse::<f64>().unwrap_or(0.0);
                        mail.lose_share.set(percent / 100.0);
                    }
                />
                <small>"The server gets the message, the answer is thrown away: the outbox retries, the key keeps it single."</small>
            </label>
        </fieldset>
    }
}

#[component]
fn Compose() -> impl IntoView {
    let mail = use_mail();
    let to = RwSignal::new(String::new());
    let subject = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    // The addresses that begin with what is typed (the server finds anyone by the start of
    // their name); a new keystroke drops the request before it, which aborts it.
    let addresses = LocalResource::new(move || {
        let start = to.get().trim().to_lowercase();
        async move {
            if !start.is_empty() && !protocol::mail::is_mailbox_name(&start) {
                return Vec::new();
            }
            api::mail::directory(&start)
                .await
                .map(|d| d.addresses)
                .unwrap_or_default()
        }
    });
    let send = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        let message = NewMessage {
            to: to.get_untracked().trim().to_owned(),
            subject: subject.get_untracked(),
            body: body.get_untracked(),
        };
        // Checked here with the server's own rules, so the outbox holds only what can go.
        if let Err(problem) = message.validate() {
            error.set(Some(problem.to_string()));
            return;
        }
        error.set(None);
        mail.write(message);
        subject.set(String::new());
        body.set(String::new());
    };
    view! {
        <form class="mail-card mail-compose" on:submit=send>
            <h2>"Write"</h2>
            <label class="field">
                <span>"To"</span>
                <input
                    type="text"
                    list="mail-addresses"
                    autocomplete="off"
                    data-testid="mail-to"
                    prop:value=move || to.get()
                    on:input=move |e| to.set(event_target_value(&e))
                    on:focus=move |_| addresses.refetch()
                />
                <datalist id="mail-addresses">
                    {move || addresses.get().unwrap_or_default().into_iter()
                        .map(|a| view! { <option value=a></option> }).collect_view()}
                </datalist>
            </label>
            <label class="field">
                <span>"Subject"</span>
                <input
                    type="text"
                    data-testid="mail-subject"
                    prop:value=move || subject.get()
                    on:input=move |e| subject.set(event_target_value(&e))
                />
            </label>
            <label class="field">
                <span>"Message"</span>
                <textarea
                    rows="4"
                    data-testid="mail-body"
                    prop:value=move || body.get()
                    on:input=move |e| body.set(event_target_value(&e))
                ></textarea>
            </label>
            <button type="submit" data-testid="mail-send">"Send"</button>
            <p class="form-error" role="alert">{move || error.get()}</p>
        </form>
    }
}

/// Where one outbox message is, in words.
fn outgoing_state(item: &Outgoing) -> String {
    match &item.state {
        State::Queued if item.attempts == 0 => "queued".to_owned(),
        State::Queued => format!("queued again (after {} attempts)", item.attempts),
        State::Sending => format!("sending (attempt {})", item.attempts),
        State::Waiting { error, .. } => {
            format!("attempt {} failed, will retry: {error}", item.attempts)
        }
        State::Delivered { .. } => "delivered ✓".to_owned(),
        State::Refused { error } => format!("refused: {error}"),
    }
}

/// The outbox (not yet delivered) and the messages sent.
#[component]
fn Outgoing() -> impl IntoView {
    let mail = use_mail();
    let pending = move || {
        mail.outbox.with(|outbox| {
            outbox
                .items
                .iter()
                .filter(|item| !matches!(item.state, State::Delivered { .. }))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let sent = move || {
        let mut sent = mail.sent.get();
        sent.reverse();
        sent
    };
    view! {
        <div class="mail-card">
            <h2>"Outbox " <small data-testid="mail-pending">{move || mail.outbox.with(|o| o.pending())}</small></h2>
            <ul class="mail-list" data-testid="mail-outbox" aria-live="polite">
                <For each=pending key=|item| (item.key.clone(), item.attempts, format!("{:?}", item.state)) let:item>
                    {
                        let key = item.key.clone();
                        let refused = matches!(item.state, State::Refused { .. });
                        view! {
                            <li class="mail-item">
                                <span class="who">"to " {item.message.to.clone()}</span>
                                <span class="subject">{item.message.subject.clone()}</span>
                                <span class="state" data-testid="mail-outbox-state">{outgoing_state(&item)}</span>
                                {refused.then(|| view! {
                                    <button type="button" class="quiet" on:click=move |_| mail.discard(&key)>"Discard"</button>
                                })}
                            </li>
                        }
                    }
                </For>
            </ul>
            <h2>"Sent"</h2>
            <ul class="mail-list" data-testid="mail-sent">
                <For each=sent key=|m| format!("{}-{:?}-{:?}-{}", m.id, m.status, m.correction_requested, m.body.len()) let:message>
                    <SentMessage message=message mail=mail/>
                </For>
            </ul>
        </div>
    }
}

#[component]
fn SentMessage(message: Message, mail: MailSession) -> impl IntoView {
    let id = message.id;
    let status = match (&message.correction_requested, message.status) {
        (Some(note), _) => format!("correction requested: {note}"),
        (None, MessageStatus::Read) => "read ✓✓".to_owned(),
        (None, MessageStatus::Delivered) => "delivered ✓".to_owned(),
    };
    let attempts = move || {
        mail.attempts_of(id).map(|n| match n {
            1 => "1 attempt".to_owned(),
            n => format!("{n} attempts, delivered once"),
        })
    };
    let editing = RwSignal::new(false);
    let draft = RwSignal::new(message.body.clone());
    let error = RwSignal::new(None::<String>);
    let asked = message.correction_requested.is_some();
    let save = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        spawn_local(async move {
            match mail.correct(id, draft.get_untracked()).await {
                Ok(()) => {
                    let _ = editing.try_set(false);
                }
                Err(e) => {
                    let _ = error.try_set(Some(e.to_string()));
                }
            }
        });
    };
    view! {
        <li class="mail-item" data-testid="mail-sent-item">
            <span class="who">"to " {message.to.clone()}</span>
            <span class="subject">{message.subject.clone()}</span>
            <span class="state" class:warn=asked data-testid="mail-sent-state">{status}</span>
            <span class="attempts">{attempts}</span>
            <p class="body">{message.body.clone()}</p>
            <Show when=move || editing.get() fallback=move || view! {
                <button type="button" class="quiet" data-testid="mail-correct" on:click=move |_| editing.set(true)>"Correct"</button>
            }>
                <form class="mail-correct" on:submit=save>
                    <label class="field">
                        <span>"Corrected message"</span>
                        <textarea rows="3" data-testid="mail-correct-body" prop:value=move || draft.get() on:input=move |e| draft.set(event_target_value(&e))></textarea>
                    </label>
                    <button type="submit" data-testid="mail-send-correction">"Send the correction"</button>
                    <p class="form-error" role="alert">{move || error.get()}</p>
                </form>
            </Show>
        </li>
    }
}

#[component]
fn Inbox() -> impl IntoView {
    let mail = use_mail();
    let messages = move || {
        let mut inbox = mail.inbox.get();
        inbox.reverse();
        inbox
    };
    view! {
        <div class="mail-card">
            <h2>"Inbox " <small data-testid="mail-unread">{move || format!("{} unread", mail.unread())}</small></h2>
            <ul class="mail-list" data-testid="mail-inbox" aria-live="polite">
                <For each=messages key=|m| format!("{}-{:?}-{:?}-{}", m.id, m.status, m.correction_requested, m.changes) let:message>
                    <InboxMessage message=message mail=mail/>
                </For>
            </ul>
        </div>
    }
}

#[component]
fn InboxMessage(message: Message, mail: MailSession) -> impl IntoView {
    let id = message.id;
    let unread = message.status == MessageStatus::Delivered;
    let open = RwSignal::new(!unread);
    let asking = RwSignal::new(false);
    let note = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let corrected = message.corrections;
    let ask = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        spawn_local(async move {
            if let Err(e) = mail.ask_correction(id, note.get_untracked()).await {
                let _ = error.try_set(Some(e.to_string()));
            }
        });
    };
    let pending_note = message.correction_requested.clone();
    let body = message.body.clone();
    view! {
        <li class="mail-item" class:unread=unread data-testid="mail-inbox-item">
            <span class="who">"from " {message.from.clone()}</span>
            <button
                type="button"
                class="subject-button"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| {
                    open.set(true);
                    mail.open(id);
                }
            >
                {message.subject.clone()}
            </button>
            <span class="state">{if unread { "new" } else { "read" }}</span>
            {(corrected > 0).then(|| view! { <span class="state">{format!("corrected ×{corrected}")}</span> })}
            <Show when=move || open.get()>
                <p class="body" data-testid="mail-body-text">{body.clone()}</p>
                {match pending_note.clone() {
                    Some(note) => view! { <p class="state warn">{format!("You asked: {note}")}</p> }.into_any(),
                    None => view! {
                        <Show when=move || asking.get() fallback=move || view! {
                            <button type="button" class="quiet" data-testid="mail-ask-correction" on:click=move |_| asking.set(true)>"Ask for a correction"</button>
                        }>
                            <form class="mail-correct" on:submit=ask>
                                <label class="field">
                                    <span>"What is wrong?"</span>
                                    <input type="text" data-testid="mail-correction-note" prop:value=move || note.get() on:input=move |e| note.set(event_target_value(&e))/>
                                </label>
                                <button type="submit" data-testid="mail-ask">"Ask"</button>
                                <p class="form-error" role="alert">{move || error.get()}</p>
                            </form>
                        </Show>
                    }.into_any(),
                }}
            </Show>
        </li>
    }
}
