//! Settings that live in the page's address, so that a link a teacher shares opens the same
//! experiment: read from it when a room opens, written to it (replacing the history entry, so
//! Back still leaves the room) whenever one changes. Only what differs from its default is
//! written: a link carries the experiment and nothing more.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};

/// One setting: its name in the address, the field that holds it, and its default.
pub struct Field {
    pub name: &'static str,
    pub value: RwSignal<String>,
    pub default: String,
}

/// Keeps `fields` in the address of `path` (`/lab?count=200&fail=0.2`).
pub fn keep(path: &'static str, fields: Vec<Field>) {
    let query = use_query_map();
    query.with_untracked(|query| {
        for field in &fields {
            if let Some(value) = query.get(field.name) {
                field.value.set(value);
            }
        }
    });
    let navigate = use_navigate();
    Effect::new(move |_| {
        let Ok(params) = web_sys::UrlSearchParams::new() else {
            return;
        };
        for field in &fields {
            let value = field.value.get();
            if value != field.default {
                params.append(field.name, &value);
            }
        }
        navigate(&with_query(path, &params), replacing());
    });
}

/// `path` with `params` as its query (none when there are none).
pub fn with_query(path: &str, params: &web_sys::UrlSearchParams) -> String {
    let query = String::from(params.to_string());
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// How a room writes its settings into the address: in place of the current entry (Back still
/// leaves the room), without scrolling.
pub fn replacing() -> NavigateOptions {
    NavigateOptions {
        replace: true,
        scroll: false,
        ..NavigateOptions::default()
    }
}
