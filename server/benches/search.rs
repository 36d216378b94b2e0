//! `cargo xtask bench`, the Search room's part: how long the index takes to build and how much
//! memory it holds, and the server-side latency of a search over a fixed list of realistic
//! queries (one to four words, prefixes of one to six letters, code points, characters).
//! Target: p99 ≤ 2 ms (aim for 0.5 ms); the index built in under a second. The worst queries
//! the API allows (50 one-letter words, 100 letters in one word, …), and `GET /api/health` p99
//! on the release server while 8 clients search the worst of them, beside idle in the same run
//! (target: within 2×). Then, in headless
//! Chromium against the real server: from the last keystroke to the frame that paints the
//! results, and from the answer's arrival to that frame. Target: within one frame.
//!
//! Figures are printed, not asserted: the machines are shared and noisy.

// The browser tests' session helper; the benchmark uses only part of it.
#[allow(dead_code)]
#[path = "../tests/e2e/browser.rs"]
mod browser;
mod support;

use std::time::{Duration, Instant};

use browser::Session;
use serde_json::Value;
use server::search::Index;

/// What people type, as they type it.
const QUERIES: &[&str] = &[
    "s",
    "sn",
    "sno",
    "snow",
    "snowm",
    "snowman",
    "a",
    "ar",
    "arrow",
    "right arrow",
    "rightwards arrow",
    "left right arrow",
    "em",
    "em dash",
    "dash",
    "greek",
    "greek small letter alpha",
    "alpha greek",
    "latin capital letter a with",
    "box drawings light",
    "face",
    "smiling face with",
    "white star",
    "check mark",
    "mathematical bold",
    "heart",
    "U+2603",
    "0x1F600",
    "☃",
    "→",
];

/// How many times each query is searched.
const ROUNDS: usize = 50;

/// The most expensive queries the API allows (at most 100 characters), as an attacker would
/// choose them: many short words, each matching most names.
fn worst_queries() -> Vec<String> {
    let letters: Vec<String> = ('a'..='z').map(String::from).collect();
    vec![
        // 50 one-letter words, all different as far as the alphabet goes.
        (0..50)
            .map(|i| letters[i % 26].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        // 50 of the commonest letter.
        vec!["e"; 50].join(" "),
        // The vowels, again and again.
        ["a", "e", "i", "o", "u"].repeat(10).join(" "),
        // One word of 100 letters, and words that match everywhere but never all together.
        "e".repeat(100),
        vec!["er"; 33].join(" "),
        "a b c d e f g h i j k l m n o p q r s t u v w x y z 0 1 2 3 4 5 6 7 8 9 - a b c d e f g h i j k l m n".to_owned(),
    ]
}

fn main() {
    let only = std::env::var("MEANWHILE_BENCH_ONLY").unwrap_or_default();
    if !(only.is_empty() || only.split(',').any(|part| part.trim() == "search")) {
        return;
    }
    println!("4. Search over every named Unicode character (in process, release build)");
    let before = resident_bytes();
    let started = Instant::now();
    let index = Index::build();
    let built = started.elapsed();
    let after = resident_bytes();
    println!(
        "   index: {} characters built in {:.0} ms [target: < 1000 ms, off the async workers], {:.1} MiB resident",
        index.len(),
        built.as_secs_f64() * 1000.0,
        after.saturating_sub(before) as f64 / 1_048_576.0
    );
    let built_ms = built.as_secs_f64() * 1000.0;
    support::record(
        "search",
        "index build",
        built_ms,
        "ms",
        Some(("< 1000 ms", built_ms < 1000.0)),
    );

    let mut all = Vec::with_capacity(QUERIES.len() * ROUNDS);
    let mut slowest = (Duration::ZERO, "");
    for query in QUERIES {
        let mut times: Vec<Duration> = (0..ROUNDS)
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(index.search(query, 0, 20));
                started.elapsed()
            })
            .collect();
        times.sort_unstable();
        let median = times[times.len() / 2];
        if median > slowest.0 {
            slowest = (median, query);
        }
        all.extend(times);
    }
    all.sort_unstable();
    let at = |p: f64| {
        let rank = ((p / 100.0) * all.len() as f64).ceil() as usize;
        all[rank.clamp(1, all.len()) - 1].as_secs_f64() * 1000.0
    };
    println!(
        "   search, first page of 20 ({} queries × {ROUNDS}): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms [target: p99 ≤ 2 ms, aim 0.5 ms]",
        QUERIES.len(),
        at(50.0),
        at(99.0),
        at(100.0)
    );
    support::record(
        "search",
        "search p99 (first page of 20)",
        at(99.0),
        "ms",
        Some(("≤ 2 ms", at(99.0) <= 2.0)),
    );
    println!(
        "   slowest query: {:?}, median {:.3} ms",
        slowest.1,
        slowest.0.as_secs_f64() * 1000.0
    );

    let mut worst = (Duration::ZERO, String::new());
    for query in worst_queries() {
        let mut times: Vec<Duration> = (0..ROUNDS)
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(index.search(&query, 0, 20));
                started.elapsed()
            })
            .collect();
        times.sort_unstable();
        let median = times[times.len() / 2];
        if median > worst.0 {
            worst = (median, query);
        }
    }
    let worst_ms = worst.0.as_secs_f64() * 1000.0;
    println!(
        "   worst allowed query: {:?}, median {worst_ms:.3} ms [target: as cheap as an ordinary query, ≤ 2 ms]",
        worst.1
    );
    support::record(
        "search",
        "worst allowed query (median)",
        worst_ms,
        "ms",
        Some(("≤ 2 ms", worst_ms <= 2.0)),
    );
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(health_while_searching(&worst.1));
    runtime.block_on(keystroke_to_paint());
}

