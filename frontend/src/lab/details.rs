//! The details of one request of the Lab: each attempt's address, status, waits (for a
//! connection, for the first byte), the server's own account (`Server-Timing`), its outcome.

use leptos::prelude::*;

use crate::inspector::Outcome;
use crate::lab::model::{LabModel, Request};

/// The request whose bar was clicked, attempt by attempt.
#[component]
pub fn RequestDetails(
    model: StoredValue<LabModel, LocalStorage>,
    frame: RwSignal<u64>,
    selected: RwSignal<Option<u64>>,
) -> impl IntoView {
    // A memo: read again at every frame (a selected request's bar grows), but the view is rebuilt
    // only when what it shows changed — not 60 times a second while nothing is selected.
    let details = Memo::new(move |_| {
        frame.track();
        let seq = selected.get()?;
        model.with_value(|m| m.request(seq).cloned())
    });
    view! {
        <div class="request-details" data-testid="lab-details">
            {move || match details.get() {
                None => view! { <p class="explain">"Click a bar to see its request."</p> }.into_any(),
                Some(request) => view! { <Details request=request/> }.into_any(),
            }}
        </div>
    }
}

#[component]
fn Details(request: Request) -> impl IntoView {
    let ms = |from: f64, to: Option<f64>| {
        to.map_or_else(|| "…".to_owned(), |t| format!("{:.0} ms", t - from))
    };
    let attempts = request
        .attempts
        .iter()
        .map(|attempt| {
            let report = attempt.report.clone();
            let method = attempt.method.name();
            let status = report.as_ref().and_then(|r| r.status).map_or_else(|| "—".to_owned(), |s| s.to_string());
            let outcome = report.as_ref().map_or(Outcome::InFlight, |r| r.outcome);
            // Exact from the browser's resource timing once the answer is in; estimated before.
            let waited_for_connection = match (report.as_ref().and_then(|r| r.sent_at), attempt.slot_at) {
                (Some(sent), _) => format!("{:.0} ms", sent - attempt.started_at),
                (None, Some(slot)) => format!("about {:.0} ms (estimated)", slot - attempt.started_at),
                (None, None) if attempt.ended_at.is_none() => "still waiting for one".to_owned(),
                (None, None) => "—".to_owned(),
            };
            let protocol = report
                .as_ref()
                .and_then(|r| r.protocol.clone())
                .unwrap_or_else(|| "—".to_owned());
            let first_byte = ms(attempt.started_at, report.as_ref().and_then(|r| r.first_byte_at));
            let total = ms(attempt.started_at, attempt.ended_at);
            let server = report
                .as_ref()
                .and_then(|r| r.server_delay_ms)
                .map_or_else(|| "—".to_owned(), |d| format!("{d} ms"));
            let bytes = report.as_ref().and_then(|r| r.bytes).map_or_else(|| "—".to_owned(), |b| b.to_string());
            let timing = report.as_ref().and_then(|r| r.server_timing.clone()).unwrap_or_else(|| "—".to_owned());
            let error = report.as_ref().and_then(|r| r.error.clone());
            let backoff = report.as_ref().and_then(|r| r.backoff_ms).map(|b| format!("then waited {b} ms before retrying"));
            view! {
                <div class="attempt">
                    <h4>{format!("Attempt {} — ", attempt.number)}<span class=outcome.class()>{outcome.label()}</span></h4>
                    <dl>
                        <dt>"request"</dt><dd><code>{format!("{method} {}", attempt.address)}</code></dd>
                        <dt>"status"</dt><dd>{status}</dd>
                        <dt>"protocol"</dt><dd data-testid="lab-protocol">{protocol}</dd>
                        <dt>"waited for a connection"</dt><dd>{waited_for_connection}</dd>
                        <dt>"first byte after"</dt><dd>{first_byte}</dd>
                        <dt>"total"</dt><dd>{total}</dd>
                        <dt>"server waited"</dt><dd>{server}</dd>
                        <dt>"Server-Timing"</dt><dd><code>{timing}</code></dd>
                        <dt>"bytes"</dt><dd>{bytes}</dd>
                    </dl>
                    {error.map(|e| view! { <p class="error">{e}</p> })}
                    {backoff.map(|b| view! { <p class="explain">{b}</p> })}
                </div>
            }
        })
        .collect_view();
    view! {
        <h3>{format!("Request #{} (run {}) — {}", request.seq, request.run, request.outcome.label())}</h3>
        {attempts}
    }
}
