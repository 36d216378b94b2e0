//! The Lab (`/lab`): fire many JSON requests with chosen latency, jitter, failure rate and size;
//! schedule them by a strategy; retry with backoff; cancel them; and watch the waterfall while the
//! heartbeat keeps ticking. Engine events are applied once per animation frame, so a thousand
//! answers landing together cost one redraw, not a thousand.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::lab::{EchoRequest, LabStats};

use crate::api;
use crate::components::block::BlockThePage;
use crate::components::waterfall::{Waterfall, outcome_colour, phase_colour};
use crate::inspector::{Outcome, now_ms};
use crate::lab::engine::{self, Cancel, Env, LabEvent, Run};
use crate::lab::model::{LabModel, Request, Summary, histogram};
use crate::lab::settings::{EchoMethod, RetryPolicy, RunSettings, Strategy};
use crate::lab::waterfall::Phase;

/// The browser allows this many HTTP/1.1 connections per host; more requests wait for one.
const CONNECTIONS_PER_HOST: usize = 6;

#[component]
pub fn Lab() -> impl IntoView {
    let form = Form::new();
    let model = StoredValue::new_local(LabModel::default());
    let pending = StoredValue::new_local(Vec::<LabEvent>::new());
    let runs = StoredValue::new_local(Vec::<Cancel>::new());
    let next_seq = StoredValue::new_local(1u64);
    let next_run = StoredValue::new_local(1u32);
    let frame = RwSignal::new(0u64);
    let arrived = RwSignal::new(0usize);
    let selected = RwSignal::new(None::<u64>);
    let server_stats = RwSignal::new(None::<Result<LabStats, String>>);

    prepare_resource_timing();
    start_frame_loop(model, pending, frame, arrived);

    let start = move |_| {
        let Ok(settings) = form.settings() else {
            return;
        };
        let first_seq = next_seq.get_value();
        next_seq.set_value(first_seq + u64::from(settings.count));
        let id = next_run.get_value();
        next_run.set_value(id + 1);
        let cancel = Cancel::default();
        runs.update_value(|runs| runs.push(cancel.clone()));
        let sink: engine::Sink = Rc::new(move |event| pending.update_value(|p| p.push(event)));
        let run = Run {
            id,
            first_seq,
            settings,
        };
        spawn_local(engine::run(run, Env::browser(sink), cancel));
    };
    let cancel_all = move || {
        let cancels = runs.try_update_value(std::mem::take).unwrap_or_default();
        for cancel in cancels {
            cancel.cancel();
        }
    };
    // Leaving the Lab cancels what it started: nobody is left to see the answers.
    on_cleanup(cancel_all);
    let clear = move |_| {
        model.update_value(LabModel::clear);
        crate::frame_cost::reset();
        selected.set(None);
        arrived.set(0);
        if let Some(performance) = window().performance() {
            performance.clear_resource_timings();
        }
        frame.update(|f| *f += 1);
    };
    let refresh_stats = move |_| {
        spawn_local(async move {
            let stats = api::get_json::<LabStats>("/api/lab/stats", None)
                .await
                .map_err(|e| e.to_string());
            server_stats.set(Some(stats));
        });
    };
    let summary = Memo::new(move |_| {
        frame.track();
        model.with_value(|m| m.summary(now_ms()))
    });

    view! {
        <section class="page lab">
            <h1>"The Lab"</h1>
            <p class="lede">
                "Fire many requests at the echo endpoint and watch them leave, wait, and come back — "
                "out of order, sometimes failing — while the page keeps ticking. The server waits "
                "on a timer, not a thread, so a thousand waiting requests cost it almost nothing."
            </p>

            <LabControls form=form/>
            <div class="lab-actions">
                <button type="button" data-testid="lab-start" on:click=start disabled=move || form.settings().is_err()>
                    "Start"
                </button>
                <button type="button" class="secondary" data-testid="lab-cancel" on:click=move |_| cancel_all()>"Cancel all"</button>
                <button type="button" class="quiet" data-testid="lab-clear" on:click=clear>"Clear"</button>
                <BlockThePage/>
            </div>
            <p class="form-error" role="alert">{move || form.settings().err()}</p>
            <p class="explain">
                "Start may be pressed again while a run is going: runs overlap. " <strong>"Cancel all"</strong>
                " aborts every request in flight with its AbortController — the browser closes the "
                "connection and the server counts the request as abandoned — and stops those still queued "
                "or backing off. " <strong>"Block the page"</strong> " freezes the main thread for a second: "
                "the heartbeat stops, the bars stop growing. Waiting never does that."
            </p>

            <LabSummary summary=summary/>

            <h2>"Waterfall"</h2>
            <p class="explain">
                "One bar per request, in the order they were created; time runs left to right. A request waits "
                "for its strategy (queued), then for one of the " {CONNECTIONS_PER_HOST}
                " connections the browser opens to one host over HTTP/1.1, then for the server's first byte, "
                "then reads the answer. The mark at the end of each attempt is its outcome. Click a bar for its details. "
                "While requests are in flight the page estimates who holds a connection (the browser hands them out "
                "first come, first served); once an answer is in, the browser's resource timing gives the exact wait."
            </p>
            <Legend/>
            <Waterfall model=model frame=frame selected=selected/>
            <RequestDetails model=model frame=frame selected=selected/>

            <h2>"Arrivals"</h2>
            <p class="explain">"Sequence numbers in the order the answers came back: rarely the order they were sent."</p>
            <Arrivals model=model arrived=arrived/>

            <h2>"On the server"</h2>
            <p class="explain">
                "What the echo endpoint counted since it started: answers served, failures it injected, "
                "and requests whose client went away before the answer (every abort above)."
            </p>
            <button type="button" class="secondary" data-testid="lab-stats-refresh" on:click=refresh_stats>
                "Ask the server"
            </button>
            <p class="server-stats" data-testid="lab-server-stats">
                {move || server_stats.get().map(|stats| match stats {
                    Ok(s) => format!(
                        "served {} · failed on purpose {} · abandoned by the client {} · waiting now {}",
                        s.served, s.failed_injected, s.abandoned, s.in_flight
                    ),
                    Err(error) => format!("No answer: {error}"),
                })}
            </p>
        </section>
    }
}

