//! The Meanwhile page: a Leptos (client-side rendered) app compiled to WebAssembly.
//!
//! - [`app`]: the shell: header with navigation, server status and heartbeat; the router.
//! - [`api`]: the one client through which every request of the page goes.
//! - `components/`: pieces shared by every page (heartbeat, server status).
//! - `pages/`: one file per room.

pub mod api;
pub mod app;
pub mod components;
pub mod pages;

pub use app::App;
