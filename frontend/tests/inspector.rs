//! The inspector: the recorder behind the drawer (what it keeps, and how much) and the drawer
//! itself, with requests and pushed events as a person sees them.

use frontend::components::inspector::InspectorDrawer;
use frontend::inspector::{self, About, Attempt, CAPACITY, EntryKind, Outcome, ServerSide};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

mod support;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn a_request_is_recorded_from_sending_to_its_outcome() {
    inspector::clear();

    let id = inspector::begin("GET", "/api/lab/echo?seq=7");
    let sent = inspector::get(id).expect("kept");
    assert_eq!(
        sent.kind,
        EntryKind::Request {
            method: "GET",
            path: "/api/lab/echo?seq=7".into()
        }
    );
    assert_eq!(sent.outcome, Outcome::InFlight);
    assert_eq!(inspector::counts(), (1, 1));

    let timing = "db-wait;dur=0.0, db;dur=0.0, wait;dur=300.0, handler;dur=1.2, total;dur=301.2";
    inspector::first_byte(
        id,
        200,
        ServerSide {
            served_by: Some("web-2:3000".into()),
            request_id: Some("0b6f".into()),
            server_timing: Some(timing.into()),
            ..ServerSide::default()
        },
    );
    inspector::finish(id, Outcome::Applied);
    // A newer request made this answer irrelevant: the caller says so afterwards.
    inspector::reclassify(id, Outcome::StaleDiscarded);

    let done = inspector::get(id).expect("kept");
    assert_eq!(done.status, Some(200));
    assert_eq!(
        done.served_by.as_deref(),
        Some("web-2:3000"),
        "who answered"
    );
    assert_eq!(done.request_id.as_deref(), Some("0b6f"));
    assert_eq!(
        inspector::timing_in_words(done.server_timing.as_deref().expect("kept")),
        "301.2 ms: wait 300.0, handler 1.2",
        "the parts that took any time"
    );
    assert_eq!(done.outcome, Outcome::StaleDiscarded);
    assert_eq!(done.outcome.label(), "stale — discarded");
    let (sent, first, end) = (
        done.started_ms,
        done.first_byte_ms.expect("first byte"),
        done.done_ms.expect("done"),
    );
    assert!(sent <= first && first <= end, "{sent} {first} {end}");
    assert_eq!(inspector::counts(), (1, 0));
}

#[wasm_bindgen_test]
fn a_long_session_keeps_only_the_newest_entries() {
    inspector::clear();
    let first = inspector::begin("GET", "/api/first");
    let extra = 750;
    for n in 0..CAPACITY + extra {
        let id = inspector::begin("GET", &format!("/api/{n}"));
        inspector::finish(id, Outcome::Applied);
    }

    assert_eq!(inspector::counts(), (CAPACITY, 0), "bounded, however long");
    assert_eq!(inspector::get(first), None, "the oldest are forgotten");
    let newest = inspector::newest(CAPACITY + extra);
    assert_eq!(newest.len(), CAPACITY);
    let path = |index: usize| match &newest[index].kind {
        EntryKind::Request { path, .. } => path.clone(),
        EntryKind::Event { name } => name.clone(),
    };
    assert_eq!(
        path(0),
        format!("/api/{}", CAPACITY + extra - 1),
        "newest first"
    );
    assert_eq!(path(CAPACITY - 1), format!("/api/{extra}"));
    // Ids stay in order, so finding an entry by id still works after the ring wrapped.
    let kept = newest[CAPACITY / 2].id;
    assert_eq!(inspector::get(kept).map(|e| e.id), Some(kept));
    // Finishing a forgotten request changes nothing and keeps nothing.
    inspector::finish(first, Outcome::Failed);
    assert_eq!(inspector::counts(), (CAPACITY, 0));

    inspector::clear();
    assert_eq!(inspector::counts(), (0, 0));
}

