//! The Tasks room's API: jobs queued at once, run by the worker pool, their results, every 422
//! and 409, cancelling, the queue's limit, the owner's event stream, and a restart.

use std::time::{Duration, Instant};

use protocol::jobs::{
    EventTicket, Job, JobAccepted, JobList, JobOwnerCreated, JobResult, JobState, QUEUE_PER_OWNER,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::tasks::Jobs;
use sha2::{Digest, Sha256};

use crate::helpers::{
    Events, TestApp, assert_error, new_database, spawn_app, spawn_app_with, start_process,
};

/// An owner of jobs, as a client holds it: its token goes on every call.
pub struct Owner<'a> {
    pub app: &'a TestApp,
    pub token: String,
}

impl TestApp {
    /// A new owner of jobs (`POST /api/jobs/owners`).
    pub async fn owner(&self) -> Owner<'_> {
        let response = self.client.post(self.url("/api/jobs/owners")).send().await;
        let response = response.expect("sent");
        assert_eq!(response.status(), StatusCode::CREATED);
        let created: JobOwnerCreated = response.json().await.expect("JSON");
        Owner {
            app: self,
            token: created.token,
        }
    }
}

impl Owner<'_> {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        let request = self.app.client.get(self.app.url(path));
        request.bearer_auth(&self.token).send().await.expect("sent")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        let request = self.app.client.post(self.app.url(path)).json(body);
        request.bearer_auth(&self.token).send().await.expect("sent")
    }

    /// Submits `body` and checks the 202: `Location` names the job, the state is `queued`.
    pub async fn submit(&self, body: Value) -> String {
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

    pub async fn cancel(&self, id: &str) -> reqwest::Response {
        let path = format!("/api/jobs/{id}/cancel");
        self.post_json(&path, &json!(null)).await
    }

    /// The owner's event stream from `last_event_id` (`None`: from now), through a new ticket.
    pub async fn stream(&self, last_event_id: Option<&str>) -> reqwest::Response {
        let ticket = self
            .post_json("/api/jobs/events/ticket", &json!(null))
            .await;
        assert_eq!(ticket.status(), StatusCode::CREATED);
        let ticket: EventTicket = ticket.json().await.expect("a ticket");
        let mut request = self
            .app
            .client
            .get(self.app.url("/api/jobs/events"))
            .query(&[("ticket", &ticket.ticket)]);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        request.send().await.expect("sent")
    }
}

/// A pool of `workers`, so a test knows how many jobs run at once.
async fn app_with_workers(workers: usize) -> TestApp {
    spawn_app_with(|state| state.jobs = std::sync::Arc::new(Jobs::new(workers))).await
}

#[tokio::test]
async fn each_kind_of_job_gives_its_known_result() {
    let app = spawn_app().await;
    let me = app.owner().await;
    let million = me
        .submit(json!({ "kind": "primes", "params": { "limit": 1_000_000 } }))
        .await;
    let hundred_million = me
        .submit(json!({ "kind": "primes", "params": { "limit": 100_000_000 } }))
        .await;
    let chain = me
        .submit(
            json!({ "kind": "hashchain", "params": { "seed": "meanwhile", "rounds": 100_000 } }),
        )
        .await;
    let picture = me
        .submit(json!({ "kind": "mandelbrot", "params": { "width": 64, "height": 48, "max_iterations": 200 } }))
        .await;
    let wait = me
        .submit(json!({ "kind": "wait", "params": { "seconds": 0 } }))
        .await;

    let job = me.finished(&million).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert_eq!(job.result, Some(JobResult::Primes { count: 78_498 }));
    assert_eq!(job.progress, 1.0);
    assert_eq!(job.attempts, 1);
    assert!(job.created_at_ms <= job.started_at_ms.expect("started"));
    assert!(job.started_at_ms <= job.finished_at_ms);
    let result: Value = me
        .get(&format!("/api/jobs/{million}/result"))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(result, json!({ "count": 78_498 }));

    let job = me.finished(&hundred_million).await;
    assert_eq!(job.result, Some(JobResult::Primes { count: 5_761_455 }));

    let mut direct: [u8; 32] = Sha256::digest(b"meanwhile").into();
    for _ in 1..100_000 {
        direct = Sha256::digest(direct).into();
    }
    let hex: String = direct.iter().map(|b| format!("{b:02x}")).collect();
    let job = me.finished(&chain).await;
    assert_eq!(job.result, Some(JobResult::Hashchain { hash: hex }));

    let job = me.finished(&picture).await;
    let Some(JobResult::Mandelbrot {
        width: 64,
        height: 48,
        png_bytes,
    }) = job.result
    else {
        panic!("{job:?}");
    };
    let response = me.get(&format!("/api/jobs/{picture}/result")).await;
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

    let job = me.finished(&wait).await;
    assert_eq!(job.result, Some(JobResult::Wait { waited_seconds: 0 }));
}

