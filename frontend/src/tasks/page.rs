//! The Tasks page (`/tasks`): a form per kind of job; each submitted job is a card with its
//! state, a progress bar, the time it has run and an estimate of what is left, Cancel, and its
//! result when done. A switch chooses how the page learns of changes (pushed or polled), and a
//! line shows how quickly the server answers while its CPU is busy.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;
use protocol::jobs::{
    Hashchain, ITERATIONS_MAX, Job, JobResult, JobSpec, JobState, Mandelbrot, PRIMES_LIMIT_MAX,
    PRIMES_LIMIT_MIN, Primes, ROUNDS_MAX, SIDE_MAX, SIDE_MIN, WAIT_SECONDS_MAX, Wait,
};

use super::board::timing;
use super::session::{Connection, Follow, describe, grouped, use_tasks};
use crate::api;
use crate::frame;

#[component]
pub fn Tasks() -> impl IntoView {
    let tasks = use_tasks();
    // Here every job has its card: the toasts left in other rooms have been seen.
    tasks.toasts.set(Vec::new());
    view! {
        <section class="page tasks">
            <h1>"Tasks"</h1>
            <p class="lede">
                "Ask the server for a long piece of work and carry on: it answers at once with "
                "where to look (202 Accepted), works alongside, and tells this page when it is "
                "done — here, or wherever you are in Meanwhile. Submit several; go to another "
                "room; come back."
            </p>
            <p class="problem" role="alert">{move || tasks.problem.get()}</p>
            <DeliveryChoice/>
            <div class="tasks-forms">
                <PrimesForm/>
                <MandelbrotForm/>
                <HashchainForm/>
                <WaitForm/>
            </div>
            <Responsiveness/>
            <JobList/>
        </section>
    }
}

/// Pushed or polled, and how it is going.
#[component]
fn DeliveryChoice() -> impl IntoView {
    let tasks = use_tasks();
    let polling = move || matches!(tasks.delivery.get(), Follow::Poll(_));
    let interval = move || match tasks.delivery.get() {
        Follow::Poll(ms) => ms,
        Follow::Push => 1_000,
    };
    view! {
        <fieldset class="tasks-delivery">
            <legend>"How this page hears of its jobs"</legend>
            <label class="check">
                <input
                    type="radio"
                    name="delivery"
                    prop:checked=move || !polling()
                    on:change=move |_| tasks.delivery.set(Follow::Push)
                />
                <span>"Pushed: the server sends each change on an event stream"</span>
            </label>
            <label class="check">
                <input
                    type="radio"
                    name="delivery"
                    prop:checked=polling
                    on:change=move |_| tasks.delivery.set(Follow::Poll(interval()))
                />
                <span>"Polled: the page asks for the list every"</span>
            </label>
            <label class="field">
                <span>"Polling interval"</span>
                <select
                    prop:value=move || interval().to_string()
                    on:change=move |event| {
                        if let Ok(ms) = event_target_value(&event).parse() {
                            tasks.delivery.set(Follow::Poll(ms));
                        }
                    }
                >
                    <option value="250">"0.25 s"</option>
                    <option value="1000">"1 s"</option>
                    <option value="2000">"2 s"</option>
                    <option value="5000">"5 s"</option>
                </select>
            </label>
            <p class="tasks-connection" role="status">
                <span class="connection" class:live=move || tasks.connection.get() == Connection::Live>
                    {move || match tasks.connection.get() {
                        Connection::Idle => "no jobs yet",
                        Connection::Live => "live (pushed)",
                        other => other.label(),
                    }}
                </span>
                " — each request shows in the inspector below."
            </p>
            <p class="tasks-notify">
                {move || {
                    if tasks.notifications.get() {
                        view! { <span>"System notifications are on for finished jobs."</span> }
                            .into_any()
                    } else {
                        view! {
                            <button
                                type="button"
                                class="secondary"
                                on:click=move |_| tasks.allow_notifications()
                            >
                                "Notify me when a job finishes"
                            </button>
                        }
                            .into_any()
                    }
                }}
            </p>
        </fieldset>
    }
}

