//! `vellum keygen`: a new Ed25519 key for a log or a witness.
//!
//! The private key goes to a new file (mode 0600, never overwritten); the
//! public key (vkey) goes to stdout alone, so that
//! `vkey=$(vellum keygen ...)` captures exactly it.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use vellum_note::{SigType, SignerKey};
use vellum_signer::keyfile::write_key;

use crate::exit::CmdResult;

/// Exit statuses as this command uses them (it never gives 1: it checks
/// nothing).
const KEYGEN_EXIT_HELP: &str = "\
Exit status:
  0  the key file was written and the vkey printed
  2  invalid name, the key file already exists, or it could not be written";

/// Arguments of `vellum keygen`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Generate a log or witness key: private key to a file, vkey to stdout",
    long_about = "Generate a new Ed25519 key in signed-note text form.\n\n\
        The private key (PRIVATE+KEY+<name>+<id>+<base64>) is written to --out, a new \
        file with mode 0600; an existing file is never overwritten. The public key \
        (vkey, <name>+<id>+<base64>) is printed on stdout as one line and nothing \
        else, so it can be captured with $(...); notes for the operator go to stderr.\n\n\
        A log key (signature type 0x01) is named after the log's origin, the first \
        line of its checkpoints, e.g. example.com/audit. With --witness the key is a \
        timestamped cosignature key (type 0x04, C2SP tlog-cosignature) for a witness, \
        named after the witness, e.g. witness.example.org.",
    after_help = KEYGEN_EXIT_HELP,
)]
pub struct Args {
    /// Key name: the log's origin (or, with --witness, the witness's name).
    /// Non-empty, no white space, no '+'.
    #[arg(long, visible_alias = "name", value_name = "ORIGIN")]
    origin: String,

    /// Where to write the private key. Must not exist yet.
    #[arg(long, value_name = "KEYFILE")]
    out: PathBuf,

    /// Make a witness cosignature key (type 0x04) instead of a log key.
    #[arg(long)]
    witness: bool,
}

/// Runs `vellum keygen`.
pub fn run(args: Args) -> CmdResult {
    let (sig_type, role) = if args.witness {
        (SigType::CosignatureV1, "witness")
    } else {
        (SigType::Ed25519, "log")
    };
    // The name is checked here, before any file is created.
    let key = SignerKey::generate(&args.origin, sig_type)
        .with_context(|| format!("cannot make a {role} key"))?;
    write_key(&args.out, &key)?;

    let vkey = key.verifier();
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{vkey}")
        .and_then(|()| stdout.flush())
        .context("cannot write the vkey to stdout")?;
    eprintln!(
        "wrote the {role} private key {}+{:08x} to {} (mode 0600): keep it secret, and back it up",
        key.name(),
        key.key_id(),
        args.out.display()
    );
    Ok(())
}
