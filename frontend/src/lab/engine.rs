//! Running the Lab's requests: scheduled by a [`Strategy`], each attempt cancellable through its
//! own `AbortController` (a real abort: the browser drops the connection and the server sees the
//! client leave), bounded by an optional timeout, and retried by the [`RetryPolicy`](super::settings::RetryPolicy).
//!
//! The network is reached through a [`Transport`], so the tests can run the same scheduling
//! against a mocked one. Everything that happens is reported to a [`Sink`] as a [`LabEvent`]; the
//! page applies those to its model once per animation frame.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures::future::{LocalBoxFuture, join_all, select};
use futures::stream::{self, StreamExt};
use gloo_timers::callback::Timeout;
use gloo_timers::future::TimeoutFuture;
use protocol::lab::EchoResponse;
use web_sys::{AbortController, AbortSignal};

use crate::api::{self, ApiError, Call};
use crate::inspector::{self, EntryId, Outcome};
use crate::lab::pacer;
use crate::lab::settings::{EchoMethod, RunSettings, Strategy};

/// One attempt the engine asks the transport to make.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptCall {
    pub seq: u64,
    /// 1 for the first attempt, 2 for the first retry, …
    pub attempt: u32,
    pub method: EchoMethod,
    pub url: String,
    pub settings: RunSettings,
}

/// What the transport learned about one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptAnswer {
    /// The inspector's record of the request, when it went through the API client.
    pub entry: Option<EntryId>,
    pub result: Result<EchoAnswer, ApiError>,
    /// When the request actually left on a connection (`requestStart` of the browser's resource
    /// timing); the time before it was spent waiting for a free connection.
    pub sent_at: Option<f64>,
    /// When the status and headers arrived.
    pub first_byte_at: Option<f64>,
}

/// The useful parts of a successful echo.
#[derive(Debug, Clone, PartialEq)]
pub struct EchoAnswer {
    pub status: u16,
    pub bytes: usize,
    /// How long the server waited, by its own account.
    pub server_delay_ms: u64,
}

/// Makes one attempt; must end (with `ApiError::Aborted`) soon after `signal` is aborted.
pub type Transport = Rc<dyn Fn(AttemptCall, AbortSignal) -> LocalBoxFuture<'static, AttemptAnswer>>;
/// Receives everything that happens.
pub type Sink = Rc<dyn Fn(LabEvent)>;

/// Something that happened to one request of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum LabEvent {
    /// The request exists and waits for its strategy to send it.
    Queued { seq: u64, run: u32, at: f64 },
    AttemptStarted {
        seq: u64,
        attempt: u32,
        at: f64,
        method: EchoMethod,
        url: String,
    },
    AttemptEnded {
        seq: u64,
        attempt: u32,
        at: f64,
        report: AttemptReport,
    },
    /// The request is over: no more attempts.
    Finished { seq: u64, at: f64, outcome: Outcome },
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptReport {
    pub outcome: Outcome,
    pub entry: Option<EntryId>,
    pub status: Option<u16>,
    pub bytes: Option<usize>,
    pub server_delay_ms: Option<u64>,
    pub sent_at: Option<f64>,
    pub first_byte_at: Option<f64>,
    /// The error a person reads, for attempts that did not succeed.
    pub error: Option<String>,
    /// For a retried attempt, the wait before the next one.
    pub backoff_ms: Option<u32>,
}

/// A run: its settings, its number, and the sequence number of its first request (sequence
/// numbers are unique across runs, so overlapping runs never mix up their answers).
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: u32,
    pub first_seq: u64,
    pub settings: RunSettings,
}

/// What the engine needs from its surroundings; the tests give it a mocked transport.
#[derive(Clone)]
pub struct Env {
    pub transport: Transport,
    pub sink: Sink,
    /// Milliseconds on the page's clock (`performance.now()`).
    pub now: Rc<dyn Fn() -> f64>,
    /// Uniform in `[0, 1)`: the jitter of the backoff.
    pub random: Rc<dyn Fn() -> f64>,
}

impl Env {
    /// The real thing: echoes through the API client, the page's clock, `Math.random`.
    pub fn browser(sink: Sink) -> Self {
        Self {
            transport: Rc::new(|call, signal| Box::pin(http_attempt(call, signal))),
            sink,
            now: Rc::new(inspector::now_ms),
            random: Rc::new(js_sys::Math::random),
        }
    }
}