/// p99 of `GET /api/health`, one at a time, in ms.
async fn health_p99(client: &reqwest::Client, server: &support::ServerProcess) -> f64 {
    let mut times = Vec::with_capacity(300);
    for _ in 0..300 {
        let sent = Instant::now();
        let response = client
            .get(server.url("/api/health"))
            .send()
            .await
            .expect("sent");
        response.bytes().await.expect("read");
        times.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    support::nearest_rank(&times, 99.0)
}

/// `/api/health` p99 on the release server, idle and while 8 clients search `query` in a loop.
async fn health_while_searching(query: &str) {
    let folder = tempfile::tempdir().expect("temporary folder");
    let server = support::ServerProcess::start(folder.path(), &[]);
    let client = reqwest::Client::new();
    let search_url = format!(
        "{}?{}",
        server.url("/api/search"),
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("q", query)
            .finish()
    );
    // The index is ready, and the connection warm.
    client.get(&search_url).send().await.expect("searched");
    health_p99(&client, &server).await;
    let idle = health_p99(&client, &server).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let searchers: Vec<_> = (0..8)
        .map(|_| {
            let (client, url, stop) = (reqwest::Client::new(), search_url.clone(), stop.clone());
            tokio::spawn(async move {
                let mut searches = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let response = client.get(&url).send().await.expect("searched");
                    response.bytes().await.expect("read");
                    searches += 1;
                }
                searches
            })
        })
        .collect();
    let started = Instant::now();
    let busy = health_p99(&client, &server).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut searches = 0;
    for searcher in searchers {
        searches += searcher.await.expect("a searcher");
    }
    let rate = searches as f64 / started.elapsed().as_secs_f64();
    let ratio = busy / idle.max(0.001);
    println!(
        "   /api/health p99: {idle:.2} ms idle, {busy:.2} ms while 8 clients search the worst query ({rate:.0} searches/s): {ratio:.1}× [target: ≤ 2×]"
    );
    support::record("search", "health p99 idle", idle, "ms", None);
    support::record(
        "search",
        "health p99 while 8 clients search the worst query",
        busy,
        "ms",
        Some(("≤ 2× idle", ratio <= 2.0)),
    );
}

