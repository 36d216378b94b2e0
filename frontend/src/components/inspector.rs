//! The inspector drawer, at the bottom of every page: each request the page made (through the
//! one API client) and each pushed event, newest first, updated live but at most once per frame.

use leptos::prelude::*;

use crate::inspector::{self, Entry, EntryKind};

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
    // Rows are copied only while the drawer is open.
    let rows = move || {
        if !open.get() {
            return Vec::new();
        }
        version.track();
        inspector::newest(SHOWN)
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
                        "), or that holds the stream. The server's account is its " <code>"Server-Timing"</code>
                        ": its whole time, and what went to waiting for the database writer, the database, waiting on purpose and the handler; "
                        "below it the request's id, which the server's log line carries."
                    </p>
                    <button type="button" class="quiet" on:click=move |_| inspector::clear()>"Clear"</button>
                    <table class="inspector-table">
                        <thead>
                            <tr>
                                <th>"#"</th><th>"method"</th><th>"path"</th><th>"status"</th><th>"server"</th>
                                <th>"outcome"</th><th>"sent"</th><th>"first byte"</th><th>"done"</th>
                                <th>"the server's account"</th>
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
            <td class="outcome">{outcome}</td>
            <td>{ms(Some(entry.started_ms))}</td>
            <td>{ms(entry.first_byte_ms)}</td>
            <td>{ms(entry.done_ms)}</td>
            <td class="account">
                {entry.server_timing.as_deref().map(inspector::timing_in_words)}
                {entry.request_id.clone().map(|id| view! { <br/><code class="request-id">{id}</code> })}
            </td>
        </tr>
    }
}
