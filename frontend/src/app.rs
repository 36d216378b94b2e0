//! The shell every room shares: a header with the navigation, the server's health and the
//! heartbeat, and the router that puts the current room below it.

use leptos::prelude::*;
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::path;

use crate::components::heartbeat::Heartbeat;
use crate::components::inspector::InspectorDrawer;
use crate::components::not_found::NotFound;
use crate::components::server_status::ServerStatus;
use crate::lab::Lab;
use crate::overview::Overview;
use crate::search::Search;

#[component]
pub fn App() -> impl IntoView {
    view! {
        <Router>
            <header class="shell-header">
                <A href="/" attr:class="brand">"Meanwhile"</A>
                <nav class="rooms" aria-label="Rooms">
                    <A href="/" exact=true>"Overview"</A>
                    <A href="/lab">"Lab"</A>
                    <A href="/search">"Search"</A>
                </nav>
                <ServerStatus/>
                <Heartbeat/>
            </header>
            <main>
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=Overview/>
                    <Route path=path!("/lab") view=Lab/>
                    <Route path=path!("/search") view=Search/>
                </Routes>
            </main>
            <InspectorDrawer/>
        </Router>
    }
}
