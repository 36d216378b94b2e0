//! Pieces of the page shared by every room.

pub mod heartbeat;
pub mod server_status;
