//! The Tasks room's board: a job card's state from a sequence of pushed events, repeats after a
//! reconnect ignored, and polling and pushing ending in the same state, each saying once which
//! job finished.

use frontend::tasks::board::{Board, timing};
use protocol::jobs::{
    Job, JobEvent, JobList, JobProgress, JobResult, JobSpec, JobState, Primes, Wait,
};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn job(id: &str, created_at_ms: i64) -> Job {
    Job {
        id: id.into(),
        spec: JobSpec::Primes(Primes { limit: 1_000_000 }),
        state: JobState::Queued,
        progress: 0.0,
        created_at_ms,
        started_at_ms: None,
        finished_at_ms: None,
        attempts: 0,
        result: None,
        error: None,
    }
}

fn progress(id: &str, progress: f64, attempts: u32) -> JobEvent {
    JobEvent::Progress(JobProgress {
        id: id.into(),
        state: JobState::Running,
        progress,
        started_at_ms: Some(100),
        attempts,
    })
}

fn succeeded(mut job: Job) -> Job {
    job.state = JobState::Succeeded;
    job.progress = 1.0;
    job.started_at_ms = Some(100);
    job.finished_at_ms = Some(1_100);
    job.attempts = 1;
    job.result = Some(JobResult::Primes { count: 78_498 });
    job
}

/// The events of two jobs: `a` runs and succeeds, `b` is cancelled while it waits.
fn history() -> Vec<(i64, JobEvent)> {
    let mut b = job("b", 2);
    b.spec = JobSpec::Wait(Wait { seconds: 5 });
    let mut cancelled = b.clone();
    cancelled.state = JobState::Cancelled;
    cancelled.finished_at_ms = Some(50);
    vec![
        (1, JobEvent::Submitted(job("a", 1))),
        (2, JobEvent::Submitted(b)),
        (3, progress("a", 0.0, 1)),
        (4, JobEvent::Finished(cancelled)),
        (5, progress("a", 0.25, 1)),
        (6, progress("a", 0.75, 1)),
        (7, JobEvent::Finished(succeeded(job("a", 1)))),
    ]
}

#[wasm_bindgen_test]
fn a_card_goes_queued_running_succeeded_as_its_events_come() {
    let mut board = Board::default();
    let mut finished = Vec::new();
    let mut states = Vec::new();
    for (id, event) in history() {
        if let Some(job) = board.apply(id, event) {
            finished.push(job.id.clone());
        }
        let a = board.job("a").expect("a is on the board");
        states.push((a.state, a.progress));
    }
    assert_eq!(
        states,
        [
            (JobState::Queued, 0.0),
            (JobState::Queued, 0.0),
            (JobState::Running, 0.0),
            (JobState::Running, 0.0),
            (JobState::Running, 0.25),
            (JobState::Running, 0.75),
            (JobState::Succeeded, 1.0),
        ]
    );
    assert_eq!(finished, ["b", "a"], "each finish told once, in order");
    let ids: Vec<&str> = board.jobs().iter().map(|job| job.id.as_str()).collect();
    assert_eq!(ids, ["b", "a"], "newest first");
    assert_eq!(board.unfinished(), 0);
    assert_eq!(board.last_event_id(), 7);
}

#[wasm_bindgen_test]
fn events_replayed_after_a_reconnect_change_nothing_and_a_late_progress_does_not_undo_a_finish() {
    let mut board = Board::default();
    for (id, event) in history() {
        board.apply(id, event);
    }
    let settled = board.clone();
    // The browser reconnects with Last-Event-ID 4 and the server sends 5… again.
    for (id, event) in history().into_iter().skip(4) {
        assert_eq!(board.apply(id, event), None);
    }
    assert_eq!(board, settled);
    // A progress event written before the finish but applied after it is ignored.
    assert_eq!(board.apply(8, progress("a", 0.5, 1)), None);
    assert_eq!(board.job("a").map(|a| a.state), Some(JobState::Succeeded));
}

#[wasm_bindgen_test]
fn a_job_run_again_after_a_restart_shows_its_new_attempt_from_the_start() {
    let mut board = Board::default();
    board.apply(1, JobEvent::Submitted(job("a", 1)));
    board.apply(2, progress("a", 0.6, 1));
    board.apply(3, progress("a", 0.0, 2));
    let a = board.job("a").expect("a");
    assert_eq!((a.progress, a.attempts), (0.0, 2));
}

#[wasm_bindgen_test]
fn polling_and_pushing_end_in_the_same_state_and_tell_the_same_finishes() {
    // Pushed: every event.
    let mut pushed = Board::default();
    let mut pushed_finished = Vec::new();
    for (id, event) in history() {
        pushed_finished.extend(pushed.apply(id, event).map(|job| job.id));
    }

    // Polled: three lists, as the server would have answered at three moments.
    let mut b = job("b", 2);
    b.spec = JobSpec::Wait(Wait { seconds: 5 });
    let mut b_cancelled = b.clone();
    b_cancelled.state = JobState::Cancelled;
    b_cancelled.finished_at_ms = Some(50);
    let mut a_running = job("a", 1);
    a_running.state = JobState::Running;
    a_running.progress = 0.25;
    a_running.started_at_ms = Some(100);
    a_running.attempts = 1;
    let lists = [
        JobList {
            jobs: vec![b.clone(), job("a", 1)],
            last_event_id: 2,
        },
        JobList {
            jobs: vec![b_cancelled.clone(), a_running],
            last_event_id: 5,
        },
        JobList {
            jobs: vec![b_cancelled, succeeded(job("a", 1))],
            last_event_id: 7,
        },
    ];
    let mut lists = lists.into_iter();
    let mut polled = Board::from_list(lists.next().expect("a first list"));
    let mut polled_finished = Vec::new();
    for list in lists {
        polled_finished.extend(polled.sync(list).into_iter().map(|job| job.id));
    }
    // A poll that sees nothing new tells nothing again.
    let again = polled.jobs().to_vec();
    assert!(
        polled
            .sync(JobList {
                jobs: again,
                last_event_id: 7
            })
            .is_empty()
    );

    assert_eq!(polled, pushed);
    assert_eq!(polled_finished, pushed_finished);
}

#[wasm_bindgen_test]
fn a_card_estimates_what_is_left_from_the_progress_so_far() {
    let mut running = job("a", 1);
    running.state = JobState::Running;
    running.started_at_ms = Some(1_000);
    running.progress = 0.25;
    assert_eq!(timing(&running, 3_000.0), (Some(2_000.0), Some(6_000.0)));
    running.progress = 0.0;
    assert_eq!(timing(&running, 3_000.0), (Some(2_000.0), None));
    assert_eq!(timing(&job("q", 1), 3_000.0), (None, None));
    assert_eq!(
        timing(&succeeded(job("a", 1)), 99_999.0),
        (Some(1_000.0), None)
    );
}
