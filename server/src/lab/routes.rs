//! The Lab's handlers: parse the echo's parameters (query or JSON body), validate them, let
//! [`Lab`] answer, say the server's share of the time in `Server-Timing`, and act out a fault
//! that is the connection's (a reset, a cut or dripped body, silence).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Version, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use protocol::lab::{DRIP_EVERY_MS, DRIP_PARTS, EchoRequest, Fault, LabOrigins, LabStats};

use super::Lab;
use crate::connections::{ResetConnection, ResetStream};
use crate::error::{ApiError, ApiJson, ApiQuery, Result};
use crate::state::ServedBy;

/// `GET /api/lab/echo?delay_ms=&jitter_ms=&fail_rate=&bytes=&seq=&run=&fault=&fail_first=&seed=`.
pub async fn echo_query(
    State(lab): State<Arc<Lab>>,
    format: Format,
    reset: Option<axum::Extension<ResetConnection>>,
    version: Version,
    headers: HeaderMap,
    ApiQuery(request): ApiQuery<EchoRequest>,
) -> Result<Response> {
    echo(&lab, format, (reset, version), &headers, request).await
}

/// `POST /api/lab/echo` with the same fields as a JSON body.
pub async fn echo_body(
    State(lab): State<Arc<Lab>>,
    format: Format,
    reset: Option<axum::Extension<ResetConnection>>,
    version: Version,
    headers: HeaderMap,
    ApiJson(request): ApiJson<EchoRequest>,
) -> Result<Response> {
    echo(&lab, format, (reset, version), &headers, request).await
}

/// `GET /api/lab/origins`.
pub async fn origins_show(State(origins): State<super::Origins>) -> ApiJson<LabOrigins> {
    ApiJson(origins.shown())
}

/// `GET /api/lab/stats`.
pub async fn stats_show(
    State(lab): State<Arc<Lab>>,
    State(ServedBy(name)): State<ServedBy>,
) -> ApiJson<LabStats> {
    ApiJson(LabStats {
        instance: name.to_str().unwrap_or_default().to_owned(),
        ..lab.stats()
    })
}

async fn echo(
    lab: &Lab,
    format: Format,
    (reset, version): (Option<axum::Extension<ResetConnection>>, Version),
    headers: &HeaderMap,
    request: EchoRequest,
) -> Result<Response> {
    request
        .validate()
        .map_err(|e| ApiError::Validation(e.to_string()))?;
    // Which request this is an attempt of: its key, else its run and number.
    let identity = match crate::idempotency::optional(headers)? {
        Some(key) => Some(format!("key {key}")),
        None => request
            .seq
            .map(|seq| format!("run {} seq {seq}", request.run.unwrap_or(0))),
    };
    let echoed = lab.echo(request, identity.as_deref()).await?;
    let response = answer(format, echoed.answer)?;
    match echoed.fault {
        None => Ok(response),
        // Over HTTP/2 a request is a stream of a connection others share: its stream is reset
        // (RST_STREAM), and theirs go on.
        Some(Fault::Reset) if version == Version::HTTP_2 => Ok(ResetStream::answer()),
        Some(Fault::Reset) => match reset {
            Some(axum::Extension(reset)) => {
                reset.reset();
                // The connection goes, and this future with it.
                std::future::pending().await
            }
            None => Err(ApiError::Internal(
                "this server cannot reset its connections (no connection layer)".to_owned(),
            )),
        },
        Some(Fault::Silent) => std::future::pending().await,
        Some(Fault::Cut) => Ok(said(
            cut(response).await,
            "half the body then the connection closes",
        )),
        Some(Fault::Drip) => Ok(said(
            drip(response).await,
            &format!("the body in {DRIP_PARTS} parts {DRIP_EVERY_MS} ms apart"),
        )),
        Some(_) => Ok(response),
    }
}

/// `response` with what the server did to it on purpose in its `Server-Timing` (beside the
/// account the timing layer adds), which the page's inspector shows beside the request: a
/// `fault` metric, described (no commas: they part the metrics).
fn said(mut response: Response, what: &str) -> Response {
    let metric = format!("fault;desc=\"the Lab's fault: {what}\"");
    if let Ok(value) = HeaderValue::try_from(metric) {
        response
            .headers_mut()
            .append(crate::timing::SERVER_TIMING, value);
    }
    response
}

/// The answer with its whole `Content-Length` but only the first half of its body; a moment
/// later (the half is on its way) the body fails, and hyper closes the connection: the client
/// reads a short body.
async fn cut(response: Response) -> Response {
    let (parts, bytes) = whole(response).await;
    let half = bytes.slice(..bytes.len() / 2);
    let every = Duration::from_millis(DRIP_EVERY_MS);
    let chunks = futures::stream::iter([Ok(half)]).chain(futures::stream::once(async move {
        tokio::time::sleep(every).await;
        Err(std::io::Error::other("the Lab's cut: the body ends here"))
    }));
    Response::from_parts(parts, Body::from_stream(chunks))
}

