//! No client can hurt another: each test is a client doing what an attacker would — a burst, a
//! flood of names, every connection or stream it can open — and checks that it is stopped at its
//! share while a client from another address is served. Other addresses are other loopback
//! addresses (127.0.0.2), which Linux routes to the same server.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::mail::{Directory, SENDS_PER_MINUTE};
use reqwest::StatusCode;
use serde_json::json;
use server::Connections;
use server::clients::{ClientLimits, Clients};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{Events, TestApp, assert_error, spawn_app_serving, spawn_app_with};
use crate::mail::mailbox;

const ELSEWHERE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// A client whose connections come from `from`.
fn client_from(from: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from)
        .build()
        .expect("a client")
}

fn limits(credentials: u32, streams: usize) -> impl FnOnce(&mut server::AppState) {
    move |state| {
        state.clients = Arc::new(Clients::new(ClientLimits {
            credentials_per_hour: credentials,
            credentials_burst: credentials,
            streams_per_address: streams,
        }));
    }
}

fn seconds(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("whole seconds")
}

/// 550 sends and then a burst of 300 at once stored 850: the count was read before the write
/// transaction. Counted inside it, a burst stops at the limit exactly.
#[tokio::test]
async fn a_burst_of_sends_at_once_stops_at_the_limit_exactly() {
    let app = spawn_app_with(|_| {}).await;
    let alice = mailbox(&app, "alice").await;
    let _bob = mailbox(&app, "bob").await;
    let earlier = i64::from(SENDS_PER_MINUTE) - 40;
    let now = server::db::now_ms();
    for i in 0..earlier {
        sqlx::query(
            "INSERT INTO messages (sender, recipient, subject, body, sent_at_ms)
             VALUES ('alice', 'bob', 's', 'b', ?)",
        )
        .bind(now - 20_000 + i)
        .execute(&app.state.db)
        .await
        .expect("inserted");
    }
    let message = json!({"to": "bob", "subject": "s", "body": "b"});
    let keys: Vec<String> = (0..120).map(|i| format!("burst-{i}")).collect();
    let burst = futures::future::join_all(
        keys.iter()
            .map(|key| app.post_as(&alice.token, "/api/messages", Some(key), &message)),
    )
    .await;
    let accepted = burst
        .iter()
        .filter(|r| r.status() == StatusCode::ACCEPTED)
        .count();
    for response in burst {
        if response.status() != StatusCode::ACCEPTED {
            assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
        }
    }
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE sender = 'alice'")
        .fetch_one(&app.state.db)
        .await
        .expect("counted");
    assert_eq!(accepted, 40, "the rest of the minute's allowance");
    assert_eq!(stored, i64::from(SENDS_PER_MINUTE));
}

