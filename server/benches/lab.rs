//! `cargo xtask bench`: the Lab's performance targets, measured for real.
//!
//! 1. The page never blocks: in headless Chromium, fire 500 and then 1000 echoes (delay 50–2000 ms)
//!    and record every gap between animation frames and every long task (PerformanceObserver).
//!    Target: largest gap ≤ 50 ms, no long task. Then once more with the CPU slowed 4× (DevTools'
//!    CPU throttling), what a mid-range phone feels: same target.
//! 2. Echo at delay 0 against a bare hyper "hello" server, both under the same load generator in
//!    the same run: requests per second and p99 latency. Target: echo/hello ≥ 0.8.
//! 3. Memory: the release server with 10 000 echoes waiting; bytes per waiting request, and how
//!    long a 0-delay echo takes meanwhile.
//! 4. Protocols: 200 echoes of 500 ms from Chromium over HTTP/1.1 (the plain server) and over
//!    HTTP/2 (a second instance with `--tls`): wall time, and the time spent waiting for a
//!    connection (the browser's resource timing).
//! 5. TLS: echo throughput at delay 0 over plain HTTP/1.1, over TLS with HTTP/1.1 and over TLS
//!    with HTTP/2, under one load generator (reqwest), in alternating turns: what TLS costs.
//!
//! Figures are printed, not asserted: the machines are shared and noisy.

// The browser tests' session helper; the benchmark uses only part of it.
#[allow(dead_code)]
#[path = "../tests/e2e/browser.rs"]
mod browser;
mod support;

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use browser::Session;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use support::{nearest_rank, record};

fn main() {
    // MEANWHILE_BENCH_ONLY=frames,echo,memory,protocols,tls runs only the named parts (all by default).
    let only = std::env::var("MEANWHILE_BENCH_ONLY").unwrap_or_default();
    let wanted = |part: &str| only.is_empty() || only.split(',').any(|p| p.trim() == part);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    println!("Meanwhile Lab benchmark (figures, not pass/fail; targets in brackets)\n");
    if wanted("frames") {
        runtime.block_on(frame_gaps());
    }
    if wanted("echo") {
        echo_against_hello();
    }
    if wanted("memory") {
        waiting_memory();
    }
    if wanted("protocols") {
        runtime.block_on(protocols());
    }
    if wanted("tls") {
        echo_over_tls();
    }
}

// ---- 5. Echo throughput over TLS against plain -------------------------------------------------

/// Requests in flight at once in each turn of part 5.
const TLS_CONCURRENCY: usize = 32;

