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
use crate::mail::{Mail, MailSession};
use crate::overview::Overview;
use crate::search::Search;

#[component]
pub fn App() -> impl IntoView {
    // The Mail session lives as long as the page: the outbox sends and the inbox fills in
    // every room, and the navigation shows what is unread.
    let mail = MailSession::provide();
    let unread = move || mail.unread();
    view! {
        <Router>
            <header class="shell-header">
                <A href="/" attr:class="brand">"Meanwhile"</A>
                <nav class="rooms" aria-label="Rooms">
                    <A href="/" exact=true>"Overview"</A>
                    <A href="/lab">"Lab"</A>
                    <A href="/search">"Search"</A>
                    <A href="/mail">
                        "Mail"
                        <Show when=move || { unread() > 0 }>
                            <span class="badge" data-testid="nav-unread">
                                {unread}
                                <span class="visually-hidden">" unread"</span>
                            </span>
                        </Show>
                    </A>
                </nav>
                <ServerStatus/>
                <Heartbeat/>
            </header>
            <main>
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=Overview/>
                    <Route path=path!("/lab") view=Lab/>
                    <Route path=path!("/search") view=Search/>
                    <Route path=path!("/mail") view=Mail/>
                </Routes>
            </main>
            <InspectorDrawer/>
        </Router>
    }
}
