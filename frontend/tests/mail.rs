//! The Mail room's outbox as a state machine, fed outcomes in a chosen order: writing never
//! waits, a lost answer is retried with the same key after a backoff, a refusal is kept with its
//! reason, and a saved outbox comes back after a reload with nothing lost.

use frontend::api::ApiError;
use frontend::mail::outbox::{BACKOFF, Outbox, State};
use protocol::ErrorCode;
use protocol::mail::{MessageStatus, NewMessage, Sent};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

mod support;

wasm_bindgen_test_configure!(run_in_browser);

fn message(n: u32) -> NewMessage {
    NewMessage {
        to: "bob".into(),
        subject: format!("Note {n}"),
        body: format!("Body {n}"),
    }
}

fn sent(id: i64) -> Sent {
    Sent {
        id,
        status: MessageStatus::Delivered,
        sent_at_ms: 1,
    }
}

fn server(status: u16, code: ErrorCode, retry_after_s: Option<u32>) -> ApiError {
    ApiError::Server {
        status,
        code,
        message: "No.".into(),
        retry_after_s,
    }
}

#[wasm_bindgen_test]
fn five_written_while_the_first_retries_all_leave_without_waiting_for_it() {
    let mut outbox = Outbox::default();
    outbox.write("k0".into(), message(0), 0.0);
    assert_eq!(outbox.due(0.0).len(), 1);
    outbox.answered("k0", Err(ApiError::Network("lost".into())), 10.0, 0.5);
    for n in 1..=5 {
        outbox.write(format!("k{n}"), message(n), 20.0);
    }
    let due: Vec<String> = outbox.due(20.0).into_iter().map(|(key, _)| key).collect();
    assert_eq!(due, ["k1", "k2", "k3", "k4", "k5"]);
    assert_eq!(outbox.pending(), 6);
}

#[wasm_bindgen_test]
fn a_lost_answer_is_retried_after_a_growing_backoff_with_the_same_key() {
    let mut outbox = Outbox::default();
    outbox.write("key".into(), message(1), 0.0);
    let mut now = 0.0;
    let mut waits = Vec::new();
    for _ in 0..8 {
        let due = outbox.due(now);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].0, "key", "every attempt carries the same key");
        // The largest wait the jitter can draw, to see the ceiling double up to the cap.
        outbox.answered("key", Err(ApiError::Network("lost".into())), now, 0.999_999);
        let Some(at) = outbox.next_retry_at() else {
            panic!("waiting")
        };
        // Floored: just under the ceiling.
        waits.push((at - now).round() + 1.0);
        assert!(outbox.due(at - 1.0).is_empty(), "not before its time");
        now = at;
    }
    assert_eq!(
        waits,
        [
            500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0, 30000.0, 30000.0
        ]
    );
    assert_eq!(BACKOFF.cap_ms, 30_000);
    assert_eq!(outbox.items[0].attempts, 8);

    let due = outbox.due(now);
    assert_eq!(due.len(), 1);
    outbox.answered("key", Ok(sent(42)), now, 0.5);
    assert!(matches!(
        outbox.items[0].state,
        State::Delivered { id: 42, .. }
    ));
    assert_eq!(outbox.pending(), 0);
    assert!(
        outbox.due(now + 100_000.0).is_empty(),
        "delivered once, never again"
    );
}

