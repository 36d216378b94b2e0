//! `cargo xtask bench`, the part of several instances on one database ("cluster"), against the
//! release server as its own processes, on PostgreSQL (the server `cargo xtask bench` starts,
//! `MEANWHILE_TEST_POSTGRES`) and, alongside for comparison, on a SQLite file:
//!
//! 1. Send → event: 50 mailboxes with their event streams open exchange 500 messages, 8 sends at
//!    a time; from each send to its event on the recipient's stream, p50 and p99, with the sends
//!    and the streams on one instance, then sent through A to streams held by B. Target (on
//!    PostgreSQL): across ≤ 2× within. On SQLite B hears of A's writes only at its streams'
//!    re-read (every 15 s): the figure says why a deployment of several runs on PostgreSQL.
//! 2. Job throughput: 40 hash chains of 2 000 000 rounds from 4 owners, one worker an instance,
//!    with one instance and with two: jobs a second.
//!
//! Figures are printed, not asserted: the machines are shared and noisy.

use std::time::{Duration, Instant};

use protocol::jobs::{Job, JobAccepted, JobOwnerCreated};
use serde_json::json;

mod support;
use support::ServerProcess;

const MAILBOXES: usize = 50;
const MESSAGES: usize = 500;
const SENDERS_AT_ONCE: usize = 8;
const JOBS: usize = 40;
const OWNERS: usize = 4;

fn main() {
    let only = std::env::var("MEANWHILE_BENCH_ONLY").unwrap_or_default();
    let wanted = |part: &str| only.is_empty() || only.split(',').any(|p| p.trim() == part);
    if !wanted("cluster") {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let mut databases = vec![("SQLite", None)];
    match std::env::var("MEANWHILE_TEST_POSTGRES") {
        Ok(server) => databases.insert(0, ("PostgreSQL", Some(server))),
        Err(_) => println!("   (no MEANWHILE_TEST_POSTGRES: SQLite only)"),
    }
    for (kind, server) in databases {
        let folder = tempfile::tempdir().expect("temporary folder");
        let database = || -> String {
            match &server {
                Some(server) => runtime.block_on(postgres_database(server)),
                None => folder
                    .path()
                    .join(format!("bench-{}.db", fastrand::u64(..)))
                    .display()
                    .to_string(),
            }
        };
        println!(
            "C1. {kind}: {MAILBOXES} mailboxes with their streams open exchange {MESSAGES} messages, {SENDERS_AT_ONCE} sends at a time"
        );
        let shared = database();
        let a = ServerProcess::start_on(&shared, folder.path(), &[]);
        let within = runtime.block_on(delivery(&a, &a));
        let b = ServerProcess::start_on(&shared, folder.path(), &[]);
        let across = runtime.block_on(delivery(&a, &b));
        drop((a, b));
        for (how, [p50, p99]) in [("within one instance", within), ("A → B", across)] {
            println!("   send → event, {how}: p50 {p50:.2} ms, p99 {p99:.2} ms");
        }
        let ratio = across[1] / within[1];
        println!("   across ÷ within at p99: {ratio:.2} [target on PostgreSQL: ≤ 2]");
        let target = (kind == "PostgreSQL").then_some(("≤ 2× within", ratio <= 2.0));
        support::record(
            "cluster",
            &format!("{kind}: send → event within one, p50"),
            within[0],
            "ms",
            None,
        );
        support::record(
            "cluster",
            &format!("{kind}: send → event within one, p99"),
            within[1],
            "ms",
            None,
        );
        support::record(
            "cluster",
            &format!("{kind}: send → event A → B, p50"),
            across[0],
            "ms",
            None,
        );
        support::record(
            "cluster",
            &format!("{kind}: send → event A → B, p99"),
            across[1],
            "ms",
            target,
        );

        println!("C2. {kind}: {JOBS} hash chains of 2 000 000 rounds, one worker an instance");
        let shared = database();
        let one = ServerProcess::start_on(&shared, folder.path(), &["--job-workers", "1"]);
        let alone = runtime.block_on(throughput(&[&one]));
        let shared = database();
        let a = ServerProcess::start_on(&shared, folder.path(), &["--job-workers", "1"]);
        let b = ServerProcess::start_on(&shared, folder.path(), &["--job-workers", "1"]);
        let pair = runtime.block_on(throughput(&[&a, &b]));
        drop((one, a, b));
        println!(
            "   one instance: {alone:.2} jobs/s; two: {pair:.2} jobs/s ({:.2}×; the machine has {} cores)",
            pair / alone,
            std::thread::available_parallelism().map_or(1, usize::from)
        );
        support::record(
            "cluster",
            &format!("{kind}: jobs a second, one instance"),
            alone,
            "jobs/s",
            None,
        );
        support::record(
            "cluster",
            &format!("{kind}: jobs a second, two instances"),
            pair,
            "jobs/s",
            None,
        );
    }
}

/// A new database on the PostgreSQL server at `server`.
async fn postgres_database(server: &str) -> String {
    use sqlx::migrate::MigrateDatabase;
    let mut address = url::Url::parse(server).expect("an address");
    address.set_path(&format!("bench_{:016x}", fastrand::u64(..)));
    sqlx::Postgres::create_database(address.as_str())
        .await
        .expect("a database is made");
    address.to_string()
}

/// p50 and p99 of send → event, in ms, [`MESSAGES`] sent through `senders` to streams held by
/// `streams`.
async fn delivery(senders: &ServerProcess, streams: &ServerProcess) -> [f64; 2] {
    let delivered = support::delivery(senders, streams, MAILBOXES, MESSAGES, SENDERS_AT_ONCE).await;
    assert_eq!(delivered.latencies.len(), MESSAGES, "every message arrived");
    [
        support::nearest_rank(&delivered.latencies, 50.0),
        support::nearest_rank(&delivered.latencies, 99.0),
    ]
}

/// [`JOBS`] hash chains submitted through `instances` in turn by [`OWNERS`] owners, as each
/// owner's share of the queue allows: jobs finished a second.
async fn throughput(instances: &[&ServerProcess]) -> f64 {
    let plain = reqwest::Client::new();
    let mut owners = Vec::new();
    for _ in 0..OWNERS {
        let owner: JobOwnerCreated = plain
            .post(instances[0].url("/api/jobs/owners"))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("a token");
        owners.push(owner.token);
    }
    let started = Instant::now();
    let mut ids = Vec::new();
    for i in 0..JOBS {
        let server = instances[i % instances.len()];
        let response = plain
            .post(server.url("/api/jobs"))
            .bearer_auth(&owners[i % OWNERS])
            .json(&json!({ "kind": "hashchain", "params": { "seed": format!("j{i}"), "rounds": 2_000_000 } }))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 202);
        let accepted: JobAccepted = response.json().await.expect("accepted");
        ids.push((accepted.id, i % OWNERS));
    }
    for (id, owner) in &ids {
        loop {
            let job: Job = plain
                .get(instances[0].url(&format!("/api/jobs/{id}")))
                .bearer_auth(&owners[*owner])
                .send()
                .await
                .expect("sent")
                .json()
                .await
                .expect("a job");
            if job.state.is_finished() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    JOBS as f64 / started.elapsed().as_secs_f64()
}
