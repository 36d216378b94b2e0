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
