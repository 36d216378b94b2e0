//! Several server instances on one database, as a deployment behind one address runs them: each
//! answer names its instance, a message sent through one arrives on a stream held by another, and
//! killing an instance in the middle of sends and jobs loses nothing and does nothing twice. Run on
//! SQLite (two processes on one file) and, in `cargo xtask test`'s second run, on PostgreSQL.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use protocol::jobs::{
    EventTicket, Job, JobAccepted, JobOwnerCreated, JobResult, JobState, QUEUE_PER_OWNER,
};
use protocol::mail::{MailboxCreated, Message, SENDS_PER_MINUTE, Sent};
use reqwest::StatusCode;
use serde_json::json;
use server::state::ServedBy;
use server::streams::Hub;
use tokio::sync::Mutex;

use crate::helpers::{
    Events, Process, Pushed, new_database, postgres_admin, spawn_app_beside, spawn_app_with,
    start_process,
};
use crate::mail::{mailbox, whole_inbox};

/// Streams that are never read again on their own: only a wake brings them an event.
fn never_rescanning() -> Arc<Hub> {
    Arc::new(Hub::rescanning_every(Duration::from_secs(3600)))
}

fn on_postgres(database: &str) -> bool {
    database.starts_with("postgres")
}

#[tokio::test]
async fn each_answer_names_the_instance_that_served_it() {
    let a = spawn_app_with(|state| state.served_by = ServedBy(HeaderValue::from_static("a"))).await;
    let b = spawn_app_beside(&a, |state| {
        state.served_by = ServedBy(HeaderValue::from_static("b"))
    })
    .await;
    for (app, name) in [(&a, "a"), (&b, "b")] {
        for path in ["/api/health", "/api/no-such-thing", "/"] {
            let response = app.get(path).await;
            assert_eq!(response.headers()["x-served-by"], name, "{path}");
        }
        let stats: protocol::lab::LabStats =
            app.get("/api/lab/stats").await.json().await.expect("stats");
        assert_eq!(
            stats.instance, name,
            "the Lab's counters say whose they are"
        );
    }
}

#[tokio::test]
async fn a_message_sent_through_one_instance_reaches_a_stream_held_by_another() {
    let a = spawn_app_with(|state| state.hub = never_rescanning()).await;
    let b = spawn_app_beside(&a, |state| {
        state.hub = never_rescanning();
        state.served_by = ServedBy(HeaderValue::from_static("b"));
    })
    .await;
    let alice = mailbox(&a, "alice").await;
    let bob = mailbox(&a, "bob").await;
    let mut on_b = b.events(&bob, None).await;
    let opening = on_b
        .next(Duration::from_secs(5))
        .await
        .expect("the opening");
    assert!(opening.is_opening(), "the retry hint");
    assert_eq!(
        (
            opening.event.as_str(),
            opening.data.as_str(),
            opening.id.as_str()
        ),
        (protocol::SERVED_BY_EVENT, "b", ""),
        "who holds the stream, with no id"
    );

    let sent = a.send(&alice, "bob", "first", "Through A").await;
    let on_b_last = if on_postgres(&a.database) {
        // A's transaction notified; B's listener woke its stream.
        let pushed = on_b.take(1).await;
        let message: Message = serde_json::from_str(&pushed[0].data).expect("a message");
        assert_eq!(message.id, sent.id);
        pushed[0].clone()
    } else {
        // One SQLite file serves one deployment's processes without telling them of each
        // other's writes: B's stream finds it at its re-read (tested in `mail`), not sooner.
        assert_eq!(on_b.next(Duration::from_millis(500)).await, None);
        return;
    };

    // Reconnecting to B with the last id it got: exactly what was sent through A meanwhile.
    let last: i64 = pushed_id(&on_b_last);
    drop(on_b);
    let more = [
        a.send(&alice, "bob", "second", "Also through A").await,
        a.send(&alice, "bob", "third", "And this").await,
    ];
    let mut resumed = b.events(&bob, Some(last)).await;
    let pushed = resumed.take(2).await;
    let ids: Vec<i64> = pushed
        .iter()
        .map(|p| {
            serde_json::from_str::<Message>(&p.data)
                .expect("a message")
                .id
        })
        .collect();
    assert_eq!(ids, more.iter().map(|s| s.id).collect::<Vec<_>>());
    assert_eq!(
        resumed.next(Duration::from_millis(300)).await,
        None,
        "nothing twice"
    );
}