/// The form's fields, each its own signal; [`Form::settings`] reads them as [`RunSettings`].
#[derive(Clone, Copy)]
struct Form {
    count: RwSignal<String>,
    delay_ms: RwSignal<String>,
    jitter_ms: RwSignal<String>,
    fail_rate: RwSignal<String>,
    bytes: RwSignal<String>,
    method: RwSignal<String>,
    strategy: RwSignal<String>,
    at_most: RwSignal<String>,
    timeout_ms: RwSignal<String>,
    retries: RwSignal<String>,
}

impl Form {
    fn new() -> Self {
        let defaults = RunSettings::default();
        let text = |value: String| RwSignal::new(value);
        Self {
            count: text(defaults.count.to_string()),
            delay_ms: text(defaults.echo.delay_ms.to_string()),
            jitter_ms: text(defaults.echo.jitter_ms.to_string()),
            fail_rate: text(defaults.echo.fail_rate.to_string()),
            bytes: text(defaults.echo.bytes.to_string()),
            method: text("get".into()),
            strategy: text("all".into()),
            at_most: text("3".into()),
            timeout_ms: text(String::new()),
            retries: text("0".into()),
        }
    }

    fn settings(&self) -> Result<RunSettings, String> {
        let whole = |signal: RwSignal<String>, name: &str| -> Result<u32, String> {
            let text = signal.get();
            text.trim()
                .parse::<u32>()
                .map_err(|_| format!("{name} must be a whole number, not {text:?}."))
        };
        let fail_rate_text = self.fail_rate.get();
        let fail_rate: f64 = fail_rate_text.trim().parse().map_err(|_| {
            format!("Failure rate must be a number from 0 to 1, not {fail_rate_text:?}.")
        })?;
        let strategy = match self.strategy.get().as_str() {
            "one" => Strategy::OneByOne,
            "at-most" => Strategy::AtMost(whole(self.at_most, "N")?),
            "race" => Strategy::Race,
            _ => Strategy::AllAtOnce,
        };
        let timeout_text = self.timeout_ms.get();
        let timeout_ms = if timeout_text.trim().is_empty() {
            None
        } else {
            Some(whole(self.timeout_ms, "Timeout")?)
        };
        let settings = RunSettings {
            count: whole(self.count, "How many")?,
            echo: EchoRequest {
                delay_ms: whole(self.delay_ms, "Delay")?,
                jitter_ms: whole(self.jitter_ms, "Jitter")?,
                fail_rate,
                bytes: whole(self.bytes, "Payload")?,
                seq: None,
            },
            method: if self.method.get() == "post" {
                EchoMethod::Post
            } else {
                EchoMethod::Get
            },
            strategy,
            timeout_ms,
            retry: RetryPolicy {
                max_retries: whole(self.retries, "Retries")?,
                ..RetryPolicy::OFF
            },
        };
        settings.validate()?;
        Ok(settings)
    }
}

