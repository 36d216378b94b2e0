//! The inspector drawer, at the bottom of every page: each request the page made (through the
//! one API client) and each pushed event, newest first, updated live but at most once per frame.

use leptos::prelude::*;

use super::server_panel::ServerPanel;
use crate::inspector::{self, Entry, EntryKind, Outcome, Room};

/// What the drawer shows: everything, or only what each filter keeps.
#[derive(Debug, Clone, Default, PartialEq)]
struct Filter {
    room: Option<Room>,
    /// `Some(true)`: requests only; `Some(false)`: pushed events only.
    requests: Option<bool>,
    outcome: Option<Outcome>,
    /// Kept when the path (or the event) contains it, ignoring case.
    path: String,
}

impl Filter {
    fn keeps(&self, entry: &Entry) -> bool {
        let (is_request, text) = match &entry.kind {
            EntryKind::Request { path, .. } => (true, path),
            EntryKind::Event { name } => (false, name),
        };
        self.room.is_none_or(|room| room == entry.room)
            && self.requests.is_none_or(|requests| requests == is_request)
            && self
                .outcome
                .is_none_or(|outcome| is_request && outcome == entry.outcome)
            && (self.path.is_empty() || text.to_lowercase().contains(&self.path.to_lowercase()))
    }
}

/// Rows the drawer shows; the recorder keeps more (see [`inspector::CAPACITY`]).
const SHOWN: usize = 200;

#[component]
pub fn InspectorDrawer() -> impl IntoView {
    let open = RwSignal::new(false);
    let version = inspector::version();
    let counts = move || {
        version.track();
        let (recorded, in_flight) = inspector::counts();
        format!("{recorded} recorded · {in_flight} in flight")
    };
    // Escape closes it, wherever the focus is.
    let escape = window_event_listener(leptos::ev::keydown, move |event| {
        if event.key() == "Escape" && open.get_untracked() {
            open.set(false);
        }
    });
    on_cleanup(move || escape.remove());
    let filter = RwSignal::new(Filter::default());
    // The server panel follows its stream only while it is shown.
    let panel = RwSignal::new(false);
    // Rows are copied only while the drawer is open.
    let rows = move || {
        if !open.get() {
            return Vec::new();
        }
        version.track();
        let filter = filter.get();
        inspector::newest_matching(SHOWN, |entry| filter.keeps(entry))
    };
    let choose_room = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        let room = Room::ALL.into_iter().find(|room| room.label() == value);
        filter.update(|f| f.room = room);
    };
    let choose_kind = move |ev: leptos::ev::Event| {
        let requests = match event_target_value(&ev).as_str() {
            "requests" => Some(true),
            "events" => Some(false),
            _ => None,
        };
        filter.update(|f| f.requests = requests);
    };
    let choose_outcome = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        let outcome = Outcome::ALL.into_iter().find(|o| o.label() == value);
        filter.update(|f| f.outcome = outcome);
    };
    let search = move |ev: leptos::ev::Event| {
        let path = event_target_value(&ev);
        filter.update(|f| f.path = path);
    };
    view! {
        <section class="inspector" class:open=move || open.get() aria-label="Inspector">
            <button
                type="button"
                class="inspector-toggle"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)
            >
                <span class="inspector-title">"Inspector"</span>
                <span class="inspector-counts" data-testid="inspector-counts">{counts}</span>
            </button>
            <Show when=move || open.get()>
                <div class="inspector-body">
                    <p class="inspector-note">
                        "Every request this page makes, and every event the server pushes to it (marked "
                        <b>"pushed"</b> "), newest first: the last " {SHOWN} " shown, the last "
                        {inspector::CAPACITY} " kept. Times are milliseconds since the page loaded; "
                        "the server is the instance that answered (its " <code>"X-Served-By"</code>
                        "), or that holds the stream. The browser's phases are its own resource timing: queued "
                        "(waiting for one of its connections, and opening one), waiting (from sending to the first byte) "
                        "and download. The server's account is its " <code>"Server-Timing"</code>
                        ": its whole time, and what went to waiting for the database writer, the database, waiting on purpose and the handler; "
                        "below it the request's id, which the server's log line carries."
                    </p>
                    <button
                        type="button"
                        class="quiet panel-toggle"
                        data-testid="panel-toggle"
                        aria-expanded=move || panel.get().to_string()
                        aria-controls="server-panel"
                        on:click=move |_| panel.update(|p| *p = !*p)
                    >
                        {move || if panel.get() { "Hide the server panel" } else { "Show the server panel" }}
                    </button>
                    <Show when=move || panel.get()>
                        <ServerPanel/>
                    </Show>
                    <div class="inspector-filters" role="group" aria-label="Show only">
                        <label>"Room "
                            <select data-testid="inspector-room" on:change=choose_room>
                                <option value="">"all"</option>
                                {Room::ALL.into_iter().map(|room| view! { <option value=room.label()>{room.label()}</option> }).collect_view()}
                            </select>
                        </label>
                        <label>"Kind "
                            <select data-testid="inspector-kind" on:change=choose_kind>
                                <option value="">"all"</option>
                                <option value="requests">"requests"</option>
                                <option value="events">"pushed events"</option>
                            </select>
                        </label>
                        <label>"Outcome "
                            <select data-testid="inspector-outcome" on:change=choose_outcome>
                                <option value="">"all"</option>
                                {Outcome::ALL.into_iter().map(|o| view! { <option value=o.label()>{o.label()}</option> }).collect_view()}
                            </select>
                        </label>
                        <label>"Path contains "
                            <input type="search" data-testid="inspector-search" on:input=search/>
                        </label>
                        <button type="button" class="quiet" data-testid="inspector-clear" on:click=move |_| inspector::clear()>"Clear"</button>
                        <button type="button" class="quiet" data-testid="inspector-har" on:click=move |_| crate::har::download()>
                            "Export HAR"
                        </button>
                    </div>
                    <table class="inspector-table">
                        <thead>
                            <tr>
                                <th>"#"</th><th>"method"</th><th>"path"</th><th>"status"</th><th>"server"</th>
                                <th>"outcome, and why"</th><th>"sent"</th><th>"first byte"</th><th>"done"</th>
                                <th>"the browser's phases"</th><th>"the server's account"</th>
                            </tr>
                        </thead>
                        <tbody>
                            // Keyed by the entry and its revision: a row is redrawn whenever its
                            // request changes (status, first byte, outcome), not only at its end.
                            <For each=rows key=|entry| (entry.id, entry.revision) let:entry>
                                <InspectorRow entry=entry/>
                            </For>
                        </tbody>
                    </table>
                </div>
            </Show>
        </section>
    }
}

