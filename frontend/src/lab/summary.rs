//! What a run came to: the summary (counts, timing, percentiles, histogram) and the arrivals
//! (the order the answers came back in).

use leptos::prelude::*;

use crate::frame;
use crate::lab::model::{LabModel, Summary, histogram};

/// Counts, wall time against the sum of the requests' own times, percentiles, the page's own
/// frame work, and the histogram.
#[component]
pub fn LabSummary(summary: Memo<Summary>) -> impl IntoView {
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
                <div class="stale"><dt>"discarded"</dt><dd data-testid="sum-discarded">{move || summary.with(|s| s.discarded)}</dd></div>
                <div class="retried"><dt>"retries"</dt><dd data-testid="sum-retries">{move || summary.with(|s| s.retries)}</dd></div>
            </dl>
            <p class="timing" data-testid="sum-wall">
                {move || {
                    let s = summary.get();
                    let gain = match s.gain() {
                        Some(g) => format!(" — concurrency made it {g:.1}× faster"),
                        None if s.racing > 0 => " — a race's requests are alternatives, so no speed-up is claimed".to_owned(),
                        None => String::new(),
                    };
                    format!(
                        "Wall time {:.0} ms against {:.0} ms for the requests one by one (their time on a connection){gain}.",
                        s.wall_ms, s.sum_ms
                    )
                }}
            </p>
            <p class="timing" data-testid="sum-latency">
                {move || {
                    let s = summary.get();
                    let waiting = match (s.percentile(50.0), s.connection_wait(50.0)) {
                        (Some(p50), Some(wait)) if wait > p50 / 2.0 => format!(
                            " — mostly waiting for one of the browser's connections (median wait {wait:.0} ms)"
                        ),
                        _ => String::new(),
                    };
                    format!(
                        "Latency of the successful: p50 {} · p95 {} · max {}{waiting}",
                        ms(s.percentile(50.0)),
                        ms(s.percentile(95.0)),
                        ms(s.percentile(100.0))
                    )
                }}
            </p>
            <p class="timing" data-testid="sum-frame-work">
                {move || {
                    summary.track();
                    format!(
                        "This page's own work per frame (applying answers, redrawing): slowest {:.1} ms of a 16.7 ms frame.",
                        frame::slowest_ms()
                    )
                }}
            </p>
            <Histogram summary=summary/>
        </div>
    }
}

/// The latency histogram as SVG: 20 equal bins from 0 to the slowest success. The bars are made
/// once; each bar's height and title follow its own memo, so an answer that changes one bin
/// writes that bar's attributes (and the others' only when the tallest bin changed their scale).
#[component]
fn Histogram(summary: Memo<Summary>) -> impl IntoView {
    const BINS: usize = 20;
    const WIDTH: f64 = 400.0;
    const HEIGHT: f64 = 80.0;
    let bins = Memo::new(move |_| summary.with(|s| histogram(&s.latencies, BINS)));
    let bar_width = WIDTH / BINS as f64;
    let bars = (0..BINS)
        .map(|i| {
            // The bin and its bar's height (0 while there are no latencies yet).
            let bar = Memo::new(move |_| {
                bins.with(|bins| {
                    let tallest = bins.iter().map(|b| b.count).max().unwrap_or(0).max(1) as f64;
                    bins.get(i)
                        .map(|bin| (*bin, bin.count as f64 / tallest * HEIGHT))
                })
            });
            let height = move || bar.get().map_or(0.0, |(_, height)| height);
            view! {
                <rect
                    x=format!("{:.1}", i as f64 * bar_width + 1.0)
                    width=format!("{:.1}", (bar_width - 2.0).max(1.0))
                    y=move || format!("{:.1}", HEIGHT - height())
                    height=move || format!("{:.1}", height())
                >
                    <title>
                        {move || {
                            bar.get()
                                .map(|(bin, _)| format!("{:.0}–{:.0} ms: {}", bin.from_ms, bin.to_ms, bin.count))
                                .unwrap_or_default()
                        }}
                    </title>
                </rect>
            }
        })
        .collect_view();
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

/// Sequence numbers in the order the answers came back.
#[component]
pub fn Arrivals(
    model: StoredValue<LabModel, LocalStorage>,
    arrived: RwSignal<usize>,
) -> impl IntoView {
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
