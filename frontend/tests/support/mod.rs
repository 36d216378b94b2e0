//! Mounting a component into the real DOM of the test page and reading it back.
//! (`support/mod.rs` rather than `support.rs`, so cargo does not take it for a test of its own.)
// Each test file uses a different part of this module.
#![allow(dead_code)]

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;

/// A component mounted into its own `<div>`; unmounted when dropped.
pub struct Mounted {
    root: HtmlElement,
    _handle: Box<dyn std::any::Any>,
}

pub fn mount<F, N>(component: F) -> Mounted
where
    F: FnOnce() -> N + 'static,
    N: IntoView + 'static,
{
    let document = document();
    let root: HtmlElement = document
        .create_element("div")
        .expect("a div")
        .unchecked_into();
    document
        .body()
        .expect("a body")
        .append_child(&root)
        .expect("appended");
    let handle = leptos::mount::mount_to(root.clone(), component);
    Mounted {
        root,
        _handle: Box::new(handle),
    }
}

impl Mounted {
    /// The text a person sees in the first element matching `css`.
    pub fn text(&self, css: &str) -> String {
        self.element(css).inner_text()
    }

    /// The text of every element matching `css`, in document order.
    pub fn texts(&self, css: &str) -> Vec<String> {
        let found = self.root.query_selector_all(css).expect("a valid selector");
        (0..found.length())
            .filter_map(|i| found.item(i))
            .map(|node| node.unchecked_into::<HtmlElement>().inner_text())
            .collect()
    }

    /// The whole text of the mounted component.
    pub fn all_text(&self) -> String {
        self.root.inner_text()
    }

    /// Waits until `css` matches (routes render a tick after mounting); panics after 2 s.
    pub async fn wait_for(&self, css: &str) {
        let found = until(2_000, || self.exists(css)).await;
        assert!(found, "{css} never appeared in: {}", self.all_text());
    }

    pub fn exists(&self, css: &str) -> bool {
        self.root.query_selector(css).ok().flatten().is_some()
    }

    pub fn click(&self, css: &str) {
        self.element(css).click();
    }

    /// Sets the value of the input or select `css` as a person would: the value, then the
    /// `input` and `change` events a browser fires (bubbling, as Leptos listens at the document).
    pub fn set_value(&self, css: &str, value: &str) {
        let set = js_sys::Function::new_with_args(
            "element, value",
            "element.value = value;
             element.dispatchEvent(new Event('input', { bubbles: true }));
             element.dispatchEvent(new Event('change', { bubbles: true }));",
        );
        set.call2(
            &wasm_bindgen::JsValue::NULL,
            &self.element(css),
            &value.into(),
        )
        .expect("the value is set");
    }

    fn element(&self, css: &str) -> HtmlElement {
        self.root
            .query_selector(css)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("nothing matches {css}"))
            .unchecked_into()
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        self.root.remove();
    }
}

/// Waits, up to `within_ms`, until `condition` holds.
pub async fn until(within_ms: u32, mut condition: impl FnMut() -> bool) -> bool {
    for _ in 0..within_ms / 20 {
        if condition() {
            return true;
        }
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
    condition()
}
