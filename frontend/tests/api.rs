//! The door to the network: error envelopes become typed errors; aborts and unreachable servers
//! are told apart from the server's own answers; the XHR and push transports answer, fail, abort
//! and record like fetch.

use std::cell::RefCell;
use std::rc::Rc;

use frontend::api::push::{Push, PushStream, Pushed};
use frontend::api::{self, Answer, ApiError, Traced, error_from_answer, xhr};
use frontend::inspector::{self, EntryKind, Outcome};
use protocol::{ErrorCode, Health};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

mod support;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn an_error_envelope_becomes_the_servers_own_sentence() {
    let error = error_from_answer(
        422,
        r#"{"error":{"code":"validation_failed","message":"`delay_ms` must be a whole number of milliseconds from 0 to 30000."}}"#,
    );
    assert_eq!(
        error,
        ApiError::Server {
            status: 422,
            code: ErrorCode::ValidationFailed,
            message: "`delay_ms` must be a whole number of milliseconds from 0 to 30000.".into(),
            retry_after_s: None,
        }
    );
    assert_eq!(
        error.to_string(),
        "`delay_ms` must be a whole number of milliseconds from 0 to 30000."
    );
    assert!(!error.is_retryable());
}

#[wasm_bindgen_test]
fn retryable_answers_are_recognised() {
    let busy = error_from_answer(
        503,
        r#"{"error":{"code":"injected_failure","message":"This request failed on purpose."}}"#,
    );
    assert!(busy.is_retryable());
    assert!(ApiError::Network("Failed to fetch".into()).is_retryable());
    assert!(!ApiError::Aborted.is_retryable());
}

#[wasm_bindgen_test]
fn an_answer_without_the_envelope_is_unreadable_not_a_crash() {
    for body in ["", "<html>Bad gateway</html>", r#"{"error":"flat"}"#] {
        let error = error_from_answer(502, body);
        assert_eq!(
            error,
            ApiError::Unreadable("it answered 502 without an explanation.".into()),
            "{body}"
        );
    }
}

#[wasm_bindgen_test]
async fn a_cancelled_request_is_aborted() {
    let controller = web_sys::AbortController::new().expect("controller");
    controller.abort();

    let result: Result<Health, _> =
        api::fetch::get_json("/api/health", Some(&controller.signal())).await;

    assert_eq!(result, Err(ApiError::Aborted));
}

#[wasm_bindgen_test]
async fn a_server_that_is_not_there_is_unreachable() {
    // Nothing listens on port 9 (discard) on the test machine's loopback.
    let result: Result<Health, _> =
        api::fetch::get_json("http://127.0.0.1:9/api/health", None).await;

    match result {
        Err(error @ ApiError::Network(_)) => {
            assert!(
                error
                    .to_string()
                    .starts_with("The server could not be reached.")
            );
        }
        other => panic!("expected a network error, got {other:?}"),
    }
}

// ---- XMLHttpRequest ------------------------------------------------------------------------

/// Sends `GET address` through the XHR transport and waits for its callback.
async fn xhr_get(address: &str, abort_at_once: bool) -> Result<(u16, String), ApiError> {
    let (sender, receiver) = futures::channel::oneshot::channel();
    let request = xhr::get(address, "text/html", move |result| {
        let _ = sender.send(result.map(|answer| (answer.status, answer.text)));
    })
    .expect("sent");
    if abort_at_once {
        request.abort();
    }
    receiver.await.expect("the callback was called")
}

