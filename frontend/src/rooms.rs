//! The rooms as the router opens them.
//!
//! In the release page each room's code is a wasm file of its own, fetched the first time the
//! room is opened, so a first visit downloads the shell and not every room. Each room is a split
//! point (`wasm_split`, the macro under Leptos' `#[lazy]`, here with `fallible` so a fetch that
//! fails is an error to show, not a panic that stops the page); `cargo xtask` splits the module
//! (`crates/xtask/src/split.rs`). Elsewhere — `trunk serve`, the browser tests — the same
//! functions are ordinary ones (`build.rs` sets `cfg(meanwhile_split)` only for the split build).

use std::future::Future;

use leptos::prelude::*;
use leptos_router::components::A;
use send_wrapper::SendWrapper;

use crate::lab::Lab;
use crate::mail::Mail;
use crate::search::Search;
use crate::tasks::Tasks;
use crate::techniques::Techniques;

/// A room's code did not arrive: the network failed while it was fetched (the loader has logged
/// why to the console).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("this room's code did not arrive")]
pub struct NotLoaded;

impl From<leptos::wasm_split::SplitLoaderError> for NotLoaded {
    fn from(_: leptos::wasm_split::SplitLoaderError) -> Self {
        Self
    }
}

/// One module per room with `open`, an `async fn() -> Result<AnyView, NotLoaded>` that in the
/// split build fetches the room's files first (once; a failed fetch is not remembered), and
/// `preload`, which only fetches them. The room is built untracked: a `Suspend` re-runs when a
/// signal read inside it changes, and a room reads its signals as it is built.
macro_rules! rooms {
    ($($name:ident => $room:ident),* $(,)?) => {$(
        pub mod $name {
            use super::*;

            #[cfg(meanwhile_split)]
            #[leptos::wasm_split::wasm_split(
                $name,
                wasm_split_path = ::leptos::wasm_split,
                fallible,
                preload(preload)
            )]
            pub fn open() -> Result<AnyView, NotLoaded> {
                Ok(untrack(|| view! { <$room/> }.into_any()))
            }

            #[cfg(not(meanwhile_split))]
            pub async fn open() -> Result<AnyView, NotLoaded> {
                Ok(untrack(|| view! { <$room/> }.into_any()))
            }

            #[cfg(not(meanwhile_split))]
            pub async fn preload() -> Result<(), NotLoaded> {
                Ok(())
            }
        }
    )*};
}

rooms!(lab => Lab, search => Search, mail => Mail, tasks => Tasks, techniques => Techniques);

/// Fetches a room's files ahead, as a person points at or tabs to its link, so that it opens at
/// once when chosen. A failure is left for the opening to meet and show.
pub fn fetch_ahead<Fut>(preload: fn() -> Fut)
where
    Fut: Future + 'static,
{
    leptos::task::spawn_local(async move {
        let _ = preload().await;
    });
}

/// A room's link in the navigation: pointing at it or tabbing to it fetches the room's files
/// ahead.
#[component]
pub fn RoomLink<Fut>(
    href: &'static str,
    /// The room's `preload` from above.
    preload: fn() -> Fut,
    children: Children,
) -> impl IntoView
where
    Fut: Future + 'static,
{
    view! {
        <A
            href=href
            on:pointerenter=move |_| fetch_ahead(preload)
            on:focus=move |_| fetch_ahead(preload)
        >
            {children()}
        </A>
    }
}

/// A room whose code may still be on its way: "Opening…" meanwhile, and if it does not come, says
/// so with a way to try again. The rest of the page (the shell, the heartbeat, Mail's stream)
/// keeps working either way.
#[component]
pub fn Room<F, Fut>(
    /// The room's name as the navigation shows it.
    name: &'static str,
    /// A room's `open` from above.
    open: F,
) -> impl IntoView
where
    F: Fn() -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<AnyView, NotLoaded>> + 'static,
{
    let attempt = RwSignal::new(0_u32);
    let room = move || {
        attempt.track();
        // One thread: the fetch's future is not `Send`, `Suspend` asks for it.
        Suspend::new(SendWrapper::new(async move {
            match open().await {
                Ok(view) => view,
                Err(NotLoaded) => view! {
                    <section class="page room-not-loaded" data-testid="room-not-loaded">
                        <h1>{name}</h1>
                        <p role="alert">
                            "This room's code did not arrive: the network failed while it was on its way. "
                            "The rest of the page still works."
                        </p>
                        <button type="button" on:click=move |_| attempt.update(|n| *n += 1)>
                            "Try again"
                        </button>
                    </section>
                }
                .into_any(),
            }
        }))
    };
    // A Transition, not a Suspense: "Opening…" shows only until the room is first here. A
    // Suspense would show it again whenever a resource the room reads reloads (Mail's address
    // list, refetched as the "To" field gets focus), taking the room off the page meanwhile.
    view! {
        <Transition fallback=move || {
            view! { <p class="page room-opening" role="status">{format!("Opening {name}…")}</p> }
        }>{room}</Transition>
    }
}
