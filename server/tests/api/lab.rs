//! The Lab: the echo (delay, failure injection, padding, parameters, abandoned requests) and the
//! server-sent countdown.

use std::time::{Duration, Instant};

use protocol::lab::{EchoResponse, LabStats};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    assert_error, new_database, spawn_app, spawn_app_with, sse_field, start_process,
};
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
        ("fail_first=11", "fail_first", "0 to 10"),
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
async fn the_echo_answers_json_or_xml_as_the_accept_header_asks_and_406_otherwise() {
    let app = spawn_app().await;
    let ask = |accept: Option<&'static str>, post: bool| {
        let mut request = if post {
            app.client
                .post(app.url("/api/lab/echo"))
                .json(&json!({"seq": 9, "bytes": 3}))
        } else {
            app.client.get(app.url("/api/lab/echo?seq=9&bytes=3"))
        };
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        request.send()
    };
    for (accept, post) in [
        (None, false),
        (Some("application/json"), true),
        (Some("*/*"), false),
    ] {
        let response = ask(accept, post).await.expect("sent");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.headers()["vary"], "accept");
        let echoed: EchoResponse = response.json().await.expect("JSON");
        assert_eq!(echoed.seq, Some(9));
    }
    for (accept, post) in [
        ("application/xml", false),
        ("text/xml", true),
        ("application/json;q=0.5, application/xml", false),
    ] {
        let response = ask(Some(accept), post).await.expect("sent");
        assert_eq!(response.status(), StatusCode::OK, "{accept}");
        assert_eq!(
            response.headers()["content-type"],
            "application/xml",
            "{accept}"
        );
        let xml = response.text().await.expect("text");
        assert!(xml.starts_with("<echo>"), "{xml}");
        let echoed: EchoResponse = quick_xml::de::from_str(&xml).expect("the echo as XML");
        assert_eq!((echoed.seq, echoed.padding.len()), (Some(9), 3), "{xml}");
    }
    for (accept, post) in [("text/html", false), ("image/png", true)] {
        let message = assert_error(
            ask(Some(accept), post).await.expect("sent"),
            StatusCode::NOT_ACCEPTABLE,
            "not_acceptable",
        )
        .await;
        assert!(message.contains("application/xml"), "{message}");
    }
    // Nothing was waited for when the answer could not be given.
    let stats: LabStats = app.get("/api/lab/stats").await.json().await.expect("stats");
    assert_eq!(stats.served, 6);
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
            instance: "meanwhile".into(),
            served: 0,
            failed_injected: 0,
            abandoned: 1,
            in_flight: 0
        }
    );
}

