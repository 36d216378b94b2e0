//! The Lab's engine with the network mocked: the retry policy, the strategies' scheduling, the
//! timeout, cancellation, and the maths of the waterfall and the summary.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use frontend::api::ApiError;
use frontend::api::lab::EchoTiming;
use frontend::inspector::Outcome;
use frontend::lab::engine::{
    self, AttemptAnswer, AttemptCall, EchoAnswer, Env, LabEvent, Run, Runs,
};
use frontend::lab::model::{LabModel, histogram, percentile};
use frontend::lab::settings::{RetryPolicy, RunSettings, Strategy};
use frontend::lab::waterfall::{
    AXIS_STEP, Layout, MIN_SPAN_MS, Phase, PixelRect, PixelRects, row_height,
};
use gloo_timers::future::TimeoutFuture;
use protocol::ErrorCode;
use tokio_util::sync::CancellationToken;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

// ---- The retry policy --------------------------------------------------------------------

const POLICY: RetryPolicy = RetryPolicy {
    max_retries: 3,
    base_ms: 200,
    cap_ms: 1_000,
};

/// The error the server answers with `status`, with the code it sends with that status.
fn server_error(status: u16, retry_after_s: Option<u32>) -> ApiError {
    let code = match status {
        408 => ErrorCode::RequestTimeout,
        422 => ErrorCode::ValidationFailed,
        429 => ErrorCode::TooManyRequests,
        500 => ErrorCode::Internal,
        503 => ErrorCode::Unavailable,
        _ => ErrorCode::Unknown,
    };
    ApiError::Server {
        status,
        code,
        message: "A test answer.".into(),
        retry_after_s,
    }
}

#[wasm_bindgen_test]
fn backoff_doubles_up_to_its_cap_with_full_jitter() {
    for (retry, random, expected) in [
        (0, 0.999_999, 199),
        (1, 0.999_999, 399),
        (2, 0.999_999, 799),
        (3, 0.999_999, 999),
        (30, 0.999_999, 999),
        (2, 0.5, 400),
        (2, 0.0, 0),
    ] {
        assert_eq!(
            POLICY.backoff_ms(retry, random, None),
            expected,
            "retry {retry}, random {random}"
        );
    }
}

#[wasm_bindgen_test]
fn retry_after_is_honoured() {
    assert_eq!(POLICY.backoff_ms(0, 0.3, Some(2)), 2_000);
    assert_eq!(
        POLICY.next_retry(&server_error(429, Some(3)), 0, 0.3),
        Some(3_000)
    );
}

#[wasm_bindgen_test]
fn only_network_errors_and_retryable_codes_are_retried_and_only_so_often() {
    let network = ApiError::Network("Failed to fetch".into());
    for (error, retries_done, retried) in [
        (network.clone(), 0, true),
        (server_error(503, None), 2, true),
        (server_error(429, None), 0, true),
        (server_error(408, None), 0, true),
        (server_error(418, None), 0, false),
        (server_error(503, None), 3, false),
        (server_error(500, None), 0, false),
        (server_error(422, None), 0, false),
        (ApiError::Aborted, 0, false),
        (ApiError::Unreadable("bad".into()), 0, false),
    ] {
        assert_eq!(
            POLICY.next_retry(&error, retries_done, 0.5).is_some(),
            retried,
            "{error:?} after {retries_done}"
        );
    }
    assert_eq!(RetryPolicy::OFF.next_retry(&network, 0, 0.5), None);
}

// ---- Scheduling, with a mocked network ----------------------------------------------------

/// How the mocked server answers attempt `attempt` of request `seq`: after `delay` ms, with
/// `Ok(())` or an error status.
type Script = Rc<dyn Fn(u64, u32) -> (u32, Result<(), u16>)>;

/// A network that answers by `script`, notices aborts, and counts what it sees.
#[derive(Clone, Default)]
struct MockNetwork {
    in_flight: Rc<Cell<u32>>,
    most_in_flight: Rc<Cell<u32>>,
    calls: Rc<RefCell<Vec<(u64, u32)>>>,
    aborts_seen: Rc<Cell<u32>>,
}

impl MockNetwork {
    fn env(&self, script: Script, events: Rc<RefCell<Vec<LabEvent>>>) -> Env {
        let network = self.clone();
        Env {
            transport: Rc::new(move |call: AttemptCall, signal: web_sys::AbortSignal| {
                let network = network.clone();
                let (delay, result) = script(call.seq, call.attempt);
                Box::pin(async move {
                    network.calls.borrow_mut().push((call.seq, call.attempt));
                    network.in_flight.set(network.in_flight.get() + 1);
                    network
                        .most_in_flight
                        .set(network.most_in_flight.get().max(network.in_flight.get()));
                    let mut waited = 0;
                    let mut aborted = signal.aborted();
                    while waited < delay && !aborted {
                        TimeoutFuture::new(5).await;
                        waited += 5;
                        aborted = signal.aborted();
                    }
                    network.in_flight.set(network.in_flight.get() - 1);
                    let result = if aborted {
                        network.aborts_seen.set(network.aborts_seen.get() + 1);
                        Err(ApiError::Aborted)
                    } else {
                        result
                            .map(|()| EchoAnswer {
                                status: 200,
                                bytes: 10,
                                server_delay_ms: u64::from(delay),
                                server_timing: None,
                            })
                            .map_err(|status| server_error(status, None))
                    };
                    AttemptAnswer {
                        entry: None,
                        result,
                        sent_at: None,
                        first_byte_at: None,
                    }
                })
            }),
            sink: Rc::new(move |event| events.borrow_mut().push(event)),
            now: Rc::new(frontend::frame::now_ms),
            random: Rc::new(|| 0.0),
        }
    }
}

