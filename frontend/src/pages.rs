//! One module per room (route) of the app.

pub mod lab;
pub mod not_found;
pub mod overview;
