//! Server push through the browser's `EventSource`. The connection is recorded in the inspector as
//! a request that stays open while the stream lasts, and every event it delivers as a marker row.
//! When a connection drops, the browser reconnects by itself and sends the id of the last event
//! it received as `Last-Event-ID`, so a server that gives its events ids resumes where it left
//! off; each reconnection is a new row, the dropped one marked "retried".

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Event, EventSource, MessageEvent};

use super::fetch::ApiError;
use crate::inspector::{self, EntryId, Outcome, ServerSide};

/// One event the server pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The event's name (`event:`), e.g. `tick`.
    pub kind: String,
    /// The event's id (`id:`), empty when it has none.
    pub id: String,
    /// The event's data (`data:`), usually JSON.
    pub data: String,
}

/// What happened to a [`PushStream`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    /// The connection is open; events will follow.
    Opened,
    Event(Pushed),
    /// The connection dropped; the browser is reconnecting, sending `Last-Event-ID`.
    Reconnecting,
    /// The stream is over for good: the server answered `204 No Content` (nothing more to send)
    /// or refused it. The browser will not reconnect.
    Closed,
}

/// Whether a stream's events are rows of the inspector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markers {
    /// Each event is a marker row: what a room's stream brings is what the inspector is for.
    EachEvent,
    /// Only the connection is a row: the server panel's samples, four a second, would push
    /// everything else out of the inspector.
    ConnectionOnly,
}

/// An open `EventSource`, closed when dropped.
pub struct PushStream {
    source: EventSource,
    record: Rc<RefCell<Record>>,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_error: Closure<dyn FnMut(Event)>,
    _on_event: Closure<dyn FnMut(MessageEvent)>,
    _on_served_by: Closure<dyn FnMut(MessageEvent)>,
}

/// What the inspector knows of the stream: the row of the current connection.
struct Record {
    address: String,
    entry: EntryId,
    last_id: String,
    events: u64,
    ended: bool,
}

impl Record {
    fn end(&mut self, outcome: Outcome) {
        if !self.ended {
            self.ended = true;
            inspector::finish(self.entry, outcome);
        }
    }
}

impl PushStream {
    /// Opens `address` (a path of this origin with its query) and calls `on_push` for what
    /// happens, with each event named in `kinds`.
    pub fn open(
        address: String,
        kinds: &[&str],
        on_push: impl Fn(Push) + 'static,
    ) -> Result<Self, ApiError> {
        Self::open_with(address, kinds, Markers::EachEvent, on_push)
    }

    /// [`PushStream::open`], saying whether each event is a marker row of the inspector.
    pub fn open_with(
        address: String,
        kinds: &[&str],
        markers: Markers,
        on_push: impl Fn(Push) + 'static,
    ) -> Result<Self, ApiError> {
        let source = EventSource::new(&address)
            .map_err(|_| ApiError::Network(format!("cannot open {address}")))?;
        let record = Rc::new(RefCell::new(Record {
            entry: inspector::begin("GET", &address),
            address,
            last_id: String::new(),
            events: 0,
            ended: false,
        }));
        let on_push = Rc::new(on_push);

        let on_open = Closure::<dyn FnMut(Event)>::new({
            let (record, on_push) = (Rc::clone(&record), Rc::clone(&on_push));
            move |_| {
                inspector::first_byte(record.borrow().entry, 200, ServerSide::default());
                on_push(Push::Opened);
            }
        });
        let on_error = Closure::<dyn FnMut(Event)>::new({
            let (record, on_push, source) =
                (Rc::clone(&record), Rc::clone(&on_push), source.clone());
            move |_| {
                let mut record = record.borrow_mut();
                if source.ready_state() == EventSource::CLOSED {
                    // The browser does not say whether a 204 or an error closed it: a stream
                    // that delivered events has ended; one that never did has failed.
                    let outcome = if record.events > 0 {
                        Outcome::Applied
                    } else {
                        Outcome::Failed
                    };
                    record.end(outcome);
                    drop(record);
                    on_push(Push::Closed);
                } else {
                    record.end(Outcome::Retried);
                    let address = format!("{} (Last-Event-ID: {})", record.address, record.last_id);
                    record.entry = inspector::begin("GET", &address);
                    record.ended = false;
                    drop(record);
                    on_push(Push::Reconnecting);
                }
            }
        });
        let on_event = Closure::<dyn FnMut(MessageEvent)>::new({
            let (record, on_push) = (Rc::clone(&record), Rc::clone(&on_push));
            let source = record.borrow().address.clone();
            move |event: MessageEvent| {
                let pushed = Pushed {
                    kind: event.type_(),
                    id: event.last_event_id(),
                    data: event.data().as_string().unwrap_or_default(),
                };
                let served_by = {
                    let mut record = record.borrow_mut();
                    record.events += 1;
                    record.last_id.clone_from(&pushed.id);
                    inspector::get(record.entry).and_then(|entry| entry.served_by)
                };
                if markers == Markers::EachEvent {
                    let name = format!("{} #{}: {}", pushed.kind, pushed.id, pushed.data);
                    inspector::event(&name, &source, served_by);
                }
                on_push(Push::Event(pushed));
            }
        });
        // Mail's and Tasks' streams begin by naming the instance that holds them: the
        // connection's row shows it; it is not one of the stream's events.
        let on_served_by = Closure::<dyn FnMut(MessageEvent)>::new({
            let record = Rc::clone(&record);
            move |event: MessageEvent| {
                if let Some(name) = event.data().as_string() {
                    inspector::served_by(record.borrow().entry, name);
                }
            }
        });
        source
            .add_event_listener_with_callback(
                protocol::SERVED_BY_EVENT,
                on_served_by.as_ref().unchecked_ref(),
            )
            .map_err(|_| ApiError::Network("cannot listen for the stream's opening".into()))?;
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        for kind in kinds {
            source
                .add_event_listener_with_callback(kind, on_event.as_ref().unchecked_ref())
                .map_err(|_| ApiError::Network(format!("cannot listen for {kind} events")))?;
        }
        Ok(Self {
            source,
            record,
            _on_open: on_open,
            _on_error: on_error,
            _on_event: on_event,
            _on_served_by: on_served_by,
        })
    }

    /// The browser's `EventSource` behind this stream.
    pub fn source(&self) -> &EventSource {
        &self.source
    }

    /// Closes the stream: no more events, no reconnection. The inspector shows the connection
    /// aborted by the page.
    pub fn close(&self) {
        self.source.close();
        self.record.borrow_mut().end(Outcome::Aborted);
    }
}

impl Drop for PushStream {
    fn drop(&mut self) {
        self.close();
    }
}
