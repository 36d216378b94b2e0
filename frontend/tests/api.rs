//! The API client: error envelopes become typed errors; aborts and unreachable servers are told
//! apart from the server's own answers.

use frontend::api::{self, ApiError, error_from_answer};
use protocol::{ErrorCode, Health};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn an_error_envelope_becomes_the_servers_own_sentence() {
    let error = error_from_answer(
        422,
        r#"{"error":{"code":"validation_failed","message":"`delay_ms` must be a whole number of milliseconds from 0 to 30000."}}"#,
    );
    assert_eq!(
        error,
        ApiError::Server {
            status: 422,
            code: ErrorCode::ValidationFailed,
            message: "`delay_ms` must be a whole number of milliseconds from 0 to 30000.".into(),
            retry_after_s: None,
        }
    );
    assert_eq!(
        error.to_string(),
        "`delay_ms` must be a whole number of milliseconds from 0 to 30000."
    );
    assert!(!error.is_retryable());
}

#[wasm_bindgen_test]
fn retryable_answers_are_recognised() {
    let busy = error_from_answer(
        503,
        r#"{"error":{"code":"injected_failure","message":"This request failed on purpose."}}"#,
    );
    assert!(busy.is_retryable());
    assert!(ApiError::Network("Failed to fetch".into()).is_retryable());
    assert!(!ApiError::Aborted.is_retryable());
}

#[wasm_bindgen_test]
fn an_answer_without_the_envelope_is_unreadable_not_a_crash() {
    for body in ["", "<html>Bad gateway</html>", r#"{"error":"flat"}"#] {
        let error = error_from_answer(502, body);
        assert_eq!(
            error,
            ApiError::Unreadable("it answered 502 without an explanation.".into()),
            "{body}"
        );
    }
}

#[wasm_bindgen_test]
async fn a_cancelled_request_is_aborted() {
    let controller = web_sys::AbortController::new().expect("controller");
    controller.abort();

    let result: Result<Health, _> =
        api::fetch::get_json("/api/health", Some(&controller.signal())).await;

    assert_eq!(result, Err(ApiError::Aborted));
}

#[wasm_bindgen_test]
async fn a_server_that_is_not_there_is_unreachable() {
    // Nothing listens on port 9 (discard) on the test machine's loopback.
    let result: Result<Health, _> =
        api::fetch::get_json("http://127.0.0.1:9/api/health", None).await;

    match result {
        Err(error @ ApiError::Network(_)) => {
            assert!(
                error
                    .to_string()
                    .starts_with("The server could not be reached.")
            );
        }
        other => panic!("expected a network error, got {other:?}"),
    }
}