fn settings(count: u32, strategy: Strategy) -> RunSettings {
    RunSettings {
        count,
        strategy,
        ..RunSettings::default()
    }
}

/// Runs `settings` against the mock; returns the model built from the events.
async fn run_with(
    network: &MockNetwork,
    settings: RunSettings,
    script: Script,
    cancel: CancellationToken,
) -> LabModel {
    let events = Rc::new(RefCell::new(Vec::new()));
    let env = network.env(script, Rc::clone(&events));
    engine::run(
        Run {
            id: 1,
            first_seq: 1,
            settings,
            origin: None,
        },
        env,
        cancel,
    )
    .await;
    let mut model = LabModel::default();
    for event in events.take() {
        model.apply(event);
    }
    model
}

fn outcomes(model: &LabModel) -> Vec<Outcome> {
    model.requests().iter().map(|r| r.outcome).collect()
}

fn always_ok(delay: u32) -> Script {
    Rc::new(move |_, _| (delay, Ok(())))
}

#[wasm_bindgen_test]
async fn at_most_three_at_a_time_never_has_four_in_flight() {
    let network = MockNetwork::default();
    let model = run_with(
        &network,
        settings(10, Strategy::AtMost(3)),
        always_ok(30),
        CancellationToken::new(),
    )
    .await;

    assert_eq!(network.most_in_flight.get(), 3);
    assert_eq!(outcomes(&model), vec![Outcome::Applied; 10]);
}

#[wasm_bindgen_test]
async fn one_after_another_sends_each_when_the_previous_has_ended() {
    let network = MockNetwork::default();
    let model = run_with(
        &network,
        settings(4, Strategy::OneByOne),
        always_ok(20),
        CancellationToken::new(),
    )
    .await;

    assert_eq!(network.most_in_flight.get(), 1);
    let seqs: Vec<u64> = network.calls.borrow().iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    assert_eq!(model.arrivals(), [1, 2, 3, 4]);
}

#[wasm_bindgen_test]
async fn all_at_once_sends_everything_together_and_answers_arrive_by_delay() {
    let network = MockNetwork::default();
    // Later requests answer sooner: arrival order is the reverse of sending order.
    let script: Script = Rc::new(|seq, _| (100 - 20 * seq as u32, Ok(())));
    let model = run_with(
        &network,
        settings(4, Strategy::AllAtOnce),
        script,
        CancellationToken::new(),
    )
    .await;

    assert_eq!(network.most_in_flight.get(), 4);
    assert_eq!(model.arrivals(), [4, 3, 2, 1]);
}

#[wasm_bindgen_test]
async fn a_race_is_won_by_the_first_success_and_the_rest_are_aborted() {
    let network = MockNetwork::default();
    let script: Script = Rc::new(|seq, _| (if seq == 3 { 20 } else { 2_000 }, Ok(())));
    let model = run_with(
        &network,
        settings(5, Strategy::Race),
        script,
        CancellationToken::new(),
    )
    .await;

    let winner = model.request(3).map(|r| r.outcome);
    assert_eq!(winner, Some(Outcome::Applied));
    let aborted = outcomes(&model)
        .iter()
        .filter(|o| **o == Outcome::Aborted)
        .count();
    assert_eq!(aborted, 4);
    assert_eq!(
        network.aborts_seen.get(),
        4,
        "the losers' requests were really aborted"
    );
}

/// A race where two answers are read in the same moment: the first wins, the second is dropped
/// as stale (not a second winner), and the others are aborted.
#[wasm_bindgen_test]
async fn in_a_race_an_answer_landing_with_the_winner_is_discarded() {
    use futures::FutureExt;
    // Requests 2 and 3 are answered by one timer, so both answers arrive in the same poll.
    let together = TimeoutFuture::new(20).shared();
    let events = Rc::new(RefCell::new(Vec::new()));
    let sink_events = Rc::clone(&events);
    let env = Env {
        transport: Rc::new(move |call: AttemptCall, signal: web_sys::AbortSignal| {
            let together = together.clone();
            Box::pin(async move {
                let result = if matches!(call.seq, 2 | 3) {
                    together.await;
                    Ok(EchoAnswer {
                        status: 200,
                        bytes: 10,
                        server_delay_ms: 20,
                        server_timing: None,
                    })
                } else {
                    while !signal.aborted() {
                        TimeoutFuture::new(5).await;
                    }
                    Err(ApiError::Aborted)
                };
                AttemptAnswer {
                    entry: None,
                    result,
                    sent_at: None,
                    first_byte_at: None,
                }
            })
        }),
        sink: Rc::new(move |event| sink_events.borrow_mut().push(event)),
        now: Rc::new(frontend::frame::now_ms),
        random: Rc::new(|| 0.0),
    };
    let run = Run {
        id: 1,
        first_seq: 1,
        settings: settings(5, Strategy::Race),
        origin: None,
    };

    engine::run(run, env, CancellationToken::new()).await;

    let model = model_from(events.take());
    assert_eq!(
        outcomes(&model),
        [
            Outcome::Aborted,
            Outcome::Applied,
            Outcome::StaleDiscarded,
            Outcome::Aborted,
            Outcome::Aborted
        ]
    );
    let summary = model.summary(0.0);
    assert_eq!(
        (
            summary.ok,
            summary.discarded,
            summary.aborted,
            summary.done()
        ),
        (1, 1, 3, 5)
    );
}

