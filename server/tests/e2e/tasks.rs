//! The Tasks room in a real browser (the server runs one job at a time): a picture asked for
//! while another job runs finishes while the person is in the Lab — a toast says so there, its
//! link leads to the card, and the picture is shown; a long count is cancelled and seen so.

use std::time::Duration;

use crate::browser::Session;

const SOON: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_job_finishing_in_another_room_leaves_a_toast_that_leads_to_its_picture_and_a_cancel_stops_one()
 {
    let session = Session::start().await;
    session.open_started("/tasks").await;

    // A two-second wait holds the one worker, so the picture waits its turn.
    session.type_into("[data-testid=wait-seconds]", "2").await;
    session.click("[data-testid=start-wait]").await;
    session
        .type_into("[data-testid=mandelbrot-width]", "160")
        .await;
    session
        .type_into("[data-testid=mandelbrot-height]", "120")
        .await;
    session
        .type_into("[data-testid=mandelbrot-iterations]", "300")
        .await;
    session.click("[data-testid=start-mandelbrot]").await;
    session
        .wait_for_text("[data-testid=nav-running]", "2", SOON)
        .await;
    session
        .wait_for_text("[data-testid=job-state]", "queued", SOON)
        .await;
    let title = session.eval("return document.title").await;
    assert_eq!(title, "Meanwhile · 2 jobs running");
    session.screenshot("tasks-running").await;
    session.assert_accessible("Tasks with jobs running").await;

    // Elsewhere, the finished jobs are told.
    session.click("nav a[href='/lab']").await;
    session
        .wait_for_text(".toasts", "Mandelbrot 160×120", SOON)
        .await;
    session.screenshot("tasks-toast-in-the-lab").await;
    let toasts = session.text(".toasts").await;
    assert!(toasts.contains("Job succeeded"), "{toasts}");
    session.click("[data-testid=toast]:last-child a").await;
    session
        .wait_until("the picture is shown", SOON, async || {
            session
                .eval(
                    "const img = document.querySelector('[data-testid=job-result] img'); \
                     return !!img && img.complete && img.naturalWidth === 160",
                )
                .await
                .as_bool()
                .unwrap_or(false)
        })
        .await;
    let address = session
        .eval("return location.pathname + location.search")
        .await;
    assert!(
        address
            .as_str()
            .unwrap_or_default()
            .starts_with("/tasks?job="),
        "{address}"
    );
    assert_eq!(session.eval("return document.title").await, "Meanwhile");

    // A count that would take minutes, cancelled.
    session
        .type_into("[data-testid=primes-limit]", "10000000000")
        .await;
    session.click("[data-testid=start-primes]").await;
    session
        .wait_for_text("[data-testid=job-state]", "running", SOON)
        .await;
    session.click("[data-testid=job-cancel]").await;
    session
        .wait_for_text("[data-testid=job-state]", "cancelled", SOON)
        .await;
    session.screenshot("tasks-done").await;
    for scheme in ["light", "dark"] {
        session.prefer_colour_scheme(scheme).await;
        session
            .assert_accessible(&format!("Tasks, finished jobs, {scheme}"))
            .await;
    }
    assert!(session.console_errors().await.is_empty());
    session.close().await;
}
