//! What lets a person follow one request from the page to the server's log: the id every answer
//! carries (`x-request-id`), the same id in the request's log line, human or JSON.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{new_database, spawn_app, start_process_with};

#[tokio::test]
async fn every_answer_carries_a_request_id_and_a_clients_well_formed_one_is_kept() {
    let app = spawn_app().await;
    let mut seen = std::collections::HashSet::new();
    for path in [
        "/api/health",
        "/api/no-such-thing",
        "/",
        "/api/lab/echo?delay_ms=99999",
    ] {
        let response = app.get(path).await;
        let id = response.headers()["x-request-id"]
            .to_str()
            .expect("text")
            .to_owned();
        assert_eq!(id.len(), 36, "a UUID: {id}");
        assert!(seen.insert(id), "each its own");
    }

    let ask = async |id: &str| {
        let response = app
            .client
            .get(app.url("/api/health"))
            .header("x-request-id", id)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::OK);
        response.headers()["x-request-id"]
            .to_str()
            .expect("text")
            .to_owned()
    };
    assert_eq!(ask("page-42:retry.2_a").await, "page-42:retry.2_a", "kept");
    for malformed in ["", "with space", "ä", &"x".repeat(65), "a\"b"] {
        let answered = ask(malformed).await;
        assert_ne!(answered, malformed);
        assert_eq!(
            answered.len(),
            36,
            "replaced by the server's own: {answered}"
        );
    }
}

