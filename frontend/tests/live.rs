//! The one session mechanism of Mail and Tasks (`api::live`), with a room made up for the test:
//! a first load that fails is tried again until it succeeds, a room that polls loads again at its
//! interval, and a start supersedes what an earlier start still had on its way.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use frontend::api::ApiError;
use frontend::api::live::{Connection, Feed, Follow, Live};
use frontend::api::push::{Push, PushStream, Pushed};
use leptos::prelude::*;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

mod support;

wasm_bindgen_test_configure!(run_in_browser);

/// A room whose loads fail `failures` times, then succeed; it counts them.
#[derive(Clone, Copy)]
struct Flaky {
    loads: StoredValue<Rc<Cell<u32>>, LocalStorage>,
    failures: u32,
}

impl Feed for Flaky {
    type Position = u32;

    async fn load(self) -> Result<u32, ApiError> {
        let loads = self.loads.get_value();
        let n = loads.get() + 1;
        loads.set(n);
        if n <= self.failures {
            Err(ApiError::Network("the server is not up yet".into()))
        } else {
            Ok(n)
        }
    }

    fn open(self, _: u32, _: impl Fn(Push) + 'static) -> Result<PushStream, ApiError> {
        Err(ApiError::Network("this room only polls".into()))
    }

    fn apply(self, _: &Pushed) -> bool {
        true
    }
}

#[wasm_bindgen_test]
async fn a_first_load_that_fails_is_tried_again_until_the_room_is_followed() {
    // Mounting anything starts Leptos' executor, which runs the session's tasks.
    let _page = support::mount(|| "page");
    let owner = Owner::new();
    let (live, loads) = owner.with(|| {
        let loads = Rc::new(Cell::new(0));
        let feed = Flaky {
            loads: StoredValue::new_local(loads.clone()),
            failures: 1,
        };
        let live = Live::new(Follow::Poll(100));
        live.start(feed);
        (live, loads)
    });

    let seen = Rc::new(RefCell::new(Vec::new()));
    let reconnecting = support::until(3_000, || {
        seen.borrow_mut().push(live.connection.get_untracked());
        live.connection.get_untracked() == Connection::Reconnecting
    })
    .await;
    assert!(
        reconnecting,
        "a failed first load says so: {:?}",
        seen.borrow()
    );
    assert!(live.problem.get_untracked().is_some());

    let polling = support::until(5_000, || loads.get() >= 3).await;
    assert!(polling, "loaded {} times", loads.get());
    assert_eq!(live.connection.get_untracked(), Connection::Polling);
    assert_eq!(live.problem.get_untracked(), None, "the problem is gone");

    live.stop(Connection::Idle);
    let stopped_at = loads.get();
    gloo_timers::future::TimeoutFuture::new(400).await;
    assert_eq!(
        loads.get(),
        stopped_at,
        "a stopped session loads nothing more"
    );
    drop(owner);
}
