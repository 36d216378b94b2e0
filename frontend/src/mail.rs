//! The Mail room (issue 11, in progress): so far its outbox ([`outbox`]), the state machine that
//! keeps written messages in the browser and sends them in the background with retries. The page
//! that shows it comes next.

pub mod outbox;
