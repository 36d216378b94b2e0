//! The Techniques room in a real browser: each of the five panels runs and shows its result,
//! its source is the function that ran, a cancel is reported as one, and the four combinators
//! give the sum, the max, the min and a timeout.

use std::time::Duration;

use crate::browser::Session;

const SOON: Duration = Duration::from_secs(15);

#[tokio::test]
async fn each_technique_runs_shows_its_own_source_and_the_combinators_give_sum_max_min_and_timeout()
{
    let session = Session::start().await;
    session.open_started("/techniques").await;
    session.type_into("[data-testid=knob-delay]", "200").await;
    for (panel, function, answer) in [
        ("callbacks", "pub fn echo_as_xml", "<echo> with <seq>"),
        ("promises", "pub fn echo_with_promises", "\"delay_ms\": 200"),
        ("await", "pub async fn echo_with_await", "delay_ms: 200"),
        ("resource", "LocalResource::new", "waited 200 ms"),
        ("push", "pub fn countdown", "tick 5 of 5"),
    ] {
        let at = format!("[data-testid=technique-{panel}]");
        session
            .click(&format!("{at} [data-testid=technique-run]"))
            .await;
        session
            .wait_for_text(
                &format!("{at} [data-testid=technique-result]"),
                answer,
                SOON,
            )
            .await;
        let source = session
            .eval(&format!(
                "return document.querySelector('{at} [data-testid=technique-source]').textContent"
            ))
            .await;
        assert!(
            source.as_str().unwrap_or_default().contains(function),
            "{panel}: the source shown has {function}"
        );
    }

    // A slow request, cancelled: the panel says so, and the inspector counts an abort.
    session.type_into("[data-testid=knob-delay]", "5000").await;
    let at = "[data-testid=technique-await]";
    session
        .click(&format!("{at} [data-testid=technique-run]"))
        .await;
    session
        .wait_for_text(
            &format!("{at} [data-testid=technique-result]"),
            "Waiting",
            SOON,
        )
        .await;
    session
        .click(&format!("{at} [data-testid=technique-cancel]"))
        .await;
    session
        .wait_for_text(
            &format!("{at} [data-testid=technique-result]"),
            "Cancelled after",
            SOON,
        )
        .await;
    // The reactive resource, cancelled: it says so, and its late answer never shows.
    let at = "[data-testid=technique-resource]";
    session
        .click(&format!("{at} [data-testid=technique-run]"))
        .await;
    session
        .click(&format!("{at} [data-testid=technique-cancel]"))
        .await;
    let result = format!("{at} [data-testid=technique-result]");
    session
        .wait_for_text(&result, "cancelled", Duration::from_secs(3))
        .await;
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let after = session.text(&result).await;
    assert!(
        after.contains("cancelled") && !after.contains("waited 5000 ms"),
        "{after}"
    );

    session
        .type_into("[data-testid=combine-delay-1]", "300")
        .await;
    session
        .type_into("[data-testid=combine-delay-2]", "900")
        .await;
    session
        .type_into("[data-testid=combine-delay-3]", "600")
        .await;
    session
        .type_into("[data-testid=combine-deadline]", "700")
        .await;
    session.click("[data-testid=combine-run]").await;
    session
        .wait_for_text(
            "[data-testid=combinator-runs]",
            "timed out after 700 ms",
            Duration::from_secs(20),
        )
        .await;
    let runs = session.text("[data-testid=combinator-runs]").await;
    let wall = |way: &str| -> f64 {
        let line = runs
            .lines()
            .find(|line| line.starts_with(way))
            .unwrap_or_else(|| panic!("{way} in {runs}"));
        line.split(": ")
            .nth(1)
            .and_then(|rest| rest.split(" ms").next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a time in {line}"))
    };
    let (sum, max, min, timeout) = (
        wall("one after another"),
        wall("all joined"),
        wall("race"),
        wall("with a timeout"),
    );
    assert!(sum >= 1800.0, "{runs}");
    assert!((900.0..sum).contains(&max), "{runs}");
    assert!((300.0..max).contains(&min), "{runs}");
    assert!((700.0..max).contains(&timeout), "{runs}");
    assert!(
        runs.contains("race: ") && runs.contains("1 answered"),
        "{runs}"
    );
    session.screenshot("techniques").await;
    for scheme in ["light", "dark"] {
        session.prefer_colour_scheme(scheme).await;
        session
            .assert_accessible(&format!("Techniques, {scheme}"))
            .await;
    }
    let errors = session.console_errors().await;
    assert!(errors.is_empty(), "{errors:?}");
    session.close().await;
}

#[tokio::test]
async fn run_again_aborts_the_run_in_flight_and_leaving_the_room_aborts_every_one() {
    let session = Session::start().await;
    session.open_started("/techniques").await;
    session.type_into("[data-testid=knob-delay]", "1500").await;
    let lab = || session.state.lab.stats();
    // Every echo the server has begun: waiting, answered, failed or abandoned.
    let begun = || {
        let stats = lab();
        stats.in_flight + stats.served + stats.failed_injected + stats.abandoned
    };
    let panels = [
        ("callbacks", "<echo> with <seq>"),
        ("promises", "\"delay_ms\": 1500"),
        ("await", "delay_ms: 1500"),
    ];
    // Run, and Run again while the first is waiting on the server.
    for (panel, _) in panels {
        let run = format!("[data-testid=technique-{panel}] [data-testid=technique-run]");
        let before = begun();
        session.click(&run).await;
        session
            .wait_until(
                &format!("{panel}: the first run waits on the server"),
                SOON,
                async || begun() > before,
            )
            .await;
        session.click(&run).await;
    }
    for (panel, answer) in panels {
        session
            .wait_for_text(
                &format!("[data-testid=technique-{panel}] [data-testid=technique-result]"),
                answer,
                SOON,
            )
            .await;
    }
    session
        .wait_until(
            "every first run was aborted for real: the server saw its client leave",
            SOON,
            async || lab().abandoned >= 3,
        )
        .await;

    // Four slow runs, then the person leaves the room.
    session.type_into("[data-testid=knob-delay]", "20000").await;
    let abandoned = lab().abandoned;
    for panel in ["callbacks", "promises", "await", "resource"] {
        session
            .click(&format!(
                "[data-testid=technique-{panel}] [data-testid=technique-run]"
            ))
            .await;
    }
    session
        .wait_until("four requests wait", SOON, async || lab().in_flight == 4)
        .await;
    session.click("a[href='/search']").await;
    session
        .wait_until("leaving aborted all four", SOON, async || {
            lab().in_flight == 0 && lab().abandoned == abandoned + 4
        })
        .await;
    let errors = session.console_errors().await;
    assert!(errors.is_empty(), "{errors:?}");
    session.close().await;
}
