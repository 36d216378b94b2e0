//! Pieces of the page shared by every room.

pub mod block;
pub mod heartbeat;
pub mod inspector;
pub mod server_status;
pub mod waterfall;