#[component]
fn LabControls(form: Form) -> impl IntoView {
    view! {
        <div class="lab-controls">
            <NumberField label="How many" hint="1–1000" value=form.count name="count"/>
            <NumberField label="Delay (ms)" hint="0–30000" value=form.delay_ms name="delay"/>
            <NumberField label="Jitter (± ms)" hint="0–10000" value=form.jitter_ms name="jitter"/>
            <NumberField label="Failure rate" hint="0–1" value=form.fail_rate name="fail-rate"/>
            <NumberField label="Payload (bytes)" hint="0–262144" value=form.bytes name="bytes"/>
            <label class="field">
                <span>"Method"</span>
                <select data-testid="lab-method" on:change=move |e| form.method.set(event_target_value(&e))>
                    <option value="get" selected>"GET (query string)"</option>
                    <option value="post">"POST (JSON body)"</option>
                </select>
            </label>
            <label class="field">
                <span>"Strategy"</span>
                <select data-testid="lab-strategy" on:change=move |e| form.strategy.set(event_target_value(&e))>
                    <option value="all" selected>"All at once"</option>
                    <option value="one">"One after another"</option>
                    <option value="at-most">"At most N at a time"</option>
                    <option value="race">"Race: first success wins"</option>
                </select>
            </label>
            <Show when=move || form.strategy.get() == "at-most">
                <NumberField label="N" hint="1–100" value=form.at_most name="at-most"/>
            </Show>
            <NumberField label="Timeout (ms)" hint="empty: none" value=form.timeout_ms name="timeout"/>
            <NumberField label="Retries" hint="0: off; backoff with full jitter" value=form.retries name="retries"/>
        </div>
    }
}

#[component]
fn NumberField(
    label: &'static str,
    hint: &'static str,
    value: RwSignal<String>,
    name: &'static str,
) -> impl IntoView {
    view! {
        <label class="field">
            <span>{label}</span>
            <input
                type="text"
                inputmode="decimal"
                data-testid=format!("lab-{name}")
                prop:value=move || value.get()
                on:input=move |e| value.set(event_target_value(&e))
            />
            <small>{hint}</small>
        </label>
    }
}

#[component]
fn LabSummary(summary: Memo<Summary>) -> impl IntoView {
    let ms = |value: Option<f64>| value.map_or_else(|| "—".to_owned(), |v| format!("{v:.0} ms"));
    view! {
        <div class="lab-summary" data-testid="lab-summary">
            <dl class="counts">
                <div><dt>"queued"</dt><dd data-testid="sum-queued">{move || summary.with(|s| s.queued)}</dd></div>
                <div><dt>"in flight"</dt><dd data-testid="sum-in-flight">{move || summary.with(|s| s.in_flight)}</dd></div>
                <div><dt>"done"</dt><dd data-testid="sum-done">{move || summary.with(Summary::done)}</dd></div>
                <div class="ok"><dt>"ok"</dt><dd data-testid="sum-ok">{move || summary.with(|s| s.ok)}</dd></div>
                <div class="failed"><dt>"failed"</dt><dd data-testid="sum-failed">{move || summary.with(|s| s.failed)}</dd></div>
                <div class="aborted"><dt>"aborted"</dt><dd data-testid="sum-aborted">{move || summary.with(|s| s.aborted)}</dd></div>
                <div class="timed-out"><dt>"timed out"</dt><dd data-testid="sum-timed-out">{move || summary.with(|s| s.timed_out)}</dd></div>
                <div class="retried"><dt>"retries"</dt><dd data-testid="sum-retries">{move || summary.with(|s| s.retries)}</dd></div>
            </dl>
            <p class="timing">
                {move || {
                    let s = summary.get();
                    let gain = s.gain().map(|g| format!(" — concurrency made it {g:.1}× faster")).unwrap_or_default();
                    format!("Wall time {:.0} ms against {:.0} ms for the requests one by one{gain}.", s.wall_ms, s.sum_ms)
                }}
            </p>
            <p class="timing" data-testid="sum-latency">
                {move || {
                    let s = summary.get();
                    format!("Latency of the successful: p50 {} · p95 {} · max {}", ms(s.percentile(50.0)), ms(s.percentile(95.0)), ms(s.percentile(100.0)))
                }}
            </p>
            <p class="timing" data-testid="sum-frame-work">
                {move || {
                    summary.track();
                    format!(
                        "This page's own work per frame (applying answers, redrawing): slowest {:.1} ms of a 16.7 ms frame.",
                        crate::frame_cost::slowest_ms()
                    )
                }}
            </p>
            <Histogram summary=summary/>
        </div>
    }
}

