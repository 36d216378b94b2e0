//! The Search room's results: what the list shows and says about it, one option per character
//! with the matched parts of its name highlighted, and copying a character to the clipboard.

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::search::CharacterHit;

/// What the list shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// Nothing typed.
    Nothing,
    /// The answer for `query` (maybe older than what the box holds: the naive strategy's bug).
    Results {
        query: String,
        total: usize,
        took_us: u64,
        items: Vec<CharacterHit>,
    },
    Failed {
        query: String,
        message: String,
    },
}

/// `name` cut into pieces, each marked whether it matched (`matches` are byte ranges, in order).
pub fn highlighted(name: &str, matches: &[[usize; 2]]) -> Vec<(String, bool)> {
    let mut pieces = Vec::new();
    let mut at = 0;
    for &[start, end] in matches {
        let (Some(before), Some(matched)) = (name.get(at..start), name.get(start..end)) else {
            continue;
        };
        if !before.is_empty() {
            pieces.push((before.to_owned(), false));
        }
        pieces.push((matched.to_owned(), true));
        at = end;
    }
    if let Some(rest) = name.get(at..).filter(|rest| !rest.is_empty()) {
        pieces.push((rest.to_owned(), false));
    }
    pieces
}

/// The id of the option at `index`, for the input's `aria-activedescendant`.
pub fn option_id(index: usize) -> String {
    format!("search-hit-{index}")
}

#[component]
pub fn ResultList(
    items: Signal<Vec<CharacterHit>>,
    active: RwSignal<Option<usize>>,
    on_pick: Callback<CharacterHit>,
) -> impl IntoView {
    let rows = move || items.get().into_iter().enumerate().collect::<Vec<_>>();
    view! {
        <ul class="search-results" id="search-results" role="listbox" aria-label="Characters" data-testid="search-results">
            <For each=rows key=|(index, hit)| (*index, hit.codepoint.clone()) let:row>
                {
                    let (index, hit) = row;
                    let pieces = highlighted(&hit.name, &hit.matches);
                    let picked = hit.clone();
                    view! {
                        <li
                            id=option_id(index)
                            role="option"
                            class="search-hit"
                            class:active=move || active.get() == Some(index)
                            aria-selected=move || (active.get() == Some(index)).to_string()
                            on:click=move |_| on_pick.run(picked.clone())
                        >
                            <span class="glyph" aria-hidden="true">{hit.char.clone()}</span>
                            <span class="name">
                                {pieces.into_iter().map(|(text, matched)| if matched {
                                    view! { <mark>{text}</mark> }.into_any()
                                } else {
                                    view! { <span>{text}</span> }.into_any()
                                }).collect_view()}
                            </span>
                            <code class="codepoint">{hit.codepoint.clone()}</code>
                            <span class="block">{hit.block.clone()}</span>
                        </li>
                    }
                }
            </For>
        </ul>
    }
}

/// What the list holds, in words: a hint, the count and the server's time, or the error with a
/// way to try again.
#[component]
pub fn SearchStatus(shown: RwSignal<Shown>, retry: Callback<String>) -> impl IntoView {
    view! {
        <div class="search-status" data-testid="search-status" aria-live="polite">
            {move || match shown.get() {
                Shown::Nothing => view! {
                    <p class="explain">
                        "Type a name, a code point (U+2603) or a character. "
                        "↑/↓ move, Enter or a click copies, Escape clears."
                    </p>
                }.into_any(),
                Shown::Results { query, total: 0, .. } => view! {
                    <p>"No character's name has all of “" {query} "”."</p>
                }.into_any(),
                Shown::Results { query, total, took_us, .. } => view! {
                    <p>{format!(
                        "{total} {} for “{query}” · {took_us} µs on the server",
                        if total == 1 { "character" } else { "characters" }
                    )}</p>
                }.into_any(),
                Shown::Failed { query, message } => view! {
                    <p class="error" role="alert">{message}</p>
                    <button type="button" class="secondary" on:click=move |_| retry.run(query.clone())>
                        "Try again"
                    </button>
                }.into_any(),
            }}
        </div>
    }
}

/// Copies the character to the clipboard and says so (or why not) in the toast.
pub fn copy(hit: &CharacterHit, toast: RwSignal<Option<String>>) {
    let label = format!("{} {} ({})", hit.char, hit.name, hit.codepoint);
    let promise = window().navigator().clipboard().write_text(&hit.char);
    spawn_local(async move {
        let message = match wasm_bindgen_futures::JsFuture::from(promise).await {
            Ok(_) => format!("Copied {label}"),
            Err(_) => format!("The browser would not copy {label}; select it instead."),
        };
        let _ = toast.try_set(Some(message));
    });
}
