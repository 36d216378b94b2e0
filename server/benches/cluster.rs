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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use protocol::jobs::{Job, JobAccepted, JobOwnerCreated};
use serde_json::{Value, json};

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
    use sqlx::Connection;
    let name = format!("bench_{:016x}", fastrand::u64(..));
    let mut admin = sqlx::PgConnection::connect(server).await.expect("connects");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("a database is created");
    let mut address = url::Url::parse(server).expect("an address");
    address.set_path(&name);
    address.to_string()
}

/// Mailboxes made through `senders`, their streams opened on `streams`; [`MESSAGES`] sent
/// through `senders`: p50 and p99 of send → event, in ms.
async fn delivery(senders: &ServerProcess, streams: &ServerProcess) -> [f64; 2] {
    let client = reqwest::Client::new();
    let prefix = format!("c{}x", fastrand::u32(..));
    let tokens: Vec<String> = futures::stream::iter(0..MAILBOXES)
        .map(|i| {
            let (client, prefix) = (&client, &prefix);
            async move {
                let created: Value = client
                    .post(senders.url("/api/mailboxes"))
                    .json(&json!({ "name": format!("{prefix}{i}") }))
                    .send()
                    .await
                    .expect("sent")
                    .json()
                    .await
                    .expect("JSON");
                created["token"].as_str().expect("a token").to_owned()
            }
        })
        .buffered(16)
        .collect()
        .await;
    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let mut readers = Vec::new();
    for token in &tokens {
        let ticket: Value = client
            .post(streams.url("/api/events/ticket"))
            .bearer_auth(token)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("JSON");
        let ticket = ticket["ticket"].as_str().expect("a ticket");
        let mut response = client
            .get(streams.url(&format!("/api/events?ticket={ticket}")))
            .send()
            .await
            .expect("the stream opens");
        let (sent_at, latencies) = (sent_at.clone(), latencies.clone());
        readers.push(tokio::spawn(async move {
            let mut buffer = String::new();
            while let Ok(Some(chunk)) = response.chunk().await {
                let arrived = Instant::now();
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) else {
                        continue;
                    };
                    let Ok(message) = serde_json::from_str::<Value>(data.trim()) else {
                        continue;
                    };
                    let body = message["body"].as_str().unwrap_or_default();
                    if let Some(at) = sent_at.lock().expect("not poisoned").remove(body) {
                        let ms = arrived.duration_since(at).as_secs_f64() * 1000.0;
                        latencies.lock().expect("not poisoned").push(ms);
                    }
                }
            }
        }));
    }
    let sends = (0..MESSAGES).map(|i| {
        let (client, tokens, sent_at, prefix) = (&client, &tokens, &sent_at, &prefix);
        async move {
            let from = i % MAILBOXES;
            let to = (i * 7 + 1 + i / MAILBOXES) % MAILBOXES;
            let body = format!("cluster bench message {i}");
            sent_at
                .lock()
                .expect("not poisoned")
                .insert(body.clone(), Instant::now());
            let response = client
                .post(senders.url("/api/messages"))
                .bearer_auth(&tokens[from])
                .header("idempotency-key", format!("b{i}"))
                .json(&json!({"to": format!("{prefix}{to}"), "subject": "bench", "body": body}))
                .send()
                .await
                .expect("sent");
            assert_eq!(response.status(), 202);
        }
    });
    futures::stream::iter(sends)
        .buffer_unordered(SENDERS_AT_ONCE)
        .collect::<Vec<()>>()
        .await;
    // Past the streams' re-read interval (15 s), whatever was not woken has arrived.
    let deadline = Instant::now() + Duration::from_secs(20);
    while latencies.lock().expect("not poisoned").len() < MESSAGES && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for reader in readers {
        reader.abort();
    }
    let mut latencies = latencies.lock().expect("not poisoned").clone();
    assert_eq!(latencies.len(), MESSAGES, "every message arrived");
    latencies.sort_by(f64::total_cmp);
    [
        support::nearest_rank(&latencies, 50.0),
        support::nearest_rank(&latencies, 99.0),
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
