//! The server's health in the header: fetched when the page loads, asked again whenever one of
//! the page's streams (`watch`: Mail's, Tasks') is lost and every few seconds while the server
//! cannot be reached, so the header says when it goes away and when it is back; and, apart from
//! that, whether the browser itself is offline — two different reasons for no answer.

use std::time::Duration;

use leptos::prelude::*;
use protocol::{ComponentStatus, Health, HealthStatus};

use crate::api::live::Connection;
use crate::api::{self, ApiError};

/// How often an unreachable server is asked again.
const RECHECK: Duration = Duration::from_secs(5);

#[component]
pub fn ServerStatus(
    /// The page's streams: one that is lost makes the header ask the server again.
    watch: Vec<RwSignal<Connection>>,
) -> impl IntoView {
    let health = LocalResource::new(api::health);
    let online = RwSignal::new(web_sys::window().is_none_or(|w| w.navigator().on_line()));
    let went_online = window_event_listener(leptos::ev::online, move |_| {
        online.set(true);
        health.refetch();
    });
    let went_offline = window_event_listener(leptos::ev::offline, move |_| online.set(false));
    on_cleanup(move || {
        went_online.remove();
        went_offline.remove();
    });
    Effect::new(move |was_lost: Option<bool>| {
        let lost = watch
            .iter()
            .any(|connection| connection.get() == Connection::Reconnecting);
        if lost && was_lost == Some(false) {
            health.refetch();
        }
        lost
    });
    // While the server cannot be reached (and the browser is online), ask again.
    Effect::new(move |_| {
        let unreachable = matches!(health.get(), Some(Err(ApiError::Network(_))));
        if unreachable && online.get() {
            set_timeout(move || health.refetch(), RECHECK);
        }
    });
    view! {
        <div class="server-status" data-testid="server-status" aria-live="polite">
            <Show
                when=move || online.get()
                fallback=|| view! {
                    <span class="status down">"Offline — this browser has no network (the server may be fine)"</span>
                }
            >
                <Transition fallback=|| view! { <span class="status checking">"Checking the server…"</span> }>
                    {move || health.get().map(|answer| view! { <HealthLine answer=answer on_retry=move || health.refetch()/> })}
                </Transition>
            </Show>
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
        ApiError::Network(_) => "Server unreachable — retrying".to_owned(),
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
