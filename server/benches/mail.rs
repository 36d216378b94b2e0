//! `cargo xtask bench`, the Mail room's part, against the release server as its own process:
//!
//! 5. Delivery: 100 mailboxes, each with its event stream open, exchange 2 000 messages (16
//!    senders at a time): from the send to the message's event on the recipient's stream, p50 and
//!    p99, and sends per second. Targets: p50 ≤ 20 ms (aim: p99 ≤ 20 ms).
//! 6. Memory: 10 000 event streams open at once (1 667 mailboxes, 6 each at most): resident bytes
//!    per open stream, connection included, next to the same count of the Lab's bare countdown
//!    streams on another fresh server (the floor any stream pays). Target: ≤ 16 KB.
//!
//! Figures are printed, not asserted: the machines are shared and noisy.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use futures::StreamExt;

mod support;
use support::ServerProcess;

const MAILBOXES: usize = 100;
const MESSAGES: usize = 2_000;
const SENDERS_AT_ONCE: usize = 16;
const STREAMS: usize = 10_000;

fn main() {
    let only = std::env::var("MEANWHILE_BENCH_ONLY").unwrap_or_default();
    let wanted = |part: &str| only.is_empty() || only.split(',').any(|p| p.trim() == part);
    if !wanted("mail") {
        return;
    }
    // Every open stream is a connection: both sides need that many descriptors.
    let (_, hard) = rlimit::Resource::NOFILE
        .get()
        .expect("the descriptor limit");
    rlimit::Resource::NOFILE
        .set((STREAMS as u64 * 2 + 1_000).min(hard), hard)
        .expect("a higher descriptor limit");
    let folder = tempfile::tempdir().expect("temporary folder");
    let server = ServerProcess::start(folder.path(), &[]);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(delivery(&server));
    drop(server);
    runtime.block_on(stream_memory());
}

async fn delivery(server: &ServerProcess) {
    println!(
        "5. Mail delivery: {MAILBOXES} mailboxes with their streams open exchange {MESSAGES} messages, {SENDERS_AT_ONCE} sends at a time"
    );
    let delivered = support::delivery(server, server, MAILBOXES, MESSAGES, SENDERS_AT_ONCE).await;
    let latencies = &delivered.latencies;
    let at = |p: f64| support::nearest_rank(latencies, p);
    println!(
        "   {} of {MESSAGES} delivered to a stream; send → recipient's stream: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms [target: p50 ≤ 20 ms, aim p99 ≤ 20 ms]",
        latencies.len(),
        at(50.0),
        at(99.0),
        at(100.0)
    );
    support::record(
        "mail",
        "send → recipient's stream, p50",
        at(50.0),
        "ms",
        Some(("≤ 20 ms", at(50.0) <= 20.0)),
    );
    support::record(
        "mail",
        "send → recipient's stream, p99",
        at(99.0),
        "ms",
        Some(("aim ≤ 20 ms", at(99.0) <= 20.0)),
    );
    println!(
        "   throughput: {:.0} sends per second ({MESSAGES} in {:.2} s, each a committed transaction)",
        MESSAGES as f64 / delivered.sending.as_secs_f64(),
        delivered.sending.as_secs_f64()
    );
}

/// Opens an event stream on each of `paths` (raw sockets, so nothing of the client's is
/// counted), waits for each answer's head, and returns the sockets and how many said 200.
async fn open_streams(addr: SocketAddr, paths: Vec<String>) -> (Vec<TcpStream>, usize) {
    tokio::task::spawn_blocking(move || {
        let mut streams: Vec<TcpStream> = paths
            .iter()
            .map(|path| {
                let mut stream = TcpStream::connect(addr).expect("connects");
                let request = format!(
                    "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
                );
                stream.write_all(request.as_bytes()).expect("sent");
                stream
            })
            .collect();
        let mut opened = 0;
        for stream in &mut streams {
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("a timeout");
            let mut head = [0u8; 12];
            if stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200") {
                opened += 1;
            }
        }
        (streams, opened)
    })
    .await
    .expect("the streams opened")
}

fn per_stream(label: &str, before: u64, after: u64, opened: usize) {
    println!(
        "   {label}: resident memory {:.1} MiB → {:.1} MiB with {opened} open: {:.0} bytes per open stream (connection included)",
        before as f64 / 1_048_576.0,
        after as f64 / 1_048_576.0,
        after.saturating_sub(before) as f64 / opened.max(1) as f64
    );
}

async fn stream_memory() {
    let mailboxes = STREAMS.div_ceil(protocol::mail::STREAMS_PER_MAILBOX);
    println!(
        "6. {STREAMS} event streams open at once, each kind on a fresh release server [target for Mail: ≤ 16 KB each]"
    );
    // The floor: the Lab's countdown, a stream that holds nothing but a timer.
    let folder = tempfile::tempdir().expect("temporary folder");
    let bare = ServerProcess::start(folder.path(), &[]);
    let before = bare.resident_bytes();
    let paths = vec!["/api/lab/ticks?count=100&interval_ms=5000".to_owned(); STREAMS];
    let (streams, opened) = open_streams(bare.addr, paths).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    per_stream(
        "bare countdown streams (the floor: hyper, axum's Sse, a timer)",
        before,
        bare.resident_bytes(),
        opened,
    );
    drop(streams);
    drop(bare);

    let folder = tempfile::tempdir().expect("temporary folder");
    let server = ServerProcess::start(folder.path(), &[]);
    let client = reqwest::Client::new();
    let tokens = support::create_mailboxes(&server, &client, "open", mailboxes).await;
    let before = server.resident_bytes();
    // In batches: a ticket lasts a minute, and opening 10 000 connections can take longer.
    let (mut streams, mut opened) = (Vec::with_capacity(STREAMS), 0);
    for batch in (0..STREAMS).collect::<Vec<_>>().chunks(1_000) {
        let paths: Vec<String> = futures::stream::iter(batch.to_vec())
            .map(|i| {
                let (client, tokens, server) = (&client, &tokens, &server);
                async move {
                    let ticket = support::ticket(server, client, &tokens[i % tokens.len()]).await;
                    format!("/api/events?ticket={ticket}")
                }
            })
            .buffered(32)
            .collect()
            .await;
        let (open, ok) = open_streams(server.addr, paths).await;
        streams.extend(open);
        opened += ok;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = server.resident_bytes();
    per_stream(
        &format!("Mail streams ({mailboxes} mailboxes)"),
        before,
        after,
        opened,
    );
    let per_stream_kb = after.saturating_sub(before) as f64 / opened.max(1) as f64 / 1024.0;
    support::record(
        "mail",
        "resident memory per open Mail stream",
        per_stream_kb,
        "KB",
        Some(("≤ 16 KB", per_stream_kb <= 16.0)),
    );
    drop(streams);
}
