//! The app shell mounted into a real page: navigation, the overview, and a server status that
//! tells the truth when there is no Meanwhile server behind the page (as in this test page).

use frontend::App;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

mod support;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn the_shell_shows_brand_rooms_heartbeat_and_the_overview() {
    let page = support::mount(App);
    page.wait_for("main h1").await;

    assert_eq!(page.text(".brand"), "Meanwhile");
    assert_eq!(
        page.texts("nav.rooms a"),
        ["Overview", "Lab", "Search", "Mail", "Tasks", "Techniques"]
    );
    assert!(page.exists("[data-testid=heartbeat-clock]"));
    assert_eq!(
        page.text("main h1"),
        "See asynchronous request/response at work"
    );
}

#[wasm_bindgen_test]
async fn without_a_server_the_status_says_so_and_offers_a_retry() {
    let page = support::mount(App);

    // The test page's server knows nothing of /api: the health check gets a bare 404.
    let shown = support::until(5_000, || page.exists(".server-status .status.down")).await;
    assert!(
        shown,
        "status: {}",
        page.text("[data-testid=server-status]")
    );
    let status = page.text(".server-status .status.down");
    assert!(status.starts_with("Server not healthy — "), "{status}");
    assert!(status.contains("404"), "{status}");

    let checks_before = health_requests();
    page.click(".server-status button.retry");
    let checked_again = support::until(5_000, || health_requests() > checks_before).await;
    assert!(checked_again, "Try again sends a new health request");
    assert!(
        page.exists(".server-status .status.down"),
        "still honest about it"
    );
}

/// How many requests for /api/health the page has made so far (the browser's resource timing).
fn health_requests() -> usize {
    let entries = leptos::prelude::window()
        .performance()
        .expect("performance")
        .get_entries_by_type("resource");
    entries
        .iter()
        .filter(|entry| {
            js_sys::Reflect::get(entry, &"name".into())
                .ok()
                .and_then(|name| name.as_string())
                .is_some_and(|name| name.ends_with("/api/health"))
        })
        .count()
}

#[wasm_bindgen_test]
async fn blocking_the_page_reports_how_long_it_was_blocked() {
    let page = support::mount(App);
    page.wait_for("[data-testid=block-outcome]").await;
    assert_eq!(page.text("[data-testid=block-outcome]"), "");

    page.click(".experiment button.danger");

    let shown = support::until(2_000, || {
        !page.text("[data-testid=block-outcome]").is_empty()
    })
    .await;
    assert!(shown);
    let outcome = page.text("[data-testid=block-outcome]");
    assert!(outcome.starts_with("Blocked for 1"), "{outcome}");
}