#[tokio::test]
async fn a_requests_log_line_carries_its_id_in_either_format() {
    let folder = tempfile::tempdir().expect("a folder");
    for format in ["human", "json"] {
        let database = new_database(folder.path()).await;
        let server =
            start_process_with(&database, folder.path(), "info", &["--log-format", format]).await;
        let response = reqwest::Client::new()
            .get(format!("{}/api/health", server.address))
            .header("x-request-id", format!("find-me-{format}"))
            .send()
            .await
            .expect("sent");
        assert_eq!(
            response.headers()["x-request-id"],
            format!("find-me-{format}").as_str()
        );
        let mut line = None;
        for _ in 0..100 {
            line = server
                .output
                .lock()
                .expect("not poisoned")
                .lines()
                .find(|line| line.contains("finished processing request"))
                .map(str::to_owned);
            if line.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let line = line.expect("the answer's log line");
        assert!(line.contains(&format!("find-me-{format}")), "{line}");
        if format == "json" {
            let json: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
            assert_eq!(
                json["span"]["id"],
                format!("find-me-{format}").as_str(),
                "{line}"
            );
            assert_eq!(json["span"]["path"], "/api/health");
        }
    }
}

/// The value of the first sample of `name` whose labels include each of `labels` (`key="value"`),
/// in a Prometheus text `page`; 0 when there is none yet. Give every label a figure has: the
/// lines come in no particular order.
fn sample(page: &str, name: &str, labels: &[&str]) -> f64 {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.split(['{', ' ']).next() == Some(name)
                && labels.iter().all(|label| line.contains(label))
        })
        .find_map(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(app: &crate::helpers::TestApp) -> String {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let kind = response.headers()["content-type"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    response.text().await.expect("text")
}

/// The recorder is the process's: other tests' traffic counts too, so each figure is checked to
/// move at least as much as this test's own traffic moves it.
#[tokio::test]
async fn metrics_move_with_traffic() {
    let app = spawn_app().await;
    let health = [
        r#"method="GET""#,
        r#"route="/api/health""#,
        r#"status="200""#,
    ];
    let before = scrape(&app).await;
    for _ in 0..5 {
        app.get("/api/health").await;
    }
    app.get("/api/no-such-thing").await;
    let alice = crate::mail::mailbox(&app, "alice").await;
    crate::mail::mailbox(&app, "bob").await;
    app.send(&alice, "bob", "metrics", "counted").await;
    let waiting = {
        let app = &app;
        async move {
            app.get("/api/lab/echo?delay_ms=1500").await;
        }
    };
    let stream = app.events(&alice, None).await;
    let during = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        scrape(&app).await
    };
    let ((), during) = tokio::join!(waiting, during);
    drop(stream);
    let after = scrape(&app).await;

    let moved =
        |name: &str, labels: &[&str]| sample(&after, name, labels) - sample(&before, name, labels);
    assert!(
        moved("meanwhile_http_requests_total", &health) >= 5.0,
        "{after}"
    );
    assert!(
        moved(
            "meanwhile_http_request_duration_seconds_count",
            &[r#"method="GET""#, r#"route="/api/health""#]
        ) >= 5.0
    );
    assert!(
        moved(
            "meanwhile_http_requests_total",
            &[
                r#"method="GET""#,
                r#"route="/api/{*rest}""#,
                r#"status="404""#
            ]
        ) >= 1.0
    );
    assert!(moved("meanwhile_db_begin_wait_seconds_count", &[]) >= 1.0);
    assert!(
        sample(
            &during,
            "meanwhile_http_requests_in_flight",
            &[r#"route="/api/lab/echo""#]
        ) >= 1.0,
        "the echo waiting"
    );
    assert!(
        sample(
            &during,
            "meanwhile_streams_open",
            &[r#"stream="mail events""#]
        ) >= 1.0,
        "the open stream"
    );
    assert!(sample(&during, "meanwhile_connections_open", &[]) >= 1.0);
    assert!(sample(&during, "meanwhile_connections_max", &[]) > 0.0);
    assert!(during.contains("meanwhile_jobs_waiting"), "{during}");
}

#[tokio::test]
async fn metrics_can_be_served_on_an_address_of_their_own_or_not_at_all() {
    let off = crate::helpers::spawn_app_with(|state| state.metrics = None).await;
    let response = off.get("/metrics").await;
    let text = response.text().await.expect("text");
    assert!(!text.contains("meanwhile_"), "not the figures: {text}");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let folder = tempfile::tempdir().expect("a folder");
    let database = new_database(folder.path()).await;
    let elsewhere = format!("127.0.0.1:{port}");
    let server =
        start_process_with(&database, folder.path(), "warn", &["--metrics", &elsewhere]).await;
    let health = [
        r#"method="GET""#,
        r#"route="/api/health""#,
        r#"status="200""#,
    ];
    let client = reqwest::Client::new();
    client
        .get(format!("{}/api/health", server.address))
        .send()
        .await
        .expect("sent");
    let figures = client
        .get(format!("http://{elsewhere}/metrics"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(
        sample(&figures, "meanwhile_http_requests_total", &health) >= 1.0,
        "{figures}"
    );
    let beside_the_api = client
        .get(format!("{}/metrics", server.address))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(!beside_the_api.contains("meanwhile_"), "not on --addr");
}

/// The milliseconds of `part` in a `Server-Timing` value.
fn timing_of(value: &str, part: &str) -> f64 {
    value
        .split(", ")
        .find(|entry| entry.starts_with(&format!("{part};")))
        .and_then(|entry| entry.split("dur=").nth(1))
        .and_then(|rest| rest.split(';').next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("no {part} in {value}"))
}

#[tokio::test]
async fn every_api_answer_says_where_the_servers_time_went() {
    let app = spawn_app().await;
    let timing = |response: &reqwest::Response| {
        response.headers()["server-timing"]
            .to_str()
            .expect("text")
            .to_owned()
    };
    let alice = crate::mail::mailbox(&app, "alice").await;
    crate::mail::mailbox(&app, "bob").await;
    let sent = app
        .post_as(
            &alice.token,
            "/api/messages",
            Some("timed"),
            &serde_json::json!({"to": "bob", "subject": "s", "body": "b"}),
        )
        .await;
    let send = timing(&sent);
    assert!(timing_of(&send, "db") > 0.0, "a send is a write: {send}");
    timing_of(&send, "db-wait");
    let total = timing_of(&send, "total");
    let parts: f64 = ["db-wait", "db", "wait", "handler"]
        .iter()
        .map(|part| timing_of(&send, part))
        .sum();
    assert!(
        (parts - total).abs() <= 0.5,
        "the parts make the total: {send}"
    );

    let echo = timing(&app.get("/api/lab/echo?delay_ms=300").await);
    assert_eq!(timing_of(&echo, "wait"), 300.0, "{echo}");
    assert!(timing_of(&echo, "total") >= 300.0, "{echo}");

    for path in [
        "/api/health",
        "/api/no-such-thing",
        "/api/lab/echo?delay_ms=-1",
    ] {
        let value = timing(&app.get(path).await);
        assert_eq!(timing_of(&value, "wait"), 0.0, "{path}: {value}");
        assert_eq!(timing_of(&value, "db"), 0.0, "{path}: {value}");
    }
    assert!(
        !app.get("/").await.headers().contains_key("server-timing"),
        "the page's files are not the API's"
    );
}
