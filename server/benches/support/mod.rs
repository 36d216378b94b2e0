//! What the benchmarks against the release server as its own process share.

#![allow(dead_code)] // each bench uses its part

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The release server as its own process, killed when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Starts it on a free port with its database in `folder`, and `args` after the usual ones.
    /// The limits per client address are lifted: the benchmark, one address, stands for many
    /// clients at once.
    pub fn start(folder: &std::path::Path, args: &[&str]) -> Self {
        let database = folder.join("bench.db");
        Self::start_on(&database.display().to_string(), folder, args)
    }

    /// Like [`ServerProcess::start`], on `database` (as `--database` takes it).
    pub fn start_on(database: &str, folder: &std::path::Path, args: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("an address");
        let child = Command::new(env!("CARGO_BIN_EXE_meanwhile"))
            .args(["--addr", &addr.to_string(), "--log", "warn"])
            .args(["--database", database])
            .arg("--dist")
            .arg(folder.join("no-page"))
            .args([
                "--credentials-per-hour",
                "1000000",
                "--credentials-burst",
                "1000000",
            ])
            .args(["--max-streams-per-address", "1000000"])
            .args(["--max-connections-per-address", "1000000"])
            .args(args)
            .stdout(Stdio::null())
            .spawn()
            .expect("the server starts");
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "never listened"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn resident_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value at percentile `p` (0–100) of `sorted`, by nearest rank.
pub fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Adds one figure to the benchmark report: a JSON line appended to the file
/// `MEANWHILE_BENCH_FIGURES` names (`cargo xtask bench` sets it, then writes `target/bench/
/// report.md` and `report.json` from the lines). Run by hand, without it, the figure is only
/// printed. `target` is the target in words and whether it was met.
pub fn record(part: &str, name: &str, value: f64, unit: &str, target: Option<(&str, bool)>) {
    let Some(path) = std::env::var_os("MEANWHILE_BENCH_FIGURES") else {
        return;
    };
    let mut line = serde_json::json!({"part": part, "name": name, "value": value, "unit": unit});
    if let Some((target, met)) = target {
        line["target"] = target.into();
        line["met"] = met.into();
    }
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| {
            use std::io::Write;
            writeln!(file, "{line}")
        });
    if let Err(error) = written {
        eprintln!("cannot add a figure to {}: {error}", path.display());
    }
}

/// Creates mailboxes `{prefix}0…` on `server` and returns their tokens, 32 requests at a time.
pub async fn create_mailboxes(
    server: &ServerProcess,
    client: &reqwest::Client,
    prefix: &str,
    count: usize,
) -> Vec<String> {
    use futures::StreamExt;
    futures::stream::iter(0..count)
        .map(|i| async move {
            let created: serde_json::Value = client
                .post(server.url("/api/mailboxes"))
                .json(&serde_json::json!({ "name": format!("{prefix}{i}") }))
                .send()
                .await
                .expect("sent")
                .json()
                .await
                .expect("JSON");
            created["token"].as_str().expect("a token").to_owned()
        })
        .buffered(32)
        .collect()
        .await
}

/// A ticket for one event stream of the mailbox `token` opens.
pub async fn ticket(server: &ServerProcess, client: &reqwest::Client, token: &str) -> String {
    let ticket: serde_json::Value = client
        .post(server.url("/api/events/ticket"))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    ticket["ticket"].as_str().expect("a ticket").to_owned()
}

/// What [`delivery`] measured.
pub struct Delivered {
    /// From each send to its event on the recipient's stream, in ms, sorted.
    pub latencies: Vec<f64>,
    /// How long the sends took.
    pub sending: Duration,
}

/// `mailboxes` new mailboxes, made through `senders`, with their event streams open on `streams`
/// (the same server, or another instance on its database), exchange `messages` messages sent
/// through `senders`, `at_once` at a time. Waits up to 20 s after the last send (past the
/// streams' 15 s re-read, so whatever no wake brought has arrived).
pub async fn delivery(
    senders: &ServerProcess,
    streams: &ServerProcess,
    mailboxes: usize,
    messages: usize,
    at_once: usize,
) -> Delivered {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use futures::StreamExt;
    use serde_json::{Value, json};

    let client = reqwest::Client::new();
    let prefix = format!("d{}x", fastrand::u32(..));
    let tokens = create_mailboxes(senders, &client, &prefix, mailboxes).await;
    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let mut readers = Vec::new();
    for token in &tokens {
        let ticket = ticket(streams, &client, token).await;
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
    let started = Instant::now();
    let sends = (0..messages).map(|i| {
        let (client, tokens, sent_at, prefix) = (&client, &tokens, &sent_at, &prefix);
        async move {
            let from = i % mailboxes;
            let to = (i * 7 + 1 + i / mailboxes) % mailboxes;
            let body = format!("bench message {i}");
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
        .buffer_unordered(at_once)
        .collect::<Vec<()>>()
        .await;
    let sending = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(20);
    while latencies.lock().expect("not poisoned").len() < messages && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for reader in readers {
        reader.abort();
    }
    let mut latencies = latencies.lock().expect("not poisoned").clone();
    latencies.sort_by(f64::total_cmp);
    Delivered { latencies, sending }
}