#[wasm_bindgen_test]
async fn an_xhr_is_answered_refused_or_aborted_and_recorded_each_time() {
    // The test page's own server: it serves the page at `/` (whatever the query), and knows
    // nothing else. Each address is this test's own, to find its rows in the inspector.
    let (status, text) = xhr_get("/?xhr=answered", false).await.expect("answered");
    assert_eq!(status, 200);
    assert!(text.to_lowercase().contains("<html"), "{text}");

    let refused = xhr_get("/api/health?xhr=refused", false).await;
    assert_eq!(
        refused,
        Err(ApiError::Unreadable(
            "it answered 404 without an explanation.".into()
        ))
    );

    let aborted = xhr_get("/?xhr=aborted", true).await;
    assert_eq!(aborted, Err(ApiError::Aborted));

    let recorded = |address: &str| entry_for(address).map(|entry| (entry.status, entry.outcome));
    assert_eq!(
        recorded("/?xhr=answered"),
        Some((Some(200), Outcome::Applied))
    );
    assert_eq!(
        recorded("/api/health?xhr=refused"),
        Some((Some(404), Outcome::Failed))
    );
    assert_eq!(recorded("/?xhr=aborted"), Some((None, Outcome::Aborted)));
}

// ---- Server push (EventSource) -----------------------------------------------------------

/// Opens a stream of `tick` events at `address`; returns it and what it has heard so far.
fn listen(address: &str) -> (PushStream, Rc<RefCell<Vec<Push>>>) {
    let heard = Rc::new(RefCell::new(Vec::new()));
    let stream = {
        let heard = Rc::clone(&heard);
        PushStream::open(address.to_owned(), &["tick"], move |push| {
            heard.borrow_mut().push(push);
        })
        .expect("opens")
    };
    (stream, heard)
}

