//! `XMLHttpRequest` with callbacks: the original Ajax, kept for the Techniques room, which shows
//! how it reads next to `fetch`. Recorded in the inspector like every other request; an error
//! answer becomes the same [`ApiError`] as with `fetch`, and `abort` really aborts.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Event, XmlHttpRequest};

use super::fetch::{ApiError, error_from_answer};
use crate::inspector::{self, Outcome, ServerSide};

/// A successful answer, as `XMLHttpRequest` gives it.
#[derive(Debug, Clone)]
pub struct XhrAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub text: String,
    /// The answer parsed as an XML document, when it is XML.
    pub xml: Option<web_sys::Document>,
}

/// A request on its way; its callback is called once, with the answer or why there is none.
/// Dropping it aborts the request if it is still on its way (the callback hears "aborted"), and
/// unhooks its handlers, so the browser never calls a callback that is gone.
pub struct XhrRequest {
    xhr: XmlHttpRequest,
    _callbacks: [Closure<dyn FnMut(Event)>; 5],
}

type Done = Rc<RefCell<Option<Box<dyn FnOnce(Result<XhrAnswer, ApiError>)>>>>;

/// `GET address` asking for `accept` (e.g. `application/xml`); `on_done` gets the outcome.
pub fn get(
    address: &str,
    accept: &str,
    on_done: impl FnOnce(Result<XhrAnswer, ApiError>) + 'static,
) -> Result<XhrRequest, ApiError> {
    let unusable = |_| ApiError::Network("this browser cannot send an XMLHttpRequest".into());
    let xhr = XmlHttpRequest::new().map_err(unusable)?;
    xhr.open("GET", address).map_err(unusable)?;
    xhr.set_request_header("Accept", accept).map_err(unusable)?;
    let entry = inspector::begin("GET", address);
    let done: Done = Rc::new(RefCell::new(Some(Box::new(on_done))));

    // Each callback ends the request once: the first to run takes `done`.
    let finish = move |done: &Done, result: Result<XhrAnswer, ApiError>| {
        let outcome = match &result {
            Ok(_) => Outcome::Applied,
            Err(ApiError::Aborted) => Outcome::Aborted,
            Err(_) => Outcome::Failed,
        };
        inspector::finish(entry, outcome);
        if let Some(on_done) = done.borrow_mut().take() {
            on_done(result);
        }
    };
    let on_headers = callback(&xhr, &done, move |xhr, _| {
        if xhr.ready_state() == XmlHttpRequest::HEADERS_RECEIVED {
            let server = ServerSide::read(|name| xhr.get_response_header(name).ok().flatten());
            inspector::first_byte(entry, xhr.status().unwrap_or_default(), server);
        }
    });
    let on_load = callback(&xhr, &done, move |xhr, done| finish(done, answer_of(xhr)));
    let on_error = callback(&xhr, &done, move |_, done| {
        finish(done, Err(ApiError::Network("the request failed".into())));
    });
    let on_abort = callback(&xhr, &done, move |_, done| {
        finish(done, Err(ApiError::Aborted))
    });
    let on_timeout = callback(&xhr, &done, move |_, done| {
        finish(done, Err(ApiError::Network("the request timed out".into())));
    });
    xhr.set_onreadystatechange(Some(on_headers.as_ref().unchecked_ref()));
    xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
    xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    xhr.set_onabort(Some(on_abort.as_ref().unchecked_ref()));
    xhr.set_ontimeout(Some(on_timeout.as_ref().unchecked_ref()));
    xhr.send().map_err(unusable)?;
    Ok(XhrRequest {
        xhr,
        _callbacks: [on_headers, on_load, on_error, on_abort, on_timeout],
    })
}

impl XhrRequest {
    /// Aborts the request (`xhr.abort()`): the browser drops the connection, the callback gets
    /// [`ApiError::Aborted`].
    pub fn abort(&self) {
        // It throws only for a request that was never opened; this one was.
        let _ = self.xhr.abort();
    }
}

impl Drop for XhrRequest {
    fn drop(&mut self) {
        // A finished request ignores it; one on its way calls `onabort` now, while it is hooked.
        self.abort();
        self.xhr.set_onreadystatechange(None);
        self.xhr.set_onload(None);
        self.xhr.set_onerror(None);
        self.xhr.set_onabort(None);
        self.xhr.set_ontimeout(None);
    }
}

/// An event handler for `xhr` that sees the request and the callback to call once.
fn callback(
    xhr: &XmlHttpRequest,
    done: &Done,
    mut handle: impl FnMut(&XmlHttpRequest, &Done) + 'static,
) -> Closure<dyn FnMut(Event)> {
    let (xhr, done) = (xhr.clone(), Rc::clone(done));
    Closure::new(move |_: Event| handle(&xhr, &done))
}

/// What a finished request answered: the answer for a 2xx, else the error envelope.
fn answer_of(xhr: &XmlHttpRequest) -> Result<XhrAnswer, ApiError> {
    let status = xhr.status().unwrap_or_default();
    let text = xhr.response_text().ok().flatten().unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err(error_from_answer(status, &text));
    }
    Ok(XhrAnswer {
        status,
        content_type: xhr.get_response_header("content-type").ok().flatten(),
        text,
        xml: xhr.response_xml().ok().flatten(),
    })
}