#[tokio::test]
async fn after_its_listening_connection_is_cut_an_instance_hears_again_and_misses_nothing() {
    let a = spawn_app_with(|state| state.hub = never_rescanning()).await;
    if !on_postgres(&a.database) {
        return; // SQLite instances do not listen: nothing to cut.
    }
    let b = spawn_app_beside(&a, |state| state.hub = never_rescanning()).await;
    let alice = mailbox(&a, "alice").await;
    let bob = mailbox(&a, "bob").await;
    let mut on_b = b.events(&bob, None).await;
    on_b.next(Duration::from_secs(5)).await.expect("the hint");

    // Both instances' listening connections are cut, as a database restart or a network blip
    // would, and kept from connecting again while a message is sent: its notification reaches
    // no one. (Connections already open, the pools', go on.)
    let database: String = sqlx::query_scalar("SELECT CAST(current_database() AS TEXT)")
        .fetch_one(&a.state.db)
        .await
        .expect("its name");
    let mut admin = postgres_admin().await.expect("on PostgreSQL");
    let mut allow = async |allowed: bool| {
        sqlx::query(&format!(
            "ALTER DATABASE {database} ALLOW_CONNECTIONS {allowed}"
        ))
        .execute(&mut admin)
        .await
        .expect("altered");
    };
    allow(false).await;
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(&a.state.db)
    .await
    .expect("cut");
    assert_eq!(cut, [true, true], "one listening connection per instance");
    let sent = a
        .send(&alice, "bob", "in-the-gap", "Sent while B was away")
        .await;
    assert_eq!(
        on_b.next(Duration::from_millis(1500)).await,
        None,
        "B did not hear it"
    );
    allow(true).await;

    // Connected again, B reads its rows again: the message is there.
    let pushed = on_b.take(1).await;
    let message: Message = serde_json::from_str(&pushed[0].data).expect("a message");
    assert_eq!(message.id, sent.id);
    let later = a.send(&alice, "bob", "after", "And after it").await;
    let pushed = on_b.take(1).await;
    let message: Message = serde_json::from_str(&pushed[0].data).expect("a message");
    assert_eq!(message.id, later.id, "notifications are heard again");
}

fn pushed_id(pushed: &Pushed) -> i64 {
    pushed.id.parse().expect("a numbered event")
}

/// What a client may do a minute or hold at once is counted in the database, in the transaction
/// that writes (under a lock of the mailbox's or owner's row): a burst split over two instances
/// stops at the limit exactly, as it does on one.
#[tokio::test]
async fn a_burst_split_over_two_instances_stops_at_the_limits_exactly() {
    let a = spawn_app_with(|_| {}).await;
    let b = spawn_app_beside(&a, |_| {}).await;
    let alice = mailbox(&a, "alice").await;
    let _bob = mailbox(&a, "bob").await;
    a.sent_earlier("alice", "bob", i64::from(SENDS_PER_MINUTE) - 40, 20_000)
        .await;
    let message = json!({"to": "bob", "subject": "s", "body": "b"});
    let keys: Vec<String> = (0..120).map(|i| format!("burst-{i}")).collect();
    let burst = futures::future::join_all(keys.iter().enumerate().map(|(i, key)| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.post_as(&alice.token, "/api/messages", Some(key), &message)
    }))
    .await;
    let accepted = burst.iter().filter(|r| r.status() == StatusCode::ACCEPTED);
    assert_eq!(accepted.count(), 40, "the rest of the minute's allowance");
    assert!(
        burst
            .iter()
            .all(|r| [StatusCode::ACCEPTED, StatusCode::TOO_MANY_REQUESTS].contains(&r.status()))
    );

    let owner = a.owner().await;
    let job = json!({ "kind": "wait", "params": { "seconds": 600 } });
    let submissions = futures::future::join_all((0..30).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.client
            .post(app.url("/api/jobs"))
            .bearer_auth(&owner.token)
            .json(&job)
            .send()
    }))
    .await;
    let queued = submissions
        .iter()
        .filter(|r| r.as_ref().expect("sent").status() == StatusCode::ACCEPTED)
        .count();
    assert_eq!(queued, QUEUE_PER_OWNER, "an owner's share of the queue");
}

/// Two instances of one deployment as processes on one database, and a client that sends
/// through either (a proxy's choice) and retries through the other when an answer is lost.
struct Pair {
    instances: [Process; 2],
    client: reqwest::Client,
    _folder: tempfile::TempDir,
}

