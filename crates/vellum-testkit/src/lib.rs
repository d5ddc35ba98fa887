//! The test kit: what the crates' tests and the end-to-end suites in
//! `tests/` share, written once.
//!
//! * [`TestServer`]: a real log server in this process, on a temporary data
//!   folder and free loopback ports, built with [`TestServer::builder`].
//! * [`process`]: the real `vellum` binary as a child process (`serve`,
//!   `witness`, `signer`, one-shot commands), with its banner read and its
//!   stderr drained so that it never blocks.
//! * [`requests`]: entries and gRPC request builders.
//! * [`metrics`]: scraping `/metrics` and reading it with a real parser.
//! * [`files`]: copying data folders and key files with their modes.
//! * [`vectors`]: the interoperability vectors in `testdata/vectors`.
//!
//! A panic is the failure report: every helper panics with a message that
//! says what did not happen, and every wait has a deadline.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.
#![allow(clippy::missing_panics_doc)]

pub mod files;
pub mod metrics;
pub mod process;
pub mod requests;
mod server;
pub mod vectors;

pub use server::{Builder, TestServer};

/// How long any wait in the kit lasts before it fails the test: generous,
/// because CI machines are shared and a debug build is slow, and never
/// reached by a test that passes.
pub const DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);
