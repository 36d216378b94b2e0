//! The release page splits each room's code into a wasm file of its own. `cargo xtask` builds it
//! with `MEANWHILE_SPLIT=1`, which turns on `cfg(meanwhile_split)` (the rooms become split
//! points, see `src/rooms.rs`) and keeps the linker's relocations, which the split step reads.
//! Every other build (`trunk serve`, the browser tests) is one ordinary module.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(meanwhile_split)");
    println!("cargo::rerun-if-env-changed=MEANWHILE_SPLIT");
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|arch| arch == "wasm32");
    if wasm && std::env::var_os("MEANWHILE_SPLIT").is_some_and(|on| on == "1") {
        println!("cargo::rustc-cfg=meanwhile_split");
        println!("cargo::rustc-link-arg-bins=--emit-relocs");
    }
}
