//! Technique 3: async/await with gloo-net and JSON — what the rest of Meanwhile uses. The code reads top to
//! bottom like a blocking call, but `.await` hands the thread back to the browser until the
//! answer comes.

use protocol::lab::EchoRequest;
use web_sys::AbortSignal;

use crate::api::lab::{self, EchoMethod};

/// Fetches the echo and reads its answer; aborted through `signal`.
pub async fn echo_with_await(
    request: &EchoRequest,
    signal: &AbortSignal,
) -> Result<String, String> {
    let traced = lab::echo(EchoMethod::Get, request, Some(signal)).await;
    let answer = traced.result.map_err(|error| error.to_string())?;
    let echo = answer.body;
    Ok(format!(
        "EchoResponse {{ seq: {:?}, delay_ms: {}, … }}",
        echo.seq, echo.delay_ms
    ))
}