#[wasm_bindgen_test]
fn busy_answers_wait_as_told_and_refusals_are_kept_with_their_reason() {
    let mut outbox = Outbox::default();
    for n in 0..4 {
        outbox.write(format!("k{n}"), message(n), 0.0);
    }
    outbox.due(0.0);
    outbox.answered(
        "k0",
        Err(server(429, ErrorCode::TooManyRequests, Some(3))),
        0.0,
        0.5,
    );
    outbox.answered(
        "k1",
        Err(server(409, ErrorCode::RequestInProgress, None)),
        0.0,
        0.5,
    );
    outbox.answered("k2", Err(server(404, ErrorCode::NotFound, None)), 0.0, 0.5);
    outbox.answered(
        "k3",
        Err(server(422, ErrorCode::ValidationFailed, None)),
        0.0,
        0.5,
    );

    assert!(
        matches!(outbox.items[0].state, State::Waiting { retry_at_ms, .. } if retry_at_ms == 3000.0)
    );
    assert!(matches!(outbox.items[1].state, State::Waiting { .. }));
    assert!(matches!(&outbox.items[2].state, State::Refused { error } if error == "No."));
    assert!(matches!(outbox.items[3].state, State::Refused { .. }));
    assert_eq!(outbox.pending(), 2);

    // A refused one goes when the person lets it go; one on its way does not.
    outbox.discard("k2");
    outbox.discard("k0");
    let keys: Vec<&str> = outbox.items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["k0", "k1", "k3"]);
}

#[wasm_bindgen_test]
fn going_offline_queues_the_waiting_ones_for_when_the_network_is_back() {
    let mut outbox = Outbox::default();
    outbox.write("k".into(), message(1), 0.0);
    outbox.due(0.0);
    outbox.answered("k", Err(ApiError::Network("offline".into())), 0.0, 0.5);
    assert!(outbox.due(1.0).is_empty());
    outbox.offline();
    assert_eq!(outbox.items[0].state, State::Queued);
    assert_eq!(outbox.due(1.0).len(), 1, "back online: it leaves at once");
}

#[wasm_bindgen_test]
fn a_saved_outbox_comes_back_and_an_attempt_cut_short_is_sent_again_with_its_key() {
    let mut outbox = Outbox::default();
    for n in 0..3 {
        outbox.write(format!("k{n}"), message(n), f64::from(n));
    }
    outbox.due(5.0);
    outbox.answered("k0", Ok(sent(7)), 6.0, 0.5);
    outbox.answered("k1", Err(ApiError::Network("lost".into())), 6.0, 0.5);
    // k2 was on its way when the tab closed.
    let saved = outbox.to_json();

    // Stored where a reload finds it, and read back from there.
    let storage = web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .expect("localStorage");
    storage
        .set_item("meanwhile-test-outbox", &saved)
        .expect("saved");
    let read = storage
        .get_item("meanwhile-test-outbox")
        .expect("read")
        .expect("there");
    storage
        .remove_item("meanwhile-test-outbox")
        .expect("removed");
    let mut restored = Outbox::from_json(&read);

    assert_eq!(restored.items.len(), 3);
    assert!(matches!(
        restored.items[0].state,
        State::Delivered { id: 7, .. }
    ));
    assert!(matches!(restored.items[1].state, State::Waiting { .. }));
    assert_eq!(restored.items[2].state, State::Queued);
    assert_eq!(restored.items[2].message, message(2));
    let due: Vec<String> = restored.due(6.0).into_iter().map(|(key, _)| key).collect();
    assert_eq!(due, ["k2"]);
    assert_eq!(
        restored.items[2].attempts, 2,
        "the attempt cut short counts"
    );
    assert_eq!(Outbox::from_json("not json"), Outbox::default());
}

/// Clears what a test kept in localStorage for `address`.
fn clear_shelf(address: &str) {
    let storage = web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .expect("localStorage");
    let keys: Vec<String> = (0..storage.length().unwrap_or(0))
        .filter_map(|i| storage.key(i).ok().flatten())
        .filter(|key| key.contains(&format!("outbox.{address}")))
        .collect();
    for key in keys {
        storage.remove_item(&key).expect("removed");
    }
}

