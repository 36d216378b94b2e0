//! A PostgreSQL server of our own, for the tests, the benchmarks and `cargo xtask cluster`:
//! Debian's server (installed with apt-get when missing, as Chromium is), a data folder of its own
//! under `target/postgres/`, a free port on 127.0.0.1, its socket in its folder. Stopped when
//! dropped. PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::setup;
use crate::shell::{self, step};

/// The role the server is made with (trusted on 127.0.0.1: no password).
const USER: &str = "meanwhile";

#[derive(Debug)]
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    run_as: Option<&'static str>,
}

impl Postgres {
    /// Starts a server on the data folder `name` under `target/postgres/`: a new, empty one when
    /// `fresh` (the tests'), else the one kept from the last start, made when missing.
    pub fn start(root: &Path, name: &str, fresh: bool) -> Result<Self> {
        let bin = find_or_install()?;
        let run_as = setup::is_root().then_some("postgres");
        let data = data_folder(root, name, run_as)?;
        if fresh && data.exists() {
            std::fs::remove_dir_all(&data)
                .with_context(|| format!("removing {}", data.display()))?;
        }
        let server = Self {
            bin,
            data,
            port: shell::free_port()?,
            run_as,
        };
        if server.data.join("postmaster.pid").is_file() {
            // Left running by a run that was killed: stopped, to start on this run's port.
            let mut stop = server.command("pg_ctl");
            stop.arg("-D")
                .arg(&server.data)
                .args(["-m", "fast", "-w", "stop"]);
            let _ = shell::quiet(stop, "pg_ctl stop");
        }
        if !server.data.join("PG_VERSION").is_file() {
            step(&format!(
                "Making a PostgreSQL data folder in {}",
                server.data.display()
            ));
            std::fs::create_dir_all(&server.data)?;
            if let Some(user) = run_as {
                let mut chown = Command::new("chown");
                chown.args(["-R", user]).arg(&server.data);
                shell::status(chown, "chown")?;
            }
            let mut initdb = server.command("initdb");
            initdb.arg("-D").arg(&server.data).args([
                "-A",
                "trust",
                "-U",
                USER,
                "-E",
                "UTF8",
                "--no-instructions",
            ]);
            shell::quiet(initdb, "initdb")?;
        }
        step(&format!("Starting PostgreSQL on 127.0.0.1:{}", server.port));
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400",
            server.port,
            server.data.display()
        );
        let mut start = server.command("pg_ctl");
        start
            .arg("-D")
            .arg(&server.data)
            .args(["-o", &options, "-l"])
            .arg(server.data.join("server.log"))
            .args(["-w", "start"]);
        shell::quiet(start, "pg_ctl start")?;
        Ok(server)
    }

    /// The address of `database` on this server, as `--database` takes it.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Makes the database `name` unless it exists.
    pub fn create_database(&self, name: &str) -> Result<()> {
        let port = self.port.to_string();
        let mut exists = self.command("psql");
        exists
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                USER,
                "-d",
                "postgres",
                "-tAc",
            ])
            .arg(format!(
                "SELECT 1 FROM pg_database WHERE datname = '{name}'"
            ));
        let output = exists.output().context("psql")?;
        if String::from_utf8_lossy(&output.stdout).trim() == "1" {
            return Ok(());
        }
        let mut create = self.command("createdb");
        create
            .args(["-h", "127.0.0.1", "-p", &port, "-U", USER])
            .arg(name);
        shell::quiet(create, "createdb")
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let mut stop = self.command("pg_ctl");
        stop.arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"]);
        let _ = shell::quiet(stop, "pg_ctl stop");
    }
}

/// The folder of Debian's server programs (`initdb`, `pg_ctl`, `postgres`), newest version
/// first; the package is installed when none is there.
fn find_or_install() -> Result<PathBuf> {
    let find = || -> Option<PathBuf> {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let version = entry.file_name().to_str()?.parse().ok()?;
                let bin = entry.path().join("bin");
                bin.join("initdb").is_file().then_some((version, bin))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin)
    };
    if let Some(bin) = find() {
        return Ok(bin);
    }
    step("Installing PostgreSQL (apt-get)");
    setup::apt_install(&["postgresql"])?;
    find().context("PostgreSQL's programs are still not in /usr/lib/postgresql after installing it")
}

/// `target/postgres/<name>`, unless the user the server runs as cannot reach it (a checkout in
/// a home folder only root may enter): then a folder in the temporary folder.
fn data_folder(root: &Path, name: &str, run_as: Option<&str>) -> Result<PathBuf> {
    let parent = root.join("target/postgres");
    std::fs::create_dir_all(&parent)?;
    let Some(user) = run_as else {
        return Ok(parent.join(name));
    };
    let reachable = Command::new("runuser")
        .args(["-u", user, "--", "test", "-x"])
        .arg(&parent)
        .status()
        .is_ok_and(|s| s.success());
    if reachable {
        return Ok(parent.join(name));
    }
    let fallback = std::env::temp_dir().join(format!("meanwhile-postgres-{name}"));
    if fallback.exists() && !fallback.is_dir() {
        bail!("{} is in the way", fallback.display());
    }
    Ok(fallback)
}