/// The page keeps a run's token only while the run goes; Cancel all reaches the runs going.
#[wasm_bindgen_test]
async fn runs_are_forgotten_when_they_end_and_cancel_all_stops_those_going() {
    let network = MockNetwork::default();
    let runs = Rc::new(Runs::default());
    let events = Rc::new(RefCell::new(Vec::new()));
    let run = |id, delay| Run {
        id,
        first_seq: u64::from(id) * 100,
        settings: RunSettings {
            echo: protocol::lab::EchoRequest {
                delay_ms: delay,
                ..RunSettings::default().echo
            },
            ..settings(2, Strategy::AllAtOnce)
        },
        origin: None,
    };

    let ended = runs
        .run(run(1, 0), network.env(always_ok(10), Rc::clone(&events)))
        .await;
    assert!(ended, "it ran to its end");
    assert_eq!(runs.going(), 0, "a finished run is forgotten");

    let going = Rc::clone(&runs);
    let env = network.env(always_ok(60_000), Rc::clone(&events));
    let long =
        wasm_bindgen_futures::JsFuture::from(wasm_bindgen_futures::future_to_promise(async move {
            let ended = going.run(run(2, 60_000), env).await;
            Ok(wasm_bindgen::JsValue::from_bool(ended))
        }));
    TimeoutFuture::new(30).await;
    assert_eq!(runs.going(), 1);
    runs.cancel_all();
    let ended = long.await.expect("the run ends");
    assert_eq!(ended.as_bool(), Some(false), "it was cancelled");
    assert_eq!(runs.going(), 0);
    let model = model_from(events.take());
    assert_eq!(
        outcomes(&model),
        [
            Outcome::Applied,
            Outcome::Applied,
            Outcome::Aborted,
            Outcome::Aborted
        ]
    );
}

#[wasm_bindgen_test]
async fn a_slow_attempt_times_out() {
    let network = MockNetwork::default();
    let settings = RunSettings {
        timeout_ms: Some(40),
        ..settings(3, Strategy::AllAtOnce)
    };
    let model = run_with(
        &network,
        settings,
        always_ok(1_000),
        CancellationToken::new(),
    )
    .await;

    assert_eq!(outcomes(&model), vec![Outcome::TimedOut; 3]);
    assert_eq!(network.aborts_seen.get(), 3);
}

#[wasm_bindgen_test]
async fn retryable_failures_are_retried_each_as_its_own_attempt() {
    let network = MockNetwork::default();
    // The first two attempts of every request get 503, the third succeeds.
    let script: Script = Rc::new(|_, attempt| (5, if attempt < 3 { Err(503) } else { Ok(()) }));
    let settings = RunSettings {
        retry: RetryPolicy {
            max_retries: 2,
            ..RetryPolicy::OFF
        },
        ..settings(2, Strategy::AllAtOnce)
    };
    let model = run_with(&network, settings, script, CancellationToken::new()).await;

    for request in model.requests() {
        let attempts: Vec<Outcome> = request
            .attempts
            .iter()
            .map(|a| a.report.as_ref().map_or(Outcome::InFlight, |r| r.outcome))
            .collect();
        assert_eq!(
            attempts,
            [Outcome::Retried, Outcome::Retried, Outcome::Applied]
        );
        assert_eq!(request.outcome, Outcome::Applied);
    }
    assert_eq!(network.calls.borrow().len(), 6);
    assert_eq!(model.summary(0.0).retries, 4);
}

#[wasm_bindgen_test]
async fn a_validation_error_is_not_retried() {
    let network = MockNetwork::default();
    let script: Script = Rc::new(|_, _| (5, Err(422)));
    let settings = RunSettings {
        retry: RetryPolicy {
            max_retries: 3,
            ..RetryPolicy::OFF
        },
        ..settings(1, Strategy::AllAtOnce)
    };
    let model = run_with(&network, settings, script, CancellationToken::new()).await;

    assert_eq!(outcomes(&model), [Outcome::Failed]);
    assert_eq!(network.calls.borrow().len(), 1);
}

#[wasm_bindgen_test]
async fn cancelling_aborts_what_is_in_flight_and_never_sends_what_is_queued() {
    let network = MockNetwork::default();
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    wasm_bindgen_futures::spawn_local(async move {
        TimeoutFuture::new(50).await;
        canceller.cancel();
    });

    let model = run_with(
        &network,
        settings(5, Strategy::OneByOne),
        always_ok(10_000),
        cancel,
    )
    .await;

    assert_eq!(outcomes(&model), vec![Outcome::Aborted; 5]);
    assert_eq!(
        network.calls.borrow().len(),
        1,
        "only the first was ever sent"
    );
    assert_eq!(network.aborts_seen.get(), 1);
    assert_eq!(model.summary(0.0).queued, 0);
}