fn echo_over_tls() {
    println!(
        "5. Echo at delay 0: plain HTTP/1.1, TLS with HTTP/1.1, TLS with HTTP/2 (the same server)"
    );
    println!(
        "   (one load generator, reqwest: {TLS_CONCURRENCY} requests at a time, on as many keep-alive connections over HTTP/1.1 and one over HTTP/2; {PAIRS} rounds of {} ms turns in rotating order, medians)",
        TURN.as_millis()
    );
    let (servers, load) = runtimes();
    let folder = tempfile::tempdir().expect("temporary folder");
    // A certificate of our own (as `--tls-cert`/`--tls-key` take it), which the client trusts.
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).expect("made");
    let (cert, key) = (
        folder.path().join("cert.pem"),
        folder.path().join("key.pem"),
    );
    std::fs::write(&cert, made.cert.pem()).expect("written");
    std::fs::write(&key, made.key_pair.serialize_pem()).expect("written");
    let tls = server::tls::server_config(&server::tls::Certificate::Files { cert, key })
        .expect("a TLS configuration");
    let plain_addr = servers.block_on(start_meanwhile(folder.path()));
    let secure_addr = servers.block_on(start_meanwhile_with(
        folder.path(),
        server::Connections {
            tls: Some(tls),
            ..server::Connections::default()
        },
    ));
    let trusted =
        reqwest::Certificate::from_pem(made.cert.pem().as_bytes()).expect("a certificate");
    let client = |secure: bool, http1: bool| {
        let builder = reqwest::Client::builder().pool_max_idle_per_host(TLS_CONCURRENCY);
        let builder = if secure {
            builder.add_root_certificate(trusted.clone())
        } else {
            builder
        };
        let builder = if http1 { builder.http1_only() } else { builder };
        builder.build().expect("a client")
    };
    let sides = [
        (
            "plain HTTP/1.1",
            client(false, true),
            format!("http://{plain_addr}/api/lab/echo?seq=1"),
        ),
        (
            "TLS HTTP/1.1",
            client(true, true),
            format!("https://{secure_addr}/api/lab/echo?seq=1"),
        ),
        (
            "TLS HTTP/2",
            client(true, false),
            format!("https://{secure_addr}/api/lab/echo?seq=1"),
        ),
    ];
    let turn = |side: usize| {
        let (_, client, url) = &sides[side];
        load.block_on(load_with_client(client, url, TURN))
    };
    for _ in 0..3 {
        for side in 0..sides.len() {
            turn(side);
        }
    }
    let mut figures: Vec<Vec<LoadFigures>> = sides.iter().map(|_| Vec::new()).collect();
    for round in 0..PAIRS {
        for offset in 0..sides.len() {
            let side = (round + offset) % sides.len();
            figures[side].push(turn(side));
        }
    }
    let plain = median(&figures[0], |f| f.per_second);
    for ((name, ..), figures) in sides.iter().zip(&figures) {
        let per_second = median(figures, |f| f.per_second);
        println!(
            "   {name:>14}: {per_second:>8.0} requests/s, p99 {:.2} ms, {:.2}× plain (medians; {} requests in all)",
            median(figures, |f| f.p99_ms),
            per_second / plain,
            figures.iter().map(|f| f.requests).sum::<usize>()
        );
        record(
            "tls",
            &format!("{name}, requests per second"),
            per_second,
            "/s",
            None,
        );
    }
    println!();
    drop(servers);
}