#[wasm_bindgen_test]
async fn a_pushed_event_reaches_its_listener_and_the_inspector_as_a_marker() {
    let (stream, heard) = listen("/events-for-a-test");

    // An event as the browser hands it over (this test page's server has no stream of its own).
    let init = web_sys::MessageEventInit::new();
    init.set_data(&r#"{"n":1,"remaining":2}"#.into());
    init.set_last_event_id("1");
    let event = web_sys::MessageEvent::new_with_event_init_dict("tick", &init).expect("an event");
    stream.source().dispatch_event(&event).expect("dispatched");

    assert_eq!(
        heard.borrow().first(),
        Some(&Push::Event(Pushed {
            kind: "tick".into(),
            id: "1".into(),
            data: r#"{"n":1,"remaining":2}"#.into(),
        }))
    );
    // Recorded in the same moment, so it is the newest row.
    let marker = inspector::newest(1).remove(0);
    assert_eq!(
        marker.kind,
        EntryKind::Event {
            name: r#"tick #1: {"n":1,"remaining":2}"#.into()
        }
    );
    stream.close();
}

#[wasm_bindgen_test]
async fn a_stream_the_server_refuses_is_closed_for_good_and_recorded_failed() {
    let (_stream, heard) = listen("/no-stream-here");

    // The test page's server answers 404: an EventSource gives up rather than reconnecting.
    let closed = support::until(5_000, || heard.borrow().contains(&Push::Closed)).await;
    assert!(closed, "{:?}", heard.borrow());
    assert!(!heard.borrow().contains(&Push::Reconnecting));
    let connection = inspector::newest(inspector::CAPACITY)
        .into_iter()
        .find(|entry| {
            entry.kind
                == EntryKind::Request {
                    method: "GET",
                    path: "/no-stream-here".into(),
                }
        })
        .map(|entry| entry.outcome);
    assert_eq!(connection, Some(Outcome::Failed));
}

#[wasm_bindgen_test]
async fn a_retried_write_tries_again_while_it_may_pass_and_stops_at_a_refusal() {
    use frontend::api::retry::{RetryPolicy, retrying};
    let quick = RetryPolicy {
        max_retries: 5,
        base_ms: 1,
        cap_ms: 2,
    };
    // Each attempt as the API client records it: an entry of the inspector.
    fn traced<T>(result: Result<T, ApiError>) -> Traced<T> {
        let entry = inspector::begin("POST", "/api/jobs");
        let outcome = if result.is_ok() {
            Outcome::Applied
        } else {
            Outcome::Failed
        };
        inspector::finish(entry, outcome);
        Traced {
            entry,
            result: result.map(|body| Answer {
                body,
                status: 202,
                bytes: 0,
                server_timing: None,
            }),
        }
    }
    let attempts = Rc::new(RefCell::new(Vec::new()));
    let seen = attempts.clone();
    let answer = retrying(quick, move |attempt| {
        seen.borrow_mut().push((attempt.number, attempt.of));
        let entry = traced(if attempt.number == 1 {
            Err(ApiError::Server {
                status: 503,
                code: ErrorCode::Unavailable,
                message: "Busy.".into(),
                retry_after_s: None,
            })
        } else if attempt.number < 3 {
            Err(ApiError::Network("the answer was lost".into()))
        } else {
            Ok(attempt.number)
        });
        async move { entry }
    })
    .await;
    assert_eq!(answer, Ok(3));
    assert_eq!(*attempts.borrow(), [(1, 6), (2, 6), (3, 6)]);
    // The inspector says of each attempt that was tried again why, and which retry followed.
    let rows: Vec<(Outcome, String)> = inspector::newest(3)
        .into_iter()
        .rev()
        .map(|entry| (entry.outcome, entry.reason()))
        .collect();
    assert_eq!(rows[0].0, Outcome::Retried);
    assert!(
        rows[0].1.starts_with("retry 1 of 5 after 503, backoff "),
        "{}",
        rows[0].1
    );
    assert_eq!(rows[1].0, Outcome::Retried);
    assert!(
        rows[1]
            .1
            .starts_with("retry 2 of 5 after no answer, backoff "),
        "{}",
        rows[1].1
    );
    assert_eq!(rows[2], (Outcome::Applied, "answered and used".to_owned()));

    let refusals = Rc::new(RefCell::new(0));
    let counted = refusals.clone();
    let refused = retrying(quick, move |_| {
        *counted.borrow_mut() += 1;
        let entry = traced::<()>(Err(ApiError::Server {
            status: 422,
            code: ErrorCode::ValidationFailed,
            message: "No.".into(),
            retry_after_s: None,
        }));
        async move { entry }
    })
    .await;
    assert_eq!(refused.map_err(|e| e.status()), Err(Some(422)));
    assert_eq!(*refusals.borrow(), 1, "a refusal is not tried again");

    let gone = retrying(quick, |_| {
        let entry = traced::<()>(Err(ApiError::Network("down".into())));
        async move { entry }
    })
    .await;
    assert!(
        matches!(gone, Err(ApiError::Network(_))),
        "gives up after its retries"
    );
}

// ---- Aborts ---------------------------------------------------------------------------------

/// The newest inspector entry for `GET address`.
fn entry_for(address: &str) -> Option<inspector::Entry> {
    inspector::newest(inspector::CAPACITY)
        .into_iter()
        .find(|entry| {
            entry.kind
                == EntryKind::Request {
                    method: "GET",
                    path: address.into(),
                }
        })
}

/// Lets every task queued so far run once (they are microtasks; an answer from the network is
/// not: none can have come yet).
async fn let_tasks_start() {
    wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&wasm_bindgen::JsValue::NULL))
        .await
        .expect("resolved");
}

#[wasm_bindgen_test]
async fn a_call_dropped_before_its_answer_is_aborted_not_left_in_flight() {
    use gloo_net::http::Method;
    let call = api::fetch::send::<Health>(api::fetch::Call::new(Method::GET, "/?dropped=1"));
    let mut call = Box::pin(call);
    assert!(futures::poll!(&mut call).is_pending(), "the request left");
    assert_eq!(
        entry_for("/?dropped=1").map(|e| e.outcome),
        Some(Outcome::InFlight)
    );
    drop(call);
    assert_eq!(
        entry_for("/?dropped=1").map(|e| e.outcome),
        Some(Outcome::Aborted)
    );
}

#[leptos::component]
fn RoomAsking(path: &'static str) -> impl leptos::IntoView {
    use gloo_net::http::Method;
    api::Room::here().spawn(async move {
        let _ = api::fetch::send::<Health>(api::fetch::Call::new(Method::GET, path)).await;
    });
    "in the room"
}