/// Runs every request of `run` to its end, as its strategy schedules them. `cancel` aborts all of
/// them: those in flight at once, those waiting (queued or backing off) before they are sent.
pub async fn run(run: Run, env: Env, cancel: Cancel) {
    let settings = run.settings;
    let seqs = (0..u64::from(settings.count)).map(|i| run.first_seq + i);
    for seq in seqs.clone() {
        (env.sink)(LabEvent::Queued {
            seq,
            run: run.id,
            at: (env.now)(),
        });
    }
    let context = Rc::new(RequestContext {
        settings,
        env,
        cancel,
    });
    let requests = seqs.map(|seq| one_request(Rc::clone(&context), seq));
    match settings.strategy {
        Strategy::AllAtOnce | Strategy::Race => {
            join_all(requests).await;
        }
        Strategy::OneByOne => {
            for request in requests {
                request.await;
            }
        }
        Strategy::AtMost(limit) => {
            stream::iter(requests)
                .buffer_unordered(limit.max(1) as usize)
                .for_each(|()| async {})
                .await;
        }
    }
}

struct RequestContext {
    settings: RunSettings,
    env: Env,
    cancel: Cancel,
}

/// One request: attempts until one succeeds, the retry policy gives up, or the run is cancelled.
async fn one_request(context: Rc<RequestContext>, seq: u64) {
    let RequestContext {
        settings,
        env,
        cancel,
    } = &*context;
    let now = || (env.now)();
    let finish = |outcome| {
        (env.sink)(LabEvent::Finished {
            seq,
            at: now(),
            outcome,
        })
    };
    let mut retries_done = 0;
    loop {
        if cancel.is_cancelled() {
            finish(Outcome::Aborted);
            return;
        }
        // A thousand `fetch` calls made in one go would be one long task: attempts leave while
        // the current frame's sending window is open (see `pacer`).
        let _ = select(Box::pin(pacer::send_turn()), cancel.cancelled()).await;
        if cancel.is_cancelled() {
            finish(Outcome::Aborted);
            return;
        }
        let attempt = retries_done + 1;
        let url = echo_url(settings, seq);
        (env.sink)(LabEvent::AttemptStarted {
            seq,
            attempt,
            at: now(),
            method: settings.method,
            url: url.clone(),
        });
        let call = AttemptCall {
            seq,
            attempt,
            method: settings.method,
            url,
            settings: *settings,
        };
        let (answer, timed_out) = attempt_once(&context, call).await;
        let outcome = match &answer.result {
            Ok(_) => Outcome::Applied,
            Err(ApiError::Aborted) if timed_out => Outcome::TimedOut,
            Err(ApiError::Aborted) => Outcome::Aborted,
            Err(_) => Outcome::Failed,
        };
        let backoff_ms = match &answer.result {
            Err(error) if outcome == Outcome::Failed && !cancel.is_cancelled() => settings
                .retry
                .next_retry(error, retries_done, (env.random)()),
            _ => None,
        };
        let reported = if backoff_ms.is_some() {
            Outcome::Retried
        } else {
            outcome
        };
        if let Some(entry) = answer.entry
            && matches!(reported, Outcome::TimedOut | Outcome::Retried)
        {
            inspector::reclassify(entry, reported);
        }
        (env.sink)(LabEvent::AttemptEnded {
            seq,
            attempt,
            at: now(),
            report: report(&answer, reported, backoff_ms),
        });
        match backoff_ms {
            Some(wait) => {
                // Backing off is waiting too: Cancel all ends it at once.
                let _ = select(TimeoutFuture::new(wait), cancel.cancelled()).await;
                retries_done += 1;
            }
            None => {
                finish(outcome);
                if outcome == Outcome::Applied && settings.strategy == Strategy::Race {
                    // The race is won: abort the rest.
                    cancel.cancel();
                }
                return;
            }
        }
    }
}

/// One attempt with its own abort controller, registered with the run's [`Cancel`], and aborted
/// by a timer when the run has a timeout. Returns the answer and whether the timer fired.
async fn attempt_once(context: &RequestContext, call: AttemptCall) -> (AttemptAnswer, bool) {
    let Ok(controller) = AbortController::new() else {
        let answer = AttemptAnswer {
            entry: None,
            result: Err(ApiError::Network(
                "this browser cannot cancel requests".into(),
            )),
            sent_at: None,
            first_byte_at: None,
        };
        return (answer, false);
    };
    let registration = context.cancel.register(controller.clone());
    let timed_out = Rc::new(Cell::new(false));
    let timer = context.settings.timeout_ms.map(|ms| {
        let controller = controller.clone();
        let timed_out = Rc::clone(&timed_out);
        Timeout::new(ms, move || {
            timed_out.set(true);
            controller.abort();
        })
    });
    let answer = (context.env.transport)(call, controller.signal()).await;
    drop(timer);
    context.cancel.unregister(registration);
    (answer, timed_out.get())
}

