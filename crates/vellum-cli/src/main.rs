//! `vellum`: the command line of the Vellum transparency log. Parsing and
//! dispatch only; each command lives in `cmd/<name>.rs`.

#![forbid(unsafe_code)]

mod cmd;
mod daemon;
mod exit;
mod input;
mod remote;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc malloc: under load glibc's arenas and
/// consolidation took ~18% of the server's CPU (perf; README, "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "vellum",
    version,
    about = "Vellum: a transparency log for audit records",
    long_about = "Vellum: a transparency log for audit records.\n\n\
        Anyone holding a signed checkpoint can prove that a record is in the log and \
        that the log only ever grew. The formats are the C2SP ones (signed-note, \
        tlog-checkpoint, tlog-cosignature, tlog-proof, tlog-policy), so proofs can \
        be checked with other tools too.\n\n\
        Results go to stdout, one item per line, for scripts; messages go to stderr, \
        errors as 'error: <reason>'. Run 'vellum <command> --help' for details.",
    after_help = exit::EXIT_STATUS_HELP,
    propagate_version = true,
)]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

/// The commands, one module each under `cmd/`.
// One value, parsed once per process: variant sizes do not matter, and
// boxing them would only make each new command's line longer.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    Keygen(cmd::keygen::Args),
    Verify(cmd::verify::Args),
    Serve(cmd::serve::Args),
    Append(cmd::append::Args),
    Record(cmd::record::Args),
    History(cmd::history::Args),
    Alerts(cmd::alerts::Args),
    Checkpoint(cmd::checkpoint::Args),
    Prove(cmd::prove::Args),
    Consistency(cmd::consistency::Args),
    Signer(cmd::signer::Args),
    Witness(cmd::witness::Args),
    Export(cmd::export::Args),
    Audit(cmd::audit::Args),
    Watch(cmd::watch::Args),
    Fsck(cmd::fsck::Args),
    Reindex(cmd::reindex::Args),
    Recover(cmd::recover::Args),
    Doctor(cmd::doctor::Args),
    Health(cmd::health::Args),
    Config(cmd::config::Args),
    Token(cmd::token::Args),
}

fn main() -> ExitCode {
    // Usage errors and --help are handled by clap (exit 2 and 0).
    let cli = Cli::parse();
    exit::finish(match cli.cmd {
        Command::Keygen(args) => cmd::keygen::run(args),
        Command::Verify(args) => cmd::verify::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Append(args) => cmd::append::run(args),
        Command::Record(args) => cmd::record::run(args),
        Command::History(args) => cmd::history::run(args),
        Command::Alerts(args) => cmd::alerts::run(args),
        Command::Checkpoint(args) => cmd::checkpoint::run(args),
        Command::Prove(args) => cmd::prove::run(args),
        Command::Consistency(args) => cmd::consistency::run(args),
        Command::Signer(args) => cmd::signer::run(args),
        Command::Witness(args) => cmd::witness::run(args),
        Command::Export(args) => cmd::export::run(args),
        Command::Audit(args) => cmd::audit::run(args),
        Command::Watch(args) => cmd::watch::run(args),
        Command::Fsck(args) => cmd::fsck::run(args),
        Command::Reindex(args) => cmd::reindex::run(args),
        Command::Recover(args) => cmd::recover::run(args),
        Command::Doctor(args) => cmd::doctor::run(args),
        Command::Health(args) => cmd::health::run(args),
        Command::Config(args) => cmd::config::run(args),
        Command::Token(args) => cmd::token::run(args),
    })
}
