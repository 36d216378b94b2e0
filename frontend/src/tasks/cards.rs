//! The jobs submitted from this browser, a card each: state, progress, time run and left,
//! Cancel, and the result when done; a toast's link scrolls to its card.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;
use protocol::jobs::{Job, JobResult, JobState};

use super::board::{Board, timing};
use super::session::{Connection, describe, grouped, use_tasks};
use crate::frame;

#[component]
pub fn JobList() -> impl IntoView {
    let tasks = use_tasks();
    let query = use_query_map();
    let highlighted = move || query.with(|q| q.get("job"));
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
    // This browser's jobs running now: what a queued one waits for, as far as it can tell.
    let running = move || tasks.board.with(Board::running);
    // Whether what the card shows is what the server says now.
    let following = move || {
        matches!(
            tasks.connection.get(),
            Connection::Live | Connection::Polling
        )
    };
    let card_id = format!("job-{id}");
    let is_highlighted = {
        let id = id.clone();
        move || highlighted().as_deref() == Some(id.as_str())
    };
    // A toast's link leads here: the card scrolls into view and takes the focus (a keyboard or
    // screen reader user goes on from the card, not from the top of the page) — once the card
    // is in the page, which may be after the link was followed.
    let card = NodeRef::<leptos::html::Li>::new();
    let followed = is_highlighted.clone();
    Effect::new(move |_| {
        if followed() {
            focus_once_in_page(card, 120);
        }
    });
    view! {
        <li node_ref=card class="tasks-job" id=card_id tabindex="-1" class:highlight=is_highlighted data-testid="job">
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
                    {(state == JobState::Queued).then(|| view! {
                        <p class="job-timing" data-testid="job-reason">{waiting_reason(running())}</p>
                    })}
                    {(!state.is_finished() && !following()).then(|| view! {
                        <p class="job-timing warn" data-testid="job-unsure">
                            "The server is not answering: this is the last it said, and the job may have moved on."
                        </p>
                    })}
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

/// Scrolls to `card` and gives it the focus at the first frame it is in the document (a room's
/// view is built before it is attached), looking for at most `frames` frames.
fn focus_once_in_page(card: NodeRef<leptos::html::Li>, frames: u8) {
    request_animation_frame(move || {
        let Some(element) = card.get_untracked() else {
            return;
        };
        if element.is_connected() {
            element.scroll_into_view();
            let _ = element.focus();
        } else if frames > 0 {
            focus_once_in_page(card, frames - 1);
        }
    });
}

/// Why a queued job waits, as far as this browser can tell: the workers are busy, with its own
/// jobs or with others'.
fn waiting_reason(own_running: usize) -> String {
    let holding = match own_running {
        0 => "other people's jobs hold them now".to_owned(),
        1 => "your running job holds one, other people's jobs may hold the rest".to_owned(),
        n => format!("your {n} running jobs hold one each, other people's jobs may hold the rest"),
    };
    format!("Waiting for a free worker: {holding}. Jobs start in the order they came.")
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
                    src=picture(job.id.clone())
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

/// The picture of a succeeded mandelbrot job: fetched with the owner's token (a plain `<img src>`
/// could not send it) into an object URL, revoked when the card goes.
fn picture(id: String) -> impl Fn() -> Option<String> + Send + Sync + 'static {
    let tasks = use_tasks();
    let made = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let kept = made.clone();
    let url = LocalResource::new(move || {
        let (id, kept) = (id.clone(), kept.clone());
        async move {
            let url = tasks.picture_url(&id).await.ok()?;
            *kept.lock().unwrap_or_else(|e| e.into_inner()) = Some(url.clone());
            Some(url)
        }
    });
    on_cleanup(move || {
        if let Some(url) = made.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = web_sys::Url::revoke_object_url(&url);
        }
    });
    move || url.get().flatten()
}
