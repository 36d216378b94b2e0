//! The Meanwhile page: a Leptos (client-side rendered) app compiled to WebAssembly.
//!
//! - [`app`]: the shell: header with navigation, server status and heartbeat; the router.
//! - [`api`]: the one client through which every request of the page goes.
//! - [`inspector`]: the recorder of every request and pushed event, shown in the drawer.
//! - [`lab`]: the Lab's engine: strategies, retries, cancellation, the waterfall's maths.
//! - `components/`: pieces shared by every page (heartbeat, server status).
//! - `pages/`: one file per room.

pub mod api;
pub mod app;
pub mod components;
pub mod frame_cost;
pub mod inspector;
pub mod lab;
pub mod pages;

pub use app::App;