#[tokio::test]
async fn a_job_outside_its_ranges_is_422_naming_what_is_allowed() {
    let app = spawn_app().await;
    let me = app.owner().await;
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
            json!({ "kind": "wait", "params": { "seconds": 1 }, "owner": "me" }),
            "owner",
        ),
        (
            json!({ "kind": "wait", "params": { "seconds": 1 }, "ownr": "me" }),
            "ownr",
        ),
        (
            json!([{ "kind": "wait", "params": { "seconds": 1 } }]),
            "object",
        ),
    ] {
        let response = me.post_json("/api/jobs", &body).await;
        let message = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(message.contains(names), "{body}: {message}");
    }
    let listed = me.get("/api/jobs").await.json::<JobList>().await;
    assert_eq!(listed.expect("a list").jobs, [], "nothing was queued");
}

#[tokio::test]
async fn unknown_jobs_are_404_and_results_and_cancels_that_cannot_be_are_409() {
    let app = app_with_workers(1).await;
    let me = app.owner().await;
    for path in ["/api/jobs/nope", "/api/jobs/nope/result"] {
        assert_error(me.get(path).await, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert_error(me.cancel("nope").await, StatusCode::NOT_FOUND, "not_found").await;

    let long = me
        .submit(json!({ "kind": "wait", "params": { "seconds": 600 } }))
        .await;
    let queued = me
        .submit(json!({ "kind": "wait", "params": { "seconds": 0 } }))
        .await;
    me.until(&long, Duration::from_secs(10), |job| {
        job.state == JobState::Running
    })
    .await;
    for id in [&long, &queued] {
        let message = assert_error(
            me.get(&format!("/api/jobs/{id}/result")).await,
            StatusCode::CONFLICT,
            "conflict",
        )
        .await;
        assert!(
            message.contains("running") || message.contains("queued"),
            "{message}"
        );
    }
    assert_eq!(me.cancel(&long).await.status(), StatusCode::ACCEPTED);
    let done = me.finished(&queued).await;
    assert_eq!(done.state, JobState::Succeeded);
    let message = assert_error(me.cancel(&queued).await, StatusCode::CONFLICT, "conflict").await;
    assert!(message.contains("succeeded"), "{message}");
    let message = assert_error(
        me.get(&format!("/api/jobs/{long}/result")).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(message.contains("cancelled"), "{message}");
    assert_error(me.cancel(&long).await, StatusCode::CONFLICT, "conflict").await;
}

#[tokio::test]
async fn a_cancelled_waiting_job_never_starts_and_a_running_one_stops_at_once() {
    let app = app_with_workers(2).await;
    let me = app.owner().await;
    let primes = me
        .submit(json!({ "kind": "primes", "params": { "limit": 10_000_000_000u64 } }))
        .await;
    let chain = me
        .submit(json!({ "kind": "hashchain", "params": { "seed": "s", "rounds": 200_000_000 } }))
        .await;
    let waiting = me
        .submit(json!({ "kind": "wait", "params": { "seconds": 1 } }))
        .await;
    for id in [&primes, &chain] {
        me.until(id, Duration::from_secs(10), |job| job.progress > 0.0)
            .await;
    }

    let response = me.cancel(&waiting).await;
    assert_eq!(response.status(), StatusCode::OK);
    let job: Job = response.json().await.expect("the job");
    assert_eq!(job.state, JobState::Cancelled);

    for id in [&primes, &chain] {
        let asked = Instant::now();
        assert_eq!(me.cancel(id).await.status(), StatusCode::ACCEPTED);
        let job = me
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
    let later = me
        .submit(json!({ "kind": "wait", "params": { "seconds": 0 } }))
        .await;
    assert_eq!(me.finished(&later).await.state, JobState::Succeeded);
    let job = me.job(&waiting).await;
    assert_eq!(
        (job.state, job.attempts, job.started_at_ms),
        (JobState::Cancelled, 0, None)
    );
}

#[tokio::test]
async fn past_a_hundred_waiting_jobs_a_new_one_is_429_with_retry_after() {
    let app = app_with_workers(1).await;
    let me = app.owner().await;
    let running = me
        .submit(json!({ "kind": "wait", "params": { "seconds": 600 } }))
        .await;
    me.until(&running, Duration::from_secs(10), |job| {
        job.state == JobState::Running
    })
    .await;
    // Ten owners, each with its whole share waiting.
    let mut owners = Vec::new();
    for _ in 0..10 {
        owners.push(app.owner().await);
    }
    let mut waiting = Vec::new();
    for owner in &owners {
        for _ in 0..10 {
            waiting.push(
                owner
                    .submit(json!({ "kind": "wait", "params": { "seconds": 600 } }))
                    .await,
            );
        }
    }
    let response = me
        .post_json(
            "/api/jobs",
            &json!({ "kind": "wait", "params": { "seconds": 1 } }),
        )
        .await;
    assert_eq!(response.headers()["retry-after"], "5");
    let message = assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    assert!(message.contains("100 jobs are waiting"), "{message}");
    // A place frees up when one is cancelled.
    assert_eq!(
        owners[5].cancel(&waiting[50]).await.status(),
        StatusCode::OK
    );
    me.submit(json!({ "kind": "wait", "params": { "seconds": 1 } }))
        .await;
}

/// One client filling the queue made every other submission 429 for hours: now an owner has a
/// share (waiting and running), and past it only its own submissions are refused.
#[tokio::test]
async fn one_owner_gets_its_share_of_the_queue_and_others_still_submit() {
    let app = app_with_workers(1).await;
    let greedy = app.owner().await;
    for _ in 0..QUEUE_PER_OWNER {
        greedy
            .submit(json!({ "kind": "wait", "params": { "seconds": 600 } }))
            .await;
    }
    let more = json!({ "kind": "wait", "params": { "seconds": 600 } });
    let refused =
        futures::future::join_all((0..5).map(|_| greedy.post_json("/api/jobs", &more))).await;
    for response in refused {
        assert_eq!(response.headers()["retry-after"], "5");
        let message =
            assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
        assert!(message.contains("as many as one owner may"), "{message}");
    }
    let listed = greedy.get("/api/jobs").await.json::<JobList>().await;
    assert_eq!(listed.expect("a list").jobs.len(), QUEUE_PER_OWNER);

    let other = app.owner().await;
    let id = other
        .submit(json!({ "kind": "wait", "params": { "seconds": 0 } }))
        .await;
    assert_eq!(other.job(&id).await.state, JobState::Queued);
}

/// Jobs are their owner's: without its token nothing about them can be asked, and another
/// owner's token finds nothing — not the job, its result, its cancel or its stream.
#[tokio::test]
async fn only_its_owner_sees_cancels_or_streams_a_job() {
    let app = app_with_workers(1).await;
    let me = app.owner().await;
    let id = me
        .submit(json!({ "kind": "wait", "params": { "seconds": 0 } }))
        .await;
    me.finished(&id).await;
    let long = me
        .submit(json!({ "kind": "wait", "params": { "seconds": 600 } }))
        .await;

    let no_token = |method: reqwest::Method, path: &str| {
        app.client
            .request(method, app.url(path))
            .json(&json!({ "kind": "wait", "params": { "seconds": 0 } }))
            .send()
    };
    for (method, path) in [
        (reqwest::Method::POST, "/api/jobs".to_owned()),
        (reqwest::Method::GET, "/api/jobs".to_owned()),
        (reqwest::Method::GET, format!("/api/jobs/{id}")),
        (reqwest::Method::GET, format!("/api/jobs/{id}/result")),
        (reqwest::Method::POST, format!("/api/jobs/{long}/cancel")),
        (reqwest::Method::POST, "/api/jobs/events/ticket".to_owned()),
    ] {
        let response = no_token(method, &path).await.expect("sent");
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let forged = Owner {
        app: &app,
        token: "not-a-token".to_owned(),
    };
    assert_error(
        forged.get("/api/jobs").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;

    let other = app.owner().await;
    for path in [format!("/api/jobs/{id}"), format!("/api/jobs/{id}/result")] {
        assert_error(other.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert_error(
        other.cancel(&long).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        other
            .get("/api/jobs")
            .await
            .json::<JobList>()
            .await
            .expect("a list")
            .jobs,
        [],
        "another owner lists none of mine"
    );
    let mut theirs = Events::new(other.stream(Some("0")).await);
    while let Some(pushed) = theirs.next(Duration::from_millis(500)).await {
        assert!(
            pushed.is_opening(),
            "another owner's stream carries none of mine: {pushed:?}"
        );
    }
    let still = me.job(&long).await.state;
    assert!(!still.is_finished(), "still mine, not cancelled: {still:?}");

    // The stream is opened with a single-use ticket, never an owner in the URL.
    assert_error(
        app.get("/api/jobs/events?owner=anyone").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let ticket: EventTicket = me
        .post_json("/api/jobs/events/ticket", &json!(null))
        .await
        .json()
        .await
        .expect("a ticket");
    let url = app.url(&format!("/api/jobs/events?ticket={}", ticket.ticket));
    let first = app.client.get(&url).send().await.expect("sent");
    assert_eq!(first.status(), StatusCode::OK);
    let again = app.client.get(&url).send().await.expect("sent");
    assert_error(again, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn an_owner_lists_its_jobs_and_its_stream_tells_each_change_and_resumes() {
    let app = app_with_workers(1).await;
    let me = app.owner().await;
    let first = me
        .submit(json!({ "kind": "primes", "params": { "limit": 1000 } }))
        .await;
    let second = me
        .submit(json!({ "kind": "wait", "params": { "seconds": 1 } }))
        .await;
    let someone_else = app.owner().await;
    someone_else
        .submit(json!({ "kind": "wait", "params": { "seconds": 0 } }))
        .await;

    let list: JobList = me.get("/api/jobs").await.json().await.expect("a list");
    let ids: Vec<&str> = list.jobs.iter().map(|job| job.id.as_str()).collect();
    assert_eq!(
        ids,
        [second.as_str(), first.as_str()],
        "newest first, only the owner's"
    );

    let response = me.stream(Some("0")).await;
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
        if pushed.is_opening() {
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
    let response = me.stream(Some(&seen_ids[2])).await;
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
    let database = new_database(folder.path()).await;
    let client = reqwest::Client::new();
    let mut first = start_process(&database, folder.path(), "warn").await;
    let owner: JobOwnerCreated = client
        .post(format!("{}/api/jobs/owners", first.address))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("a token");
    let accepted: JobAccepted = client
        .post(format!("{}/api/jobs", first.address))
        .bearer_auth(&owner.token)
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
            .bearer_auth(&owner.token)
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

    let second = start_process(&database, folder.path(), "warn").await;
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
    let me = app.owner().await;
    let body = json!({ "kind": "wait", "params": { "seconds": 0 } });
    let submit_with = async |key: &str, body: &Value| {
        app.client
            .post(app.url("/api/jobs"))
            .bearer_auth(&me.token)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .expect("sent")
    };
    let first = submit_with("job-key-1", &body).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: JobAccepted = first.json().await.expect("JSON");
    me.finished(&first.id).await;
    // The answer was lost; the page retries with the same key, even after the job ran.
    let again = submit_with("job-key-1", &body).await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(
        again.headers()["idempotent-replayed"],
        "true",
        "the answer says it is the first one's"
    );
    let again: JobAccepted = again.json().await.expect("JSON");
    assert_eq!(again.id, first.id);
    assert_eq!(again.state, JobState::Succeeded, "the job as it is now");

    // Ten retries at once: one job.
    let body = json!({ "kind": "wait", "params": { "seconds": 1 } });
    let answers = futures::future::join_all((0..10).map(|_| submit_with("job-key-2", &body))).await;
    let mut ids = std::collections::HashSet::new();
    for answer in answers {
        assert_eq!(answer.status(), StatusCode::ACCEPTED);
        ids.insert(answer.json::<JobAccepted>().await.expect("JSON").id);
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let list: JobList = me.get("/api/jobs").await.json().await.expect("a list");
    assert_eq!(list.jobs.len(), 2, "two keys, two jobs");

    let other_body = json!({ "kind": "wait", "params": { "seconds": 2 } });
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