// ---- The waterfall's layout ---------------------------------------------------------------

fn model_from(events: Vec<LabEvent>) -> LabModel {
    let mut model = LabModel::default();
    for event in events {
        model.apply(event);
    }
    model
}

fn ended(
    seq: u64,
    attempt: u32,
    at: f64,
    outcome: Outcome,
    sent_at: Option<f64>,
    first_byte_at: Option<f64>,
) -> LabEvent {
    LabEvent::AttemptEnded {
        seq,
        attempt,
        at,
        report: engine::AttemptReport {
            outcome,
            entry: None,
            status: Some(200),
            bytes: Some(0),
            server_delay_ms: None,
            server_timing: None,
            sent_at,
            protocol: None,
            first_byte_at,
            error: None,
            backoff_ms: None,
        },
    }
}

/// Two requests of one run, both sent at 0.
fn two_in_flight() -> Vec<LabEvent> {
    vec![
        LabEvent::Queued {
            seq: 1,
            run: 1,
            at: 0.0,
            race: false,
        },
        LabEvent::Queued {
            seq: 2,
            run: 1,
            at: 0.0,
            race: false,
        },
        started(1, 1, 0.0),
        started(2, 1, 0.0),
    ]
}

fn started(seq: u64, attempt: u32, at: f64) -> LabEvent {
    LabEvent::AttemptStarted {
        seq,
        attempt,
        at,
        method: frontend::lab::settings::EchoMethod::Get,
        address: format!("/api/lab/echo?seq={seq}"),
    }
}

#[wasm_bindgen_test]
fn rows_fit_the_target_height_within_bounds() {
    assert_eq!(row_height(1), 18.0);
    assert_eq!(row_height(100), 4.2);
    assert_eq!(row_height(1_000), 0.42);
    assert_eq!(row_height(5_000), 0.4);
}

#[wasm_bindgen_test]
fn each_phase_of_a_request_is_a_segment_in_time_order() {
    let model = model_from(vec![
        LabEvent::Queued {
            seq: 1,
            run: 1,
            at: 0.0,
            race: false,
        },
        started(1, 1, 100.0),
        ended(1, 1, 900.0, Outcome::Retried, Some(300.0), Some(800.0)),
        started(1, 2, 1_000.0),
        ended(1, 2, 2_000.0, Outcome::Applied, None, Some(1_900.0)),
        LabEvent::Finished {
            seq: 1,
            at: 2_000.0,
            outcome: Outcome::Applied,
        },
    ]);
    let request = &model.requests()[0];
    let layout = Layout::fit(model.requests(), 5_000.0, 1_000.0);
    assert_eq!(
        (layout.start_ms, layout.span_ms),
        (0.0, 2_000.0),
        "ends at the last answer"
    );

    let segments: Vec<(f64, f64, Phase)> = layout
        .segments(request, 5_000.0)
        .into_iter()
        .map(|s| (s.x0, s.x1, s.phase))
        .collect();
    assert_eq!(
        segments,
        [
            (0.0, 50.0, Phase::Queued),
            (50.0, 150.0, Phase::Stalled),
            (150.0, 400.0, Phase::Waiting),
            (400.0, 450.0, Phase::Reading),
            (450.0, 500.0, Phase::Backoff),
            (500.0, 950.0, Phase::Waiting),
            (950.0, 1_000.0, Phase::Reading),
        ]
    );
    let caps: Vec<(f64, Outcome)> = layout
        .caps(request)
        .into_iter()
        .map(|c| (c.x, c.outcome))
        .collect();
    assert_eq!(
        caps,
        [(450.0, Outcome::Retried), (1_000.0, Outcome::Applied)]
    );
}

#[wasm_bindgen_test]
fn a_bar_in_flight_grows_to_now_and_a_click_finds_its_row() {
    let mut model = model_from(vec![
        LabEvent::Queued {
            seq: 7,
            run: 1,
            at: 1_000.0,
            race: false,
        },
        LabEvent::Queued {
            seq: 8,
            run: 1,
            at: 1_000.0,
            race: false,
        },
        started(7, 1, 1_000.0),
    ]);
    model.note_connections(6);
    let layout = Layout::fit(model.requests(), 3_000.0, 500.0);
    let growing = layout.segments(&model.requests()[0], 3_000.0);
    assert_eq!(
        growing.last().map(|s| (s.x1, s.phase)),
        Some((layout.x(3_000.0), Phase::Waiting))
    );
    assert!(
        layout.x(3_000.0) < 500.0,
        "in flight, the axis reaches beyond now"
    );
    let queued = layout.segments(&model.requests()[1], 3_000.0);
    assert_eq!(
        queued.iter().map(|s| s.phase).collect::<Vec<_>>(),
        [Phase::Queued]
    );

    assert_eq!(layout.row_at(1.0), Some(0));
    assert_eq!(layout.row_at(layout.row_height + 1.0), Some(1));
    assert_eq!(layout.row_at(layout.row_height * 2.0 + 1.0), None);
    assert_eq!(layout.row_at(-1.0), None);
}

