//! Four ways to run the same requests, each with its wall time and every request's timeline:
//! one after another (the wall time is the sum), all joined (the max), a race where the first
//! answer wins and the others are dropped (the min), and all joined under a deadline shorter than
//! the slowest (a timeout error). Generic over the request, so a test can run it on timers.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use futures::future::{self, Either};
use gloo_timers::future::TimeoutFuture;

use crate::frame;

/// How the requests are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// Each starts when the one before has answered.
    Sequence,
    /// All start at once; done when all have answered.
    Join,
    /// All start at once; the first answer wins and the others are dropped (aborted).
    Race,
    /// All start at once, joined, under a deadline of this many milliseconds.
    Timeout(u32),
}

impl Way {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sequence => "one after another",
            Self::Join => "all joined",
            Self::Race => "race",
            Self::Timeout(_) => "with a timeout",
        }
    }
}

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Answered,
    Failed(String),
    /// Dropped before its answer: another won the race, or one before it failed.
    Dropped,
    /// Still waiting when the deadline passed.
    TimedOut,
}

/// One request's line on the timeline, in milliseconds from the start of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Lane {
    pub delay_ms: u32,
    pub started_ms: Option<f64>,
    pub ended_ms: Option<f64>,
    pub ending: Option<Ending>,
}

/// A finished run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub way: Way,
    pub wall_ms: f64,
    pub lanes: Vec<Lane>,
    /// `Ok` with the requests that answered, in the order they answered; or why the run failed.
    pub result: Result<Vec<usize>, String>,
}

type Lanes = Rc<RefCell<Vec<Lane>>>;

/// Marks its lane ended when dropped before the request finished.
struct Track {
    lanes: Lanes,
    index: usize,
    origin: f64,
}

impl Drop for Track {
    fn drop(&mut self) {
        let mut lanes = self.lanes.borrow_mut();
        let lane = &mut lanes[self.index];
        if lane.started_ms.is_some() && lane.ending.is_none() {
            lane.ended_ms = Some(frame::now_ms() - self.origin);
            lane.ending = Some(Ending::Dropped);
        }
    }
}

/// Runs `request(delay)` for each of `delays`, combined `way`.
pub async fn run<F, Fut>(way: Way, delays: &[u32], request: F) -> Run
where
    F: Fn(u32) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let origin = frame::now_ms();
    let lanes: Lanes = Rc::new(RefCell::new(
        delays
            .iter()
            .map(|&delay_ms| Lane {
                delay_ms,
                started_ms: None,
                ended_ms: None,
                ending: None,
            })
            .collect(),
    ));
    let order = Rc::new(RefCell::new(Vec::new()));
    // One request, recorded on its lane: returns its index, or the error it failed with.
    let tracked = |index: usize| {
        let lanes = lanes.clone();
        let order = order.clone();
        let answer = request(delays[index]);
        async move {
            let track = Track {
                lanes: lanes.clone(),
                index,
                origin,
            };
            lanes.borrow_mut()[index].started_ms = Some(frame::now_ms() - origin);
            let result = answer.await;
            let mut all = lanes.borrow_mut();
            let lane = &mut all[index];
            lane.ended_ms = Some(frame::now_ms() - origin);
            lane.ending = Some(match &result {
                Ok(()) => Ending::Answered,
                Err(error) => Ending::Failed(error.clone()),
            });
            drop(all);
            drop(track);
            if result.is_ok() {
                order.borrow_mut().push(index);
            }
            result.map(|()| index)
        }
    };
    let indices = 0..delays.len();
    let result: Result<(), String> = match way {
        Way::Sequence => {
            let mut outcome = Ok(());
            for index in indices {
                if let Err(error) = tracked(index).await {
                    outcome = Err(error);
                    break;
                }
            }
            outcome
        }
        Way::Join => future::try_join_all(indices.map(|i| Box::pin(tracked(i))))
            .await
            .map(drop),
        Way::Race => {
            let racing: Vec<_> = indices.map(|i| Box::pin(tracked(i))).collect();
            if racing.is_empty() {
                Ok(())
            } else {
                // The first to end wins, answer or error; dropping the rest aborts them.
                let (first, _, rest) = future::select_all(racing).await;
                drop(rest);
                first.map(drop)
            }
        }
        Way::Timeout(deadline_ms) => {
            let joined = future::try_join_all(indices.map(|i| Box::pin(tracked(i))));
            match future::select(Box::pin(joined), TimeoutFuture::new(deadline_ms)).await {
                Either::Left((joined, _)) => joined.map(drop),
                Either::Right(((), pending)) => {
                    drop(pending);
                    for lane in lanes.borrow_mut().iter_mut() {
                        if lane.ending == Some(Ending::Dropped) {
                            lane.ending = Some(Ending::TimedOut);
                        }
                    }
                    Err(format!("timed out after {deadline_ms} ms"))
                }
            }
        }
    };
    let lanes = lanes.borrow().clone();
    let answered = order.borrow().clone();
    Run {
        way,
        wall_ms: frame::now_ms() - origin,
        lanes,
        result: result.map(|()| answered),
    }
}
