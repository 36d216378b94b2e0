//! The benchmark report: `target/bench/report.md` (figure, value, target, met or not) and
//! `target/bench/report.json` (the same, for tooling). Its first part is the page's weight — every
//! file a first visit loads, raw, gzip and brotli — measured here from the built `dist/`; the
//! benchmarks (`server/benches`) add theirs as JSON lines to a file ([`FIGURES`]), read back here.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Where the benchmarks append their figures, one JSON object per line (relative to the workspace
/// root; passed to them as `MEANWHILE_BENCH_FIGURES`).
pub const FIGURES: &str = "target/bench/figures.jsonl";

/// One measured figure.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Figure {
    /// The part of the bench it belongs to, e.g. `weight`.
    pub part: String,
    pub name: String,
    pub value: f64,
    pub unit: String,
    /// The target in words, e.g. `≤ 150 KB`, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub met: Option<bool>,
}

/// Every file of the built page a first visit loads — `index.html`, the JS glue, the wasm, the
/// stylesheets, the icon — with its raw size and the sizes of the `.gz` and `.br` copies the
/// server sends, then the totals. The first-visit target is on gzip.
pub fn page_weight(dist: &Path) -> Result<Vec<Figure>> {
    const BUDGET_GZIP_KB: f64 = 150.0;
    const AIM_BROTLI_KB: f64 = 100.0;
    let mut files: Vec<_> = std::fs::read_dir(dist)
        .with_context(|| format!("cannot read {}", dist.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .filter(|path| !matches!(path.extension().and_then(|e| e.to_str()), Some("gz" | "br")))
        .collect();
    files.sort();
    let size = |path: &Path| std::fs::metadata(path).map_or(0, |m| m.len()) as f64 / 1024.0;
    let beside = |path: &Path, suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let compressed = Path::new(&name);
        // Not precompressed (index.html, the icon): sent as it is.
        if compressed.is_file() {
            size(compressed)
        } else {
            size(path)
        }
    };
    let mut figures = Vec::new();
    let mut totals = [0.0; 3];
    for path in &files {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let sizes = [size(path), beside(path, ".gz"), beside(path, ".br")];
        for (total, size) in totals.iter_mut().zip(sizes) {
            *total += size;
        }
        for (encoding, value) in ["raw", "gzip", "brotli"].into_iter().zip(sizes) {
            figures.push(Figure {
                part: "weight".into(),
                name: format!("{name} ({encoding})"),
                value,
                unit: "KB".into(),
                target: None,
                met: None,
            });
        }
    }
    let [raw, gzip, brotli] = totals;
    figures.push(Figure {
        part: "weight".into(),
        name: "first visit, raw".into(),
        value: raw,
        unit: "KB".into(),
        target: None,
        met: None,
    });
    figures.push(Figure {
        part: "weight".into(),
        name: "first visit, gzip".into(),
        value: gzip,
        unit: "KB".into(),
        target: Some(format!("≤ {BUDGET_GZIP_KB} KB")),
        met: Some(gzip <= BUDGET_GZIP_KB),
    });
    figures.push(Figure {
        part: "weight".into(),
        name: "first visit, brotli".into(),
        value: brotli,
        unit: "KB".into(),
        target: Some(format!("aim ≤ {AIM_BROTLI_KB} KB")),
        met: Some(brotli <= AIM_BROTLI_KB),
    });
    Ok(figures)
}

/// The figures the benchmarks wrote to `path`, in order (none if they wrote none).
pub fn read_figures(path: &Path) -> Result<Vec<Figure>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    };
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).with_context(|| format!("a figure: {line}")))
        .collect()
}

/// Prints `figures` and writes them to `<root>/target/bench/report.{md,json}`.
pub fn write(root: &Path, figures: &[Figure]) -> Result<()> {
    let folder = root.join("target").join("bench");
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let mut markdown = String::from(
        "# Meanwhile benchmark report\n\n| part | figure | value | target | met |\n| --- | --- | ---: | --- | --- |\n",
    );
    for figure in figures {
        let met = match figure.met {
            Some(true) => "yes",
            Some(false) => "no",
            None => "",
        };
        markdown.push_str(&format!(
            "| {} | {} | {:.1} {} | {} | {met} |\n",
            figure.part,
            figure.name,
            figure.value,
            figure.unit,
            figure.target.as_deref().unwrap_or(""),
        ));
    }
    std::fs::write(folder.join("report.md"), markdown).context("cannot write report.md")?;
    let json = serde_json::to_string_pretty(figures).context("the figures as JSON")?;
    std::fs::write(folder.join("report.json"), json).context("cannot write report.json")?;
    for figure in figures
        .iter()
        .filter(|f| f.target.is_some() || !f.name.contains('('))
    {
        println!(
            "    {}: {:.1} {}{}",
            figure.name,
            figure.value,
            figure.unit,
            figure
                .target
                .as_ref()
                .map_or_else(String::new, |target| format!(
                    " [{target}: {}]",
                    if figure.met == Some(true) {
                        "met"
                    } else {
                        "not met"
                    }
                )),
        );
    }
    println!("    written to {}", folder.join("report.md").display());
    Ok(())
}
