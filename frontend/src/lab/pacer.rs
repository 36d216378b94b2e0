//! When an attempt may be handed to the browser. A `fetch` call is not free: in Chromium it costs
//! about half a millisecond of main-thread time (more while hundreds wait for a connection), so a
//! thousand of them in one go would freeze the page for the better part of a second. Sends are
//! therefore paced by *time*: each animation frame opens a window of [`SEND_BUDGET_MS`], and
//! attempts leave one after another, in the order they asked, while the window is open. The rest
//! wait for the next frame. A fast machine sends many per frame; a slow one fewer; neither
//! misses a frame.
//!
//! This costs nothing in wall time: over HTTP/1.1 the browser lets 6 requests per host travel at
//! once, and even a slow machine hands requests over far faster than 6 connections carry them.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use futures::channel::oneshot;

use crate::frame::{self, now_ms};

/// Main-thread time per animation frame during which attempts may be sent.
pub const SEND_BUDGET_MS: f64 = 4.0;

#[derive(Default)]
struct Pacer {
    /// Sends may start until this time (`performance.now()`); set at each animation frame.
    open_until: Cell<f64>,
    /// Those waiting for their turn, in order.
    waiting: RefCell<VecDeque<oneshot::Sender<()>>>,
    frame_requested: Cell<bool>,
    /// Animation frames that opened a window so far (for the tests).
    frames: Cell<u64>,
}

impl Pacer {
    fn is_open(&self) -> bool {
        now_ms() < self.open_until.get()
    }

    /// Passes the turn to the first waiter still waiting (one whose run was dropped is skipped).
    fn wake_next(&self) {
        loop {
            let Some(turn) = self.waiting.borrow_mut().pop_front() else {
                return;
            };
            if turn.send(()).is_ok() {
                return;
            }
        }
    }
}

thread_local! {
    static PACER: Rc<Pacer> = Rc::new(Pacer::default());
}

/// Completes when the caller may send: at once if nobody waits and this frame's window is open,
/// otherwise in its turn. Whoever gets a turn passes it on after its own send has been made (the
/// next one runs after this task yields), so the window is measured against real sending time.
pub async fn send_turn() {
    let pacer = PACER.with(Rc::clone);
    if pacer.waiting.borrow().is_empty() && pacer.is_open() {
        return;
    }
    let mut first_in_line = false;
    loop {
        let (turn, wait) = oneshot::channel();
        if first_in_line {
            pacer.waiting.borrow_mut().push_front(turn);
        } else {
            pacer.waiting.borrow_mut().push_back(turn);
        }
        request_frame(&pacer);
        if wait.await.is_err() {
            return;
        }
        if pacer.is_open() {
            pacer.wake_next();
            return;
        }
        // The window closed while this one waited: it goes first in the next frame.
        first_in_line = true;
    }
}

/// How many frames have opened a sending window so far on this thread.
pub fn frames_opened() -> u64 {
    PACER.with(|pacer| pacer.frames.get())
}

fn request_frame(pacer: &Rc<Pacer>) {
    if pacer.frame_requested.replace(true) {
        return;
    }
    let pacer = Rc::clone(pacer);
    frame::next_frame(move || {
        pacer.frame_requested.set(false);
        pacer.frames.set(pacer.frames.get() + 1);
        pacer.open_until.set(now_ms() + SEND_BUDGET_MS);
        pacer.wake_next();
        // Keep the frames coming while anyone waits: if a turn was lost (its run dropped between
        // being woken and sending), the next frame starts the line again.
        if !pacer.waiting.borrow().is_empty() {
            request_frame(&pacer);
        }
    });
}
