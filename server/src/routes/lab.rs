//! `GET|POST /api/lab/echo` and `GET /api/lab/stats`: the Lab's slow, sometimes failing echo.

use std::sync::Arc;
use std::time::Instant;

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
    let started = Instant::now();
    let answer = lab.echo(request).await?;
    // Tenths of a millisecond in whole numbers (formatting a float cost more than the rest here).
    let tenths = (started.elapsed().as_micros() + 50) / 100;
    let mut response = ApiJson(&answer).into_response();
    // Lets the browser's devtools (and the Lab's details panel) show the server's share of the time.
    let timing = format!(
        "wait;dur={};desc=\"requested delay\", total;dur={}.{}",
        answer.delay_ms,
        tenths / 10,
        tenths % 10
    );
    if let Ok(value) = HeaderValue::try_from(timing) {
        response.headers_mut().insert(SERVER_TIMING, value);
    }
    Ok(response)
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
