//! End-to-end tests: the real server serving the release page, driven in headless Chromium
//! through ChromeDriver, checked as a person would see it.
//!
//! Run by `cargo xtask test`, which builds the page and installs the browser first, then sets
//! `MEANWHILE_E2E_DIST`, `MEANWHILE_E2E_CHROMIUM`, `MEANWHILE_E2E_CHROMEDRIVER` and
//! `MEANWHILE_E2E_AXE` (axe-core's script). Screenshots
//! land in `target/e2e-screenshots/`.

mod browser;
mod inspector;
mod instances;
mod lab;
mod links;
mod mail;
mod overview;
mod search;
mod shell;
mod tasks;
mod techniques;