/// The latency histogram as SVG: 20 equal bins from 0 to the slowest success.
#[component]
fn Histogram(summary: Memo<Summary>) -> impl IntoView {
    const WIDTH: f64 = 400.0;
    const HEIGHT: f64 = 80.0;
    // Recomputed each frame, but redrawn only when a bin changes.
    let bins = Memo::new(move |_| summary.with(|s| histogram(&s.latencies, 20)));
    let bars = move || {
        let bins = bins.get();
        let tallest = bins.iter().map(|b| b.count).max().unwrap_or(0).max(1) as f64;
        let width = WIDTH / bins.len() as f64;
        bins.into_iter()
            .enumerate()
            .map(|(i, bin)| {
                let height = bin.count as f64 / tallest * HEIGHT;
                view! {
                    <rect
                        x=format!("{:.1}", i as f64 * width + 1.0)
                        y=format!("{:.1}", HEIGHT - height)
                        width=format!("{:.1}", (width - 2.0).max(1.0))
                        height=format!("{height:.1}")
                    >
                        <title>{format!("{:.0}–{:.0} ms: {}", bin.from_ms, bin.to_ms, bin.count)}</title>
                    </rect>
                }
            })
            .collect_view()
    };
    let axis = move || {
        let s = summary.get();
        s.percentile(100.0)
            .map(|max| format!("0 ms … {max:.0} ms"))
            .unwrap_or_default()
    };
    view! {
        <figure class="histogram">
            <svg viewBox="0 0 400 80" preserveAspectRatio="none" role="img" aria-label="Latency histogram">
                {bars}
            </svg>
            <figcaption>{axis}</figcaption>
        </figure>
    }
}

#[component]
fn Legend() -> impl IntoView {
    let phases = [
        Phase::Queued,
        Phase::Stalled,
        Phase::Waiting,
        Phase::Reading,
        Phase::Backoff,
    ];
    let outcomes = [
        Outcome::Applied,
        Outcome::Failed,
        Outcome::Retried,
        Outcome::Aborted,
        Outcome::TimedOut,
    ];
    view! {
        <ul class="legend">
            {phases.into_iter().map(|phase| view! {
                <li><Swatch colour=phase_colour(phase)/>{phase.label()}</li>
            }).collect_view()}
            {outcomes.into_iter().map(|outcome| view! {
                <li><Swatch colour=outcome_colour(outcome)/>{outcome.label()}</li>
            }).collect_view()}
        </ul>
    }
}

#[component]
fn Swatch(colour: &'static str) -> impl IntoView {
    view! { <svg class="swatch" viewBox="0 0 10 10" width="12" height="12"><rect width="10" height="10" fill=colour></rect></svg> }
}

#[component]
fn RequestDetails(
    model: StoredValue<LabModel, LocalStorage>,
    frame: RwSignal<u64>,
    selected: RwSignal<Option<u64>>,
) -> impl IntoView {
    let details = move || {
        frame.track();
        let seq = selected.get()?;
        model.with_value(|m| m.request(seq).cloned())
    };
    view! {
        <div class="request-details" data-testid="lab-details">
            {move || match details() {
                None => view! { <p class="explain">"Click a bar to see its request."</p> }.into_any(),
                Some(request) => view! { <Details request=request/> }.into_any(),
            }}
        </div>
    }
}

