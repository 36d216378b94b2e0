//! The Tasks room in a real browser (the server runs one job at a time): a picture asked for
//! while a long count runs finishes while the person is in the Lab — the count is cancelled from
//! outside, toasts say both there, the picture's link leads to the card, and the picture is shown;
//! a long count is cancelled with its button and seen so.

use std::time::Duration;

use crate::browser::Session;

const SOON: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_job_finishing_in_another_room_leaves_a_toast_that_leads_to_its_picture_and_a_cancel_stops_one()
 {
    let session = Session::start().await;
    session.open_started("/tasks").await;

    // A count that would take minutes holds the one worker, so the picture waits its turn for
    // as long as the test needs: no race with a timer.
    let count = start_a_long_count(&session).await;
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
    // The queued picture says why it waits: the count holds the one worker.
    let reason = session.text("[data-testid=job-reason]").await;
    assert!(
        reason.contains("Waiting for a free worker: your running job holds one"),
        "{reason}"
    );
    // Waiting uses no CPU, but it holds a worker as any job does.
    let hint = session.text("#form-wait + .hint").await;
    assert!(hint.contains("holds one of the server's workers"), "{hint}");
    let title = session.eval("return document.title").await;
    assert_eq!(title, "Meanwhile · 2 jobs running");
    session.screenshot("tasks-running").await;
    session.assert_accessible("Tasks with jobs running").await;

    // Elsewhere, the finished jobs are told. The count is cancelled from outside the page (as
    // another tab would), which frees the worker for the picture.
    session.click("nav a[href='/lab']").await;
    session.wait_for_text("main h1", "Lab", SOON).await;
    session
        .eval(&format!(
            "fetch('/api/jobs/{count}/cancel', {{ method: 'POST', headers: {{ authorization: \
             'Bearer ' + localStorage.getItem('meanwhile.tasks.token') }} }}); return null"
        ))
        .await;
    session
        .wait_for_text(".toasts", "Job cancelled", SOON)
        .await;
    session
        .wait_for_text(".toasts", "Mandelbrot 160×120", SOON)
        .await;
    session.screenshot("tasks-toast-in-the-lab").await;
    let toasts = session.text(".toasts").await;
    assert!(toasts.contains("Job succeeded"), "{toasts}");
    // A cancelled job has no result to see, only its card.
    assert!(toasts.contains("See the job"), "{toasts}");
    session.click("[data-testid=toast]:last-child a").await;
    // The focus goes to the card the toast leads to.
    session
        .wait_until("the card has the focus", SOON, async || {
            session
                .eval("return document.activeElement?.dataset?.testid === 'job' && document.activeElement.textContent.includes('Mandelbrot')")
                .await
                .as_bool()
                .unwrap_or(false)
        })
        .await;
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
    start_a_long_count(&session).await;
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

/// Starts counting the primes up to 10¹⁰ (minutes of work) and waits until it runs; returns the
/// job's id, read from its card (the newest, first on the board).
async fn start_a_long_count(session: &Session) -> String {
    session
        .type_into("[data-testid=primes-limit]", "10000000000")
        .await;
    session.click("[data-testid=start-primes]").await;
    session
        .wait_for_text("[data-testid=job-state]", "running", SOON)
        .await;
    let id = session
        .eval("return document.querySelector('[data-testid=job]').id.replace('job-', '')")
        .await;
    id.as_str().expect("the count's card has an id").to_owned()
}
