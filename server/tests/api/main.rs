//! The server's integration tests: a real listener on port 0, a real SQLite file in a temporary
//! folder, real HTTP. One binary, one module per concern. Set `TEST_LOG=debug` to see the logs.

mod clients;
mod connections;
mod errors;
mod faults;
mod health;
mod helpers;
mod instances;
mod lab;
mod mail;
mod page;
mod panel;
mod retention;
mod search;
mod shutdown;
mod tasks;
mod telemetry;
mod tls;
