//! The benchmark report: `target/bench/report.md` (figure, value, target, met or not) and
//! `target/bench/report.json` (the same, for tooling). Its first part is the page's weight — every
//! file a first visit loads, raw, gzip and brotli, and what each room adds — measured here from
//! the built `dist/`; the benchmarks (`server/benches`) add theirs as JSON lines to a file
//! ([`FIGURES`]), read back here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::page::file_name;

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

/// What a first visit loads — `index.html`, the JS glue, the shell's wasm, the stylesheet, the
/// icon — file by file, with its raw size and the sizes of the `.gz` and `.br` copies the server
/// sends, then the totals; then, for each room (`rooms`: room → its files, as the split step
/// wrote them), what opening it fetches, and a first visit that starts in that room. The
/// first-visit budget is on gzip.
pub fn page_weight(dist: &Path, rooms: &BTreeMap<String, Vec<String>>) -> Result<Vec<Figure>> {
    const BUDGET_GZIP_KB: f64 = 150.0;
    const AIM_BROTLI_KB: f64 = 100.0;
    let in_a_room: BTreeSet<&str> = rooms.values().flatten().map(String::as_str).collect();
    let mut files: Vec<_> = std::fs::read_dir(dist)
        .with_context(|| format!("cannot read {}", dist.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .filter(|path| !matches!(path.extension().and_then(|e| e.to_str()), Some("gz" | "br")))
        .filter(|path| !in_a_room.contains(file_name(path).as_str()))
        .collect();
    files.sort();
    let figure = |name: String, value: f64, target: Option<(String, bool)>| Figure {
        part: "weight".into(),
        name,
        value,
        unit: "KB".into(),
        met: target.as_ref().map(|(_, met)| *met),
        target: target.map(|(target, _)| target),
    };
    let mut figures = Vec::new();
    let mut shell = [0.0; 3];
    for path in &files {
        let sizes = weigh(path);
        for (total, size) in shell.iter_mut().zip(sizes) {
            *total += size;
        }
        for (encoding, value) in ["raw", "gzip", "brotli"].into_iter().zip(sizes) {
            figures.push(figure(
                format!("{} ({encoding})", file_name(path)),
                value,
                None,
            ));
        }
    }
    let budget = |gzip: f64| Some((format!("≤ {BUDGET_GZIP_KB} KB"), gzip <= BUDGET_GZIP_KB));
    let [raw, gzip, brotli] = shell;
    figures.push(figure("first visit, raw".into(), raw, None));
    figures.push(figure("first visit, gzip".into(), gzip, budget(gzip)));
    figures.push(figure(
        "first visit, brotli".into(),
        brotli,
        Some((format!("aim ≤ {AIM_BROTLI_KB} KB"), brotli <= AIM_BROTLI_KB)),
    ));
    for (room, names) in rooms {
        let mut own = [0.0; 3];
        for name in names {
            for (total, size) in own.iter_mut().zip(weigh(&dist.join(name))) {
                *total += size;
            }
        }
        let [_, own_gzip, own_brotli] = own;
        figures.push(figure(
            format!(
                "opening {room} fetches, gzip ({} files; brotli {own_brotli:.1} KB)",
                names.len()
            ),
            own_gzip,
            None,
        ));
        figures.push(figure(
            format!("first visit to {room}, gzip"),
            gzip + own_gzip,
            budget(gzip + own_gzip),
        ));
    }
    Ok(figures)
}

/// A file's raw size and the sizes of its `.gz` and `.br` copies (the file itself when it has
/// none: `index.html` and the icon are sent as they are), in KB.
fn weigh(path: &Path) -> [f64; 3] {
    let size = |path: &Path| std::fs::metadata(path).map_or(0, |m| m.len()) as f64 / 1024.0;
    let beside = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let compressed = PathBuf::from(name);
        if compressed.is_file() {
            size(&compressed)
        } else {
            size(path)
        }
    };
    [size(path), beside(".gz"), beside(".br")]
}

/// The rooms the split step found, with their files (none when the page was not split).
pub fn rooms(root: &Path) -> Result<BTreeMap<String, Vec<String>>> {
    let path = root.join(crate::split::ROOMS);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            serde_json::from_str(&text).with_context(|| format!("cannot read {}", path.display()))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(folder: &Path, name: &str, bytes: usize) {
        std::fs::write(folder.join(name), vec![b'x'; bytes]).expect("a file written");
    }

    fn value(figures: &[Figure], name: &str) -> f64 {
        figures
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no {name} in {figures:#?}"))
            .value
    }

    #[test]
    fn a_first_visit_counts_the_shell_and_a_room_adds_its_own_files_and_shared_chunks() {
        let dist = tempfile::tempdir().expect("a folder");
        write(dist.path(), "index.html", 1024);
        write(dist.path(), "app_bg.wasm", 4096);
        write(dist.path(), "app_bg.wasm.gz", 2048);
        for (name, kb) in [
            ("split_lab.wasm", 3),
            ("split_mail.wasm", 5),
            ("chunk_1.wasm", 7),
        ] {
            write(dist.path(), name, kb * 1024);
        }
        let rooms = BTreeMap::from([
            (
                "lab".to_owned(),
                vec!["chunk_1.wasm".to_owned(), "split_lab.wasm".to_owned()],
            ),
            ("mail".to_owned(), vec!["split_mail.wasm".to_owned()]),
        ]);
        let figures = page_weight(dist.path(), &rooms).expect("weighed");
        // The shell: index.html as it is, the wasm's gzip copy; no room file.
        assert_eq!(value(&figures, "first visit, gzip"), 3.0);
        assert_eq!(value(&figures, "first visit, raw"), 5.0);
        assert!(!figures.iter().any(|f| f.name.starts_with("split_")));
        assert_eq!(value(&figures, "first visit to lab, gzip"), 3.0 + 3.0 + 7.0);
        assert_eq!(value(&figures, "first visit to mail, gzip"), 3.0 + 5.0);
        let lab = figures
            .iter()
            .find(|f| f.name == "first visit to lab, gzip")
            .expect("the Lab's first visit");
        assert_eq!(lab.met, Some(true));
    }
}
