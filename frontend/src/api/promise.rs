//! `fetch` as a bare JavaScript promise, for the Techniques room's promise chain: recorded in
//! the inspector like every other request (its answer's status, or why there is none), and
//! passed on unchanged — the caller chains `.then(…)` on it.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, RequestInit, Response};

use crate::inspector::{self, Outcome, ServerSide};

/// A closure the promise calls, passing on what it gets (or failing with a `JsError`).
type Recorder = Closure<dyn FnMut(JsValue) -> Result<JsValue, JsError>>;

/// The promise of a `GET`, and the closures that record it, kept alive with it.
pub struct Fetched {
    /// Resolves to the `Response` (any status); rejects when there is no answer.
    pub promise: Promise,
    _recorders: [Recorder; 2],
}

/// `GET address` with `Accept: accept`, aborted through `signal`.
pub fn get(address: &str, accept: &str, signal: &AbortSignal) -> Result<Fetched, JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_signal(Some(signal));
    let headers = web_sys::Headers::new()?;
    headers.set("Accept", accept)?;
    init.set_headers(&headers);
    let entry = inspector::begin("GET", address);
    let answered = Closure::new(move |response: JsValue| -> Result<JsValue, JsError> {
        let response_ref = response.unchecked_ref::<Response>();
        let status = response_ref.status();
        let headers = response_ref.headers();
        let server = ServerSide::read(|name| headers.get(name).ok().flatten());
        inspector::first_byte(entry, status, server);
        let outcome = if (200..300).contains(&status) {
            Outcome::Applied
        } else {
            Outcome::Failed
        };
        inspector::finish(entry, outcome);
        Ok(response)
    });
    let failed = Closure::new(move |error: JsValue| -> Result<JsValue, JsError> {
        let aborted = error
            .dyn_ref::<web_sys::DomException>()
            .is_some_and(|e| e.name() == "AbortError");
        inspector::finish(
            entry,
            if aborted {
                Outcome::Aborted
            } else {
                Outcome::Failed
            },
        );
        Err(JsError::new(if aborted {
            "aborted"
        } else {
            "the server could not be reached"
        }))
    });
    let promise = window
        .fetch_with_str_and_init(address, &init)
        .then_with_reject(&answered, &failed);
    Ok(Fetched {
        promise,
        _recorders: [answered, failed],
    })
}
