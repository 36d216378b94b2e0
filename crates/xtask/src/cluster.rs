//! `cargo xtask cluster`: the same page on two servers. A PostgreSQL server of our own (its data
//! kept in `target/postgres/cluster` from one run to the next), two instances of the release
//! server on it (`a` and `b`, on free ports), and nginx in front on the address `run` uses,
//! spreading requests over both and passing event streams through unbuffered.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::postgres::Postgres;
use crate::setup;
use crate::shell::{self, step};

/// Where the proxy listens: the address `cargo xtask run` serves on.
const ADDRESS: &str = "127.0.0.1:3000";

/// Starts everything and waits; Ctrl-C (or any part ending) stops every part.
pub fn run(root: &Path, binary: &Path, dist: &Path, server_args: &[String]) -> Result<()> {
    let nginx = nginx()?;
    let postgres = Postgres::start(root, "cluster", false)?;
    postgres.create_database("meanwhile")?;
    let database = postgres.url("meanwhile");

    let folder = root.join("target/cluster");
    std::fs::create_dir_all(&folder)?;
    let ports = [shell::free_port()?, shell::free_port()?];
    let instance = |name: &str, port: u16| {
        let mut command = Command::new(binary);
        command
            .current_dir(root)
            .args(["--name", name, "--addr", &format!("127.0.0.1:{port}")])
            .args(["--database", &database])
            .arg("--dist")
            .arg(dist)
            // Behind the proxy every person is one address, the proxy's: the limits per address
            // would be shared by all of them, so they are left to the proxy.
            .args(["--max-connections-per-address", "100000"])
            .args(["--max-streams-per-address", "100000"])
            .args([
                "--credentials-per-hour",
                "100000",
                "--credentials-burst",
                "100000",
            ])
            .args(server_args);
        command
    };
    let config = folder.join("nginx.conf");
    std::fs::write(&config, nginx_config(&folder, ports))?;
    let mut proxy = Command::new(&nginx);
    proxy.arg("-p").arg(&folder).arg("-c").arg(&config);

    step("Starting two instances on PostgreSQL, and nginx in front of them");
    println!("    the page, on two servers:  http://{ADDRESS}");
    println!(
        "    instance a: http://127.0.0.1:{}   instance b: http://127.0.0.1:{}",
        ports[0], ports[1]
    );
    println!("    database:   {database}");
    println!("    (the inspector's server column says which instance answered; Ctrl-C stops all)");
    // Ctrl-C reaches every part (one process group) and each stops; this process waits for
    // them and then stops PostgreSQL, which runs in a session of its own.
    ctrlc::set_handler(|| {}).context("cannot wait out Ctrl-C")?;
    let ran = shell::run_together(vec![
        ("instance a", instance("a", ports[0])),
        ("instance b", instance("b", ports[1])),
        ("nginx", proxy),
    ]);
    drop(postgres);
    ran
}

/// nginx's configuration: in the foreground, every file in `folder`, the two instances as one
/// upstream (round robin, kept-alive connections), event streams unbuffered and held longer than
/// their 15 s keep-alive.
fn nginx_config(folder: &Path, ports: [u16; 2]) -> String {
    let folder = folder.display();
    // As root, nginx's workers would otherwise run as `nobody`, who cannot write in `folder`.
    let user = if setup::is_root() { "user root;" } else { "" };
    format!(
        "# Written by `cargo xtask cluster`.
{user}
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    upstream meanwhile {{
        server 127.0.0.1:{a};
        server 127.0.0.1:{b};
        keepalive 64;
    }}
    server {{
        listen {ADDRESS};
        location / {{
            proxy_pass http://meanwhile;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            # Event streams: each event passed on as it comes, the connection held past the
            # streams' keep-alive.
            proxy_buffering off;
            proxy_read_timeout 60s;
        }}
    }}
}}
",
        a = ports[0],
        b = ports[1],
    )
}

/// nginx from Debian, installed with apt-get when missing.
fn nginx() -> Result<PathBuf> {
    let find = || {
        setup::on_path("nginx").or_else(|| {
            let debian = PathBuf::from("/usr/sbin/nginx");
            debian.is_file().then_some(debian)
        })
    };
    if let Some(found) = find() {
        return Ok(found);
    }
    step("Installing nginx (apt-get)");
    setup::apt_install(&["nginx"])?;
    find().context("nginx is still not there after installing it")
}
