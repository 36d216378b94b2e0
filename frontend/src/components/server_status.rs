//! The server's health in the header: fetched when the page loads, with a clear message and a
//! way to try again when the server cannot be reached.

use leptos::prelude::*;
use protocol::{ComponentStatus, Health, HealthStatus};

use crate::api::{self, ApiError};

#[component]
pub fn ServerStatus() -> impl IntoView {
    let health = LocalResource::new(api::health);
    view! {
        <div class="server-status" data-testid="server-status" aria-live="polite">
            <Transition fallback=|| view! { <span class="status checking">"Checking the server…"</span> }>
                {move || health.get().map(|answer| view! { <HealthLine answer=answer on_retry=move || health.refetch()/> })}
            </Transition>
        </div>
    }
}

#[component]
fn HealthLine(answer: Result<Health, ApiError>, on_retry: impl Fn() + 'static) -> impl IntoView {
    match answer {
        Ok(health) => {
            let (class, text) = describe(&health);
            view! {
                <span class=class title=format!("Server version {}", health.version)>{text}</span>
            }
            .into_any()
        }
        Err(error) => view! {
            <span class="status down" role="alert">{problem_text(&error)}</span>
            <button type="button" class="retry" on:click=move |_| on_retry()>"Try again"</button>
        }
        .into_any(),
    }
}

/// The words for a health check that got no usable answer.
pub fn problem_text(error: &ApiError) -> String {
    match error {
        ApiError::Network(_) => format!("Server unreachable — {error}"),
        _ => format!("Server not healthy — {error}"),
    }
}

/// The class and the words for a health answer (a server whose database does not answer says so
/// with a 503, shown by [`problem_text`]).
pub fn describe(health: &Health) -> (&'static str, String) {
    match (health.status, health.database) {
        (HealthStatus::Ok, ComponentStatus::Ok) => {
            ("status up", format!("Server up · v{}", health.version))
        }
    }
}
