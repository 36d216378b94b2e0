//! Where the wasm's bytes go, and what each room costs: a build of the page that keeps its
//! function names, read with twiggy. Rust's v0 symbol names carry their generic arguments, so
//! Leptos' view code instantiated for a room's views (`tachys::…::build::<frontend::lab::…>`) is
//! named after the room: each function counts for the crate whose code it is, and for the room
//! its name mentions (a function that mentions none is the shell's or shared; one that mentions
//! two rooms is shared between rooms). The names build skips wasm-opt, so its sizes are before
//! optimisation; the report turns each share into an estimate of the shipped wasm's gzip bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::page;
use crate::report::Figure;
use crate::setup::PageTools;
use crate::shell;

/// Each room and the modules whose code is that room's: its page, its API calls, its wire types.
const ROOMS: [(&str, &[&str]); 6] = [
    ("Overview", &["frontend::overview"]),
    (
        "Lab",
        &["frontend::lab", "frontend::api::lab", "protocol::lab"],
    ),
    (
        "Search",
        &[
            "frontend::search",
            "frontend::api::search",
            "protocol::search",
        ],
    ),
    (
        "Mail",
        &["frontend::mail", "frontend::api::mail", "protocol::mail"],
    ),
    (
        "Tasks",
        &["frontend::tasks", "frontend::api::tasks", "protocol::jobs"],
    ),
    (
        "Techniques",
        &[
            "frontend::techniques",
            "frontend::api::promise",
            "frontend::api::xhr",
        ],
    ),
];

/// Crates grouped as the report names them.
const CRATES: [(&str, &[&str]); 10] = [
    ("Leptos' view code (tachys)", &["tachys"]),
    ("Leptos' reactive graph", &["reactive_graph"]),
    ("Leptos' router", &["leptos_router"]),
    ("Leptos (components, mount)", &["leptos"]),
    ("serde_json", &["serde_json"]),
    ("serde (derived code)", &["serde", "serde_core"]),
    ("core, alloc, std", &["core", "alloc", "std", "__rustc"]),
    (
        "wasm-bindgen, js-sys, web-sys",
        &["wasm_bindgen", "js_sys", "web_sys", "wasm_bindgen_futures"],
    ),
    ("gloo", &["gloo_net", "gloo_timers", "gloo_utils"]),
    ("our crates (frontend, protocol)", &["frontend", "protocol"]),
];

/// Builds the page with names into `<root>/target/names/dist` and returns its wasm file. It has
/// its own target folder: the v0 names are a compiler flag, and sharing `target/` would rebuild
/// the ordinary page's dependencies after it.
pub fn build(root: &Path, tools: &PageTools) -> Result<PathBuf> {
    let folder = root.join("target/names");
    std::fs::create_dir_all(&folder)?;
    // The page's index.html, with the names kept and wasm-opt off, its paths from here.
    let index = std::fs::read_to_string(root.join("frontend/index.html"))?
        .replace("data-wasm-opt=\"z\"", "data-wasm-opt=\"0\" data-keep-debug")
        .replace(
            "data-trunk rel=\"rust\" href=\"",
            "data-trunk rel=\"rust\" href=\"../../frontend/",
        )
        .replace(
            "data-trunk rel=\"scss\" href=\"",
            "data-trunk rel=\"scss\" href=\"../../frontend/",
        )
        .replace(
            "data-trunk rel=\"icon\" href=\"",
            "data-trunk rel=\"icon\" href=\"../../frontend/",
        );
    let index_path = folder.join("index.html");
    std::fs::write(&index_path, index)?;
    let dist = folder.join("dist");
    let mut trunk = page::trunk_release(root, tools, &dist);
    trunk
        .arg(&index_path)
        .env("CARGO_TARGET_DIR", folder.join("target"))
        // Added to `.cargo/config.toml`'s flags for the target, not instead of them.
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
            "-C symbol-mangling-version=v0",
        );
    shell::status(trunk, "trunk build (with names)")?;
    page::file_ending(&dist, "_bg.wasm")
}

/// One item as `twiggy top --format json` lists it.
#[derive(Debug, Deserialize)]
struct Item {
    name: String,
    shallow_size: u64,
}

