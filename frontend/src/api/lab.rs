//! The Lab's endpoints: `GET|POST /api/lab/echo`, `GET /api/lab/stats`, the server-sent
//! countdown `GET /api/lab/ticks` and `GET /api/lab/origins` (where else the server listens),
//! and the browser's resource timing of an echo (when it really left, after waiting for a
//! connection, and over which protocol).

use gloo_net::http::Method;
use protocol::lab::{EchoRequest, EchoResponse, Fault, LabOrigins, LabStats, TicksRequest};
use web_sys::AbortSignal;

use super::fetch::{self, ApiError, Call, Traced};
use super::push::{Push, PushStream};
use crate::inspector::Attempt;

const ECHO: &str = "/api/lab/echo";

/// HTTP method of the echo: GET with a query string, or POST with a JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoMethod {
    Get,
    Post,
}

impl EchoMethod {
    pub fn name(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

/// The echo `request` as a [`Call`], to the page's own origin or to `origin` (another of the
/// server's, `https://host:port`): a GET carries every field in its query (the faults' only
/// when they are not the default); a POST carries them as its JSON body, and its `seq` and
/// `run` in the query too, only so that each address is unique (the browser's timing entry is
/// found by its address; the server reads a POST's body only).
fn echo_call<'a>(
    origin: Option<&str>,
    method: EchoMethod,
    request: &EchoRequest,
    abort: Option<&'a AbortSignal>,
) -> Call<'a> {
    let path = origin.map_or_else(|| ECHO.to_owned(), |origin| format!("{origin}{ECHO}"));
    let numbers = [
        request.seq.map(|seq| ("seq", seq.to_string())),
        request.run.map(|run| ("run", run.to_string())),
    ];
    match method {
        EchoMethod::Get => Call {
            query: [
                Some(("delay_ms", request.delay_ms.to_string())),
                Some(("jitter_ms", request.jitter_ms.to_string())),
                Some(("fail_rate", request.fail_rate.to_string())),
                Some(("bytes", request.bytes.to_string())),
                (request.fault != Fault::default())
                    .then(|| ("fault", request.fault.key().to_owned())),
                (request.fail_first > 0).then(|| ("fail_first", request.fail_first.to_string())),
                request.seed.map(|seed| ("seed", seed.to_string())),
            ]
            .into_iter()
            .chain(numbers)
            .flatten()
            .collect(),
            ..Call::new(Method::GET, path).abort(abort)
        },
        EchoMethod::Post => Call {
            query: numbers.into_iter().flatten().collect(),
            ..Call::new(Method::POST, path).json(request).abort(abort)
        },
    }
}

/// The address the echo is fetched at (what the inspector shows and the browser's timing entry
/// is filed under).
pub fn echo_address(origin: Option<&str>, method: EchoMethod, request: &EchoRequest) -> String {
    echo_call(origin, method, request, None).address()
}

/// `GET|POST /api/lab/echo`: the answer after the server's delay, or its error.
pub async fn echo(
    method: EchoMethod,
    request: &EchoRequest,
    abort: Option<&AbortSignal>,
) -> Traced<EchoResponse> {
    fetch::send(echo_call(None, method, request, abort)).await
}

/// [`echo`] as one attempt of a Lab run, to the page's origin or `origin`: the inspector records
/// the run's strategy and which attempt this is.
pub async fn echo_attempt(
    origin: Option<&str>,
    method: EchoMethod,
    request: &EchoRequest,
    abort: Option<&AbortSignal>,
    strategy: String,
    attempt: Attempt,
) -> Traced<EchoResponse> {
    let call = echo_call(origin, method, request, abort)
        .strategy(strategy)
        .attempt(attempt.number, attempt.of);
    fetch::send(call).await
}

/// `GET /api/lab/stats`: what the echo endpoint counted since the server started.
pub async fn stats() -> Result<LabStats, ApiError> {
    fetch::get_json("/api/lab/stats", None).await
}

/// `GET /api/lab/origins`: where else the server listens (with `--tls`, a port speaking only
/// HTTP/1.1).
pub async fn origins() -> Result<LabOrigins, ApiError> {
    fetch::get_json("/api/lab/origins", None).await
}

/// The origin on this page's host where the server speaks only HTTP/1.1, from its `port`.
pub fn origin_on_port(port: u16) -> Option<String> {
    let location = web_sys::window()?.location();
    let host = location.hostname().ok()?;
    Some(format!("{}//{host}:{port}", location.protocol().ok()?))
}

/// The protocol this page itself came over (`http/1.1`, `h2`), as the browser's navigation
/// timing says.
pub fn page_protocol() -> Option<String> {
    let performance = web_sys::window()?.performance()?;
    let navigation = performance.get_entries_by_type("navigation").get(0);
    js_sys::Reflect::get(&navigation, &"nextHopProtocol".into())
        .ok()?
        .as_string()
        .filter(|protocol| !protocol.is_empty())
}

/// `GET /api/lab/ticks`: the server's countdown, pushed; `on_push` hears each `tick` (its data a
/// [`protocol::lab::Tick`]). Dropping the stream closes it.
pub fn ticks(
    request: TicksRequest,
    on_push: impl Fn(Push) + 'static,
) -> Result<PushStream, ApiError> {
    let query = [
        ("count", request.count.to_string()),
        ("interval_ms", request.interval_ms.to_string()),
    ];
    PushStream::open(fetch::address("/api/lab/ticks", &query), &["tick"], on_push)
}

/// What the browser's resource timing tells of an echo.
#[derive(Debug, Clone, PartialEq)]
pub struct EchoTiming {
    /// When it left on a connection (`requestStart`), on the page's clock.
    pub request_start: f64,
    /// The protocol its answer came over (`http/1.1`, `h2`).
    pub protocol: Option<String>,
}

/// The newest resource timing entry for `address` (as [`echo_address`] gives it) on this page,
/// if the browser has one: it files entries for completed requests only (and, from another
/// origin, zeroes them unless the answer allowed this page its timing).
pub fn timing(address: &str) -> Option<EchoTiming> {
    let entry = newest_timing(address)?;
    let field = |name: &str| js_sys::Reflect::get(&entry, &name.into()).ok();
    let request_start = field("requestStart")?
        .as_f64()
        .filter(|start| *start > 0.0)?;
    Some(EchoTiming {
        request_start,
        protocol: field("nextHopProtocol")
            .and_then(|protocol| protocol.as_string())
            .filter(|protocol| !protocol.is_empty()),
    })
}

/// The newest resource timing entry for `address`.
fn newest_timing(address: &str) -> Option<wasm_bindgen::JsValue> {
    let window = web_sys::window()?;
    let url = web_sys::Url::new_with_base(address, &window.location().href().ok()?).ok()?;
    let performance = window.performance()?;
    let entries = performance.get_entries_by_name(&url.href());
    Some(entries.get(entries.length().checked_sub(1)?))
}
