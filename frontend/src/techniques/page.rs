//! The Techniques page (`/techniques`): the same request done five ways, each panel with Run,
//! Cancel, its result and time, and the very source file that ran (embedded when the page is
//! built, so it cannot drift); then three requests combined four ways, with their timelines.

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::lab::{
    DELAY_MS_MAX, EchoRequest, JITTER_MS_MAX, TICK_INTERVAL_MS_MAX, TICK_INTERVAL_MS_MIN,
    TICKS_COUNT_MAX,
};
use web_sys::AbortController;

use super::combinators::{self, Ending, Lane, Run, Way};
use super::resource::EchoResource;
use super::{async_await, callbacks, promises, push};
use crate::api::lab::{self, EchoMethod};
use crate::frame;

/// What a panel shows below its buttons.
#[derive(Debug, Clone, PartialEq)]
enum Shown {
    Idle,
    Running,
    Done(String, f64),
    Failed(String, f64),
    Cancelled(f64),
}

impl Shown {
    fn text(&self) -> String {
        match self {
            Self::Idle => "Press Run.".to_owned(),
            Self::Running => "Waiting for the answer…".to_owned(),
            Self::Done(text, ms) => format!("{text} — {ms:.0} ms"),
            Self::Failed(text, ms) => format!("Failed: {text} — {ms:.0} ms"),
            Self::Cancelled(ms) => format!("Cancelled after {ms:.0} ms."),
        }
    }
}

/// The echo's knobs every panel runs with.
#[derive(Debug, Clone, Copy)]
struct Knobs {
    delay: RwSignal<String>,
    jitter: RwSignal<String>,
    fail: RwSignal<String>,
}

impl Knobs {
    fn request(&self) -> EchoRequest {
        let number = |text: RwSignal<String>, max: u32| {
            text.get_untracked()
                .trim()
                .parse::<u32>()
                .unwrap_or(0)
                .min(max)
        };
        EchoRequest {
            delay_ms: number(self.delay, DELAY_MS_MAX),
            jitter_ms: number(self.jitter, JITTER_MS_MAX),
            fail_rate: self
                .fail
                .get_untracked()
                .trim()
                .parse::<f64>()
                .unwrap_or(0.0)
                .clamp(0.0, 1.0),
            bytes: 0,
            seq: Some((js_sys::Math::random() * 1000.0) as u64),
        }
    }
}

#[component]
pub fn Techniques() -> impl IntoView {
    let knobs = Knobs {
        delay: RwSignal::new("800".to_owned()),
        jitter: RwSignal::new("0".to_owned()),
        fail: RwSignal::new("0".to_owned()),
    };
    provide_context(knobs);
    view! {
        <section class="page techniques">
            <h1>"Techniques"</h1>
            <p class="lede">
                "The same request to the Lab's echo, written five ways, each next to its own source. "
                "Every one goes through the inspector below. Make it slow or failing with the knobs, "
                "then Run and Cancel to see how each technique reports an answer, an error and a cancel."
            </p>
            <fieldset class="technique-knobs">
                <legend>"The echo"</legend>
                <label class="field">
                    <span>"Delay (ms)"</span>
                    <input inputmode="numeric" data-testid="knob-delay" bind:value=knobs.delay/>
                </label>
                <label class="field">
                    <span>"Jitter (± ms)"</span>
                    <input inputmode="numeric" bind:value=knobs.jitter/>
                </label>
                <label class="field">
                    <span>"Failure rate (0–1)"</span>
                    <input inputmode="decimal" data-testid="knob-fail" bind:value=knobs.fail/>
                </label>
            </fieldset>
            <div class="techniques-grid">
                <CallbacksPanel/>
                <PromisesPanel/>
                <AwaitPanel/>
                <ResourcePanel/>
                <PushPanel/>
            </div>
            <Combinators/>
        </section>
    }
}

