//! `cargo xtask <command>`: Meanwhile's automation, in Rust so it runs wherever cargo does.
//!
//! - `run`  installs what is missing, builds the page (release) and the server, and serves both.
//! - `dev`  runs the server and `trunk serve` together: edit, save, the page reloads.
//! - `cluster` the same page on two servers: PostgreSQL, two instances, nginx in front.
//! - `test` the same setup, then every test layer: protocol, server, in-browser wasm, end-to-end.
//! - `bench` the performance targets of the issues, measured in Chromium and under real load.

mod cluster;
mod names;
mod page;
mod postgres;
mod report;
mod setup;
mod shell;
mod split;

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Meanwhile's automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Install what is missing, build the page and the server in release mode, and serve them
    /// (http://127.0.0.1:3000 by default). Arguments after `--` go to the server, e.g.
    /// `cargo xtask run -- --addr 0.0.0.0:8080`.
    Run {
        #[arg(last = true)]
        server_args: Vec<String>,
    },
    /// Run the server (debug build) and `trunk serve` (http://127.0.0.1:8080, proxying /api to the
    /// server) together, rebuilding the page on every change. Arguments after `--` go to the server.
    Dev {
        #[arg(last = true)]
        server_args: Vec<String>,
    },
    /// Like `run`, on two servers: starts PostgreSQL (installed with apt-get when missing; its
    /// data kept in target/postgres/cluster), two instances of the server on it, and nginx in front
    /// on http://127.0.0.1:3000. Arguments after `--` go to both instances.
    Cluster {
        #[arg(last = true)]
        server_args: Vec<String>,
    },
    /// Install what is missing (Chromium and ChromeDriver included), then run every test layer.
    Test,
    /// Measure the performance targets and write them to target/bench/report.md and report.json:
    /// the page's weight and start-up, frame gaps in Chromium during a Lab run (also with the CPU
    /// slowed 4×), echo throughput against a bare hyper server, memory per waiting request, each
    /// room's own figures (Search, Mail, Tasks), and several instances on one database.
    Bench,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { server_args } => run(&server_args),
        Command::Dev { server_args } => dev(&server_args),
        Command::Cluster { server_args } => cluster(&server_args),
        Command::Test => test(),
        Command::Bench => bench(),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("\nxtask: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The workspace root (this crate lives in `crates/xtask`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Builds the release page and server; returns the page's folder and the server's binary.
fn build_release(root: &Path) -> Result<(PathBuf, PathBuf)> {
    let tools = setup::page_tools(root)?;
    let dist = page::build_release(root, &tools)?;
    shell::step("Building the server (release)");
    shell::cargo(
        root,
        &[
            "build",
            "--release",
            "--package",
            "server",
            "--bin",
            "meanwhile",
        ],
    )?;
    Ok((dist, root.join("target/release/meanwhile")))
}

fn run(server_args: &[String]) -> Result<()> {
    let root = root();
    let (dist, binary) = build_release(&root)?;
    shell::step("Starting the server");
    let mut command = std::process::Command::new(binary);
    command
        .current_dir(&root)
        .arg("--dist")
        .arg(&dist)
        .args(server_args);
    shell::replace_process(command)
}

fn cluster(server_args: &[String]) -> Result<()> {
    let root = root();
    let (dist, binary) = build_release(&root)?;
    cluster::run(&root, &binary, &dist, server_args)
}

fn dev(server_args: &[String]) -> Result<()> {
    let root = root();
    let tools = setup::page_tools(&root)?;
    shell::step("Building the server (debug)");
    shell::cargo(
        &root,
        &["build", "--package", "server", "--bin", "meanwhile"],
    )?;
    shell::step("Starting the server and `trunk serve` (Ctrl-C stops both)");
    println!("    page:   http://127.0.0.1:8080  (rebuilt on every change)");
    println!("    server: http://127.0.0.1:3000  (the page proxies /api to it)");
    let mut server = std::process::Command::new(root.join("target/debug/meanwhile"));
    server
        .current_dir(&root)
        .arg("--dist")
        .arg(root.join("dist"))
        .args(server_args);
    let mut trunk = tools.trunk_command(&root);
    trunk.arg("serve");
    shell::run_together(vec![("server", server), ("trunk serve", trunk)])
}

fn test() -> Result<()> {
    let root = root();
    let tools = setup::page_tools(&root)?;
    let browser = setup::browser_tools(&root)?;

    shell::step("Test layer 1 and 2: protocol and server (cargo test), the server on SQLite");
    shell::cargo(&root, &["test", "--workspace", "--exclude", "frontend"])?;
    // One PostgreSQL server for the run (stopped when dropped), each test in a database of its own.
    let postgres = postgres::Postgres::start(&root, "test", true)?;
    let postgres_url = postgres.url("postgres");
    shell::step("Test layer 2 again: the server's storage and API on PostgreSQL");
    let mut on_postgres = shell::cargo_command(&root);
    // The packages of the first run, so the tests are not built again with other features.
    on_postgres
        .args([
            "test",
            "--workspace",
            "--exclude",
            "frontend",
            "--test",
            "api",
        ])
        .env("MEANWHILE_TEST_POSTGRES", &postgres_url);
    shell::status(on_postgres, "the server's tests on PostgreSQL")?;

    shell::step("Test layer 3: the frontend in headless Chromium (wasm-pack test)");
    // Each test file's browser leaves its profile (~150 MB) in the temporary folder when the
    // runner stops it: give them a folder of ours and remove it afterwards.
    let scratch = root.join("target/wasm-pack-tmp");
    std::fs::create_dir_all(&scratch)?;
    let mut wasm_pack = browser.wasm_pack_command(&root, &tools);
    wasm_pack
        .args(["test", "--headless", "--chrome", "frontend"])
        .env("TMPDIR", &scratch);
    let tested = shell::status(wasm_pack, "wasm-pack test");
    let _ = std::fs::remove_dir_all(&scratch);
    tested?;

    let dist = page::build_release(&root, &tools)?;
    shell::step("Test layer 4: end to end, the release page in Chromium through ChromeDriver");
    // One browser at a time: the tests check that the page runs no long task while it waits,
    // and two browsers with their servers on two cores stretch the page's tasks past 50 ms
    // (seen: 55–73 ms in the Lab, never with one). About a minute and a half more.
    let mut e2e = browser_cargo(&root, &dist, &browser, &["test", "--test", "e2e"]);
    // The browser tests run on SQLite; two instances on one database use PostgreSQL's.
    e2e.args(["--", "--test-threads=1"])
        .env("MEANWHILE_TEST_POSTGRES", &postgres_url);
    shell::status(e2e, "end-to-end tests")?;
    drop(postgres);
    println!("\nxtask: every test layer passed");
    Ok(())
}

fn bench() -> Result<()> {
    let root = root();
    let tools = setup::page_tools(&root)?;
    let browser = setup::browser_tools(&root)?;
    let dist = page::build_release(&root, &tools)?;
    // MEANWHILE_BENCH_ONLY=weight,tasks runs only the named parts (every part by default).
    let only = std::env::var("MEANWHILE_BENCH_ONLY").unwrap_or_default();
    let parts: Vec<&str> = only
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let wanted = |part: &str| parts.is_empty() || parts.contains(&part);
    let mut figures = Vec::new();
    if wanted("weight") {
        shell::step("Page weight: what a first visit loads, from dist/ (KB = 1024 bytes)");
        figures = report::page_weight(&dist, &report::rooms(&root)?)?;
        report::write(&root, &figures)?;
    }
    if wanted("bytes") {
        shell::step("Where the wasm's bytes go, by crate and by room (a build that keeps names)");
        let twiggy = setup::twiggy(&root)?;
        let wasm = names::build(&root, &tools)?;
        let shipped = shipped_wasm_gzip_kb(&dist)?;
        figures.extend(names::figures(&twiggy, &wasm, shipped)?);
        report::write(&root, &figures)?;
    }
    if !parts.is_empty() && parts.iter().all(|part| ["weight", "bytes"].contains(part)) {
        return Ok(());
    }
    shell::step("Benchmarks (release build; figures, not pass/fail)");
    let figures_file = root.join(report::FIGURES);
    if let Some(folder) = figures_file.parent() {
        std::fs::create_dir_all(folder)?;
    }
    let _ = std::fs::remove_file(&figures_file);
    let mut bench = browser_cargo(
        &root,
        &dist,
        &browser,
        &[
            "bench", "--bench", "page", "--bench", "lab", "--bench", "search", "--bench", "mail",
            "--bench", "tasks", "--bench", "cluster",
        ],
    );
    bench.env("MEANWHILE_BENCH_FIGURES", &figures_file);
    // Several instances on one database: PostgreSQL's, started for the run (when that part runs).
    let postgres = if wanted("cluster") {
        let postgres = postgres::Postgres::start(&root, "bench", true)?;
        bench.env("MEANWHILE_TEST_POSTGRES", postgres.url("postgres"));
        Some(postgres)
    } else {
        None
    };
    let ran = shell::status(bench, "the benchmarks");
    drop(postgres);
    // What was measured goes into the report even when a later part failed.
    shell::step("The report");
    figures.extend(report::read_figures(&figures_file)?);
    report::write(&root, &figures)?;
    ran
}

/// The size of the gzip copies of the built wasm files (the shell's and the rooms'), in KB.
fn shipped_wasm_gzip_kb(dist: &Path) -> Result<f64> {
    let mut bytes = 0;
    for entry in std::fs::read_dir(dist)? {
        let path = entry?.path();
        if path.to_string_lossy().ends_with(".wasm.gz") {
            bytes += std::fs::metadata(path)?.len();
        }
    }
    Ok(bytes as f64 / 1024.0)
}

/// `cargo <command> --package server --features e2e <targets…>`, told where the built page, the
/// browser and its driver are (the end-to-end tests and the benchmarks share this).
fn browser_cargo(
    root: &Path,
    dist: &Path,
    browser: &setup::BrowserTools,
    command_and_targets: &[&str],
) -> std::process::Command {
    let (command, targets) = command_and_targets.split_first().unwrap_or((&"test", &[]));
    let mut cargo = shell::cargo_command(root);
    cargo
        .args([command, "--package", "server", "--features", "e2e"])
        .args(targets)
        .env("MEANWHILE_E2E_DIST", dist)
        .env("MEANWHILE_E2E_CHROMEDRIVER", &browser.chromedriver)
        .env("MEANWHILE_E2E_CHROMIUM", &browser.chromium)
        .env("MEANWHILE_E2E_AXE", &browser.axe);
    cargo
}