#[wasm_bindgen_test]
async fn the_drawer_shows_requests_and_pushed_events_as_markers() {
    inspector::clear();
    let page = support::mount(InspectorDrawer);
    let answered = inspector::begin("GET", "/api/health");
    inspector::first_byte(answered, 200, ServerSide::default());
    inspector::finish(answered, Outcome::Applied);
    inspector::event("mail: a new message arrived", "/api/events?ticket=t", None);
    let waiting = inspector::begin("POST", "/api/lab/echo");

    // Closed, it shows the counts only; they follow within a frame.
    let counted = support::until(2_000, || {
        page.text("[data-testid=inspector-counts]") == "3 recorded · 1 in flight"
    })
    .await;
    assert!(counted, "{}", page.text("[data-testid=inspector-counts]"));
    assert!(!page.exists(".inspector-table"));

    page.click(".inspector-toggle");
    page.wait_for(".inspector-table tbody tr").await;
    let rows = page.texts(".inspector-table tbody tr");
    assert_eq!(rows.len(), 3, "{rows:?}");
    // Newest first: the waiting POST, the marker, the answered GET.
    assert!(
        rows[0].contains("POST") && rows[0].contains("in flight"),
        "{rows:?}"
    );
    assert!(
        rows[1].contains("EVENT") && rows[1].contains("mail: a new message arrived"),
        "{rows:?}"
    );
    assert!(rows[1].contains("pushed"), "{rows:?}");
    assert_eq!(page.texts(".inspector-table tr.marker").len(), 1);
    assert!(
        rows[2].contains("/api/health") && rows[2].contains("200"),
        "{rows:?}"
    );
    assert!(rows[2].contains("applied"), "{rows:?}");

    // Live while it is open: its status and first byte show as soon as they arrive (a long poll or
    // an event stream stays open for minutes)...
    inspector::first_byte(waiting, 202, ServerSide::default());
    let answered_headers = support::until(2_000, || {
        page.texts(".inspector-table tbody tr")
            .first()
            .is_some_and(|row| row.contains("202") && row.contains("in flight"))
    })
    .await;
    assert!(
        answered_headers,
        "{:?}",
        page.texts(".inspector-table tbody tr")
    );
    // ...and its outcome changes in place when it ends.
    inspector::finish(waiting, Outcome::Aborted);
    let updated = support::until(2_000, || {
        page.texts(".inspector-table tbody tr")
            .first()
            .is_some_and(|row| row.contains("aborted"))
    })
    .await;
    assert!(updated, "{:?}", page.texts(".inspector-table tbody tr"));

    page.click("[data-testid=inspector-clear]");
    let cleared = support::until(2_000, || !page.exists(".inspector-table tbody tr")).await;
    assert!(cleared, "Clear empties the drawer");
    inspector::clear();
}

#[wasm_bindgen_test]
async fn the_drawer_shows_only_what_its_filters_keep() {
    inspector::clear();
    let page = support::mount(InspectorDrawer);
    let echo = inspector::begin("GET", "/api/lab/echo?delay_ms=800");
    inspector::finish(echo, Outcome::Applied);
    let stale = inspector::begin("GET", "/api/search?q=snow");
    inspector::finish(stale, Outcome::StaleDiscarded);
    let failed = inspector::begin("POST", "/api/jobs");
    inspector::finish(failed, Outcome::Failed);
    inspector::event("message #1: {}", "/api/events?ticket=t", None);
    inspector::event("finished #4: {}", "/api/jobs/events?ticket=t", None);
    page.click(".inspector-toggle");
    page.wait_for(".inspector-table tbody tr").await;
    // Waits until the drawer shows `count` rows, the first `first`.
    let shown = |count: usize, first: &'static str| {
        let page = &page;
        async move {
            let settled = support::until(2_000, || {
                let rows = page.texts(".inspector-table tbody tr");
                rows.len() == count && rows.first().is_none_or(|row| row.contains(first))
            })
            .await;
            let rows = page.texts(".inspector-table tbody tr");
            assert!(settled, "{count} rows, the first with {first}: {rows:?}");
        }
    };
    shown(5, "finished #4").await;

    page.set_value("[data-testid=inspector-room]", "Tasks");
    shown(2, "finished #4").await;
    page.set_value("[data-testid=inspector-kind]", "requests");
    shown(1, "POST\t/api/jobs").await;
    page.set_value("[data-testid=inspector-room]", "");
    page.set_value("[data-testid=inspector-outcome]", "stale — discarded");
    shown(1, "/api/search?q=snow").await;
    page.set_value("[data-testid=inspector-outcome]", "");
    page.set_value("[data-testid=inspector-kind]", "events");
    shown(2, "finished #4").await;
    page.set_value("[data-testid=inspector-kind]", "");
    // The path, whatever its case.
    page.set_value("[data-testid=inspector-search]", "ECHO");
    shown(1, "/api/lab/echo").await;
    page.set_value("[data-testid=inspector-search]", "");
    shown(5, "finished #4").await;
    inspector::clear();
}

