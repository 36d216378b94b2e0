//! The Techniques room: the same request done several ways. [`combinators`] runs several
//! requests one after another, joined, raced, or under a deadline, and records each one's
//! timeline.

pub mod combinators;
