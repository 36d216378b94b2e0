//! The Search room: `GET /api/search` over every named Unicode character.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use protocol::search::SearchResults;
use reqwest::StatusCode;

use crate::helpers::{TestApp, assert_error, spawn_app};

impl TestApp {
    /// `GET /api/search?<query>`, expecting results.
    async fn search(&self, query: &str) -> SearchResults {
        let response = self.get(&format!("/api/search?{query}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{query}");
        response.json().await.expect("results")
    }
}

fn first_codepoint(results: &SearchResults) -> Option<&str> {
    results.items.first().map(|hit| hit.codepoint.as_str())
}

#[tokio::test]
async fn a_name_finds_its_character_first_with_what_matched() {
    let app = spawn_app().await;

    let results = app.search("q=snowman").await;

    let first = &results.items[0];
    assert_eq!(
        (
            first.codepoint.as_str(),
            first.char.as_str(),
            first.name.as_str(),
            first.block.as_str()
        ),
        ("U+2603", "☃", "SNOWMAN", "Miscellaneous Symbols")
    );
    assert_eq!(first.matches, [[0, 7]]);
    assert_eq!(results.query, "snowman");
    assert!(
        results.total >= 2,
        "SNOWMAN WITHOUT SNOW too: {}",
        results.total
    );
}

#[tokio::test]
async fn words_match_in_any_order_and_any_case() {
    let app = spawn_app().await;
    for query in [
        "q=greek%20small%20letter%20alpha",
        "q=GREEK+Small+LETTER+alpha",
    ] {
        assert_eq!(
            first_codepoint(&app.search(query).await),
            Some("U+03B1"),
            "{query}"
        );
    }
    let reversed = app.search("q=alpha+greek&limit=100").await;
    let alpha = reversed
        .items
        .iter()
        .find(|hit| hit.codepoint == "U+03B1")
        .expect("GREEK SMALL LETTER ALPHA is found");
    assert_eq!(alpha.matches, [[0, 5], [19, 24]]);
    // Every result has every word.
    assert!(
        reversed
            .items
            .iter()
            .all(|hit| hit.name.contains("ALPHA") && hit.name.contains("GREEK"))
    );
}

#[tokio::test]
async fn ranking_puts_exact_then_prefix_then_word_starts_then_substrings() {
    let app = spawn_app().await;
    let results = app.search("q=em+dash&limit=100").await;
    assert_eq!(results.items[0].name, "EM DASH");
    let names: Vec<&str> = results.items.iter().map(|hit| hit.name.as_str()).collect();
    let position = |name: &str| names.iter().position(|n| *n == name);
    // A name that starts with the query comes before one where the words are elsewhere.
    let prefix = position("EM DASH").expect("exact");
    let elsewhere = names
        .iter()
        .position(|n| !n.starts_with("EM DASH"))
        .expect("names that only contain the words");
    assert!(prefix < elsewhere);
    // "LEM" contains "EM" but does not start with it: a word start ranks before a substring.
    let substring = app.search("q=lem&limit=100").await;
    let word_starts: Vec<bool> = substring
        .items
        .iter()
        .map(|hit| {
            hit.name
                .split([' ', '-'])
                .any(|word| word.starts_with("LEM"))
        })
        .collect();
    // Both kinds are in the first hundred ("LEMNISCATE", "ELEMENT OF"), so the order is tested.
    assert!(
        word_starts[0],
        "a word start comes first: {}",
        substring.items[0].name
    );
    let first_inside = word_starts
        .iter()
        .position(|starts| !starts)
        .expect("names where LEM is inside a word");
    assert!(
        word_starts[first_inside..].iter().all(|starts| !starts),
        "{word_starts:?}"
    );
}

#[tokio::test]
async fn a_code_point_or_the_character_itself_finds_it_first() {
    let app = spawn_app().await;
    for query in ["q=u%2B1F600", "q=U%2B1F600", "q=0x1f600", "q=%F0%9F%98%80"] {
        let results = app.search(query).await;
        let first = &results.items[0];
        assert_eq!(
            (first.codepoint.as_str(), first.name.as_str()),
            ("U+1F600", "GRINNING FACE"),
            "{query}"
        );
    }
    // A character whose name is derived from its code point is found that way, though its name
    // is left out of the word search.
    let ideograph = app.search("q=U%2B4E00").await;
    assert_eq!(ideograph.items[0].name, "CJK UNIFIED IDEOGRAPH-4E00");
    // (Only names that contain the words, like SQUARED CJK UNIFIED IDEOGRAPH-624B, are found.)
    let words = app.search("q=cjk+unified+ideograph&limit=100").await;
    assert!(words.total < 100, "{} listed", words.total);
    assert!(
        words
            .items
            .iter()
            .all(|hit| !hit.name.starts_with("CJK UNIFIED IDEOGRAPH-")),
        "{:?}",
        words.items.first()
    );
    let hangul = app.search("q=hangul+syllable").await;
    assert!(
        hangul.total < 100,
        "{} Hangul syllables listed",
        hangul.total
    );
}

#[tokio::test]
async fn pages_are_stable_without_duplicates_or_gaps() {
    let app = spawn_app().await;
    let total = app.search("q=arrow&limit=1").await.total;
    assert!(total > 300, "{total}");

    let mut seen = Vec::new();
    let mut offset = 0;
    while offset < total {
        let page = app
            .search(&format!("q=arrow&limit=100&offset={offset}"))
            .await;
        assert_eq!(page.total, total);
        assert!(!page.items.is_empty());
        seen.extend(page.items.into_iter().map(|hit| hit.codepoint));
        offset += 100;
    }
    let distinct: HashSet<&String> = seen.iter().collect();
    assert_eq!((seen.len(), distinct.len()), (total, total));
    // The same page twice is the same page.
    let again = app.search("q=arrow&limit=100&offset=200").await;
    let codepoints: Vec<String> = again.items.into_iter().map(|hit| hit.codepoint).collect();
    assert_eq!(codepoints, seen[200..300]);
    // Past the end: no items, the same total.
    let beyond = app.search(&format!("q=arrow&offset={}", total + 5)).await;
    assert_eq!((beyond.items.len(), beyond.total), (0, total));
}

#[tokio::test]
async fn an_empty_query_has_no_results() {
    let app = spawn_app().await;
    for query in ["q=", "q=%20%20%09", ""] {
        let results = app.search(query).await;
        assert_eq!((results.total, results.items.len()), (0, 0), "{query}");
    }
}

#[tokio::test]
async fn out_of_range_parameters_are_refused_naming_them() {
    let app = spawn_app().await;
    let long = "a".repeat(101);
    for (query, status, code, named) in [
        (
            format!("q={long}"),
            422,
            "validation_failed",
            "100 characters",
        ),
        ("q=a&limit=0".to_owned(), 422, "validation_failed", "limit"),
        (
            "q=a&limit=101".to_owned(),
            422,
            "validation_failed",
            "1 to 100",
        ),
        (
            "q=a&offset=-1".to_owned(),
            422,
            "validation_failed",
            "offset",
        ),
        (
            "q=a&delay_ms=30001".to_owned(),
            422,
            "validation_failed",
            "delay_ms",
        ),
        ("q=a&limit=ten".to_owned(), 400, "bad_request", "limit"),
        ("q=a&colour=red".to_owned(), 400, "bad_request", "colour"),
    ] {
        let response = app.get(&format!("/api/search?{query}")).await;
        let status = StatusCode::from_u16(status).expect("a status");
        let message = assert_error(response, status, code).await;
        assert!(message.contains(named), "{query}: {message}");
    }
    // 100 characters is still a query.
    let hundred = "a".repeat(100);
    app.search(&format!("q={hundred}")).await;
}

#[tokio::test]
async fn a_delay_can_be_asked_for_to_make_races_happen() {
    let app = spawn_app().await;
    app.search("q=warm").await;
    let started = Instant::now();

    let results = app.search("q=snowman&delay_ms=300").await;

    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(first_codepoint(&results), Some("U+2603"));
    assert!(results.took_us < 300_000, "the delay is not search time");
}
