//! Building the page: trunk in release mode with the size-optimised profile, each room split
//! into a wasm file of its own (`split.rs`), then `.br` and `.gz` copies of every text and wasm
//! asset so the server can send them precompressed.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::setup::PageTools;
use crate::shell::{self, step};
use crate::split;

/// Extensions worth compressing. (`index.html` is read and sent by the server itself.)
const COMPRESSIBLE: [&str; 4] = ["js", "wasm", "css", "svg"];

/// Builds the release page into `<root>/dist` and returns that folder.
pub fn build_release(root: &Path, tools: &PageTools) -> Result<PathBuf> {
    let dist = root.join("dist");
    step("Building the page (release: trunk, wasm-bindgen, wasm-opt)");
    // Split points and relocations in the module (trunk's wasm-opt warns about the relocations'
    // "linking section"; the split step replaces what trunk made of that module).
    let mut trunk = trunk_release(root, tools, &dist);
    trunk.env(split::ENV, "1");
    shell::status(trunk, "trunk build")?;
    if !dist.join("index.html").is_file() {
        bail!("trunk finished but {} has no index.html", dist.display());
    }
    step("Splitting the page: the shell, and each room in a wasm file of its own");
    split::apply(root, tools, &dist)?;
    step("Precompressing the page's assets (brotli and gzip)");
    let mut written = 0;
    for entry in
        std::fs::read_dir(&dist).with_context(|| format!("cannot read {}", dist.display()))?
    {
        let path = entry?.path();
        let compressible = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| COMPRESSIBLE.contains(&e));
        if compressible {
            precompress(&path)?;
            written += 1;
        }
    }
    println!("    {written} assets, each with a .br and a .gz beside it");
    Ok(dist)
}

/// `trunk build --release` with the size-optimised profile into `dist` (of `index.html` unless
/// the caller adds another).
pub fn trunk_release(root: &Path, tools: &PageTools, dist: &Path) -> Command {
    let mut trunk = tools.trunk_command(root);
    trunk
        .args([
            "build",
            "--release",
            "--cargo-profile",
            "wasm-release",
            "--dist",
        ])
        .arg(dist);
    trunk
}

/// The file in `folder` whose name ends with `suffix` (`_bg.wasm`, `_bg.wasm.gz`).
pub fn file_ending(folder: &Path, suffix: &str) -> Result<PathBuf> {
    std::fs::read_dir(folder)
        .with_context(|| format!("cannot read {}", folder.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| path.to_string_lossy().ends_with(suffix))
        .with_context(|| format!("no *{suffix} in {}", folder.display()))
}

/// The last part of `path`, as text (empty when it has none).
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |name| name.to_string_lossy().into_owned())
}

fn precompress(path: &Path) -> Result<()> {
    let with_suffix = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let open = || -> Result<BufReader<File>> {
        Ok(BufReader::new(File::open(path).with_context(|| {
            format!("cannot read {}", path.display())
        })?))
    };

    let mut gzip = flate2::write::GzEncoder::new(
        BufWriter::new(File::create(with_suffix(".gz"))?),
        flate2::Compression::best(),
    );
    std::io::copy(&mut open()?, &mut gzip)?;
    gzip.finish()?.flush()?;

    let mut brotli = brotli::CompressorWriter::new(
        BufWriter::new(File::create(with_suffix(".br"))?),
        64 * 1024,
        11,
        22,
    );
    std::io::copy(&mut open()?, &mut brotli)?;
    brotli.flush()?;
    Ok(())
}
