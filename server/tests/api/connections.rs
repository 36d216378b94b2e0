//! The connection layer: clients that are slow, silent, idle, never read, come too many, or
//! half-close. Raw sockets on 127.0.0.1 against short clocks; every wait is bounded.

use std::time::{Duration, Instant};

use server::Connections;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{TestApp, spawn_app_serving};

fn clocks(header_ms: u64, write_ms: u64, max_connections: usize) -> Connections {
    Connections {
        header_timeout: Duration::from_millis(header_ms),
        write_timeout: Duration::from_millis(write_ms),
        max_connections,
        ..Connections::default()
    }
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("connects")
}

/// Reads and keeps what the server sends until it closes the connection; returns that and how
/// long it took. Panics if the connection is still open after `limit`.
async fn until_closed(
    stream: &mut (impl AsyncReadExt + Unpin),
    limit: Duration,
) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut received = Vec::new();
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = tokio::time::timeout_at((start + limit).into(), stream.read(&mut buffer))
            .await
            .unwrap_or_else(|_| panic!("still open after {limit:?}"));
        match read {
            Ok(0) | Err(_) => return (received, start.elapsed()),
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

/// Sends a keep-alive GET and reads exactly its answer (head and `Content-Length` body).
async fn keep_alive_get(stream: &mut TcpStream, path: &str) -> String {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
        .await
        .expect("request written");
    let mut answer = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("answered in time")
            .expect("read");
        assert!(n > 0, "closed before the whole answer: {answer:?}");
        answer.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&answer);
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().expect("a length"))
                })
                .expect("a Content-Length");
            if answer.len() >= end + 4 + length {
                return text.into_owned();
            }
        }
    }
}

