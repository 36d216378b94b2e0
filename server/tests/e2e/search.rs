//! The Search room in a real browser: typing finds the character, the address holds the query,
//! the keyboard copies; and with slow early requests the naive strategy ends on a stale list
//! while latest-wins and abort-previous never do.

use std::time::Duration;

use fantoccini::key::Key;
use serde_json::Value;

use crate::browser::Session;

const BOX: &str = "[data-testid=search-box]";
const STATUS: &str = "[data-testid=search-status]";

#[tokio::test]
async fn typing_finds_the_character_the_address_keeps_the_query_and_enter_copies_it() {
    let session = Session::start().await;
    session.open_started("/search").await;

    session.type_into(BOX, "snowm").await;

    session
        .wait_for_text(STATUS, "for “snowm”", Duration::from_secs(10))
        .await;
    let first = session.text("[data-testid=search-results] li").await;
    assert!(first.contains('☃') && first.contains("SNOWMAN"), "{first}");
    assert!(first.contains("U+2603"), "{first}");
    let highlighted = session.text("[data-testid=search-results] li mark").await;
    assert_eq!(highlighted, "SNOWM");
    let address = session
        .eval("return location.pathname + location.search")
        .await;
    assert_eq!(address, "/search?q=snowm");

    session
        .element(BOX)
        .await
        .send_keys(&Key::Enter.to_string())
        .await
        .expect("Enter");
    let toast = session
        .wait_for_text(
            "[data-testid=search-toast]",
            "U+2603",
            Duration::from_secs(5),
        )
        .await;
    assert!(toast.starts_with("Copied ☃"), "{toast}");

    // A shared link opens on its results; one result is "1 character", not "1 characters".
    session.open("/search?q=U%2B2603").await;
    let one = session
        .wait_for_text(STATUS, "for “U+2603”", Duration::from_secs(20))
        .await;
    assert!(one.starts_with("1 character for"), "{one}");
    session.open("/search?q=greek+small+letter+alpha").await;
    session
        .wait_for_text(
            STATUS,
            "for “greek small letter alpha”",
            Duration::from_secs(20),
        )
        .await;
    let first = session.text("[data-testid=search-results] li").await;
    assert!(first.contains("U+03B1"), "{first}");
    session.screenshot("search").await;
    session.assert_accessible("search").await;
    let errors = session.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    session.close().await;
}

#[tokio::test]
async fn scrolling_down_loads_the_next_page_and_a_lost_network_says_so_with_a_way_to_try_again() {
    let session = Session::start().await;
    session.open_started("/search").await;
    let shown = async || {
        session
            .eval("return document.querySelectorAll('[data-testid=search-results] li').length")
            .await
            .as_u64()
            .unwrap_or_default()
    };

    // "arrow" has hundreds of characters: 20 at first, 20 more each time the list's end
    // scrolls into view, with no click. The second page is scrolled past the moment it lands,
    // before the browser has drawn the button out of view (a person flicking down): the third
    // page comes all the same.
    session.type_into(BOX, "arrow").await;
    session
        .wait_for_text(STATUS, "for “arrow”", Duration::from_secs(10))
        .await;
    assert_eq!(shown().await, 20);
    session
        .eval(
            "const list = document.querySelector('[data-testid=search-results]');\
             const flick = new MutationObserver(() => {\
               if (list.querySelectorAll('li').length >= 40) {\
                 flick.disconnect();\
                 window.scrollTo(0, document.body.scrollHeight);\
               }\
             });\
             flick.observe(list, { childList: true, subtree: true });\
             window.scrollTo(0, document.body.scrollHeight);\
             return null",
        )
        .await;
    session
        .wait_until("60 shown", Duration::from_secs(10), async || {
            shown().await == 60
        })
        .await;
    let codepoints = session
        .eval(
            "return [...document.querySelectorAll('[data-testid=search-results] .codepoint')]\
             .map(c => c.textContent)",
        )
        .await;
    let codepoints: Vec<&str> = codepoints
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let distinct: std::collections::HashSet<_> = codepoints.iter().collect();
    assert_eq!(distinct.len(), 60, "no character twice: {codepoints:?}");

    // Off the network, a search says the server cannot be reached and offers to try again;
    // back on, trying again shows the results.
    session.set_offline(true).await;
    session.type_into(BOX, "snowman").await;
    let failed = session
        .wait_for_text(STATUS, "could not be reached", Duration::from_secs(10))
        .await;
    assert!(failed.contains("Try again"), "{failed}");
    session.screenshot("search-unreachable").await;
    session.assert_accessible("search-unreachable").await;
    session.set_offline(false).await;
    session.click("[data-testid=search-status] button").await;
    session
        .wait_for_text(STATUS, "for “snowman”", Duration::from_secs(10))
        .await;
    let first = session.text("[data-testid=search-results] li").await;
    assert!(first.contains("U+2603"), "{first}");
    session.prefer_colour_scheme("dark").await;
    session.assert_accessible("search, dark").await;
    session.close().await;
}

/// Types "snowm" with no debounce and slow early requests: five requests, the first answered
/// last. Returns the status line once all five are over.
async fn race(session: &Session, strategy: &str) -> String {
    session.open_started("/search").await;
    session
        .type_into("[data-testid=search-debounce]", "0")
        .await;
    session
        .choose("[data-testid=search-strategy]", strategy)
        .await;
    session.click("[data-testid=search-slow-early]").await;
    session.type_into(BOX, "snowm").await;
    session
        .wait_until("five answers", Duration::from_secs(15), async || {
            session.number("search-applied").await
                + session.number("search-stale").await
                + session.number("search-aborted").await
                == 5
        })
        .await;
    session.text(STATUS).await
}

#[tokio::test]
async fn with_slow_early_requests_naive_shows_a_stale_list_and_the_other_strategies_never_do() {
    let session = Session::start().await;

    let naive = race(&session, "naive").await;
    // The first request ("s") was the slowest: its answer came last and was applied.
    assert!(naive.contains("for “s”"), "{naive}");
    assert_eq!(session.number("search-applied").await, 5);
    session.screenshot("search-naive-stale").await;
    session.assert_accessible("search-naive-stale").await;
    // Another strategy starts a count of its own, to compare with.
    session
        .choose("[data-testid=search-strategy]", "latest-wins")
        .await;
    session
        .wait_until(
            "the counts start again",
            Duration::from_secs(5),
            async || session.number("search-applied").await == 0,
        )
        .await;

    let latest = race(&session, "latest-wins").await;
    assert!(latest.contains("for “snowm”"), "{latest}");
    assert_eq!(session.number("search-applied").await, 1);
    assert_eq!(session.number("search-stale").await, 4);

    // Each keystroke aborts the request before it: the browser closes those connections.
    let aborting = race(&session, "abort-previous").await;
    assert!(aborting.contains("for “snowm”"), "{aborting}");
    assert_eq!(session.number("search-applied").await, 1);
    assert_eq!(session.number("search-aborted").await, 4);
    session.close().await;
}
