//! Entry point of the WebAssembly page: trunk builds this binary and the loader it injects into
//! `index.html` calls it. Everything else lives in the library so the browser tests can mount it.

fn main() {
    console_error_panic_hook::set_once();
    frontend::inspector::watch_resource_timing();
    leptos::mount::mount_to_body(frontend::App);
}
