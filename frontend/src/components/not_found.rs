//! What a link to a room that does not exist shows.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

#[component]
pub fn NotFound() -> impl IntoView {
    let location = use_location();
    view! {
        <section class="page not-found">
            <h1>"No room here"</h1>
            <p>
                "There is no room at " <code>{move || location.pathname.get()}</code>
                ". The heartbeat above keeps ticking all the same."
            </p>
            <p><A href="/">"Back to the overview"</A></p>
        </section>
    }
}