/// Sends `GET url` through `client`, [`TLS_CONCURRENCY`] at a time, for `time`.
async fn load_with_client(client: &reqwest::Client, url: &str, time: Duration) -> LoadFigures {
    let started = Instant::now();
    let workers: Vec<_> = (0..TLS_CONCURRENCY)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_owned());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while started.elapsed() < time {
                    let sent = Instant::now();
                    let response = client.get(&url).send().await.expect("an answer");
                    assert!(response.status().is_success(), "{}", response.status());
                    let _ = response.bytes().await.expect("a body");
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.expect("a worker"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    LoadFigures {
        requests: latencies.len(),
        per_second: latencies.len() as f64 / elapsed,
        p99_ms: nearest_rank(&latencies, 99.0),
        server_cpu_us: None,
        load_cpu_us: None,
    }
}

// ---- 4. The same run over HTTP/1.1 and HTTP/2 ------------------------------------------------

async fn protocols() {
    println!("4. 200 echoes of 500 ms from Chromium, over HTTP/1.1 and over HTTP/2 (--tls)");
    let mut session = Session::start().await;
    let plain = session.address.clone();
    let secure = session.beside_over_tls().await;
    for (protocol, address) in [("HTTP/1.1", plain), ("HTTP/2", secure)] {
        session
            .open_started_at(&address, "/lab?count=200&delay=500&jitter=0")
            .await;
        session
            .eval("performance.clearResourceTimings(); return null")
            .await;
        let started = Instant::now();
        session.click("[data-testid=lab-start]").await;
        while session
            .eval("return document.querySelector('[data-testid=sum-ok]').textContent")
            .await
            != "200"
        {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "not every echo answered within 120 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let wall = session
            .eval(
                "const all = performance.getEntriesByType('resource')                    .filter(r => r.name.includes('/api/lab/echo'));                  return [Math.max(...all.map(r => r.responseEnd)) - Math.min(...all.map(r => r.startTime)),                          all.map(r => r.requestStart - r.startTime)]",
            )
            .await;
        let total = wall[0].as_f64().unwrap_or(0.0);
        let mut waits: Vec<f64> = wall[1]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        waits.sort_by(f64::total_cmp);
        let median = nearest_rank(&waits, 50.0);
        let longest = waits.last().copied().unwrap_or(0.0);
        println!(
            "   {protocol:>8}: wall {total:.0} ms; waiting for a connection: median {median:.0} ms, longest {longest:.0} ms"
        );
        record(
            "protocols",
            &format!("200 echoes of 500 ms over {protocol}: wall time"),
            total,
            "ms",
            None,
        );
        record(
            "protocols",
            &format!("200 echoes of 500 ms over {protocol}: median wait for a connection"),
            median,
            "ms",
            None,
        );
    }
    session.close().await;
    println!();
}

// ---- 1. Frame gaps while answers arrive -----------------------------------------------------

/// Installed in the page before a run: records every frame gap and every long task.
const RECORDER: &str = r#"
window.__bench = { gaps: [], longTasks: 0, last: performance.now(), on: true };
new PerformanceObserver(list => { window.__bench.longTasks += list.getEntries().length; })
  .observe({ type: 'longtask' });
const frame = now => {
  const b = window.__bench;
  b.gaps.push(now - b.last); b.last = now;
  if (b.on) requestAnimationFrame(frame);
};
requestAnimationFrame(frame);
"#;

async fn frame_gaps() {
    let session = Session::start().await;
    session.open("/lab").await;
    session
        .wait_for_text("main h1", "The Lab", Duration::from_secs(20))
        .await;
    println!("1. Frame gaps in Chromium while echoes (delay 50–2000 ms) are answered");
    println!("   [target: largest gap ≤ 50 ms, no long task]");
    // MEANWHILE_BENCH_COUNTS=500 measures one size only (e.g. while working on the page).
    let counts: Vec<u32> = std::env::var("MEANWHILE_BENCH_COUNTS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![500, 1000]);
    for rate in [1, 4] {
        session
            .devtools("Emulation.setCPUThrottlingRate", json!({"rate": rate}))
            .await;
        let cpu = if rate == 1 {
            String::new()
        } else {
            format!(", CPU slowed {rate}×")
        };
        if rate > 1 {
            println!("   The same with the CPU slowed {rate}× (DevTools' CPU throttling)");
        }
        for &count in &counts {
            session.click("[data-testid=lab-clear]").await;
            session
                .type_into("[data-testid=lab-count]", &count.to_string())
                .await;
            session.type_into("[data-testid=lab-delay]", "1025").await;
            session.type_into("[data-testid=lab-jitter]", "975").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            session.eval(RECORDER).await;
            let started = Instant::now();
            session.click("[data-testid=lab-start]").await;
            // Checked once a second with one script: every WebDriver command runs in the page,
            // on the main thread being measured (with the CPU slowed, polling every 50 ms
            // through find-then-read added long tasks of its own).
            let wanted = Value::from(count.to_string());
            while session
                .eval("return document.querySelector('[data-testid=sum-ok]').textContent")
                .await
                != wanted
            {
                assert!(
                    started.elapsed() < Duration::from_secs(300),
                    "not every echo answered within 300 s"
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let elapsed = started.elapsed();
            let result = session
                .eval("window.__bench.on = false; return window.__bench")
                .await;
            let mut gaps: Vec<f64> = result["gaps"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default();
            // The first gap spans the script's installation, not a frame.
            if !gaps.is_empty() {
                gaps.remove(0);
            }
            gaps.sort_by(f64::total_cmp);
            let largest = gaps.last().copied().unwrap_or(0.0);
            let p99 = nearest_rank(&gaps, 99.0);
            let long_tasks = result["longTasks"].as_u64().unwrap_or(0);
            let frame_work = session.text("[data-testid=sum-frame-work]").await;
            println!(
                "   {count:>5} requests: {} frames in {:.1} s, largest gap {largest:.1} ms, p99 gap {p99:.1} ms, long tasks {long_tasks}",
                gaps.len(),
                elapsed.as_secs_f64(),
            );
            println!("         {frame_work}");
            let name = format!("{count} echoes{cpu}");
            record(
                "frames",
                &format!("{name}: largest frame gap"),
                largest,
                "ms",
                Some(("≤ 50 ms", largest <= 50.0)),
            );
            record("frames", &format!("{name}: p99 frame gap"), p99, "ms", None);
            record(
                "frames",
                &format!("{name}: long tasks"),
                long_tasks as f64,
                "",
                Some(("none", long_tasks == 0)),
            );
        }
    }
    session
        .devtools("Emulation.setCPUThrottlingRate", json!({"rate": 1}))
        .await;
    session.close().await;
    println!();
}

// ---- 2. Echo at delay 0 against a bare hyper server -----------------------------------------

const CONNECTIONS: usize = 32;
/// The two servers take turns, in pairs of alternating order (hello then echo, echo then hello,
/// …), each over its own keep-alive connections opened once, as a load generator like `wrk`
/// would. A shared machine's slow spells last seconds: in 2 s rounds they often fell on one
/// server only (pairs of rounds ranged 0.64–1.05 within one run); half-second turns put both
/// sides of a pair in the same spell, and are long enough that starting a turn (waking 32 idle
/// connections) costs nothing visible. The ratio is taken within each pair; figures are medians
/// over the pairs.
const PAIRS: usize = 21;
const TURN: Duration = Duration::from_millis(500);

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

fn echo_against_hello() {
    println!("2. Echo at delay 0 against a bare hyper \"hello\" server");
    println!(
        "   ({CONNECTIONS} keep-alive connections each; {PAIRS} pairs of {} ms turns in alternating order, medians) [floor: echo/hello ≥ 0.7; stock middleware is worth more than the rest]",
        TURN.as_millis()
    );
    let (servers, load) = runtimes();

    let hello_addr = servers.block_on(start_hello());
    let folder = tempfile::tempdir().expect("temporary folder");
    let echo_addr = servers.block_on(start_meanwhile(folder.path()));
    // Hello is side 0, the echo side 1.
    let paths = ["/", "/api/lab/echo?seq=1"];
    let mut senders = [
        load.block_on(connect(hello_addr)),
        load.block_on(connect(echo_addr)),
    ];

    // Each turn also records the CPU time the server's one thread and the load generator's
    // thread spent per request: throughput only says which of the two ran out first.
    let turn = |senders: &mut Vec<Sender>, path| {
        let server_before = servers.block_on(server_thread_cpu());
        let load_before = thread_cpu();
        let (back, mut figures) = load.block_on(generate_load(std::mem::take(senders), path, TURN));
        *senders = back;
        let requests = figures.requests.max(1) as f64;
        figures.load_cpu_us = load_before
            .zip(thread_cpu())
            .map(|(before, after)| (after - before).as_secs_f64() * 1e6 / requests);
        figures.server_cpu_us = server_before
            .zip(servers.block_on(server_thread_cpu()))
            .map(|(before, after)| (after - before).as_secs_f64() * 1e6 / requests);
        figures
    };
    // Warm both up (allocator, caches), then measure.
    for _ in 0..4 {
        for side in [0, 1] {
            turn(&mut senders[side], paths[side]);
        }
    }
    let mut figures: [Vec<LoadFigures>; 2] = [Vec::new(), Vec::new()];
    for pair in 0..PAIRS {
        let order = if pair % 2 == 0 { [0, 1] } else { [1, 0] };
        for side in order {
            let measured = turn(&mut senders[side], paths[side]);
            figures[side].push(measured);
        }
    }
    let [hello, echo] = figures;
    for (name, figures) in [("hello", &hello), ("echo", &echo)] {
        println!(
            "   {name:>5}: {:>8.0} requests/s, p99 {:.2} ms (medians; {} requests in all)",
            median(figures, |f| f.per_second),
            median(figures, |f| f.p99_ms),
            figures.iter().map(|f| f.requests).sum::<usize>()
        );
        if figures.iter().all(|f| f.server_cpu_us.is_some()) {
            println!(
                "          CPU per request: server {:.1} µs, load generator {:.1} µs (medians)",
                median(figures, |f| f.server_cpu_us.unwrap_or(0.0)),
                median(figures, |f| f.load_cpu_us.unwrap_or(0.0)),
            );
        }
    }
    let mut ratios: Vec<f64> = hello
        .iter()
        .zip(&echo)
        .map(|(h, e)| e.per_second / h.per_second)
        .collect();
    ratios.sort_by(f64::total_cmp);
    let ratio = nearest_rank(&ratios, 50.0);
    record(
        "echo",
        "echo ÷ hello, requests per second (median of the pairs)",
        ratio,
        "×",
        Some(("≥ 0.7", ratio >= 0.7)),
    );
    println!(
        "   ratio echo/hello: {:.2} requests/s (median of the pairs; middle half {:.2}–{:.2}), {:.2} p99 (hello p99 / echo p99)\n",
        nearest_rank(&ratios, 50.0),
        nearest_rank(&ratios, 25.0),
        nearest_rank(&ratios, 75.0),
        median(&hello, |f| f.p99_ms) / median(&echo, |f| f.p99_ms).max(f64::EPSILON)
    );
    drop(servers);
}

async fn start_hello() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                        b"hello",
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

async fn start_meanwhile(folder: &std::path::Path) -> SocketAddr {
    start_meanwhile_with(folder, server::Connections::default()).await
}

async fn start_meanwhile_with(
    folder: &std::path::Path,
    connections: server::Connections,
) -> SocketAddr {
    let db = server::db::connect(&server::db::Address::Sqlite(folder.join("bench.db")))
        .await
        .expect("database");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("address");
    let state = server::AppState::new(db, server::page::PageFiles::new(folder.join("no-page")));
    tokio::spawn(server::serve(
        listener,
        state,
        connections,
        std::future::pending(),
        Duration::from_secs(1),
    ));
    addr
}

/// The server's runtime (one worker) and the load generator's (the calling thread), so neither
/// steals the other's thread.
fn runtimes() -> (tokio::runtime::Runtime, tokio::runtime::Runtime) {
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a server runtime");
    let load = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a load runtime");
    (servers, load)
}

/// The median of `pick` over the turns' figures.
fn median(figures: &[LoadFigures], pick: fn(&LoadFigures) -> f64) -> f64 {
    let mut values: Vec<f64> = figures.iter().map(pick).collect();
    values.sort_by(f64::total_cmp);
    nearest_rank(&values, 50.0)
}

struct LoadFigures {
    requests: usize,
    per_second: f64,
    p99_ms: f64,
    /// CPU time per request of the server's thread and of the load generator's (Linux only).
    server_cpu_us: Option<f64>,
    load_cpu_us: Option<f64>,
}

/// CPU time the calling thread has run, from Linux's `/proc/thread-self/schedstat`.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// [`thread_cpu`] of the server runtime's one worker thread: asked from a task running there.
async fn server_thread_cpu() -> Option<Duration> {
    tokio::spawn(async { thread_cpu() }).await.ok().flatten()
}

/// Opens the load generator's keep-alive connections to `addr`.
async fn connect(addr: SocketAddr) -> Vec<Sender> {
    let mut senders = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        senders.push(sender);
    }
    senders
}

/// Sends `GET path` on every connection, one request at a time each, for `time`; hands the
/// connections back for the next turn.
async fn generate_load(
    senders: Vec<Sender>,
    path: &'static str,
    time: Duration,
) -> (Vec<Sender>, LoadFigures) {
    let started = Instant::now();
    let workers: Vec<_> = senders
        .into_iter()
        .map(|mut sender| {
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while started.elapsed() < time {
                    let request = hyper::Request::get(path)
                        .header("host", "127.0.0.1")
                        .body(Empty::<Bytes>::new())
                        .expect("a request");
                    let sent = Instant::now();
                    let response = sender.send_request(request).await.expect("an answer");
                    assert!(response.status().is_success(), "{}", response.status());
                    let _ = response.into_body().collect().await.expect("a body");
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                }
                (sender, latencies)
            })
        })
        .collect();
    let mut senders = Vec::with_capacity(CONNECTIONS);
    let mut latencies = Vec::new();
    for worker in workers {
        let (sender, theirs) = worker.await.expect("a worker");
        senders.push(sender);
        latencies.extend(theirs);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let figures = LoadFigures {
        requests: latencies.len(),
        per_second: latencies.len() as f64 / elapsed,
        p99_ms: nearest_rank(&latencies, 99.0),
        server_cpu_us: None,
        load_cpu_us: None,
    };
    (senders, figures)
}

// ---- 3. Memory with 10 000 echoes waiting ----------------------------------------------------

const WAITING: usize = 10_000;
/// Issue 14's flood of waiting echoes closed at once.
const FLOOD: usize = 2_000;

/// The release server, in its own process so its memory is its own; stopped when dropped.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn waiting_memory() {
    println!("3. The release server with {WAITING} echoes waiting (delay 20 s)");
    // Each waiting request is a connection: both processes need that many descriptors.
    let (_, hard) = rlimit::Resource::NOFILE
        .get()
        .expect("the descriptor limit");
    let wanted = (WAITING as u64 * 2 + 1_000).min(hard);
    rlimit::Resource::NOFILE
        .set(wanted, hard)
        .expect("a higher descriptor limit");

    let folder = tempfile::tempdir().expect("temporary folder");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("an address");
    let server = ServerProcess(
        Command::new(env!("CARGO_BIN_EXE_meanwhile"))
            .args(["--addr", &addr.to_string(), "--log", "warn"])
            // Connecting 10 000 clients takes a while; the first must not be cut off meanwhile,
            // and the cap must leave room for them and the bench's own requests.
            .args(["--header-timeout-secs", "60", "--max-connections", "20000"])
            // They all come from one address, which may otherwise hold 256.
            .args(["--max-connections-per-address", "20000"])
            .arg("--database")
            .arg(folder.path().join("bench.db"))
            .arg("--dist")
            .arg(folder.path().join("no-page"))
            .stdout(Stdio::null())
            .spawn()
            .expect("the server starts"),
    );
    let pid = server.0.id();
    let started = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the server never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Warm up, then measure the quick echo and the memory with nothing waiting.
    let before_quick = quick_echo_ms(addr, 200);
    let before = resident_bytes(pid);
    println!(
        "   resident memory {:.1} MiB with nothing waiting",
        before as f64 / 1_048_576.0
    );

    // Issue 14's flood: 2 000 waiting echoes whose clients all close at once.
    let (during, after) = flood(addr, pid, FLOOD);
    println!(
        "   a flood of {FLOOD} waiting echoes: {:.1} MiB while they wait, {:.1} MiB once their clients closed",
        during as f64 / 1_048_576.0,
        after as f64 / 1_048_576.0,
    );

    let settled = resident_bytes(pid);
    let (during, after) = flood(addr, pid, WAITING);
    let per_request = during.saturating_sub(settled) as f64 / WAITING as f64;
    record(
        "memory",
        &format!("resident memory per waiting echo ({WAITING} waiting)"),
        per_request / 1024.0,
        "KB",
        None,
    );
    println!(
        "   {WAITING} waiting: {:.1} MiB → {:.1} MiB, {:.0} bytes per waiting request (connection included); {:.1} MiB once closed",
        settled as f64 / 1_048_576.0,
        during as f64 / 1_048_576.0,
        during.saturating_sub(settled) as f64 / WAITING as f64,
        after as f64 / 1_048_576.0,
    );
    drop(server);
    println!("   a 0-delay echo: median {before_quick:.2} ms with nothing waiting");
}

/// Opens `count` echoes that wait 20 s, then closes every client at once. Returns the server's
/// resident memory while they wait and once the server has let them all go.
fn flood(addr: SocketAddr, pid: u32, count: usize) -> (u64, u64) {
    // Connect first, then send: on some machines each loopback connect takes milliseconds once
    // thousands are open, and 10 000 of them take longer than an echo waits. Sent together, the
    // requests all wait at once. (The server runs with a long header timeout for this reason.)
    let mut waiting = Vec::with_capacity(count);
    for _ in 0..count {
        waiting.push(TcpStream::connect(addr).expect("connects"));
    }
    for (seq, stream) in waiting.iter_mut().enumerate() {
        let request = format!(
            "GET /api/lab/echo?delay_ms=20000&seq={seq} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).expect("sent");
    }
    let reached = wait_for_waiting(addr, count as u64, Duration::from_secs(10));
    assert_eq!(
        reached, count as u64,
        "only {reached} of {count} waiting after 10 s"
    );
    let during = resident_bytes(pid);
    let quick = quick_echo_ms(addr, 200);
    println!("   a 0-delay echo with {count} waiting: median {quick:.2} ms");
    let panel = panel_sample(addr);
    let echoes = panel["requests"]
        .as_array()
        .and_then(|routes| routes.iter().find(|r| r["name"] == "/api/lab/echo"))
        .and_then(|route| route["count"].as_u64())
        .unwrap_or(0);
    println!(
        "   the server panel meanwhile: {echoes} echoes being answered on {} threads, {} tasks alive, {} connections",
        panel["threads"], panel["tasks"], panel["connections"]
    );
    drop(waiting);
    let started = Instant::now();
    while stats(addr)["in_flight"].as_u64().unwrap_or(u64::MAX) > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the closed clients' echoes are still waiting"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (during, resident_bytes(pid))
}

/// Median time of `count` sequential 0-delay echoes on one keep-alive connection, in ms.
fn quick_echo_ms(addr: SocketAddr, count: usize) -> f64 {
    let mut stream = TcpStream::connect(addr).expect("connects");
    let mut times = Vec::with_capacity(count);
    for seq in 0..count {
        let request = format!("GET /api/lab/echo?seq={seq} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        let sent = Instant::now();
        stream.write_all(request.as_bytes()).expect("sent");
        read_response(&mut stream);
        times.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    nearest_rank(&times, 50.0)
}

/// Reads one HTTP/1.1 response with a Content-Length body; returns the body.
fn read_response(stream: &mut TcpStream) -> String {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = stream.read(&mut chunk).expect("reads");
        assert!(read > 0, "the server closed the connection");
        buffer.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&buffer);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if buffer.len() >= head_end + 4 + length {
                return text[head_end + 4..head_end + 4 + length].to_owned();
            }
        }
    }
}

/// Waits until at least `wanted` echoes wait on the server, or `within` passes; returns how many do.
fn wait_for_waiting(addr: SocketAddr, wanted: u64, within: Duration) -> u64 {
    let started = Instant::now();
    loop {
        let waiting = stats(addr)["in_flight"].as_u64().unwrap_or(0);
        if waiting >= wanted || started.elapsed() > within {
            return waiting;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The server panel's first sample (`GET /api/server/live`), read off the stream's first event.
fn panel_sample(addr: SocketAddr) -> Value {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .write_all(b"GET /api/server/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("sent");
    let mut text = String::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = stream.read(&mut chunk).expect("reads");
        assert!(read > 0, "the server closed the panel's stream");
        text.push_str(&String::from_utf8_lossy(&chunk[..read]));
        // The body is chunked: the event's `data:` line is whole once its line ends.
        if let Some(data) = text.split("data:").nth(1)
            && let Some((json, _)) = data.split_once('\n')
        {
            return serde_json::from_str(json.trim()).expect("a sample");
        }
    }
}

fn stats(addr: SocketAddr) -> Value {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .write_all(b"GET /api/lab/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .expect("sent");
    serde_json::from_str(&read_response(&mut stream)).expect("stats")
}

/// Resident memory of process `pid` (Linux `/proc`), in bytes.
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}
