//! The combinators' part of the room: three echoes with chosen delays, combined four ways (one
//! after another, joined, raced, under a deadline), each run drawn as a timeline of its lanes.

use leptos::prelude::*;
use protocol::lab::{DELAY_MS_MAX, EchoRequest};

use super::combinators::{self, Ending, Lane, Run, Way};
use crate::api;
use crate::api::lab::{self, EchoMethod};

/// Three requests with chosen delays, combined four ways, with their timelines.
#[component]
pub fn Combinators() -> impl IntoView {
    let delays = [
        RwSignal::new("300".to_owned()),
        RwSignal::new("1200".to_owned()),
        RwSignal::new("700".to_owned()),
    ];
    let deadline = RwSignal::new("1000".to_owned());
    let runs = RwSignal::new(Vec::<Run>::new());
    let busy = RwSignal::new(false);
    let room = api::Room::here();
    let run_all = move |_| {
        let delays: Vec<u32> = delays
            .iter()
            .map(|d| {
                d.get_untracked()
                    .trim()
                    .parse::<u32>()
                    .unwrap_or(0)
                    .min(DELAY_MS_MAX)
            })
            .collect();
        let deadline = deadline
            .get_untracked()
            .trim()
            .parse::<u32>()
            .unwrap_or(1000);
        busy.set(true);
        runs.set(Vec::new());
        // Leaving the room drops the four runs, and with them the requests in flight.
        room.spawn(async move {
            for way in [Way::Sequence, Way::Join, Way::Race, Way::Timeout(deadline)] {
                let run = combinators::run(way, &delays, echo_after).await;
                let _ = runs.try_update(|runs| runs.push(run));
            }
            let _ = busy.try_set(false);
        });
    };
    let scale = move || runs.with(|runs| runs.iter().map(|r| r.wall_ms).fold(1.0, f64::max));
    view! {
        <section class="combinators" aria-labelledby="combinators-title">
            <h2 id="combinators-title">"Three requests, four ways"</h2>
            <p class="hint">
                "One after another takes the sum of the delays; all joined, the longest; a race, the "
                "shortest (the others are aborted); a deadline shorter than the slowest, a timeout error."
            </p>
            <div class="technique-knobs">
                {delays
                    .into_iter()
                    .enumerate()
                    .map(|(i, delay)| view! {
                        <label class="field">
                            <span>{format!("Delay {} (ms)", i + 1)}</span>
                            <input inputmode="numeric" data-testid=format!("combine-delay-{}", i + 1) bind:value=delay/>
                        </label>
                    })
                    .collect_view()}
                <label class="field">
                    <span>"Deadline (ms)"</span>
                    <input inputmode="numeric" data-testid="combine-deadline" bind:value=deadline/>
                </label>
                <button type="button" data-testid="combine-run" on:click=run_all disabled=move || busy.get()>
                    "Run the four"
                </button>
            </div>
            <ol class="combinator-runs" data-testid="combinator-runs">
                <For each=move || runs.get() key=|run| run.way.name() let:run>
                    <CombinedRun run=run scale=scale/>
                </For>
            </ol>
        </section>
    }
}

/// One echo that waits `delay` ms. A combinator that drops it (a race lost, a deadline passed)
/// aborts it: the API client aborts a request whose future is dropped.
async fn echo_after(delay: u32) -> Result<(), String> {
    let request = EchoRequest {
        delay_ms: delay,
        jitter_ms: 0,
        fail_rate: 0.0,
        bytes: 0,
        seq: Some(u64::from(delay)),
        ..EchoRequest::default()
    };
    let traced = lab::echo(EchoMethod::Get, &request, None).await;
    traced.result.map(drop).map_err(|error| error.to_string())
}

#[component]
fn CombinedRun(run: Run, scale: impl Fn() -> f64 + Send + Sync + Copy + 'static) -> impl IntoView {
    let outcome = match &run.result {
        Ok(answered) => format!("{} answered", answered.len()),
        Err(error) => error.clone(),
    };
    let lanes = run.lanes.clone();
    let described = describe_lanes(&lanes);
    view! {
        <li class="combinator-run" data-testid="combinator-run">
            <p>
                <strong>{run.way.name()}</strong>
                {format!(": {:.0} ms — {outcome}", run.wall_ms)}
            </p>
            <div class="timeline" role="img" aria-label=described>
                {lanes
                    .into_iter()
                    .map(|lane| {
                        // Set through the CSSOM (`style:`), which the page's policy allows,
                        // not as a `style` attribute, which it refuses.
                        let start = lane.started_ms.unwrap_or(0.0);
                        let end = lane.ended_ms.unwrap_or(start);
                        let left = move || format!("{:.2}%", 100.0 * start / scale());
                        let width =
                            move || format!("{:.2}%", (100.0 * (end - start) / scale()).max(0.5));
                        let class = match &lane.ending {
                            Some(Ending::Answered) => "bar answered",
                            Some(Ending::Failed(_)) => "bar failed",
                            Some(Ending::Dropped) | Some(Ending::TimedOut) => "bar dropped",
                            None => "bar never",
                        };
                        view! {
                            <div class="lane">
                                <span class=class style:left=left style:width=width></span>
                            </div>
                        }
                    })
                    .collect_view()}
            </div>
        </li>
    }
}

fn describe_lanes(lanes: &[Lane]) -> String {
    lanes
        .iter()
        .map(|lane| {
            let how = match &lane.ending {
                Some(Ending::Answered) => "answered",
                Some(Ending::Failed(_)) => "failed",
                Some(Ending::Dropped) => "dropped",
                Some(Ending::TimedOut) => "timed out",
                None => "never started",
            };
            format!("{} ms: {how}", lane.delay_ms)
        })
        .collect::<Vec<_>>()
        .join("; ")
}
