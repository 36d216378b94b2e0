//! Links a teacher can share: every room's settings live in the address, so a prepared link
//! opens the same experiment, and changing a setting (or choosing a Lab preset) changes the
//! address.

use std::time::Duration;

use crate::browser::Session;

async fn address(session: &Session) -> String {
    session
        .eval("return location.pathname + location.search")
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn value(session: &Session, css: &str) -> String {
    session
        .eval(&format!("return document.querySelector('{css}').value"))
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_link_opens_the_same_experiment_and_a_change_is_in_the_address() {
    let session = Session::start().await;

    // The Lab: a prepared link fills the form; a preset fills it and says what to watch.
    session
        .open_started("/lab?count=7&delay=100&fault=reset&fail_first=1&retries=1&strategy=race")
        .await;
    session
        .wait_for_text("main h1", "The Lab", Duration::from_secs(20))
        .await;
    assert_eq!(value(&session, "[data-testid=lab-count]").await, "7");
    assert_eq!(value(&session, "[data-testid=lab-delay]").await, "100");
    assert_eq!(value(&session, "[data-testid=lab-fault]").await, "reset");
    assert_eq!(value(&session, "[data-testid=lab-fail-first]").await, "1");
    assert_eq!(value(&session, "[data-testid=lab-strategy]").await, "race");
    session.type_into("[data-testid=lab-count]", "8").await;
    assert!(
        address(&session).await.contains("count=8"),
        "{}",
        address(&session).await
    );
    session.choose("[data-testid=lab-preset]", "six").await;
    let watch = session
        .wait_for_text(
            "[data-testid=lab-preset-watch]",
            "six",
            Duration::from_secs(5),
        )
        .await;
    assert!(watch.starts_with("Watch: "), "{watch}");
    assert_eq!(address(&session).await, "/lab?count=30&delay=1500&jitter=0");
    assert_eq!(
        value(&session, "[data-testid=lab-fault]").await,
        "unavailable"
    );
    session.assert_accessible("the Lab with a preset").await;

    // Search: the knobs beside the query.
    session
        .open_started("/search?debounce=0&strategy=naive&slow=1")
        .await;
    assert_eq!(value(&session, "[data-testid=search-debounce]").await, "0");
    assert_eq!(
        value(&session, "[data-testid=search-strategy]").await,
        "naive"
    );
    assert_eq!(
        session
            .eval("return document.querySelector('[data-testid=search-slow-early]').checked")
            .await,
        true
    );
    session.type_into("[data-testid=search-box]", "snow").await;
    session
        .wait_until(
            "the address has the query and the knobs",
            Duration::from_secs(5),
            async || address(&session).await == "/search?q=snow&debounce=0&strategy=naive&slow=1",
        )
        .await;

    // Techniques: the echo's knobs.
    session
        .open_started("/techniques?delay=3000&fail=0.5")
        .await;
    assert_eq!(value(&session, "[data-testid=knob-delay]").await, "3000");
    assert_eq!(value(&session, "[data-testid=knob-fail]").await, "0.5");
    session.close().await;
}