/// The shares of the names build's code and data, by crate and by room, with each share's
/// estimate of the shipped wasm's gzip size (`shipped_gzip_kb`).
pub fn figures(twiggy: &Path, wasm: &Path, shipped_gzip_kb: f64) -> Result<Vec<Figure>> {
    let output = Command::new(twiggy)
        .args(["top", "-n", "1000000", "--format", "json"])
        .arg(wasm)
        .output()
        .with_context(|| format!("cannot run {}", twiggy.display()))?;
    if !output.status.success() {
        bail!("twiggy failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let items: Vec<Item> = serde_json::from_slice(&output.stdout).context("twiggy's JSON")?;
    // The names themselves are not shipped.
    let items: Vec<(String, u64)> = items
        .into_iter()
        .filter(|item| !item.name.starts_with('"') && !item.name.starts_with("custom section"))
        .map(|item| (without_crate_hashes(&item.name), item.shallow_size))
        .collect();
    let total: u64 = items.iter().map(|(_, size)| size).sum();

    let mut by_crate: BTreeMap<&str, u64> = BTreeMap::new();
    let mut by_room: BTreeMap<&str, u64> = BTreeMap::new();
    for (name, size) in &items {
        let crate_name = leading_crate(name);
        let group = if name.starts_with("data segment") {
            "data (strings, tables)"
        } else if ["import ", "export ", "elem[", "table[", "type["]
            .iter()
            .any(|p| name.starts_with(p))
        {
            "the module's own tables (imports, exports, types)"
        } else {
            CRATES
                .iter()
                .find(|(_, crates)| crates.contains(&crate_name))
                .map_or(
                    "other crates (hashbrown, indexmap, futures, dlmalloc…)",
                    |(group, _)| group,
                )
        };
        *by_crate.entry(group).or_default() += size;

        let rooms: Vec<&str> = ROOMS
            .iter()
            .filter(|(_, modules)| modules.iter().any(|m| mentions(name, m)))
            .map(|(room, _)| *room)
            .collect();
        let room = match rooms.as_slice() {
            [one] => one,
            [] if mentions(name, "frontend") => "the shell (every room's frame)",
            [] => "shared (no room's own code)",
            _ => "shared between rooms",
        };
        *by_room.entry(room).or_default() += size;
    }

    let mut figures = Vec::new();
    for (part, groups) in [("bytes by crate", by_crate), ("bytes by room", by_room)] {
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
        for (group, size) in groups {
            let share = size as f64 / total.max(1) as f64;
            figures.push(Figure {
                part: part.into(),
                name: format!("{group} ({:.1} % of the code and data)", share * 100.0),
                value: share * shipped_gzip_kb,
                unit: "KB gzip (est.)".into(),
                target: None,
                met: None,
            });
        }
    }
    Ok(figures)
}

/// `frontend[2226…]::lab::page` → `frontend::lab::page`: v0 names carry each crate's hash.
fn without_crate_hashes(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let close = after.find(']');
        match close {
            Some(close) if close > 0 && after[..close].bytes().all(|b| b.is_ascii_hexdigit()) => {
                out.push_str(&rest[..open]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether `name` mentions the module path `module` (`frontend::lab` in
/// `tachys::…<frontend::lab::page::X>`, not in `frontend::labels`).
fn mentions(name: &str, module: &str) -> bool {
    name.match_indices(module).any(|(at, _)| {
        let before = name[..at].chars().next_back();
        let after = name[at + module.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// The crate whose code an item is: the first path in its name (`serde_json::de::from_str`), or
/// for a trait method `<Self as Trait>::f` the crate of `Self`, or of the trait when `Self` is a
/// primitive or left out (`<_ as tachys::view::Render>::build`, `<f64 as core::str::FromStr>`).
fn leading_crate(name: &str) -> &str {
    if let Some(inner) = name.strip_prefix('<')
        && let Some((self_type, trait_and_rest)) = split_at_as(inner)
    {
        return if self_type.contains("::") {
            first_path(self_type)
        } else {
            first_path(trait_and_rest)
        };
    }
    first_path(name)
}

/// `Self as Trait>…` split at its own ` as ` (not one inside `Self`'s generic arguments).
fn split_at_as(inner: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    for (at, c) in inner.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            ' ' if depth == 0 && inner[at..].starts_with(" as ") => {
                return Some((&inner[..at], &inner[at + 4..]));
            }
            _ => {}
        }
    }
    None
}

/// The first identifier of a path, past references and `dyn`.
fn first_path(text: &str) -> &str {
    let start = text.trim_start_matches(['<', '&', ' ', '(', '[']);
    let start = start.strip_prefix("mut ").unwrap_or(start);
    let start = start.strip_prefix("dyn ").unwrap_or(start);
    let end = start
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(start.len());
    &start[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_as_the_report_counts_them() {
        assert_eq!(
            without_crate_hashes("tachys[5ca5]::build::<frontend[2226]::lab::X, [u8; 4]>"),
            "tachys::build::<frontend::lab::X, [u8; 4]>"
        );
        assert!(mentions(
            "tachys::build::<frontend::lab::X>",
            "frontend::lab"
        ));
        assert!(!mentions("frontend::labels::f", "frontend::lab"));
        assert_eq!(
            leading_crate("<&mut serde_json::de::D as serde_core::de::Deserializer>::f"),
            "serde_json"
        );
        assert_eq!(leading_crate("core::ptr::drop_in_place::<u8>"), "core");
        assert_eq!(
            leading_crate("<_ as tachys::view::any_view::IntoAny>::into_any::build::<X>"),
            "tachys"
        );
        assert_eq!(
            leading_crate("<f64 as core::str::traits::FromStr>::from_str"),
            "core"
        );
        assert_eq!(
            leading_crate("<alloc::vec::Vec<a::B as c::D> as e::F>::g"),
            "alloc"
        );
    }
}
