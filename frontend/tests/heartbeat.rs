//! The heartbeat: its frame maths, its clock format, and the widget ticking in a real page.

use std::time::Duration;

use frontend::components::heartbeat::{FrameMeter, Heartbeat, TRACE_FRAMES, clock_text};
use gloo_timers::future::sleep;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

mod support;

wasm_bindgen_test_configure!(run_in_browser);

fn meter_with_frames(timestamps: impl IntoIterator<Item = f64>) -> FrameMeter {
    let mut meter = FrameMeter::default();
    for t in timestamps {
        meter.record(t);
    }
    meter
}

#[wasm_bindgen_test]
fn fps_counts_the_frames_of_the_last_second() {
    // A frame every 20 ms for two seconds: 0, 20, …, 2000. The last second holds 1000..=2000.
    let meter = meter_with_frames((0..=100).map(|i| f64::from(i) * 20.0));
    assert_eq!(meter.fps(), 51);
    assert_eq!(meter.longest_gap_ms(), 20.0);
}

#[wasm_bindgen_test]
fn a_freeze_shows_as_the_longest_gap_and_a_low_frame_rate() {
    let meter = meter_with_frames([0.0, 16.0, 32.0, 1032.0, 1048.0]);
    assert_eq!(meter.longest_gap_ms(), 1000.0);
    assert_eq!(
        meter.fps(),
        2,
        "only 1032 and 1048 are within the last second"
    );
}

#[wasm_bindgen_test]
fn the_trace_has_a_point_per_recent_frame_clipped_at_its_ceiling() {
    let empty = FrameMeter::default();
    assert_eq!(empty.trace_points(90.0, 24.0), "");

    let meter = meter_with_frames([0.0, 10.0, 510.0]);
    // Two gaps: 10 ms (low) and 500 ms (clipped to the top), drawn at the right-hand end.
    assert_eq!(meter.trace_points(89.0, 24.0), "88.0,21.6 89.0,0.0");

    let long = meter_with_frames((0..500).map(|i| f64::from(i) * 16.0));
    assert_eq!(
        long.trace_points(90.0, 24.0).split(' ').count(),
        TRACE_FRAMES
    );
}

#[wasm_bindgen_test]
fn the_clock_shows_tenths() {
    for (parts, expected) in [
        ((9, 5, 3, 987), "09:05:03.9"),
        ((0, 0, 0, 0), "00:00:00.0"),
        ((23, 59, 59, 99), "23:59:59.0"),
    ] {
        let (h, m, s, ms) = parts;
        assert_eq!(clock_text(h, m, s, ms), expected);
    }
}

#[wasm_bindgen_test]
async fn the_mounted_heartbeat_ticks() {
    let page = support::mount(Heartbeat);
    sleep(Duration::from_millis(300)).await;
    let first = page.text("[data-testid=heartbeat-clock]");
    assert_ne!(first, "--:--:--.-", "the clock started");
    sleep(Duration::from_millis(300)).await;
    let second = page.text("[data-testid=heartbeat-clock]");
    assert_ne!(first, second, "the clock advances");
    let fps = page.text("[data-testid=heartbeat-fps]");
    assert!(fps.ends_with(" fps") && !fps.starts_with("0 "), "{fps}");
}
