//! The Search room's typeahead as a state machine, fed keystrokes and answers in a chosen order:
//! the debounce, the three strategies, slow early requests; and the highlighting of matches.

use frontend::search::results::highlighted;
use frontend::search::typeahead::{
    Counts, SLOWER_BY_MS, SLOWEST_MS, Send, Strategy, Typeahead, Typed, Verdict,
};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn typeahead(strategy: Strategy) -> Typeahead {
    let mut typeahead = Typeahead::default();
    typeahead.strategy = strategy;
    typeahead.debounce_ms = 0.0;
    typeahead
}

/// Types `text` at `now` and sends it at once (a debounce of 0).
fn type_and_send(typeahead: &mut Typeahead, text: &str, now: f64) -> Send {
    assert_eq!(typeahead.typed(text, now), Typed::SendAt(now));
    typeahead.due(now).expect("due")
}

#[wasm_bindgen_test]
fn a_query_leaves_once_the_typing_pauses_for_the_debounce() {
    let mut typeahead = Typeahead::default();
    typeahead.debounce_ms = 150.0;
    assert_eq!(typeahead.typed("s", 0.0), Typed::SendAt(150.0));
    assert_eq!(typeahead.typed("sn", 100.0), Typed::SendAt(250.0));
    // The first keystroke's timer fires: too early, a later keystroke moved the moment.
    assert_eq!(typeahead.due(150.0), None);
    let sent = typeahead.due(250.0).expect("the query leaves");
    assert_eq!(sent.query, "sn");
    // Sent once only.
    assert_eq!(typeahead.due(300.0), None);
}

#[wasm_bindgen_test]
fn latest_wins_never_applies_a_stale_answer() {
    let mut typeahead = typeahead(Strategy::LatestWins);
    let s = type_and_send(&mut typeahead, "s", 0.0);
    let sn = type_and_send(&mut typeahead, "sn", 10.0);
    let sno = type_and_send(&mut typeahead, "sno", 20.0);
    assert!(s.abort.is_empty() && sn.abort.is_empty() && sno.abort.is_empty());

    // Answers in the worst order: the newest first.
    assert_eq!(typeahead.answered(sno.id), Verdict::Apply);
    assert_eq!(typeahead.answered(sn.id), Verdict::Discard);
    assert_eq!(typeahead.answered(s.id), Verdict::Discard);
    assert_eq!(
        typeahead.counts,
        Counts {
            applied: 1,
            stale: 2,
            aborted: 0
        }
    );
}

#[wasm_bindgen_test]
fn naive_applies_every_answer_so_the_last_to_arrive_is_shown_even_if_stale() {
    let mut typeahead = typeahead(Strategy::Naive);
    let s = type_and_send(&mut typeahead, "s", 0.0);
    let sn = type_and_send(&mut typeahead, "sn", 10.0);

    assert_eq!(typeahead.answered(sn.id), Verdict::Apply);
    // The older answer comes last and is applied too: the list now shows "s" under "sn".
    assert_eq!(typeahead.answered(s.id), Verdict::Apply);
    assert!(!typeahead.is_newest(s.id));
    assert_eq!(typeahead.counts.applied, 2);
}

#[wasm_bindgen_test]
fn abort_previous_cancels_what_is_in_flight_when_a_newer_query_leaves() {
    let mut typeahead = typeahead(Strategy::AbortPrevious);
    let s = type_and_send(&mut typeahead, "s", 0.0);
    let sn = type_and_send(&mut typeahead, "sn", 10.0);
    assert_eq!(sn.abort, [s.id]);
    typeahead.aborted(s.id);
    let sno = type_and_send(&mut typeahead, "sno", 20.0);
    assert_eq!(sno.abort, [sn.id], "the aborted one is not aborted twice");
    typeahead.aborted(sn.id);
    assert_eq!(typeahead.answered(sno.id), Verdict::Apply);
    assert_eq!(
        typeahead.counts,
        Counts {
            applied: 1,
            stale: 0,
            aborted: 2
        }
    );
}

#[wasm_bindgen_test]
fn clearing_the_box_makes_what_is_in_flight_stale_or_aborts_it() {
    let mut latest = typeahead(Strategy::LatestWins);
    let s = type_and_send(&mut latest, "s", 0.0);
    assert_eq!(latest.typed("", 5.0), Typed::Cleared { abort: vec![] });
    assert_eq!(latest.answered(s.id), Verdict::Discard);

    let mut aborting = typeahead(Strategy::AbortPrevious);
    let s = type_and_send(&mut aborting, "s", 0.0);
    assert_eq!(
        aborting.typed("  ", 5.0),
        Typed::Cleared { abort: vec![s.id] }
    );
}

#[wasm_bindgen_test]
fn slow_early_requests_are_slower_the_earlier_they_leave_and_start_over_when_cleared() {
    let mut typeahead = typeahead(Strategy::Naive);
    typeahead.slow_early = true;
    let delays: Vec<u32> = ["s", "sn", "sno", "snow", "snowm", "snowma", "snowman"]
        .iter()
        .enumerate()
        .map(|(i, text)| type_and_send(&mut typeahead, text, i as f64).delay_ms)
        .collect();
    assert_eq!(delays[0], SLOWEST_MS);
    assert_eq!(delays[1], SLOWEST_MS - SLOWER_BY_MS);
    assert!(
        delays.windows(2).all(|pair| pair[1] <= pair[0]),
        "{delays:?}"
    );
    assert_eq!(delays[6], 0, "never below zero");

    typeahead.typed("", 10.0);
    assert_eq!(
        type_and_send(&mut typeahead, "a", 11.0).delay_ms,
        SLOWEST_MS
    );
}

#[wasm_bindgen_test]
fn matched_parts_of_a_name_are_marked() {
    assert_eq!(
        highlighted("GREEK SMALL LETTER ALPHA", &[[0, 5], [19, 24]]),
        [
            ("GREEK".to_owned(), true),
            (" SMALL LETTER ".to_owned(), false),
            ("ALPHA".to_owned(), true),
        ]
    );
    assert_eq!(highlighted("SNOWMAN", &[]), [("SNOWMAN".to_owned(), false)]);
    // Ranges that do not fit the name are skipped, never a panic.
    assert_eq!(highlighted("AB", &[[1, 9]]), [("AB".to_owned(), false)]);
}
