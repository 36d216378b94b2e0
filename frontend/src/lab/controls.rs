//! The Lab's form: every setting of a run as typed, read as [`RunSettings`] and checked against
//! the limits before Start is enabled.

use leptos::prelude::*;
use protocol::lab::{DELAY_MS_MAX, EchoRequest, JITTER_MS_MAX, PADDING_BYTES_MAX};

use crate::lab::settings::{
    EchoMethod, MAX_AT_ONCE, MAX_COUNT, MAX_RETRIES, RetryPolicy, RunSettings, Strategy,
};

/// The form's fields, each its own signal; [`Form::settings`] reads them as [`RunSettings`].
#[derive(Clone, Copy)]
pub struct Form {
    count: RwSignal<String>,
    delay_ms: RwSignal<String>,
    jitter_ms: RwSignal<String>,
    fail_rate: RwSignal<String>,
    bytes: RwSignal<String>,
    method: RwSignal<String>,
    strategy: RwSignal<String>,
    at_most: RwSignal<String>,
    timeout_ms: RwSignal<String>,
    retries: RwSignal<String>,
}

impl Default for Form {
    /// The fields filled with [`RunSettings::default`].
    fn default() -> Self {
        let defaults = RunSettings::default();
        let text = |value: String| RwSignal::new(value);
        Self {
            count: text(defaults.count.to_string()),
            delay_ms: text(defaults.echo.delay_ms.to_string()),
            jitter_ms: text(defaults.echo.jitter_ms.to_string()),
            fail_rate: text(defaults.echo.fail_rate.to_string()),
            bytes: text(defaults.echo.bytes.to_string()),
            method: text("get".into()),
            strategy: text("all".into()),
            at_most: text("3".into()),
            timeout_ms: text(String::new()),
            retries: text("0".into()),
        }
    }
}

impl Form {
    pub fn settings(&self) -> Result<RunSettings, String> {
        let whole = |signal: RwSignal<String>, name: &str| -> Result<u32, String> {
            let text = signal.get();
            text.trim()
                .parse::<u32>()
                .map_err(|_| format!("{name} must be a whole number, not {text:?}."))
        };
        let fail_rate_text = self.fail_rate.get();
        let fail_rate: f64 = fail_rate_text.trim().parse().map_err(|_| {
            format!("Failure rate must be a number from 0 to 1, not {fail_rate_text:?}.")
        })?;
        let strategy = match self.strategy.get().as_str() {
            "one" => Strategy::OneByOne,
            "at-most" => Strategy::AtMost(whole(self.at_most, "N")?),
            "race" => Strategy::Race,
            _ => Strategy::AllAtOnce,
        };
        let timeout_text = self.timeout_ms.get();
        let timeout_ms = if timeout_text.trim().is_empty() {
            None
        } else {
            Some(whole(self.timeout_ms, "Timeout")?)
        };
        let settings = RunSettings {
            count: whole(self.count, "How many")?,
            echo: EchoRequest {
                delay_ms: whole(self.delay_ms, "Delay")?,
                jitter_ms: whole(self.jitter_ms, "Jitter")?,
                fail_rate,
                bytes: whole(self.bytes, "Payload")?,
                ..EchoRequest::default()
            },
            method: if self.method.get() == "post" {
                EchoMethod::Post
            } else {
                EchoMethod::Get
            },
            strategy,
            timeout_ms,
            retry: RetryPolicy {
                max_retries: whole(self.retries, "Retries")?,
                ..RetryPolicy::OFF
            },
        };
        settings.validate()?;
        Ok(settings)
    }
}

/// The form. The hints say the limits the server and the run enforce (from `protocol` and
/// [`settings`](crate::lab::settings)), never a copy of them.
#[component]
pub fn LabControls(form: Form) -> impl IntoView {
    view! {
        <div class="lab-controls">
            <NumberField label="How many" hint=format!("1–{MAX_COUNT}") value=form.count name="count"/>
            <NumberField label="Delay (ms)" hint=format!("0–{DELAY_MS_MAX}") value=form.delay_ms name="delay"/>
            <NumberField label="Jitter (± ms)" hint=format!("0–{JITTER_MS_MAX}") value=form.jitter_ms name="jitter"/>
            <NumberField label="Failure rate" hint="0–1".to_owned() value=form.fail_rate name="fail-rate"/>
            <NumberField label="Payload (bytes)" hint=format!("0–{PADDING_BYTES_MAX}") value=form.bytes name="bytes"/>
            <label class="field">
                <span>"Method"</span>
                <select data-testid="lab-method" on:change=move |e| form.method.set(event_target_value(&e))>
                    <option value="get" selected>"GET (query string)"</option>
                    <option value="post">"POST (JSON body)"</option>
                </select>
            </label>
            <label class="field">
                <span>"Strategy"</span>
                <select data-testid="lab-strategy" on:change=move |e| form.strategy.set(event_target_value(&e))>
                    <option value="all" selected>"All at once"</option>
                    <option value="one">"One after another"</option>
                    <option value="at-most">"At most N at a time"</option>
                    <option value="race">"Race: first success wins"</option>
                </select>
            </label>
            <Show when=move || form.strategy.get() == "at-most">
                <NumberField label="N" hint=format!("1–{MAX_AT_ONCE}") value=form.at_most name="at-most"/>
            </Show>
            <NumberField label="Timeout (ms)" hint="empty: none".to_owned() value=form.timeout_ms name="timeout"/>
            <NumberField label="Retries" hint=format!("0–{MAX_RETRIES}; 0: off; backoff with full jitter") value=form.retries name="retries"/>
        </div>
    }
}

#[component]
fn NumberField(
    label: &'static str,
    hint: String,
    value: RwSignal<String>,
    name: &'static str,
) -> impl IntoView {
    view! {
        <label class="field">
            <span>{label}</span>
            <input
                type="text"
                inputmode="decimal"
                data-testid=format!("lab-{name}")
                prop:value=move || value.get()
                on:input=move |e| value.set(event_target_value(&e))
            />
            <small>{hint}</small>
        </label>
    }
}
