//! Installing what the build and the tests need, each only when missing and at pinned versions.
//! Why these versions (each was tried on Rust 1.95): trunk 0.22 needs a newer rustc than the one
//! pinned in `rust-toolchain.toml`; the wasm-bindgen CLI must equal the library in Cargo.lock
//! exactly; and Debian's own wasm-opt (binaryen 108) silently produces a page that does not start
//! (`WebAssembly.Table.set(): Argument 1 is invalid` in the console), so ours always comes first
//! on PATH.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::shell::{self, prints, step};

const TRUNK_VERSION: &str = "0.21.14";
const WASM_PACK_VERSION: &str = "0.15.1";
/// binaryen from the npm registry: a working wasm-opt in seconds (needs Node).
const BINARYEN_NPM_VERSION: &str = "132";
/// The crate that builds wasm-opt from source when Node is not to be had (about 8 minutes).
const WASM_OPT_CRATE_VERSION: &str = "0.116.1";
/// axe-core, the accessibility checker the end-to-end tests run inside each room (from npm).
const AXE_CORE_VERSION: &str = "4.14.1";
/// twiggy, which `cargo xtask bench` asks where the wasm's bytes go.
const TWIGGY_VERSION: &str = "0.8.0";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// What building the page needs, found or installed.
#[derive(Debug)]
pub struct PageTools {
    /// Folders put first on PATH for trunk and wasm-pack (our wasm-opt, cargo's bin).
    path_first: Vec<PathBuf>,
    trunk: PathBuf,
}

impl PageTools {
    /// PATH with our tools first.
    pub fn path(&self) -> OsString {
        let rest = std::env::var_os("PATH").unwrap_or_default();
        let mut folders = self.path_first.clone();
        folders.extend(std::env::split_paths(&rest));
        std::env::join_paths(folders).unwrap_or(rest)
    }

    pub fn trunk_command(&self, root: &Path) -> Command {
        let mut command = Command::new(&self.trunk);
        command.current_dir(root).env("PATH", self.path());
        command
    }
}

/// What the browser tests need, found or installed.
#[derive(Debug)]
pub struct BrowserTools {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
    /// `axe.min.js`, injected into the page by the end-to-end tests.
    pub axe: PathBuf,
    wasm_pack: PathBuf,
}

impl BrowserTools {
    pub fn wasm_pack_command(&self, root: &Path, tools: &PageTools) -> Command {
        let mut command = Command::new(&self.wasm_pack);
        command
            .current_dir(root)
            .env("PATH", tools.path())
            .env("CHROMEDRIVER", &self.chromedriver)
            .env(
                "WASM_BINDGEN_TEST_WEBDRIVER_JSON",
                root.join("frontend/webdriver.json"),
            )
            // A cold build of the test page can take a while on two cores.
            .env("WASM_BINDGEN_TEST_TIMEOUT", "180");
        command
    }
}

/// Installs (when missing) a C compiler, the wasm32 target, trunk, wasm-bindgen-cli, wasm-opt and
/// Sass.
pub fn page_tools(root: &Path) -> Result<PageTools> {
    step("Checking the tools that build the page");
    ensure_c_compiler()?;
    ensure_wasm_target(root)?;
    let cargo_bin = cargo_bin();

    let trunk = match find_versioned("trunk", &cargo_bin, TRUNK_VERSION) {
        Some(found) => found,
        None => {
            step(&format!(
                "Installing trunk {TRUNK_VERSION} (builds the page; takes about 7 minutes once)"
            ));
            cargo_install(root, &["trunk", "--version", TRUNK_VERSION, "--locked"])?;
            cargo_bin.join("trunk")
        }
    };

    let bindgen_version = wasm_bindgen_version(root)?;
    if find_versioned("wasm-bindgen", &cargo_bin, &bindgen_version).is_none() {
        step(&format!(
            "Installing wasm-bindgen-cli {bindgen_version} (must equal the library in Cargo.lock; about 2 minutes once)"
        ));
        // Without --locked: its own lock file names a release the registry no longer serves.
        cargo_install(root, &["wasm-bindgen-cli", "--version", &bindgen_version])?;
    }

    let wasm_opt_folder = ensure_wasm_opt(root)?;
    let sass_folder = ensure_sass(root)?;
    Ok(PageTools {
        path_first: vec![wasm_opt_folder, sass_folder, cargo_bin],
        trunk,
    })
}

