//! Technique 4: A reactive resource: a Leptos `LocalResource` that fetches whenever the signal it reads
//! changes, shown through `<Transition>` (the last answer stays while the next loads). Cancel
//! aborts the fetch in flight; a new request aborts the one before, whose answer the resource
//! would never show anyway.

use leptos::prelude::*;
use protocol::lab::EchoRequest;
use web_sys::AbortController;

use crate::api::lab::{self, EchoMethod};

/// The echo of whatever `request` holds (nothing while it holds `None`), refetched each time it
/// changes; `controller` holds the abort controller of the fetch in flight; `on_answer` hears
/// each answer the resource shows.
#[component]
pub fn EchoResource(
    request: RwSignal<Option<EchoRequest>>,
    controller: StoredValue<Option<AbortController>, LocalStorage>,
    on_answer: impl Fn(Result<String, String>) + Send + Sync + 'static,
) -> impl IntoView {
    let answer = LocalResource::new(move || {
        let request = request.get();
        async move {
            let request = request?;
            let abort = AbortController::new().ok()?;
            let signal = abort.signal();
            if let Some(superseded) = controller.try_update_value(|c| c.replace(abort)).flatten() {
                superseded.abort();
            }
            let traced = lab::echo(EchoMethod::Get, &request, Some(&signal)).await;
            Some(
                traced
                    .result
                    .map(|answer| answer.body)
                    .map_err(|e| e.to_string()),
            )
        }
    });
    // Only the newest request's answer ever becomes the resource's value.
    Effect::new(move |_| {
        if let Some(Some(answer)) = answer.get() {
            on_answer(answer.map(|echo| format!("seq {}", echo.seq.unwrap_or_default())));
        }
    });
    view! {
        <Transition fallback=|| view! { <p class="technique-result">"Loading…"</p> }>
            <p class="technique-result" data-testid="technique-result">
                {move || answer.get().map(|answer| match answer {
                    None => "Press Run.".to_owned(),
                    Some(Ok(echo)) => format!(
                        "seq {}, waited {} ms",
                        echo.seq.unwrap_or_default(),
                        echo.delay_ms
                    ),
                    Some(Err(error)) => format!("Failed: {error}"),
                })}
            </p>
        </Transition>
    }
}
