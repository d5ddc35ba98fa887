//! `vellum-bench`: Vellum's load generator.
//!
//! Each subcommand is one measurement with a fixed duration (or size) that
//! exits when done, and puts its figures next to baselines measured in the
//! same run on the same machine: speed is a ratio to what this machine can
//! do, never an absolute threshold in a test.
//!
//! * `append`: entries/s and latency percentiles of appends
//!   ([`append`]), with raw RocksDB and bare gRPC baselines ([`baseline`]);
//! * `proofs`: inclusion proofs served per second ([`proofs`]);
//! * `fill`, `restart`, `size`: a large log ([`fill`]), its restart time
//!   and its bytes on disk ([`reopen`]);
//! * `overload`: shed rate, latency and peak RSS at 5x the measured
//!   capacity, and the recovery after ([`overload`]);
//! * `events`: recorded audit events against raw appends of the same
//!   bytes, and many logs in one process against one ([`events`]);
//! * `anomalies`: precision, recall and detection delay of the anomaly
//!   detectors on a synthetic workload in simulated time ([`anomalies`]).
//!
//! The server under test is embedded by default ([`target`]); the machine
//! and its load are always reported ([`machine`]).

#![forbid(unsafe_code)]

mod anomalies;
mod append;
mod baseline;
mod cli;
mod entries;
mod events;
mod fill;
mod machine;
mod overload;
mod proofs;
mod reopen;
mod report;
mod schedule;
mod stats;
mod target;
mod verify;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::machine::Machine;
use crate::report::Output;

/// mimalloc instead of glibc malloc: under load glibc's arenas and
/// consolidation took ~18% of the server's CPU (perf; README, "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut machine = Machine::start();
    let mut out = Output::new(cli.json);
    let result = match cli.command {
        Command::Append(a) => append::run(a, &mut out, &mut machine),
        Command::Proofs(a) => proofs::run(a, &mut out, &mut machine),
        Command::Fill(a) => fill::run(a, &mut out, &mut machine),
        Command::Restart(a) => reopen::run_restart(a, &mut out),
        Command::Size(a) => reopen::run_size(a, &mut out),
        Command::Overload(a) => overload::run(a, &mut out, &mut machine),
        Command::Events(a) => events::run(a, &mut out),
        Command::Anomalies(a) => anomalies::run_anomalies(a, &mut out),
    };
    machine.finish();
    match result {
        Ok(valid) => {
            out.finish(&machine);
            if valid {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "vellum-bench: some answers failed verification (INVALID above) or targets were missed (MISSED above)"
                );
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("vellum-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}
