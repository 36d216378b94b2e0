//! "Block the page": a deliberate one-second busy loop on the main thread, so a person sees the
//! heartbeat freeze — the contrast that makes every waiting request meaningful.

use leptos::prelude::*;

use crate::frame::now_ms;

/// How long the busy loop holds the main thread.
pub const BLOCK_MS: f64 = 1_000.0;

#[component]
pub fn BlockThePage() -> impl IntoView {
    let outcome = RwSignal::new(None::<String>);
    let block = move |_| {
        let started = now_ms();
        // Deliberately synchronous: nothing else on the page can run until this loop ends.
        while now_ms() - started < BLOCK_MS {}
        outcome.set(Some(format!(
            "Blocked for {:.0} ms. Did you see the clock stop and the trace spike?",
            now_ms() - started
        )));
    };
    view! {
        <div class="block-the-page">
            <button type="button" class="danger" on:click=block>"Block the page for 1 s"</button>
            <p class="outcome" data-testid="block-outcome">{move || outcome.get()}</p>
        </div>
    }
}
