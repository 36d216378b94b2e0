//! How long the page's own work takes per animation frame (applying events, redrawing the
//! waterfall), so a person — and the benchmark — can see that it stays well inside a frame.

use std::cell::Cell;

thread_local! {
    static SLOWEST_MS: Cell<f64> = const { Cell::new(0.0) };
}

/// Runs `work`, remembering its duration if it is the slowest so far.
pub fn measure<T>(work: impl FnOnce() -> T) -> T {
    let started = crate::inspector::now_ms();
    let result = work();
    let took = crate::inspector::now_ms() - started;
    SLOWEST_MS.with(|slowest| slowest.set(slowest.get().max(took)));
    result
}

/// The slowest piece of frame work since the last [`reset`], in milliseconds.
pub fn slowest_ms() -> f64 {
    SLOWEST_MS.with(Cell::get)
}

pub fn reset() {
    SLOWEST_MS.with(|slowest| slowest.set(0.0));
}
