//! The Mail room over HTTP: mailboxes and their tokens, sending exactly once whatever the
//! retries, receipts and corrections, and the event stream that replays what a client missed.

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use protocol::mail::{
    EventTicket, MailboxCreated, Message, MessagePage, SENDS_PER_MINUTE, STREAMS_PER_MAILBOX, Sent,
};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{
    Events, TestApp, assert_error, new_database, spawn_app, spawn_app_beside, spawn_app_with,
    start_process,
};
use server::streams::Hub;

/// What opens a mailbox.
pub(crate) struct Mailbox {
    pub(crate) token: String,
}

pub(crate) async fn mailbox(app: &TestApp, name: &str) -> Mailbox {
    let response = app
        .post_json("/api/mailboxes", &json!({ "name": name }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: MailboxCreated = response.json().await.expect("JSON");
    assert_eq!(created.address, name);
    Mailbox {
        token: created.token,
    }
}

/// Every message in the inbox `token` opens, through the server at `address`, page by page.
pub(crate) async fn whole_inbox(
    client: &reqwest::Client,
    address: &str,
    token: &str,
) -> Vec<Message> {
    let mut inbox = Vec::new();
    let mut after = 0;
    loop {
        let page: MessagePage = client
            .get(format!("{address}/api/inbox?after={after}&limit=200"))
            .bearer_auth(token)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("JSON");
        inbox.extend(page.messages);
        match page.next_after {
            Some(next) => after = next,
            None => return inbox,
        }
    }
}

impl TestApp {
    /// `POST path` with `body`, as the owner of `token`, with `key` as the Idempotency-Key.
    pub(crate) async fn post_as(
        &self,
        token: &str,
        path: &str,
        key: Option<&str>,
        body: &Value,
    ) -> Response {
        let mut request = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send().await.expect("request sent")
    }

    pub(crate) async fn get_as(&self, token: &str, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    /// `count` messages from `from` to `to` written straight into the database, the first
    /// `ago_ms` ago and one a millisecond after another: a minute already partly used.
    pub(crate) async fn sent_earlier(&self, from: &str, to: &str, count: i64, ago_ms: i64) {
        let now = server::db::now_ms();
        for i in 0..count {
            sqlx::query(
                "INSERT INTO messages (sender, recipient, subject, body, sent_at_ms)
                 VALUES ($1, $2, 's', 'b', $3)",
            )
            .bind(from)
            .bind(to)
            .bind(now - ago_ms + i)
            .execute(&self.state.db)
            .await
            .expect("inserted");
        }
    }

    pub(crate) async fn send(&self, from: &Mailbox, to: &str, key: &str, body: &str) -> Sent {
        let response = self
            .post_as(
                &from.token,
                "/api/messages",
                Some(key),
                &json!({"to": to, "subject": "Hello", "body": body}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{key}");
        response.json().await.expect("JSON")
    }

    pub(crate) async fn inbox(&self, owner: &Mailbox) -> Vec<Message> {
        let response = self.get_as(&owner.token, "/api/inbox?limit=200").await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<MessagePage>().await.expect("JSON").messages
    }

    pub(crate) async fn ticket(&self, owner: &Mailbox) -> EventTicket {
        let response = self
            .post_as(&owner.token, "/api/events/ticket", None, &json!({}))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("JSON")
    }

    /// Opens `owner`'s event stream with a fresh ticket, resuming after `last` if given.
    pub(crate) async fn events(&self, owner: &Mailbox, last: Option<i64>) -> Events {
        let ticket = self.ticket(owner).await;
        let mut request = self
            .client
            .get(self.url(&format!("/api/events?ticket={}", ticket.ticket)));
        if let Some(last) = last {
            request = request.header("last-event-id", last.to_string());
        }
        let response = request.send().await.expect("stream opens");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Events::new(response)
    }
}

#[tokio::test]
async fn a_mailbox_is_created_once_with_a_long_random_token_kept_only_as_its_hash() {
    let app = spawn_app().await;
    let alice = mailbox(&app, "alice").await;
    let other = mailbox(&app, "al-ice_2").await;
    // 32 random bytes, URL-safe base64: 43 characters, 256 bits.
    assert_eq!(alice.token.len(), 43);
    assert_ne!(alice.token, other.token);

    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT token_hash FROM mailboxes WHERE name = 'alice'")
            .fetch_one(&app.state.db)
            .await
            .expect("stored");
    assert_eq!(stored, Sha256::digest(alice.token.as_bytes()).to_vec());

    let taken = app
        .post_json("/api/mailboxes", &json!({"name": "alice"}))
        .await;
    let message = assert_error(taken, StatusCode::CONFLICT, "conflict").await;
    assert!(message.contains("alice"), "{message}");

    for name in ["", "Alice", "bob smith", "ümlaut", "a.b", &"x".repeat(33)] {
        let refused = app
            .post_json("/api/mailboxes", &json!({ "name": name }))
            .await;
        assert_error(
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    let no_name = app.post_json("/api/mailboxes", &json!({})).await;
    assert_error(
        no_name,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let directory: Value = app.get("/api/mailboxes").await.json().await.expect("JSON");
    let addresses = directory["addresses"].as_array().expect("a list");
    assert!(addresses.contains(&json!("alice")) && addresses.contains(&json!("al-ice_2")));
}

#[tokio::test]
async fn every_owner_call_needs_the_right_token_and_nobody_reads_another_mailbox() {
    let app = spawn_app().await;
    let alice = mailbox(&app, "alice").await;
    let bob = mailbox(&app, "bob").await;
    let carol = mailbox(&app, "carol").await;
    let sent = app.send(&bob, "carol", "k1", "for carol only").await;

    let calls = [
        ("GET", "/api/inbox".to_owned()),
        ("GET", "/api/outbox".to_owned()),
        ("POST", "/api/messages".to_owned()),
        ("POST", "/api/events/ticket".to_owned()),
        ("POST", format!("/api/messages/{}/read", sent.id)),
    ];
    for (method, path) in &calls {
        for authorization in [
            None,
            Some("Bearer wrong"),
            Some("Basic abc"),
            Some("Bearer "),
        ] {
            let mut request = app
                .client
                .request(method.parse().expect("a method"), app.url(path))
                .header("idempotency-key", "k")
                .json(&json!({"to": "bob", "subject": "s", "body": "b"}));
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            let response = request.send().await.expect("sent");
            assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
        }
    }

    // Alice sees nothing of Bob and Carol's message, and cannot act on it.
    assert!(app.inbox(&alice).await.is_empty());
    let outbox: MessagePage = app
        .get_as(&alice.token, "/api/outbox")
        .await
        .json()
        .await
        .expect("JSON");
    assert!(outbox.messages.is_empty());
    for path in [
        format!("/api/messages/{}/read", sent.id),
        format!("/api/messages/{}/correction-requests", sent.id),
        format!("/api/messages/{}/corrections", sent.id),
    ] {
        let response = app
            .post_as(
                &alice.token,
                &path,
                None,
                &json!({"note": "n", "body": "b"}),
            )
            .await;
        // `note` or `body` is unknown to one of them: either way, never a success.
        assert!(
            [StatusCode::NOT_FOUND, StatusCode::UNPROCESSABLE_ENTITY].contains(&response.status()),
            "{path}: {}",
            response.status()
        );
    }
    let read = app
        .post_as(
            &alice.token,
            &format!("/api/messages/{}/read", sent.id),
            None,
            &json!({}),
        )
        .await;
    assert_error(read, StatusCode::NOT_FOUND, "not_found").await;
    // The sender cannot mark its own message read either: only the recipient reads.
    let read = app
        .post_as(
            &bob.token,
            &format!("/api/messages/{}/read", sent.id),
            None,
            &json!({}),
        )
        .await;
    assert_error(read, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.inbox(&carol).await.len(), 1);
}

#[tokio::test]
async fn sending_again_with_the_same_key_answers_the_same_and_sends_nothing_more() {
    let app = spawn_app().await;
    let alice = mailbox(&app, "alice").await;
    let bob = mailbox(&app, "bob").await;

    let send = async |key: &str| {
        let body = json!({"to": "bob", "subject": "Hello", "body": "Hi Bob"});
        let response = app
            .post_as(&alice.token, "/api/messages", Some(key), &body)
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let replayed = response.headers().get("idempotent-replayed").cloned();
        (response.json::<Sent>().await.expect("JSON"), replayed)
    };
    let (first, replayed) = send("key-1").await;
    assert_eq!(first.status, protocol::mail::MessageStatus::Delivered);
    assert_eq!(replayed, None, "the first answer is no replay");
    let (again, replayed) = send("key-1").await;
    assert_eq!(again, first);
    assert_eq!(
        replayed.as_ref().and_then(|v| v.to_str().ok()),
        Some("true"),
        "the answer says it is the first one's"
    );
    assert_eq!(app.inbox(&bob).await.len(), 1);

    // Another key is another message, even with the same text.
    let second = app.send(&alice, "bob", "key-2", "Hi Bob").await;
    assert_ne!(second.id, first.id);
    assert_eq!(app.inbox(&bob).await.len(), 2);

    // The same key with another body is refused, and sends nothing.
    let reused = app
        .post_as(
            &alice.token,
            "/api/messages",
            Some("key-1"),
            &json!({"to": "bob", "subject": "Hello", "body": "Something else"}),
        )
        .await;
    assert_error(
        reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(app.inbox(&bob).await.len(), 2);

    // Keys belong to their sender: Bob may use "key-1" too.
    let _ = mailbox(&app, "carol").await;
    let bobs = app.send(&bob, "carol", "key-1", "Hi Carol").await;
    assert_ne!(bobs.id, first.id);
}

#[tokio::test]
async fn a_key_still_in_progress_is_409_until_its_lease_runs_out_then_a_retry_sends_once() {
    let app = spawn_app().await;
    let alice = mailbox(&app, "alice").await;
    let bob = mailbox(&app, "bob").await;
    let body = json!({"to": "bob", "subject": "Hello", "body": "Hi"});
    // What the server keeps of a request: the SHA-256 of its body, as the protocol writes it.
    let new: protocol::mail::NewMessage = serde_json::from_value(body.clone()).expect("a message");
    let hash = Sha256::digest(serde_json::to_vec(&new).expect("JSON")).to_vec();
    // A first request claimed the key and is still working (or died working).
    let claim = |lease_until_ms: i64| {
        sqlx::query(
            "INSERT INTO idempotency_keys
               (sender, key, request_hash, state, claim, lease_until_ms, created_at_ms)
             VALUES ('alice', 'busy', $1, 'in_progress', 1, $2, 0)
             ON CONFLICT (sender, key) DO UPDATE SET lease_until_ms = excluded.lease_until_ms",
        )
        .bind(hash.clone())
        .bind(lease_until_ms)
        .execute(&app.state.db)
    };
    claim(i64::MAX).await.expect("claimed");

    let busy = app
        .post_as(&alice.token, "/api/messages", Some("busy"), &body)
        .await;
    assert_error(busy, StatusCode::CONFLICT, "request_in_progress").await;
    assert!(app.inbox(&bob).await.is_empty());

    // The claimer died: once its lease is over, the retry sends, once.
    claim(0).await.expect("lease over");
    let sent = app.send(&alice, "bob", "busy", "Hi").await;
    let again = app.send(&alice, "bob", "busy", "Hi").await;
    assert_eq!(sent, again);
    assert_eq!(app.inbox(&bob).await.len(), 1);
}

#[tokio::test]
async fn concurrent_duplicates_send_one_message_and_every_answer_is_it_or_409() {
    // Two servers on one database, as two processes of one deployment: each has its own writer,
    // so the attempts really overlap (one server's single writer would take them in turn).
    let app = spawn_app().await;
    let beside = spawn_app_beside(&app, |_| {}).await;
    let alice = mailbox(&app, "alice").await;
    let bob = mailbox(&app, "bob").await;
    let body = json!({"to": "bob", "subject": "Hello", "body": "Once"});
    let attempts = (0..20).map(|i| {
        let server = if i % 2 == 0 { &app } else { &beside };
        server.post_as(&alice.token, "/api/messages", Some("same"), &body)
    });
    let answers = futures::future::join_all(attempts).await;
    let mut ids = HashSet::new();
    for answer in answers {
        match answer.status() {
            StatusCode::ACCEPTED => {
                ids.insert(answer.json::<Sent>().await.expect("JSON").id);
            }
            StatusCode::CONFLICT => {
                assert_error(answer, StatusCode::CONFLICT, "request_in_progress").await;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(app.inbox(&bob).await.len(), 1);
}

#[tokio::test]
async fn a_bad_send_is_refused_with_the_right_status_and_sends_nothing() {
    let app = spawn_app().await;
    let alice = mailbox(&app, "alice").await;
    let bob = mailbox(&app, "bob").await;
    let ok = json!({"to": "bob", "subject": "s", "body": "b"});

    let no_key = app.post_as(&alice.token, "/api/messages", None, &ok).await;
    let message = assert_error(no_key, StatusCode::BAD_REQUEST, "bad_request").await;
    assert!(message.contains("Idempotency-Key"), "{message}");
    for key in ["", "has space", "é", &"k".repeat(65)] {
        let response = app
            .client
            .post(app.url("/api/messages"))
            .bearer_auth(&alice.token)
            .header("idempotency-key", key.as_bytes())
            .json(&ok)
            .send()
            .await
            .expect("sent");
        assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    }

    let nobody = app
        .post_as(
            &alice.token,
            "/api/messages",
            Some("n1"),
            &json!({"to": "nobody", "subject": "s", "body": "b"}),
        )
        .await;
    assert_error(nobody, StatusCode::NOT_FOUND, "not_found").await;

    for (i, bad) in [
        json!({"to": "Bob", "subject": "s", "body": "b"}),
        json!({"to": "bob", "subject": "", "body": "b"}),
        json!({"to": "bob", "subject": "s".repeat(201), "body": "b"}),
        json!({"to": "bob", "subject": "s", "body": ""}),
        json!({"to": "bob", "subject": "s", "body": "b".repeat(10_001)}),
        json!({"to": "bob", "subject": "s"}),
        json!({"to": "bob", "subject": "s", "body": "b", "cc": "carol"}),
    ]
    .into_iter()
    .enumerate()
    {
        let response = app
            .post_as(
                &alice.token,
                "/api/messages",
                Some(&format!("bad{i}")),
                &bad,
            )
            .await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    let not_json = app
        .client
        .post(app.url("/api/messages"))
        .bearer_auth(&alice.token)
        .header("idempotency-key", "nj")
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .expect("sent");
    assert_error(not_json, StatusCode::BAD_REQUEST, "bad_request").await;
    assert!(app.inbox(&bob).await.is_empty());

    // The key of a refused send is free: with the recipient fixed it sends.
    let _ = mailbox(&app, "nobody").await;
    let retried = app
        .post_as(
            &alice.token,
            "/api/messages",
            Some("n1"),
            &json!({"to": "nobody", "subject": "s", "body": "b"}),
        )
        .await;
    assert_eq!(retried.status(), StatusCode::ACCEPTED);

    // Pages: a bad limit or cursor is refused.
    for (path, status, code) in [
        ("/api/inbox?limit=0", 422, "validation_failed"),
        ("/api/inbox?limit=201", 422, "validation_failed"),
        ("/api/outbox?after=abc", 400, "bad_request"),
        ("/api/inbox?page=2", 400, "bad_request"),
    ] {
        let response = app.get_as(&alice.token, path).await;
        assert_error(
            response,
            StatusCode::from_u16(status).expect("a status"),
            code,
        )
        .await;
    }
    let response = app
        .post_as(&bob.token, "/api/messages/abc/read", None, &json!({}))
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn inbox_and_outbox_come_in_pages_without_gaps_or_repeats() {
    let app = spawn_app().await;
    let alice = mailbox(&app, "alice").await;
    let bob = mailbox(&app, "bob").await;
    let mut sent = Vec::new();
    for i in 0..7 {
        sent.push(
            app.send(&alice, "bob", &format!("k{i}"), &format!("message {i}"))
                .await
                .id,
        );
    }
    for (owner, path) in [(&bob, "/api/inbox"), (&alice, "/api/outbox")] {
        let mut seen = Vec::new();
        let mut after = 0;
        loop {
            let page: MessagePage = app
                .get_as(&owner.token, &format!("{path}?after={after}&limit=3"))
                .await
                .json()
                .await
                .expect("JSON");
            seen.extend(page.messages.iter().map(|m| m.id));
            match page.next_after {
                Some(next) => after = next,
                None => break,
            }
        }
        assert_eq!(seen, sent, "{path}");
    }
}

#[tokio::test]
async fn reading_sends_one_receipt_and_corrections_reach_each_side_with_the_history_kept() {
    let app = spawn_app().await;
    let alice = mailbox(&app, "alice").await;
    let bob = mailbox(&app, "bob").await;
    let mut alices = app.events(&alice, None).await;
    let mut bobs = app.events(&bob, None).await;
    let hint = bobs.next(Duration::from_secs(5)).await.expect("the hint");
    assert_eq!(hint.retry, "2000");

    let sent = app.send(&alice, "bob", "k", "The meeting is at 3.").await;
    let arrived = bobs.take(1).await;
    assert_eq!(arrived[0].event, "message");
    let message: Message = serde_json::from_str(&arrived[0].data).expect("a message");
    assert_eq!((message.id, message.from.as_str()), (sent.id, "alice"));

    let read_path = format!("/api/messages/{}/read", sent.id);
    let read: Message = app
        .post_as(&bob.token, &read_path, None, &json!({}))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(read.status, protocol::mail::MessageStatus::Read);
    let receipt = alices.take(1).await;
    assert_eq!(receipt[0].event, "receipt");
    let data: Value = serde_json::from_str(&receipt[0].data).expect("JSON");
    assert_eq!(
        (data["id"].as_i64(), data["by"].as_str()),
        (Some(sent.id), Some("bob"))
    );
    // Reading again changes nothing and sends no second receipt.
    let again = app.post_as(&bob.token, &read_path, None, &json!({})).await;
    assert_eq!(again.status(), StatusCode::OK);

    let asked = app
        .post_as(
            &bob.token,
            &format!("/api/messages/{}/correction-requests", sent.id),
            None,
            &json!({"note": "Which day?"}),
        )
        .await;
    assert_eq!(asked.status(), StatusCode::CREATED);
    let told = alices.take(1).await;
    assert_eq!(
        told[0].event, "correction_requested",
        "no second receipt first"
    );
    assert!(told[0].data.contains("Which day?"));
    let outbox: MessagePage = app
        .get_as(&alice.token, "/api/outbox")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        outbox.messages[0].correction_requested.as_deref(),
        Some("Which day?")
    );

    // Only the sender corrects, only the recipient asks.
    let wrong = app
        .post_as(
            &bob.token,
            &format!("/api/messages/{}/corrections", sent.id),
            None,
            &json!({"body": "x"}),
        )
        .await;
    assert_error(wrong, StatusCode::NOT_FOUND, "not_found").await;
    let wrong = app
        .post_as(
            &alice.token,
            &format!("/api/messages/{}/correction-requests", sent.id),
            None,
            &json!({"note": "x"}),
        )
        .await;
    assert_error(wrong, StatusCode::NOT_FOUND, "not_found").await;
    let empty = app
        .post_as(
            &alice.token,
            &format!("/api/messages/{}/corrections", sent.id),
            None,
            &json!({"body": ""}),
        )
        .await;
    assert_error(empty, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    let corrected = app
        .post_as(
            &alice.token,
            &format!("/api/messages/{}/corrections", sent.id),
            None,
            &json!({"body": "The meeting is at 3 on Friday."}),
        )
        .await;
    assert_eq!(corrected.status(), StatusCode::CREATED);
    let pushed = bobs.take(1).await;
    assert_eq!(pushed[0].event, "corrected");
    let now: Message = serde_json::from_str(&pushed[0].data).expect("a message");
    assert_eq!(now.body, "The meeting is at 3 on Friday.");
    assert_eq!(now.correction_requested, None);
    assert_eq!((now.changes, now.corrections), (2, 1));
    assert_eq!(
        now.history.len(),
        1,
        "the event carries this correction only"
    );
    let inbox = app.inbox(&bob).await;
    assert_eq!(inbox[0].body, now.body);
    assert_eq!(inbox[0].history.len(), 2, "a page carries the newest few");
    assert_eq!(inbox[0].history[1], now.history[0]);
    let history = serde_json::to_value(&inbox[0].history).expect("JSON");
    assert_eq!(history[0]["kind"], "correction_requested");
    assert_eq!(history[1]["kind"], "corrected");
    assert_eq!(history[1]["previous_body"], "The meeting is at 3.");
    // Nothing more for either.
    assert_eq!(alices.next(Duration::from_millis(300)).await, None);
    assert_eq!(bobs.next(Duration::from_millis(300)).await, None);
}

#[tokio::test]
async fn a_reconnect_with_last_event_id_gets_exactly_what_it_missed() {
    let app = spawn_app().await;
    let alice = mailbox(&app, "alice").await;
    let bob = mailbox(&app, "bob").await;
    let mut stream = app.events(&bob, None).await;
    app.send(&alice, "bob", "k0", "before").await;
    let seen = stream.take(1).await;
    let last: i64 = seen[0].id.parse().expect("a number");
    drop(stream);

    let mut missed = Vec::new();
    for i in 1..=5 {
        missed.push(
            app.send(&alice, "bob", &format!("k{i}"), &format!("missed {i}"))
                .await
                .id,
        );
    }
    let mut resumed = app.events(&bob, Some(last)).await;
    let replayed = resumed.take(5).await;
    let ids: Vec<i64> = replayed
        .iter()
        .map(|e| e.id.parse().expect("a number"))
        .collect();
    assert_eq!(ids, (last + 1..=last + 5).collect::<Vec<_>>());
    let messages: Vec<i64> = replayed
        .iter()
        .map(|e| {
            serde_json::from_str::<Message>(&e.data)
                .expect("a message")
                .id
        })
        .collect();
    assert_eq!(messages, missed);
    assert_eq!(
        resumed.next(Duration::from_millis(300)).await,
        None,
        "none twice"
    );

    // A new EventSource says where it is in the query instead; a bad header is refused.
    let ticket = app.ticket(&bob).await;
    assert_eq!(ticket.last_event_id, last + 5);
    let response = app
        .get(&format!(
            "/api/events?ticket={}&last_event_id={}",
            ticket.ticket,
            last + 3
        ))
        .await;
    let mut from_query = Events::new(response);
    let two = from_query.take(2).await;
    assert_eq!(two[0].id, (last + 4).to_string());
    let ticket = app.ticket(&bob).await;
    let bad = app
        .client
        .get(app.url(&format!("/api/events?ticket={}", ticket.ticket)))
        .header("last-event-id", "yesterday")
        .send()
        .await
        .expect("sent");
    assert_error(bad, StatusCode::BAD_REQUEST, "bad_request").await;
}

#[tokio::test]
async fn a_ticket_opens_one_stream_once_within_its_minute_and_a_mailbox_holds_a_few() {
    let app = spawn_app().await;
    let bob = mailbox(&app, "bob").await;
    let ticket = app.ticket(&bob).await;
    let first = app
        .get(&format!("/api/events?ticket={}", ticket.ticket))
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let used = app
        .get(&format!("/api/events?ticket={}", ticket.ticket))
        .await;
    assert_error(used, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let made_up = app.get("/api/events?ticket=made-up").await;
    assert_error(made_up, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let none = app.get("/api/events").await;
    assert_error(none, StatusCode::BAD_REQUEST, "bad_request").await;

    let expired = app.ticket(&bob).await;
    sqlx::query("UPDATE event_tickets SET expires_at_ms = 1")
        .execute(&app.state.db)
        .await
        .expect("expired");
    let late = app
        .get(&format!("/api/events?ticket={}", expired.ticket))
        .await;
    assert_error(late, StatusCode::UNAUTHORIZED, "unauthorized").await;

    let mut open = vec![first];
    while open.len() < STREAMS_PER_MAILBOX {
        let ticket = app.ticket(&bob).await;
        let response = app
            .get(&format!("/api/events?ticket={}", ticket.ticket))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        open.push(response);
    }
    let ticket = app.ticket(&bob).await;
    let one_too_many = app
        .get(&format!("/api/events?ticket={}", ticket.ticket))
        .await;
    assert!(one_too_many.headers().contains_key("retry-after"));
    assert_error(
        one_too_many,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
    )
    .await;

    // Closing one frees its place (the server notices when the connection ends).
    drop(open.pop());
    let mut reopened = None;
    for _ in 0..50 {
        let ticket = app.ticket(&bob).await;
        let response = app
            .get(&format!("/api/events?ticket={}", ticket.ticket))
            .await;
        if response.status() == StatusCode::OK {
            reopened = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reopened.is_some(), "a closed stream's place is given back");
}

#[tokio::test]
async fn past_the_sends_a_minute_a_mailbox_is_told_when_to_come_back() {
    let app = spawn_app().await;
    let alice = mailbox(&app, "alice").await;
    let _bob = mailbox(&app, "bob").await;
    // A minute's worth of sends, written directly, the oldest 30 s ago.
    app.sent_earlier("alice", "bob", i64::from(SENDS_PER_MINUTE), 30_000)
        .await;
    let response = app
        .post_as(
            &alice.token,
            "/api/messages",
            Some("one-more"),
            &json!({"to": "bob", "subject": "s", "body": "b"}),
        )
        .await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((29..=31).contains(&retry_after), "{retry_after}");
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    // The key was not used up: it can be sent once the window has room.
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM idempotency_keys")
        .fetch_one(&app.state.db)
        .await
        .expect("counted");
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_thousand_sends_through_a_client_that_loses_30_percent_of_answers_arrive_once_each() {
    let app = spawn_app().await;
    // Four senders, so no one meets the per-minute limit.
    let mut senders = Vec::new();
    for name in ["s0", "s1", "s2", "s3"] {
        senders.push(mailbox(&app, name).await);
    }
    let bob = mailbox(&app, "bob").await;
    let lost = std::sync::atomic::AtomicUsize::new(0);
    let sends = (0..1000).map(|i| {
        let sender = &senders[i % senders.len()];
        let lost = &lost;
        let app = &app;
        async move {
            let key = format!("m{i}");
            let body = json!({"to": "bob", "subject": "load", "body": format!("message {i}")});
            loop {
                let response = app
                    .post_as(&sender.token, "/api/messages", Some(&key), &body)
                    .await;
                let status = response.status();
                // The server processed it; the answer is lost on the way back 30% of the time.
                if fastrand::f64() < 0.3 {
                    lost.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    continue;
                }
                if status == StatusCode::CONFLICT {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                assert_eq!(status, StatusCode::ACCEPTED);
                return response.json::<Sent>().await.expect("JSON").id;
            }
        }
    });
    let ids: Vec<i64> = futures::stream::iter(sends)
        .buffer_unordered(16)
        .collect()
        .await;
    let distinct: HashSet<i64> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), 1000);
    let delivered: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE recipient = 'bob'")
            .fetch_one(&app.state.db)
            .await
            .expect("counted");
    assert_eq!(delivered, 1000);
    let bodies: i64 =
        sqlx::query_scalar("SELECT COUNT(DISTINCT body) FROM messages WHERE recipient = 'bob'")
            .fetch_one(&app.state.db)
            .await
            .expect("counted");
    assert_eq!(bodies, 1000, "none twice");
    let retried = lost.load(std::sync::atomic::Ordering::Relaxed);
    println!("1000 messages, {retried} answers lost and retried");
    assert!(retried > 200, "the loss happened: {retried}");
    assert_eq!(app.inbox(&bob).await.len(), 200, "the inbox's largest page");
}

#[tokio::test]
async fn open_streams_end_cleanly_when_the_server_shuts_down() {
    let mut app = spawn_app().await;
    let bob = mailbox(&app, "bob").await;
    let mut first = app.events(&bob, None).await;
    let mut second = app.events(&bob, None).await;
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(4), app.shut_down())
        .await
        .expect("the server stops without waiting for its streams")
        .expect("cleanly");
    assert!(started.elapsed() < Duration::from_secs(4));
    for stream in [&mut first, &mut second] {
        // The hint, then the end of the stream.
        while stream.next(Duration::from_secs(2)).await.is_some() {}
        let rest = stream.response.chunk().await;
        assert!(matches!(rest, Ok(None) | Err(_)), "{rest:?}");
    }
}

#[tokio::test]
async fn every_acknowledged_message_survives_a_sigkill_right_after_its_202_exactly_once() {
    let folder = tempfile::tempdir().expect("a folder");
    let database = new_database(folder.path()).await;
    let client = reqwest::Client::new();
    let mut first = start_process(&database, folder.path(), "warn").await;
    let create = async |address: &str, name: &str| -> String {
        let created: MailboxCreated = client
            .post(format!("{address}/api/mailboxes"))
            .json(&json!({ "name": name }))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("JSON");
        created.token
    };
    let alice = create(&first.address, "alice").await;
    let bob = create(&first.address, "bob").await;

    // Eight senders send as fast as they can; the server is killed the moment 100 answers are in.
    let acknowledged = std::sync::Mutex::new(Vec::<(i64, String)>::new());
    let stop = tokio_util::sync::CancellationToken::new();
    let sender = |n: usize| {
        let (client, address, alice, acknowledged, stop) =
            (&client, &first.address, &alice, &acknowledged, &stop);
        async move {
            for i in 0.. {
                let body = format!("sender {n} message {i}");
                let sent = client
                    .post(format!("{address}/api/messages"))
                    .bearer_auth(alice)
                    .header("idempotency-key", format!("{n}-{i}"))
                    .json(&json!({"to": "bob", "subject": "durable", "body": body}))
                    .send()
                    .await;
                let Ok(response) = sent else { return };
                if response.status() != StatusCode::ACCEPTED {
                    return;
                }
                let Ok(answer) = response.json::<Sent>().await else {
                    return;
                };
                let mut acknowledged = acknowledged.lock().expect("not poisoned");
                acknowledged.push((answer.id, body));
                if acknowledged.len() >= 100 {
                    stop.cancel();
                }
                drop(acknowledged);
                if stop.is_cancelled() {
                    return;
                }
            }
        }
    };
    let senders = futures::future::join_all((0..8).map(sender));
    tokio::select! {
        _ = senders => panic!("the senders stopped before the kill"),
        () = stop.cancelled() => {}
    }
    first.child.kill().await.expect("SIGKILL");
    let acknowledged = acknowledged.into_inner().expect("not poisoned");
    assert!(acknowledged.len() >= 100);

    let second = start_process(&database, folder.path(), "warn").await;
    let inbox = whole_inbox(&client, &second.address, &bob).await;
    for (id, body) in &acknowledged {
        let copies: Vec<_> = inbox.iter().filter(|m| &m.body == body).collect();
        assert_eq!(copies.len(), 1, "{body}: once");
        assert_eq!(copies[0].id, *id);
    }
    let distinct: HashSet<&str> = inbox.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(distinct.len(), inbox.len(), "none twice");
    println!(
        "{} acknowledged before the SIGKILL, {} in the inbox after the restart",
        acknowledged.len(),
        inbox.len()
    );
}

#[tokio::test]
async fn a_stream_refused_for_too_many_keeps_its_ticket_for_the_retry() {
    let app = spawn_app().await;
    let bob = mailbox(&app, "bob").await;
    let mut open = Vec::new();
    for _ in 0..STREAMS_PER_MAILBOX {
        open.push(app.events(&bob, None).await);
    }
    let ticket = app.ticket(&bob).await;
    let url = format!("/api/events?ticket={}", ticket.ticket);
    let refused = app.get(&url).await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!(
        (1..=15).contains(&retry_after),
        "within a keep-alive a gone client's place is free: {retry_after}"
    );
    assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;

    drop(open.pop());
    let mut status = StatusCode::TOO_MANY_REQUESTS;
    for _ in 0..50 {
        status = app.get(&url).await.status();
        if status != StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::OK, "the same ticket opens the stream");
    let spent = app.get(&url).await;
    assert_error(spent, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn a_message_written_by_another_server_reaches_an_idle_stream_by_its_re_read() {
    // The stream's server never hears of the other's write: only the re-read finds it.
    let app = spawn_app_with(|state| {
        state.hub = std::sync::Arc::new(Hub::rescanning_every(Duration::from_millis(200)));
    })
    .await;
    let other = spawn_app_beside(&app, |_| {}).await;
    let alice = mailbox(&app, "alice").await;
    let bob = mailbox(&app, "bob").await;
    let mut stream = app.events(&bob, None).await;
    let sent = other
        .send(&alice, "bob", "elsewhere", "Sent through the other server")
        .await;
    let pushed = stream.take(1).await;
    let message: Message = serde_json::from_str(&pushed[0].data).expect("a message");
    assert_eq!(message.id, sent.id);
    assert_eq!(stream.next(Duration::from_millis(500)).await, None, "once");
}

#[tokio::test]
async fn a_stored_answer_that_cannot_be_read_is_a_500_the_outbox_does_not_retry() {
    let app = spawn_app().await;
    let alice = mailbox(&app, "alice").await;
    let _bob = mailbox(&app, "bob").await;
    app.send(&alice, "bob", "kept", "Hi").await;
    sqlx::query("UPDATE idempotency_keys SET response = 'not JSON'")
        .execute(&app.state.db)
        .await
        .expect("broken");
    let again = app
        .post_as(
            &alice.token,
            "/api/messages",
            Some("kept"),
            &json!({"to": "bob", "subject": "Hello", "body": "Hi"}),
        )
        .await;
    assert!(!again.headers().contains_key("retry-after"));
    let message = assert_error(again, StatusCode::INTERNAL_SERVER_ERROR, "internal").await;
    assert!(!message.contains("JSON"), "no internal detail: {message}");
}

#[tokio::test]
async fn long_bodies_of_many_byte_characters_arrive_whole_on_the_stream() {
    let app = spawn_app().await;
    let alice = mailbox(&app, "alice").await;
    let bob = mailbox(&app, "bob").await;
    let mut stream = app.events(&bob, None).await;
    // 1, 2, 3 and 4 bytes a character: chunks of the stream end inside characters.
    let body: String = "aé€😀".chars().cycle().take(9_999).collect();
    for i in 0..10 {
        app.send(&alice, "bob", &format!("wide-{i}"), &body).await;
    }
    for pushed in stream.take(10).await {
        let message: Message = serde_json::from_str(&pushed.data).expect("a message");
        assert_eq!(message.body, body);
    }
}
