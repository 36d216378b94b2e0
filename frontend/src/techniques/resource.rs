//! Technique 4: A reactive resource: a Leptos `LocalResource` that fetches whenever the signal it reads
//! changes, shown through `<Transition>` (the last answer stays while the next loads). Cancel
//! aborts the fetch in flight; a new request supersedes the old one.

use leptos::prelude::*;
use protocol::lab::EchoRequest;
use web_sys::AbortController;

use crate::api::lab::{self, EchoMethod};

/// The echo of whatever `request` holds (nothing while it holds `None`), refetched each time it
/// changes; `controller` holds the abort controller of the fetch in flight.
#[component]
pub fn EchoResource(
    request: RwSignal<Option<EchoRequest>>,
    controller: StoredValue<Option<AbortController>, LocalStorage>,
) -> impl IntoView {
    let answer = LocalResource::new(move || {
        let request = request.get();
        async move {
            let request = request?;
            let abort = AbortController::new().ok()?;
            let signal = abort.signal();
            controller.set_value(Some(abort));
            let traced = lab::echo(EchoMethod::Get, &request, Some(&signal)).await;
            Some(
                traced
                    .result
                    .map(|answer| answer.body)
                    .map_err(|e| e.to_string()),
            )
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
