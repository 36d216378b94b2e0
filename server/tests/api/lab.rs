//! The Lab's echo: delay, failure injection, padding, parameters, and abandoned requests.

use std::time::{Duration, Instant};

use protocol::lab::{EchoResponse, LabStats};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, spawn_app};
use crate::shutdown::{wait_until, wait_until_within};

#[tokio::test]
async fn the_delay_is_honoured_and_reported() {
    let app = spawn_app().await;
    let started = Instant::now();

    let response = app.get("/api/lab/echo?delay_ms=300&seq=42&bytes=5").await;

    let elapsed = started.elapsed();
    assert_eq!(response.status(), StatusCode::OK);
    let timing = response.headers()["server-timing"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(timing.contains("wait;dur=300"), "{timing}");
    // The server's whole time, in milliseconds with one decimal: at least the delay.
    let total = timing.split("total;dur=").nth(1).unwrap_or_default();
    let (whole, tenths) = total.split_once('.').unwrap_or_default();
    assert!(
        tenths.len() == 1 && tenths.bytes().all(|b| b.is_ascii_digit()),
        "{timing}"
    );
    let whole: u64 = whole.parse().unwrap_or_else(|_| panic!("{timing}"));
    assert!((300..10_000).contains(&whole), "{timing}");
    let body: EchoResponse = response.json().await.expect("an echo");
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert_eq!(body.seq, Some(42));
    assert_eq!(body.delay_ms, 300);
    assert_eq!(body.padding, ".....");
    assert!(
        body.responded_at_ms >= body.received_at_ms + 300,
        "{body:?}"
    );
}

#[tokio::test]
async fn jitter_spreads_the_delay_around_its_centre() {
    let app = spawn_app().await;
    let mut delays = Vec::new();
    for _ in 0..20 {
        let body: EchoResponse = app
            .get("/api/lab/echo?delay_ms=20&jitter_ms=20")
            .await
            .json()
            .await
            .expect("an echo");
        delays.push(body.delay_ms);
    }
    assert!(delays.iter().all(|d| *d <= 40), "{delays:?}");
    assert!(
        delays.iter().any(|d| *d != delays[0]),
        "jitter varies: {delays:?}"
    );
}

#[tokio::test]
async fn the_post_form_takes_the_same_fields_as_json() {
    let app = spawn_app().await;

    let response = app
        .post_json(
            "/api/lab/echo",
            &json!({"delay_ms": 10, "seq": 9, "bytes": 3}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: EchoResponse = response.json().await.expect("an echo");
    assert_eq!(
        (body.seq, body.delay_ms, body.padding.as_str()),
        (Some(9), 10, "...")
    );
}

#[tokio::test]
async fn fail_rate_one_fails_every_request_and_zero_none() {
    let app = spawn_app().await;
    for _ in 0..10 {
        assert_error(
            app.get("/api/lab/echo?fail_rate=1").await,
            StatusCode::SERVICE_UNAVAILABLE,
            "injected_failure",
        )
        .await;
        assert_eq!(
            app.get("/api/lab/echo?fail_rate=0").await.status(),
            StatusCode::OK
        );
    }
    let failing = app
        .post_json("/api/lab/echo", &json!({"fail_rate": 1.0}))
        .await;
    assert_error(failing, StatusCode::SERVICE_UNAVAILABLE, "injected_failure").await;

    let stats: LabStats = app.get("/api/lab/stats").await.json().await.expect("stats");
    assert_eq!(
        (stats.served, stats.failed_injected, stats.abandoned),
        (10, 11, 0)
    );
}

#[tokio::test]
async fn out_of_range_parameters_are_422_naming_the_parameter_and_its_range() {
    let app = spawn_app().await;
    for (query, field, range) in [
        ("delay_ms=30001", "delay_ms", "0 to 30000"),
        ("jitter_ms=10001", "jitter_ms", "0 to 10000"),
        ("fail_rate=1.5", "fail_rate", "0.0 to 1.0"),
        ("fail_rate=-0.5", "fail_rate", "0.0 to 1.0"),
        ("fail_rate=NaN", "fail_rate", "0.0 to 1.0"),
        ("bytes=262145", "bytes", "0 to 262144"),
    ] {
        let response = app.get(&format!("/api/lab/echo?{query}")).await;
        let message = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(
            message.contains(field) && message.contains(range),
            "{query}: {message}"
        );
    }
    let response = app
        .post_json("/api/lab/echo", &json!({"jitter_ms": 20000}))
        .await;
    let message = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(message.contains("jitter_ms"), "{message}");
}

#[tokio::test]
async fn malformed_parameters_are_400_naming_the_parameter_and_its_range() {
    let app = spawn_app().await;
    for (query, field) in [
        ("delay_ms=soon", "delay_ms"),
        ("delay_ms=-5", "delay_ms"),
        ("delay_ms=", "delay_ms"),
        ("bytes=1e3", "bytes"),
        ("fail_rate=half", "fail_rate"),
        ("seq=-1", "seq"),
        ("delay_ms=1&delay_ms=2", "delay_ms"),
        ("bytes=1&seq=2&bytes=3", "bytes"),
        // Too large for any delay: not a number this endpoint can read.
        ("delay_ms=99999999999999", "delay_ms"),
        // A parameter the echo does not have; the message lists those it has.
        (
            "colour=red",
            "`colour`, expected one of `delay_ms`, `jitter_ms`",
        ),
    ] {
        let response = app.get(&format!("/api/lab/echo?{query}")).await;
        let message = assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
        assert!(message.contains(field), "{query}: {message}");
    }
}

#[tokio::test]
async fn a_client_that_goes_away_is_counted_as_abandoned() {
    let app = spawn_app().await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client");

    let result = impatient
        .get(app.url("/api/lab/echo?delay_ms=10000"))
        .send()
        .await;

    assert!(result.is_err(), "the client gave up");
    wait_until(|| app.state.lab.stats().abandoned == 1).await;
    let stats: LabStats = app.get("/api/lab/stats").await.json().await.expect("stats");
    assert_eq!(
        stats,
        LabStats {
            served: 0,
            failed_injected: 0,
            abandoned: 1,
            in_flight: 0
        }
    );
}

#[tokio::test]
async fn many_waiting_requests_do_not_hold_up_a_quick_one() {
    let app = spawn_app().await;
    // They wait far longer than this test runs, so however slow the machine, all 200 are waiting
    // when the quick one is sent; they are abandoned at the end.
    let waiting: Vec<_> = (0..200)
        .map(|seq| {
            let client = app.client.clone();
            let url = app.url(&format!("/api/lab/echo?delay_ms=30000&seq={seq}"));
            tokio::spawn(async move { client.get(url).send().await })
        })
        .collect();
    wait_until_within(Duration::from_secs(20), || {
        app.state.lab.stats().in_flight == 200
    })
    .await;

    let started = Instant::now();
    let quick = app.get("/api/lab/echo?seq=999").await;
    let took = started.elapsed();

    assert_eq!(quick.status(), StatusCode::OK);
    let stats = app.state.lab.stats();
    assert_eq!((stats.served, stats.in_flight), (1, 200), "{stats:?}");
    println!("a 0-delay echo while 200 wait: {took:?}");

    for task in &waiting {
        task.abort();
    }
    wait_until_within(Duration::from_secs(20), || {
        app.state.lab.stats().abandoned == 200
    })
    .await;
}
