//! The Mail room (`/mail`): asynchronous messaging between mailboxes. This tab's session
//! ([`session`], alive in every room: the stream, the unread count, the outbox loop), who the tab
//! is ([`identity`]), the outbox as a state machine ([`outbox`]) and as this browser keeps it, shared by
//! the mailbox's tabs ([`shelf`]), and the page ([`page`]).

pub mod identity;
pub mod outbox;
pub mod page;
pub mod session;
pub mod shelf;

pub use page::Mail;
pub use session::{MailSession, use_mail};
