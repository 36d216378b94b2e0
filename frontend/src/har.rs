//! What the inspector holds, as a HAR 1.2 file (the HTTP Archive format Chrome's and Firefox's
//! network panels open): one entry per request, with Meanwhile's own fields beside the standard
//! ones, named with a leading `_` as the format allows: `_outcome` and `_why` (its reason in
//! words), `_strategy`, `_attempt` (`{"number": 2, "of": 3}`, `of` null without a limit),
//! `_idempotencyKey`, `_replayed`, `_servedBy`, `_requestId`, `_serverTiming`, `_room`. The
//! timings are the browser's own phases where it filed them (blocked, connect, wait, receive),
//! else the inspector's clock. Pushed events have no place in a HAR entry: they are listed in the
//! log's `_pushedEvents`.

use serde_json::{Value, json};
use wasm_bindgen::JsCast;

use crate::inspector::{Entry, EntryKind};

/// The archive of `entries` (any order; written oldest first): `origin` makes their paths whole
/// addresses (`http://127.0.0.1:3000`), `time_origin_ms` (the page's `performance.timeOrigin`)
/// turns their page times into dates.
pub fn archive(entries: &[Entry], origin: &str, time_origin_ms: f64) -> Value {
    let mut entries: Vec<&Entry> = entries.iter().collect();
    entries.sort_by_key(|entry| entry.id);
    let date = |page_ms: f64| {
        js_sys::Date::new(&(time_origin_ms + page_ms).into())
            .to_iso_string()
            .as_string()
            .unwrap_or_default()
    };
    let requests = entries.iter().filter_map(|entry| match &entry.kind {
        EntryKind::Request { method, path } => Some((entry, *method, path)),
        EntryKind::Event { .. } => None,
    });
    let har_entries: Vec<Value> = requests
        .map(|(entry, method, path)| {
            let url = format!("{origin}{path}");
            let query: Vec<Value> = path
                .split_once('?')
                .map(|(_, query)| {
                    query
                        .split('&')
                        .filter(|p| !p.is_empty())
                        .map(pair)
                        .collect()
                })
                .unwrap_or_default();
            let (timings, time) = timings(entry);
            // As the browser's timing names it, else what this server speaks.
            let version = match entry
                .browser
                .as_ref()
                .map(|phases| phases.protocol.as_str())
            {
                Some("h2") => "HTTP/2",
                Some("h3") => "HTTP/3",
                _ => "HTTP/1.1",
            };
            json!({
                "startedDateTime": date(entry.started_ms),
                "time": time,
                "request": {
                    "method": method,
                    "url": url,
                    "httpVersion": version,
                    "cookies": [],
                    "headers": [],
                    "queryString": query,
                    "headersSize": -1,
                    "bodySize": -1,
                },
                "response": {
                    "status": entry.status.unwrap_or(0),
                    "statusText": "",
                    "httpVersion": version,
                    "cookies": [],
                    "headers": [],
                    "content": {"size": -1, "mimeType": ""},
                    "redirectURL": "",
                    "headersSize": -1,
                    "bodySize": -1,
                },
                "cache": {},
                "timings": timings,
                "_outcome": entry.outcome.label(),
                "_why": entry.reason(),
                "_strategy": entry.about.strategy,
                "_attempt": entry.about.attempt.map(|attempt| json!({
                    "number": attempt.number,
                    "of": (attempt.of != u32::MAX).then_some(attempt.of),
                })),
                "_idempotencyKey": entry.about.idempotency_key,
                "_replayed": entry.replayed,
                "_room": entry.room.label(),
                "_servedBy": entry.served_by,
                "_requestId": entry.request_id,
                "_serverTiming": entry.server_timing,
            })
        })
        .collect();
    let events: Vec<Value> = entries
        .iter()
        .filter_map(|entry| match &entry.kind {
            EntryKind::Event { name } => Some(json!({
                "time": date(entry.started_ms),
                "event": name,
                "room": entry.room.label(),
                "servedBy": entry.served_by,
            })),
            EntryKind::Request { .. } => None,
        })
        .collect();
    json!({
        "log": {
            "version": "1.2",
            "creator": {"name": "Meanwhile", "version": env!("CARGO_PKG_VERSION")},
            "pages": [],
            "entries": har_entries,
            "_pushedEvents": events,
        }
    })
}

/// One `name=value` of a query string, decoded, as HAR's `{"name","value"}`.
fn pair(text: &str) -> Value {
    let decode = |part: &str| {
        js_sys::decode_uri_component(&part.replace('+', " "))
            .map(String::from)
            .unwrap_or_else(|_| part.to_owned())
    };
    let (name, value) = text.split_once('=').unwrap_or((text, ""));
    json!({"name": decode(name), "value": decode(value)})
}

/// HAR's `timings` of a request and its whole `time`, which is their sum: the browser's phases
/// when it filed them; else, by the inspector's clock, `wait` to the first byte and `receive`
/// after it (-1 where unknown).
fn timings(entry: &Entry) -> (Value, f64) {
    if let Some(phases) = &entry.browser {
        let blocked = (phases.queued - phases.connect).max(0.0);
        let time = blocked + phases.connect + phases.waiting + phases.download;
        let timings = json!({
            "blocked": blocked,
            "connect": if phases.connect > 0.0 { phases.connect } else { -1.0 },
            "send": 0,
            "wait": phases.waiting,
            "receive": phases.download,
        });
        return (timings, time);
    }
    let first_byte = entry.first_byte_ms;
    let done = entry.done_ms;
    let wait = first_byte.map_or(-1.0, |at| at - entry.started_ms);
    let receive = match (first_byte, done) {
        (Some(first), Some(done)) => done - first,
        _ => -1.0,
    };
    let time = done.map_or(0.0, |done| done - entry.started_ms);
    (json!({"send": 0, "wait": wait, "receive": receive}), time)
}

/// Saves every entry the inspector keeps as `meanwhile.har`, through a link to a blob the browser
/// downloads.
pub fn download() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let origin = window.location().origin().unwrap_or_default();
    let time_origin = window.performance().map_or(0.0, |p| p.time_origin());
    let entries = crate::inspector::newest(crate::inspector::CAPACITY);
    let text = archive(&entries, &origin, time_origin).to_string();
    let parts = js_sys::Array::of1(&text.into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/json");
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else {
        return;
    };
    let Ok(address) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    if let Some(document) = window.document()
        && let Ok(link) = document.create_element("a")
    {
        let _ = link.set_attribute("href", &address);
        let _ = link.set_attribute("download", "meanwhile.har");
        link.unchecked_into::<web_sys::HtmlElement>().click();
    }
    // Let go of the blob once the browser has surely read it.
    gloo_timers::callback::Timeout::new(60_000, move || {
        let _ = web_sys::Url::revoke_object_url(&address);
    })
    .forget();
}
