//! `cargo xtask bench`, the Tasks room's part, against the release server as its own process
//! with two workers:
//!
//! 7. Responsiveness: `POST /api/jobs` and `GET /api/health`, one request at a time, with no job
//!    running and then with two CPU-heavy jobs running (one per worker) on the same server, in
//!    the same run: p50 and p99 of each, and the busy/idle ratio. Target: p99 ≤ 5 ms busy.
//! 8. Primes up to 10⁹: the job's time (its own `started_at_ms` → `finished_at_ms`, through
//!    the API) and the segmented sieve called directly, against a straightforward
//!    single-threaded sieve written here (one `bool` per number).
//! 9. Cancel: from `POST /api/jobs/{id}/cancel` of a running primes job to the job seen
//!    `cancelled`. Target: ≤ 200 ms.
//!
//! Figures are printed, not asserted: the machines are shared and noisy.

use std::time::{Duration, Instant};

use protocol::jobs::{Job, JobAccepted, JobOwnerCreated, JobResult, JobState};
use serde_json::{Value, json};

mod support;
use support::{ServerProcess, nearest_rank};

/// Requests of each kind per phase.
const REQUESTS: usize = 300;

fn main() {
    let only = std::env::var("MEANWHILE_BENCH_ONLY").unwrap_or_default();
    let wanted = |part: &str| only.is_empty() || only.split(',').any(|p| p.trim() == part);
    if !wanted("tasks") {
        return;
    }
    let folder = tempfile::tempdir().expect("temporary folder");
    let server = ServerProcess::start(folder.path(), &["--job-workers", "2"]);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let client = owner_client(&server).await;
        responsiveness(&server, &client).await;
        primes(&server, &client).await;
        cancel(&server, &client).await;
    });
}

