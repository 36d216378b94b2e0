//! `--tls`: HTTP/1.1 and HTTP/2 on one port, over TLS. A client that offers HTTP/2 gets it, one
//! that does not gets HTTP/1.1; over HTTP/2 many requests share one connection.

use std::time::Duration;

use protocol::lab::LabOrigins;
use protocol::server::ServerNow;
use reqwest::Version;

use crate::helpers::{Events, Process, assert_error, new_database, spawn_app, start_process_with};

/// A client that trusts the server's self-made certificate; `http1` only offers HTTP/1.1.
fn client(http1: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder().danger_accept_invalid_certs(true);
    let builder = if http1 { builder.http1_only() } else { builder };
    builder.build().expect("a client")
}

#[tokio::test]
async fn one_port_speaks_http2_to_who_asks_and_http1_to_the_rest() {
    let (_folder, server) = over_tls(&[]).await;
    assert!(server.address.starts_with("https://"), "{}", server.address);
    let url = |path: &str| format!("{}{path}", server.address);

    let two = client(false);
    let answer = two.get(url("/api/health")).send().await.expect("answered");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.version(), Version::HTTP_2);
    let one = client(true);
    let answer = one.get(url("/api/health")).send().await.expect("answered");
    assert_eq!(answer.version(), Version::HTTP_11);
    drop(one);
    // The plain scheme is not spoken there.
    assert!(
        reqwest::get(url("/api/health").replacen("https", "http", 1))
            .await
            .is_err()
    );

    // Over HTTP/2, forty echoes waiting at once share the one connection.
    let mut panel = Events::new(
        two.get(url("/api/server/live"))
            .send()
            .await
            .expect("a panel"),
    );
    let mut alone = false;
    for _ in 0..40 {
        let pushed = panel.next(Duration::from_secs(5)).await.expect("a sample");
        if pushed.event == protocol::server::LIVE_EVENT {
            let now: ServerNow = serde_json::from_str(&pushed.data).expect("a sample");
            if now.connections == 1 {
                alone = true;
                break;
            }
        }
    }
    assert!(alone, "the other clients' connections closed");
    let echoes: Vec<_> = (0..40)
        .map(|_| {
            let request = two.get(url("/api/lab/echo?delay_ms=2000")).send();
            tokio::spawn(async move { request.await.expect("answered").version() })
        })
        .collect();
    let mut seen = None;
    for _ in 0..40 {
        let pushed = panel.next(Duration::from_secs(5)).await.expect("a sample");
        if pushed.event != protocol::server::LIVE_EVENT {
            continue;
        }
        let now: ServerNow = serde_json::from_str(&pushed.data).expect("a sample");
        let echoing = now.requests.iter().find(|r| r.name == "/api/lab/echo");
        if echoing.is_some_and(|r| r.count == 40) {
            seen = Some(now);
            break;
        }
    }
    let now = seen.expect("40 echoes waiting at once");
    assert_eq!(
        now.connections, 1,
        "one connection for the panel and all forty: {now:?}"
    );
    for echo in echoes {
        assert_eq!(echo.await.expect("joined"), Version::HTTP_2);
    }
}

#[tokio::test]
async fn a_certificate_of_ones_own_is_served_and_an_unreadable_one_stops_the_start() {
    let folder = tempfile::tempdir().expect("a folder");
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("made");
    let cert = folder.path().join("cert.pem");
    let key = folder.path().join("key.pem");
    std::fs::write(&cert, made.cert.pem()).expect("written");
    std::fs::write(&key, made.key_pair.serialize_pem()).expect("written");
    let database = new_database(folder.path()).await;
    let (cert_flag, key_flag) = (cert.display().to_string(), key.display().to_string());
    let server = start_process_with(
        &database,
        folder.path(),
        "warn",
        &["--tls-cert", &cert_flag, "--tls-key", &key_flag],
    )
    .await;
    let answer = client(false)
        .get(format!("{}/api/health", server.address))
        .send()
        .await
        .expect("answered");
    assert_eq!(answer.version(), Version::HTTP_2);

    let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_meanwhile"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--tls-cert",
            "no-such.pem",
            "--tls-key",
            &key_flag,
        ])
        .arg("--database")
        .arg(folder.path().join("other.db"))
        .output()
        .await
        .expect("ran");
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("no-such.pem"), "{said}");
}

/// A server process with `--tls` and `flags`, on a database of its own in the folder returned
/// (kept for as long as the server runs).
async fn over_tls(flags: &[&str]) -> (tempfile::TempDir, Process) {
    let folder = tempfile::tempdir().expect("a folder");
    let database = new_database(folder.path()).await;
    let flags: Vec<&str> = ["--tls"].iter().chain(flags).copied().collect();
    let server = start_process_with(&database, folder.path(), "warn", &flags).await;
    (folder, server)
}

/// `GET /api/lab/origins` of the server at `address`.
async fn origins_at(client: &reqwest::Client, address: &str) -> LabOrigins {
    client
        .get(format!("{address}/api/lab/origins"))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("origins")
}

