//! The Tasks room's API: jobs queued at once, run by the worker pool, their results, every 422
//! and 409, cancelling, the queue's limit, the owner's event stream, and a restart.

use std::time::{Duration, Instant};

use protocol::jobs::{Job, JobAccepted, JobList, JobResult, JobState};
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::tasks::Jobs;
use sha2::{Digest, Sha256};

use crate::helpers::{Events, TestApp, assert_error, spawn_app, spawn_app_with, start_process};

impl TestApp {
    /// Submits `body` and checks the 202: `Location` names the job, the state is `queued`.
    async fn submit(&self, body: Value) -> String {
        let response = self.post_json("/api/jobs", &body).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{body}");
        let location = response.headers()["location"]
            .to_str()
            .expect("text")
            .to_owned();
        let accepted: JobAccepted = response.json().await.expect("JSON");
        assert_eq!(location, format!("/api/jobs/{}", accepted.id));
        assert_eq!(accepted.state, JobState::Queued);
        accepted.id
    }

    async fn job(&self, id: &str) -> Job {
        let response = self.get(&format!("/api/jobs/{id}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("a job")
    }

    /// Polls the job until `done` says so (within `within`).
    async fn until(&self, id: &str, within: Duration, done: impl Fn(&Job) -> bool) -> Job {
        let started = Instant::now();
        loop {
            let job = self.job(id).await;
            if done(&job) {
                return job;
            }
            assert!(started.elapsed() < within, "still {job:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn finished(&self, id: &str) -> Job {
        self.until(id, Duration::from_secs(120), |job| job.state.is_finished())
            .await
    }

    async fn cancel(&self, id: &str) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/api/jobs/{id}/cancel")))
            .send()
            .await
            .expect("sent")
    }
}

/// A pool of `workers`, so a test knows how many jobs run at once.
async fn app_with_workers(workers: usize) -> TestApp {
    spawn_app_with(|state| state.jobs = std::sync::Arc::new(Jobs::new(workers))).await
}

#[tokio::test]
async fn each_kind_of_job_gives_its_known_result() {
    let app = spawn_app().await;
    let million = app
        .submit(json!({ "kind": "primes", "params": { "limit": 1_000_000 } }))
        .await;
    let hundred_million = app
        .submit(json!({ "kind": "primes", "params": { "limit": 100_000_000 } }))
        .await;
    let chain = app
        .submit(
            json!({ "kind": "hashchain", "params": { "seed": "meanwhile", "rounds": 100_000 } }),
        )
        .await;
    let picture = app
        .submit(json!({ "kind": "mandelbrot", "params": { "width": 64, "height": 48, "max_iterations": 200 } }))
        .await;
    let wait = app
        .submit(json!({ "kind": "wait", "params": { "seconds": 0 } }))
        .await;

    let job = app.finished(&million).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert_eq!(job.result, Some(JobResult::Primes { count: 78_498 }));
    assert_eq!(job.progress, 1.0);
    assert_eq!(job.attempts, 1);
    assert!(job.created_at_ms <= job.started_at_ms.expect("started"));
    assert!(job.started_at_ms <= job.finished_at_ms);
    let result: Value = app
        .get(&format!("/api/jobs/{million}/result"))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(result, json!({ "count": 78_498 }));

    let job = app.finished(&hundred_million).await;
    assert_eq!(job.result, Some(JobResult::Primes { count: 5_761_455 }));

    let mut direct: [u8; 32] = Sha256::digest(b"meanwhile").into();
    for _ in 1..100_000 {
        direct = Sha256::digest(direct).into();
    }
    let hex: String = direct.iter().map(|b| format!("{b:02x}")).collect();
    let job = app.finished(&chain).await;
    assert_eq!(job.result, Some(JobResult::Hashchain { hash: hex }));

    let job = app.finished(&picture).await;
    let Some(JobResult::Mandelbrot {
        width: 64,
        height: 48,
        png_bytes,
    }) = job.result
    else {
        panic!("{job:?}");
    };
    let response = app.get(&format!("/api/jobs/{picture}/result")).await;
    assert_eq!(response.headers()["content-type"], "image/png");
    let png = response.bytes().await.expect("the picture");
    assert_eq!(png.len() as u64, png_bytes);
    let mut reader = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut pixels).expect("its pixels");
    assert_eq!((info.width, info.height), (64, 48));
    // The middle (-0.5 + 0i) is in the set, so black.
    assert_eq!(&pixels[(24 * 64 + 32) * 3..][..3], [0, 0, 0]);

    let job = app.finished(&wait).await;
    assert_eq!(job.result, Some(JobResult::Wait { waited_seconds: 0 }));
}

#[tokio::test]
async fn a_job_outside_its_ranges_is_422_naming_what_is_allowed() {
    let app = spawn_app().await;
    for (body, names) in [
        (json!({ "kind": "fibonacci", "params": {} }), "primes"),
        (json!({ "kind": "primes" }), "params"),
        (
            json!({ "kind": "primes", "params": { "limit": 999 } }),
            "1000 to 10000000000",
        ),
        (
            json!({ "kind": "primes", "params": { "limit": 10_000_000_001u64 } }),
            "1000 to 10000000000",
        ),
        (json!({ "kind": "primes", "params": { "limit": -5 } }), "-5"),
        (
            json!({ "kind": "primes", "params": { "limit": 5000, "extra": 1 } }),
            "extra",
        ),
        (
            json!({ "kind": "mandelbrot", "params": { "width": 15, "height": 16, "max_iterations": 10 } }),
            "16 to 2048",
        ),
        (
            json!({ "kind": "mandelbrot", "params": { "width": 16, "height": 2049, "max_iterations": 10 } }),
            "16 to 2048",
        ),
        (
            json!({ "kind": "mandelbrot", "params": { "width": 16, "height": 16, "max_iterations": 0 } }),
            "1 to 10000",
        ),
        (
            json!({ "kind": "mandelbrot", "params": { "width": 16, "height": 16, "max_iterations": 9, "span": 0 } }),
            "span",
        ),
        (
            json!({ "kind": "hashchain", "params": { "seed": "x", "rounds": 0 } }),
            "1 to 200000000",
        ),
        (
            json!({ "kind": "hashchain", "params": { "seed": "x".repeat(1001), "rounds": 1 } }),
            "1000 characters",
        ),
        (
            json!({ "kind": "wait", "params": { "seconds": 601 } }),
            "0 to 600",
        ),
        (
            json!({ "kind": "wait", "params": { "seconds": 1 }, "owner": "not ok!" }),
            "owner",
        ),
        (
            json!([{ "kind": "wait", "params": { "seconds": 1 } }]),
            "object",
        ),
    ] {
        let response = app.post_json("/api/jobs", &body).await;
        let message = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(message.contains(names), "{body}: {message}");
    }
    assert_error(
        app.get("/api/jobs?owner=").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_error(
        app.get("/api/jobs").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn unknown_jobs_are_404_and_results_and_cancels_that_cannot_be_are_409() {
    let app = app_with_workers(1).await;
    for path in ["/api/jobs/nope", "/api/jobs/nope/result"] {
        assert_error(app.get(path).await, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert_error(app.cancel("nope").await, StatusCode::NOT_FOUND, "not_found").await;

    let long = app
        .submit(json!({ "kind": "wait", "params": { "seconds": 600 } }))
        .await;
    let queued = app
        .submit(json!({ "kind": "wait", "params": { "seconds": 0 } }))
        .await;
    app.until(&long, Duration::from_secs(10), |job| {
        job.state == JobState::Running
    })
    .await;
    for id in [&long, &queued] {
        let message = assert_error(
            app.get(&format!("/api/jobs/{id}/result")).await,
            StatusCode::CONFLICT,
            "conflict",
        )
        .await;
        assert!(
            message.contains("running") || message.contains("queued"),
            "{message}"
        );
    }
    assert_eq!(app.cancel(&long).await.status(), StatusCode::ACCEPTED);
    let done = app.finished(&queued).await;
    assert_eq!(done.state, JobState::Succeeded);
    let message = assert_error(app.cancel(&queued).await, StatusCode::CONFLICT, "conflict").await;
    assert!(message.contains("succeeded"), "{message}");
    let message = assert_error(
        app.get(&format!("/api/jobs/{long}/result")).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(message.contains("cancelled"), "{message}");
    assert_error(app.cancel(&long).await, StatusCode::CONFLICT, "conflict").await;
}

#[tokio::test]
async fn a_cancelled_waiting_job_never_starts_and_a_running_one_stops_at_once() {
    let app = app_with_workers(2).await;
    let primes = app
        .submit(json!({ "kind": "primes", "params": { "limit": 10_000_000_000u64 } }))
        .await;
    let chain = app
        .submit(json!({ "kind": "hashchain", "params": { "seed": "s", "rounds": 200_000_000 } }))
        .await;
    let waiting = app
        .submit(json!({ "kind": "wait", "params": { "seconds": 1 } }))
        .await;
    for id in [&primes, &chain] {
        app.until(id, Duration::from_secs(10), |job| job.progress > 0.0)
            .await;
    }

    let response = app.cancel(&waiting).await;
    assert_eq!(response.status(), StatusCode::OK);
    let job: Job = response.json().await.expect("the job");
    assert_eq!(job.state, JobState::Cancelled);

    for id in [&primes, &chain] {
        let asked = Instant::now();
        assert_eq!(app.cancel(id).await.status(), StatusCode::ACCEPTED);
        let job = app
            .until(id, Duration::from_secs(10), |job| job.state.is_finished())
            .await;
        assert_eq!(job.state, JobState::Cancelled);
        assert!(job.progress < 1.0);
        println!(
            "{} stopped {:?} after the cancel",
            job.spec.kind(),
            asked.elapsed()
        );
    }
    // The waiting one was never started, though both workers are free again: workers take jobs
    // in the order they came, so once a job submitted after it has run, it would have run first.
    let later = app
        .submit(json!({ "kind": "wait", "params": { "seconds": 0 } }))
        .await;
    assert_eq!(app.finished(&later).await.state, JobState::Succeeded);
    let job = app.job(&waiting).await;
    assert_eq!(
        (job.state, job.attempts, job.started_at_ms),
        (JobState::Cancelled, 0, None)
    );
}

#[tokio::test]
async fn past_a_hundred_waiting_jobs_a_new_one_is_429_with_retry_after() {
    let app = app_with_workers(1).await;
    let running = app
        .submit(json!({ "kind": "wait", "params": { "seconds": 600 } }))
        .await;
    app.until(&running, Duration::from_secs(10), |job| {
        job.state == JobState::Running
    })
    .await;
    let mut waiting = Vec::new();
    for _ in 0..100 {
        waiting.push(
            app.submit(json!({ "kind": "wait", "params": { "seconds": 600 } }))
                .await,
        );
    }
    let response = app
        .post_json(
            "/api/jobs",
            &json!({ "kind": "wait", "params": { "seconds": 1 } }),
        )
        .await;
    assert_eq!(response.headers()["retry-after"], "5");
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    // A place frees up when one is cancelled.
    assert_eq!(app.cancel(&waiting[50]).await.status(), StatusCode::OK);
    app.submit(json!({ "kind": "wait", "params": { "seconds": 1 } }))
        .await;
}

#[tokio::test]
async fn an_owner_lists_its_jobs_and_its_stream_tells_each_change_and_resumes() {
    let app = app_with_workers(1).await;
    let owner = "client-Abc_123";
    let first = app
        .submit(json!({ "kind": "primes", "params": { "limit": 1000 }, "owner": owner }))
        .await;
    let second = app
        .submit(json!({ "kind": "wait", "params": { "seconds": 1 }, "owner": owner }))
        .await;
    app.submit(json!({ "kind": "wait", "params": { "seconds": 0 }, "owner": "someone-else" }))
        .await;
    app.submit(json!({ "kind": "wait", "params": { "seconds": 0 } }))
        .await;

    let list: JobList = app
        .get(&format!("/api/jobs?owner={owner}"))
        .await
        .json()
        .await
        .expect("a list");
    let ids: Vec<&str> = list.jobs.iter().map(|job| job.id.as_str()).collect();
    assert_eq!(
        ids,
        [second.as_str(), first.as_str()],
        "newest first, only the owner's"
    );

    let response = app
        .get(&format!("/api/jobs/events?owner={owner}&last_event_id=0"))
        .await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut events = Events::new(response);
    let mut seen = Vec::new();
    let mut seen_ids = Vec::new();
    let mut last_id = 0;
    while seen
        .last()
        .map(|(kind, id): &(String, String)| (kind.as_str(), id.as_str()))
        != Some(("finished", second.as_str()))
    {
        let pushed = events
            .next(Duration::from_secs(10))
            .await
            .expect("an event");
        if pushed.event.is_empty() {
            continue;
        }
        let id: i64 = pushed.id.parse().expect("a numeric id");
        assert!(id > last_id, "ids grow: {id} after {last_id}");
        last_id = id;
        let data: Value = serde_json::from_str(&pushed.data).expect("JSON");
        seen_ids.push(pushed.id.clone());
        seen.push((
            pushed.event,
            data["id"].as_str().expect("the job").to_owned(),
        ));
    }
    let kinds_of = |job: &str| -> Vec<&str> {
        seen.iter()
            .filter(|(_, id)| id == job)
            .map(|(kind, _)| kind.as_str())
            .collect()
    };
    let first_kinds = kinds_of(&first);
    assert_eq!(first_kinds.first(), Some(&"submitted"));
    assert_eq!(first_kinds.last(), Some(&"finished"));
    let second_kinds = kinds_of(&second);
    assert!(second_kinds.contains(&"progress"), "{second_kinds:?}");
    // A wait of 1 s reports at most a few times a second.
    assert!(second_kinds.len() <= 3 + 6, "{second_kinds:?}");

    // Resuming after the third event gives every event kept since, in order: everything but
    // the progress, since a job keeps only its newest progress and its end replaces that.
    let response = app
        .client
        .get(app.url(&format!("/api/jobs/events?owner={owner}")))
        .header("last-event-id", &seen_ids[2])
        .send()
        .await
        .expect("resumed");
    let mut resumed = Events::new(response);
    let kept: Vec<(String, String)> = seen[3..]
        .iter()
        .filter(|(kind, _)| kind != "progress")
        .cloned()
        .collect();
    let again: Vec<(String, String)> = resumed
        .take(kept.len())
        .await
        .into_iter()
        .map(|pushed| {
            let data: Value = serde_json::from_str(&pushed.data).expect("JSON");
            (
                pushed.event,
                data["id"].as_str().expect("the job").to_owned(),
            )
        })
        .collect();
    assert_eq!(again, kept, "the resumed stream, gap-free for what is kept");
    assert!(
        resumed.next(Duration::from_millis(300)).await.is_none(),
        "no progress of a finished job is replayed"
    );
}

#[tokio::test]
async fn a_job_running_when_the_server_is_killed_runs_again_after_the_restart() {
    let folder = tempfile::tempdir().expect("a folder");
    let client = reqwest::Client::new();
    let mut first = start_process(folder.path(), "warn").await;
    let accepted: JobAccepted = client
        .post(format!("{}/api/jobs", first.address))
        .json(&json!({ "kind": "primes", "params": { "limit": 300_000_000 } }))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("accepted");
    let job_at = async |address: &str| -> Job {
        client
            .get(format!("{address}/api/jobs/{}", accepted.id))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("a job")
    };
    let started = Instant::now();
    loop {
        let job = job_at(&first.address).await;
        assert!(
            !job.state.is_finished(),
            "finished before the kill: {job:?}"
        );
        if job.progress > 0.0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.child.kill().await.expect("SIGKILL");

    let second = start_process(folder.path(), "warn").await;
    let started = Instant::now();
    let job = loop {
        let job = job_at(&second.address).await;
        if job.state.is_finished() {
            break job;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{job:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!(job.result, Some(JobResult::Primes { count: 16_252_325 }));
    assert_eq!(
        job.attempts, 2,
        "started once before the kill and once after"
    );
}

#[tokio::test]
async fn submitting_again_with_the_same_key_gets_the_same_job_and_queues_nothing_more() {
    let app = app_with_workers(1).await;
    let owner = "client-Keyed_1";
    let body = json!({ "kind": "wait", "params": { "seconds": 0 }, "owner": owner });
    let submit_with = async |key: &str, body: &Value| {
        app.client
            .post(app.url("/api/jobs"))
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .expect("sent")
    };
    let first = submit_with("job-key-1", &body).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: JobAccepted = first.json().await.expect("JSON");
    app.finished(&first.id).await;
    // The answer was lost; the page retries with the same key, even after the job ran.
    let again = submit_with("job-key-1", &body).await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    let again: JobAccepted = again.json().await.expect("JSON");
    assert_eq!(again.id, first.id);
    assert_eq!(again.state, JobState::Succeeded, "the job as it is now");

    // Ten retries at once: one job.
    let body = json!({ "kind": "wait", "params": { "seconds": 1 }, "owner": owner });
    let answers = futures::future::join_all((0..10).map(|_| submit_with("job-key-2", &body))).await;
    let mut ids = std::collections::HashSet::new();
    for answer in answers {
        assert_eq!(answer.status(), StatusCode::ACCEPTED);
        ids.insert(answer.json::<JobAccepted>().await.expect("JSON").id);
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let list: JobList = app
        .get(&format!("/api/jobs?owner={owner}"))
        .await
        .json()
        .await
        .expect("a list");
    assert_eq!(list.jobs.len(), 2, "two keys, two jobs");

    let other_body = json!({ "kind": "wait", "params": { "seconds": 2 }, "owner": owner });
    let reused = submit_with("job-key-1", &other_body).await;
    assert_error(
        reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    let bad = submit_with("a key with spaces", &body).await;
    assert_error(bad, StatusCode::BAD_REQUEST, "bad_request").await;
}
