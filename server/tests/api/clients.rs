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
    app.sent_earlier("alice", "bob", earlier, 20_000).await;
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

/// Sends the head of a JSON POST promising `length` bytes, then the body a byte every `every`,
/// until the server answers; returns the answer and how long after the head it came.
async fn trickle(app: &TestApp, length: usize, every: Duration) -> (String, Duration) {
    let mut stream = idle_connection(app, IpAddr::V4(Ipv4Addr::LOCALHOST)).await;
    let head = format!(
        "POST /api/mailboxes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head sent");
    let sent = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        for _ in 0..length {
            if writer.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(every).await;
        }
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut answer));
    read.await.expect("answered within 10 s").expect("read");
    writing.abort();
    (
        String::from_utf8_lossy(&answer).into_owned(),
        sent.elapsed(),
    )
}

/// A body trickled at a byte a second was held until the 60 s request deadline, and held a
/// shutdown for the whole grace. Now the body has its own deadline from the request's head: a
/// 408 envelope, and the server stops without waiting for the trickler.
#[tokio::test]
async fn a_body_trickled_in_is_cut_at_its_deadline_with_the_envelope() {
    let mut app = spawn_app_with(|state| state.body_timeout = Duration::from_millis(500)).await;
    let (answer, after) = trickle(&app, 60, Duration::from_millis(100)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    assert!(answer.contains("too slowly"), "{answer}");
    assert!(after < Duration::from_secs(3), "{after:?}");

    // A whole body sent at once is not held back by it.
    let response = app
        .post_json("/api/mailboxes", &json!({"name": "quick"}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);

    let trickler = {
        let address = app.address.clone();
        tokio::spawn(async move {
            let mut stream = TcpStream::connect(address.trim_start_matches("http://"))
                .await
                .expect("connects");
            let head = "POST /api/mailboxes HTTP/1.1\r\nHost: x\r\n\
                        Content-Type: application/json\r\nContent-Length: 600\r\n\r\n";
            stream.write_all(head.as_bytes()).await.expect("head sent");
            for _ in 0..600 {
                if stream.write_all(b" ").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = Instant::now();
    app.shut_down().await.expect("stopped");
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "the shutdown waited {:?} for a trickled body",
        asked.elapsed()
    );
    trickler.abort();
}

/// What the database holds of a message's text, in bytes: the message, its changes, its events.
async fn stored_text(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT (SELECT coalesce(sum(length(body)), 0) FROM messages)
              + (SELECT coalesce(sum(length(coalesce(previous_body, ''))
                                     + length(coalesce(body, ''))), 0) FROM message_changes)
              + (SELECT coalesce(sum(length(data)), 0) FROM events)",
    )
    .fetch_one(&app.state.db)
    .await
    .expect("measured")
}

/// 500 corrections of 10 000 characters made a 270 MB database and a 10 MB first inbox page: each
/// `corrected` event stored the whole history. Now a correction is stored once and its event
/// carries it alone, so storage grows linearly; a page carries the newest few changes (the rest
/// on request); a message takes so many corrections; and they count against the minute.
#[tokio::test]
async fn corrections_grow_storage_linearly_and_are_bounded() {
    use protocol::mail::{CORRECTIONS_MAX, HISTORY_MAX, HistoryPage, Sent};
    let app = spawn_app_with(|_| {}).await;
    let alice = mailbox(&app, "alice").await;
    let bob = mailbox(&app, "bob").await;
    let sent: Sent = app.send(&alice, "bob", "first", "Draft").await;
    let revision = |n: u32| format!("{n:05}").repeat(2_000); // 10 000 characters each
    let correct = async |n: u32| {
        app.post_as(
            &alice.token,
            &format!("/api/messages/{}/corrections", sent.id),
            None,
            &json!({"body": revision(n)}),
        )
        .await
    };
    let start = stored_text(&app).await;
    for n in 1..=10 {
        assert_eq!(correct(n).await.status(), StatusCode::CREATED);
    }
    let after_ten = stored_text(&app).await;
    for n in 11..=CORRECTIONS_MAX {
        assert_eq!(correct(n).await.status(), StatusCode::CREATED);
    }
    let after_all = stored_text(&app).await;
    let first = (after_ten - start) / 10;
    let later = (after_all - after_ten) / i64::from(CORRECTIONS_MAX - 10);
    println!("stored per correction: {first} bytes over the first 10, {later} over the next");
    assert!(
        later <= first + first / 10,
        "linear: {first} then {later} bytes a correction"
    );
    assert!(
        later < 5 * 10_000,
        "{later} bytes for a 10 000-character correction"
    );

    let refused = correct(CORRECTIONS_MAX + 1).await;
    assert_error(refused, StatusCode::CONFLICT, "conflict").await;

    // The recipient's first page: the current text and the newest few changes.
    let page = app.get_as(&bob.token, "/api/inbox").await;
    let bytes = page.bytes().await.expect("a page");
    assert!(
        bytes.len() < (2 * HISTORY_MAX + 2) * 10_000,
        "{} bytes",
        bytes.len()
    );
    let inbox: protocol::mail::MessagePage = serde_json::from_slice(&bytes).expect("JSON");
    let message = &inbox.messages[0];
    assert_eq!(message.body, revision(CORRECTIONS_MAX));
    assert_eq!(message.history.len(), HISTORY_MAX);
    assert_eq!(
        (message.changes, message.corrections),
        (CORRECTIONS_MAX, CORRECTIONS_MAX)
    );

    // The whole history on request, a page at a time, each correction after the one before.
    let mut after = 0;
    let mut bodies = vec!["Draft".to_owned()];
    loop {
        let path = format!("/api/messages/{}/history?after={after}", sent.id);
        let page: HistoryPage = app
            .get_as(&bob.token, &path)
            .await
            .json()
            .await
            .expect("JSON");
        for change in page.changes {
            let protocol::mail::Change::Corrected {
                previous_body,
                body,
                ..
            } = change
            else {
                panic!("only corrections were made");
            };
            assert_eq!(&previous_body, bodies.last().expect("one before"));
            bodies.push(body);
        }
        match page.next_after {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(bodies.len() as u32, CORRECTIONS_MAX + 1);
    let stranger = mailbox(&app, "carol").await;
    let path = format!("/api/messages/{}/history", sent.id);
    let hidden = app.get_as(&stranger.token, &path).await;
    assert_error(hidden, StatusCode::NOT_FOUND, "not_found").await;
    for (bad, status, code) in [
        (
            "?limit=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "?limit=21",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        ("?limit=many", StatusCode::BAD_REQUEST, "bad_request"),
    ] {
        let response = app.get_as(&bob.token, &format!("{path}{bad}")).await;
        assert_error(response, status, code).await;
    }
    let unknown = app.get_as(&bob.token, "/api/messages/abc/history").await;
    assert_error(unknown, StatusCode::NOT_FOUND, "not_found").await;
    let anonymous = app.get(&path).await;
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // Corrections count against the sender's minute: with them, this minute is nearly used up.
    let earlier = i64::from(SENDS_PER_MINUTE) - 1 - 1 - i64::from(CORRECTIONS_MAX);
    app.sent_earlier("alice", "bob", earlier, 10_000).await;
    app.send(&alice, "bob", "last-one", "The last of the minute")
        .await;
    let over = app
        .post_as(
            &alice.token,
            "/api/messages",
            Some("one-too-many"),
            &json!({"to": "bob", "subject": "s", "body": "b"}),
        )
        .await;
    assert_error(over, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
}
