//! A technique's panel: its frame (title, what it shows, Run and Cancel, the result, the source
//! file that ran) and its runs. Run pressed while a run is in flight aborts that run first; Cancel
//! aborts it; leaving the room aborts it. Each run has a number, and only the current run's
//! answer is shown: the late answer of a run that was superseded or cancelled changes nothing.

use leptos::prelude::*;
use protocol::lab::{DELAY_MS_MAX, EchoRequest, JITTER_MS_MAX};

use crate::frame;

/// What a panel shows below its buttons.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    Idle,
    Running,
    Done(String, f64),
    Failed(String, f64),
    Cancelled(f64),
}

impl Shown {
    fn text(&self) -> String {
        match self {
            Self::Idle => "Press Run.".to_owned(),
            Self::Running => "Waiting for the answer…".to_owned(),
            Self::Done(text, ms) => format!("{text} — {ms:.0} ms"),
            Self::Failed(text, ms) => format!("Failed: {text} — {ms:.0} ms"),
            Self::Cancelled(ms) => format!("Cancelled after {ms:.0} ms."),
        }
    }
}

/// Which run an answer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunId(u64);

/// The run the panel shows: its number, and when it started.
#[derive(Debug, Clone, Copy, Default)]
struct Current {
    number: u64,
    started_ms: f64,
}

/// One panel's runs; `Copy`, for the panel's closures.
#[derive(Clone, Copy)]
pub struct Runs {
    pub shown: RwSignal<Shown>,
    current: StoredValue<Current>,
    /// How to stop the run in flight: abort its request, close its stream.
    stop: StoredValue<Option<Box<dyn FnOnce()>>, LocalStorage>,
}

impl Runs {
    /// The runs of the panel being built, stopped when it goes (the person leaves the room).
    pub fn for_panel() -> Self {
        let runs = Self {
            shown: RwSignal::new(Shown::Idle),
            current: StoredValue::new(Current::default()),
            stop: StoredValue::new_local(None),
        };
        on_cleanup(move || runs.stop_in_flight());
        runs
    }

    /// Starts a new run, stopping the one in flight (whose answer is now ignored), and shows
    /// that it waits.
    pub fn start(&self) -> RunId {
        let number = self.current.get_value().number + 1;
        self.current.set_value(Current {
            number,
            started_ms: frame::now_ms(),
        });
        self.stop_in_flight();
        self.shown.set(Shown::Running);
        RunId(number)
    }

    /// How to stop `run` if it is still in flight when it must end.
    pub fn on_stop(&self, run: RunId, stop: impl FnOnce() + 'static) {
        if self.current.get_value().number == run.0 {
            self.stop.set_value(Some(Box::new(stop)));
        }
    }

    /// The run in flight, or the last one.
    pub fn current(&self) -> RunId {
        RunId(self.current.get_value().number)
    }

    /// `run` answered (or failed): shown, if it is still the run in flight.
    pub fn settle(&self, run: RunId, result: Result<String, String>) {
        let Some(current) = self.current.try_get_value() else {
            return;
        };
        if current.number != run.0 || self.shown.get_untracked() != Shown::Running {
            return;
        }
        // Nothing left to stop. Let go of it on the next turn: this may be running inside one
        // of its callbacks.
        if let Some(done) = self.stop.try_update_value(Option::take).flatten() {
            leptos::task::spawn_local(async move { drop(done) });
        }
        let ms = frame::now_ms() - current.started_ms;
        let _ = self.shown.try_set(match result {
            Ok(text) => Shown::Done(text, ms),
            Err(error) => Shown::Failed(error, ms),
        });
    }

    /// Cancel: the run in flight is stopped, and its answer, if one still comes, is ignored.
    pub fn cancel(&self) {
        if self.shown.get_untracked() != Shown::Running {
            return;
        }
        let current = self.current.get_value();
        self.current.set_value(Current {
            number: current.number + 1,
            ..current
        });
        self.stop_in_flight();
        self.shown
            .set(Shown::Cancelled(frame::now_ms() - current.started_ms));
    }

    fn stop_in_flight(&self) {
        // Taken out before it runs: stopping may call back into these runs.
        if let Some(stop) = self.stop.try_update_value(Option::take).flatten() {
            stop();
        }
    }
}

/// The echo's knobs every panel runs with.
#[derive(Debug, Clone, Copy)]
pub struct Knobs {
    pub delay: RwSignal<String>,
    pub jitter: RwSignal<String>,
    pub fail: RwSignal<String>,
}

impl Knobs {
    pub fn request(&self) -> EchoRequest {
        let number = |text: RwSignal<String>, max: u32| {
            text.get_untracked()
                .trim()
                .parse::<u32>()
                .unwrap_or(0)
                .min(max)
        };
        EchoRequest {
            delay_ms: number(self.delay, DELAY_MS_MAX),
            jitter_ms: number(self.jitter, JITTER_MS_MAX),
            fail_rate: self
                .fail
                .get_untracked()
                .trim()
                .parse::<f64>()
                .unwrap_or(0.0)
                .clamp(0.0, 1.0),
            bytes: 0,
            seq: Some((js_sys::Math::random() * 1000.0) as u64),
            ..EchoRequest::default()
        }
    }
}

/// The knobs the page provides.
pub fn knobs() -> Knobs {
    expect_context::<Knobs>()
}

/// A panel's frame: its title, what it shows, its buttons and result, and its source.
#[component]
pub fn Panel(
    /// The test id and heading id.
    id: &'static str,
    title: &'static str,
    about: &'static str,
    source: &'static str,
    runs: Runs,
    on_run: impl Fn() + Send + Sync + 'static,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let shown = runs.shown;
    let running = move || shown.get() == Shown::Running;
    view! {
        <article class="technique" data-testid=format!("technique-{id}") aria-labelledby=format!("technique-{id}-title")>
            <h2 id=format!("technique-{id}-title")>{title}</h2>
            <p class="hint">{about}</p>
            <div class="technique-buttons">
                <button type="button" data-testid="technique-run" on:click=move |_| on_run()>
                    "Run"
                </button>
                <button
                    type="button"
                    class="quiet"
                    data-testid="technique-cancel"
                    disabled=move || !running()
                    on:click=move |_| runs.cancel()
                >
                    "Cancel"
                </button>
            </div>
            {match children {
                Some(children) => children(),
                None => view! {
                    <p class="technique-result" role="status" data-testid="technique-result">
                        {move || shown.get().text()}
                    </p>
                }
                    .into_any(),
            }}
            <details class="technique-source">
                <summary>"Source"</summary>
                <pre><code data-testid="technique-source">{source}</code></pre>
            </details>
        </article>
    }
}
