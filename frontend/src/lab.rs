//! The Lab (`/lab`): fire many requests at the echo and watch them in a waterfall.
//!
//! The page ([`page`]) and its parts ([`controls`], [`summary`], [`canvas`], [`details`]), and
//! the engine apart from them so the browser tests can drive it with the network mocked: what a
//! run asks for ([`settings`]; when to try again is `api::retry`), how requests are scheduled and
//! cancelled ([`engine`]), when each may leave ([`pacer`]), what the page knows about each
//! request ([`model`]), and where each bar of the waterfall goes ([`waterfall`]).

pub mod canvas;
pub mod compare;
pub mod controls;
pub mod details;
pub mod engine;
pub mod model;
pub mod pacer;
pub mod page;
pub mod settings;
pub mod summary;
pub mod waterfall;

pub use page::Lab;
