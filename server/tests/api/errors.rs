//! Every `/api` error is the JSON envelope with the right status, whatever produced it.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn unknown_api_paths_are_404_not_found_never_the_page() {
    let app = spawn_app().await;
    for path in [
        "/api/nope",
        "/api",
        "/api/",
        "/api/health/extra",
        "/api/lab/echo/1",
    ] {
        let message = assert_error(app.get(path).await, StatusCode::NOT_FOUND, "not_found").await;
        assert!(message.contains("no API endpoint"), "{path}: {message}");
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_with_the_allowed_methods() {
    let app = spawn_app().await;

    let response = app
        .client
        .delete(app.url("/api/health"))
        .send()
        .await
        .expect("sent");

    let allow = response.headers()["allow"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(allow.contains("GET"), "{allow}");
    let message = assert_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    assert!(message.contains("Allow header"), "{message}");
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    for body in ["{", "not json", "{\"delay_ms\": 1,}", ""] {
        let response = app
            .client
            .post(app.url("/api/lab/echo"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("sent");
        assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    }
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_415() {
    let app = spawn_app().await;
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = app.client.post(app.url("/api/lab/echo")).body("{}");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.expect("sent");
        assert_error(
            response,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;
    }
}

#[tokio::test]
async fn a_body_over_64_kib_is_413() {
    let app = spawn_app().await;
    let padding = " ".repeat(protocol::limits::MAX_REQUEST_BODY_BYTES);
    let response = app
        .client
        .post(app.url("/api/lab/echo"))
        .header("content-type", "application/json")
        .body(format!("{{{padding}}}"))
        .send()
        .await
        .expect("sent");

    let message = assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert!(message.contains("65536"), "{message}");
}

#[tokio::test]
async fn a_body_just_under_the_limit_is_accepted() {
    let app = spawn_app().await;
    let body = r#"{"seq": 1}"#;
    let padding = " ".repeat(protocol::limits::MAX_REQUEST_BODY_BYTES - body.len());
    let response = app
        .client
        .post(app.url("/api/lab/echo"))
        .header("content-type", "application/json")
        .body(format!("{body}{padding}"))
        .send()
        .await
        .expect("sent");

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_json_body_of_the_wrong_shape_is_422_naming_the_field() {
    let app = spawn_app().await;
    for (body, field) in [
        (json!({"delay_ms": "soon"}), "delay_ms"),
        (json!({"delay_ms": -1}), "delay_ms"),
        (json!({"fail_rate": "high"}), "fail_rate"),
        (json!({"delai_ms": 5}), "delai_ms"),
        // Only an object: serde would read the fields from an array, in order.
        (json!("fast please"), "JSON object"),
        (json!([1, 2, 0.5, 3, 4]), "JSON object"),
        (json!([]), "JSON object"),
        (json!(null), "JSON object"),
    ] {
        let message = assert_error(
            app.post_json("/api/lab/echo", &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(message.contains(field), "{body}: {message}");
    }
}

#[tokio::test]
async fn a_request_that_takes_too_long_is_408() {
    let app = spawn_app_with(|state| state.request_timeout = Duration::from_millis(200)).await;

    let response = app.get("/api/lab/echo?delay_ms=2000").await;

    assert_error(response, StatusCode::REQUEST_TIMEOUT, "request_timeout").await;
}

#[tokio::test]
async fn hostile_paths_and_queries_never_break_the_server() {
    let app = spawn_app().await;
    for path in [
        "/api/lab/echo?delay_ms=%FF%FE",
        "/api/lab/echo?%00=1",
        "/api/lab/echo?delay_ms",
        "/api/lab/echo?&&&",
        "/api/%2e%2e/%2e%2e/etc/passwd",
        "/api/lab/echo?seq=99999999999999999999999",
    ] {
        let status = app.get(path).await.status();
        assert!(
            status.is_client_error() || status.is_success(),
            "{path}: {status}"
        );
    }
    assert_eq!(app.get("/api/health").await.status(), StatusCode::OK);
}
