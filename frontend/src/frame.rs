//! The page's one animation-frame loop. Everything that works per frame — the heartbeat, the
//! Lab applying its answers and redrawing its waterfall, the pacer opening its sending window, the
//! inspector telling its drawer — registers here instead of running a `requestAnimationFrame`
//! chain of its own: one callback from the browser per frame, in a known order (first registered,
//! first run), and no frame requested at all when nothing needs one.
//!
//! Also the page's clock ([`now_ms`]) and the meter of how long the page's own frame work takes
//! ([`measure`]), so a person and the benchmark can see it stays well inside a frame.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Milliseconds since the page loaded (`performance.now()`): the clock of every timing shown.
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|window| window.performance())
        .map(|performance| performance.now())
        .unwrap_or_default()
}

/// A callback registered with [`every_frame`]; [`stop`] ends it. Plain data (`Copy`, `Send`), so
/// a component can stop it from `on_cleanup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameTask(u64);

type Repeating = Rc<RefCell<dyn FnMut(f64)>>;

#[derive(Default)]
struct Frames {
    repeating: RefCell<Vec<(u64, Repeating)>>,
    once: RefCell<Vec<Box<dyn FnOnce()>>>,
    next_id: Cell<u64>,
    requested: Cell<bool>,
    slowest_work_ms: Cell<f64>,
}

thread_local! {
    static FRAMES: Rc<Frames> = Rc::new(Frames::default());
}

/// Calls `work` at every animation frame, with the frame's time ([`now_ms`]), until [`stop`].
pub fn every_frame(work: impl FnMut(f64) + 'static) -> FrameTask {
    FRAMES.with(|frames| {
        let id = frames.next_id.get();
        frames.next_id.set(id + 1);
        let work: Repeating = Rc::new(RefCell::new(work));
        frames.repeating.borrow_mut().push((id, work));
        request(frames);
        FrameTask(id)
    })
}

/// Stops a callback of [`every_frame`]; it is not called again, not even later in this frame.
pub fn stop(task: FrameTask) {
    FRAMES.with(|frames| {
        frames
            .repeating
            .borrow_mut()
            .retain(|(id, _)| *id != task.0)
    });
}

/// Calls `work` once, at the next animation frame, before the repeating callbacks.
pub fn next_frame(work: impl FnOnce() + 'static) {
    FRAMES.with(|frames| {
        frames.once.borrow_mut().push(Box::new(work));
        request(frames);
    });
}

/// Runs `work`, remembering its duration if it is the slowest piece of frame work so far.
pub fn measure<T>(work: impl FnOnce() -> T) -> T {
    let started = now_ms();
    let result = work();
    let took = now_ms() - started;
    FRAMES.with(|frames| {
        frames
            .slowest_work_ms
            .set(frames.slowest_work_ms.get().max(took));
    });
    result
}

/// The slowest piece of frame work since the last [`reset_slowest`], in milliseconds.
pub fn slowest_ms() -> f64 {
    FRAMES.with(|frames| frames.slowest_work_ms.get())
}

pub fn reset_slowest() {
    FRAMES.with(|frames| frames.slowest_work_ms.set(0.0));
}

fn request(frames: &Rc<Frames>) {
    if frames.requested.replace(true) {
        return;
    }
    let frames = Rc::clone(frames);
    leptos::prelude::request_animation_frame(move || run(&frames));
}

fn run(frames: &Rc<Frames>) {
    frames.requested.set(false);
    let now = now_ms();
    // Taken out first: a callback may register more (they run at the next frame).
    let once = std::mem::take(&mut *frames.once.borrow_mut());
    for work in once {
        work();
    }
    let ids: Vec<u64> = frames
        .repeating
        .borrow()
        .iter()
        .map(|(id, _)| *id)
        .collect();
    for id in ids {
        // Looked up again: an earlier callback may have stopped this one.
        let work = frames
            .repeating
            .borrow()
            .iter()
            .find(|(other, _)| *other == id)
            .map(|(_, work)| Rc::clone(work));
        if let Some(work) = work {
            (work.borrow_mut())(now);
        }
    }
    if !frames.repeating.borrow().is_empty() || !frames.once.borrow().is_empty() {
        request(frames);
    }
}
