//! Nothing grows for ever: what has served its purpose is pruned — and nothing sooner, nothing
//! a person still needs (messages, a key whose retries may still come, a stream's recent events).

use std::time::Duration;

use protocol::jobs::{JobAccepted, JobState};
use protocol::mail::Message;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::db::now_ms;
use server::retention::{Pruned, Retention, prune};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::mail::mailbox;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

impl TestApp {
    async fn age(&self, sql: &str, by_ms: i64) {
        sqlx::query(sql)
            .bind(by_ms)
            .execute(&self.state.db)
            .await
            .expect("aged");
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&self.state.db)
            .await
            .expect("counted")
    }
}

#[tokio::test]
async fn each_kind_of_row_is_pruned_once_it_has_served_its_purpose_and_no_sooner() {
    let app = spawn_app().await;
    let alice = mailbox(&app, "alice").await;
    let bob = mailbox(&app, "bob").await;
    let old = app.send(&alice, "bob", "old-key", "A week ago").await;
    let recent = app.send(&alice, "bob", "new-key", "Today").await;
    let _expired = app.ticket(&bob).await;
    let _fresh = app.ticket(&bob).await;
    let owner = app.owner().await;
    let job: JobAccepted = app
        .client
        .post(app.url("/api/jobs"))
        .bearer_auth(&owner.token)
        .header("idempotency-key", "job-key")
        .json(&json!({ "kind": "wait", "params": { "seconds": 0 } }))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("queued");
    loop {
        let state: Value = owner
            .get(&format!("/api/jobs/{}", job.id))
            .await
            .json()
            .await
            .expect("a job");
        if state["state"] == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Age what the defaults no longer keep: the first message's key (25 h) and event (8 days),
    // one ticket, and the job with its key and its events (8 days).
    app.age(
        "UPDATE idempotency_keys SET created_at_ms = created_at_ms - $1 WHERE key = 'old-key'",
        25 * HOUR_MS,
    )
    .await;
    sqlx::query("UPDATE events SET at_ms = at_ms - $1 WHERE data LIKE $2")
        .bind(8 * DAY_MS)
        .bind(format!("%\"id\":{}%", old.id))
        .execute(&app.state.db)
        .await
        .expect("aged");
    app.age(
        "UPDATE event_tickets SET expires_at_ms = $1
         WHERE ticket_hash = (SELECT ticket_hash FROM event_tickets ORDER BY ticket_hash LIMIT 1)",
        now_ms() - 1,
    )
    .await;
    app.age(
        "UPDATE job_keys SET created_at_ms = created_at_ms - $1",
        25 * HOUR_MS,
    )
    .await;
    app.age(
        "UPDATE jobs SET finished_at_ms = finished_at_ms - $1",
        8 * DAY_MS,
    )
    .await;
    app.age("UPDATE job_events SET at_ms = at_ms - $1", 8 * DAY_MS)
        .await;
    let job_events = app.count("job_events").await;
    assert_eq!(
        job_events, 2,
        "submitted and finished: the end replaced its progress"
    );

    let pruned = prune(&app.state.db, &Retention::default(), now_ms())
        .await
        .expect("pruned");
    assert_eq!(
        pruned,
        Pruned {
            idempotency_keys: 1,
            job_keys: 1,
            tickets: 1,
            mail_events: 1,
            job_events: job_events as u64,
            jobs: 1,
        }
    );
    // Nothing twice: a second pruning finds nothing more.
    let again = prune(&app.state.db, &Retention::default(), now_ms())
        .await
        .expect("pruned");
    assert_eq!(again.total(), 0, "{again:?}");

    // Messages are people's data: both are still there.
    assert_eq!(app.inbox(&bob).await.len(), 2);
    // The kept key still answers its retry with the same message.
    assert_eq!(app.send(&alice, "bob", "new-key", "Today").await, recent);
    // A stream from the start gets what is kept, gap-free: the recent message.
    let mut stream = app.events(&bob, Some(0)).await;
    let kept = stream.take(1).await;
    let message: Message = serde_json::from_str(&kept[0].data).expect("a message");
    assert_eq!(message.id, recent.id);
    assert_eq!(stream.next(Duration::from_millis(300)).await, None);
    let gone = owner.get(&format!("/api/jobs/{}", job.id)).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_eq!(job.state, JobState::Queued);
}

#[tokio::test]
async fn the_server_prunes_on_its_own_schedule() {
    let app = spawn_app_with(|state| {
        state.retention = Retention {
            every: Duration::from_millis(50),
            ..Retention::default()
        };
    })
    .await;
    let bob = mailbox(&app, "bob").await;
    let _ticket = app.ticket(&bob).await;
    assert_eq!(app.count("event_tickets").await, 1);
    app.age("UPDATE event_tickets SET expires_at_ms = $1", now_ms() - 1)
        .await;
    for _ in 0..100 {
        if app.count("event_tickets").await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the expired ticket is still there after 2 s");
}