/// Installs (when missing) wasm-pack, Chromium, ChromeDriver and axe-core.
pub fn browser_tools(root: &Path) -> Result<BrowserTools> {
    step("Checking the tools that test in a browser");
    let cargo_bin = cargo_bin();
    let wasm_pack = match find_versioned("wasm-pack", &cargo_bin, WASM_PACK_VERSION) {
        Some(found) => found,
        None => {
            step(&format!(
                "Installing wasm-pack {WASM_PACK_VERSION} (runs the in-browser tests; about 2 minutes once)"
            ));
            cargo_install(
                root,
                &["wasm-pack", "--version", WASM_PACK_VERSION, "--locked"],
            )?;
            cargo_bin.join("wasm-pack")
        }
    };
    let find_browser = || {
        let chromium = ["chromium", "chromium-browser", "google-chrome"]
            .into_iter()
            .find_map(on_path)?;
        let chromedriver = on_path("chromedriver")?;
        Some((chromium, chromedriver))
    };
    let (chromium, chromedriver) = match find_browser() {
        Some(found) => found,
        None => {
            step("Installing Chromium and ChromeDriver (apt-get)");
            apt_install(&["chromium", "chromium-driver"])?;
            find_browser()
                .context("Chromium and ChromeDriver are still not on PATH after installing them")?
        }
    };
    println!(
        "    browser: {} with {}",
        chromium.display(),
        chromedriver.display()
    );
    let axe = ensure_axe()?;
    Ok(BrowserTools {
        chromium,
        chromedriver,
        axe,
        wasm_pack,
    })
}

/// axe-core's browser script, from npm into the tools folder (a second or two, once).
fn ensure_axe() -> Result<PathBuf> {
    let folder = tools_folder().join(format!("axe-core-{AXE_CORE_VERSION}"));
    let script = folder.join("node_modules/axe-core/axe.min.js");
    if script.is_file() {
        return Ok(script);
    }
    ensure_npm()?;
    step(&format!(
        "Installing axe-core {AXE_CORE_VERSION} (npm) into {}",
        folder.display()
    ));
    npm_install(&folder, &format!("axe-core@{AXE_CORE_VERSION}"))?;
    if !script.is_file() {
        bail!("npm installed axe-core but {} is missing", script.display());
    }
    Ok(script)
}

/// Node and npm: installed with apt-get when missing (as root on Debian).
fn ensure_npm() -> Result<()> {
    if on_path("npm").is_none() && is_root_on_debian() {
        step("Installing Node.js and npm (apt-get)");
        apt_install(&["nodejs", "npm"])?;
    }
    if on_path("npm").is_none() {
        bail!("npm is needed: install Node.js and npm");
    }
    Ok(())
}