#[component]
fn Details(request: Request) -> impl IntoView {
    let ms = |from: f64, to: Option<f64>| {
        to.map_or_else(|| "…".to_owned(), |t| format!("{:.0} ms", t - from))
    };
    let attempts = request
        .attempts
        .iter()
        .map(|attempt| {
            let report = attempt.report.clone();
            let method = match attempt.method {
                EchoMethod::Get => "GET",
                EchoMethod::Post => "POST",
            };
            let status = report.as_ref().and_then(|r| r.status).map_or_else(|| "—".to_owned(), |s| s.to_string());
            let outcome = report.as_ref().map_or(Outcome::InFlight, |r| r.outcome);
            // Exact from the browser's resource timing once the answer is in; estimated before.
            let waited_for_connection = match (report.as_ref().and_then(|r| r.sent_at), attempt.slot_at) {
                (Some(sent), _) => format!("{:.0} ms", sent - attempt.started_at),
                (None, Some(slot)) => format!("about {:.0} ms (estimated)", slot - attempt.started_at),
                (None, None) if attempt.ended_at.is_none() => "still waiting for one".to_owned(),
                (None, None) => "—".to_owned(),
            };
            let first_byte = ms(attempt.started_at, report.as_ref().and_then(|r| r.first_byte_at));
            let total = ms(attempt.started_at, attempt.ended_at);
            let server = report
                .as_ref()
                .and_then(|r| r.server_delay_ms)
                .map_or_else(|| "—".to_owned(), |d| format!("{d} ms"));
            let bytes = report.as_ref().and_then(|r| r.bytes).map_or_else(|| "—".to_owned(), |b| b.to_string());
            let error = report.as_ref().and_then(|r| r.error.clone());
            let backoff = report.as_ref().and_then(|r| r.backoff_ms).map(|b| format!("then waited {b} ms before retrying"));
            view! {
                <div class="attempt">
                    <h4>{format!("Attempt {} — ", attempt.number)}<span class=outcome.class()>{outcome.label()}</span></h4>
                    <dl>
                        <dt>"request"</dt><dd><code>{format!("{method} {}", attempt.url)}</code></dd>
                        <dt>"status"</dt><dd>{status}</dd>
                        <dt>"waited for a connection"</dt><dd>{waited_for_connection}</dd>
                        <dt>"first byte after"</dt><dd>{first_byte}</dd>
                        <dt>"total"</dt><dd>{total}</dd>
                        <dt>"server waited"</dt><dd>{server}</dd>
                        <dt>"bytes"</dt><dd>{bytes}</dd>
                    </dl>
                    {error.map(|e| view! { <p class="error">{e}</p> })}
                    {backoff.map(|b| view! { <p class="explain">{b}</p> })}
                </div>
            }
        })
        .collect_view();
    view! {
        <h3>{format!("Request #{} (run {}) — {}", request.seq, request.run, request.outcome.label())}</h3>
        {attempts}
    }
}

#[component]
fn Arrivals(model: StoredValue<LabModel, LocalStorage>, arrived: RwSignal<usize>) -> impl IntoView {
    let items = move || {
        arrived.track();
        model.with_value(|m| {
            m.arrivals()
                .iter()
                .enumerate()
                .filter_map(|(order, seq)| m.request(*seq).map(|r| (order, r.seq, r.outcome)))
                .collect::<Vec<_>>()
        })
    };
    view! {
        <ol class="arrivals" data-testid="lab-arrivals">
            <For each=items key=|(order, seq, _)| (*order, *seq) let:item>
                <li class=item.2.class() title=item.2.label()>{item.1}</li>
            </For>
        </ol>
    }
}

/// The browser keeps 250 resource timing entries by default; the Lab needs one per request.
fn prepare_resource_timing() {
    if let Some(performance) = window().performance() {
        performance.set_resource_timing_buffer_size(5_000);
    }
}

/// Applies the engine's events once per animation frame, and redraws while requests are in
/// flight (their bars grow). Stops when the page is left.
fn start_frame_loop(
    model: StoredValue<LabModel, LocalStorage>,
    pending: StoredValue<Vec<LabEvent>, LocalStorage>,
    frame: RwSignal<u64>,
    arrived: RwSignal<usize>,
) {
    let alive = Arc::new(AtomicBool::new(true));
    on_cleanup({
        let alive = Arc::clone(&alive);
        move || alive.store(false, Ordering::Relaxed)
    });
    fn tick(
        alive: Arc<AtomicBool>,
        model: StoredValue<LabModel, LocalStorage>,
        pending: StoredValue<Vec<LabEvent>, LocalStorage>,
        frame: RwSignal<u64>,
        arrived: RwSignal<usize>,
    ) {
        if !alive.load(Ordering::Relaxed) {
            return;
        }
        let events = pending.try_update_value(std::mem::take).unwrap_or_default();
        let had_events = !events.is_empty();
        let (growing, arrivals) = crate::frame_cost::measure(|| {
            model
                .try_update_value(|model| {
                    for event in events {
                        model.apply(event);
                    }
                    let refined = model.fill_sent_times(engine::request_start)
                        | model.note_connections(CONNECTIONS_PER_HOST);
                    let growing =
                        model.requests().iter().any(|r| r.finished_at.is_none()) || refined;
                    (growing, model.arrivals().len())
                })
                .unwrap_or((false, 0))
        });
        if had_events || growing {
            frame.update(|f| *f += 1);
        }
        if arrived.get_untracked() != arrivals {
            arrived.set(arrivals);
        }
        request_animation_frame(move || tick(alive, model, pending, frame, arrived));
    }
    request_animation_frame(move || tick(alive, model, pending, frame, arrived));
}