/// The fields HAR 1.2 requires of an entry, with their JSON types ("s" string, "n" number, "a"
/// array, "o" object), by path; any other field of an entry must begin with `_`.
const HAR_ENTRY: &[(&str, char)] = &[
    ("startedDateTime", 's'),
    ("time", 'n'),
    ("request", 'o'),
    ("request/method", 's'),
    ("request/url", 's'),
    ("request/httpVersion", 's'),
    ("request/cookies", 'a'),
    ("request/headers", 'a'),
    ("request/queryString", 'a'),
    ("request/headersSize", 'n'),
    ("request/bodySize", 'n'),
    ("response", 'o'),
    ("response/status", 'n'),
    ("response/statusText", 's'),
    ("response/httpVersion", 's'),
    ("response/cookies", 'a'),
    ("response/headers", 'a'),
    ("response/content", 'o'),
    ("response/content/size", 'n'),
    ("response/content/mimeType", 's'),
    ("response/redirectURL", 's'),
    ("response/headersSize", 'n'),
    ("response/bodySize", 'n'),
    ("cache", 'o'),
    ("timings", 'o'),
    ("timings/send", 'n'),
    ("timings/wait", 'n'),
    ("timings/receive", 'n'),
];

fn har_type_of(value: &serde_json::Value) -> char {
    match value {
        serde_json::Value::String(_) => 's',
        serde_json::Value::Number(_) => 'n',
        serde_json::Value::Array(_) => 'a',
        serde_json::Value::Object(_) => 'o',
        _ => '?',
    }
}

