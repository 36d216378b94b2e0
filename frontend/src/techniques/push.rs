//! Technique 5: Server push: the page opens an `EventSource` once and the server tells it — here a short
//! countdown, one event at a time — instead of being asked again and again. Closing the
//! stream (dropping it) cancels.

use protocol::lab::{Tick, TicksRequest};

use crate::api::lab;
use crate::api::push::{Push, PushStream};

/// Opens the countdown; `on_tick` hears each event's number and how many remain, `on_end`
/// hears that it ended (all sent, or refused).
pub fn countdown(
    count: u32,
    interval_ms: u32,
    on_tick: impl Fn(Tick) + 'static,
    on_end: impl Fn() + 'static,
) -> Result<PushStream, String> {
    let request = TicksRequest { count, interval_ms };
    lab::ticks(request, move |push| match push {
        Push::Event(event) => {
            if let Ok(tick) = serde_json::from_str::<Tick>(&event.data) {
                on_tick(tick);
            }
        }
        Push::Closed => on_end(),
        Push::Opened | Push::Reconnecting => {}
    })
    .map_err(|error| error.to_string())
}
