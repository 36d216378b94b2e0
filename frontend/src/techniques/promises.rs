//! Technique 2: Promise chains: `fetch(…).then(…).then(…)` through js-sys, without async/await. Each step
//! is a closure the browser calls when the one before has resolved; `catch` takes any failure.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Promise;
use protocol::lab::EchoRequest;
use wasm_bindgen::prelude::*;
use web_sys::{AbortController, Response};

use crate::api::lab::{EchoMethod, echo_address};
use crate::api::promise::{self, Fetched};

/// A chain on its way: dropping it aborts the fetch (the chain then ends in its `catch`).
pub struct Chain {
    controller: AbortController,
}

impl Drop for Chain {
    fn drop(&mut self) {
        self.controller.abort();
    }
}

/// The closures the browser calls, kept until the chain has ended: a promise calls its callback
/// later, whoever still holds the chain.
struct Steps {
    _fetched: Fetched,
    _read_body: Closure<dyn FnMut(JsValue) -> Result<Promise, JsError>>,
    _on_json: Closure<dyn FnMut(JsValue)>,
    _on_error: Closure<dyn FnMut(JsValue)>,
}

/// Fetches the echo as JSON and reads its `seq`; `on_done` is called once.
pub fn echo_with_promises(
    request: &EchoRequest,
    on_done: impl FnOnce(Result<String, String>) + 'static,
) -> Result<Chain, String> {
    let controller = AbortController::new().map_err(|_| "no AbortController")?;
    let address = echo_address(None, EchoMethod::Get, request);
    let fetched = promise::get(&address, "application/json", &controller.signal())
        .map_err(|_| "fetch cannot be called")?;
    let done = Rc::new(RefCell::new(Some(on_done)));
    let steps = Rc::new(RefCell::new(None::<Steps>));
    let finish = {
        let steps = steps.clone();
        move |result| {
            if let Some(on_done) = done.borrow_mut().take() {
                on_done(result);
            }
            // Ended: the closures may go, on the next turn (one of them is running now).
            if let Some(ended) = steps.borrow_mut().take() {
                wasm_bindgen_futures::spawn_local(async move { drop(ended) });
            }
        }
    };
    // .then(response => response.ok ? response.json() : throw)
    let read_body = Closure::new(|response: JsValue| -> Result<Promise, JsError> {
        let response: Response = response.unchecked_into();
        if !response.ok() {
            return Err(JsError::new(&format!(
                "the server answered {}",
                response.status()
            )));
        }
        response
            .json()
            .map_err(|_| JsError::new("the body cannot be read"))
    });
    // .then(json => show json.seq)
    let on_json = {
        let finish = finish.clone();
        Closure::new(move |json: JsValue| {
            let field = |name: &str| js_sys::Reflect::get(&json, &name.into()).ok();
            let seq = field("seq").and_then(|v| v.as_f64()).unwrap_or_default();
            let waited = field("delay_ms")
                .and_then(|v| v.as_f64())
                .unwrap_or_default();
            finish(Ok(format!("{{\"seq\": {seq}, \"delay_ms\": {waited}, …}}")));
        })
    };
    // .catch(error => show error)
    let on_error = Closure::new(move |error: JsValue| {
        let message = error
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .unwrap_or_else(|| "failed".to_owned());
        finish(Err(message));
    });
    let _ = fetched
        .promise
        .then_map(&read_body)
        .then(&on_json)
        .catch(&on_error);
    *steps.borrow_mut() = Some(Steps {
        _fetched: fetched,
        _read_body: read_body,
        _on_json: on_json,
        _on_error: on_error,
    });
    Ok(Chain { controller })
}
