//! The inspector as a person uses it: the server panel beside the page's own requests (live
//! while it is shown, its stream closed when it is not), and each row saying why it ended as it
//! did, with the browser's own phases beside the server's account.

use std::time::Duration;

use crate::browser::Session;

/// How many "server panel" streams the server holds now, by its own account.
async fn panels_open(session: &Session) -> u64 {
    server::panel::sample(&session.state)
        .await
        .streams
        .iter()
        .find(|count| count.name == "server panel")
        .map_or(0, |count| count.count)
}

#[tokio::test]
async fn the_server_panel_shows_the_labs_echoes_waiting_and_closes_its_stream_when_hidden() {
    let session = Session::start().await;
    session.open_started("/lab").await;
    session
        .wait_for_text("main h1", "The Lab", Duration::from_secs(20))
        .await;
    session.click(".inspector-toggle").await;
    session.click("[data-testid=panel-toggle]").await;
    session
        .wait_for_text("[data-testid=panel-state]", "live", Duration::from_secs(10))
        .await;
    assert_eq!(panels_open(&session).await, 1);

    // Twelve echoes of 3 s: the server holds those the browser's connections let through.
    session.type_into("[data-testid=lab-count]", "12").await;
    session.type_into("[data-testid=lab-delay]", "3000").await;
    session.type_into("[data-testid=lab-jitter]", "0").await;
    session.click("[data-testid=lab-start]").await;
    let route = session
        .wait_for_text(".server-panel", "/api/lab/echo", Duration::from_secs(10))
        .await;
    let waiting = session.number("panel-requests").await;
    assert!((1..=12).contains(&waiting), "{waiting} waiting: {route}");
    assert!(route.contains("server panel"), "its own stream: {route}");
    assert!(route.contains("of at most 10000"), "the cap: {route}");
    session.screenshot("inspector-server-panel").await;
    session
        .assert_accessible("the inspector with the server panel")
        .await;

    // Every echo answered: each row says why it ended, which attempt it was, the browser's
    // phases and the server's account.
    session
        .wait_until("the echoes answered", Duration::from_secs(30), async || {
            session.number("panel-requests").await == 0
                && session
                    .eval("return document.querySelectorAll('.inspector-table tr.ok').length")
                    .await
                    .as_u64()
                    >= Some(12)
        })
        .await;
    let echo_row = session
        .eval(
            "const row = [...document.querySelectorAll('.inspector-table tbody tr')] \
               .find(r => r.textContent.includes('/api/lab/echo') && r.querySelector('.phases').textContent); \
             return row ? row.innerText : ''",
        )
        .await;
    let echo_row = echo_row.as_str().unwrap_or_default();
    assert!(echo_row.contains("answered and used"), "{echo_row}");
    assert!(echo_row.contains("attempt 1 of 1"), "{echo_row}");
    assert!(
        echo_row.contains("http/1.1: queued "),
        "the browser's phases: {echo_row}"
    );
    assert!(
        echo_row.contains("wait 3"),
        "the server's account: {echo_row}"
    );
    session
        .eval("document.querySelector('.inspector-table').scrollIntoView(); return null")
        .await;
    session.screenshot("inspector-rows").await;

    // Hidden: the stream is closed, on the page and on the server.
    session.click("[data-testid=panel-toggle]").await;
    session
        .wait_until(
            "the panel's stream closed",
            Duration::from_secs(10),
            async || panels_open(&session).await == 0,
        )
        .await;
    assert_eq!(
        session
            .eval("return String(!!document.querySelector('.server-panel'))")
            .await,
        "false",
        "the panel is gone"
    );
    session.close().await;
}
