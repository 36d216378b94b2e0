//! The overview (`/`): what Meanwhile is, and the one experiment that explains the heartbeat:
//! waiting for an answer versus blocking the page.

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::lab::{EchoRequest, EchoResponse};

use crate::api;

/// How long the overview's slow request waits on the server.
const SLOW_REQUEST_MS: u32 = 2_000;
/// How long the overview's busy loop holds the main thread.
const BLOCK_MS: f64 = 1_000.0;

#[component]
pub fn Overview() -> impl IntoView {
    view! {
        <section class="page overview">
            <h1>"See asynchronous request/response at work"</h1>
            <p class="lede">
                "This page is Rust compiled to WebAssembly. It sends JSON requests to a Rust server "
                "and keeps working while the answers take their time: they arrive later, out of order, "
                "sometimes failing, sometimes never."
            </p>
            <h2>"The heartbeat"</h2>
            <p>
                "In the header, a clock with tenths of a second and a frame-rate meter run on every frame "
                "the browser draws, about 60 times a second. The small trace shows the gap between "
                "frames: flat while the page is free, a spike whenever something holds the main thread. "
                "Try both experiments below and watch it."
            </p>
            <div class="experiments">
                <SlowRequest/>
                <BlockThePage/>
            </div>
        </section>
    }
}

/// Sends one request that the server answers after two seconds. The heartbeat keeps ticking.
#[component]
fn SlowRequest() -> impl IntoView {
    let outcome = RwSignal::new(None::<String>);
    let waiting = RwSignal::new(false);
    let send = move |_| {
        waiting.set(true);
        outcome.set(Some(
            "Waiting for the server… the clock keeps ticking.".into(),
        ));
        let started = now_ms();
        spawn_local(async move {
            let request = EchoRequest {
                delay_ms: SLOW_REQUEST_MS,
                ..EchoRequest::default()
            };
            let answer: Result<EchoResponse, _> =
                api::post_json("/api/lab/echo", &request, None).await;
            let text = match answer {
                Ok(echo) => format!(
                    "Answered after {:.0} ms (the server waited {} ms). The page never stopped.",
                    now_ms() - started,
                    echo.delay_ms
                ),
                Err(error) => format!("No answer: {error}"),
            };
            outcome.set(Some(text));
            waiting.set(false);
        });
    };
    view! {
        <article class="experiment">
            <h3>"Wait for an answer"</h3>
            <p>"Ask the server for an answer it will give in two seconds. Waiting is not blocking."</p>
            <button type="button" on:click=send disabled=move || waiting.get()>
                "Send a 2 s request"
            </button>
            <p class="outcome" data-testid="slow-request-outcome">{move || outcome.get()}</p>
        </article>
    }
}

/// Runs a one-second busy loop on the main thread. The heartbeat freezes.
#[component]
fn BlockThePage() -> impl IntoView {
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
        <article class="experiment">
            <h3>"Block the page"</h3>
            <p>"Run a one-second loop on the main thread, the way a slow synchronous call would."</p>
            <button type="button" class="danger" on:click=block>"Block for 1 s"</button>
            <p class="outcome" data-testid="block-outcome">{move || outcome.get()}</p>
        </article>
    }
}

fn now_ms() -> f64 {
    window().performance().map(|p| p.now()).unwrap_or_default()
}
