//! The overview (`/`): the map — the three meanings of asynchrony the rooms show and the
//! techniques room, each with a thing to try first — and the one experiment that explains the
//! heartbeat: waiting for an answer versus blocking the page.

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::lab::EchoRequest;
use web_sys::AbortController;

use crate::api;
use crate::api::lab::EchoMethod;
use crate::components::block::BlockThePage;
use crate::frame::now_ms;

/// How long the overview's slow request waits on the server.
const SLOW_REQUEST_MS: u32 = 2_000;

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
            <p>
                "Asynchrony means three different things here, and each room shows one. The "
                <strong>"inspector"</strong> " at the bottom of every page lists each request the "
                "page makes, in every room."
            </p>
            <h2>"Answers that arrive later, while the page goes on"</h2>
            <ul class="map">
                <li>
                    <a href="/lab">"Lab"</a> ": fire hundreds of requests at once and watch them "
                    "leave, wait, arrive out of order, fail, retry and get cancelled, while the "
                    "heartbeat keeps ticking. "
                    <em>"Try first: 200 requests with a failure rate of 0.2 and 2 retries."</em>
                </li>
                <li>
                    <a href="/search">"Search"</a> ": find any named Unicode character as you type, "
                    "and see what a list does when answers come back out of order. "
                    <em>"Try first: set the debounce to 0 ms (at 150 ms, typing at a normal pace "
                    "sends one request), turn on slow early requests with the naive strategy, type "
                    "“snowman”, and watch a stale list win."</em>
                </li>
            </ul>
            <h2>"Communication that does not wait for the other side"</h2>
            <ul class="map">
                <li>
                    <a href="/mail">"Mail"</a> ": two tabs write to each other; each message waits "
                    "in an outbox that survives a reload and goes out, once, whenever the network "
                    "lets it. "
                    <em>"Try first: open a second tab, turn on one tab's Offline switch, write three "
                    "messages, reload that tab (they wait in its outbox, and the switch stays on), "
                    "then turn the switch off: each arrives once."</em>
                </li>
            </ul>
            <h2>"Work done alongside, with a word at the end"</h2>
            <ul class="map">
                <li>
                    <a href="/tasks">"Tasks"</a> ": the server counts primes or draws the Mandelbrot "
                    "set while you do something else, and tells you when it is done, in whatever "
                    "room you are. "
                    <em>"Try first: count the primes up to 10 000 000 000 (most of a minute), then "
                    "go to the Lab: a toast tells you when it is done."</em>
                </li>
            </ul>
            <h2>"The techniques underneath"</h2>
            <ul class="map">
                <li>
                    <a href="/techniques">"Techniques"</a> ": the same request written five ways — "
                    "callbacks, promises, async/await, a reactive resource, server push — each "
                    "next to its source, and requests joined, raced and timed out. "
                    <em>"Try first: set the delay to 3000 ms, Run a panel, then Cancel it."</em>
                </li>
            </ul>
            <h2>"The heartbeat"</h2>
            <p>
                "In the header, a clock with tenths of a second and a frame-rate meter run on every frame "
                "the browser draws, about 60 times a second. The small trace shows the gap between "
                "frames: flat while the page is free, a spike whenever something holds the main thread. "
                "Try both experiments below and watch it."
            </p>
            <div class="experiments">
                <SlowRequest/>
                <BlockExperiment/>
            </div>
        </section>
    }
}

/// Sends one request that the server answers after two seconds. The heartbeat keeps ticking.
/// Leaving the page aborts it: nobody is left to read the answer.
#[component]
fn SlowRequest() -> impl IntoView {
    let outcome = RwSignal::new(None::<String>);
    let waiting = RwSignal::new(false);
    let controller = StoredValue::new_local(None::<AbortController>);
    on_cleanup(move || {
        if let Some(controller) = controller.try_update_value(Option::take).flatten() {
            controller.abort();
        }
    });
    let send = move |_| {
        let Ok(abort) = AbortController::new() else {
            outcome.set(Some(
                "This browser cannot send a cancellable request.".into(),
            ));
            return;
        };
        let signal = abort.signal();
        controller.set_value(Some(abort));
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
            let traced = api::lab::echo(EchoMethod::Post, &request, Some(&signal)).await;
            let text = match traced.result {
                Ok(echo) => format!(
                    "Answered after {:.0} ms (the server waited {} ms). The page never stopped.",
                    now_ms() - started,
                    echo.body.delay_ms
                ),
                Err(error) => format!("No answer: {error}"),
            };
            // The page may have been left meanwhile (the request was then aborted).
            let _ = outcome.try_set(Some(text));
            let _ = waiting.try_set(false);
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
fn BlockExperiment() -> impl IntoView {
    view! {
        <article class="experiment">
            <h3>"Block the page"</h3>
            <p>"Run a one-second loop on the main thread, the way a slow synchronous call would."</p>
            <BlockThePage/>
        </article>
    }
}