#[wasm_bindgen_test]
fn in_flight_the_axis_grows_in_steps_and_fits_the_run_once_it_is_over() {
    let mut model = model_from(vec![
        LabEvent::Queued {
            seq: 1,
            run: 1,
            at: 500.0,
            race: false,
        },
        started(1, 1, 500.0),
    ]);
    let span_at = |model: &LabModel, now: f64| Layout::fit(model.requests(), now, 800.0).span_ms;
    // At least a second; then each step half again the last, always beyond now.
    assert_eq!(span_at(&model, 900.0), MIN_SPAN_MS);
    let mut step = MIN_SPAN_MS;
    let mut steps = vec![step];
    for now in (1_000..60_000).step_by(7) {
        let span = span_at(&model, f64::from(now));
        let needed = f64::from(now) - 500.0;
        assert!(span >= needed, "now is on the axis at {now} ms");
        if span != step {
            assert_eq!(span, step * AXIS_STEP, "one step at a time");
            step = span;
            steps.push(span);
        }
    }
    assert_eq!(
        steps.len() - 1,
        11,
        "eleven rescales in a minute, not one per frame: {steps:?}"
    );
    // Between two steps a finished row does not move.
    model.apply(LabEvent::Queued {
        seq: 2,
        run: 1,
        at: 500.0,
        race: false,
    });
    model.apply(started(2, 1, 600.0));
    model.apply(ended(
        2,
        1,
        1_200.0,
        Outcome::Applied,
        Some(650.0),
        Some(1_100.0),
    ));
    model.apply(LabEvent::Finished {
        seq: 2,
        at: 1_200.0,
        outcome: Outcome::Applied,
    });
    let row = |now: f64| {
        let layout = Layout::fit(model.requests(), now, 800.0);
        (
            layout.segments(&model.requests()[1], now),
            layout.caps(&model.requests()[1]),
        )
    };
    assert_eq!(row(1_600.0), row(1_900.0));
    assert_ne!(row(1_900.0), row(2_100.0), "the step at 1.5 s");
    // Over: the axis ends at the last answer.
    model.apply(ended(
        1,
        1,
        4_000.0,
        Outcome::Applied,
        Some(510.0),
        Some(3_900.0),
    ));
    model.apply(LabEvent::Finished {
        seq: 1,
        at: 4_000.0,
        outcome: Outcome::Applied,
    });
    let layout = Layout::fit(model.requests(), 9_000.0, 800.0);
    assert_eq!((layout.start_ms, layout.span_ms), (500.0, 3_500.0));
    assert_eq!(layout.x(4_000.0), 800.0);
}

#[wasm_bindgen_test]
fn a_request_settles_once_over_and_its_browser_timing_is_known_or_given_up_on() {
    let mut model = model_from(two_in_flight());
    let settled = |model: &LabModel| {
        model
            .requests()
            .iter()
            .map(|r| r.is_settled())
            .collect::<Vec<_>>()
    };
    assert_eq!(settled(&model), [false, false], "in flight");
    for seq in [1, 2] {
        model.apply(ended(seq, 1, 900.0, Outcome::Applied, None, Some(800.0)));
    }
    assert_eq!(settled(&model), [false, false], "ended, not yet finished");
    for seq in [1, 2] {
        model.apply(LabEvent::Finished {
            seq,
            at: 900.0,
            outcome: Outcome::Applied,
        });
    }
    assert_eq!(settled(&model), [false, false], "its timing may still come");
    // The browser has a timing entry for the first only.
    let lookup = |address: &str| {
        address.ends_with("seq=1").then(|| EchoTiming {
            request_start: 20.0,
            protocol: Some("http/1.1".to_owned()),
        })
    };
    assert!(model.fill_sent_times(lookup));
    assert_eq!(settled(&model), [true, false]);
    for _ in 0..20 {
        model.fill_sent_times(lookup);
    }
    assert_eq!(
        settled(&model),
        [true, true],
        "given up on after a few frames"
    );
}

#[wasm_bindgen_test]
fn a_rows_lines_hold_every_rectangle_drawn_for_it() {
    // Rows of many heights, at one and two device pixels per CSS pixel: whatever `PixelRects`
    // makes of a rectangle inside a row stays on that row's lines (the canvas clears and
    // redraws rows by their lines).
    for rows in [1, 7, 23, 24, 60, 100, 333, 999, 1_000, 1_049, 5_000] {
        for ratio in [1.0, 1.25, 2.0] {
            let layout = Layout {
                start_ms: 0.0,
                span_ms: 1_000.0,
                width: 300.0,
                row_height: row_height(rows),
                rows,
            };
            let h = layout.row_height;
            for row in (0..rows).step_by(rows.div_ceil(50)) {
                let top = layout.row_top(row);
                let (from, to) = layout.row_lines(row, ratio);
                for (y, height) in [
                    (top, h),
                    (top, (h - 1.0).max(h.min(1.0))),
                    (top + h * 0.4, h * 0.2),
                    (top + h * 0.999, h * 0.001),
                ] {
                    let mut rects = PixelRects::default();
                    rects.add([3.0, y, 10.0, height], ratio);
                    let rect = rects.rects()[0];
                    assert!(
                        rect.y0 >= from && rect.y1 <= to,
                        "{rows} rows at {ratio}×: row {row} on lines {from}..{to}, drew {rect:?}"
                    );
                }
            }
        }
    }
}