/// A panel's frame: its title, what it shows, its buttons and result, and its source.
#[component]
fn Panel(
    /// The test id and heading id.
    id: &'static str,
    title: &'static str,
    about: &'static str,
    source: &'static str,
    shown: RwSignal<Shown>,
    on_run: impl Fn() + Send + Sync + 'static,
    on_cancel: impl Fn() + Send + Sync + 'static,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let running = move || shown.get() == Shown::Running;
    view! {
        <article class="technique" data-testid=format!("technique-{id}") aria-labelledby=format!("technique-{id}-title")>
            <h2 id=format!("technique-{id}-title")>{title}</h2>
            <p class="hint">{about}</p>
            <div class="technique-buttons">
                <button type="button" data-testid="technique-run" on:click=move |_| on_run()>
                    "Run"
                </button>
                <button
                    type="button"
                    class="quiet"
                    data-testid="technique-cancel"
                    disabled=move || !running()
                    on:click=move |_| on_cancel()
                >
                    "Cancel"
                </button>
            </div>
            {match children {
                Some(children) => children(),
                None => view! {
                    <p class="technique-result" role="status" data-testid="technique-result">
                        {move || shown.get().text()}
                    </p>
                }
                    .into_any(),
            }}
            <details class="technique-source">
                <summary>"Source"</summary>
                <pre><code data-testid="technique-source">{source}</code></pre>
            </details>
        </article>
    }
}

fn knobs() -> Knobs {
    expect_context::<Knobs>()
}

/// Marks the panel running and returns the time it started, for the timing.
fn started(shown: RwSignal<Shown>) -> f64 {
    shown.set(Shown::Running);
    frame::now_ms()
}

fn settle(shown: RwSignal<Shown>, since: f64, result: Result<String, String>) {
    let ms = frame::now_ms() - since;
    let _ = shown.try_update(|shown| {
        // A cancel already said so; the late "aborted" changes nothing.
        if *shown == Shown::Running {
            *shown = match result {
                Ok(text) => Shown::Done(text, ms),
                Err(error) => Shown::Failed(error, ms),
            };
        }
    });
}

fn cancelled(shown: RwSignal<Shown>, since: StoredValue<f64>) {
    if shown.get_untracked() == Shown::Running {
        shown.set(Shown::Cancelled(frame::now_ms() - since.get_value()));
    }
}

#[component]
fn CallbacksPanel() -> impl IntoView {
    let shown = RwSignal::new(Shown::Idle);
    let since = StoredValue::new(0.0);
    let request = StoredValue::new_local(None::<crate::api::xhr::XhrRequest>);
    let run = move || {
        let at = started(shown);
        since.set_value(at);
        match callbacks::echo_as_xml(&knobs().request(), move |result| settle(shown, at, result)) {
            Ok(sent) => request.set_value(Some(sent)),
            Err(error) => settle(shown, at, Err(error)),
        }
    };
    let cancel = move || {
        cancelled(shown, since);
        request.with_value(|sent| {
            if let Some(sent) = sent {
                sent.abort();
            }
        });
    };
    view! {
        <Panel
            id="callbacks"
            title="1. XMLHttpRequest with callbacks"
            about="The original Ajax: send, and the browser calls back once — onload or onerror. Asked for XML, read out of the parsed document."
            source=include_str!("callbacks.rs")
            shown=shown
            on_run=run
            on_cancel=cancel
        />
    }
}

#[component]
fn PromisesPanel() -> impl IntoView {
    let shown = RwSignal::new(Shown::Idle);
    let since = StoredValue::new(0.0);
    let chain = StoredValue::new_local(None::<promises::Chain>);
    let run = move || {
        let at = started(shown);
        since.set_value(at);
        match promises::echo_with_promises(&knobs().request(), move |result| {
            settle(shown, at, result)
        }) {
            Ok(started) => chain.set_value(Some(started)),
            Err(error) => settle(shown, at, Err(error)),
        }
    };
    let cancel = move || {
        cancelled(shown, since);
        chain.with_value(|chain| {
            if let Some(chain) = chain {
                chain.controller.abort();
            }
        });
    };
    view! {
        <Panel
            id="promises"
            title="2. Promise chains"
            about="fetch(…).then(…).then(…).catch(…) through js-sys: each step a closure the browser calls when the one before resolves. No async/await."
            source=include_str!("promises.rs")
            shown=shown
            on_run=run
            on_cancel=cancel
        />
    }
}

