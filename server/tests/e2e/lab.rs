//! The Lab in a real browser: many requests in flight and arriving out of order while the
//! heartbeat ticks; Cancel all aborting for real (the server counts the abandoned requests); and
//! retries made visible as attempts.

use std::time::Duration;

use crate::browser::Session;

/// How many of the waterfall's pixels are in colour (not a shade of grey): the bars are drawn in
/// the legend's colours, read from the page's CSS.
async fn colourful_pixels(session: &Session) -> u64 {
    session
        .eval(
            "const canvas = document.querySelector('[data-testid=waterfall]'); \
             const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data; \
             let colourful = 0; \
             for (let i = 0; i < data.length; i += 4) { \
               const [r, g, b] = [data[i], data[i + 1], data[i + 2]]; \
               if (data[i + 3] > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 40) colourful++; \
             } \
             return colourful",
        )
        .await
        .as_u64()
        .expect("a count")
}

async fn open_lab(session: &Session) {
    session.open("/lab").await;
    session
        .wait_for_text("main h1", "The Lab", Duration::from_secs(20))
        .await;
}

#[tokio::test]
async fn twenty_requests_arrive_out_of_order_while_the_heartbeat_ticks() {
    let session = Session::start().await;
    open_lab(&session).await;
    session.type_into("[data-testid=lab-count]", "20").await;
    // Every answer takes at least 500 ms: the middle request is still waiting when it is clicked.
    session.type_into("[data-testid=lab-delay]", "1500").await;
    session.type_into("[data-testid=lab-jitter]", "1000").await;

    session.click("[data-testid=lab-start]").await;

    session
        .wait_until("20 bars drawn", Duration::from_secs(5), async || {
            session
                .eval("return document.querySelector('[data-testid=waterfall]').dataset.bars")
                .await
                == "20"
        })
        .await;
    // While it runs, the middle request (the 10th of 20) waits for one of the browser's 6
    // connections: none is free before the first answer, 500 ms at the soonest. Its details say
    // so, or give the wait as an estimate (the exact one is known only after the answer).
    session.click("[data-testid=waterfall]").await;
    let running = session
        .wait_for_text(
            "[data-testid=lab-details]",
            "Attempt 1",
            Duration::from_secs(5),
        )
        .await;
    assert!(running.contains("Attempt 1 — in flight"), "{running}");
    assert!(
        running.contains("still waiting for one") || running.contains("(estimated)"),
        "{running}"
    );
    session
        .assert_frames_flow(Duration::from_millis(1000), "frames flow during the run")
        .await;
    assert!(
        session.number("sum-in-flight").await > 0,
        "requests are in flight"
    );
    session.screenshot("lab-running").await;
    session.assert_accessible("lab-running").await;

    session
        .wait_until("all 20 done", Duration::from_secs(40), async || {
            session.number("sum-ok").await == 20
        })
        .await;
    let arrivals: Vec<u64> = session
        .text("[data-testid=lab-arrivals]")
        .await
        .split_whitespace()
        .map(|n| n.parse().expect("a sequence number"))
        .collect();
    assert_eq!(arrivals.len(), 20, "{arrivals:?}");
    let mut sorted = arrivals.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (1..=20).collect::<Vec<_>>(),
        "each request arrived once"
    );
    assert_ne!(arrivals, sorted, "answers arrive out of order");
    assert_eq!(session.state.lab.stats().served, 20);

    // No more than six times faster: the browser carries six at a time, and the time a request
    // spent waiting for one of them is not work one by one would have done (it said 9–78×).
    let wall = session.text("[data-testid=sum-wall]").await;
    let gain: f64 = wall
        .split("made it ")
        .nth(1)
        .and_then(|rest| rest.split('×').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("a speed-up in {wall}"));
    assert!((1.0..=6.5).contains(&gain), "{wall}");
    let latency = session.text("[data-testid=sum-latency]").await;
    assert!(
        latency.contains("p50") && !latency.contains("p50 —"),
        "{latency}"
    );
    session.click("[data-testid=waterfall]").await;
    let details = session
        .wait_for_text(
            "[data-testid=lab-details]",
            "Attempt 1",
            Duration::from_secs(5),
        )
        .await;
    assert!(
        details.contains("GET /api/lab/echo?") && details.contains("200"),
        "{details}"
    );
    // The server's own account of its time, from its Server-Timing header.
    assert!(details.contains("wait;dur="), "{details}");
    // The details are reachable by keyboard too: Home chooses the first request, Down the next.
    let waterfall = session.element("[data-testid=waterfall]").await;
    waterfall.send_keys("\u{E011}").await.expect("Home");
    session
        .wait_for_text(
            "[data-testid=lab-details]",
            "Request #1 ",
            Duration::from_secs(5),
        )
        .await;
    waterfall.send_keys("\u{E015}").await.expect("Down");
    session
        .wait_for_text(
            "[data-testid=lab-details]",
            "Request #2 ",
            Duration::from_secs(5),
        )
        .await;
    // The bars are in the legend's colours (they were all the canvas's grey fallback).
    let colourful = colourful_pixels(&session).await;
    assert!(colourful > 1000, "{colourful} pixels in colour");
    // The middle request could not leave before one of the browser's 6 connections was free: the
    // browser's resource timing says when it really did.
    assert!(!details.contains("waited for a connection\n—"), "{details}");
    session.screenshot("lab-done").await;
    session.assert_accessible("lab-done").await;
    let errors = session.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    session.close().await;
}