#[wasm_bindgen_test]
fn the_export_is_a_har_1_2_archive_with_meanwhiles_own_fields() {
    inspector::clear();
    let echo = inspector::begin("GET", "/api/lab/echo?delay_ms=800&seq=7&q=caf%C3%A9+noir");
    inspector::first_byte(
        echo,
        200,
        ServerSide {
            served_by: Some("a".into()),
            request_id: Some("0b6f".into()),
            server_timing: Some("wait;dur=800.0, total;dur=801.0".into()),
            ..ServerSide::default()
        },
    );
    inspector::finish(echo, Outcome::Applied);
    inspector::event("message #1: {}", "/api/events?ticket=t", Some("b".into()));
    let waiting = inspector::begin_with(
        "POST",
        "/api/jobs",
        About {
            strategy: Some("retried with backoff under one Idempotency-Key".into()),
            attempt: Some(Attempt { number: 2, of: 5 }),
            idempotency_key: Some("k-42".into()),
        },
    );
    let entries = inspector::newest(10);
    let har = frontend::har::archive(&entries, "http://127.0.0.1:3000", 1_796_000_000_000.0);

    let log = &har["log"];
    assert_eq!(log["version"], "1.2");
    assert_eq!(log["creator"]["name"], "Meanwhile");
    assert!(log["creator"]["version"].is_string());
    assert!(log["pages"].is_array());
    let har_entries = log["entries"].as_array().expect("entries");
    assert_eq!(har_entries.len(), 2, "the requests; the event is apart");
    for entry in har_entries {
        for (path, kind) in HAR_ENTRY {
            let value = path.split('/').fold(entry, |value, key| &value[key]);
            assert_eq!(har_type_of(value), *kind, "{path} in {entry}");
        }
        for key in entry.as_object().expect("an object").keys() {
            let standard = HAR_ENTRY.iter().any(|(path, _)| path == key);
            assert!(standard || key.starts_with('_'), "{key} is not HAR's");
        }
        let date = entry["startedDateTime"].as_str().expect("text");
        assert!(
            date.starts_with("2026-") && date.ends_with('Z'),
            "ISO 8601: {date}"
        );
    }
    // Oldest first, as a network panel lists them.
    let first = &har_entries[0];
    assert_eq!(
        first["request"]["url"],
        "http://127.0.0.1:3000/api/lab/echo?delay_ms=800&seq=7&q=caf%C3%A9+noir"
    );
    assert_eq!(
        first["request"]["queryString"],
        serde_json::json!([
            {"name": "delay_ms", "value": "800"},
            {"name": "seq", "value": "7"},
            {"name": "q", "value": "café noir"}
        ])
    );
    assert_eq!(first["response"]["status"], 200);
    assert_eq!(first["_outcome"], "applied");
    assert_eq!(first["_servedBy"], "a");
    assert_eq!(first["_requestId"], "0b6f");
    assert_eq!(first["_serverTiming"], "wait;dur=800.0, total;dur=801.0");
    assert_eq!(first["_room"], "Lab");
    let timings = &first["timings"];
    let (wait, receive) = (
        timings["wait"].as_f64().expect("a number"),
        timings["receive"].as_f64().expect("a number"),
    );
    assert!(wait >= 0.0 && receive >= 0.0, "{timings}");
    let second = &har_entries[1];
    assert_eq!(second["request"]["method"], "POST");
    assert_eq!(second["_outcome"], "in flight");
    assert_eq!(second["_why"], "waiting for the answer");
    assert_eq!(
        second["_strategy"],
        "retried with backoff under one Idempotency-Key"
    );
    assert_eq!(
        second["_attempt"],
        serde_json::json!({"number": 2, "of": 5})
    );
    assert_eq!(second["_idempotencyKey"], "k-42");
    assert_eq!(first["_why"], "answered and used");
    assert_eq!(first["_attempt"], serde_json::Value::Null);
    assert_eq!(second["timings"]["wait"], -1.0, "no answer yet: unknown");
    assert_eq!(
        log["_pushedEvents"][0]["event"], "message #1: {}",
        "{}",
        log["_pushedEvents"]
    );
    assert_eq!(log["_pushedEvents"][0]["servedBy"], "b");
    inspector::finish(waiting, Outcome::Aborted);
    inspector::clear();
}