#[component]
fn AwaitPanel() -> impl IntoView {
    let shown = RwSignal::new(Shown::Idle);
    let since = StoredValue::new(0.0);
    let controller = StoredValue::new_local(None::<AbortController>);
    let run = move || {
        let Ok(abort) = AbortController::new() else {
            return;
        };
        let signal = abort.signal();
        controller.set_value(Some(abort));
        let at = started(shown);
        since.set_value(at);
        let request = knobs().request();
        spawn_local(async move {
            let result = async_await::echo_with_await(&request, &signal).await;
            settle(shown, at, result);
        });
    };
    let cancel = move || {
        cancelled(shown, since);
        controller.with_value(|c| c.as_ref().map(AbortController::abort));
    };
    view! {
        <Panel
            id="await"
            title="3. async/await"
            about="gloo-net and JSON, as the rest of Meanwhile does it: reads top to bottom, and .await gives the thread back to the browser until the answer comes."
            source=include_str!("async_await.rs")
            shown=shown
            on_run=run
            on_cancel=cancel
        />
    }
}

#[component]
fn ResourcePanel() -> impl IntoView {
    let shown = RwSignal::new(Shown::Idle);
    let request = RwSignal::new(None::<EchoRequest>);
    let controller = StoredValue::new_local(None::<AbortController>);
    view! {
        <Panel
            id="resource"
            title="4. A reactive resource"
            about="A Leptos LocalResource refetches whenever the signal it reads changes; <Transition> keeps the last answer while the next loads. Run sets the signal; Cancel aborts the fetch in flight."
            source=include_str!("resource.rs")
            shown=shown
            on_run=move || request.set(Some(knobs().request()))
            on_cancel=move || {
                controller.with_value(|c| c.as_ref().map(AbortController::abort));
            }
        >
            <EchoResource request=request controller=controller/>
        </Panel>
    }
}

#[component]
fn PushPanel() -> impl IntoView {
    let shown = RwSignal::new(Shown::Idle);
    let since = StoredValue::new(0.0);
    let stream = StoredValue::new_local(None::<crate::api::push::PushStream>);
    let run = move || {
        let at = started(shown);
        since.set_value(at);
        // Spread the echo's delay over five ticks, within the countdown's bounds.
        let interval =
            (knobs().request().delay_ms / 5).clamp(TICK_INTERVAL_MS_MIN, TICK_INTERVAL_MS_MAX);
        let count = 5.min(TICKS_COUNT_MAX);
        let opened = push::countdown(
            count,
            interval,
            move |tick| {
                let _ = shown.try_set(if tick.remaining == 0 {
                    Shown::Done(
                        format!("tick {} of {count}: the server said so, unasked", tick.n),
                        frame::now_ms() - at,
                    )
                } else {
                    Shown::Running
                });
            },
            move || {
                stream.set_value(None);
                // Refused, or dropped before its last tick (after it, this changes nothing).
                settle(
                    shown,
                    at,
                    Err("the stream closed before its last tick".to_owned()),
                );
            },
        );
        match opened {
            Ok(opened) => stream.set_value(Some(opened)),
            Err(error) => settle(shown, at, Err(error)),
        }
    };
    let cancel = move || {
        cancelled(shown, since);
        // Dropping the stream closes the EventSource.
        stream.set_value(None);
    };
    view! {
        <Panel
            id="push"
            title="5. Server push"
            about="An EventSource opened once; the server sends a countdown, one event at a time, without being asked again."
            source=include_str!("push.rs")
            shown=shown
            on_run=run
            on_cancel=cancel
        />
    }
}

