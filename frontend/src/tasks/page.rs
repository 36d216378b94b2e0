//! The Tasks page (`/tasks`): the forms that start jobs ([`super::forms`]), the cards of the
//! jobs submitted ([`super::cards`]), a switch that chooses how the page learns of changes
//! (pushed or polled), and a line that shows how quickly the server answers while its CPU is
//! busy.

use leptos::prelude::*;

use super::board::Board;
use super::cards::JobList;
use super::forms::{HashchainForm, MandelbrotForm, PrimesForm, WaitForm};
use super::session::{Connection, Follow, use_tasks};
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

/// While jobs run, how long the server takes to answer a health check (every 2 s).
#[component]
fn Responsiveness() -> impl IntoView {
    let tasks = use_tasks();
    let answered = RwSignal::new(None::<f64>);
    let running = move || tasks.board.with(Board::running);
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