/// Each row says why it ended as it did: what the code that knew said, or what its outcome and
/// answer say (a replayed answer, a status, no answer at all); a room left says so of what it
/// aborted.
#[wasm_bindgen_test]
fn each_row_says_why_it_ended_as_it_did() {
    inspector::clear();
    let reason = |id| inspector::get(id).expect("kept").reason();

    let stale = inspector::begin("GET", "/api/search?q=sn");
    inspector::finish(stale, Outcome::Applied);
    inspector::reclassify_because(
        stale,
        Outcome::StaleDiscarded,
        "stale — a newer query had answered".into(),
    );
    assert_eq!(reason(stale), "stale — a newer query had answered");

    let replayed = inspector::begin("POST", "/api/messages");
    inspector::first_byte(
        replayed,
        202,
        ServerSide::read(|name| (name == "idempotent-replayed").then(|| "true".to_owned())),
    );
    inspector::finish(replayed, Outcome::Applied);
    assert!(
        reason(replayed).starts_with("deduplicated by its Idempotency-Key"),
        "{}",
        reason(replayed)
    );

    let refused = inspector::begin("POST", "/api/jobs");
    inspector::first_byte(
        refused,
        429,
        ServerSide::read(|name| (name == "retry-after").then(|| "5".to_owned())),
    );
    inspector::finish(refused, Outcome::Failed);
    assert_eq!(reason(refused), "failed — answered 429");
    assert_eq!(
        inspector::get(refused).expect("kept").retry_after_s,
        Some(5)
    );

    let unanswered = inspector::begin("GET", "/api/inbox");
    inspector::finish(unanswered, Outcome::Failed);
    assert_eq!(reason(unanswered), "failed — no answer");

    // Aborted while a room is left: the abort says so; an abort elsewhere does not.
    let left = inspector::begin("GET", "/api/lab/stats");
    inspector::because("aborted — left the room", || {
        inspector::finish(left, Outcome::Aborted);
    });
    assert_eq!(reason(left), "aborted — left the room");
    let cancelled = inspector::begin("GET", "/api/lab/stats");
    inspector::finish(cancelled, Outcome::Aborted);
    assert_eq!(reason(cancelled), "aborted by the page");
    inspector::clear();
}

/// The browser's own phases (its resource timing) are filed under the request they belong to,
/// however many requests to the same address there are.
#[wasm_bindgen_test]
async fn the_browsers_own_phases_are_filed_under_each_request() {
    inspector::clear();
    inspector::watch_resource_timing();
    // Written as the API client writes an address, and as the browser files it.
    let value = js_sys::Math::random().to_string();
    let path = frontend::api::fetch::address("/", &[("phases", value.clone())]);
    let earlier = inspector::begin("GET", &path);
    inspector::finish(earlier, Outcome::Aborted);
    gloo_timers::future::TimeoutFuture::new(120).await;
    let entry = inspector::begin("GET", &path);
    let answer = gloo_net::http::Request::get("/")
        .query([("phases", value)])
        .send()
        .await
        .expect("answered");
    answer.text().await.expect("read");
    inspector::finish(entry, Outcome::Applied);
    let mut phases = None;
    for _ in 0..100 {
        phases = inspector::get(entry).and_then(|entry| entry.browser);
        if phases.is_some() {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
    let phases = phases.expect("the browser filed its timing");
    assert!(phases.queued >= 0.0, "{phases:?}");
    assert!(phases.waiting > 0.0, "{phases:?}");
    assert!(phases.download >= 0.0, "{phases:?}");
    assert_eq!(
        inspector::get(earlier).and_then(|entry| entry.browser),
        None,
        "not the earlier request to the same address"
    );
    assert_eq!(phases.protocol, "http/1.1", "the test runner's server");
    assert!(inspector::phases_in_words(&phases).starts_with("http/1.1: queued "));
    inspector::clear();
}

/// What the server did to an answer on purpose (the Lab's faults) is in its account, in words,
/// before where the time went.
#[wasm_bindgen_test]
fn the_servers_account_names_a_fault_in_words() {
    let dripped = "fault;desc=\"the Lab's fault: the body in 10 parts 100 ms apart\", \
                   wait;dur=300.0;desc=\"waiting on purpose\", handler;dur=1.2, total;dur=301.2";
    assert_eq!(
        inspector::timing_in_words(dripped),
        "the Lab's fault: the body in 10 parts 100 ms apart · 301.2 ms: wait 300.0, handler 1.2"
    );
    assert_eq!(
        inspector::server_said(dripped).as_deref(),
        Some("the Lab's fault: the body in 10 parts 100 ms apart")
    );
    let plain = "wait;dur=0.0, handler;dur=1.2, total;dur=1.2";
    assert_eq!(inspector::timing_in_words(plain), "1.2 ms: handler 1.2");
    assert_eq!(inspector::server_said(plain), None);
}
