//! The Lab's engine, kept apart from its page so the browser tests can drive it with the network
//! mocked: what a run asks for ([`settings`]), when to try again ([`retry`]), how requests are
//! scheduled and cancelled ([`engine`]), when each may leave ([`pacer`]), what the page knows about each request ([`model`]), and
//! where each bar of the waterfall goes ([`waterfall`]).

pub mod engine;
pub mod model;
pub mod pacer;
pub mod retry;
pub mod settings;
pub mod waterfall;
