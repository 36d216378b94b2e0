//! Running other programs: announcing each step, failing with a sentence that says what broke.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// Prints the step about to happen, so a long setup says what it is doing.
pub fn step(what: &str) {
    println!("\n==> {what}");
}

/// `cargo` as this build of xtask was run with (the toolchain of rust-toolchain.toml).
pub fn cargo_command(root: &Path) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root);
    command
}

pub fn cargo(root: &Path, args: &[&str]) -> Result<()> {
    let mut command = cargo_command(root);
    command.args(args);
    status(command, &format!("cargo {}", args.join(" ")))
}

/// Runs `command` to completion; an unsuccessful exit is an error naming `what`.
pub fn status(mut command: Command, what: &str) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot start {what} ({:?})", command.get_program()))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// Runs `command` to completion with its output kept, shown only when it fails.
pub fn quiet(mut command: Command, what: &str) -> Result<()> {
    let output = command
        .output()
        .with_context(|| format!("cannot start {what} ({:?})", command.get_program()))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Whether `program --version` (or the given args) runs and prints something containing `want`.
pub fn prints(program: &Path, args: &[&str], want: &str) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains(want))
}

/// Turns this process into `command` (on Unix), so signals such as Ctrl-C reach the server
/// directly; elsewhere, runs it and waits.
pub fn replace_process(mut command: Command) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let error = command.exec();
        Err(error).with_context(|| format!("cannot start {:?}", command.get_program()))
    }
    #[cfg(not(unix))]
    {
        status(command, "the server")
    }
}

/// Starts every command, then waits: when one ends, the others are stopped.
pub fn run_together(commands: Vec<(&str, Command)>) -> Result<()> {
    let mut children: Vec<(&str, Child)> = Vec::new();
    for (name, mut command) in commands {
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        children.push((name, child));
    }
    let ended = loop {
        if let Some(ended) = children
            .iter_mut()
            .find_map(|(name, child)| child.try_wait().ok().flatten().map(|s| (*name, s)))
        {
            break ended;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    for (_, child) in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (name, status) = ended;
    if status.success() {
        Ok(())
    } else {
        bail!("{name} stopped ({status})")
    }
}

/// A port on 127.0.0.1 that nothing listens on now, for a program this starts.
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
