//! The Lab's handlers: parse the echo's parameters (query or JSON body), validate them, let
//! [`Lab`] answer, and say the server's share of the time in `Server-Timing`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use protocol::lab::{EchoRequest, LabStats};

use super::Lab;
use crate::error::{ApiError, ApiJson, ApiQuery, Result};

/// `GET /api/lab/echo?delay_ms=&jitter_ms=&fail_rate=&bytes=&seq=`.
pub async fn echo_query(
    State(lab): State<Arc<Lab>>,
    ApiQuery(request): ApiQuery<EchoRequest>,
) -> Result<Response> {
    echo(&lab, request).await
}

/// `POST /api/lab/echo` with the same fields as a JSON body.
pub async fn echo_body(
    State(lab): State<Arc<Lab>>,
    ApiJson(request): ApiJson<EchoRequest>,
) -> Result<Response> {
    echo(&lab, request).await
}

/// `GET /api/lab/stats`.
pub async fn stats_show(State(lab): State<Arc<Lab>>) -> ApiJson<LabStats> {
    ApiJson(lab.stats())
}

/// Made once (naming a header by a string parses the name on every answer).
const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

async fn echo(lab: &Lab, request: EchoRequest) -> Result<Response> {
    request
        .validate()
        .map_err(|e| ApiError::Validation(e.to_string()))?;
    let echoed = lab.echo(request).await?;
    let timing = server_timing(echoed.answer.delay_ms, echoed.took);
    // Lets the browser's devtools (and the Lab's details panel) show the server's share of the time.
    Ok(([(SERVER_TIMING, timing)], ApiJson(echoed.answer)).into_response())
}

/// `wait;dur=<delay>;desc="requested delay", total;dur=<ms, one decimal>`. The total is written
/// from whole tenths of a millisecond: formatting a float costs more than the rest of a 0-delay
/// echo's handler.
fn server_timing(delay_ms: u64, took: Duration) -> HeaderValue {
    let tenths = (took.as_micros() + 50) / 100;
    let (whole, tenth) = (tenths / 10, tenths % 10);
    let value = format!("wait;dur={delay_ms};desc=\"requested delay\", total;dur={whole}.{tenth}");
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static("total"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_timing_gives_the_delay_and_the_total_to_a_tenth_of_a_millisecond() {
        let timing = |delay, micros| server_timing(delay, Duration::from_micros(micros));
        assert_eq!(
            timing(250, 251_349),
            "wait;dur=250;desc=\"requested delay\", total;dur=251.3"
        );
        assert_eq!(
            timing(0, 99_960),
            "wait;dur=0;desc=\"requested delay\", total;dur=100.0"
        );
        assert_eq!(
            timing(0, 0),
            "wait;dur=0;desc=\"requested delay\", total;dur=0.0"
        );
    }
}