impl Pair {
    async fn start() -> Self {
        let folder = tempfile::tempdir().expect("a folder");
        let database = new_database(folder.path()).await;
        let a = start_process(&database, folder.path(), "warn").await;
        let b = start_process(&database, folder.path(), "warn").await;
        Self {
            instances: [a, b],
            client: reqwest::Client::new(),
            _folder: folder,
        }
    }

    fn address(&self, n: usize) -> &str {
        &self.instances[n % 2].address
    }

    /// `kill -9` of instance A: no shutdown, no last write.
    fn kill_a(&self) {
        let pid = self.instances[0].child.id().expect("running");
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(killed.success());
    }
}

#[tokio::test]
async fn killing_an_instance_during_500_sends_with_retries_loses_none_and_stores_none_twice() {
    let pair = Pair::start().await;
    let create = async |name: &str| -> String {
        let created: MailboxCreated = pair
            .client
            .post(format!("{}/api/mailboxes", pair.address(0)))
            .json(&json!({ "name": name }))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("JSON");
        created.token
    };
    let senders: Vec<String> =
        futures::future::join_all((0..5).map(|n| create_named(&create, n))).await;
    let bob = create("bob").await;

    // 500 sends, five mailboxes sending 100 each (a mailbox's minute allows them), alternating
    // instances; each retried with its key through the other instance until it is acknowledged.
    // A is killed after the 150th acknowledgement.
    let acknowledged = Mutex::new(HashMap::<String, i64>::new());
    let killed = tokio_util::sync::CancellationToken::new();
    let send_all = |sender: usize| {
        let (pair, token, acknowledged, killed) = (&pair, &senders[sender], &acknowledged, &killed);
        async move {
            for i in 0..100 {
                let body = format!("from {sender}, number {i}");
                let key = format!("{sender}-{i}");
                let mut attempt = sender + i;
                let id = loop {
                    let sent = pair
                        .client
                        .post(format!("{}/api/messages", pair.address(attempt)))
                        .bearer_auth(token)
                        .header("idempotency-key", &key)
                        .timeout(Duration::from_secs(10))
                        .json(&json!({"to": "bob", "subject": "kill", "body": body}))
                        .send()
                        .await;
                    attempt += 1;
                    let Ok(response) = sent else { continue };
                    match response.status() {
                        StatusCode::ACCEPTED => {
                            break response.json::<Sent>().await.expect("JSON").id;
                        }
                        // The other instance's attempt holds the key: wait for it, then again.
                        StatusCode::CONFLICT => {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        other => panic!("{other} for {key}"),
                    }
                };
                let mut acknowledged = acknowledged.lock().await;
                acknowledged.insert(body, id);
                if acknowledged.len() == 150 {
                    killed.cancel();
                }
            }
        }
    };
    {
        let all = futures::future::join_all((0..5).map(send_all));
        tokio::pin!(all);
        tokio::select! {
            _ = &mut all => panic!("every send was acknowledged before the kill"),
            () = killed.cancelled() => pair.kill_a(),
        }
        all.await;
    }
    let acknowledged = acknowledged.into_inner();
    assert_eq!(acknowledged.len(), 500);

    let inbox = whole_inbox(&pair.client, pair.address(1), &bob).await;
    let stored: HashMap<&str, i64> = inbox.iter().map(|m| (m.body.as_str(), m.id)).collect();
    assert_eq!(inbox.len(), 500, "none twice");
    assert_eq!(stored.len(), 500, "no body twice");
    for (body, id) in &acknowledged {
        assert_eq!(
            stored.get(body.as_str()),
            Some(id),
            "{body}: stored, as acknowledged"
        );
    }
}

async fn create_named(create: &impl AsyncFn(&str) -> String, n: usize) -> String {
    create(&format!("sender{n}")).await
}

#[tokio::test]
async fn killing_an_instance_during_50_jobs_finishes_each_once_with_its_result() {
    let pair = Pair::start().await;
    let owner: JobOwnerCreated = pair
        .client
        .post(format!("{}/api/jobs/owners", pair.address(0)))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("a token");
    // Each owner may have 10 waiting or running: submitted as places free, through both.
    let limits: Vec<u64> = (0..50).map(|i| 2_000_000 + 100_000 * i).collect();
    let mut jobs: Vec<(String, u64)> = Vec::new();
    let mut killed = false;
    let mut attempt = 0;
    let started = Instant::now();
    for &limit in &limits {
        let id = loop {
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "submitting stalls"
            );
            attempt += 1;
            let submitted = pair
                .client
                .post(format!("{}/api/jobs", pair.address(attempt)))
                .bearer_auth(&owner.token)
                .header("idempotency-key", format!("job-{limit}"))
                .json(&json!({ "kind": "primes", "params": { "limit": limit } }))
                .send()
                .await;
            let Ok(response) = submitted else { continue };
            match response.status() {
                StatusCode::ACCEPTED => {
                    break response.json::<JobAccepted>().await.expect("JSON").id;
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => panic!("{other}"),
            }
        };
        jobs.push((id, limit));
        if jobs.len() == 20 && !killed {
            // A holds some of the first 20, running or waiting.
            pair.kill_a();
            killed = true;
        }
    }

    let job_at = async |id: &str| -> Job {
        pair.client
            .get(format!("{}/api/jobs/{id}", pair.address(1)))
            .bearer_auth(&owner.token)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("a job")
    };
    let primes = sieve(*limits.last().expect("50"));
    let mut attempts = HashMap::new();
    for (id, limit) in &jobs {
        let job = loop {
            let job = job_at(id).await;
            if job.state.is_finished() {
                break job;
            }
            assert!(started.elapsed() < Duration::from_secs(300), "{job:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(job.state, JobState::Succeeded, "{job:?}");
        let count = primes[..=usize::try_from(*limit).expect("small")]
            .iter()
            .filter(|&&prime| prime)
            .count() as u64;
        assert_eq!(job.result, Some(JobResult::Primes { count }), "{limit}");
        *attempts.entry(job.attempts).or_insert(0) += 1;
    }
    let ids: HashSet<&str> = jobs.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), 50, "one job per submission");

    // The owner's stream from its start: one `finished` event a job, never two.
    let ticket: EventTicket = pair
        .client
        .post(format!("{}/api/jobs/events/ticket", pair.address(1)))
        .bearer_auth(&owner.token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("a ticket");
    let stream = pair
        .client
        .get(format!(
            "{}/api/jobs/events?ticket={}",
            pair.address(1),
            ticket.ticket
        ))
        .header("last-event-id", "0")
        .send()
        .await
        .expect("the stream opens");
    let mut stream = Events::new(stream);
    let mut finished = HashMap::<String, usize>::new();
    while let Some(pushed) = stream.next(Duration::from_secs(2)).await {
        if pushed.event == "finished" {
            let job: Job = serde_json::from_str(&pushed.data).expect("a job");
            *finished.entry(job.id).or_default() += 1;
        }
    }
    assert_eq!(finished.len(), 50, "every job finished");
    assert!(finished.values().all(|&n| n == 1), "{finished:?}");
    assert!(
        attempts.keys().all(|&n| n == 1 || n == 2),
        "each ran once, or again after the kill: {attempts:?}"
    );
    println!("attempts: {attempts:?}");
}

/// Which numbers up to `limit` are prime, by a plain sieve, to check the server's segmented one.
fn sieve(limit: u64) -> Vec<bool> {
    let limit = usize::try_from(limit).expect("small");
    let mut prime = vec![true; limit + 1];
    prime[0] = false;
    prime[1] = false;
    for n in 2..=limit {
        if n * n > limit {
            break;
        }
        if prime[n] {
            for multiple in (n * n..=limit).step_by(n) {
                prime[multiple] = false;
            }
        }
    }
    prime
}

#[test]
fn a_database_address_of_an_unknown_kind_is_refused_at_start() {
    let folder = tempfile::tempdir().expect("a folder");
    let started = std::process::Command::new(env!("CARGO_BIN_EXE_meanwhile"))
        .current_dir(folder.path())
        .args([
            "--addr",
            "127.0.0.1:0",
            "--database",
            "mysql://db/meanwhile",
        ])
        .output()
        .expect("the server runs");
    assert!(!started.status.success());
    let said = String::from_utf8_lossy(&started.stderr);
    assert!(
        said.contains("`mysql://` is not a database Meanwhile knows"),
        "{said}"
    );
    let made: Vec<_> = std::fs::read_dir(folder.path()).expect("read").collect();
    assert!(made.is_empty(), "nothing made: {made:?}");
}
