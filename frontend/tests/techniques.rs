//! The Techniques room's combinators on timers standing in for requests (100, 400 and 250 ms):
//! one after another takes the sum, joined the max, a race the min with the others dropped, and
//! a deadline shorter than the slowest is a timeout error. The shape of each timeline is checked
//! exactly; wall times only against their floor and, loosely, against each other.

use frontend::techniques::combinators::{Ending, Run, Way, run};
use gloo_timers::future::TimeoutFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const DELAYS: [u32; 3] = [100, 400, 250];

async fn on_timers(way: Way) -> Run {
    run(way, &DELAYS, |delay| async move {
        TimeoutFuture::new(delay).await;
        Ok(())
    })
    .await
}

fn endings(run: &Run) -> Vec<Option<Ending>> {
    run.lanes.iter().map(|lane| lane.ending.clone()).collect()
}

#[wasm_bindgen_test]
async fn one_after_another_takes_the_sum() {
    let run = on_timers(Way::Sequence).await;
    assert_eq!(run.result, Ok(vec![0, 1, 2]));
    assert!(run.wall_ms >= 750.0, "{}", run.wall_ms);
    for pair in run.lanes.windows(2) {
        assert!(pair[1].started_ms >= pair[0].ended_ms, "{pair:?}");
    }
}

#[wasm_bindgen_test]
async fn joined_takes_the_max() {
    let run = on_timers(Way::Join).await;
    assert_eq!(run.result, Ok(vec![0, 2, 1]), "in the order they answered");
    assert!(
        run.wall_ms >= 400.0 && run.wall_ms < 750.0,
        "{}",
        run.wall_ms
    );
    let last_start = run
        .lanes
        .iter()
        .filter_map(|l| l.started_ms)
        .fold(0.0, f64::max);
    let first_end = run
        .lanes
        .iter()
        .filter_map(|l| l.ended_ms)
        .fold(f64::MAX, f64::min);
    assert!(last_start < first_end, "all started before any answered");
}

#[wasm_bindgen_test]
async fn a_race_takes_the_min_and_drops_the_others() {
    let run = on_timers(Way::Race).await;
    assert_eq!(run.result, Ok(vec![0]));
    assert!(
        run.wall_ms >= 100.0 && run.wall_ms < 250.0,
        "{}",
        run.wall_ms
    );
    assert_eq!(
        endings(&run),
        [
            Some(Ending::Answered),
            Some(Ending::Dropped),
            Some(Ending::Dropped)
        ]
    );
}

#[wasm_bindgen_test]
async fn a_deadline_shorter_than_the_slowest_is_a_timeout_error() {
    let run = on_timers(Way::Timeout(300)).await;
    assert_eq!(run.result, Err("timed out after 300 ms".to_owned()));
    assert!(
        run.wall_ms >= 300.0 && run.wall_ms < 400.0,
        "{}",
        run.wall_ms
    );
    assert_eq!(
        endings(&run),
        [
            Some(Ending::Answered),
            Some(Ending::TimedOut),
            Some(Ending::Answered)
        ]
    );
}

#[wasm_bindgen_test]
async fn a_failure_ends_a_sequence_and_a_join_at_once() {
    let failing = |delay: u32| async move {
        TimeoutFuture::new(delay).await;
        if delay == 250 {
            Err("503".to_owned())
        } else {
            Ok(())
        }
    };
    let joined = run(Way::Join, &DELAYS, failing).await;
    assert_eq!(joined.result, Err("503".to_owned()));
    assert_eq!(
        endings(&joined),
        [
            Some(Ending::Answered),
            Some(Ending::Dropped),
            Some(Ending::Failed("503".into()))
        ]
    );
    let sequence = run(Way::Sequence, &[100, 250, 400], failing).await;
    assert_eq!(sequence.result, Err("503".to_owned()));
    assert_eq!(
        sequence.lanes[2].started_ms, None,
        "the third never started"
    );
}

#[wasm_bindgen_test]
async fn a_promise_chain_dropped_on_its_way_ends_once_in_its_catch() {
    use frontend::techniques::promises::echo_with_promises;
    let (sender, receiver) = futures::channel::oneshot::channel();
    let chain = echo_with_promises(&protocol::lab::EchoRequest::default(), move |result| {
        let _ = sender.send(result);
    })
    .expect("started");
    drop(chain);
    let ended = receiver.await.expect("the chain called back");
    assert!(ended.is_err(), "{ended:?}");
    // Its closures are let go once it has ended; nothing calls them again.
    TimeoutFuture::new(50).await;
}
