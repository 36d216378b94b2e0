//! The Meanwhile page: a Leptos (client-side rendered) app compiled to WebAssembly.
//!
//! - [`app`]: the shell: header with navigation, server status and heartbeat; the router.
//! - [`api`]: the one door to the network; every request of the page goes through it.
//! - [`inspector`]: the recorder of every request and pushed event, shown in the drawer;
//!   [`har`]: what it holds as a HAR 1.2 file.
//! - [`frame`]: the one animation-frame loop, the page's clock, and the cost of frame work.
//! - [`address`]: a room's settings kept in the page's address, so a link opens the same
//!   experiment.
//! - [`components`]: the shell's pieces (heartbeat, server status, inspector drawer, not found,
//!   the "Block the page" button).
//! - One module per room: [`overview`], [`lab`], [`search`], [`mail`], [`tasks`], [`techniques`].

pub mod address;
pub mod api;
pub mod app;
pub mod components;
pub mod frame;
pub mod har;
pub mod inspector;
pub mod lab;
pub mod mail;
pub mod overview;
pub mod rooms;
pub mod search;
pub mod tasks;
pub mod techniques;

pub use app::App;
