//! The heartbeat: a clock with tenths of a second and a frame-rate meter, both updated at every
//! animation frame (see [`crate::frame`]). While the main thread is free they move smoothly; the
//! moment anything blocks it, they freeze and the frame-gap trace shows a spike. It is the page's
//! proof that waiting for answers never blocks.

use std::collections::VecDeque;

use leptos::prelude::*;

use crate::frame;

/// How many recent frame gaps the trace shows.
pub const TRACE_FRAMES: usize = 90;
/// Gaps are drawn against this ceiling; longer ones are clipped at the top.
pub const TRACE_CEILING_MS: f64 = 100.0;

/// Frame timestamps of the last second and the gaps between recent frames.
#[derive(Debug, Default, Clone)]
pub struct FrameMeter {
    last_second: VecDeque<f64>,
    gaps: VecDeque<f64>,
}

impl FrameMeter {
    /// Records a frame drawn at `now_ms` (a `requestAnimationFrame` timestamp).
    pub fn record(&mut self, now_ms: f64) {
        if let Some(previous) = self.last_second.back() {
            self.gaps.push_back((now_ms - previous).max(0.0));
            if self.gaps.len() > TRACE_FRAMES {
                self.gaps.pop_front();
            }
        }
        self.last_second.push_back(now_ms);
        while self
            .last_second
            .front()
            .is_some_and(|first| now_ms - first > 1000.0)
        {
            self.last_second.pop_front();
        }
    }

    /// Frames drawn in the last second.
    pub fn fps(&self) -> usize {
        self.last_second.len()
    }

    /// The longest gap between two frames among the recent ones, in milliseconds.
    pub fn longest_gap_ms(&self) -> f64 {
        self.gaps.iter().copied().fold(0.0, f64::max)
    }

    /// SVG polyline points for the recent gaps in a `width` × `height` box: one point per frame,
    /// left to right, taller for longer gaps (clipped at [`TRACE_CEILING_MS`]).
    pub fn trace_points(&self, width: f64, height: f64) -> String {
        let step = width / (TRACE_FRAMES.saturating_sub(1).max(1)) as f64;
        let offset = TRACE_FRAMES.saturating_sub(self.gaps.len());
        self.gaps
            .iter()
            .enumerate()
            .map(|(i, gap)| {
                let x = (offset + i) as f64 * step;
                let y = height - (gap.min(TRACE_CEILING_MS) / TRACE_CEILING_MS) * height;
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `hh:mm:ss.t`, the clock as the heartbeat shows it.
pub fn clock_text(hours: u32, minutes: u32, seconds: u32, millis: u32) -> String {
    format!("{hours:02}:{minutes:02}:{seconds:02}.{}", millis / 100)
}

/// The heartbeat widget for the header.
#[component]
pub fn Heartbeat() -> impl IntoView {
    let clock = RwSignal::new(String::from("--:--:--.-"));
    let fps = RwSignal::new(0usize);
    let longest_gap = RwSignal::new(0u32);
    let trace = RwSignal::new(String::new());

    let mut meter = FrameMeter::default();
    let task = frame::every_frame(move |now| {
        meter.record(now);
        let date = js_sys::Date::new_0();
        set_if_changed(
            clock,
            clock_text(
                date.get_hours(),
                date.get_minutes(),
                date.get_seconds(),
                date.get_milliseconds(),
            ),
        );
        set_if_changed(fps, meter.fps());
        set_if_changed(longest_gap, meter.longest_gap_ms().round() as u32);
        trace.set(meter.trace_points(90.0, 24.0));
    });
    on_cleanup(move || frame::stop(task));

    let fps_class = move || {
        if fps.get() >= 50 {
            "fps steady"
        } else {
            "fps strained"
        }
    };
    view! {
        <div class="heartbeat" role="timer" aria-label="Heartbeat: a clock and a frame-rate meter that freeze when the page blocks">
            <span class="clock" data-testid="heartbeat-clock">{move || clock.get()}</span>
            <span class=fps_class data-testid="heartbeat-fps" title="Frames drawn in the last second">
                {move || fps.get()} " fps"
            </span>
            <svg class="frame-trace" viewBox="0 0 90 24" width="90" height="24" aria-hidden="true">
                <title>"Gap between frames: a spike is a moment the page was blocked"</title>
                <line class="frame-budget" x1="0" x2="90" y1="12" y2="12"></line>
                <polyline points=move || trace.get()></polyline>
            </svg>
            <span class="gap" title="Longest gap between two recent frames">
                "max " {move || longest_gap.get()} " ms"
            </span>
        </div>
    }
}

/// Writes `value` only when it differs, so a frame that changes nothing touches no DOM node.
fn set_if_changed<T: PartialEq + Send + Sync + 'static>(signal: RwSignal<T>, value: T) {
    if signal.with_untracked(|current| *current != value) {
        signal.set(value);
    }
}
