//! The server panel's stream (`GET /api/server/live`): what the server is doing, a few times a
//! second. Against a server of its own (a separate process), so the figures are this test's
//! alone: the gauges are the process's.

use std::time::Duration;

use protocol::jobs::JobOwnerCreated;
use protocol::server::{LIVE_EVENT, ServerNow};
use serde_json::json;

use crate::helpers::{Events, new_database, start_process_with};

/// The panel's next sample.
async fn next(panel: &mut Events) -> ServerNow {
    loop {
        let pushed = panel
            .next(Duration::from_secs(5))
            .await
            .expect("a sample within 5 s");
        if pushed.event == LIVE_EVENT {
            return serde_json::from_str(&pushed.data).expect("a sample");
        }
    }
}

/// Samples until one satisfies `wanted` (within 10 s).
async fn until(panel: &mut Events, what: &str, wanted: impl Fn(&ServerNow) -> bool) -> ServerNow {
    let mut last = None;
    for _ in 0..40 {
        let now = next(panel).await;
        if wanted(&now) {
            return now;
        }
        last = Some(now);
    }
    panic!("never {what}: the last sample was {last:#?}");
}

fn count(counts: &[protocol::server::Count], name: &str) -> u64 {
    counts
        .iter()
        .find(|count| count.name == name)
        .map_or(0, |count| count.count)
}

#[tokio::test]
async fn the_panel_shows_waiting_requests_streams_connections_and_the_workers_jobs() {
    let folder = tempfile::tempdir().expect("a folder");
    let database = new_database(folder.path()).await;
    let server = start_process_with(
        &database,
        folder.path(),
        "warn",
        &["--name", "panel-test", "--job-workers", "1"],
    )
    .await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.address);
    let open = || async {
        let response = client
            .get(url("/api/server/live"))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .expect("text")
                .starts_with("text/event-stream")
        );
        Events::new(response)
    };
    let mut panel = open().await;

    // At rest: the panel's own stream and connection, nothing else.
    let rest = next(&mut panel).await;
    assert_eq!(rest.instance, "panel-test");
    assert!(rest.threads >= 1, "{rest:?}");
    assert_eq!(rest.workers, 1);
    assert_eq!(count(&rest.streams, "server panel"), 1, "{rest:?}");
    assert_eq!(rest.connections, 1, "{rest:?}");
    assert_eq!(rest.connections_max, 10_000);
    assert_eq!(rest.requests_in_flight(), 0, "{rest:?}");
    assert!(rest.running.is_empty() && rest.jobs_waiting == 0);

    // 60 echoes waiting 3 s: 60 requests in flight on one route, on the same few threads.
    let echoes: Vec<_> = (0..60)
        .map(|_| {
            let request = client.get(url("/api/lab/echo?delay_ms=3000")).send();
            tokio::spawn(async move { request.await.expect("answered").status() })
        })
        .collect();
    let busy = until(&mut panel, "60 echoes waiting", |now| {
        count(&now.requests, "/api/lab/echo") == 60
    })
    .await;
    assert_eq!(busy.threads, rest.threads, "waiting takes no thread");
    assert!(busy.tasks >= 60, "{busy:?}");
    assert!(busy.connections > 60, "{busy:?}");
    for echo in echoes {
        assert_eq!(echo.await.expect("joined"), 200);
    }
    until(&mut panel, "the echoes gone", |now| {
        count(&now.requests, "/api/lab/echo") == 0
    })
    .await;

    // Jobs: one worker runs one, the others wait for it.
    let owner: JobOwnerCreated = client
        .post(url("/api/jobs/owners"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("an owner");
    for _ in 0..3 {
        let response = client
            .post(url("/api/jobs"))
            .bearer_auth(&owner.token)
            .json(&json!({ "kind": "wait", "params": { "seconds": 5 } }))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 202);
    }
    let working = until(&mut panel, "a job running and two waiting", |now| {
        now.running.len() == 1 && now.jobs_waiting == 2
    })
    .await;
    assert_eq!(working.running[0].kind, "wait");
    assert!((0.0..=1.0).contains(&working.running[0].progress));

    // A second panel sees the first one go when it is closed.
    let mut second = open().await;
    until(&mut second, "two panels", |now| {
        count(&now.streams, "server panel") == 2
    })
    .await;
    drop(panel);
    until(&mut second, "the first panel closed", |now| {
        count(&now.streams, "server panel") == 1
    })
    .await;
}

/// The panel's stream is an event stream like any other: past the address's streams, the 429
/// envelope with `Retry-After`; any method but GET, the 405 envelope.
#[tokio::test]
async fn a_panel_past_the_addresss_streams_is_429_and_another_method_405() {
    use std::sync::Arc;

    use server::clients::{ClientLimits, Clients};

    let app = crate::helpers::spawn_app_with(|state| {
        state.clients = Arc::new(Clients::new(ClientLimits {
            streams_per_address: 1,
            ..ClientLimits::default()
        }));
    })
    .await;
    let first = app.get("/api/server/live").await;
    assert_eq!(first.status(), 200);
    let second = app.get("/api/server/live").await;
    assert!(second.headers().contains_key("retry-after"));
    crate::helpers::assert_error(
        second,
        reqwest::StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
    )
    .await;
    drop(first);
    let posted = app.post_json("/api/server/live", &json!({})).await;
    crate::helpers::assert_error(
        posted,
        reqwest::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}