/// The whole answer, in [`DRIP_PARTS`] parts, one every [`DRIP_EVERY_MS`].
async fn drip(response: Response) -> Response {
    let (parts, bytes) = whole(response).await;
    let part = bytes.len().div_ceil(DRIP_PARTS).max(1);
    let pieces: Vec<Bytes> = (0..bytes.len())
        .step_by(part)
        .map(|start| bytes.slice(start..(start + part).min(bytes.len())))
        .collect();
    let every = Duration::from_millis(DRIP_EVERY_MS);
    let dripped = futures::stream::iter(pieces).then(move |piece| async move {
        tokio::time::sleep(every).await;
        Ok::<_, Infallible>(piece)
    });
    Response::from_parts(parts, Body::from_stream(dripped))
}

/// The answer's head, saying its whole length, and its body (the echo's, in memory already).
async fn whole(response: Response) -> (axum::http::response::Parts, Bytes) {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    (parts, bytes)
}

/// The echo's answer in the form `format` names.
fn answer(format: Format, answer: protocol::lab::EchoResponse) -> Result<Response> {
    let vary = (header::VARY, HeaderValue::from_static("accept"));
    Ok(match format {
        Format::Json => ([vary], ApiJson(answer)).into_response(),
        Format::Xml => {
            let xml = quick_xml::se::to_string_with_root("echo", &answer).map_err(|e| {
                ApiError::Internal(format!(
                    "the echo's answer could not be written as XML: {e}"
                ))
            })?;
            let content_type = (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            ([vary, content_type], xml).into_response()
        }
    })
}

/// The forms the echo can answer in. As an extractor it reads `Accept` before the body or the
/// wait: a client that can read neither form is told so at once (`406`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl<S: Send + Sync> FromRequestParts<S> for Format {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self> {
        Self::negotiate(parts.headers.get(header::ACCEPT))
    }
}

impl Format {
    /// The form `accept` prefers (by its `q` weights, the most specific range deciding for each
    /// form; JSON on a tie or with no `Accept`), or `406 not_acceptable` when it takes neither.
    pub fn negotiate(accept: Option<&HeaderValue>) -> Result<Self> {
        let Some(accept) = accept else {
            return Ok(Self::Json);
        };
        let text = accept.to_str().unwrap_or_default();
        // For each form, the weight of the most specific range that names it.
        let weight = |exact: &[&str]| {
            let mut best: Option<(u8, f32)> = None;
            for range in text.split(',') {
                let mut parts = range.split(';');
                let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
                let q = parts
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                let specificity = if exact.contains(&media.as_str()) {
                    3
                } else if exact
                    .iter()
                    .any(|e| e.split('/').next() == media.strip_suffix("/*"))
                {
                    2
                } else if media == "*/*" {
                    1
                } else {
                    continue;
                };
                if best.is_none_or(|(s, _)| specificity > s) {
                    best = Some((specificity, q));
                }
            }
            best.map_or(0.0, |(_, q)| q)
        };
        let json = weight(&["application/json"]);
        let xml = weight(&["application/xml", "text/xml"]);
        if json <= 0.0 && xml <= 0.0 {
            return Err(ApiError::NotAcceptable(
                "The echo answers `application/json` or `application/xml`; the Accept header takes neither."
                    .to_owned(),
            ));
        }
        Ok(if xml > json { Self::Xml } else { Self::Json })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_header_chooses_json_or_xml_by_weight_and_specificity() {
        let choose = |accept: &str| {
            Format::negotiate(Some(&HeaderValue::from_str(accept).expect("a header"))).ok()
        };
        assert_eq!(Format::negotiate(None).ok(), Some(Format::Json));
        for (accept, chosen) in [
            ("application/json", Some(Format::Json)),
            ("application/xml", Some(Format::Xml)),
            ("text/xml", Some(Format::Xml)),
            ("*/*", Some(Format::Json)),
            ("application/*", Some(Format::Json)),
            ("text/*", Some(Format::Xml)),
            (
                "application/xml;q=0.9, application/json",
                Some(Format::Json),
            ),
            ("application/json;q=0.5, application/xml", Some(Format::Xml)),
            ("application/xml, */*;q=0.1", Some(Format::Xml)),
            (
                "text/html, application/xhtml+xml, application/xml;q=0.9, */*;q=0.8",
                Some(Format::Xml),
            ),
            ("application/json;q=0, */*", Some(Format::Xml)),
            ("text/html", None),
            ("image/png, text/plain", None),
            ("*/*;q=0", None),
        ] {
            assert_eq!(choose(accept), chosen, "{accept}");
        }
    }
}
