//! `vellum verify`: check a C2SP tlog-proof offline.
//!
//! The only trust is what the operator gives: a log key (`--vkey`) or a
//! tlog-policy file (`--policy`). Everything in the proof file, the extra
//! data included, is checked against that or ignored.

use std::io::Write;

use anyhow::{Context, anyhow};
use vellum_note::tlog_proof::MAX_PROOF_SIZE;
use vellum_note::{Policy, TlogProof, VerifiedProof, VerifierKey};

use crate::exit::{CmdResult, Failure};
use crate::input::{self, Source};
use crate::remote;

/// Exit statuses as this command uses them.
const VERIFY_EXIT_HELP: &str = "\
Exit status:
  0  the proof is valid: 'ok' is the only output on stdout
  1  the proof is invalid (wrong entry, corrupted or forged proof, checkpoint
     not signed by the log, witness quorum not met); the reason is on stderr
  2  usage error, unreadable file, or an invalid --vkey or --policy: nothing
     was checked";

/// Largest entry read. Vellum's entries are at most 65,535 bytes (tlog-tiles
/// bundles), but a tlog-proof may come from another log; this only keeps a
/// wrong file from exhausting memory.
const MAX_ENTRY_SIZE: usize = 64 << 20;

/// Arguments of `vellum verify`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Verify a tlog-proof file offline: is this entry in the log?",
    long_about = "Verify a C2SP tlog-proof (c2sp.org/tlog-proof@v1) offline: the entry's \
        leaf hash, the inclusion proof and the signed checkpoint in PROOFFILE must show \
        that ENTRYFILE is at the proof's index in a log you trust. No network access.\n\n\
        Trust comes from --vkey, --policy or both:\n\
        \x20 --vkey VKEY        trust this log key; no witness cosignature is required\n\
        \x20                    (the policy 'log VKEY' + 'quorum none').\n\
        \x20 --policy FILE      trust the logs, witnesses and quorum of a C2SP tlog-policy\n\
        \x20                    file; the checkpoint must be cosigned to its quorum.\n\
        \x20 both               as --policy, and the proof must be from the --vkey log,\n\
        \x20                    which must be one of the policy's logs.\n\n\
        A vkey is given inline (example.com/log+1234abcd+AQ...) or as @FILE, a file \
        holding it. ENTRYFILE or PROOFFILE may be '-' for stdin (not both).\n\n\
        On success, prints 'ok' on stdout. With --verbose, details (index, tree size, \
        root, log, cosigners) go to stderr.",
    after_help = VERIFY_EXIT_HELP,
    group = clap::ArgGroup::new("trust").args(["vkey", "policy"]).required(true).multiple(true),
)]
pub struct Args {
    /// The log's public key, inline or as @FILE.
    #[arg(long, value_name = "VKEY", value_parser = input::vkey)]
    vkey: Option<VerifierKey>,

    /// A C2SP tlog-policy file: trusted logs, witnesses and the quorum.
    #[arg(long, value_name = "FILE", value_parser = Source::parse)]
    policy: Option<Source>,

    /// The entry's bytes, exactly as appended ('-' for stdin).
    #[arg(long, value_name = "ENTRYFILE", value_parser = Source::parse)]
    entry: Source,

    /// The tlog-proof file ('-' for stdin).
    #[arg(value_name = "PROOFFILE", value_parser = Source::parse)]
    proof: Source,

    /// Print what was verified (index, tree size, root, log, cosigners) to stderr.
    #[arg(short, long)]
    verbose: bool,
}

/// Runs `vellum verify`.
pub fn run(args: Args) -> CmdResult {
    if args.entry == Source::Stdin && args.proof == Source::Stdin {
        return Err(anyhow!("the entry and the proof cannot both be read from stdin ('-')").into());
    }
    // The --policy file if given (which must then list --vkey, if given),
    // else "this log, no quorum".
    let policy = remote::load_policy(args.vkey.as_ref(), args.policy.as_ref())?;
    let proof_bytes = args.proof.read(MAX_PROOF_SIZE)?;
    let entry = args.entry.read(MAX_ENTRY_SIZE)?;

    // From here on every error is a verdict on the proof: exit 1.
    let proof = TlogProof::parse(&proof_bytes)
        .with_context(|| format!("{} is not a valid tlog-proof", args.proof))
        .map_err(Failure::rejected)?;
    let verified = proof
        .verify(&entry, &policy)
        .with_context(|| format!("{} does not prove this entry", args.proof))
        .map_err(Failure::rejected)?;
    if let Some(vkey) = &args.vkey {
        // Only reachable with --policy: without it the vkey is the only log.
        if verified.checkpoint().log_key() != vkey {
            return Err(Failure::rejected(anyhow!(
                "the proof is from log {}, not from the --vkey log {vkey}",
                verified.checkpoint().log_key()
            )));
        }
    }

    if args.verbose {
        describe(&verified, &policy);
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "ok")
        .and_then(|()| stdout.flush())
        .context("cannot write to stdout")?;
    Ok(())
}

/// The details for `--verbose`, on stderr: stdout stays exactly `ok`.
fn describe(verified: &VerifiedProof, policy: &Policy) {
    let checkpoint = verified.checkpoint();
    eprintln!("entry index: {}", verified.index().get());
    eprintln!("leaf hash:   {} (hex)", verified.leaf_hash());
    eprintln!("tree size:   {}", verified.tree_size().get());
    eprintln!("root:        {} (hex)", checkpoint.checkpoint().root());
    eprintln!("log:         {}", checkpoint.log_key());
    eprintln!("quorum:      {}", policy.quorum_name());
    if checkpoint.cosignatures().is_empty() {
        eprintln!("cosigned by: no policy witness");
    }
    for c in checkpoint.cosignatures() {
        eprintln!(
            "cosigned by: {} at {} (POSIX seconds)",
            c.witness(),
            c.timestamp()
        );
    }
}
