//! Running the Lab's requests: scheduled by a [`Strategy`], each attempt cancellable through its
//! own `AbortController` (a real abort: the browser drops the connection and the server sees the
//! client leave), bounded by an optional timeout, and retried by the [`RetryPolicy`](super::settings::RetryPolicy).
//! A run is cancelled through a `CancellationToken` (tokio-util's; it needs no runtime), which
//! every attempt and every wait of the run listens to.
//!
//! The network is reached through a [`Transport`], so the tests can run the same scheduling
//! against a mocked one. Everything that happens is reported to a [`Sink`] as a [`LabEvent`]; the
//! page applies those to its model once per animation frame.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::pin::pin;
use std::rc::Rc;

use futures::future::{Either, LocalBoxFuture, join_all, select};
use futures::stream::{self, StreamExt};
use gloo_timers::callback::Timeout;
use gloo_timers::future::TimeoutFuture;
use tokio_util::sync::CancellationToken;
use web_sys::{AbortController, AbortSignal};

use protocol::lab::{EchoRequest, Fault};

use crate::api::ApiError;
use crate::api::lab::{self as lab_api, EchoMethod};
use crate::api::retry::retry_words;
use crate::frame;
use crate::inspector::{self, Attempt, EntryId, Outcome};
use crate::lab::pacer;
use crate::lab::settings::{RunSettings, Strategy};

/// One attempt the engine asks the transport to make.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptCall {
    pub seq: u64,
    /// 1 for the first attempt, 2 for the first retry, …
    pub attempt: u32,
    pub method: EchoMethod,
    /// The server's other origin it goes to; none: the page's own.
    pub origin: Option<Rc<str>>,
    /// Where the echo is fetched (see [`lab_api::echo_address`]).
    pub address: String,
    /// What it asks of the server.
    pub echo: EchoRequest,
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
    /// The server's `Server-Timing` header: its share of the time.
    pub server_timing: Option<String>,
}

/// Makes one attempt; must end (with `ApiError::Aborted`) soon after `signal` is aborted.
pub type Transport = Rc<dyn Fn(AttemptCall, AbortSignal) -> LocalBoxFuture<'static, AttemptAnswer>>;
/// Receives everything that happens.
pub type Sink = Rc<dyn Fn(LabEvent)>;

/// Something that happened to one request of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum LabEvent {
    /// The request exists and waits for its strategy to send it.
    /// `race`: its run is a race, whose requests are alternatives (only one answer is used).
    Queued {
        seq: u64,
        run: u32,
        at: f64,
        race: bool,
    },
    AttemptStarted {
        seq: u64,
        attempt: u32,
        at: f64,
        method: EchoMethod,
        address: String,
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
    pub server_timing: Option<String>,
    pub sent_at: Option<f64>,
    /// The protocol its answer came over, once the browser's timing says (`http/1.1`, `h2`).
    pub protocol: Option<String>,
    pub first_byte_at: Option<f64>,
    /// The error a person reads, for attempts that did not succeed.
    pub error: Option<String>,
    /// For a retried attempt, the wait before the next one.
    pub backoff_ms: Option<u32>,
}

/// A run: its settings, its number, and the sequence number of its first request (sequence
/// numbers are unique across runs, so overlapping runs never mix up their answers), and where
/// its echoes go: the page's own origin, or another of the server's (`https://host:port`: the
/// port speaking only HTTP/1.1, for the comparison of the protocols).
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: u32,
    pub first_seq: u64,
    pub settings: RunSettings,
    pub origin: Option<Rc<str>>,
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
            now: Rc::new(frame::now_ms),
            random: Rc::new(js_sys::Math::random),
        }
    }
}