#[wasm_bindgen_test]
fn beyond_six_in_flight_a_request_waits_for_a_connection_until_one_is_free() {
    let mut events = Vec::new();
    for seq in 1..=8 {
        events.push(LabEvent::Queued {
            seq,
            run: 1,
            at: 0.0,
            race: false,
        });
        events.push(started(seq, 1, seq as f64));
    }
    let mut model = model_from(events);
    assert!(model.note_connections(6), "the six oldest got a connection");
    let phases = |model: &LabModel, seq: usize, now: f64| -> Vec<(f64, f64, Phase)> {
        let layout = Layout {
            start_ms: 0.0,
            span_ms: 1_000.0,
            width: 1_000.0,
            row_height: 1.0,
            rows: 8,
        };
        layout
            .segments(&model.requests()[seq - 1], now)
            .into_iter()
            .map(|s| (s.x0, s.x1, s.phase))
            .collect()
    };
    assert_eq!(
        phases(&model, 6, 100.0),
        [(0.0, 6.0, Phase::Queued), (6.0, 100.0, Phase::Waiting)]
    );
    assert_eq!(
        phases(&model, 7, 100.0),
        [(0.0, 7.0, Phase::Queued), (7.0, 100.0, Phase::Stalled)],
        "the seventh waits for a connection, growing"
    );

    // The first answer frees its connection at 400 ms: the seventh takes it, the eighth waits on.
    model.apply(ended(1, 1, 400.0, Outcome::Applied, None, Some(390.0)));
    assert!(model.note_connections(6));
    assert!(!model.note_connections(6), "nothing new on the next frame");
    assert_eq!(
        phases(&model, 7, 500.0),
        [
            (0.0, 7.0, Phase::Queued),
            (7.0, 400.0, Phase::Stalled),
            (400.0, 500.0, Phase::Waiting)
        ]
    );
    assert_eq!(
        phases(&model, 8, 500.0).last().map(|s| s.2),
        Some(Phase::Stalled)
    );

    // Aborted while still waiting: it waited for a connection all along.
    let mut aborted = ended(8, 1, 600.0, Outcome::Aborted, None, None);
    if let LabEvent::AttemptEnded { report, .. } = &mut aborted {
        report.status = None;
    }
    model.apply(aborted);
    assert_eq!(
        phases(&model, 8, 700.0),
        [(0.0, 8.0, Phase::Queued), (8.0, 600.0, Phase::Stalled)]
    );
    // The browser's exact time, once it has it, wins over the estimate.
    model.apply(ended(
        7,
        1,
        800.0,
        Outcome::Applied,
        Some(450.0),
        Some(790.0),
    ));
    assert_eq!(phases(&model, 7, 900.0)[1], (7.0, 450.0, Phase::Stalled));
}

// ---- The summary ----------------------------------------------------------------------------

#[wasm_bindgen_test]
fn percentiles_are_nearest_rank() {
    let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(percentile(&sorted, 50.0), Some(50.0));
    assert_eq!(percentile(&sorted, 95.0), Some(95.0));
    assert_eq!(percentile(&sorted, 100.0), Some(100.0));
    assert_eq!(percentile(&[7.0], 50.0), Some(7.0));
    assert_eq!(percentile(&[], 50.0), None);
}

#[wasm_bindgen_test]
fn the_histogram_puts_every_value_in_a_bin() {
    let bins = histogram(&[0.0, 10.0, 50.0, 99.0, 100.0], 4);
    let counts: Vec<usize> = bins.iter().map(|b| b.count).collect();
    assert_eq!(counts, [2, 0, 1, 2]);
    assert_eq!((bins[0].from_ms, bins[3].to_ms), (0.0, 100.0));
    assert_eq!(histogram(&[], 3).iter().map(|b| b.count).sum::<usize>(), 0);
}

#[wasm_bindgen_test]
fn the_summary_shows_the_gain_from_concurrency() {
    // Two requests of 1 s each, side by side: 2 s of work in 1 s of wall time.
    let model = model_from(
        [
            two_in_flight(),
            vec![
                ended(2, 1, 1_000.0, Outcome::Applied, None, None),
                LabEvent::Finished {
                    seq: 2,
                    at: 1_000.0,
                    outcome: Outcome::Applied,
                },
                ended(1, 1, 1_000.0, Outcome::Failed, None, None),
                LabEvent::Finished {
                    seq: 1,
                    at: 1_000.0,
                    outcome: Outcome::Failed,
                },
            ],
        ]
        .concat(),
    );
    let summary = model.summary(5_000.0);
    assert_eq!((summary.ok, summary.failed, summary.done()), (1, 1, 2));
    assert_eq!((summary.wall_ms, summary.sum_ms), (1_000.0, 2_000.0));
    assert_eq!(summary.gain(), Some(2.0));
    assert_eq!(
        summary.latencies,
        [1_000.0],
        "only successes count for latency"
    );
    assert_eq!(model.arrivals(), [2, 1]);
}

