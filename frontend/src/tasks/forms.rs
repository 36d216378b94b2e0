//! The forms that start the four kinds of job, each with its fields, its limits (from
//! `protocol`) and a Start button that submits through the session.

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::jobs::{
    Hashchain, ITERATIONS_MAX, JobSpec, Mandelbrot, PRIMES_LIMIT_MAX, PRIMES_LIMIT_MIN, Primes,
    ROUNDS_MAX, SIDE_MAX, SIDE_MIN, WAIT_SECONDS_MAX, Wait,
};

use super::session::{grouped, use_tasks};

/// A form's Start button and error line; `spec` builds the job from the fields.
#[component]
fn StartButton(
    /// The kind, for the button's test id (`start-primes`).
    kind: &'static str,
    spec: impl Fn() -> Result<JobSpec, String> + Send + Sync + 'static,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let tasks = use_tasks();
    let busy = RwSignal::new(false);
    let start = move |_| match spec() {
        Err(message) => error.set(Some(message)),
        Ok(spec) => {
            error.set(None);
            busy.set(true);
            spawn_local(async move {
                let result = tasks.submit(spec).await;
                let _ = busy.try_set(false);
                let _ = error.try_set(result.err().map(|e| e.to_string()));
            });
        }
    };
    view! {
        <button
            type="submit"
            data-testid=format!("start-{kind}")
            on:click=start
            disabled=move || busy.get()
        >
            "Start"
        </button>
        <p class="form-error" role="alert">{move || error.get()}</p>
    }
}

/// A whole number from a field, within `min..=max`.
fn whole(text: &str, name: &str, min: u64, max: u64) -> Result<u64, String> {
    text.trim()
        .replace(['_', ' ', ',', '\u{202f}'], "")
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            format!(
                "{name} must be a whole number from {} to {}.",
                grouped(min),
                grouped(max)
            )
        })
}

fn prevent(event: web_sys::SubmitEvent) {
    event.prevent_default();
}

#[component]
pub fn PrimesForm() -> impl IntoView {
    let limit = RwSignal::new("100000000".to_owned());
    let error = RwSignal::new(None);
    let spec = move || {
        let limit = whole(
            &limit.get_untracked(),
            "The limit",
            PRIMES_LIMIT_MIN,
            PRIMES_LIMIT_MAX,
        )?;
        Ok(JobSpec::Primes(Primes { limit }))
    };
    view! {
        <form class="tasks-card" on:submit=prevent aria-labelledby="form-primes">
            <h2 id="form-primes">"Count primes"</h2>
            <p class="hint">"A segmented sieve counts the primes up to a limit. 10⁹ takes a few seconds; 10¹⁰ most of a minute."</p>
            <label class="field">
                <span>"Up to"</span>
                <input inputmode="numeric" data-testid="primes-limit" bind:value=limit/>
            </label>
            <StartButton kind="primes" spec=spec error=error/>
        </form>
    }
}

#[component]
pub fn MandelbrotForm() -> impl IntoView {
    let width = RwSignal::new("640".to_owned());
    let height = RwSignal::new("480".to_owned());
    let iterations = RwSignal::new("500".to_owned());
    let error = RwSignal::new(None);
    let spec = move || {
        let side = |text: RwSignal<String>, name| {
            whole(
                &text.get_untracked(),
                name,
                SIDE_MIN.into(),
                SIDE_MAX.into(),
            )
            .map(|n| n as u32)
        };
        Ok(JobSpec::Mandelbrot(Mandelbrot {
            width: side(width, "The width")?,
            height: side(height, "The height")?,
            max_iterations: whole(
                &iterations.get_untracked(),
                "The iteration cap",
                1,
                ITERATIONS_MAX.into(),
            )? as u32,
            centre_re: -0.5,
            centre_im: 0.0,
            span: 3.0,
        }))
    };
    view! {
        <form class="tasks-card" on:submit=prevent aria-labelledby="form-mandelbrot">
            <h2 id="form-mandelbrot">"Draw the Mandelbrot set"</h2>
            <p class="hint">"A picture, pixel by pixel; the result is a PNG."</p>
            <div class="tasks-row">
                <label class="field">
                    <span>"Width"</span>
                    <input inputmode="numeric" data-testid="mandelbrot-width" bind:value=width/>
                </label>
                <label class="field">
                    <span>"Height"</span>
                    <input inputmode="numeric" data-testid="mandelbrot-height" bind:value=height/>
                </label>
                <label class="field">
                    <span>"Iterations"</span>
                    <input inputmode="numeric" data-testid="mandelbrot-iterations" bind:value=iterations/>
                </label>
            </div>
            <StartButton kind="mandelbrot" spec=spec error=error/>
        </form>
    }
}

#[component]
pub fn HashchainForm() -> impl IntoView {
    let seed = RwSignal::new("meanwhile".to_owned());
    let rounds = RwSignal::new("20000000".to_owned());
    let error = RwSignal::new(None);
    let spec = move || {
        Ok(JobSpec::Hashchain(Hashchain {
            seed: seed.get_untracked(),
            rounds: whole(&rounds.get_untracked(), "The rounds", 1, ROUNDS_MAX)?,
        }))
    };
    view! {
        <form class="tasks-card" on:submit=prevent aria-labelledby="form-hashchain">
            <h2 id="form-hashchain">"Hash again and again"</h2>
            <p class="hint">"SHA-256 of the seed, then of that hash, and so on."</p>
            <div class="tasks-row">
                <label class="field">
                    <span>"Seed"</span>
                    <input bind:value=seed/>
                </label>
                <label class="field">
                    <span>"Rounds"</span>
                    <input inputmode="numeric" bind:value=rounds/>
                </label>
            </div>
            <StartButton kind="hashchain" spec=spec error=error/>
        </form>
    }
}

#[component]
pub fn WaitForm() -> impl IntoView {
    let seconds = RwSignal::new("10".to_owned());
    let error = RwSignal::new(None);
    let spec = move || {
        let seconds = whole(
            &seconds.get_untracked(),
            "The wait",
            0,
            WAIT_SECONDS_MAX.into(),
        )?;
        Ok(JobSpec::Wait(Wait {
            seconds: seconds as u32,
        }))
    };
    view! {
        <form class="tasks-card" on:submit=prevent aria-labelledby="form-wait">
            <h2 id="form-wait">"Just wait"</h2>
            <p class="hint">"Uses no CPU, but holds one of the server's workers for its whole wait, as any job does: to watch the queue, cancel, and restart."</p>
            <label class="field">
                <span>"Seconds"</span>
                <input inputmode="numeric" data-testid="wait-seconds" bind:value=seconds/>
            </label>
            <StartButton kind="wait" spec=spec error=error/>
        </form>
    }
}