/// A form's Start button and error line; `spec` builds the job from the fields.
#[component]
fn StartButton(
    /// The kind, for the button's test id (`start-primes`).
    kind: &'static str,
    spec: impl Fn() -> Result<JobSpec, String> + Send + Sync + 'static,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let tasks = use_tasks();
    let busy = RwSignal::new(false);
    let start = move |_| match spec() {
        Err(message) => error.set(Some(message)),
        Ok(spec) => {
            error.set(None);
            busy.set(true);
            spawn_local(async move {
                let result = tasks.submit(spec).await;
                let _ = busy.try_set(false);
                let _ = error.try_set(result.err().map(|e| e.to_string()));
            });
        }
    };
    view! {
        <button
            type="submit"
            data-testid=format!("start-{kind}")
            on:click=start
            disabled=move || busy.get()
        >
            "Start"
        </button>
        <p class="form-error" role="alert">{move || error.get()}</p>
    }
}

/// A whole number from a field, within `min..=max`.
fn whole(text: &str, name: &str, min: u64, max: u64) -> Result<u64, String> {
    text.trim()
        .replace(['_', ' ', ',', '\u{202f}'], "")
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            format!(
                "{name} must be a whole number from {} to {}.",
                grouped(min),
                grouped(max)
            )
        })
}

fn prevent(event: web_sys::SubmitEvent) {
    event.prevent_default();
}

#[component]
fn PrimesForm() -> impl IntoView {
    let limit = RwSignal::new("100000000".to_owned());
    let error = RwSignal::new(None);
    let spec = move || {
        let limit = whole(
            &limit.get_untracked(),
            "The limit",
            PRIMES_LIMIT_MIN,
            PRIMES_LIMIT_MAX,
        )?;
        Ok(JobSpec::Primes(Primes { limit }))
    };
    view! {
        <form class="tasks-card" on:submit=prevent aria-labelledby="form-primes">
            <h2 id="form-primes">"Count primes"</h2>
            <p class="hint">"A segmented sieve counts the primes up to a limit. 10⁹ takes a few seconds; 10¹⁰ most of a minute."</p>
            <label class="field">
                <span>"Up to"</span>
                <input inputmode="numeric" data-testid="primes-limit" bind:value=limit/>
            </label>
            <StartButton kind="primes" spec=spec error=error/>
        </form>
    }
}

#[component]
fn MandelbrotForm() -> impl IntoView {
    let width = RwSignal::new("640".to_owned());
    let height = RwSignal::new("480".to_owned());
    let iterations = RwSignal::new("500".to_owned());
    let error = RwSignal::new(None);
    let spec = move || {
        let side = |text: RwSignal<String>, name| {
            whole(
                &text.get_untracked(),
                name,
                SIDE_MIN.into(),
                SIDE_MAX.into(),
            )
            .map(|n| n as u32)
        };
        Ok(JobSpec::Mandelbrot(Mandelbrot {
            width: side(width, "The width")?,
            height: side(height, "The height")?,
            max_iterations: whole(
                &iterations.get_untracked(),
                "The iteration cap",
                1,
                ITERATIONS_MAX.into(),
            )? as u32,
            centre_re: -0.5,
            centre_im: 0.0,
            span: 3.0,
        }))
    };
    view! {
        <form class="tasks-card" on:submit=prevent aria-labelledby="form-mandelbrot">
            <h2 id="form-mandelbrot">"Draw the Mandelbrot set"</h2>
            <p class="hint">"A picture, pixel by pixel; the result is a PNG."</p>
            <div class="tasks-row">
                <label class="field">
                    <span>"Width"</span>
                    <input inputmode="numeric" data-testid="mandelbrot-width" bind:value=width/>
                </label>
                <label class="field">
                    <span>"Height"</span>
                    <input inputmode="numeric" data-testid="mandelbrot-height" bind:value=height/>
                </label>
                <label class="field">
                    <span>"Iterations"</span>
                    <input inputmode="numeric" data-testid="mandelbrot-iterations" bind:value=iterations/>
                </label>
            </div>
            <StartButton kind="mandelbrot" spec=spec error=error/>
        </form>
    }
}