#[tokio::test]
async fn cancel_all_aborts_for_real_and_the_server_counts_them_abandoned() {
    let session = Session::start().await;
    open_lab(&session).await;
    // Six: the browser's connections to one host. More would wait inside the browser, and an
    // abort there never reaches the server.
    session.type_into("[data-testid=lab-count]", "6").await;
    session.type_into("[data-testid=lab-delay]", "20000").await;
    session.type_into("[data-testid=lab-jitter]", "0").await;
    session.click("[data-testid=lab-start]").await;
    session
        .wait_until(
            "six waiting on the server",
            Duration::from_secs(10),
            async || session.state.lab.stats().in_flight == 6,
        )
        .await;

    session.click("[data-testid=lab-cancel]").await;

    session
        .wait_until(
            "six aborted on the page",
            Duration::from_secs(5),
            async || session.number("sum-aborted").await == 6,
        )
        .await;
    session
        .wait_until(
            "six abandoned on the server",
            Duration::from_secs(5),
            async || session.state.lab.stats().abandoned == 6,
        )
        .await;
    session.click("[data-testid=lab-stats-refresh]").await;
    let stats = session
        .wait_for_text(
            "[data-testid=lab-server-stats]",
            "abandoned",
            Duration::from_secs(5),
        )
        .await;
    assert!(stats.contains("abandoned by the client 6"), "{stats}");
    assert_eq!(session.number("sum-in-flight").await, 0);
    session.close().await;
}

#[tokio::test]
async fn two_retries_make_three_attempts_each_with_a_json_post() {
    let session = Session::start().await;
    open_lab(&session).await;
    session.type_into("[data-testid=lab-count]", "4").await;
    session.type_into("[data-testid=lab-delay]", "0").await;
    session.type_into("[data-testid=lab-jitter]", "0").await;
    session.type_into("[data-testid=lab-fail-rate]", "1").await;
    session.type_into("[data-testid=lab-retries]", "2").await;
    session.choose("[data-testid=lab-method]", "post").await;

    session.click("[data-testid=lab-start]").await;

    session
        .wait_until("all 4 failed", Duration::from_secs(20), async || {
            session.number("sum-failed").await == 4
        })
        .await;
    assert_eq!(session.number("sum-retries").await, 8);
    assert_eq!(
        session.state.lab.stats().failed_injected,
        12,
        "3 attempts × 4 requests"
    );
    session.click("[data-testid=waterfall]").await;
    let details = session
        .wait_for_text(
            "[data-testid=lab-details]",
            "Attempt 3",
            Duration::from_secs(5),
        )
        .await;
    assert!(details.contains("Attempt 1 — retried"), "{details}");
    assert!(details.contains("Attempt 3 — failed"), "{details}");
    assert!(details.contains("503"), "{details}");
    assert!(details.contains("POST /api/lab/echo"), "{details}");
    assert!(
        details.contains("http/1.1"),
        "the protocol it came over: {details}"
    );

    // The inspector saw every attempt.
    session.click(".inspector-toggle").await;
    let counts = session.text("[data-testid=inspector-counts]").await;
    let recorded: u64 = counts
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(recorded >= 12, "{counts}");
    let table = session.text(".inspector-table").await;
    assert!(
        table.contains("retried") && table.contains("failed"),
        "{table}"
    );
    session.screenshot("lab-retries").await;
    session.assert_accessible("lab-retries").await;
    session.prefer_colour_scheme("dark").await;
    session.screenshot("lab-retries-dark").await;
    session.assert_accessible("lab-retries, dark").await;
    session.close().await;
}

