//! The toasts a finished job leaves in whatever room the person is in: what finished, a link
//! to its card, and a way to dismiss it. A polite live region, so a screen reader says it too.

use leptos::prelude::*;
use leptos_router::components::A;
use protocol::jobs::JobState;

use super::session::{describe, use_tasks};

#[component]
pub fn Toasts() -> impl IntoView {
    let tasks = use_tasks();
    view! {
        <div class="toasts" role="status" aria-live="polite">
            <For each=move || tasks.toasts.get() key=|toast| toast.id let:toast>
                <div class="toast" data-testid="toast">
                    <p>
                        {format!("Job {}: {}.", toast.job.state.as_str(), describe(&toast.job.spec))}
                        " "
                        <A
                            href=format!("/tasks?job={}", toast.job.id)
                            on:click=move |_| tasks.dismiss(toast.id)
                        >
                            {if toast.job.state == JobState::Succeeded {
                                "See the result"
                            } else {
                                "See the job"
                            }}
                        </A>
                    </p>
                    <button
                        type="button"
                        class="quiet"
                        aria-label="Dismiss"
                        on:click=move |_| tasks.dismiss(toast.id)
                    >
                        "×"
                    </button>
                </div>
            </For>
        </div>
    }
}
