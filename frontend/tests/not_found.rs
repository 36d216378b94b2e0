//! A deep link to a path that is no room shows the not-found page inside the shell.
//! (A file of its own: it changes the test page's address.)

use frontend::App;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

mod support;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn an_unknown_path_shows_no_room_here() {
    leptos::prelude::window()
        .history()
        .expect("history")
        .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("/no/such/room"))
        .expect("address changed");

    let page = support::mount(App);
    page.wait_for("main h1").await;

    assert_eq!(page.text("main h1"), "No room here");
    assert_eq!(page.text("main code"), "/no/such/room");
    assert_eq!(page.text(".brand"), "Meanwhile", "inside the shell");
}
