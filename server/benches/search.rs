//! `cargo xtask bench`, the Search room's part: how long the index takes to build and how much
//! memory it holds, and the server-side latency of a search over a fixed list of realistic
//! queries (one to four words, prefixes of one to six letters, code points, characters).
//! Target: p99 ≤ 2 ms (aim for 0.5 ms); the index built in under a second.
//!
//! Figures are printed, not asserted: the machines are shared and noisy.

use std::time::{Duration, Instant};

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
    println!(
        "   slowest query: {:?}, median {:.3} ms",
        slowest.1,
        slowest.0.as_secs_f64() * 1000.0
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