#[tokio::test]
async fn an_abandoned_request_is_logged_like_an_answered_one() {
    let folder = tempfile::tempdir().expect("a folder");
    let database = new_database(folder.path()).await;
    let server = start_process(&database, folder.path(), "info").await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client");

    let _ = impatient
        .get(format!(
            "{}/api/lab/echo?delay_ms=10000&seq=7",
            server.address
        ))
        .send()
        .await;
    let answered = reqwest::get(format!("{}/api/lab/stats", server.address))
        .await
        .expect("sent");
    assert_eq!(answered.status(), StatusCode::OK);

    let started = Instant::now();
    let lines = loop {
        let output = server.output.lock().expect("not poisoned").clone();
        let abandoned: Vec<String> = output
            .lines()
            .filter(|line| line.contains("abandoned by the client"))
            .map(str::to_owned)
            .collect();
        if !abandoned.is_empty() || started.elapsed() > Duration::from_secs(10) {
            break (output, abandoned);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (output, abandoned) = lines;
    assert_eq!(abandoned.len(), 1, "{output}");
    let line = &abandoned[0];
    assert!(
        line.contains("GET") && line.contains("/api/lab/echo"),
        "{output}"
    );
    assert!(
        !line.contains("seq=7"),
        "the query is the client's business: {output}"
    );
    // The answered one is logged as before, and not as abandoned.
    assert!(
        output.contains("/api/lab/stats") && output.contains("status=200"),
        "{output}"
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

/// The events of a server-sent event stream, read to its end: `(id, event, data)` each.
async fn read_events(mut response: reqwest::Response) -> Vec<(String, String, String)> {
    let mut text = String::new();
    while let Some(chunk) = response.chunk().await.expect("the stream reads") {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            (
                sse_field(block, "id:"),
                sse_field(block, "event:"),
                sse_field(block, "data:"),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_countdown_is_pushed_past_the_request_deadline_each_event_with_its_id() {
    // The deadline bounds the time to the answer's head, not a stream that has answered.
    let app = spawn_app_with(|state| state.request_timeout = Duration::from_millis(300)).await;
    let started = Instant::now();

    let response = app.get("/api/lab/ticks?count=4&interval_ms=120").await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = read_events(response).await;
    assert!(started.elapsed() >= Duration::from_millis(480));
    let expected: Vec<_> = (1..=4u32)
        .map(|n| {
            (
                n.to_string(),
                "tick".to_owned(),
                format!(r#"{{"n":{n},"remaining":{}}}"#, 4 - n),
            )
        })
        .collect();
    assert_eq!(events, expected);
}

#[tokio::test]
async fn a_reconnect_resumes_after_the_last_event_it_saw_and_a_finished_one_is_told_to_stop() {
    let app = spawn_app().await;
    let reconnect = |last: &'static str| {
        app.client
            .get(app.url("/api/lab/ticks?count=3&interval_ms=10"))
            .header("last-event-id", last)
            .send()
    };

    let resumed = read_events(reconnect("1").await.expect("sent")).await;
    let ids: Vec<&str> = resumed.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(ids, ["2", "3"]);

    let finished = reconnect("3").await.expect("sent");
    assert_eq!(finished.status(), StatusCode::NO_CONTENT);

    let message = assert_error(
        reconnect("three").await.expect("sent"),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert!(message.contains("Last-Event-ID"), "{message}");
}

#[tokio::test]
async fn a_countdown_out_of_bounds_is_refused_naming_the_parameter() {
    let app = spawn_app().await;
    for (query, status, code, named) in [
        (
            "count=0&interval_ms=100",
            422,
            "validation_failed",
            "1 to 100",
        ),
        (
            "count=101&interval_ms=100",
            422,
            "validation_failed",
            "count",
        ),
        (
            "count=5&interval_ms=9",
            422,
            "validation_failed",
            "10 to 5000",
        ),
        (
            "count=5&interval_ms=5001",
            422,
            "validation_failed",
            "interval_ms",
        ),
        ("count=5", 400, "bad_request", "interval_ms"),
        ("count=many&interval_ms=100", 400, "bad_request", "count"),
    ] {
        let response = app.get(&format!("/api/lab/ticks?{query}")).await;
        let status = StatusCode::from_u16(status).expect("a status");
        let message = assert_error(response, status, code).await;
        assert!(message.contains(named), "{query}: {message}");
    }
}

#[tokio::test]
async fn shutting_down_ends_an_open_stream_instead_of_waiting_for_it() {
    let mut app = spawn_app().await;
    let response = app.get("/api/lab/ticks?count=100&interval_ms=5000").await;
    assert_eq!(response.status(), StatusCode::OK);
    let reading = tokio::spawn(read_events(response));

    // The grace period is 5 s and the stream would run for 500 s: it must end by itself.
    tokio::time::timeout(Duration::from_secs(4), app.shut_down())
        .await
        .expect("the server stops without waiting for the stream")
        .expect("stops cleanly");
    let events = tokio::time::timeout(Duration::from_secs(4), reading)
        .await
        .expect("the stream ended")
        .expect("task");
    assert!(events.is_empty(), "{events:?}");
}