/// Runs every request of `run` to its end, as its strategy schedules them. `cancel` aborts all of
/// them: those in flight at once, those waiting (queued or backing off) before they are sent.
pub async fn run(run: Run, env: Env, cancel: CancellationToken) {
    let settings = run.settings;
    let seqs = (0..u64::from(settings.count)).map(|i| run.first_seq + i);
    for seq in seqs.clone() {
        (env.sink)(LabEvent::Queued {
            seq,
            run: run.id,
            at: (env.now)(),
            race: settings.strategy == Strategy::Race,
        });
    }
    let context = Rc::new(RequestContext {
        settings,
        origin: run.origin,
        env,
        cancel,
        run: run.id,
        first_seq: run.first_seq,
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
    origin: Option<Rc<str>>,
    env: Env,
    cancel: CancellationToken,
    run: u32,
    first_seq: u64,
}

/// One request: attempts until one succeeds, the retry policy gives up, or the run is cancelled.
async fn one_request(context: Rc<RequestContext>, seq: u64) {
    let RequestContext {
        settings,
        origin,
        env,
        cancel,
        run,
        first_seq,
    } = &*context;
    let echo = settings.echo_for(*run, seq - first_seq + 1);
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
        let _ = select(pin!(pacer::send_turn()), pin!(cancel.cancelled())).await;
        if cancel.is_cancelled() {
            finish(Outcome::Aborted);
            return;
        }
        let attempt = retries_done + 1;
        let address = lab_api::echo_address(origin.as_deref(), settings.method, &echo);
        (env.sink)(LabEvent::AttemptStarted {
            seq,
            attempt,
            at: now(),
            method: settings.method,
            address: address.clone(),
        });
        let call = AttemptCall {
            seq,
            attempt,
            method: settings.method,
            origin: origin.clone(),
            address,
            echo,
            settings: *settings,
        };
        let (answer, timed_out) = attempt_once(&context, call).await;
        // In a race only the first success counts: one that lands after it (both answers read
        // in the same moment) is dropped like the rest, not counted as a second winner.
        let race_lost = settings.strategy == Strategy::Race && cancel.is_cancelled();
        let outcome = match &answer.result {
            Ok(_) if race_lost => Outcome::StaleDiscarded,
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
        if let Some(entry) = answer.entry {
            let fault = settings.echo.fault;
            let why = match (reported, &answer.result, backoff_ms) {
                (Outcome::Retried, Err(error), Some(wait)) => Some(format!(
                    "{}{}",
                    retry_words(retries_done + 1, settings.retry.max_retries, error, wait),
                    fault_note(error, fault)
                )),
                (Outcome::Failed, Err(error), None) => {
                    Some(failure_words(error, fault, settings.retry.max_retries))
                }
                (Outcome::TimedOut, ..) => Some(format!(
                    "timed out — no answer within the run's {} ms{}",
                    settings.timeout_ms.unwrap_or_default(),
                    if fault == Fault::Silent {
                        " (the Lab's fault was silence: a request it fails gets no answer at all)"
                    } else {
                        ""
                    }
                )),
                // What the server did to an answer on purpose, in its own words (a drip).
                (Outcome::Applied, Ok(echo), _) => echo
                    .server_timing
                    .as_deref()
                    .and_then(inspector::server_said)
                    .map(|said| format!("answered and used — {said}")),
                (Outcome::StaleDiscarded, ..) => {
                    Some("stale — another request of the race had answered first".to_owned())
                }
                (Outcome::Aborted, ..) if settings.strategy == Strategy::Race => {
                    Some("aborted — another request won the race (or Cancel all)".to_owned())
                }
                (Outcome::Aborted, ..) => {
                    Some("aborted — Cancel all, or the Lab was left".to_owned())
                }
                _ => None,
            };
            if let Some(why) = why {
                inspector::reclassify_because(entry, reported, why);
            }
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
                let _ = select(TimeoutFuture::new(wait), pin!(cancel.cancelled())).await;
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

/// One attempt with its own abort controller, aborted when the run is cancelled or, when the run
/// has a timeout, by a timer. Returns the answer and whether the timer fired.
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
    let timed_out = Rc::new(Cell::new(false));
    let _timer = context.settings.timeout_ms.map(|ms| {
        let controller = controller.clone();
        let timed_out = Rc::clone(&timed_out);
        Timeout::new(ms, move || {
            timed_out.set(true);
            controller.abort();
        })
    });
    let attempt = (context.env.transport)(call, controller.signal());
    // Whichever comes first: the answer, or the run's cancellation, which aborts the fetch (its
    // answer then says so, and the server sees the client leave).
    let answer = match select(attempt, pin!(context.cancel.cancelled())).await {
        Either::Left((answer, _)) => answer,
        Either::Right(((), attempt)) => {
            controller.abort();
            attempt.await
        }
    };
    (answer, timed_out.get())
}

/// What the Lab's fault did, when an attempt got no (whole) answer: the browser only says the
/// fetch failed, the Lab knows what it asked the server for.
fn fault_note(error: &ApiError, fault: Fault) -> &'static str {
    match (error, fault) {
        (ApiError::Network(_), Fault::Reset) => {
            " (the Lab's fault: the connection was reset — over HTTP/2, the request's stream)"
        }
        (ApiError::Network(_), Fault::Cut) => " (the Lab's fault: the body was cut short)",
        _ => "",
    }
}

/// Why an attempt failed for good, in words: what came back, and why it was not tried again.
fn failure_words(error: &ApiError, fault: Fault, max_retries: u32) -> String {
    let what = match error {
        ApiError::Server { status, .. } => format!("answered {status}"),
        ApiError::Network(_) => "no answer".to_owned(),
        other => other.to_string(),
    };
    let why = if !error.is_retryable() {
        "not retried: its answer says trying again will not help"
    } else if max_retries == 0 {
        "retries are off"
    } else {
        "no retries left"
    };
    format!("failed — {what}{}; {why}", fault_note(error, fault))
}

fn report(answer: &AttemptAnswer, outcome: Outcome, backoff_ms: Option<u32>) -> AttemptReport {
    let (status, bytes, server_delay_ms, server_timing, error) = match &answer.result {
        Ok(echo) => (
            Some(echo.status),
            Some(echo.bytes),
            Some(echo.server_delay_ms),
            echo.server_timing.clone(),
            None,
        ),
        Err(error) => (error.status(), None, None, None, Some(error.to_string())),
    };
    AttemptReport {
        outcome,
        entry: answer.entry,
        status,
        bytes,
        server_delay_ms,
        server_timing,
        sent_at: answer.sent_at,
        protocol: None,
        first_byte_at: answer.first_byte_at,
        error,
        backoff_ms,
    }
}

/// The real transport: the echo through the API, with the inspector's record of when its first
/// byte came. (When it really left, after waiting for a connection, the browser tells a moment
/// after the answer: the page looks it up with [`lab_api::timing`].)
async fn http_attempt(call: AttemptCall, signal: AbortSignal) -> AttemptAnswer {
    let request = call.echo;
    let attempt = Attempt {
        number: call.attempt,
        of: call.settings.retry.max_retries.saturating_add(1),
    };
    let strategy = call.settings.strategy.label();
    let traced = lab_api::echo_attempt(
        call.origin.as_deref(),
        call.method,
        &request,
        Some(&signal),
        strategy,
        attempt,
    )
    .await;
    let entry = inspector::get(traced.entry);
    AttemptAnswer {
        entry: Some(traced.entry),
        result: traced.result.map(|answer| EchoAnswer {
            status: answer.status,
            bytes: answer.bytes,
            server_delay_ms: answer.body.delay_ms,
            server_timing: answer.server_timing,
        }),
        sent_at: None,
        first_byte_at: entry.and_then(|e| e.first_byte_ms),
    }
}

/// The runs that are going: each one's token, until it ends. Cancel all cancels them; a run that
/// has ended is forgotten, so the page keeps nothing per run it no longer needs.
#[derive(Debug, Default)]
pub struct Runs(RefCell<HashMap<u32, CancellationToken>>);

impl Runs {
    /// Runs `run` to its end, cancellable by [`Runs::cancel_all`] meanwhile; `false` when it was
    /// cancelled.
    pub async fn run(&self, run: Run, env: Env) -> bool {
        let id = run.id;
        let token = CancellationToken::new();
        self.0.borrow_mut().insert(id, token.clone());
        self::run(run, env, token.clone()).await;
        self.0.borrow_mut().remove(&id);
        !token.is_cancelled()
    }

    /// Cancels every run that is going.
    pub fn cancel_all(&self) {
        let tokens: Vec<_> = self
            .0
            .borrow_mut()
            .drain()
            .map(|(_, token)| token)
            .collect();
        for token in tokens {
            token.cancel();
        }
    }

    /// How many runs are going.
    pub fn going(&self) -> usize {
        self.0.borrow().len()
    }
}
