//! The shell every room shares: a header with the navigation, the server's health and the
//! heartbeat, and the router that puts the current room below it.

use leptos::prelude::*;
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::path;

use crate::components::heartbeat::Heartbeat;
use crate::components::inspector::InspectorDrawer;
use crate::components::not_found::NotFound;
use crate::components::server_status::ServerStatus;
use crate::mail::MailSession;
use crate::overview::Overview;
use crate::rooms::{self, Room, RoomLink};
use crate::tasks::{TasksSession, Toasts};

#[component]
pub fn App() -> impl IntoView {
    // The Mail session lives as long as the page: the outbox sends and the inbox fills in
    // every room, and the navigation shows what is unread.
    let mail = MailSession::provide();
    let unread = move || mail.unread();
    // So does the Tasks session: a job that finishes is told in whatever room the person is.
    let tasks = TasksSession::provide();
    let unfinished = move || tasks.unfinished();
    // The tab's title carries both counts: "(2) Meanwhile · 1 job running".
    Effect::new(move |_| {
        let unread = unread();
        let unfinished = unfinished();
        let mut title = String::new();
        if unread > 0 {
            title.push_str(&format!("({unread}) "));
        }
        title.push_str("Meanwhile");
        if unfinished > 0 {
            let jobs = if unfinished == 1 { "job" } else { "jobs" };
            title.push_str(&format!(" · {unfinished} {jobs} running"));
        }
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            document.set_title(&title);
        }
    });
    view! {
        <Router>
            <header class="shell-header">
                <A href="/" attr:class="brand">"Meanwhile"</A>
                <nav class="rooms" aria-label="Rooms">
                    <A href="/" exact=true>"Overview"</A>
                    <RoomLink href="/lab" preload=rooms::lab::preload>"Lab"</RoomLink>
                    <RoomLink href="/search" preload=rooms::search::preload>"Search"</RoomLink>
                    <RoomLink href="/mail" preload=rooms::mail::preload>
                        "Mail"
                        <Show when=move || { unread() > 0 }>
                            <span class="badge" data-testid="nav-unread">
                                {unread}
                                <span class="visually-hidden">" unread"</span>
                            </span>
                        </Show>
                    </RoomLink>
                    <RoomLink href="/tasks" preload=rooms::tasks::preload>
                        "Tasks"
                        <Show when=move || { unfinished() > 0 }>
                            <span class="badge" data-testid="nav-running">
                                {unfinished}
                                <span class="visually-hidden">" running"</span>
                            </span>
                        </Show>
                    </RoomLink>
                    <RoomLink href="/techniques" preload=rooms::techniques::preload>"Techniques"</RoomLink>
                </nav>
                <ServerStatus watch=vec![mail.connection, tasks.connection]/>
                <Heartbeat/>
            </header>
            <main>
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=Overview/>
                    <Route path=path!("/lab") view=|| view! { <Room name="Lab" open=rooms::lab::open/> }/>
                    <Route path=path!("/search") view=|| view! { <Room name="Search" open=rooms::search::open/> }/>
                    <Route path=path!("/mail") view=|| view! { <Room name="Mail" open=rooms::mail::open/> }/>
                    <Route path=path!("/tasks") view=|| view! { <Room name="Tasks" open=rooms::tasks::open/> }/>
                    <Route path=path!("/techniques") view=|| view! { <Room name="Techniques" open=rooms::techniques::open/> }/>
                </Routes>
            </main>
            <Toasts/>
            <InspectorDrawer/>
        </Router>
    }
}