#[wasm_bindgen_test]
async fn leaving_a_room_aborts_what_it_asked_for_and_a_session_goes_on() {
    use gloo_net::http::Method;
    let room = support::mount(|| leptos::view! { <RoomAsking path="/?room=left"/> });
    leptos::task::spawn_local(async {
        let _ =
            api::fetch::send::<String>(api::fetch::Call::new(Method::GET, "/?session=kept")).await;
    });
    let_tasks_start().await;
    assert_eq!(
        entry_for("/?room=left").map(|e| e.outcome),
        Some(Outcome::InFlight),
        "the room's request left"
    );
    drop(room);
    let ended = support::until(2_000, || {
        entry_for("/?session=kept").is_some_and(|e| e.outcome != Outcome::InFlight)
    })
    .await;
    assert!(ended, "the session's request ends on its own");
    assert_eq!(
        entry_for("/?room=left").map(|e| e.outcome),
        Some(Outcome::Aborted),
        "leaving the room aborted its request"
    );
    assert_eq!(
        entry_for("/?session=kept").and_then(|e| e.status),
        Some(200),
        "the session's request was answered"
    );
}

#[wasm_bindgen_test]
async fn an_xhr_dropped_on_its_way_is_aborted_and_calls_back_once() {
    let (sender, receiver) = futures::channel::oneshot::channel();
    let request = xhr::get("/?xhr=dropped", "text/html", move |result| {
        let _ = sender.send(result.map(|answer| answer.status));
    })
    .expect("sent");
    drop(request);
    assert_eq!(receiver.await, Ok(Err(ApiError::Aborted)));
    assert_eq!(
        entry_for("/?xhr=dropped").map(|e| e.outcome),
        Some(Outcome::Aborted)
    );
}

/// The echo's address carries every field the server reads from a GET, the faults' only when
/// they are not the default; a POST's carries only what makes it unique.
#[wasm_bindgen_test]
fn an_echos_address_carries_its_faults() {
    use frontend::api::lab::{EchoMethod, echo_address};
    use protocol::lab::{EchoRequest, Fault};
    let plain = EchoRequest {
        delay_ms: 800,
        seq: Some(5),
        run: Some(2),
        ..EchoRequest::default()
    };
    assert_eq!(
        echo_address(None, EchoMethod::Get, &plain),
        "/api/lab/echo?delay_ms=800&jitter_ms=0&fail_rate=0&bytes=0&seq=5&run=2"
    );
    let scripted = EchoRequest {
        fault: Fault::Reset,
        fail_first: 1,
        seed: Some(3),
        ..plain
    };
    assert_eq!(
        echo_address(None, EchoMethod::Get, &scripted),
        "/api/lab/echo?delay_ms=800&jitter_ms=0&fail_rate=0&bytes=0&fault=reset&fail_first=1&seed=3&seq=5&run=2"
    );
    assert_eq!(
        echo_address(None, EchoMethod::Post, &scripted),
        "/api/lab/echo?seq=5&run=2"
    );
    // To the server's other origin (the comparison of the protocols): the same, from there.
    assert_eq!(
        echo_address(Some("https://localhost:3001"), EchoMethod::Get, &plain),
        "https://localhost:3001/api/lab/echo?delay_ms=800&jitter_ms=0&fail_rate=0&bytes=0&seq=5&run=2"
    );
}

/// The inspector's filter files each request under its room, an echo sent to the server's other
/// origin (the Lab's comparison of the protocols) too.
#[wasm_bindgen_test]
fn each_request_is_filed_under_its_room_wherever_it_went() {
    use frontend::inspector::Room;
    assert_eq!(api::room_of("/api/lab/echo?seq=1"), Room::Lab);
    assert_eq!(
        api::room_of("https://127.0.0.1:3001/api/lab/echo?delay_ms=0&seq=1"),
        Room::Lab
    );
    assert_eq!(api::room_of("/api/jobs/42"), Room::Tasks);
    assert_eq!(api::room_of("/api/health"), Room::Shell);
}
