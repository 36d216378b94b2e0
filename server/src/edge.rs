//! The layer at the server's edge, around everything it answers (API and page): the security
//! headers (the ones that apply to the answer: JSON under `/api` does not get the two that act on
//! documents only), and one log line per request at `info` (method, path, status, time).
//!
//! One hand-written layer applied outside the router instead of tower-http's `TraceLayer` and four
//! `SetResponseHeaderLayer`s applied with `Router::layer`, which took about a sixth of the server's
//! time on a 0-delay echo (measured by server CPU per request): the router boxes and clones each
//! layer per route and request, `TraceLayer` wraps every body to classify its end, and the header
//! map grew twice to take the headers. Here the headers go in with one reservation (`ApiJson`
//! sizes API answers' maps for them), the body is left alone, and the log line costs nothing when
//! `info` is filtered out.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, Uri, header};
use axum::response::Response;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// Sent with every answer, replacing any the handler set: a JSON answer is never taken for a
/// script or a page.
const ALWAYS: (HeaderName, HeaderValue) = (
    header::X_CONTENT_TYPE_OPTIONS,
    HeaderValue::from_static("nosniff"),
);

/// Sent with the page's answers (everything outside `/api`), replacing any the handler set. Both
/// act on documents only: an opener policy on a top-level page, a referrer policy on the requests
/// a page makes. A JSON answer under `/api` is neither, and its default policy below forbids it
/// to load anything; leaving them off there saves writing and parsing them on every API answer
/// (OWASP's REST security sheet lists the same split).
const DOCUMENT: [(HeaderName, HeaderValue); 2] = [
    // No other window may script this one (and it keeps a cross-origin popup from reaching back).
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    ),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
];

/// Sent unless the answer brings its own (the page's `index.html` allows its inline loader).
const DEFAULT_POLICY: HeaderValue =
    HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'");

/// See the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct EdgeLayer;

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Edge { inner }
    }
}

#[derive(Debug, Clone)]
pub struct Edge<S> {
    inner: S,
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // What the log line needs, kept only when the line will be written.
        let log = tracing::enabled!(tracing::Level::INFO).then(|| Logged {
            method: request.method().clone(),
            uri: request.uri().clone(),
            started: Instant::now(),
        });
        let document = !crate::guard::is_api(request.uri().path());
        EdgeFuture {
            answer: self.inner.call(request),
            document,
            log,
        }
    }
}

struct Logged {
    method: Method,
    uri: Uri,
    started: Instant,
}

pin_project! {
    pub struct EdgeFuture<F> {
        #[pin]
        answer: F,
        // Whether the answer is the page's (gets the document headers too).
        document: bool,
        log: Option<Logged>,
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Poll::Ready(Ok(mut response)) = this.answer.poll(cx) else {
            return Poll::Pending;
        };
        let headers = response.headers_mut();
        if *this.document {
            headers.reserve(DOCUMENT.len() + 2);
            for (name, value) in DOCUMENT {
                headers.insert(name, value);
            }
        }
        let (name, value) = ALWAYS;
        headers.insert(name, value);
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(DEFAULT_POLICY);
        if let Some(log) = this.log.take() {
            tracing::info!(
                method = %log.method,
                path = %log.uri.path(),
                status = response.status().as_u16(),
                ms = format_args!("{:.1}", log.started.elapsed().as_secs_f64() * 1000.0),
                "answered"
            );
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use tower::ServiceExt;

    use super::*;

    async fn headers_of(path: &str, answer: fn() -> Response) -> axum::http::HeaderMap {
        let service = EdgeLayer.layer(tower::service_fn(move |_: Request| async move {
            Ok::<_, Infallible>(answer())
        }));
        let mut request = Request::new(Body::empty());
        *request.uri_mut() = path.parse().unwrap_or_else(|_| panic!("{path}"));
        let response = service
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
        response.headers().clone()
    }

    #[tokio::test]
    async fn every_page_answer_gets_the_security_headers_and_the_default_policy() {
        for path in ["/", "/lab", "/apiary", "/assets/app.js"] {
            let headers = headers_of(path, || Response::new(Body::empty())).await;
            assert_eq!(
                headers["cross-origin-opener-policy"], "same-origin",
                "{path}"
            );
            assert_eq!(headers[header::REFERRER_POLICY], "no-referrer", "{path}");
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
            assert_eq!(
                headers[header::CONTENT_SECURITY_POLICY],
                "default-src 'none'; frame-ancestors 'none'",
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn an_api_answer_gets_nosniff_and_the_default_policy_only() {
        for path in ["/api", "/api/lab/echo?seq=1", "/api/nothing"] {
            let headers = headers_of(path, || Response::new(Body::empty())).await;
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
            assert_eq!(
                headers[header::CONTENT_SECURITY_POLICY],
                "default-src 'none'; frame-ancestors 'none'",
                "{path}"
            );
            assert_eq!(headers.len(), 2, "{path}: {headers:?}");
        }
    }

    #[tokio::test]
    async fn a_policy_of_the_answer_is_kept_and_the_others_are_replaced() {
        let headers = headers_of("/", || {
            let mut response = Response::new(Body::empty());
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("script-src 'sha256-x'"),
            );
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("unsafe-url"),
            );
            response
        })
        .await;
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            "script-src 'sha256-x'"
        );
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(headers.get_all(header::REFERRER_POLICY).iter().count(), 1);
    }
}
