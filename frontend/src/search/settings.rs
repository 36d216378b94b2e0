//! The Search room's knobs: how long to wait after a keystroke (debounce), what to do with
//! answers that arrive out of order (strategy), and whether to make early requests slow.

use leptos::prelude::*;
use leptos_router::params::ParamsMap;

use crate::search::typeahead::{Counts, Strategy, Typeahead};

/// Largest debounce the form takes, in milliseconds.
pub const DEBOUNCE_MAX_MS: u32 = 500;

/// Sets the knobs an address names (`debounce=0&strategy=naive&slow=1`: a shared link).
pub fn read_address(typeahead: &mut Typeahead, query: &ParamsMap) {
    if let Some(ms) = query
        .get("debounce")
        .and_then(|ms| ms.parse::<u32>().ok())
        .filter(|ms| *ms <= DEBOUNCE_MAX_MS)
    {
        typeahead.debounce_ms = f64::from(ms);
    }
    if let Some(key) = query.get("strategy") {
        typeahead.strategy = Strategy::from_key(&key);
    }
    typeahead.slow_early = query.get("slow").is_some_and(|on| on == "1");
}

/// Writes the knobs that differ from their defaults into `params`, for the address.
pub fn write_address(typeahead: &Typeahead, params: &web_sys::UrlSearchParams) {
    let defaults = Typeahead::default();
    if typeahead.debounce_ms != defaults.debounce_ms {
        params.append("debounce", &typeahead.debounce_ms.to_string());
    }
    if typeahead.strategy != defaults.strategy {
        params.append("strategy", typeahead.strategy.key());
    }
    if typeahead.slow_early {
        params.append("slow", "1");
    }
}

#[component]
pub fn SearchSettings(
    typeahead: StoredValue<Typeahead, LocalStorage>,
    /// What the answers came to; a new strategy starts a count of its own.
    counts: RwSignal<Counts>,
    /// Told when a knob changed (the address follows).
    changed: Callback<()>,
) -> impl IntoView {
    let (debounce_ms, strategy_now) = typeahead.with_value(|t| (t.debounce_ms, t.strategy));
    let debounce = RwSignal::new(debounce_ms.to_string());
    let debounce_error = move || {
        let text = debounce.get();
        match text.trim().parse::<u32>() {
            Ok(ms) if ms <= DEBOUNCE_MAX_MS => None,
            _ => Some(format!(
                "The debounce must be a whole number from 0 to {DEBOUNCE_MAX_MS}, not {text:?}."
            )),
        }
    };
    let set_debounce = move |value: String| {
        if let Ok(ms) = value.trim().parse::<u32>()
            && ms <= DEBOUNCE_MAX_MS
        {
            typeahead.update_value(|t| t.debounce_ms = f64::from(ms));
            changed.run(());
        }
        debounce.set(value);
    };
    view! {
        <div class="search-settings">
            <label class="field">
                <span>"Debounce (ms)"</span>
                <input
                    type="text"
                    inputmode="numeric"
                    data-testid="search-debounce"
                    prop:value=move || debounce.get()
                    on:input=move |e| set_debounce(event_target_value(&e))
                />
                <small>{format!("0–{DEBOUNCE_MAX_MS}: wait this long after the last keystroke")}</small>
            </label>
            <label class="field">
                <span>"Strategy"</span>
                <select
                    data-testid="search-strategy"
                    on:change=move |e| {
                        let strategy = Strategy::from_key(&event_target_value(&e));
                        typeahead.update_value(|t| {
                            t.strategy = strategy;
                            t.counts = Counts::default();
                        });
                        counts.set(Counts::default());
                        changed.run(());
                    }
                >
                    {Strategy::ALL.into_iter().map(|strategy| view! {
                        <option value=strategy.key() selected=strategy == strategy_now>{strategy.label()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label class="check">
                <input
                    type="checkbox"
                    data-testid="search-slow-early"
                    prop:checked=typeahead.with_value(|t| t.slow_early)
                    on:change=move |e| {
                        let on = event_target_checked(&e);
                        typeahead.update_value(|t| t.slow_early = on);
                        changed.run(());
                    }
                />
                <span>"Slow early requests: each keystroke's answer comes back sooner than the one before"</span>
            </label>
            <p class="form-error" role="alert">{debounce_error}</p>
        </div>
    }
}
