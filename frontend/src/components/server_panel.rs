//! The server panel, in the inspector drawer: what the server is doing while the page waits —
//! requests it holds by route, streams open by kind, its job workers and what each runs, the
//! jobs waiting, the writes waiting for the database writer, connections and their cap. It
//! follows `GET /api/server/live` (four samples a second) while it is shown: the stream opens
//! when the panel does and is closed when it goes.

use leptos::prelude::*;
use protocol::server::{Count, ServerNow};

use crate::api::push::{Push, PushStream};
use crate::api::server;

#[component]
pub fn ServerPanel() -> impl IntoView {
    let now = RwSignal::new(None::<ServerNow>);
    let state = RwSignal::new("connecting…");
    let stream = server::live(move |push| match push {
        Push::Event(pushed) => match serde_json::from_str::<ServerNow>(&pushed.data) {
            Ok(sample) => now.set(Some(sample)),
            Err(_) => state.set("the server's samples cannot be read"),
        },
        Push::Opened => state.set("live"),
        Push::Reconnecting => state.set("reconnecting…"),
        Push::Closed => state.set("closed by the server"),
    });
    if stream.is_err() {
        state.set("the browser could not open the stream");
    }
    // Held while the panel is shown; dropping it closes the stream.
    let stream = StoredValue::new_local(stream.ok());
    on_cleanup(move || {
        stream.try_update_value(|held: &mut Option<PushStream>| held.take());
    });

    let figures = move || {
        now.get().map(|now| {
            let busy = now.running.len();
            let idle = (now.workers as usize).saturating_sub(busy);
            view! {
                <dl class="server-figures">
                    <dt>"Instance"</dt>
                    <dd data-testid="panel-instance">{now.instance.clone()}</dd>
                    <dt>"Requests being answered"</dt>
                    <dd>
                        <span data-testid="panel-requests">{now.requests_in_flight()}</span>
                        {format!(" on {} ({} alive)", counted(now.threads, "thread"), counted(now.tasks, "task"))}
                        <Counts counts=now.requests.clone()/>
                    </dd>
                    <dt>"Event streams open"</dt>
                    <dd>
                        <span data-testid="panel-streams">{now.streams.iter().map(|c| c.count).sum::<u64>()}</span>
                        <Counts counts=now.streams.clone()/>
                    </dd>
                    <dt>"Job workers"</dt>
                    <dd data-testid="panel-workers">
                        {format!("{busy} of {} busy", now.workers)}
                        <ul class="counts">
                            {now.running.iter().map(|job| view! {
                                <li>
                                    <code>{job.kind.clone()}</code>
                                    {format!(" {:.0} % · running {:.1} s · job {}", job.progress * 100.0, job.running_ms as f64 / 1000.0, short(&job.id))}
                                </li>
                            }).collect_view()}
                            {(idle > 0).then(|| view! { <li>{format!("{idle} idle")}</li> })}
                        </ul>
                    </dd>
                    <dt>"Jobs waiting"</dt>
                    <dd data-testid="panel-jobs-waiting">{now.jobs_waiting}</dd>
                    <dt>"Writes waiting for the database"</dt>
                    <dd data-testid="panel-writes-waiting">{now.writes_waiting}</dd>
                    <dt>"Connections"</dt>
                    <dd data-testid="panel-connections">{format!("{} of at most {}", now.connections, now.connections_max)}</dd>
                </dl>
            }
        })
    };
    view! {
        <section id="server-panel" class="server-panel" aria-labelledby="server-panel-title">
            <h2 id="server-panel-title" class="server-panel-title">
                "The server, meanwhile "
                <span class="server-panel-state" role="status" data-testid="panel-state">{move || state.get()}</span>
            </h2>
            <p class="inspector-note">
                "What the server is doing now, four times a second, while this panel is open "
                "(its stream is the " <code>{server::LIVE}</code> " row below). A request "
                "that waits holds no thread: a thousand echoes wait on the same few. (From one "
                "browser over HTTP/1.1 at most six arrive at once, and this panel's stream holds one "
                "of those six.)"
            </p>
            {figures}
        </section>
    }
}

/// Each name and how many, most first.
#[component]
fn Counts(counts: Vec<Count>) -> impl IntoView {
    (!counts.is_empty()).then(|| {
        view! {
            <ul class="counts">
                {counts.into_iter().map(|count| view! {
                    <li><code>{count.name}</code>" " {count.count}</li>
                }).collect_view()}
            </ul>
        }
    })
}

/// "1 thread", "2 threads".
fn counted(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// The start of a job's id, enough to tell it in the Tasks room.
fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