/// Installed in the Search page: the time of the last keystroke, and of the first animation
/// frame after the status line says the results for `want` are in (that frame paints them).
const PAINT_RECORDER: &str = r#"
const box = document.querySelector('[data-testid=search-box]');
const status = document.querySelector('[data-testid=search-status]');
window.__paint = { want: '', keyed: 0, painted: 0, read: {} };
box.addEventListener('input', () => { window.__paint.keyed = performance.now(); window.__paint.painted = 0; });
// When the page has the answer's body in hand (`response.text()` resolves): the time between the
// browser's responseEnd and this is the browser's own delivery, not the page's work.
const text = Response.prototype.text;
Response.prototype.text = function () {
  return text.call(this).then(body => {
    window.__paint.read[this.url] = performance.now();
    return body;
  });
};
new MutationObserver(() => {
  const p = window.__paint;
  if (!p.want || p.painted || !status.textContent.includes(p.want)) return;
  p.painted = -1;
  requestAnimationFrame(t => { p.painted = t; });
}).observe(status, { childList: true, subtree: true, characterData: true });
"#;

/// Queries typed in the page, one keystroke at a time (each keystroke a request).
const TYPED: &[&str] = &[
    "snowman",
    "right arrow",
    "greek alpha",
    "heart",
    "em dash",
    "box drawings",
    "face with",
    "white star",
];

async fn keystroke_to_paint() {
    println!(
        "   in Chromium, debounce 0, latest wins, typing each of {} queries:",
        TYPED.len()
    );
    let session = Session::start().await;
    session.open_started("/search").await;
    session
        .type_into("[data-testid=search-debounce]", "0")
        .await;
    session.eval(PAINT_RECORDER).await;
    let (mut to_paint, mut after_answer) = (Vec::new(), Vec::new());
    let (mut delivered, mut after_read) = (Vec::new(), Vec::new());
    for query in TYPED {
        let want = format!("for “{query}”");
        session
            .eval(&format!(
                "window.__paint.want = {}; window.__paint.painted = 0;",
                serde_json::to_string(&want).expect("a string")
            ))
            .await;
        session.type_into("[data-testid=search-box]", query).await;
        session
            .wait_until("the results painted", Duration::from_secs(10), async || {
                session.eval("return window.__paint.painted").await.as_f64() > Some(0.0)
            })
            .await;
        let figures: Value = session
            .eval(&format!(
                "const p = window.__paint;
                 const q = new URLSearchParams({{ q: {} }}).toString();
                 const answer = performance.getEntriesByType('resource')
                   .filter(e => e.name.includes('/api/search?' + q + '&')).pop();
                 return [p.painted - p.keyed, answer ? p.painted - answer.responseEnd : null,
                         answer ? p.read[answer.name] - answer.responseEnd : null,
                         answer ? Math.max(0, p.painted - p.read[answer.name]) : null];",
                serde_json::to_string(query).expect("a string")
            ))
            .await;
        to_paint.extend(figures[0].as_f64());
        after_answer.extend(figures[1].as_f64());
        delivered.extend(figures[2].as_f64());
        after_read.extend(figures[3].as_f64());
    }
    session.close().await;
    let median = |values: &[f64]| {
        let mut values = values.to_vec();
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
    };
    support::record(
        "search",
        "last keystroke → results painted, median",
        median(&to_paint),
        "ms",
        None,
    );
    let arrived_to_frame = median(&after_answer);
    support::record(
        "search",
        "answer arrived → its frame, median",
        arrived_to_frame,
        "ms",
        Some(("≤ 16.7 ms", arrived_to_frame <= 16.7)),
    );
    let summary = |values: &[f64]| {
        let max = values.iter().copied().fold(f64::NAN, f64::max);
        format!("median {:.1} ms, max {max:.1} ms", median(values))
    };
    println!(
        "   last keystroke → the frame that paints its results: {}",
        summary(&to_paint)
    );
    println!(
        "   answer arrived → that frame: {} [target: within one frame, 16.7 ms]",
        summary(&after_answer)
    );
    println!(
        "     of which: responseEnd → the body in the page's hands (the browser's delivery): {}",
        summary(&delivered)
    );
    println!(
        "     and: body in hand → the frame that paints it (parse, render, wait; 0 = the frame under way): {}",
        summary(&after_read)
    );
}

/// This process's resident memory (Linux `/proc`), in bytes.
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}