fn report(answer: &AttemptAnswer, outcome: Outcome, backoff_ms: Option<u32>) -> AttemptReport {
    let (status, bytes, server_delay_ms, error) = match &answer.result {
        Ok(echo) => (
            Some(echo.status),
            Some(echo.bytes),
            Some(echo.server_delay_ms),
            None,
        ),
        Err(error) => (error.status(), None, None, Some(error.to_string())),
    };
    AttemptReport {
        outcome,
        entry: answer.entry,
        status,
        bytes,
        server_delay_ms,
        sent_at: answer.sent_at,
        first_byte_at: answer.first_byte_at,
        error,
        backoff_ms,
    }
}

/// The address of echo number `seq`: unique, so the browser's timing entry can be found by it.
pub fn echo_url(settings: &RunSettings, seq: u64) -> String {
    match settings.method {
        EchoMethod::Get => format!("/api/lab/echo?{}", settings.query(seq)),
        // The body carries the parameters; the server ignores a POST's query, which is here only
        // to make the address unique.
        EchoMethod::Post => format!("/api/lab/echo?seq={seq}"),
    }
}

/// The real transport: the echo through the API client, then the browser's resource timing for
/// when the request really left (after waiting for one of the 6 connections a host gets).
async fn http_attempt(call: AttemptCall, signal: AbortSignal) -> AttemptAnswer {
    let body = match call.method {
        EchoMethod::Get => None,
        EchoMethod::Post => {
            let mut echo = call.settings.echo;
            echo.seq = Some(call.seq);
            serde_json::to_value(echo).ok()
        }
    };
    let method = match call.method {
        EchoMethod::Get => gloo_net::http::Method::GET,
        EchoMethod::Post => gloo_net::http::Method::POST,
    };
    let traced = api::send::<EchoResponse>(Call {
        method,
        path: &call.url,
        body,
        abort: Some(&signal),
    })
    .await;
    let entry = inspector::get(traced.entry);
    AttemptAnswer {
        entry: Some(traced.entry),
        result: traced.result.map(|answer| EchoAnswer {
            status: answer.status,
            bytes: answer.bytes,
            server_delay_ms: answer.body.delay_ms,
        }),
        // The browser files its timing entry a moment after the answer; the page looks it up.
        sent_at: None,
        first_byte_at: entry.and_then(|e| e.first_byte_ms),
    }
}

/// `requestStart` of the newest resource timing entry for `path` on this page, if the browser
/// has one (it keeps entries for completed requests only).
pub fn request_start(path: &str) -> Option<f64> {
    let window = web_sys::window()?;
    let url = web_sys::Url::new_with_base(path, &window.location().href().ok()?).ok()?;
    let performance = window.performance()?;
    // gloo-net rebuilds the query string and leaves a trailing `&` on the address it fetches, so
    // the browser files the entry under that name; the plain address is tried as well.
    let mut entries = performance.get_entries_by_name(&format!("{}&", url.href()));
    if entries.length() == 0 {
        entries = performance.get_entries_by_name(&url.href());
    }
    let last = entries.get(entries.length().checked_sub(1)?);
    let start = js_sys::Reflect::get(&last, &"requestStart".into())
        .ok()?
        .as_f64()?;
    (start > 0.0).then_some(start)
}

/// Cancels a run: aborts the controllers of its attempts in flight and wakes whatever waits.
#[derive(Clone, Default)]
pub struct Cancel(Rc<RefCell<CancelState>>);

#[derive(Default)]
struct CancelState {
    cancelled: bool,
    controllers: Vec<(u64, AbortController)>,
    next_key: u64,
    waiting: Vec<Waker>,
}

impl Cancel {
    pub fn cancel(&self) {
        let (controllers, waiting) = {
            let mut state = self.0.borrow_mut();
            state.cancelled = true;
            (
                std::mem::take(&mut state.controllers),
                std::mem::take(&mut state.waiting),
            )
        };
        for (_, controller) in controllers {
            controller.abort();
        }
        for waker in waiting {
            waker.wake();
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.borrow().cancelled
    }

    /// Completes when [`Cancel::cancel`] is called.
    pub fn cancelled(&self) -> Cancelled {
        Cancelled(self.clone())
    }

    fn register(&self, controller: AbortController) -> u64 {
        let mut state = self.0.borrow_mut();
        if state.cancelled {
            drop(state);
            controller.abort();
            return u64::MAX;
        }
        let key = state.next_key;
        state.next_key += 1;
        state.controllers.push((key, controller));
        key
    }

    fn unregister(&self, key: u64) {
        self.0.borrow_mut().controllers.retain(|(k, _)| *k != key);
    }
}

/// The future of [`Cancel::cancelled`].
pub struct Cancelled(Cancel);

impl Future for Cancelled {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = (self.0).0.borrow_mut();
        if state.cancelled {
            Poll::Ready(())
        } else {
            state.waiting.push(cx.waker().clone());
            Poll::Pending
        }
    }
}