#[tokio::test]
async fn in_a_race_the_first_success_wins_and_the_rest_are_aborted() {
    let session = Session::start().await;
    open_lab(&session).await;
    session.type_into("[data-testid=lab-count]", "5").await;
    session.type_into("[data-testid=lab-delay]", "1500").await;
    session.type_into("[data-testid=lab-jitter]", "1400").await;
    session.choose("[data-testid=lab-strategy]", "race").await;

    session.click("[data-testid=lab-start]").await;

    session
        .wait_until("the race is over", Duration::from_secs(10), async || {
            session.number("sum-done").await == 5
        })
        .await;
    // One winner; the others aborted (or, answered in the same moment as the winner, discarded).
    let ok = session.number("sum-ok").await;
    let aborted = session.number("sum-aborted").await;
    let discarded = session.number("sum-discarded").await;
    assert_eq!(ok, 1, "aborted {aborted}, discarded {discarded}");
    assert_eq!(aborted + discarded, 4);
    assert!(
        aborted >= 1,
        "the slowest were still waiting: aborted {aborted}"
    );
    // A race's requests are alternatives: no speed-up is claimed for it.
    let wall = session.text("[data-testid=sum-wall]").await;
    assert!(
        wall.contains("no speed-up is claimed") && !wall.contains("faster"),
        "{wall}"
    );
    session.close().await;
}

#[tokio::test]
async fn leaving_the_lab_cancels_its_requests() {
    let session = Session::start().await;
    open_lab(&session).await;
    session.type_into("[data-testid=lab-count]", "3").await;
    session.type_into("[data-testid=lab-delay]", "20000").await;
    session.type_into("[data-testid=lab-jitter]", "0").await;
    session.click("[data-testid=lab-start]").await;
    session
        .wait_until(
            "three waiting on the server",
            Duration::from_secs(10),
            async || session.state.lab.stats().in_flight == 3,
        )
        .await;

    session.click("nav.rooms a[href='/']").await;

    session
        .wait_until(
            "three abandoned on the server",
            Duration::from_secs(5),
            async || session.state.lab.stats().abandoned == 3,
        )
        .await;
    session.close().await;
}

/// The echo's faults from the Lab: a reset connection is retried (the inspector names the
/// reset), a 500 is not (and says why); with a seed the same run fails the same requests.
#[tokio::test]
async fn faults_on_a_script_are_retried_or_not_as_their_kind_says() {
    let session = Session::start().await;
    open_lab(&session).await;
    session.type_into("[data-testid=lab-count]", "3").await;
    session.type_into("[data-testid=lab-delay]", "0").await;
    session.type_into("[data-testid=lab-jitter]", "0").await;
    session.choose("[data-testid=lab-fault]", "reset").await;
    // Two each. When a connection it reused is reset before any answer, the browser sends the
    // request again by itself on another (Chromium: up to twice) — attempts the page never
    // sees; a reset it does not absorb reaches the page, whose retry goes on.
    session.type_into("[data-testid=lab-fail-first]", "2").await;
    session.type_into("[data-testid=lab-retries]", "2").await;
    session.assert_accessible("the Lab's faults").await;
    session.click("[data-testid=lab-start]").await;
    session
        .wait_until(
            "3 answered after two resets each",
            Duration::from_secs(20),
            async || session.number("sum-ok").await == 3,
        )
        .await;
    assert_eq!(
        session.state.lab.stats().failed_injected,
        6,
        "the server counted every reset"
    );
    let seen = session.number("sum-retries").await;
    assert!(seen <= 6, "{seen}");
    if seen > 0 {
        session.click(".inspector-toggle").await;
        let table = session.text(".inspector-table").await;
        assert!(
            table.contains("after no answer") && table.contains("the connection was reset"),
            "{table}"
        );
        session.click(".inspector-toggle").await;
    }

    // A 500 says the server is broken: not retried, and the row says why.
    session.click("[data-testid=lab-clear]").await;
    session.choose("[data-testid=lab-fault]", "internal").await;
    session.type_into("[data-testid=lab-retries]", "2").await;
    session.click("[data-testid=lab-start]").await;
    session
        .wait_until("3 failed at once", Duration::from_secs(20), async || {
            session.number("sum-failed").await == 3
        })
        .await;
    assert_eq!(session.number("sum-retries").await, 0);
    session.click(".inspector-toggle").await;
    let table = session.text(".inspector-table").await;
    assert!(
        table.contains("failed — answered 500; not retried"),
        "{table}"
    );
    session.click(".inspector-toggle").await;

    // A dripped answer comes whole, late; its row says what the server did, in its own words.
    session.click("[data-testid=lab-clear]").await;
    session.choose("[data-testid=lab-fault]", "drip").await;
    session.type_into("[data-testid=lab-fail-first]", "1").await;
    session.click("[data-testid=lab-start]").await;
    session
        .wait_until("3 dripped answers", Duration::from_secs(20), async || {
            session.number("sum-ok").await == 3
        })
        .await;
    session.click(".inspector-toggle").await;
    let table = session.text(".inspector-table").await;
    assert!(
        table.contains("answered and used — the Lab's fault: the body in 10 parts"),
        "{table}"
    );
    session.close().await;
}