/// Eight requests of 1 s each, all at once: the last two wait 1 s for one of the six
/// connections. One by one takes 8 s of time on a connection, not the 10 s their latencies add
/// up to; and a race claims no gain, nor a run where nothing succeeded.
#[wasm_bindgen_test]
fn the_gain_counts_time_on_a_connection_not_waiting_for_one_and_a_race_claims_none() {
    let events = |race: bool, outcome: Outcome| -> Vec<LabEvent> {
        let mut events = Vec::new();
        for seq in 1..=8u64 {
            events.push(LabEvent::Queued {
                seq,
                run: 1,
                at: 0.0,
                race,
            });
            events.push(started(seq, 1, 0.0));
        }
        for seq in 1..=8u64 {
            // The browser's account: the last two got a connection at 1 s.
            let (sent, end) = if seq <= 6 {
                (0.0, 1_000.0)
            } else {
                (1_000.0, 2_000.0)
            };
            events.push(ended(seq, 1, end, outcome, Some(sent), None));
            events.push(LabEvent::Finished {
                seq,
                at: end,
                outcome,
            });
        }
        events
    };
    let summary = model_from(events(false, Outcome::Applied)).summary(5_000.0);
    assert_eq!((summary.wall_ms, summary.sum_ms), (2_000.0, 8_000.0));
    assert_eq!(summary.gain(), Some(4.0));
    assert_eq!(summary.connection_wait(100.0), Some(1_000.0));

    let raced = model_from(events(true, Outcome::Applied)).summary(5_000.0);
    assert_eq!(raced.gain(), None, "a race's requests are alternatives");
    let failed = model_from(events(false, Outcome::Failed)).summary(5_000.0);
    assert_eq!(failed.gain(), None, "nothing succeeded");
}

// ---- Pacing: a time budget per animation frame ----------------------------------------------

/// Busy for `ms` of main-thread time, as a `fetch` call is.
fn busy(ms: f64) {
    let until = frontend::frame::now_ms() + ms;
    while frontend::frame::now_ms() < until {}
}

#[wasm_bindgen_test]
async fn sends_leave_in_order_within_each_frames_budget() {
    use frontend::lab::pacer::{SEND_BUDGET_MS, frames_opened, send_turn};
    const SEND_COST_MS: f64 = 1.5;
    let sent = Rc::new(RefCell::new(Vec::new()));
    let sends = (0..30).map(|i| {
        let sent = Rc::clone(&sent);
        async move {
            send_turn().await;
            sent.borrow_mut()
                .push((i, frames_opened(), frontend::frame::now_ms()));
            busy(SEND_COST_MS);
        }
    });
    futures::future::join_all(sends).await;

    let sent = sent.take();
    let order: Vec<i32> = sent.iter().map(|(i, _, _)| *i).collect();
    assert_eq!(
        order,
        (0..30).collect::<Vec<_>>(),
        "first asked, first sent"
    );
    let mut by_frame: Vec<(u64, Vec<f64>)> = Vec::new();
    for (_, frame, at) in sent {
        match by_frame.last_mut() {
            Some((f, starts)) if *f == frame => starts.push(at),
            _ => by_frame.push((frame, vec![at])),
        }
    }
    let most = (SEND_BUDGET_MS / SEND_COST_MS).ceil() as usize;
    for (frame, starts) in &by_frame {
        assert!(
            starts.len() <= most,
            "frame {frame} sent {} (at most {most} fit in {SEND_BUDGET_MS} ms)",
            starts.len()
        );
        let span = starts[starts.len() - 1] - starts[0];
        assert!(
            span < SEND_BUDGET_MS,
            "frame {frame}: sends started over {span} ms"
        );
    }
    assert!(by_frame.len() >= 30 / most, "{} frames", by_frame.len());
}

#[wasm_bindgen_test]
async fn a_waiter_that_is_dropped_does_not_stall_those_behind_it() {
    use frontend::lab::pacer::{SEND_BUDGET_MS, send_turn};
    // Take this frame's window and use it up, so the next caller has to wait in line.
    send_turn().await;
    busy(SEND_BUDGET_MS + 1.0);
    // Asks for a turn, then is dropped while waiting (as when its run is dropped).
    let dropped = futures::future::select(Box::pin(send_turn()), std::future::ready(())).await;
    assert!(
        matches!(dropped, futures::future::Either::Right(_)),
        "it had to wait"
    );
    let behind = (0..3).map(|_| send_turn());
    let finished = futures::future::select(
        Box::pin(futures::future::join_all(behind)),
        TimeoutFuture::new(2_000),
    )
    .await;
    assert!(
        matches!(finished, futures::future::Either::Left(_)),
        "the three behind it were never sent"
    );
}

#[wasm_bindgen_test]
fn rows_thinner_than_a_pixel_that_look_alike_are_painted_as_one_rectangle() {
    // A thousand rows in 420 px, all queued since the same moment: one fill, not a thousand.
    let mut rects = PixelRects::default();
    let row = row_height(1000);
    for i in 0..1000 {
        rects.add([10.0, i as f64 * row, 600.0, row], 1.0);
    }
    assert_eq!(
        rects.rects(),
        [PixelRect {
            x0: 10,
            y0: 0,
            x1: 610,
            y1: 420
        }]
    );
}