/// With `--tls` the server also listens where it speaks only HTTP/1.1, and its echo answers the
/// page on the TLS port from there (CORS, its headers readable, its timing shared), so the Lab
/// runs the same experiment over both protocols. No other origin is let in, and without `--tls`
/// none at all.
#[tokio::test]
async fn a_port_beside_speaks_only_http1_and_its_echo_answers_the_page_on_the_tls_port() {
    let (_folder, server) = over_tls(&[]).await;
    let two = client(false);
    let origins = origins_at(&two, &server.address).await;
    let port = origins.http1_port.expect("a port speaking only HTTP/1.1");
    assert_eq!(origins.http2_streams, Some(256));
    let page = server.address.clone();
    let beside = format!("https://127.0.0.1:{port}");
    assert_ne!(page, beside);

    // A client that would rather speak HTTP/2 is answered over HTTP/1.1 there.
    let echo = format!("{beside}/api/lab/echo?delay_ms=0&seq=1");
    let answer = two
        .get(&echo)
        .header("origin", &page)
        .send()
        .await
        .expect("answered");
    assert_eq!(answer.version(), Version::HTTP_11);
    assert_eq!(answer.status(), 200);
    let headers = answer.headers();
    assert_eq!(headers["access-control-allow-origin"], page.as_str());
    assert_eq!(headers["timing-allow-origin"], page.as_str());
    assert_eq!(headers["access-control-expose-headers"], "*");
    // The page over HTTP/1.1 there says the same of where it listens.
    let there = origins_at(&two, &beside).await;
    assert_eq!(there, origins);

    // A POST asks first (a preflight), and may send its JSON and its key.
    let asked = two
        .request(reqwest::Method::OPTIONS, &echo)
        .header("origin", &page)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,idempotency-key",
        )
        .send()
        .await
        .expect("answered");
    assert!(asked.status().is_success(), "{}", asked.status());
    let allowed = asked.headers()["access-control-allow-methods"]
        .to_str()
        .expect("text");
    assert!(allowed.contains("POST"), "{allowed}");
    assert_eq!(
        asked.headers()["access-control-allow-origin"],
        page.as_str()
    );

    // Another origin — another port, another host, plain HTTP — gets the echo (the browser keeps
    // it from its page) but no leave to read it.
    for other in [
        format!("https://127.0.0.1:{}", port.wrapping_add(1)),
        page.replace("127.0.0.1", "example.com"),
        page.replacen("https", "http", 1),
    ] {
        let answer = two
            .get(&echo)
            .header("origin", &other)
            .send()
            .await
            .expect("answered");
        assert!(
            answer
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{other}: {:?}",
            answer.headers()
        );
        assert!(answer.headers().get("timing-allow-origin").is_none());
    }
}

#[tokio::test]
async fn without_tls_there_is_no_port_beside_and_no_origin_is_let_in() {
    let app = spawn_app().await;
    let origins = origins_at(&app.client, &app.address).await;
    assert_eq!(origins, LabOrigins::default());
    let port = app.address.rsplit(':').next().expect("a port");
    let answer = app
        .client
        .get(format!("{}/api/lab/echo?delay_ms=0", app.address))
        .header("origin", format!("https://127.0.0.1:{port}"))
        .send()
        .await
        .expect("answered");
    assert_eq!(answer.status(), 200);
    assert!(
        answer
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // Behind its CORS layer the echo still answers another method with the envelope.
    let refused = app
        .client
        .delete(format!("{}/api/lab/echo", app.address))
        .header("origin", format!("https://127.0.0.1:{port}"))
        .send()
        .await
        .expect("answered");
    assert_error(
        refused,
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

/// The Lab's `reset` over HTTP/2 resets that request's stream (`RST_STREAM`), not the connection
/// every other request of the page shares: an echo waiting on the same connection is answered.
#[tokio::test]
async fn over_http2_a_reset_resets_one_request_and_the_others_on_its_connection_go_on() {
    let (_folder, server) = over_tls(&[]).await;
    let two = client(false);
    let url = |query: &str| format!("{}/api/lab/echo?{query}", server.address);
    let first = two.get(url("delay_ms=0")).send().await.expect("answered");
    assert_eq!(first.version(), Version::HTTP_2);

    let waiting = tokio::spawn(two.get(url("delay_ms=1500&seq=1")).send());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reset = two
        .get(url("delay_ms=0&fault=reset&fail_rate=1&seq=2"))
        .send()
        .await
        .expect_err("no answer");
    let said = format!("{reset:?}");
    assert!(said.contains("INTERNAL_ERROR"), "a stream reset: {said}");
    let answered = waiting.await.expect("joined").expect("answered");
    assert_eq!(answered.status(), 200);
    assert_eq!(answered.version(), Version::HTTP_2);
    let stats: protocol::lab::LabStats = two
        .get(format!("{}/api/lab/stats", server.address))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("stats");
    assert_eq!(stats.failed_injected, 1, "{stats:?}");
}

/// The port beside counts against the same caps as the page's: an address holding as many
/// connections as one may on the TLS port gets none on the HTTP/1.1 port.
#[tokio::test]
async fn the_port_beside_counts_against_the_same_caps() {
    let (_folder, server) = over_tls(&["--max-connections-per-address", "2"]).await;
    let two = client(false);
    let port = origins_at(&two, &server.address)
        .await
        .http1_port
        .expect("a port beside");
    drop(two);
    let page = server.address.trim_start_matches("https://").to_owned();
    let beside = format!("https://127.0.0.1:{port}/api/health");
    // Give the first client's connection time to close.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = [
        tokio::net::TcpStream::connect(&page)
            .await
            .expect("connects"),
        tokio::net::TcpStream::connect(&page)
            .await
            .expect("connects"),
    ];
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = client(true).get(&beside).send().await;
    assert!(refused.is_err(), "{refused:?}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answer = client(true).get(&beside).send().await.expect("answered");
    assert_eq!(answer.status(), 200);
}
