//! The one door to the network: every request the page makes goes through here, typed on
//! `protocol`, and is recorded in the inspector (sent, first byte, done, outcome). Nothing else
//! in the page calls `fetch`, and no path string of the API is written outside this module.
//!
//! - The transports, each recording into the inspector: [`fetch`] (gloo-net's `fetch`; the error
//!   envelope turned into an [`ApiError`] carrying the server's own sentence), [`push`] (the
//!   browser's `EventSource`: pushed events as markers, reconnection with `Last-Event-ID`) and
//!   [`xhr`] (`XMLHttpRequest` with callbacks, for the Techniques room), and [`promise`]
//!   (`fetch` as a bare promise, for the Techniques room's promise chain).
//! - [`live`]: the one session mechanism of Mail and Tasks: load, then follow the event stream
//!   from the position loaded; start over the same way after any loss.
//! - [`retry`]: when to try a failed request again (backoff with full jitter, `Retry-After`).
//! - One module per room with a typed function per endpoint: [`health`], [`lab`], [`mail`], [`search`], [`tasks`],
//!   and the inspector's server panel's stream, [`server`].

pub mod fetch;
pub mod health;
pub mod lab;
pub mod live;
pub mod mail;
pub mod promise;
pub mod push;
pub mod retry;
pub mod search;
pub mod server;
pub mod tasks;
pub mod xhr;

use futures::future::{AbortHandle, Abortable};
use leptos::prelude::{Owner, on_cleanup};
use leptos::reactive::owner::WeakOwner;

pub use fetch::{Answer, ApiError, Traced, error_from_answer};
pub use health::health;

/// The room (the component) that starts some work, so that leaving it aborts that work: when
/// the room's reactive owner is cleaned up, the work's future is dropped, and with it every
/// request it has in flight ([`fetch::send`] aborts a call that is dropped). Taken with
/// [`Room::here`] in the component's body and kept in its callbacks — a timer's or an observer's
/// too, where no owner is current. What must outlive the room (the Mail and Tasks sessions, a
/// write a person asked for) is spawned with `leptos::task::spawn_local` instead.
///
/// It holds the owner weakly: a strong owner held by the room's own work or callbacks would keep
/// the owner alive, and its cleanup would never run — the reason this is not Leptos'
/// `spawn_local_scoped_with_cancellation`, whose task holds its owner.
#[derive(Clone)]
pub struct Room(Option<WeakOwner>);

impl Room {
    /// The room of the component being built.
    pub fn here() -> Self {
        Self(Owner::current().map(|owner| owner.downgrade()))
    }

    /// Runs `work` until it ends or the room is left, whichever comes first.
    pub fn spawn(&self, work: impl Future<Output = ()> + 'static) {
        let Some(owner) = self.0.as_ref().and_then(WeakOwner::upgrade) else {
            return; // Left already: nobody would see the answer.
        };
        let (abort, registration) = AbortHandle::new_pair();
        owner.with(|| on_cleanup(move || abort.abort()));
        leptos::task::spawn_local(async move {
            let mut work = Box::pin(Abortable::new(work, registration));
            if work.as_mut().await.is_err() {
                // Left: what the work had in flight is dropped here, and says why.
                crate::inspector::because("aborted — left the room", move || drop(work));
            }
        });
    }
}

/// The room whose endpoints `path` (an API path, with its query if any, or a whole address on
/// another of the server's origins: the Lab's comparison) belongs to, for the inspector's filter;
/// the header's own (`/api/health`) and anything else count as the shell's, the server panel's
/// stream as the inspector's own.
pub fn room_of(path: &str) -> crate::inspector::Room {
    use crate::inspector::Room;
    let path = path.split('?').next().unwrap_or_default();
    let path = path.find("/api/").map_or(path, |at| &path[at..]);
    let first = path
        .strip_prefix("/api/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default();
    match first {
        "lab" => Room::Lab,
        "search" => Room::Search,
        "jobs" => Room::Tasks,
        "messages" | "inbox" | "outbox" | "mailboxes" | "events" => Room::Mail,
        "server" => Room::Inspector,
        _ => Room::Shell,
    }
}
