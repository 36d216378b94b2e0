//! The overview in a real browser: waiting for an answer never blocks while a busy loop does, and
//! leaving the page aborts its request.

use std::time::Duration;

use crate::browser::Session;

/// Opens the overview and sends its two-second request; returns once the server has it.
async fn send_the_slow_request(session: &Session) {
    session.open_started("/").await;
    session.click(".experiment button:not(.danger)").await;
    session
        .wait_for_text(
            "[data-testid=slow-request-outcome]",
            "Waiting",
            Duration::from_secs(5),
        )
        .await;
    session
        .wait_until(
            "the request is waiting on the server",
            Duration::from_secs(5),
            async || session.state.lab.stats().in_flight == 1,
        )
        .await;
}

#[tokio::test]
async fn waiting_for_an_answer_does_not_block_but_a_busy_loop_does() {
    let session = Session::start().await;
    send_the_slow_request(&session).await;
    // The hints work with the defaults: Search's says to take the debounce away (at 150 ms one
    // request leaves per word typed at a normal pace, so no list goes stale), Tasks' picks a job
    // long enough to reach another room before it ends (a 2048² Mandelbrot took 2.2 s).
    let hints = session.text("main .map").await;
    assert!(hints.contains("set the debounce to 0 ms"), "{hints}");
    let all = session
        .eval("return [...document.querySelectorAll('main .map em')].map(e => e.textContent).join(' | ')")
        .await;
    let all = all.as_str().unwrap_or_default();
    assert!(
        all.contains("primes up to 10 000 000 000") && !all.contains("2048×2048"),
        "{all}"
    );
    // Mail's reload is made with the page's Offline switch, which a reload keeps (a reload with
    // the browser itself offline gets the browser's error page: the page is not kept offline).
    // `mail::two_tabs_write_to_each_other…` follows it step by step.
    assert!(
        all.contains("Offline switch") && all.contains("reload that tab"),
        "{all}"
    );
    session
        .assert_frames_flow(
            Duration::from_millis(1000),
            "frames flow while the request waits",
        )
        .await;
    let outcome = session
        .wait_for_text(
            "[data-testid=slow-request-outcome]",
            "Answered after",
            Duration::from_secs(10),
        )
        .await;
    assert!(outcome.contains("the server waited 2000 ms"), "{outcome}");

    session.click(".experiment button.danger").await;
    let blocked = session
        .wait_for_text(
            "[data-testid=block-outcome]",
            "Blocked for",
            Duration::from_secs(10),
        )
        .await;
    let millis: f64 = blocked
        .trim_start_matches("Blocked for ")
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a duration");
    assert!(millis >= 1000.0, "{blocked}");
    // The longest recent gap between frames shows the freeze.
    let gap = session.text(".heartbeat .gap").await;
    let gap: f64 = gap
        .trim_start_matches("max ")
        .trim_end_matches(" ms")
        .parse()
        .expect("a gap");
    assert!(gap >= 900.0, "the heartbeat froze: max gap {gap} ms");
    session.close().await;
}

#[tokio::test]
async fn leaving_the_overview_aborts_its_slow_request() {
    let session = Session::start().await;
    send_the_slow_request(&session).await;

    session.click("nav.rooms a[href='/lab']").await;

    session
        .wait_until(
            "the server saw the client leave",
            Duration::from_secs(5),
            async || session.state.lab.stats().abandoned == 1,
        )
        .await;
    assert_eq!(session.state.lab.stats().served, 0);
    session.close().await;
}