#[tokio::test]
async fn clients_slow_or_silent_with_their_request_head_are_cut_off_while_others_stay_fast() {
    let app = spawn_app_serving(|_| {}, clocks(1_000, 30_000, 1_000)).await;
    let mut clients = Vec::new();
    for slow in 0..21 {
        let (mut reader, mut writer) = connect(&app).await.into_split();
        // Twenty send a header a byte every 200 ms, never finishing it; one sends nothing.
        if slow > 0 {
            tokio::spawn(async move {
                if writer
                    .write_all(b"GET /api/health HTTP/1.1\r\nX-Slow: ")
                    .await
                    .is_err()
                {
                    return;
                }
                while writer.write_all(b"a").await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
        } else {
            std::mem::forget(writer);
        }
        clients.push(tokio::spawn(async move {
            until_closed(&mut reader, Duration::from_secs(15)).await
        }));
    }

    let mut latencies = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        assert_eq!(app.get("/api/health").await.status(), 200);
        latencies.push(start.elapsed());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    let mut lived = Vec::new();
    for client in clients {
        let (received, elapsed) = client.await.expect("client task");
        // Cut by the clock, not refused: the request head never came, so there is no answer.
        assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
        assert!(
            received.is_empty() || String::from_utf8_lossy(&received).starts_with("HTTP/1.1 408"),
            "{received:?}"
        );
        lived.push(elapsed);
    }
    latencies.sort();
    println!(
        "slow-header connections lived {:?} .. {:?} (header timeout 1 s); \
         /api/health meanwhile: median {:?}, max {:?}",
        lived.iter().min().expect("some"),
        lived.iter().max().expect("some"),
        latencies[latencies.len() / 2],
        latencies.last().expect("some"),
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let app = spawn_app_serving(|_| {}, clocks(1_000, 30_000, 1_000)).await;
    let mut stream = connect(&app).await;
    let answer = keep_alive_get(&mut stream, "/api/health").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Kept alive for a second request …
    let answer = keep_alive_get(&mut stream, "/api/health").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // … then closed once it has been idle as long as the clock allows.
    let (received, idle) = until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(idle >= Duration::from_millis(900), "closed after {idle:?}");
    assert!(received.is_empty(), "{received:?}");
    println!("an idle keep-alive connection lived {idle:?} (header timeout 1 s)");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_the_rest_of_its_answer_with_it() {
    const SIZE: usize = 32 * 1024 * 1024;
    let app = spawn_app_serving(|_| {}, clocks(5_000, 1_000, 1_000)).await;
    std::fs::write(app.folder().join("dist").join("big.bin"), vec![7u8; SIZE]).expect("file");

    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("small receive buffer");
    let mut stream = socket
        .connect(
            app.address
                .trim_start_matches("http://")
                .parse()
                .expect("address"),
        )
        .await
        .expect("connects");
    stream
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: test\r\nAccept-Encoding: identity\r\n\r\n")
        .await
        .expect("request written");
    // Read nothing for three write timeouts; the server must give up on this client.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (received, _) = until_closed(&mut stream, Duration::from_secs(20)).await;
    assert!(String::from_utf8_lossy(&received[..12]).starts_with("HTTP/1.1 200"));
    assert!(
        received.len() < SIZE,
        "the whole file came: {} bytes",
        received.len()
    );
    println!(
        "a client that stopped reading got {} of {SIZE} bytes, then the server closed",
        received.len()
    );
    // The server goes on serving.
    assert_eq!(app.get("/api/health").await.status(), 200);
}

#[tokio::test]
async fn past_the_connection_cap_a_new_client_is_refused_cleanly_and_the_open_ones_are_served() {
    let app = spawn_app_serving(|_| {}, clocks(30_000, 30_000, 2)).await;
    let mut first = connect(&app).await;
    let mut second = connect(&app).await;
    assert!(
        keep_alive_get(&mut first, "/api/health")
            .await
            .starts_with("HTTP/1.1 200")
    );
    assert!(
        keep_alive_get(&mut second, "/api/health")
            .await
            .starts_with("HTTP/1.1 200")
    );

    let answer = app.raw("GET /api/health HTTP/1.1").await;
    let (head, body) = answer.split_once("\r\n\r\n").expect("an answer");
    assert!(head.starts_with("HTTP/1.1 503"), "{answer}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("retry-after: 1"), "{answer}");
    assert!(head.contains("content-type: application/json"), "{answer}");
    let body: serde_json::Value = serde_json::from_str(body).expect("JSON");
    assert_eq!(body["error"]["code"], "unavailable");

    // The open connections are still served …
    assert!(
        keep_alive_get(&mut first, "/api/health")
            .await
            .starts_with("HTTP/1.1 200")
    );
    // … and when one closes, a new one is let in.
    drop(first);
    let start = Instant::now();
    loop {
        let answer = app.raw("GET /api/health HTTP/1.1").await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "still refused: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        keep_alive_get(&mut second, "/api/health")
            .await
            .starts_with("HTTP/1.1 200")
    );
}

#[tokio::test]
async fn with_half_close_on_a_request_followed_by_a_half_close_is_answered() {
    let half_close = Connections {
        half_close: true,
        ..clocks(5_000, 5_000, 1_000)
    };
    let app = spawn_app_serving(|_| {}, half_close).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .expect("request written");
    stream.shutdown().await.expect("half-closed");
    let (received, _) = until_closed(&mut stream, Duration::from_secs(10)).await;
    let answer = String::from_utf8_lossy(&received);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(answer.contains("\"status\""), "{answer}");
}

/// The default, and why: a half-close and a client that went away look the same, and the
/// server must notice the second at once (the Lab counts it, its memory returns).
#[tokio::test]
async fn by_default_a_half_closed_connection_is_taken_for_a_client_that_went_away() {
    let app = spawn_app_serving(|_| {}, clocks(5_000, 5_000, 1_000)).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /api/lab/echo?delay_ms=5000 HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .expect("request written");
    stream.shutdown().await.expect("half-closed");
    let (received, elapsed) = until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(
        received.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&received)
    );
    assert!(
        elapsed < Duration::from_secs(4),
        "dropped at once, not after the wait: {elapsed:?}"
    );
}
