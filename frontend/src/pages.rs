//! One module per room (route) of the app.

pub mod not_found;
pub mod overview;
