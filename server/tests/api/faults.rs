//! The echo's faults as a client meets them: each kind is what a real server or network does (a
//! 503, a 429 with `Retry-After`, a 500, a connection reset, a body cut short, a body dripped, no
//! answer at all), on a script: the first attempts of each request fail, and a seed makes what
//! the failure rate draws the same run after run.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, assert_error, spawn_app};

/// Sends `GET path` on a connection of its own and reads until the server closes it: the bytes
/// that came, and how the reading ended.
async fn raw_get(app: &TestApp, path: &str) -> (Vec<u8>, std::io::Result<()>) {
    let host = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .expect("connects");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("sent");
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) => return (answer, Ok(())),
            Ok(read) => answer.extend_from_slice(&chunk[..read]),
            Err(error) => return (answer, Err(error)),
        }
    }
}

#[tokio::test]
async fn each_fault_is_what_a_client_meets_from_a_real_server() {
    let app = spawn_app().await;
    let failing = |fault: &str| format!("/api/lab/echo?fail_rate=1&fault={fault}&bytes=400");

    // Answers that say no: the envelope, with the status that says whether to come back.
    assert_error(
        app.get(&failing("unavailable")).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "injected_failure",
    )
    .await;
    let too_many = app.get(&failing("too_many")).await;
    assert_eq!(too_many.headers()["retry-after"], "1");
    assert_error(too_many, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    assert_error(
        app.get(&failing("internal")).await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
    )
    .await;

    // A reset is an I/O error: the connection is gone, nothing of an answer came.
    let (bytes, ended) = raw_get(&app, &failing("reset")).await;
    assert!(bytes.is_empty(), "{}", String::from_utf8_lossy(&bytes));
    let error = ended.expect_err("a reset, not a close");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}");
    // A client library says so too.
    let error = app
        .client
        .get(app.url(&failing("reset")))
        .send()
        .await
        .expect_err("no answer");
    assert!(error.is_request() || error.is_connect(), "{error:?}");

    // A cut body is a short read: the head promises more than comes before the connection ends.
    let (bytes, _) = raw_get(&app, &failing("cut")).await;
    let text = String::from_utf8_lossy(&bytes);
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let promised: usize = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse().ok())
        .expect("a Content-Length");
    assert!(
        body.len() < promised && !body.is_empty(),
        "{} of {promised}",
        body.len()
    );
    let cut = app.get(&failing("cut")).await;
    let account = cut.headers()["server-timing"].to_str().expect("text");
    assert!(account.contains("half the body"), "{account}");
    let error = cut.bytes().await.expect_err("the body is short");
    assert!(error.is_body() || error.is_decode(), "{error:?}");

    // A dripped body comes whole, in many pieces.
    let mut dripped = app.get(&failing("drip")).await;
    assert_eq!(dripped.status(), StatusCode::OK);
    // The server's account says what it did, beside where the time went.
    let account: Vec<_> = dripped
        .headers()
        .get_all("server-timing")
        .iter()
        .map(|value| value.to_str().expect("text").to_owned())
        .collect();
    assert!(
        account[0].starts_with("fault;desc=\"the Lab's fault: the body in 10 parts"),
        "{account:?}"
    );
    assert!(account[1].contains("total;dur="), "{account:?}");
    let mut pieces = 0;
    let mut body = Vec::new();
    while let Some(chunk) = dripped.chunk().await.expect("reads") {
        pieces += 1;
        body.extend_from_slice(&chunk);
    }
    assert!(pieces >= 5, "{pieces} pieces");
    let echo: protocol::lab::EchoResponse = serde_json::from_slice(&body).expect("the whole echo");
    assert_eq!(echo.padding.len(), 400);

    // Silence: nothing, until the client gives up.
    let error = app
        .client
        .get(app.url(&failing("silent")))
        .timeout(Duration::from_millis(500))
        .send()
        .await
        .expect_err("no answer");
    assert!(error.is_timeout(), "{error:?}");

    // Without a failure drawn, every kind answers plainly.
    for fault in protocol::lab::Fault::ALL {
        let path = format!("/api/lab/echo?fail_rate=0&fault={}", fault.key());
        assert_eq!(app.get(&path).await.status(), StatusCode::OK, "{path}");
    }
    let unknown = app.get("/api/lab/echo?fault=explode").await;
    let message = assert_error(unknown, StatusCode::BAD_REQUEST, "bad_request").await;
    assert!(message.contains("fault"), "{message}");
}

#[tokio::test]
async fn the_first_attempts_of_each_request_fail_then_it_succeeds() {
    let app = spawn_app().await;
    let attempt = async |path: &str, key: Option<&str>| {
        let mut request = app.client.get(app.url(path));
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send().await.expect("sent").status()
    };
    // By its Idempotency-Key: two failures, then the answer, and it stays answered.
    let path = "/api/lab/echo?fail_first=2&fault=too_many";
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(attempt(path, Some("request-a")).await.as_u16());
    }
    assert_eq!(statuses, [429, 429, 200, 200]);
    assert_eq!(
        attempt(path, Some("request-b")).await,
        429,
        "another request"
    );

    // Without a key, by its run and number: a new run starts over.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            attempt("/api/lab/echo?fail_first=2&run=1&seq=5", None)
                .await
                .as_u16(),
        );
    }
    assert_eq!(statuses, [503, 503, 200]);
    assert_eq!(
        attempt("/api/lab/echo?fail_first=2&run=2&seq=5", None).await,
        503
    );
    assert_eq!(
        attempt("/api/lab/echo?fail_first=2&run=1&seq=6", None).await,
        503
    );
    // Neither: every attempt is a first.
    for _ in 0..3 {
        assert_eq!(attempt("/api/lab/echo?fail_first=1", None).await, 503);
    }
}

#[tokio::test]
async fn a_seeded_run_fails_the_same_requests_every_time() {
    let app = spawn_app().await;
    let run = async |run: u64, seed: u64| {
        let mut failed = Vec::new();
        for seq in 1..=40 {
            let path = format!("/api/lab/echo?fail_rate=0.5&seed={seed}&run={run}&seq={seq}");
            if app.get(&path).await.status() != StatusCode::OK {
                failed.push(seq);
            }
        }
        failed
    };
    let first = run(1, 42).await;
    assert!((5..=35).contains(&first.len()), "about half: {first:?}");
    assert_eq!(run(2, 42).await, first, "the same run again fails the same");
    assert_ne!(run(3, 7).await, first, "another seed, other failures");
    // A retry of a request is another attempt: drawn anew, and the same way in every run.
    let attempts = async |run: u64| {
        let path = format!(
            "/api/lab/echo?fail_rate=0.5&seed=42&run={run}&seq={}",
            first[0]
        );
        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(app.get(&path).await.status().as_u16());
        }
        statuses
    };
    let retried = attempts(4).await;
    assert_eq!(retried[0], 503, "its first attempt fails as before");
    assert!(
        retried.contains(&200),
        "a later attempt is drawn anew: {retried:?}"
    );
    assert_eq!(attempts(5).await, retried);
}
