//! The Tasks room (`/tasks`): long-running jobs on the server. This browser's session
//! ([`session`], alive in every room: the board, pushed or polled, toasts and notifications),
//! the board as a model fed by events or polls ([`board`]), the page ([`page`]) with its
//! [`forms`] and job [`cards`], and the toasts left in other rooms ([`toasts`]).

pub mod board;
pub mod cards;
pub mod forms;
pub mod page;
pub mod session;
pub mod toasts;

pub use page::Tasks;
pub use session::{TasksSession, use_tasks};
pub use toasts::Toasts;
