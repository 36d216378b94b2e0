//! `GET /api/server/live`: the server panel's stream.

use super::fetch::ApiError;
use super::push::{Markers, Push, PushStream};

/// The panel's stream's address.
pub const LIVE: &str = "/api/server/live";

/// `GET /api/server/live`: what the server is doing, pushed four times a second as
/// [`protocol::server::LIVE_EVENT`] events (each a [`protocol::server::ServerNow`]). Its
/// connection is a row of the inspector; its samples are not. Dropping the stream closes it.
pub fn live(on_push: impl Fn(Push) + 'static) -> Result<PushStream, ApiError> {
    PushStream::open_with(
        LIVE.to_owned(),
        &[protocol::server::LIVE_EVENT],
        Markers::ConnectionOnly,
        on_push,
    )
}
