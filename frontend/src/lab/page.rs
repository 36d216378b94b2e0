//! The Lab (`/lab`): fire many JSON requests with chosen latency, jitter, failure rate and size;
//! schedule them by a strategy; retry with backoff; cancel them; and watch the waterfall while the
//! heartbeat keeps ticking. Engine events are applied once per animation frame, so a thousand
//! answers landing together cost one redraw, not a thousand.

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::lab::LabStats;

use crate::api;
use crate::components::block::BlockThePage;
use crate::frame::{self, now_ms};
use crate::lab::canvas::{Legend, Waterfall};
use crate::lab::compare::{Compared, Ground, ProtocolComparison};
use crate::lab::controls::{Form, LabControls};
use crate::lab::details::RequestDetails;
use crate::lab::engine::{self, Env, LabEvent, Run, Runs};
use crate::lab::model::LabModel;
use crate::lab::settings::{EchoMethod, RunSettings};
use crate::lab::summary::{Arrivals, LabSummary};

/// The browser allows this many HTTP/1.1 connections per host; more requests wait for one.
const CONNECTIONS_PER_HOST: usize = 6;

#[component]
pub fn Lab() -> impl IntoView {
    let form = Form::default();
    // The settings live in the address: a link a teacher shares opens the same experiment.
    form.keep_in_address("/lab");
    let model = StoredValue::new_local(LabModel::default());
    let pending = StoredValue::new_local(Vec::<LabEvent>::new());
    let runs = StoredValue::new_local(Rc::new(Runs::default()));
    let next_seq = StoredValue::new_local(1u64);
    let next_run = StoredValue::new_local(1u32);
    let frame = RwSignal::new(0u64);
    let arrived = RwSignal::new(0usize);
    let selected = RwSignal::new(None::<u64>);
    let server_stats = RwSignal::new(None::<Result<LabStats, String>>);

    prepare_resource_timing();
    start_frame_work(model, pending, frame, arrived);

    // Over HTTP/2 every request shares one connection; with `--tls` the server also speaks only
    // HTTP/1.1 on a port of its own, and the Lab can compare the two.
    let page_protocol = api::lab::page_protocol();
    let shares_connection = page_protocol.as_deref() == Some("h2");
    let http1_origin = RwSignal::new(None::<String>);
    let http2_streams = RwSignal::new(None::<u32>);
    let room = api::Room::here();
    if shares_connection {
        room.spawn(async move {
            if let Ok(origins) = api::lab::origins().await {
                http1_origin.set(origins.http1_port.and_then(api::lab::origin_on_port));
                http2_streams.set(origins.http2_streams);
            }
        });
    }
    let ground = Signal::derive(move || match (shares_connection, http1_origin.get()) {
        (true, Some(http1_origin)) => Ground::Both {
            http1_origin,
            streams: http2_streams.get(),
        },
        (true, None) => Ground::Http2Only,
        (false, _) => Ground::Plain {
            protocol: page_protocol.clone(),
        },
    });
    let compared = RwSignal::new(None::<Compared>);
    // A run of `settings` to `origin` (none: this page's), numbered after the ones before.
    let new_run = move |settings: RunSettings, origin: Option<Rc<str>>| {
        let first_seq = next_seq.get_value();
        next_seq.set_value(first_seq + u64::from(settings.count));
        let id = next_run.get_value();
        next_run.set_value(id + 1);
        if origin.is_none() && shares_connection {
            // Unknown (behind a proxy), no wait for a stream is estimated.
            let streams = http2_streams
                .get_untracked()
                .map_or(usize::MAX, |streams| streams as usize);
            model.update_value(|m| m.shares_one_connection(id, streams));
        }
        Run {
            id,
            first_seq,
            settings,
            origin,
        }
    };
    let env = move || {
        let sink: engine::Sink = Rc::new(move |event| pending.update_value(|p| p.push(event)));
        Env::browser(sink)
    };
    let start = move |_| {
        let Ok(settings) = form.settings() else {
            return;
        };
        let run = new_run(settings, None);
        let runs = runs.get_value();
        spawn_local(async move {
            runs.run(run, env()).await;
        });
    };
    // The same requests over HTTP/1.1 (the server's other port), then over HTTP/2 (this page's).
    let compare = Callback::new(move |http1_origin: String| {
        let Ok(settings) = form.settings() else {
            return;
        };
        let settings = RunSettings {
            method: EchoMethod::Get,
            ..settings
        };
        let over_http1 = new_run(settings, Some(Rc::from(http1_origin)));
        let over_http2 = new_run(settings, None);
        compared.set(Some(Compared {
            http1: over_http1.id,
            http2: over_http2.id,
        }));
        let runs = runs.get_value();
        spawn_local(async move {
            if runs.run(over_http1, env()).await {
                runs.run(over_http2, env()).await;
            }
        });
    });
    let cancel_all = move || {
        if let Some(runs) = runs.try_get_value() {
            runs.cancel_all();
        }
    };
    // Leaving the Lab cancels what it started: nobody is left to see the answers.
    on_cleanup(cancel_all);
    let clear = move |_| {
        model.update_value(LabModel::clear);
        frame::reset_slowest();
        selected.set(None);
        compared.set(None);
        arrived.set(0);
        if let Some(performance) = window().performance() {
            performance.clear_resource_timings();
        }
        frame.update(|f| *f += 1);
    };
    let refresh_stats = move |_| {
        room.spawn(async move {
            let stats = api::lab::stats().await.map_err(|e| e.to_string());
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
            <p class="lede">
                "A failure is what a real server or network does: a 503 or a 429 says “not now” and is "
                "worth retrying (after its Retry-After); a 500 says the server is broken, and is not; a reset "
                "connection or a body cut short gives no answer, and is retried — though a browser sends a "
                "request whose reused connection was reset before any answer again by itself, and the page "
                "never knows (the server's count of failures says so); a dripped body arrives "
                "late; silence ends only at your timeout. Fail first fails each request's first attempts "
                "then lets it through; a seed makes the same run fail the same requests every time."
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
            <ProtocolComparison model=model frame=frame ground=ground compared=compared on_compare=compare/>

            <h2>"Waterfall"</h2>
            <p class="explain">
                "One bar per request, in the order they were created; time runs left to right (while requests are in "
                "flight the axis grows in steps, so finished bars stay still; once all are over it fits the run). A request waits "
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
                "and requests whose client went away before the answer (every abort above). Each "
                "server instance counts its own: behind a proxy that spreads requests over several, "
                "this is the count of the one that answered."
            </p>
            <button type="button" class="secondary" data-testid="lab-stats-refresh" on:click=refresh_stats>
                "Ask the server"
            </button>
            <p class="server-stats" data-testid="lab-server-stats">
                {move || server_stats.get().map(|stats| match stats {
                    Ok(s) => format!(
                        "counted by {}: served {} · failed on purpose {} · abandoned by the client {} · waiting now {}",
                        s.instance, s.served, s.failed_injected, s.abandoned, s.in_flight
                    ),
                    Err(error) => format!("No answer: {error}"),
                })}
            </p>
        </section>
    }
}

/// The browser keeps 250 resource timing entries by default; the Lab needs one per request.
fn prepare_resource_timing() {
    if let Some(performance) = window().performance() {
        performance.set_resource_timing_buffer_size(5_000);
    }
}

/// At every animation frame while the Lab is open: applies the engine's events to the model, and
/// asks for a redraw when something changed or requests are in flight (their bars grow).
fn start_frame_work(
    model: StoredValue<LabModel, LocalStorage>,
    pending: StoredValue<Vec<LabEvent>, LocalStorage>,
    redraw: RwSignal<u64>,
    arrived: RwSignal<usize>,
) {
    let task = frame::every_frame(move |_| {
        let events = pending.try_update_value(std::mem::take).unwrap_or_default();
        let had_events = !events.is_empty();
        let (growing, arrivals) = frame::measure(|| {
            model
                .try_update_value(|model| {
                    for event in events {
                        model.apply(event);
                    }
                    let refined = model.fill_sent_times(api::lab::timing)
                        | model.note_connections(CONNECTIONS_PER_HOST);
                    let growing =
                        model.requests().iter().any(|r| r.finished_at.is_none()) || refined;
                    (growing, model.arrivals().len())
                })
                .unwrap_or((false, 0))
        });
        if had_events || growing {
            redraw.update(|f| *f += 1);
        }
        if arrived.get_untracked() != arrivals {
            arrived.set(arrivals);
        }
    });
    on_cleanup(move || frame::stop(task));
}