#[wasm_bindgen_test]
fn rows_that_differ_stay_apart_and_nothing_shrinks_below_a_device_pixel() {
    let mut rects = PixelRects::default();
    // Same edges but a row apart: not merged (the gap between tall rows stays).
    rects.add([0.0, 0.0, 50.0, 17.0], 1.0);
    rects.add([0.0, 18.0, 50.0, 17.0], 1.0);
    // Different right edge: its own rectangle.
    rects.add([0.0, 36.0, 40.0, 17.0], 1.0);
    // A sliver (a 0.2 px bar, a 0.1 px row) still shows as one device pixel each way.
    rects.add([100.2, 60.0, 0.2, 0.1], 1.0);
    // Twice the pixels on a high-density screen.
    rects.add([1.0, 80.0, 2.0, 3.0], 2.0);
    assert_eq!(
        rects.rects(),
        [
            PixelRect {
                x0: 0,
                y0: 0,
                x1: 50,
                y1: 17
            },
            PixelRect {
                x0: 0,
                y0: 18,
                x1: 50,
                y1: 35
            },
            PixelRect {
                x0: 0,
                y0: 36,
                x1: 40,
                y1: 53
            },
            PixelRect {
                x0: 100,
                y0: 60,
                x1: 101,
                y1: 61
            },
            PixelRect {
                x0: 2,
                y0: 160,
                x1: 6,
                y1: 166
            },
        ]
    );
}

/// The comparison of the protocols: two runs side by side. Over HTTP/2 (a run that shares one
/// connection) a request waits only for a stream of it; each run's summary is its own, with the
/// protocol its answers came over.
#[wasm_bindgen_test]
fn two_runs_are_summed_up_apart_and_one_over_a_shared_connection_waits_only_for_a_stream() {
    let mut events = Vec::new();
    for (run, seqs) in [(1, 1..=8), (2, 11..=18)] {
        for seq in seqs {
            events.push(LabEvent::Queued {
                seq,
                run,
                at: 0.0,
                race: false,
            });
            events.push(started(seq, 1, 0.0));
        }
    }
    let mut model = model_from(events);
    model.shares_one_connection(2, 7);
    assert!(model.note_connections(6));
    let estimated = |model: &LabModel, run: u32| {
        model
            .requests()
            .iter()
            .filter(|r| r.run == run && r.attempts[0].slot_at.is_some())
            .count()
    };
    assert_eq!(
        estimated(&model, 1),
        6,
        "six of HTTP/1.1's got a connection"
    );
    assert_eq!(estimated(&model, 2), 7, "HTTP/2's: seven of its streams");

    for seq in (1..=8).chain(11..=18) {
        model.apply(ended(seq, 1, 1_000.0, Outcome::Applied, None, Some(990.0)));
        model.apply(LabEvent::Finished {
            seq,
            at: 1_000.0,
            outcome: Outcome::Applied,
        });
    }
    // The browser's timing: over HTTP/1.1 the last two left after 500 ms; over HTTP/2 at once.
    model.fill_sent_times(|address: &str| {
        let seq: u64 = address
            .rsplit("seq=")
            .next()?
            .split('&')
            .next()?
            .parse()
            .ok()?;
        Some(EchoTiming {
            request_start: if seq == 7 || seq == 8 { 500.0 } else { 1.0 },
            protocol: Some(if seq < 10 { "http/1.1" } else { "h2" }.to_owned()),
        })
    });
    let http1 = model.summary_of_run(1, 2_000.0);
    let http2 = model.summary_of_run(2, 2_000.0);
    assert_eq!((http1.ok, http2.ok), (8, 8));
    assert_eq!(http1.protocols.iter().collect::<Vec<_>>(), ["http/1.1"]);
    assert_eq!(http2.protocols.iter().collect::<Vec<_>>(), ["h2"]);
    assert_eq!(http1.connection_wait(100.0), Some(500.0));
    assert_eq!(http2.connection_wait(100.0), Some(1.0));
    assert_eq!(model.summary(2_000.0).ok, 16, "the whole is both");
}

/// The comparison's sentence: once both runs are over, the waits for a connection side by side;
/// when no request to the HTTP/1.1 port was answered, most likely a certificate the browser has
/// not accepted there, what to do.
#[wasm_bindgen_test]
fn the_comparison_says_what_the_two_runs_came_to_or_what_to_do() {
    use frontend::lab::compare::verdict;
    use frontend::lab::model::Summary;
    let run = |ok: usize, failed: usize, waits: Vec<f64>, wall_ms: f64| Summary {
        ok,
        failed,
        connection_waits: waits,
        wall_ms,
        ..Summary::default()
    };
    let http1 = run(3, 0, vec![0.0, 900.0, 1_800.0], 2_900.0);
    let http2 = run(3, 0, vec![1.0, 2.0, 3.0], 1_000.0);
    let said = verdict(&http1, &http2).expect("both over");
    assert!(said.contains("waited 900 ms or more"), "{said}");
    assert!(said.contains("over HTTP/2, 2 ms"), "{said}");
    assert!(said.contains("from 2900 ms to 1000 ms"), "{said}");

    let going = Summary {
        in_flight: 1,
        ..http2.clone()
    };
    assert_eq!(verdict(&http1, &going), None, "not while the second runs");

    let refused = run(0, 3, Vec::new(), 10.0);
    let said = verdict(&refused, &Summary::default()).expect("what to do");
    assert!(said.contains("accept"), "{said}");
}
