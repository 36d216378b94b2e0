//! `cargo xtask bench`: what a first visit costs, measured in headless Chromium.
//!
//! Start-up: from navigation start to interactive — the heartbeat's clock showing a time and the
//! server status showing "Server up" — over cold loads (the browser's cache disabled), taking
//! turns with a plain HTML page whose inline script does the same two things (a clock, a fetch of
//! `/api/health`). Both are served by the release server's code in this process, the plain page by
//! a second instance with its own `dist` folder: the server sends every `index.html` with a policy
//! that lets exactly its inline scripts run. Then the same with the CPU slowed 4× (DevTools' CPU
//! throttling), what a mid-range phone feels. Also what the browser reports transferred for a
//! first visit (resource timing's `transferSize`), and where the time goes on the median load.
//!
//! Figures, not assertions: the machines are shared and noisy; the ratio within one run is the
//! steady figure.

#[allow(dead_code)]
#[path = "../tests/e2e/browser.rs"]
mod browser;
mod support;

use std::time::Duration;

use browser::Session;
use serde_json::{Value, json};
use support::{nearest_rank, record};

/// Cold loads of each page per CPU setting, after one load of each that is not counted (the
/// browser's own first start-up).
const LOADS: usize = 10;

fn main() {
    let only = std::env::var("MEANWHILE_BENCH_ONLY").unwrap_or_default();
    let wanted = |part: &str| only.is_empty() || only.split(',').any(|p| p.trim() == part);
    if !wanted("startup") {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(start_up());
}

/// The plain page: no framework, no WebAssembly, the same two things shown.
const PLAIN_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Plain</title></head>
<body>
<span data-testid="heartbeat-clock">--:--:--.-</span>
<div data-testid="server-status">Checking the server…</div>
<script>
const clock = document.querySelector('[data-testid=heartbeat-clock]');
const two = n => String(n).padStart(2, '0');
const tick = () => {
  const d = new Date();
  clock.textContent = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${Math.floor(d.getMilliseconds() / 100)}`;
  requestAnimationFrame(tick);
};
requestAnimationFrame(tick);
fetch('/api/health').then(r => r.json()).then(h => {
  document.querySelector('[data-testid=server-status]').textContent = `Server up · v${h.version}`;
});
</script>
</body>
</html>
"#;

/// Installed in every new document before its own scripts: notes when the clock first shows a
/// time and when the status first says the server is up (`performance.now()`, from navigation
/// start).
const PROBE: &str = r#"
(() => {
  const seen = window.__startup = {};
  const look = () => {
    const now = performance.now();
    const clock = document.querySelector('[data-testid=heartbeat-clock]');
    const status = document.querySelector('[data-testid=server-status]');
    if (seen.clock === undefined && clock && /\d\d:\d\d/.test(clock.textContent)) seen.clock = now;
    if (seen.status === undefined && status && status.textContent.includes('Server up')) seen.status = now;
    if (seen.clock !== undefined && seen.status !== undefined) {
      seen.interactive = Math.max(seen.clock, seen.status);
      observer.disconnect();
    }
  };
  const observer = new MutationObserver(look);
  observer.observe(document, { subtree: true, childList: true, characterData: true });
})();
"#;

/// What one load measured, read from the page once it is interactive.
const READ: &str = r#"
const s = window.__startup;
if (!s || s.interactive === undefined) return null;
const navigation = performance.getEntriesByType('navigation')[0];
const resources = performance.getEntriesByType('resource').map(r => ({
  name: r.name, transfer: r.transferSize, encoded: r.encodedBodySize, decoded: r.decodedBodySize,
  end: r.responseEnd,
}));
return { clock: s.clock, status: s.status, interactive: s.interactive,
  document: navigation.transferSize, resources };
"#;

struct Load {
    interactive: f64,
    clock: f64,
    status: f64,
    reading: Value,
}

async fn start_up() {
    println!("Page start-up in headless Chromium (figures, not pass/fail; targets in brackets)\n");
    let session = Session::start().await;
    let plain_folder = tempfile::tempdir().expect("a folder");
    std::fs::write(plain_folder.path().join("index.html"), PLAIN_PAGE).expect("written");
    let (plain_address, _plain) = serve_plain(plain_folder.path()).await;

    session.devtools("Network.enable", json!({})).await;
    session
        .devtools("Network.setCacheDisabled", json!({"cacheDisabled": true}))
        .await;
    session
        .devtools(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": PROBE}),
        )
        .await;
    let app = format!("{}/", session.address);
    let plain = format!("{plain_address}/");

    for (rate, part_name) in [(1, "start-up"), (4, "start-up, CPU slowed 4×")] {
        session
            .devtools("Emulation.setCPUThrottlingRate", json!({"rate": rate}))
            .await;
        println!(
            "{part_name}: {LOADS} cold loads of each, taking turns [app: median ≤ 150 ms and ≤ 2.5× plain]"
        );
        // Uncounted: the browser's first start-up of each.
        load(&session, &app).await;
        load(&session, &plain).await;
        let mut apps = Vec::new();
        let mut plains = Vec::new();
        for _ in 0..LOADS {
            apps.push(load(&session, &app).await);
            plains.push(load(&session, &plain).await);
        }
        let app_times = sorted(apps.iter().map(|l| l.interactive));
        let plain_times = sorted(plains.iter().map(|l| l.interactive));
        let app_median = nearest_rank(&app_times, 50.0);
        let plain_median = nearest_rank(&plain_times, 50.0);
        let ratio = app_median / plain_median;
        let app_max = app_times.last().copied().unwrap_or_default();
        let plain_max = plain_times.last().copied().unwrap_or_default();
        println!("   app:   median {app_median:.0} ms, max {app_max:.0} ms");
        println!("   plain: median {plain_median:.0} ms, max {plain_max:.0} ms");
        println!("   ratio of the medians: {ratio:.2}");
        let gated = rate == 1;
        record(
            "startup",
            &format!("{part_name}: app median"),
            app_median,
            "ms",
            gated.then_some(("≤ 150 ms", app_median <= 150.0)),
        );
        record(
            "startup",
            &format!("{part_name}: app max"),
            app_max,
            "ms",
            None,
        );
        record(
            "startup",
            &format!("{part_name}: plain page median"),
            plain_median,
            "ms",
            None,
        );
        record(
            "startup",
            &format!("{part_name}: plain page max"),
            plain_max,
            "ms",
            None,
        );
        record(
            "startup",
            &format!("{part_name}: app ÷ plain (medians)"),
            ratio,
            "×",
            gated.then_some(("≤ 2.5×", ratio <= 2.5)),
        );

        // The load closest to the median, step by step.
        let middle = apps
            .iter()
            .min_by(|a, b| {
                (a.interactive - app_median)
                    .abs()
                    .total_cmp(&(b.interactive - app_median).abs())
            })
            .expect("loads");
        let arrived = |suffix: &str| {
            resources(&middle.reading)
                .find(|r| r["name"].as_str().is_some_and(|n| n.ends_with(suffix)))
                .and_then(|r| r["end"].as_f64())
                .unwrap_or(f64::NAN)
        };
        println!(
            "   a median load: wasm arrived {:.0} ms · clock shown {:.0} ms · /api/health answered {:.0} ms · status shown {:.0} ms",
            arrived(".wasm"),
            middle.clock,
            arrived("/api/health"),
            middle.status,
        );
        if rate == 1 {
            transferred(&middle.reading);
        }
        println!();
    }
    session
        .devtools("Emulation.setCPUThrottlingRate", json!({"rate": 1}))
        .await;
    session.close().await;
}

/// A cold load of `url`: a blank page first (the previous page's work ends), then the page, then
/// wait until the probe has seen it interactive.
async fn load(session: &Session, url: &str) -> Load {
    session.browser.goto("about:blank").await.expect("blank");
    session.browser.goto(url).await.expect("the page opens");
    for _ in 0..600 {
        let reading = session.eval(READ).await;
        if !reading.is_null() {
            let at = |key: &str| reading[key].as_f64().unwrap_or(f64::NAN);
            return Load {
                interactive: at("interactive"),
                clock: at("clock"),
                status: at("status"),
                reading,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} never showed a ticking clock and the server up");
}

/// The first visit's bytes as the browser counted them: headers and body as sent (after the
/// server's compression), per file and in total.
fn transferred(reading: &Value) {
    let document = reading["document"].as_f64().unwrap_or_default();
    let mut total = document;
    let mut lines = vec![format!("document {:.1} KB", document / 1024.0)];
    for resource in resources(reading) {
        let name = resource["name"].as_str().unwrap_or_default();
        if name.contains("/api/") {
            continue;
        }
        let transfer = resource["transfer"].as_f64().unwrap_or_default();
        let decoded = resource["decoded"].as_f64().unwrap_or_default();
        total += transfer;
        let file = name.rsplit('/').next().unwrap_or(name);
        lines.push(format!(
            "{file} {:.1} KB ({:.1} KB unpacked)",
            transfer / 1024.0,
            decoded / 1024.0
        ));
    }
    let total_kb = total / 1024.0;
    println!("   transferred on a first visit, as the browser reports it: {total_kb:.1} KB");
    println!("      {}", lines.join(" · "));
    record(
        "weight",
        "first visit, transferred (Chromium's transferSize)",
        total_kb,
        "KB",
        Some(("≤ 150 KB", total_kb <= 150.0)),
    );
}

fn resources(reading: &Value) -> impl Iterator<Item = &Value> {
    reading["resources"].as_array().into_iter().flatten()
}

fn sorted(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values
}

/// The plain page served by a second instance of the server in this process (its own database
/// and `dist` folder); returns its address and what keeps it running.
async fn serve_plain(dist: &std::path::Path) -> (String, (tempfile::TempDir, server::AppState)) {
    let folder = tempfile::tempdir().expect("a folder");
    let db = server::db::connect(&server::db::Address::Sqlite(folder.path().join("plain.db")))
        .await
        .expect("database");
    let state = server::AppState::new(db, server::page::PageFiles::new(dist));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let shutdown = state.shutdown.clone();
    tokio::spawn(server::serve(
        listener,
        state.clone(),
        server::Connections::default(),
        async move { shutdown.cancelled().await },
        Duration::from_secs(1),
    ));
    (address, (folder, state))
}
