//! The release page's split step. Each room is a split point (`frontend/src/rooms.rs`); trunk
//! has no step between cargo and wasm-bindgen to split the module (trunk-rs/trunk#1022), so after
//! `trunk build` (run with [`ENV`] set, which makes cargo build the split points and keep the
//! linker's relocations) this redoes the wasm part the way cargo-leptos' `--split` does:
//!
//! 1. `wasm_split_cli_support` cuts cargo's module into the shell (`main`), one file per room
//!    (`split_<room>.wasm`) and the chunks rooms share (`chunk_<n>.wasm`), plus the loader
//!    (`-split.js`), which fetches a room's files when it is first opened; each is named after
//!    the shell, as in `frontend-<hash>-split_lab.wasm`;
//! 2. wasm-bindgen (keeping the table and stack exports the room files link against) and
//!    wasm-opt on the shell, written over the two files trunk named in `index.html` (which
//!    carries no `integrity` for them: `data-integrity="none"`), with a `modulepreload` of the
//!    loader beside them;
//!    wasm-opt on each room file and chunk.
//!
//! Which files each room fetches is written to [`ROOMS`] for the bench's weight report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow, bail};

use crate::page::{self, file_name};
use crate::setup::PageTools;
use crate::shell;

/// Set to `1` for the trunk build that is split afterwards (read by `frontend/build.rs`).
pub const ENV: &str = "MEANWHILE_SPLIT";

/// Room → the files (in `dist/`) that opening it fetches, as JSON (relative to the workspace).
pub const ROOMS: &str = "target/wasm-split/rooms.json";

/// Splits the module cargo built for the release page and rewrites `dist/` to load it.
pub fn apply(root: &Path, tools: &PageTools, dist: &Path) -> Result<()> {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let built = target.join("wasm32-unknown-unknown/wasm-release/frontend.wasm");
    let work = root.join("target/wasm-split");
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work)?;

    // The names trunk gave the shell's two files: `frontend-<hash>_bg.wasm`, `frontend-<hash>.js`.
    let wasm_file = page::file_ending(dist, "_bg.wasm")?;
    let wasm_name = file_name(&wasm_file);
    let stem = wasm_name.trim_end_matches("_bg.wasm").to_owned();
    let js_name = format!("{stem}.js");

    let input =
        std::fs::read(&built).with_context(|| format!("cannot read {}", built.display()))?;
    let pieces = work.join("pieces");
    let shell_module = work.join("main.wasm");
    let main_module = format!("./{js_name}");
    let loader = format!("{stem}-split.js");
    let link_name = format!("./{loader}");
    let split = wasm_split_cli_support::transform({
        let mut options = wasm_split_cli_support::Options::new(&input);
        options.output_dir = &pieces;
        options.main_out_path = &shell_module;
        options.main_module = &main_module;
        options.link_name = &link_name;
        options
    })
    .map_err(|error| anyhow!("splitting {}: {error:?}", built.display()))?;
    if split.split_modules.is_empty() {
        bail!(
            "{} has no split points: was it built with {ENV}=1?",
            built.display()
        );
    }

    // The pieces carry the shell's content hash in their names, as trunk's files do: the server
    // lets browsers keep them for good, and a tab still running an older shell never fetches a
    // newer build's room (it finds none, and says the room did not arrive).
    let hashed = |piece: &str| format!("{stem}-{piece}");
    let mut loader_js = std::fs::read_to_string(pieces.join(&loader))?;
    let mut modules = Vec::new();
    for piece in &split.split_modules {
        let name = file_name(piece);
        loader_js = loader_js.replace(
            &format!("\"./{name}\""),
            &format!("\"./{}\"", hashed(&name)),
        );
        let module = dist.join(hashed(&name));
        std::fs::rename(piece, &module)?;
        modules.push(module);
    }
    std::fs::write(dist.join(&loader), loader_js)?;

    let bindgen = work.join("bindgen");
    let mut wasm_bindgen = Command::new("wasm-bindgen");
    wasm_bindgen
        .env("PATH", tools.path())
        .args(["--target", "web", "--no-typescript", "--keep-lld-exports"])
        .arg("--out-dir")
        .arg(&bindgen)
        .args(["--out-name", &stem])
        .arg(&shell_module);
    shell::status(wasm_bindgen, "wasm-bindgen (the split page's shell)")?;
    shell::status(
        wasm_opt(
            tools,
            &bindgen.join(&wasm_name),
            &bindgen.join("optimised.wasm"),
        ),
        "wasm-opt (the split page's shell)",
    )?;

    // The room files come out of the splitter as the linker left them; wasm-opt halves them.
    for module in &modules {
        let optimised = work.join("room.wasm");
        // Quiet unless it fails: it warns about each file's name section, which it drops.
        let run = wasm_opt(tools, module, &optimised)
            .output()
            .context("cannot run wasm-opt")?;
        if !run.status.success() {
            bail!(
                "wasm-opt failed on {}: {}",
                module.display(),
                String::from_utf8_lossy(&run.stderr)
            );
        }
        std::fs::rename(&optimised, module)?;
    }

    let index_file = dist.join("index.html");
    let mut index = std::fs::read_to_string(&index_file)?;
    for (name, new) in [
        (&js_name, bindgen.join(&js_name)),
        (&wasm_name, bindgen.join("optimised.wasm")),
    ] {
        let old = dist.join(name);
        std::fs::copy(&new, &old).with_context(|| format!("cannot write {}", old.display()))?;
    }
    // The shell's JS imports the loader: fetch it alongside, not one round trip after.
    let preload = format!("<link crossorigin href=/{loader} rel=modulepreload>");
    let Some(head_end) = index.find("</head>") else {
        bail!("{} has no </head>", index_file.display());
    };
    index.insert_str(head_end, &preload);
    std::fs::write(&index_file, index)?;

    let rooms: BTreeMap<String, Vec<String>> = split
        .prefetch_map
        .into_iter()
        .map(|(room, pieces)| {
            let files = pieces.iter().map(|piece| hashed(&format!("{piece}.wasm")));
            (room, files.collect())
        })
        .collect();
    std::fs::write(root.join(ROOMS), serde_json::to_string_pretty(&rooms)?)?;
    println!(
        "    the shell and {} room files ({}), {} chunks they share",
        rooms.len(),
        rooms.keys().cloned().collect::<Vec<_>>().join(", "),
        modules.len().saturating_sub(rooms.len()),
    );
    Ok(())
}

/// `wasm-opt -Oz`, as trunk runs it for `data-wasm-opt="z"`.
fn wasm_opt(tools: &PageTools, input: &Path, output: &Path) -> Command {
    let mut command = Command::new("wasm-opt");
    command
        .env("PATH", tools.path())
        .arg("-Oz")
        .arg(input)
        .arg("-o")
        .arg(output);
    command
}
