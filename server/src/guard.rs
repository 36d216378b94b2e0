//! The layer around the API (every path under `/api`, including the router's own 404s and 405s): a
//! deadline, a caught panic, and the envelope for any error answer that is not already ours. Other
//! paths (the page) pass through untouched.
//!
//! One hand-written layer, applied outside the router, instead of three stacked ones (tower-http's
//! timeout and panic catcher, an axum `from_fn` middleware) applied with `route_layer`: each of
//! those costs allocations or a timer on every request, the router boxes and clones a route layer
//! on every request, and most API answers are ready at once.
//!
//! - **Deadline** (`408 request_timeout`): armed only when the handler does not answer on its
//!   first poll. Registering and cancelling a timer for a request that was already answered wakes
//!   the runtime's timer driver (a system call) and cost more than the rest of a 0-delay echo. A
//!   handler that waits gets the whole deadline from that first poll. The deadline covers the
//!   time to the answer's head, not its body: a stream (an event stream, say) that has answered
//!   may run as long as it likes.
//! - **Panic** (`500 internal`): logged, answered with the envelope and nothing of the panic.
//! - **Envelope**: a 405 from the router, a 413 from the body limit, or any other error answer
//!   without a JSON body becomes `{"error":{"code":…,"message":…}}` for its status.

use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::{Layer, Service};

use crate::error::{ensure_envelope, panic_response, timeout_response};

/// See the module documentation; `limit` is the deadline.
#[derive(Debug, Clone, Copy)]
pub struct ApiGuardLayer {
    limit: Duration,
}

impl ApiGuardLayer {
    pub fn new(limit: Duration) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for ApiGuardLayer {
    type Service = ApiGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ApiGuard {
            inner,
            limit: self.limit,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ApiGuard<S> {
    inner: S,
    limit: Duration,
}

impl<S> Service<Request> for ApiGuard<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = GuardFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if !is_api(request.uri().path()) {
            return GuardFuture::Passing {
                answer: self.inner.call(request),
            };
        }
        let method = request.method().clone();
        match catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
            Ok(answer) => GuardFuture::Running {
                answer,
                deadline: None,
                limit: self.limit,
                method,
            },
            Err(panic) => GuardFuture::Panicked {
                response: Some(panic_response(panic)),
            },
        }
    }
}

/// `/api` and everything under `/api/`, not `/apiary`.
pub(crate) fn is_api(path: &str) -> bool {
    path.strip_prefix("/api")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

pin_project! {
    #[project = GuardProjection]
    pub enum GuardFuture<F> {
        Passing {
            #[pin]
            answer: F,
        },
        Running {
            #[pin]
            answer: F,
            #[pin]
            deadline: Option<Sleep>,
            limit: Duration,
            method: Method,
        },
        Panicked {
            response: Option<Response>,
        },
    }
}

impl<F> Future for GuardFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            GuardProjection::Passing { answer } => answer.poll(cx),
            GuardProjection::Panicked { response } => {
                // Polled again after it answered: a bug elsewhere, answered as one.
                Poll::Ready(Ok(response.take().unwrap_or_else(|| {
                    panic_response(Box::new("the API guard was polled after it answered"))
                })))
            }
            GuardProjection::Running {
                answer,
                mut deadline,
                limit,
                method,
            } => {
                match catch_unwind(AssertUnwindSafe(|| answer.poll(cx))) {
                    Ok(Poll::Ready(Ok(response))) => {
                        return Poll::Ready(Ok(ensure_envelope(method, response)));
                    }
                    Ok(Poll::Ready(Err(never))) => match never {},
                    Ok(Poll::Pending) => {}
                    Err(panic) => return Poll::Ready(Ok(panic_response(panic))),
                }
                if deadline.is_none() {
                    deadline.set(Some(tokio::time::sleep(*limit)));
                }
                match deadline.as_pin_mut().map(|sleep| sleep.poll(cx)) {
                    Some(Poll::Ready(())) => Poll::Ready(Ok(timeout_response())),
                    _ => Poll::Pending,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{StatusCode, header};
    use protocol::{ErrorBody, ErrorCode};
    use tower::ServiceExt;

    use super::*;

    async fn answer_of<S>(service: S) -> (StatusCode, ErrorBody)
    where
        S: Service<Request, Response = Response, Error = Infallible>,
    {
        let guarded = ApiGuardLayer::new(Duration::from_millis(50)).layer(service);
        let response = guarded
            .oneshot(
                Request::get("/api/somewhere")
                    .body(Body::empty())
                    .expect("a request"),
            )
            .await
            .unwrap_or_else(|never| match never {});
        let status = response.status();
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/json",
            "{status}"
        );
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}: {bytes:?}"));
        (status, body)
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_500_envelope_without_the_panic_message() {
        let service = tower::service_fn(|_: Request| async {
            if true {
                panic!("secret detail");
            }
            Ok::<Response, Infallible>(Response::new(Body::empty()))
        });
        let (status, body) = answer_of(service).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body.error.code, ErrorCode::Internal);
        assert!(
            !body.error.message.contains("secret"),
            "{}",
            body.error.message
        );
    }

    #[tokio::test]
    async fn a_service_that_panics_when_called_is_a_500_envelope_too() {
        #[derive(Clone)]
        struct PanicsOnCall;
        impl Service<Request> for PanicsOnCall {
            type Response = Response;
            type Error = Infallible;
            type Future = std::future::Ready<Result<Response, Infallible>>;
            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
                Poll::Ready(Ok(()))
            }
            fn call(&mut self, _: Request) -> Self::Future {
                panic!("secret detail")
            }
        }
        let (status, body) = answer_of(PanicsOnCall).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body.error.code, ErrorCode::Internal);
    }

    #[tokio::test]
    async fn a_handler_past_the_deadline_is_a_408_envelope() {
        let service = tower::service_fn(|_: Request| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<Response, Infallible>(Response::new(Body::empty()))
        });
        let (status, body) = answer_of(service).await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(body.error.code, ErrorCode::RequestTimeout);
    }

    #[tokio::test]
    async fn only_api_paths_are_guarded() {
        for (path, guarded) in [
            ("/api", true),
            ("/api/", true),
            ("/api/lab/echo", true),
            ("/apiary", false),
            ("/lab", false),
            ("/", false),
        ] {
            assert_eq!(is_api(path), guarded, "{path}");
        }
        let service = tower::service_fn(|_: Request| async {
            let mut response = Response::new(Body::from("not here"));
            *response.status_mut() = StatusCode::NOT_FOUND;
            Ok::<Response, Infallible>(response)
        });
        let page = ApiGuardLayer::new(Duration::from_millis(50))
            .layer(service)
            .oneshot(
                Request::get("/lab/missing.png")
                    .body(Body::empty())
                    .expect("a request"),
            )
            .await
            .unwrap_or_else(|never| match never {});
        assert_eq!(page.status(), StatusCode::NOT_FOUND);
        assert!(page.headers().get(header::CONTENT_TYPE).is_none());
    }

    #[tokio::test]
    async fn a_plain_error_answer_becomes_the_envelope_for_its_status() {
        let service = tower::service_fn(|_: Request| async {
            let mut response = Response::new(Body::from("too big"));
            *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            Ok::<Response, Infallible>(response)
        });
        let (status, body) = answer_of(service).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body.error.code, ErrorCode::PayloadTooLarge);
    }
}