#[wasm_bindgen_test]
fn two_tabs_of_one_mailbox_keep_one_outbox_and_neither_loses_the_others_messages() {
    use frontend::mail::shelf::{Change, Shelf};
    clear_shelf("twotabs");
    // Both tabs open the (empty) outbox, then each writes while the other holds its copy.
    let (mut tab_a, mut outbox_a) = Shelf::open("twotabs");
    let (mut tab_b, mut outbox_b) = Shelf::open("twotabs");
    outbox_a.write("a1".into(), message(1), 1.0);
    tab_a.save(&outbox_a);
    outbox_b.write("b1".into(), message(2), 2.0);
    tab_b.save(&outbox_b);
    outbox_a.write("a2".into(), message(3), 3.0);
    tab_a.save(&outbox_a);

    // A reload (or a third tab) finds all three.
    let (_, reloaded) = Shelf::open("twotabs");
    let keys: Vec<&str> = reloaded
        .items
        .iter()
        .map(|item| item.key.as_str())
        .collect();
    assert_eq!(keys, ["a1", "b1", "a2"], "in the order written");

    // Tab A sends b1 too; tab B hears of it through the storage event, and sends nothing.
    let mut changed = reloaded.clone();
    let due: Vec<String> = changed.due(4.0).into_iter().map(|(key, _)| key).collect();
    assert_eq!(due, ["a1", "b1", "a2"]);
    let b1 = changed.items[1].clone();
    let json = serde_json::to_string(&b1).expect("JSON");
    match tab_b.changed("meanwhile.mail.outbox.twotabs.b1", Some(json)) {
        Some(Change::Put(item)) => outbox_b.put(item),
        other => panic!("{other:?}"),
    }
    assert!(
        outbox_b.due(5.0).is_empty(),
        "what the other tab is sending is not sent again"
    );
    assert_eq!(
        tab_b.changed("meanwhile.other.key", Some("{}".into())),
        None,
        "another key is none of the outbox's business"
    );
    clear_shelf("twotabs");
}

#[wasm_bindgen_test]
fn an_outbox_kept_under_the_older_single_key_is_taken_over_whole() {
    use frontend::mail::shelf::Shelf;
    clear_shelf("older");
    let mut older = Outbox::default();
    older.write("o1".into(), message(1), 1.0);
    older.write("o2".into(), message(2), 2.0);
    let storage = web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .expect("localStorage");
    storage
        .set_item("meanwhile.mail.outbox.older", &older.to_json())
        .expect("saved");
    let (_, taken) = Shelf::open("older");
    assert_eq!(taken.items, older.items);
    assert_eq!(
        storage
            .get_item("meanwhile.mail.outbox.older")
            .expect("read"),
        None
    );
    let (_, again) = Shelf::open("older");
    assert_eq!(again.items, older.items, "kept a key per message since");
    clear_shelf("older");
}

#[wasm_bindgen_test]
fn a_receipt_for_a_message_the_tab_does_not_have_yet_loads_the_lists_again() {
    use frontend::api::live::Feed;
    use frontend::api::push::Pushed;
    use frontend::mail::MailSession;
    use leptos::prelude::*;
    use protocol::mail::Message;
    // Mounting anything starts Leptos' executor, which the session's effects need.
    let _page = support::mount(|| "page");
    let owner = Owner::new();
    owner.with(|| {
        let mail = MailSession::provide();
        // The answer to its send was lost, the retry still waits: the tab has no such message.
        let receipt = Pushed {
            kind: "receipt".into(),
            id: "7".into(),
            data: r#"{"id":42,"by":"bob","read_at_ms":5}"#.into(),
        };
        assert!(
            !Feed::apply(mail, &receipt),
            "not dropped: the lists load again"
        );
        mail.sent.set(vec![Message {
            id: 42,
            from: "ann".into(),
            to: "bob".into(),
            subject: "Hello".into(),
            body: "Hi".into(),
            status: MessageStatus::Delivered,
            sent_at_ms: 1,
            read_at_ms: None,
            correction_requested: None,
            history: Vec::new(),
            changes: 0,
            corrections: 0,
        }]);
        assert!(Feed::apply(mail, &receipt));
        let sent = mail.sent.get_untracked();
        assert_eq!(
            (sent[0].status, sent[0].read_at_ms),
            (MessageStatus::Read, Some(5)),
            "✓✓"
        );
    });
}
