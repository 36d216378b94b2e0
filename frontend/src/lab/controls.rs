//! The Lab's form: every setting of a run as typed, read as [`RunSettings`] and checked against
//! the limits before Start is enabled.

use leptos::prelude::*;
use protocol::lab::{
    DELAY_MS_MAX, EchoRequest, FAIL_FIRST_MAX, Fault, JITTER_MS_MAX, PADDING_BYTES_MAX,
};

use crate::address;
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
    fault: RwSignal<String>,
    fail_first: RwSignal<String>,
    seed: RwSignal<String>,
    bytes: RwSignal<String>,
    method: RwSignal<String>,
    strategy: RwSignal<String>,
    at_most: RwSignal<String>,
    timeout_ms: RwSignal<String>,
    retries: RwSignal<String>,
}

/// The form's fields as the address names them, with what each holds by default
/// ([`RunSettings::default`]).
fn defaults() -> [(&'static str, String); 13] {
    let defaults = RunSettings::default();
    [
        ("count", defaults.count.to_string()),
        ("delay", defaults.echo.delay_ms.to_string()),
        ("jitter", defaults.echo.jitter_ms.to_string()),
        ("fail", defaults.echo.fail_rate.to_string()),
        ("fault", defaults.echo.fault.key().into()),
        ("fail_first", defaults.echo.fail_first.to_string()),
        ("seed", String::new()),
        ("bytes", defaults.echo.bytes.to_string()),
        ("method", "get".into()),
        ("strategy", "all".into()),
        ("n", "3".into()),
        ("timeout", String::new()),
        ("retries", "0".into()),
    ]
}

impl Default for Form {
    /// The fields filled with [`RunSettings::default`].
    fn default() -> Self {
        let defaults = defaults();
        let field = |name: &str| {
            let value = defaults.iter().find(|(field, _)| *field == name);
            RwSignal::new(value.map(|(_, value)| value.clone()).unwrap_or_default())
        };
        Self {
            count: field("count"),
            delay_ms: field("delay"),
            jitter_ms: field("jitter"),
            fail_rate: field("fail"),
            fault: field("fault"),
            fail_first: field("fail_first"),
            seed: field("seed"),
            bytes: field("bytes"),
            method: field("method"),
            strategy: field("strategy"),
            at_most: field("n"),
            timeout_ms: field("timeout"),
            retries: field("retries"),
        }
    }
}

/// A prepared experiment: the settings it changes, and what to watch.
pub struct Preset {
    pub key: &'static str,
    pub name: &'static str,
    pub watch: &'static str,
    /// Fields by their name in the address; the rest take their defaults.
    pub fields: &'static [(&'static str, &'static str)],
}

pub const PRESETS: [Preset; 4] = [
    Preset {
        key: "six",
        name: "Six connections",
        watch: "Only six requests wait for the server at a time: the others wait (orange) for one \
                of the browser's six connections to it.",
        fields: &[("count", "30"), ("delay", "1500"), ("jitter", "0")],
    },
    Preset {
        key: "storm",
        name: "Retry storm",
        watch: "A third fail with a 503 and are tried again after a random backoff: the retries \
                spread out instead of hitting the server together.",
        fields: &[
            ("count", "200"),
            ("delay", "300"),
            ("jitter", "200"),
            ("fail", "0.3"),
            ("retries", "3"),
        ],
    },
    Preset {
        key: "race",
        name: "Race to the first",
        watch: "The first answer wins; the others are aborted the moment it lands, and the server \
                counts them abandoned.",
        fields: &[
            ("count", "5"),
            ("delay", "1500"),
            ("jitter", "1400"),
            ("strategy", "race"),
        ],
    },
    Preset {
        key: "stale",
        name: "The stale answer",
        watch: "Answers come back in another order than they left: a page that showed each as it \
                came would end on an old one, not the newest (Search shows it happen).",
        fields: &[("count", "10"), ("delay", "1000"), ("jitter", "900")],
    },
];

impl Form {
    /// Each field with its name in the address.
    fn fields(&self) -> [(&'static str, RwSignal<String>); 13] {
        [
            ("count", self.count),
            ("delay", self.delay_ms),
            ("jitter", self.jitter_ms),
            ("fail", self.fail_rate),
            ("fault", self.fault),
            ("fail_first", self.fail_first),
            ("seed", self.seed),
            ("bytes", self.bytes),
            ("method", self.method),
            ("strategy", self.strategy),
            ("n", self.at_most),
            ("timeout", self.timeout_ms),
            ("retries", self.retries),
        ]
    }

    /// Sets the fields `value` names (a shared link's query, a preset); the others take
    /// their defaults.
    pub fn set_all(&self, value: impl Fn(&str) -> Option<String>) {
        for ((name, field), (_, default)) in self.fields().into_iter().zip(defaults()) {
            field.set(value(name).unwrap_or(default));
        }
    }

    /// Keeps the settings in the address of `path` ([`crate::address`]).
    pub fn keep_in_address(self, path: &'static str) {
        let fields = self
            .fields()
            .into_iter()
            .zip(defaults())
            .map(|((name, value), (_, default))| address::Field {
                name,
                value,
                default,
            })
            .collect();
        address::keep(path, fields);
    }

    /// Applies `preset`.
    pub fn apply(&self, preset: &Preset) {
        self.set_all(|name| {
            preset
                .fields
                .iter()
                .find(|(field, _)| *field == name)
                .map(|(_, value)| (*value).to_owned())
        });
    }

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
        let fault_key = self.fault.get();
        let fault = Fault::ALL
            .into_iter()
            .find(|fault| fault.key() == fault_key)
            .unwrap_or_default();
        let seed_text = self.seed.get();
        let seed = if seed_text.trim().is_empty() {
            None
        } else {
            Some(seed_text.trim().parse::<u64>().map_err(|_| {
                format!("Seed must be a whole number, or empty, not {seed_text:?}.")
            })?)
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
                fault,
                fail_first: whole(self.fail_first, "Fail first")?,
                seed,
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
    let watch = RwSignal::new(None::<&'static str>);
    let choose_preset = move |event: leptos::ev::Event| {
        let key = event_target_value(&event);
        let preset = PRESETS.iter().find(|preset| preset.key == key);
        if let Some(preset) = preset {
            form.apply(preset);
        }
        watch.set(preset.map(|preset| preset.watch));
    };
    view! {
        <div class="lab-presets">
            <label class="field">
                <span>"Preset"</span>
                <select data-testid="lab-preset" on:change=choose_preset>
                    <option value="">"your own settings"</option>
                    {PRESETS.iter().map(|preset| view! { <option value=preset.key>{preset.name}</option> }).collect_view()}
                </select>
            </label>
            <p class="preset-watch" aria-live="polite" data-testid="lab-preset-watch">
                {move || watch.get().map(|watch| format!("Watch: {watch}"))}
            </p>
        </div>
        <div class="lab-controls">
            <NumberField label="How many" hint=format!("1–{MAX_COUNT}") value=form.count name="count"/>
            <NumberField label="Delay (ms)" hint=format!("0–{DELAY_MS_MAX}") value=form.delay_ms name="delay"/>
            <NumberField label="Jitter (± ms)" hint=format!("0–{JITTER_MS_MAX}") value=form.jitter_ms name="jitter"/>
            <NumberField label="Failure rate" hint="0–1".to_owned() value=form.fail_rate name="fail-rate"/>
            <label class="field">
                <span>"A failure is"</span>
                <select data-testid="lab-fault" on:change=move |e| form.fault.set(event_target_value(&e))>
                    {Fault::ALL.into_iter().map(|fault| view! {
                        <option value=fault.key() selected=move || form.fault.get() == fault.key()>{fault_label(fault)}</option>
                    }).collect_view()}
                </select>
            </label>
            <NumberField label="Fail first" hint=format!("0–{FAIL_FIRST_MAX} attempts of each request") value=form.fail_first name="fail-first"/>
            <NumberField label="Seed" hint="empty: random; a seed fails the same requests every run".to_owned() value=form.seed name="seed"/>
            <NumberField label="Payload (bytes)" hint=format!("0–{PADDING_BYTES_MAX}") value=form.bytes name="bytes"/>
            <label class="field">
                <span>"Method"</span>
                <select data-testid="lab-method" on:change=move |e| form.method.set(event_target_value(&e))>
                    <option value="get" selected=move || form.method.get() == "get">"GET (query string)"</option>
                    <option value="post" selected=move || form.method.get() == "post">"POST (JSON body)"</option>
                </select>
            </label>
            <label class="field">
                <span>"Strategy"</span>
                <select data-testid="lab-strategy" on:change=move |e| form.strategy.set(event_target_value(&e))>
                    {[
                        ("all", "All at once"),
                        ("one", "One after another"),
                        ("at-most", "At most N at a time"),
                        ("race", "Race: first success wins"),
                    ]
                        .into_iter()
                        .map(|(key, label)| view! {
                            <option value=key selected=move || form.strategy.get() == key>{label}</option>
                        })
                        .collect_view()}
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

/// A fault as the form offers it: what the server does, and what the page's retry makes of it.
pub fn fault_label(fault: Fault) -> &'static str {
    match fault {
        Fault::Unavailable => "503 Unavailable — retried",
        Fault::TooMany => "429 with Retry-After — retried after it",
        Fault::Internal => "500 Internal — not retried",
        Fault::Reset => "connection reset — resent by the browser, else retried",
        Fault::Cut => "body cut short — retried",
        Fault::Drip => "body dripped slowly — succeeds, late",
        Fault::Silent => "no answer — ends at the timeout",
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