/// Three requests with chosen delays, combined four ways, with their timelines.
#[component]
fn Combinators() -> impl IntoView {
    let delays = [
        RwSignal::new("300".to_owned()),
        RwSignal::new("1200".to_owned()),
        RwSignal::new("700".to_owned()),
    ];
    let deadline = RwSignal::new("1000".to_owned());
    let runs = RwSignal::new(Vec::<Run>::new());
    let busy = RwSignal::new(false);
    let run_all = move |_| {
        let delays: Vec<u32> = delays
            .iter()
            .map(|d| {
                d.get_untracked()
                    .trim()
                    .parse::<u32>()
                    .unwrap_or(0)
                    .min(DELAY_MS_MAX)
            })
            .collect();
        let deadline = deadline
            .get_untracked()
            .trim()
            .parse::<u32>()
            .unwrap_or(1000);
        busy.set(true);
        runs.set(Vec::new());
        spawn_local(async move {
            for way in [Way::Sequence, Way::Join, Way::Race, Way::Timeout(deadline)] {
                let run = combinators::run(way, &delays, echo_after).await;
                let _ = runs.try_update(|runs| runs.push(run));
            }
            let _ = busy.try_set(false);
        });
    };
    let scale = move || runs.with(|runs| runs.iter().map(|r| r.wall_ms).fold(1.0, f64::max));
    view! {
        <section class="combinators" aria-labelledby="combinators-title">
            <h2 id="combinators-title">"Three requests, four ways"</h2>
            <p class="hint">
                "One after another takes the sum of the delays; all joined, the longest; a race, the "
                "shortest (the others are aborted); a deadline shorter than the slowest, a timeout error."
            </p>
            <div class="technique-knobs">
                {delays
                    .into_iter()
                    .enumerate()
                    .map(|(i, delay)| view! {
                        <label class="field">
                            <span>{format!("Delay {} (ms)", i + 1)}</span>
                            <input inputmode="numeric" data-testid=format!("combine-delay-{}", i + 1) bind:value=delay/>
                        </label>
                    })
                    .collect_view()}
                <label class="field">
                    <span>"Deadline (ms)"</span>
                    <input inputmode="numeric" data-testid="combine-deadline" bind:value=deadline/>
                </label>
                <button type="button" data-testid="combine-run" on:click=run_all disabled=move || busy.get()>
                    "Run the four"
                </button>
            </div>
            <ol class="combinator-runs" data-testid="combinator-runs">
                <For each=move || runs.get() key=|run| run.way.name() let:run>
                    <CombinedRun run=run scale=scale/>
                </For>
            </ol>
        </section>
    }
}

/// One echo that waits `delay` ms, aborted if the combinator drops it.
async fn echo_after(delay: u32) -> Result<(), String> {
    let abort = AbortController::new().map_err(|_| "no AbortController")?;
    let signal = abort.signal();
    let mut guard = AbortOnDrop(Some(abort));
    let request = EchoRequest {
        delay_ms: delay,
        jitter_ms: 0,
        fail_rate: 0.0,
        bytes: 0,
        seq: Some(u64::from(delay)),
    };
    let traced = lab::echo(EchoMethod::Get, &request, Some(&signal)).await;
    // Answered: nothing left to abort.
    guard.0 = None;
    traced.result.map(drop).map_err(|error| error.to_string())
}

/// Aborts the request when the future holding it is dropped before it finished.
struct AbortOnDrop(Option<AbortController>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(controller) = &self.0 {
            controller.abort();
        }
    }
}

#[component]
fn CombinedRun(run: Run, scale: impl Fn() -> f64 + Send + Sync + Copy + 'static) -> impl IntoView {
    let outcome = match &run.result {
        Ok(answered) => format!("{} answered", answered.len()),
        Err(error) => error.clone(),
    };
    let lanes = run.lanes.clone();
    let described = describe_lanes(&lanes);
    view! {
        <li class="combinator-run" data-testid="combinator-run">
            <p>
                <strong>{run.way.name()}</strong>
                {format!(": {:.0} ms — {outcome}", run.wall_ms)}
            </p>
            <div class="timeline" role="img" aria-label=described>
                {lanes
                    .into_iter()
                    .map(|lane| {
                        // Set through the CSSOM (`style:`), which the page's policy allows,
                        // not as a `style` attribute, which it refuses.
                        let start = lane.started_ms.unwrap_or(0.0);
                        let end = lane.ended_ms.unwrap_or(start);
                        let left = move || format!("{:.2}%", 100.0 * start / scale());
                        let width =
                            move || format!("{:.2}%", (100.0 * (end - start) / scale()).max(0.5));
                        let class = match &lane.ending {
                            Some(Ending::Answered) => "bar answered",
                            Some(Ending::Failed(_)) => "bar failed",
                            Some(Ending::Dropped) | Some(Ending::TimedOut) => "bar dropped",
                            None => "bar never",
                        };
                        view! {
                            <div class="lane">
                                <span class=class style:left=left style:width=width></span>
                            </div>
                        }
                    })
                    .collect_view()}
            </div>
        </li>
    }
}

fn describe_lanes(lanes: &[Lane]) -> String {
    lanes
        .iter()
        .map(|lane| {
            let how = match &lane.ending {
                Some(Ending::Answered) => "answered",
                Some(Ending::Failed(_)) => "failed",
                Some(Ending::Dropped) => "dropped",
                Some(Ending::TimedOut) => "timed out",
                None => "never started",
            };
            format!("{} ms: {how}", lane.delay_ms)
        })
        .collect::<Vec<_>>()
        .join("; ")
}
