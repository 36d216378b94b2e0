//! The Techniques page (`/techniques`): the same request done five ways, each panel with Run,
//! Cancel, its result and time, and the very source file that ran (embedded when the page is
//! built, so it cannot drift); then three requests combined four ways, with their timelines.

use leptos::prelude::*;

use super::combined::Combinators;
use super::panel::Knobs;
use super::panels::{AwaitPanel, CallbacksPanel, PromisesPanel, PushPanel, ResourcePanel};

#[component]
pub fn Techniques() -> impl IntoView {
    let knobs = Knobs {
        delay: RwSignal::new("800".to_owned()),
        jitter: RwSignal::new("0".to_owned()),
        fail: RwSignal::new("0".to_owned()),
    };
    provide_context(knobs);
    // The knobs live in the address: a shared link opens the same experiment.
    let field = |name, value: RwSignal<String>| crate::address::Field {
        name,
        value,
        default: value.get_untracked(),
    };
    crate::address::keep(
        "/techniques",
        vec![
            field("delay", knobs.delay),
            field("jitter", knobs.jitter),
            field("fail", knobs.fail),
        ],
    );
    view! {
        <section class="page techniques">
            <h1>"Techniques"</h1>
            <p class="lede">
                "The same request to the Lab's echo, written five ways, each next to its own source. "
                "Every one goes through the inspector below. Make it slow or failing with the knobs, "
                "then Run and Cancel to see how each technique reports an answer, an error and a cancel."
            </p>
            <fieldset class="technique-knobs">
                <legend>"The echo"</legend>
                <label class="field">
                    <span>"Delay (ms)"</span>
                    <input inputmode="numeric" data-testid="knob-delay" bind:value=knobs.delay/>
                </label>
                <label class="field">
                    <span>"Jitter (± ms)"</span>
                    <input inputmode="numeric" bind:value=knobs.jitter/>
                </label>
                <label class="field">
                    <span>"Failure rate (0–1)"</span>
                    <input inputmode="decimal" data-testid="knob-fail" bind:value=knobs.fail/>
                </label>
            </fieldset>
            <div class="techniques-grid">
                <CallbacksPanel/>
                <PromisesPanel/>
                <AwaitPanel/>
                <ResourcePanel/>
                <PushPanel/>
            </div>
            <Combinators/>
        </section>
    }
}