/// `npm install <package>` into `folder`, on its own (no package.json of ours).
fn npm_install(folder: &Path, package: &str) -> Result<()> {
    std::fs::create_dir_all(folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let mut command = Command::new("npm");
    command.current_dir(folder).args([
        "install",
        "--no-audit",
        "--no-fund",
        "--prefix",
        ".",
        package,
    ]);
    shell::status(command, &format!("npm install {package}"))
}

fn ensure_c_compiler() -> Result<()> {
    // SQLite is compiled from C into the server.
    if on_path("cc").is_some() {
        return Ok(());
    }
    step("Installing a C compiler (apt-get)");
    apt_install(&["gcc", "libc6-dev"])
}

fn ensure_wasm_target(root: &Path) -> Result<()> {
    let installed = Command::new("rustup")
        .current_dir(root)
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is needed to add the wasm32 target: install Rust with rustup (https://rustup.rs)")?;
    if String::from_utf8_lossy(&installed.stdout).contains(WASM_TARGET) {
        return Ok(());
    }
    step(&format!("Adding the {WASM_TARGET} target (rustup)"));
    let mut command = Command::new("rustup");
    command
        .current_dir(root)
        .args(["target", "add", WASM_TARGET]);
    shell::status(command, "rustup target add")
}

/// A working wasm-opt: binaryen from npm when Node is there (or can be installed), otherwise the
/// `wasm-opt` crate built from source. Returns the folder holding the binary.
fn ensure_wasm_opt(root: &Path) -> Result<PathBuf> {
    let tools = tools_folder();
    let npm_folder = tools.join(format!("binaryen-{BINARYEN_NPM_VERSION}"));
    let npm_bin = npm_folder.join("node_modules/.bin");
    let want = format!("version {BINARYEN_NPM_VERSION}");
    if prints(&npm_bin.join("wasm-opt"), &["--version"], &want) {
        return Ok(npm_bin);
    }
    let crate_folder = tools.join(format!("wasm-opt-{WASM_OPT_CRATE_VERSION}"));
    let crate_bin = crate_folder.join("bin");
    if prints(&crate_bin.join("wasm-opt"), &["--version"], "version 116") {
        return Ok(crate_bin);
    }

    if ensure_npm().is_ok() {
        step(&format!(
            "Installing wasm-opt (binaryen {BINARYEN_NPM_VERSION} from npm) into {}",
            npm_folder.display()
        ));
        npm_install(&npm_folder, &format!("binaryen@{BINARYEN_NPM_VERSION}"))?;
        if prints(&npm_bin.join("wasm-opt"), &["--version"], &want) {
            return Ok(npm_bin);
        }
        println!("    binaryen from npm does not run here; building wasm-opt from source instead");
    }
    step(&format!(
        "Building wasm-opt {WASM_OPT_CRATE_VERSION} from source (about 8 minutes once)"
    ));
    let root_arg = crate_folder.display().to_string();
    cargo_install(
        root,
        &[
            "wasm-opt",
            "--version",
            WASM_OPT_CRATE_VERSION,
            "--locked",
            "--root",
            &root_arg,
        ],
    )?;
    Ok(crate_bin)
}

/// twiggy (`cargo install`, about a minute once), for the benchmark's account of the wasm's bytes.
pub fn twiggy(root: &Path) -> Result<PathBuf> {
    let cargo_bin = cargo_bin();
    if let Some(found) = find_versioned("twiggy", &cargo_bin, TWIGGY_VERSION) {
        return Ok(found);
    }
    step(&format!(
        "Installing twiggy {TWIGGY_VERSION} (reads the wasm's sizes)"
    ));
    cargo_install(root, &["twiggy", "--version", TWIGGY_VERSION, "--locked"])?;
    Ok(cargo_bin.join("twiggy"))
}

/// Dart Sass from npm, at the version `Trunk.toml` pins (trunk refuses any other); returns the
/// folder with its `sass` command.
fn ensure_sass(root: &Path) -> Result<PathBuf> {
    let version = sass_version(root)?;
    let folder = tools_folder().join(format!("sass-{version}"));
    let bin = folder.join("node_modules/.bin");
    if prints(&bin.join("sass"), &["--version"], &version) {
        return Ok(bin);
    }
    ensure_npm()?;
    step(&format!(
        "Installing Sass {version} (npm; bundles the stylesheets) into {}",
        folder.display()
    ));
    npm_install(&folder, &format!("sass@{version}"))?;
    if !prints(&bin.join("sass"), &["--version"], &version) {
        bail!(
            "npm installed sass but {} does not run",
            bin.join("sass").display()
        );
    }
    Ok(bin)
}

/// The `sass = "…"` line of `Trunk.toml`'s `[tools]`.
fn sass_version(root: &Path) -> Result<String> {
    let path = root.join("Trunk.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .find_map(|line| line.trim().strip_prefix("sass = "))
        .map(|value| value.trim_matches('"').to_owned())
        .with_context(|| format!("{} pins no Sass version (`sass = \"…\"`)", path.display()))
}

/// The wasm-bindgen library version Cargo.lock resolved; the CLI must match it exactly.
fn wasm_bindgen_version(root: &Path) -> Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock"))
        .context("Cargo.lock is missing: run `cargo generate-lockfile`")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\""
            && let Some(version) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'))
        {
            return Ok(version.to_owned());
        }
    }
    bail!("Cargo.lock names no wasm-bindgen version")
}

/// `name` on PATH or in cargo's bin folder, if it reports `version`.
fn find_versioned(name: &str, cargo_bin: &Path, version: &str) -> Option<PathBuf> {
    [Some(cargo_bin.join(name)), on_path(name)]
        .into_iter()
        .flatten()
        .find(|candidate| prints(candidate, &["--version"], version))
}

fn cargo_install(root: &Path, args: &[&str]) -> Result<()> {
    let mut command = shell::cargo_command(root);
    command.arg("install").args(args);
    shell::status(command, &format!("cargo install {}", args.join(" ")))
}

/// Installs Debian/Ubuntu packages when running as root; otherwise says which to install.
pub fn apt_install(packages: &[&str]) -> Result<()> {
    if !is_root_on_debian() {
        bail!(
            "missing packages: install {} (e.g. `sudo apt-get install {}`), then run this again",
            packages.join(" and "),
            packages.join(" ")
        );
    }
    let mut update = Command::new("apt-get");
    update.args(["update", "-q"]);
    shell::status(update, "apt-get update")?;
    let mut install = Command::new("apt-get");
    install
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(packages);
    shell::status(install, &format!("apt-get install {}", packages.join(" ")))
}

fn is_root_on_debian() -> bool {
    is_root() && on_path("apt-get").is_some()
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The first `name` on PATH.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|folder| folder.join(name))
        .find(|candidate| candidate.is_file())
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

fn cargo_bin() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map_or_else(|| home().join(".cargo"), PathBuf::from)
        .join("bin")
}

/// Where tools that are not cargo binaries live, shared by every checkout on this machine.
fn tools_folder() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map_or_else(|| home().join(".cache"), PathBuf::from)
        .join("meanwhile/tools")
}