#[component]
fn HashchainForm() -> impl IntoView {
    let seed = RwSignal::new("meanwhile".to_owned());
    let rounds = RwSignal::new("20000000".to_owned());
    let error = RwSignal::new(None);
    let spec = move || {
        Ok(JobSpec::Hashchain(Hashchain {
            seed: seed.get_untracked(),
            rounds: whole(&rounds.get_untracked(), "The rounds", 1, ROUNDS_MAX)?,
        }))
    };
    view! {
        <form class="tasks-card" on:submit=prevent aria-labelledby="form-hashchain">
            <h2 id="form-hashchain">"Hash again and again"</h2>
            <p class="hint">"SHA-256 of the seed, then of that hash, and so on."</p>
            <div class="tasks-row">
                <label class="field">
                    <span>"Seed"</span>
                    <input bind:value=seed/>
                </label>
                <label class="field">
                    <span>"Rounds"</span>
                    <input inputmode="numeric" bind:value=rounds/>
                </label>
            </div>
            <StartButton kind="hashchain" spec=spec error=error/>
        </form>
    }
}

#[component]
fn WaitForm() -> impl IntoView {
    let seconds = RwSignal::new("10".to_owned());
    let error = RwSignal::new(None);
    let spec = move || {
        let seconds = whole(
            &seconds.get_untracked(),
            "The wait",
            0,
            WAIT_SECONDS_MAX.into(),
        )?;
        Ok(JobSpec::Wait(Wait {
            seconds: seconds as u32,
        }))
    };
    view! {
        <form class="tasks-card" on:submit=prevent aria-labelledby="form-wait">
            <h2 id="form-wait">"Just wait"</h2>
            <p class="hint">"Takes time and no CPU: to watch the queue, cancel, and restart."</p>
            <label class="field">
                <span>"Seconds"</span>
                <input inputmode="numeric" data-testid="wait-seconds" bind:value=seconds/>
            </label>
            <StartButton kind="wait" spec=spec error=error/>
        </form>
    }
}

/// While jobs run, how long the server takes to answer a health check (every 2 s).
#[component]
fn Responsiveness() -> impl IntoView {
    let tasks = use_tasks();
    let answered = RwSignal::new(None::<f64>);
    let running = move || {
        tasks.board.with(|b| {
            b.jobs()
                .iter()
                .filter(|j| j.state == JobState::Running)
                .count()
        })
    };
    let room = api::Room::here();
    let timer = gloo_timers::callback::Interval::new(2_000, move || {
        if running() == 0 {
            return;
        }
        room.spawn(async move {
            let sent = frame::now_ms();
            if api::health().await.is_ok() {
                let _ = answered.try_set(Some(frame::now_ms() - sent));
            }
        });
    });
    let timer = StoredValue::new_local(Some(timer));
    on_cleanup(move || {
        timer.try_update_value(Option::take);
    });
    view! {
        <p class="tasks-responsive" role="status">
            {move || match (running(), answered.get()) {
                (0, _) => String::new(),
                (n, Some(ms)) => format!(
                    "With {n} job{} using the server's CPU, it answered a health check in {ms:.0} ms: the work runs beside the API, not in its way.",
                    if n == 1 { "" } else { "s" }
                ),
                (n, None) => format!("{n} job{} running.", if n == 1 { "" } else { "s" }),
            }}
        </p>
    }
}

#[component]
fn JobList() -> impl IntoView {
    let tasks = use_tasks();
    let query = use_query_map();
    let highlighted = move || query.with(|q| q.get("job"));
    // Follows a toast's link to its card.
    Effect::new(move |_| {
        if let Some(id) = highlighted() {
            let element = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.get_element_by_id(&format!("job-{id}")));
            if let Some(element) = element {
                element.scroll_into_view();
            }
        }
    });
    view! {
        <h2 class="tasks-heading">"Your jobs"</h2>
        <Show
            when=move || tasks.board.with(|b| !b.jobs().is_empty())
            fallback=|| view! { <p class="hint">"None yet: start one above."</p> }
        >
            <ol class="tasks-jobs">
                <For
                    each=move || tasks.board.with(|b| b.jobs().iter().map(|j| j.id.clone()).collect::<Vec<_>>())
                    key=|id| id.clone()
                    let:id
                >
                    <JobCard id=id highlighted=highlighted/>
                </For>
            </ol>
        </Show>
    }
}