/// 1000 mailboxes in 0.7 s from one client: now an address makes so many an hour (mailboxes and
/// owners of jobs alike), and another address is not held back by it.
#[tokio::test]
async fn new_credentials_are_limited_per_address_and_another_address_is_not_held_back() {
    let app = spawn_app_with(limits(5, 64)).await;
    for name in ["a1", "a2", "a3"] {
        mailbox(&app, name).await;
    }
    app.owner().await;
    app.owner().await;
    let response = app
        .post_json("/api/mailboxes", &json!({"name": "a6"}))
        .await;
    // 5 an hour: the next one in 12 minutes.
    assert!((600..=720).contains(&seconds(&response)), "{response:?}");
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    let response = app.client.post(app.url("/api/jobs/owners")).send().await;
    let response = response.expect("sent");
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;

    let elsewhere = client_from(ELSEWHERE);
    let response = elsewhere
        .post(app.url("/api/mailboxes"))
        .json(&json!({"name": "b1"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::CREATED);
    // A refused name was not taken.
    let listed: Directory = app
        .get("/api/mailboxes?q=a")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(listed.addresses, ["a1", "a2", "a3"]);
}

/// After a flood of new names the directory a person sees still lists those who write, and
/// anyone is found by the start of their name.
#[tokio::test]
async fn after_a_flood_of_names_the_directory_still_shows_who_writes_and_finds_anyone() {
    let app = spawn_app_with(limits(10_000, 64)).await;
    let alice = mailbox(&app, "alice").await;
    mailbox(&app, "bob").await;
    app.send(&alice, "bob", "hello", "Hello").await;
    for i in 0..250 {
        let name = format!("flood-{i:03}");
        let response = app
            .post_json("/api/mailboxes", &json!({"name": name}))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let directory = async |query: &str| -> Directory {
        let response = app.get(&format!("/api/mailboxes{query}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{query}");
        response.json().await.expect("JSON")
    };
    let first = directory("").await;
    assert_eq!(first.addresses.len(), protocol::mail::DIRECTORY_MAX);
    assert_eq!(first.addresses[0], "alice", "who wrote comes first");
    assert_eq!(directory("?q=").await, first);
    assert_eq!(directory("?q=bo").await.addresses, ["bob"]);
    let tens = directory("?q=flood-01").await.addresses;
    assert_eq!(tens.len(), 10);
    assert_eq!(tens[0], "flood-010");
    assert_eq!(directory("?q=zed").await.addresses, Vec::<String>::new());
    for bad in [
        "?q=Alice",
        "?q=a%25",
        "?q=a%20b",
        &format!("?q={}", "a".repeat(33)),
    ] {
        let response = app.get(&format!("/api/mailboxes{bad}")).await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
}

/// Opens a connection from `from` and sends nothing: it holds its place until the server's
/// header clock closes it.
async fn idle_connection(app: &TestApp, from: IpAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("a socket");
    socket.bind((from, 0).into()).expect("bound");
    let server = app
        .address
        .trim_start_matches("http://")
        .parse()
        .expect("an address");
    socket.connect(server).await.expect("connects")
}

/// `GET /api/health` on `stream`; the status line of the answer.
async fn health_on(mut stream: TcpStream) -> String {
    stream
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("written");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("answered in time")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    answer.lines().next().unwrap_or_default().to_owned()
}

/// 200 idle connections from one client against `--max-connections 200` made every new client
/// 503. Now one address holds at most its share, and others still get in.
#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    let connections = Connections {
        header_timeout: Duration::from_secs(20),
        max_connections: 10,
        max_per_address: 3,
        ..Connections::default()
    };
    let app = spawn_app_serving(|_| {}, connections).await;
    let here = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(idle_connection(&app, here).await);
    }
    let refused = health_on(idle_connection(&app, here).await).await;
    assert!(refused.contains("429"), "{refused}");
    let served = health_on(idle_connection(&app, ELSEWHERE).await).await;
    assert!(served.contains("200"), "{served}");

    // A connection that closes gives its place back.
    drop(held.pop());
    let started = Instant::now();
    loop {
        let status = health_on(idle_connection(&app, here).await).await;
        if status.contains("200") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still refused: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Idle streams are never cut (a keep-alive every 15 s), and job streams needed no credential:
/// 200 of them against `--max-connections 200` shut everyone out. Now a stream needs a ticket,
/// and one address holds at most its share of streams: past it `429` with `Retry-After`, its
/// ticket kept for the retry; another address opens its own.
#[tokio::test]
async fn one_address_cannot_hold_more_streams_than_its_share() {
    let app = spawn_app_with(limits(100, 2)).await;
    let bob = mailbox(&app, "bob").await;
    let owner = app.owner().await;
    let _first = app.events(&bob, None).await;
    let second = owner.stream(None).await;
    assert_eq!(second.status(), StatusCode::OK);

    let ticket = app.ticket(&bob).await;
    let url = app.url(&format!("/api/events?ticket={}", ticket.ticket));
    let refused = app.client.get(&url).send().await.expect("sent");
    assert_eq!(seconds(&refused), 15);
    assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;

    let elsewhere = client_from(ELSEWHERE);
    let other = app.ticket(&bob).await;
    let response = elsewhere
        .get(app.url(&format!("/api/events?ticket={}", other.ticket)))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "another address has its own share"
    );

    // The refused ticket works once a stream of this address has ended.
    drop(Events::new(second));
    let started = Instant::now();
    loop {
        let response = app.client.get(&url).send().await.expect("sent");
        if response.status() == StatusCode::OK {
            break;
        }
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(started.elapsed() < Duration::from_secs(5), "never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
