//! The next page of results: a "Load more" button, which also loads by itself when a person has
//! scrolled down to it (an IntersectionObserver watches it), and says when the page failed.
//!
//! An observer reports only changes. A person who scrolls to the end again before the page that
//! just landed has pushed the button out of view never makes it change, so each time a page lands
//! the button is watched afresh: the observer then reports where it is now.

use leptos::html::Button;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;

/// Where the next page is.
#[derive(Debug, Clone, PartialEq)]
pub enum More {
    /// Not asked for.
    Idle,
    /// On its way: a second ask waits for it, so no page arrives twice.
    Loading,
    /// The last ask failed, with this message; the button tries again.
    Failed(String),
}

#[component]
pub fn LoadMore(more: RwSignal<More>, load: Callback<()>) -> impl IntoView {
    let button = NodeRef::<Button>::new();
    let watch = StoredValue::new_local(None::<Sentinel>);
    button.on_load(move |element| {
        watch.set_value(Sentinel::observe(&element, move || load.run(())));
    });
    // A page landed: look again (if the button is still in view, the next one loads).
    Effect::new(move |before: Option<More>| {
        let now = more.get();
        if before == Some(More::Loading) && now == More::Idle {
            watch.with_value(|watch| {
                if let Some(watch) = watch {
                    watch.look_again();
                }
            });
        }
        now
    });
    on_cleanup(move || {
        if let Some(watch) = watch.try_update_value(Option::take).flatten() {
            watch.disconnect();
        }
    });
    view! {
        <div class="load-more">
            <button
                type="button"
                class="secondary"
                data-testid="search-more"
                node_ref=button
                disabled=move || more.get() == More::Loading
                on:click=move |_| load.run(())
            >
                {move || if more.get() == More::Loading { "Loading…" } else { "Load more" }}
            </button>
            {move || match more.get() {
                More::Failed(message) => Some(view! {
                    <p class="error" role="alert">{format!("The next page did not come: {message}")}</p>
                }),
                _ => None,
            }}
        </div>
    }
}

/// Calls back when its element scrolls into view (or within 200 px of it), once the person has
/// scrolled the page: a short list whose button is already in view does not load by itself.
struct Sentinel {
    observer: web_sys::IntersectionObserver,
    element: web_sys::Element,
    _callback: Closure<dyn FnMut(js_sys::Array)>,
}

impl Sentinel {
    fn observe(element: &web_sys::Element, on_visible: impl Fn() + 'static) -> Option<Self> {
        let callback = Closure::<dyn FnMut(js_sys::Array)>::new(move |entries: js_sys::Array| {
            let visible = entries.iter().any(|entry| {
                entry
                    .dyn_into::<web_sys::IntersectionObserverEntry>()
                    .is_ok_and(|entry| entry.is_intersecting())
            });
            let scrolled = window().scroll_y().is_ok_and(|y| y > 0.0);
            if visible && scrolled {
                on_visible();
            }
        });
        let options = web_sys::IntersectionObserverInit::new();
        options.set_root_margin("200px");
        let observer = web_sys::IntersectionObserver::new_with_options(
            callback.as_ref().unchecked_ref(),
            &options,
        )
        .ok()?;
        observer.observe(element);
        Some(Self {
            observer,
            element: element.clone(),
            _callback: callback,
        })
    }

    /// Watches the element afresh: the observer's first report says whether it is in view now,
    /// even when it has not moved out and back since the last report.
    fn look_again(&self) {
        self.observer.unobserve(&self.element);
        self.observer.observe(&self.element);
    }

    fn disconnect(&self) {
        self.observer.disconnect();
    }
}
