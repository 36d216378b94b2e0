//! The Techniques room (`/techniques`): the same request done five ways, each file below being
//! what its panel runs and shows — [`callbacks`] (XMLHttpRequest), [`promises`] (a promise
//! chain), [`async_await`], [`resource`] (a Leptos `LocalResource`), [`push`] (an
//! `EventSource`) — and [`combinators`]: several requests one after another, joined, raced, or
//! under a deadline. [`page`] lays them out: the five [`panels`] in their [`panel`] frame, and
//! the [`combined`] runs.

pub mod async_await;
pub mod callbacks;
pub mod combinators;
pub mod combined;
pub mod page;
pub mod panel;
pub mod panels;
pub mod promises;
pub mod push;
pub mod resource;

pub use page::Techniques;