/// Each echo's wait for a connection and the protocol it came over, by the browser's resource
/// timing: `[(wait ms, protocol, address)]`.
async fn connection_waits(session: &Session) -> Vec<(f64, String, String)> {
    let waits = session
        .eval(
            "return performance.getEntriesByType('resource') \
               .filter(r => r.name.includes('/api/lab/echo')) \
               .map(r => [r.requestStart - r.startTime, r.nextHopProtocol, r.name])",
        )
        .await;
    serde_json::from_value(waits).expect("pairs")
}

/// The same run over HTTP/1.1 and over HTTP/2, side by side in the page (the server's `--tls`):
/// over HTTP/1.1 the browser opens six connections and the rest of the requests wait for one;
/// over HTTP/2 they all leave at once on one connection. Over plain HTTP the Lab says how to
/// get there.
#[tokio::test]
async fn over_http2_no_request_waits_for_a_connection() {
    let mut session = Session::start().await;
    let lab = "/lab?count=30&delay=1000&jitter=0";
    session.open_started(lab).await;
    let said = session
        .wait_for_text(
            "[data-testid=lab-compare]",
            "--tls",
            Duration::from_secs(10),
        )
        .await;
    assert!(said.contains("HTTP/1.1"), "{said}");
    assert_eq!(
        session
            .eval("return document.querySelectorAll('[data-testid=lab-compare-start]').length")
            .await,
        0,
        "nothing to compare with over plain HTTP"
    );

    let secure = session.beside_over_tls().await;
    session.open_started_at(&secure, lab).await;
    session.click("[data-testid=lab-compare-start]").await;
    session
        .wait_until("both runs answered", Duration::from_secs(40), async || {
            session.text("[data-testid=compare-http2-answered]").await == "30 of 30"
                && !session
                    .text("[data-testid=lab-compare-verdict]")
                    .await
                    .is_empty()
        })
        .await;
    assert_eq!(
        session.text("[data-testid=compare-http1-answered]").await,
        "30 of 30"
    );
    assert_eq!(
        session.text("[data-testid=compare-http1-protocol]").await,
        "http/1.1"
    );
    assert_eq!(
        session.text("[data-testid=compare-http2-protocol]").await,
        "h2"
    );

    // The browser's own account of each echo: those sent to the port beside came over
    // HTTP/1.1 and all but six waited an echo's time or more for a connection; those sent here
    // came over HTTP/2 and none waited for another's answer.
    let waits = connection_waits(&session).await;
    let (http1, http2): (Vec<_>, Vec<_>) = waits
        .into_iter()
        .partition(|(_, _, name)| !name.starts_with(&secure));
    assert_eq!((http1.len(), http2.len()), (30, 30), "{http1:?} {http2:?}");
    assert!(
        http1.iter().all(|(_, protocol, _)| protocol == "http/1.1"),
        "{http1:?}"
    );
    let waited = http1.iter().filter(|(wait, ..)| *wait >= 900.0).count();
    assert!(
        waited >= 24,
        "all but six waited an echo's time or more: {http1:?}"
    );
    assert!(
        http2.iter().all(|(_, protocol, _)| protocol == "h2"),
        "{http2:?}"
    );
    let longest = http2.iter().map(|(wait, ..)| *wait).fold(0.0, f64::max);
    assert!(
        longest < 1000.0,
        "none waited for another's answer: {http2:?}"
    );
    // The table says the same.
    let median = |text: String| -> f64 {
        text.trim_end_matches(" ms")
            .parse()
            .unwrap_or_else(|_| panic!("a time: {text}"))
    };
    let one = median(session.text("[data-testid=compare-http1-wait]").await);
    let two = median(session.text("[data-testid=compare-http2-wait]").await);
    assert!(one >= 900.0 && two < 900.0, "medians {one} and {two}");
    let verdict = session.text("[data-testid=lab-compare-verdict]").await;
    assert!(verdict.contains("then gone"), "{verdict}");
    // The page over HTTP/1.1 is a link away (where a browser accepts the certificate too).
    let there = session
        .eval("return document.querySelector('[data-testid=lab-compare-http1-link]').href")
        .await;
    let there = there.as_str().expect("an address");
    assert!(
        there.starts_with("https://127.0.0.1:")
            && there.ends_with("/lab")
            && !there.starts_with(&secure),
        "{there}"
    );
    session
        .eval("document.querySelector('[data-testid=lab-compare]').scrollIntoView(); return null")
        .await;
    session.screenshot("lab-compare-protocols").await;

    session.click("[data-testid=waterfall]").await;
    let details = session.text("[data-testid=lab-details]").await;
    assert!(
        details.contains("h2") || details.contains("http/1.1"),
        "the Lab says which protocol: {details}"
    );
    session
        .assert_accessible("the Lab's comparison of the protocols")
        .await;
    session.screenshot("lab-over-http2").await;
    session.close().await;
}