#[component]
fn InspectorRow(entry: Entry) -> impl IntoView {
    let ms = |t: Option<f64>| t.map(|t| format!("{t:.0}")).unwrap_or_default();
    // A pushed event is a marker: one moment, no request behind it.
    let (method, path, class, outcome) = match &entry.kind {
        EntryKind::Request { method, path } => (
            *method,
            path.clone(),
            entry.outcome.class(),
            entry.outcome.label(),
        ),
        EntryKind::Event { name } => ("EVENT", name.clone(), "marker", "pushed"),
    };
    view! {
        <tr class=class>
            <td>{entry.id}</td>
            <td>{method}</td>
            <td class="path">{path}</td>
            <td>{entry.status.map(|s| s.to_string()).unwrap_or_default()}</td>
            <td class="served-by">{entry.served_by.clone().unwrap_or_default()}</td>
            <td class="outcome">
                {outcome}
                <br/><span class="why">{entry.reason()}</span>
                {entry.about.attempt.map(|attempt| view! { <br/><span class="why">{attempt.words()}</span> })}
            </td>
            <td>{ms(Some(entry.started_ms))}</td>
            <td>{ms(entry.first_byte_ms)}</td>
            <td>{ms(entry.done_ms)}</td>
            <td class="phases">{entry.browser.as_ref().map(inspector::phases_in_words)}</td>
            <td class="account">
                {entry.server_timing.as_deref().map(inspector::timing_in_words)}
                {entry.request_id.clone().map(|id| view! { <br/><code class="request-id">{id}</code> })}
            </td>
        </tr>
    }
}
