//! `GET|POST /api/lab/echo` and `GET /api/lab/stats`: the Lab's slow, sometimes failing echo.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use protocol::lab::{ECHO_FIELDS, EchoRequest, LabStats};

use crate::error::{ApiError, ApiJson, Result};
use crate::lab::Lab;
use crate::state::AppState;

/// Made once, at compile time (naming it by a string would parse the name on every answer).
const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/lab/echo", get(echo_query).post(echo_body))
        .route("/api/lab/stats", get(stats_show))
}

/// The echo with its parameters in the query string.
async fn echo_query(State(lab): State<Arc<Lab>>, uri: Uri) -> Result<Response> {
    // The query is read where it lies (`RawQuery` would copy it into a new string).
    let request = parse_echo_query(uri.query().unwrap_or(""))?;
    echo(&lab, request).await
}

/// The echo with its parameters as a JSON body.
async fn echo_body(
    State(lab): State<Arc<Lab>>,
    ApiJson(request): ApiJson<EchoRequest>,
) -> Result<Response> {
    echo(&lab, request).await
}

async fn echo(lab: &Lab, request: EchoRequest) -> Result<Response> {
    request
        .validate()
        .map_err(|e| ApiError::Validation(e.to_string()))?;
    let echoed = lab.echo(request).await?;
    let mut response = ApiJson(&echoed.answer).into_response();
    // Lets the browser's devtools (and the Lab's details panel) show the server's share of the time.
    if let Some(timing) = server_timing(echoed.answer.delay_ms, echoed.took) {
        response.headers_mut().insert(SERVER_TIMING, timing);
    }
    Ok(response)
}

/// `wait;dur=<delay>;desc="requested delay", total;dur=<ms, one decimal>`. Written digit by digit
/// with `itoa` rather than `format!`: on a 0-delay echo the formatting machinery cost more than
/// the rest of the handler.
fn server_timing(delay_ms: u64, took: Duration) -> Option<HeaderValue> {
    let tenths = (took.as_micros() + 50) / 100;
    let mut digits = itoa::Buffer::new();
    let mut value = Vec::with_capacity(64);
    value.extend_from_slice(b"wait;dur=");
    value.extend_from_slice(digits.format(delay_ms).as_bytes());
    value.extend_from_slice(b";desc=\"requested delay\", total;dur=");
    value.extend_from_slice(digits.format(tenths / 10).as_bytes());
    value.push(b'.');
    value.push(b"0123456789"[(tenths % 10) as usize]);
    HeaderValue::try_from(value).ok()
}

async fn stats_show(State(lab): State<Arc<Lab>>) -> ApiJson<LabStats> {
    ApiJson(lab.stats())
}

/// Reads the echo's query string field by field, so a bad value is named with what it allows.
/// The pairs are decoded in place (borrowed unless percent-escaped): a 0-delay echo is mostly
/// overhead, and this is the part of it the handler controls.
fn parse_echo_query(query: &str) -> Result<EchoRequest> {
    let mut request = EchoRequest::default();
    // Which fields were given, one bit per field of `ECHO_FIELDS`.
    let mut seen = 0u8;
    for (given, value) in form_urlencoded::parse(query.as_bytes()) {
        let field = ECHO_FIELDS.iter().position(|field| *field == given);
        let (Some(index), Some(allowed)) = (field, EchoRequest::allowed(&given)) else {
            return Err(ApiError::Validation(format!(
                "`{given}` is not a parameter of the echo; it takes {}.",
                ECHO_FIELDS.join(", ")
            )));
        };
        let name = ECHO_FIELDS[index];
        if seen & (1 << index) != 0 {
            return Err(ApiError::BadRequest(format!(
                "`{name}` is given more than once; give it once."
            )));
        }
        let value = value.as_ref();
        let malformed =
            || ApiError::BadRequest(format!("`{name}` must be {allowed}, not {value:?}."));
        match name {
            "delay_ms" => request.delay_ms = number(value).ok_or_else(malformed)?,
            "jitter_ms" => request.jitter_ms = number(value).ok_or_else(malformed)?,
            "bytes" => request.bytes = number(value).ok_or_else(malformed)?,
            "seq" => request.seq = Some(value.trim().parse().map_err(|_| malformed())?),
            "fail_rate" => {
                request.fail_rate = value.trim().parse().map_err(|_| malformed())?;
            }
            _ => unreachable_field(name)?,
        }
        seen |= 1 << index;
    }
    Ok(request)
}

/// A whole number; one too large for its type is still a number, so it reads as the maximum and
/// validation reports the range (422) rather than calling it malformed (400).
fn number(value: &str) -> Option<u32> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        Some(value.parse().unwrap_or(u32::MAX))
    } else {
        None
    }
}

/// `EchoRequest::allowed` and the match above list the same fields; this keeps the compiler from
/// needing a panic if they ever drift apart.
fn unreachable_field(name: &str) -> Result<()> {
    Err(ApiError::Validation(format!(
        "`{name}` is not a parameter of the echo."
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_timing_gives_the_delay_and_the_total_to_a_tenth_of_a_millisecond() {
        let timing = |delay, micros| {
            server_timing(delay, Duration::from_micros(micros)).map(|value| value.to_owned())
        };
        assert_eq!(
            timing(250, 251_349).as_ref().map(HeaderValue::as_bytes),
            Some(&b"wait;dur=250;desc=\"requested delay\", total;dur=251.3"[..])
        );
        // Rounded to the nearest tenth, carrying into the whole milliseconds.
        assert_eq!(
            timing(0, 99_960).as_ref().map(HeaderValue::as_bytes),
            Some(&b"wait;dur=0;desc=\"requested delay\", total;dur=100.0"[..])
        );
        assert_eq!(
            timing(0, 0).as_ref().map(HeaderValue::as_bytes),
            Some(&b"wait;dur=0;desc=\"requested delay\", total;dur=0.0"[..])
        );
    }
}
