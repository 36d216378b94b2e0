//! The shell's pieces, shared by every room: the heartbeat, the server status, the inspector's
//! drawer and its server panel, the page for a path that is no room, and the "Block the page" button.

pub mod block;
pub mod heartbeat;
pub mod inspector;
pub mod not_found;
pub mod server_panel;
pub mod server_status;
