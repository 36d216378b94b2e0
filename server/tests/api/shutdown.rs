//! Graceful shutdown: a request in flight when the signal comes still gets its answer.

use std::time::Duration;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_request_in_flight_finishes_before_the_server_stops() {
    let mut app = spawn_app().await;
    let in_flight = tokio::spawn({
        let client = app.client.clone();
        let url = app.url("/api/lab/echo?delay_ms=600&seq=1");
        async move { client.get(url).send().await }
    });
    // Let the request reach the server and start waiting.
    wait_until(|| app.state.lab.stats().in_flight == 1).await;

    let stopped = app.shut_down();
    let (stopped, answer) = tokio::join!(stopped, in_flight);

    stopped.expect("the server stops cleanly");
    let answer = answer
        .expect("task")
        .expect("the in-flight request is answered");
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = answer.json().await.expect("JSON");
    assert_eq!(body["seq"], 1);
    assert!(
        app.client.get(app.url("/api/health")).send().await.is_err(),
        "no new connections after shutdown"
    );
}

#[tokio::test]
async fn shutdown_with_nothing_in_flight_is_prompt() {
    let mut app = spawn_app().await;
    assert_eq!(app.get("/api/health").await.status(), 200);

    tokio::time::timeout(Duration::from_secs(3), app.shut_down())
        .await
        .expect("stops within the grace period although a keep-alive connection is open")
        .expect("stops cleanly");
}

/// Waits up to 10 s for `condition` (generous: the machines are shared and slow at times).
pub async fn wait_until(condition: impl FnMut() -> bool) {
    wait_until_within(Duration::from_secs(10), condition).await;
}

pub async fn wait_until_within(within: Duration, mut condition: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < within,
            "condition not reached within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
