//! The Search page (`/search?q=`): results under the box as you type, with a debounce, a strategy
//! for answers that come back out of order, and "slow early requests" to make that happen on
//! demand. The query lives in the address, so a search can be shared and back/forward restore it.

use std::collections::HashMap;

use gloo_timers::callback::Timeout;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_query_map};
use protocol::search::{CharacterHit, SearchQuery};
use web_sys::AbortController;

use crate::address;
use crate::api::{self, ApiError};
use crate::frame::now_ms;
use crate::inspector::{self, Outcome};
use crate::search::more::{LoadMore, More};
use crate::search::results::{ResultList, SearchStatus, Shown, copy, option_id};
use crate::search::settings::{self, SearchSettings};
use crate::search::typeahead::{Counts, Send, Typeahead, Typed, Verdict};

/// Results asked for at a time.
const PAGE: i64 = 20;

#[component]
pub fn Search() -> impl IntoView {
    let text = RwSignal::new(String::new());
    let shown = RwSignal::new(Shown::Nothing);
    let active = RwSignal::new(None::<usize>);
    let counts = RwSignal::new(Counts::default());
    let toast = RwSignal::new(None::<String>);
    let more = RwSignal::new(More::Idle);
    let typeahead = StoredValue::new_local(Typeahead::default());
    // The knobs live in the address beside the query: a shared link opens the same experiment.
    let query_map = use_query_map();
    query_map.with_untracked(|query| {
        typeahead.update_value(|t| settings::read_address(t, query));
    });
    let controllers = StoredValue::new_local(HashMap::<u64, AbortController>::new());
    let timer = StoredValue::new_local(None::<Timeout>);
    // Leaving the room aborts what it asked for.
    on_cleanup(move || {
        for (_, controller) in controllers
            .try_update_value(std::mem::take)
            .unwrap_or_default()
        {
            controller.abort();
        }
        timer.try_update_value(Option::take);
    });

    let abort = move |ids: Vec<u64>| {
        for id in ids {
            if let Some(controller) = controllers.try_update_value(|c| c.remove(&id)).flatten() {
                controller.abort();
            }
        }
    };
    let run = move |send: Send| {
        abort(send.abort.clone());
        let Ok(controller) = AbortController::new() else {
            return;
        };
        let signal = controller.signal();
        controllers.update_value(|c| {
            c.insert(send.id, controller);
        });
        let strategy = typeahead
            .with_value(|t| format!("{}, debounce {} ms", t.strategy.label(), t.debounce_ms));
        spawn_local(async move {
            let query = SearchQuery {
                q: send.query.clone(),
                limit: Some(PAGE),
                offset: None,
                delay_ms: (send.delay_ms > 0).then_some(send.delay_ms),
            };
            let traced = api::search::search(&query, Some(&signal), strategy).await;
            let _ = controllers.try_update_value(|c| c.remove(&send.id));
            let verdict = match &traced.result {
                Err(ApiError::Aborted) => {
                    let why = match typeahead.try_update_value(|t| t.aborted(send.id)) {
                        Some(_) => "aborted — a newer query replaced it",
                        None => "aborted — left the room",
                    };
                    inspector::reclassify_because(traced.entry, Outcome::Aborted, why.to_owned());
                    None
                }
                _ => typeahead.try_update_value(|t| t.answered(send.id)),
            };
            match (verdict, traced.result) {
                (Some(Verdict::Apply), Ok(answer)) => {
                    let _ = active.try_set(None);
                    let _ = more.try_set(More::Idle);
                    let _ = shown.try_set(Shown::Results {
                        query: send.query,
                        total: answer.body.total,
                        took_us: answer.body.took_us,
                        items: answer.body.items,
                    });
                }
                (Some(Verdict::Apply), Err(error)) => {
                    let _ = shown.try_set(Shown::Failed {
                        query: send.query,
                        message: error.to_string(),
                    });
                }
                (Some(Verdict::Discard), _) => {
                    inspector::reclassify_because(
                        traced.entry,
                        Outcome::StaleDiscarded,
                        "stale — a newer query had answered".to_owned(),
                    );
                }
                (None, _) => {}
            }
            if let Some(now) = typeahead.try_with_value(|t| t.counts) {
                let _ = counts.try_set(now);
            }
        });
    };
    let send_now = move |query: String| {
        typeahead.update_value(|t| {
            t.typed(&query, now_ms());
        });
        if !query.trim().is_empty()
            && let Some(send) = typeahead.try_update_value(|t| t.send(query))
        {
            run(send);
        }
    };

    // The address holds the query: a shared link, or back and forward, set the box.
    let navigate = use_navigate();
    // The address of what the box holds, with the knobs.
    let write_address = Callback::new(move |text: String| {
        let Ok(params) = web_sys::UrlSearchParams::new() else {
            return;
        };
        if !text.is_empty() {
            params.append("q", &text);
        }
        typeahead.with_value(|t| settings::write_address(t, &params));
        navigate(
            &address::with_query("/search", &params),
            address::replacing(),
        );
    });
    let knobs_changed = Callback::new(move |()| write_address.run(text.get_untracked()));
    Effect::new(move |_| {
        let q = query_map.with(|map| map.get("q")).unwrap_or_default();
        if q != text.get_untracked() {
            text.set(q.clone());
            if q.trim().is_empty() {
                shown.set(Shown::Nothing);
            }
            send_now(q);
        }
    });
    let keystroke = move |value: String| {
        text.set(value.clone());
        write_address.run(value.clone());
        match typeahead.try_update_value(|t| t.typed(&value, now_ms())) {
            Some(Typed::SendAt(at)) => {
                let fire = move || {
                    if let Some(Some(send)) = typeahead.try_update_value(|t| t.due(at)) {
                        run(send);
                    }
                };
                let wait = (at - now_ms()).max(0.0) as u32;
                if wait == 0 {
                    // No debounce: this keystroke's request leaves now.
                    timer.set_value(None);
                    fire();
                } else {
                    timer.set_value(Some(Timeout::new(wait, fire)));
                }
            }
            Some(Typed::Cleared { abort: ids }) => {
                timer.set_value(None);
                abort(ids);
                shown.set(Shown::Nothing);
                active.set(None);
            }
            None => {}
        }
    };
    let keystroke = StoredValue::new_local(keystroke);
    let items = Signal::derive(move || match shown.get() {
        Shown::Results { items, .. } => items,
        _ => Vec::new(),
    });
    let pick = Callback::new(move |hit: CharacterHit| copy(&hit, toast));
    let on_key = move |event: web_sys::KeyboardEvent| {
        let count = items.with_untracked(Vec::len);
        match event.key().as_str() {
            "ArrowDown" if count > 0 => {
                event.prevent_default();
                active.update(|a| *a = Some(a.map_or(0, |i| (i + 1).min(count - 1))));
            }
            "ArrowUp" if count > 0 => {
                event.prevent_default();
                active.update(|a| *a = Some(a.map_or(0, |i| i.saturating_sub(1))));
            }
            "Enter" => {
                let index = active.get_untracked().unwrap_or(0);
                if let Some(hit) = items.with_untracked(|items| items.get(index).cloned()) {
                    pick.run(hit);
                }
            }
            "Escape" => keystroke.with_value(|k| k(String::new())),
            _ => {}
        }
    };
    // The next page: one at a time, for the query on screen, appended only if that query is
    // still the one shown when it arrives.
    let room = api::Room::here();
    let load_more = Callback::new(move |()| {
        if more.get_untracked() == More::Loading {
            return;
        }
        let Some((query, offset)) = shown.with_untracked(|shown| match shown {
            Shown::Results {
                query,
                total,
                items,
                ..
            } if items.len() < *total => Some((query.clone(), items.len())),
            _ => None,
        }) else {
            return;
        };
        more.set(More::Loading);
        // Leaving the room (or the page being replaced) aborts it.
        room.spawn(async move {
            let page = SearchQuery {
                q: query.clone(),
                limit: Some(PAGE),
                offset: i64::try_from(offset).ok(),
                delay_ms: None,
            };
            let traced = api::search::search(&page, None, "the next page".to_owned()).await;
            match traced.result {
                Ok(answer) => {
                    let _ = shown.try_update(|shown| {
                        if let Shown::Results {
                            query: current,
                            items,
                            ..
                        } = shown
                            && *current == query
                            && items.len() == offset
                        {
                            items.extend(answer.body.items);
                        }
                    });
                    let _ = more.try_set(More::Idle);
                }
                Err(error) => {
                    let _ = more.try_set(More::Failed(error.to_string()));
                }
            }
        });
    });

    view! {
        <section class="page search">
            <h1>"Search"</h1>
            <p class="lede">
                "Every named Unicode character — arrows, dashes, math, scripts, emoji — found as you type. "
                "Each keystroke is a request; answers can come back out of order. Pick a strategy and watch "
                "what the list shows."
            </p>
            <SearchSettings typeahead=typeahead counts=counts changed=knobs_changed/>
            <input
                type="search"
                class="search-box"
                data-testid="search-box"
                placeholder="snowman, right arrow, U+2603, ☃"
                aria-label="Search Unicode characters by name, code point or the character"
                aria-controls="search-results"
                aria-activedescendant=move || active.get().map(option_id)
                autocomplete="off"
                prop:value=move || text.get()
                on:input=move |e| keystroke.with_value(|k| k(event_target_value(&e)))
                on:keydown=on_key
            />
            <p class="search-counts" data-testid="search-counts" aria-live="polite">
                "applied " <b data-testid="search-applied">{move || counts.get().applied}</b>
                " · stale — discarded " <b data-testid="search-stale">{move || counts.get().stale}</b>
                " · aborted " <b data-testid="search-aborted">{move || counts.get().aborted}</b>
            </p>
            <SearchStatus shown=shown retry=Callback::new(send_now)/>
            <ResultList items=items active=active on_pick=pick/>
            <Show when=move || matches!(shown.get(), Shown::Results { total, ref items, .. } if items.len() < total)>
                <LoadMore more=more load=load_more/>
            </Show>
            <p class="toast" role="status" data-testid="search-toast">{move || toast.get()}</p>
        </section>
    }
}
