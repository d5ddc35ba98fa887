//! One module per command. Each has an `Args` (clap derive, with its own
//! `about`, `long_about` and the exit statuses in `after_help`) and a
//! `run(Args) -> CmdResult`; `main.rs` only adds a variant to `Command` and
//! a line to the dispatch.
//!
//! Conventions: stdout carries only the command's result (a vkey, `ok`, a
//! proof), so it can be piped; notes and details go to stderr. A verdict
//! ("this is invalid") is [`Failure::rejected`](crate::exit::Failure::rejected)
//! (exit 1); any other error, raised with `?`, exits 2.

pub mod alerts;
pub mod append;
pub mod audit;
pub mod checkpoint;
pub mod config;
pub mod consistency;
pub mod doctor;
pub mod export;
pub mod fsck;
pub mod health;
pub mod history;
pub mod keygen;
pub mod prove;
pub mod record;
pub mod recover;
pub mod reindex;
pub mod serve;
pub mod serve_peers;
pub mod signer;
pub mod token;
pub mod verify;
pub mod watch;
pub mod witness;