#[component]
fn JobCard(
    id: String,
    highlighted: impl Fn() -> Option<String> + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let tasks = use_tasks();
    let job = {
        let id = id.clone();
        Memo::new(move |_| tasks.board.with(|b| b.job(&id).cloned()))
    };
    let now = RwSignal::new(frame::now_ms());
    let clock = gloo_timers::callback::Interval::new(500, move || {
        let _ = now.try_set(frame::now_ms());
    });
    let clock = StoredValue::new_local(Some(clock));
    on_cleanup(move || {
        clock.try_update_value(Option::take);
    });
    let cancel_error = RwSignal::new(None::<String>);
    let cancel = {
        let id = id.clone();
        move |_| {
            let id = id.clone();
            spawn_local(async move {
                let result = tasks.cancel(&id).await;
                let _ = cancel_error.try_set(result.err().map(|e| e.to_string()));
            });
        }
    };
    let card_id = format!("job-{id}");
    let is_highlighted = {
        let id = id.clone();
        move || highlighted().as_deref() == Some(id.as_str())
    };
    view! {
        <li class="tasks-job" id=card_id class:highlight=is_highlighted data-testid="job">
            {move || job.get().map(|job| {
                let state = job.state;
                let title = describe(&job.spec);
                let wall = js_sys::Date::now();
                let (elapsed, left) = timing(&job, wall);
                let _ = now.get();
                view! {
                    <header>
                        <h3>{title.clone()}</h3>
                        <span class=format!("job-state {}", state.as_str()) data-testid="job-state">
                            {state.as_str()}
                        </span>
                    </header>
                    <progress
                        max="1"
                        value=job.progress
                        aria-label=format!("Progress of {title}")
                    ></progress>
                    <p class="job-timing">
                        {format!("{:.0} %", job.progress * 100.0)}
                        {elapsed.map(|ms| format!(" · ran {}", seconds(ms)))}
                        {left.map(|ms| format!(" · about {} left", seconds(ms)))}
                        {(job.attempts > 1).then(|| format!(" · attempt {} (ran again after a restart)", job.attempts))}
                    </p>
                    {(!state.is_finished()).then(|| view! {
                        <button type="button" class="quiet" data-testid="job-cancel" on:click=cancel.clone()>
                            "Cancel"
                            <span class="visually-hidden">" " {title.clone()}</span>
                        </button>
                    })}
                    <p class="form-error" role="alert">{move || cancel_error.get()}</p>
                    <JobOutcome job=job/>
                }
            })}
        </li>
    }
}

fn seconds(ms: f64) -> String {
    if ms < 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{:.0} s", ms / 1000.0)
    }
}

/// The result of a job that succeeded, or why it did not.
#[component]
fn JobOutcome(job: Job) -> impl IntoView {
    match (&job.result, &job.error) {
        (Some(JobResult::Primes { count }), _) => view! {
            <p class="job-result" data-testid="job-result">
                {format!("{} primes", grouped(*count))}
            </p>
        }
        .into_any(),
        (Some(JobResult::Hashchain { hash }), _) => view! {
            <p class="job-result hash" data-testid="job-result">{hash.clone()}</p>
        }
        .into_any(),
        (Some(JobResult::Mandelbrot { width, height, png_bytes }), _) => view! {
            <figure class="job-result" data-testid="job-result">
                <img
                    src=api::tasks::picture_address(&job.id)
                    width=*width
                    height=*height
                    alt=format!("The Mandelbrot set, {width}×{height} pixels")
                />
                <figcaption>{format!("{width}×{height} PNG, {} bytes", grouped(*png_bytes))}</figcaption>
            </figure>
        }
        .into_any(),
        (Some(JobResult::Wait { waited_seconds }), _) => view! {
            <p class="job-result" data-testid="job-result">{format!("Waited {waited_seconds} s.")}</p>
        }
        .into_any(),
        (None, Some(error)) => view! { <p class="job-result bad">{error.clone()}</p> }.into_any(),
        (None, None) if job.state == JobState::Cancelled => {
            view! { <p class="job-result muted">"Cancelled."</p> }.into_any()
        }
        (None, None) => ().into_any(),
    }
}
