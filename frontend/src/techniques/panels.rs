//! The five panels, one per technique: each starts its technique with the knobs' request, tells
//! its [`Runs`] how to stop it, and shows what it answered.

use leptos::prelude::*;
use protocol::lab::{EchoRequest, TICK_INTERVAL_MS_MAX, TICK_INTERVAL_MS_MIN, TICKS_COUNT_MAX};
use web_sys::AbortController;

use super::panel::{Panel, Runs, knobs};
use super::resource::EchoResource;
use super::{async_await, callbacks, promises, push};

#[component]
pub fn CallbacksPanel() -> impl IntoView {
    let runs = Runs::for_panel();
    let run = move || {
        let run = runs.start();
        match callbacks::echo_as_xml(&knobs().request(), move |result| runs.settle(run, result)) {
            // Dropping the request aborts it if it is still on its way.
            Ok(sent) => runs.on_stop(run, move || drop(sent)),
            Err(error) => runs.settle(run, Err(error)),
        }
    };
    view! {
        <Panel
            id="callbacks"
            title="1. XMLHttpRequest with callbacks"
            about="The original Ajax: send, and the browser calls back once — onload or onerror. Asked for XML, read out of the parsed document."
            source=include_str!("callbacks.rs")
            runs=runs
            on_run=run
        />
    }
}

#[component]
pub fn PromisesPanel() -> impl IntoView {
    let runs = Runs::for_panel();
    let run = move || {
        let run = runs.start();
        match promises::echo_with_promises(&knobs().request(), move |result| {
            runs.settle(run, result)
        }) {
            // Dropping the chain aborts its fetch.
            Ok(chain) => runs.on_stop(run, move || drop(chain)),
            Err(error) => runs.settle(run, Err(error)),
        }
    };
    view! {
        <Panel
            id="promises"
            title="2. Promise chains"
            about="fetch(…).then(…).then(…).catch(…) through js-sys: each step a closure the browser calls when the one before resolves. No async/await."
            source=include_str!("promises.rs")
            runs=runs
            on_run=run
        />
    }
}

#[component]
pub fn AwaitPanel() -> impl IntoView {
    let runs = Runs::for_panel();
    let run = move || {
        let Ok(abort) = AbortController::new() else {
            return;
        };
        let run = runs.start();
        let signal = abort.signal();
        runs.on_stop(run, move || abort.abort());
        let request = knobs().request();
        leptos::task::spawn_local(async move {
            let result = async_await::echo_with_await(&request, &signal).await;
            runs.settle(run, result);
        });
    };
    view! {
        <Panel
            id="await"
            title="3. async/await"
            about="gloo-net and JSON, as the rest of Meanwhile does it: reads top to bottom, and .await gives the thread back to the browser until the answer comes."
            source=include_str!("async_await.rs")
            runs=runs
            on_run=run
        />
    }
}

#[component]
pub fn ResourcePanel() -> impl IntoView {
    let runs = Runs::for_panel();
    let request = RwSignal::new(None::<EchoRequest>);
    let controller = StoredValue::new_local(None::<AbortController>);
    let run = move || {
        let run = runs.start();
        runs.on_stop(run, move || {
            controller.with_value(|c| c.as_ref().map(AbortController::abort));
        });
        request.set(Some(knobs().request()));
    };
    view! {
        <Panel
            id="resource"
            title="4. A reactive resource"
            about="A Leptos LocalResource refetches whenever the signal it reads changes; <Transition> keeps the last answer while the next loads. Run sets the signal; Cancel aborts the fetch in flight."
            source=include_str!("resource.rs")
            runs=runs
            on_run=run
        >
            <EchoResource
                request=request
                controller=controller
                on_answer=move |result| runs.settle(runs.current(), result)
            />
        </Panel>
    }
}

#[component]
pub fn PushPanel() -> impl IntoView {
    let runs = Runs::for_panel();
    let run = move || {
        let run = runs.start();
        // Spread the echo's delay over five ticks, within the countdown's bounds.
        let interval =
            (knobs().request().delay_ms / 5).clamp(TICK_INTERVAL_MS_MIN, TICK_INTERVAL_MS_MAX);
        let count = 5.min(TICKS_COUNT_MAX);
        let opened = push::countdown(
            count,
            interval,
            move |tick| {
                if tick.remaining == 0 {
                    let said = format!("tick {} of {count}: the server said so, unasked", tick.n);
                    runs.settle(run, Ok(said));
                }
            },
            // Refused, or dropped before its last tick (after it, this changes nothing).
            move || {
                runs.settle(
                    run,
                    Err("the stream closed before its last tick".to_owned()),
                )
            },
        );
        match opened {
            // Dropping the stream closes the EventSource.
            Ok(stream) => runs.on_stop(run, move || drop(stream)),
            Err(error) => runs.settle(run, Err(error)),
        }
    };
    view! {
        <Panel
            id="push"
            title="5. Server push"
            about="An EventSource opened once; the server sends a countdown, one event at a time, without being asked again."
            source=include_str!("push.rs")
            runs=runs
            on_run=run
        />
    }
}