/// A client that carries a new owner's token on every request.
async fn owner_client(server: &ServerProcess) -> reqwest::Client {
    let owner: JobOwnerCreated = reqwest::Client::new()
        .post(server.url("/api/jobs/owners"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("a token");
    let mut headers = reqwest::header::HeaderMap::new();
    let bearer = format!("Bearer {}", owner.token);
    headers.insert(
        reqwest::header::AUTHORIZATION,
        bearer.parse().expect("a header value"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("a client")
}

async fn submit(server: &ServerProcess, client: &reqwest::Client, body: Value) -> String {
    let response = client
        .post(server.url("/api/jobs"))
        .json(&body)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 202, "{body}");
    let accepted: JobAccepted = response.json().await.expect("accepted");
    accepted.id
}

async fn job(server: &ServerProcess, client: &reqwest::Client, id: &str) -> Job {
    client
        .get(server.url(&format!("/api/jobs/{id}")))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("a job")
}

async fn cancel_job(server: &ServerProcess, client: &reqwest::Client, id: &str) {
    client
        .post(server.url(&format!("/api/jobs/{id}/cancel")))
        .send()
        .await
        .expect("sent");
}

/// Polls job `id` until `done` says so.
async fn until(
    server: &ServerProcess,
    client: &reqwest::Client,
    id: &str,
    done: impl Fn(&Job) -> bool,
) -> Job {
    loop {
        let job = job(server, client, id).await;
        if done(&job) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// p50 and p99, in ms, of `REQUESTS` health checks and as many submissions (each cancelled at
/// once, so the queue stays short and no worker is taken from the heavy jobs).
async fn latencies(server: &ServerProcess, client: &reqwest::Client) -> [(f64, f64); 2] {
    let mut health = Vec::with_capacity(REQUESTS);
    let mut posts = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let sent = Instant::now();
        let response = client
            .get(server.url("/api/health"))
            .send()
            .await
            .expect("sent");
        response.bytes().await.expect("read");
        health.push(sent.elapsed().as_secs_f64() * 1000.0);

        let sent = Instant::now();
        let id = submit(
            server,
            client,
            json!({ "kind": "wait", "params": { "seconds": 600 } }),
        )
        .await;
        posts.push(sent.elapsed().as_secs_f64() * 1000.0);
        cancel_job(server, client, &id).await;
    }
    [health, posts].map(|mut times| {
        times.sort_by(f64::total_cmp);
        (nearest_rank(&times, 50.0), nearest_rank(&times, 99.0))
    })
}

async fn responsiveness(server: &ServerProcess, client: &reqwest::Client) {
    println!(
        "7. The API while jobs use the CPU ({REQUESTS} of each, one at a time; 2 workers) [busy p99 ≤ 5 ms]"
    );
    // Warm up the connection and the database.
    latencies(server, client).await;
    let idle = latencies(server, client).await;
    let heavy = [
        submit(
            server,
            client,
            json!({ "kind": "primes", "params": { "limit": 10_000_000_000u64 } }),
        )
        .await,
        submit(
            server,
            client,
            json!({ "kind": "hashchain", "params": { "seed": "busy", "rounds": 200_000_000 } }),
        )
        .await,
    ];
    for id in &heavy {
        until(server, client, id, |job| job.progress > 0.0).await;
    }
    let busy = latencies(server, client).await;
    let running = futures::future::join_all(heavy.iter().map(|id| job(server, client, id))).await;
    assert!(
        running.iter().all(|job| job.state == JobState::Running),
        "the heavy jobs ran throughout"
    );
    for id in &heavy {
        cancel_job(server, client, id).await;
    }
    for ((name, (idle_50, idle_99)), (busy_50, busy_99)) in ["GET /api/health", "POST /api/jobs"]
        .into_iter()
        .zip(idle)
        .zip(busy)
    {
        println!(
            "   {name:<16} no jobs: p50 {idle_50:.2} ms, p99 {idle_99:.2} ms; two CPU-heavy jobs: p50 {busy_50:.2} ms, p99 {busy_99:.2} ms (p99 ×{:.2})",
            busy_99 / idle_99
        );
        support::record(
            "tasks",
            &format!("{name} p99, two CPU-heavy jobs"),
            busy_99,
            "ms",
            Some(("≤ 5 ms", busy_99 <= 5.0)),
        );
    }
}

/// The straightforward sieve: one `bool` per number up to `limit`, crossed off from each prime's
/// square.
fn plain_sieve(limit: usize) -> u64 {
    let mut composite = vec![false; limit + 1];
    let mut count = 0;
    for n in 2..=limit {
        if !composite[n] {
            count += 1;
            let mut multiple = n.saturating_mul(n);
            while multiple <= limit {
                composite[multiple] = true;
                multiple += n;
            }
        }
    }
    count
}

async fn primes(server: &ServerProcess, client: &reqwest::Client) {
    const LIMIT: u64 = 1_000_000_000;
    const COUNT: u64 = 50_847_534;
    println!("8. Primes up to 10⁹ (π = {COUNT})");
    let id = submit(
        server,
        client,
        json!({ "kind": "primes", "params": { "limit": LIMIT } }),
    )
    .await;
    let job = until(server, client, &id, |job| job.state.is_finished()).await;
    assert_eq!(job.result, Some(JobResult::Primes { count: COUNT }));
    let through_api = job.finished_at_ms.unwrap_or(0) - job.started_at_ms.unwrap_or(0);

    let step = server::tasks::work::Step::default();
    let started = Instant::now();
    let direct = server::tasks::work::count_primes(LIMIT, &step).expect("not cancelled");
    let direct_ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(direct, COUNT);

    let started = Instant::now();
    let plain = plain_sieve(LIMIT as usize);
    let plain_ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(plain, COUNT);
    println!(
        "   the job: {through_api} ms (started → finished, through the API); its sieve called directly: {direct_ms:.0} ms, 256 KiB of flags at a time"
    );
    support::record(
        "tasks",
        "primes up to 10⁹ as a job",
        through_api as f64,
        "ms",
        None,
    );
    println!(
        "   a plain single-threaded sieve (one bool per number, 1 GB): {plain_ms:.0} ms — the job is ×{:.1} as fast",
        plain_ms / through_api.max(1) as f64
    );
}

async fn cancel(server: &ServerProcess, client: &reqwest::Client) {
    println!("9. Cancelling a running job [≤ 200 ms]");
    let mut times = Vec::new();
    for _ in 0..10 {
        let id = submit(
            server,
            client,
            json!({ "kind": "primes", "params": { "limit": 10_000_000_000u64 } }),
        )
        .await;
        until(server, client, &id, |job| job.progress > 0.0).await;
        let asked = Instant::now();
        cancel_job(server, client, &id).await;
        until(server, client, &id, |job| job.state == JobState::Cancelled).await;
        times.push(asked.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let median = nearest_rank(&times, 50.0);
    support::record(
        "tasks",
        "cancel → seen cancelled, median",
        median,
        "ms",
        Some(("≤ 200 ms", median <= 200.0)),
    );
    println!(
        "   from the cancel to the job seen cancelled: median {:.1} ms, max {:.1} ms (10 jobs)",
        nearest_rank(&times, 50.0),
        times.last().copied().unwrap_or(0.0)
    );
}
