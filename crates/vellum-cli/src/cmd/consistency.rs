//! `vellum consistency`: a consistency proof between two tree sizes, and
//! what could be verified of it.

use std::io::Write;

use anyhow::{Context, anyhow};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use vellum_client::TrustedCheckpoint;
use vellum_merkle::Hash;
use vellum_note::note::MAX_NOTE_SIZE;

use crate::exit::{CmdResult, Failure};
use crate::input::Source;
use crate::remote::{self, RemoteArgs};

/// Exit statuses as this command uses them.
const CONSISTENCY_EXIT_HELP: &str = "\
Exit status:
  0  the proof was printed (and, with --vkey or --policy, verified as stderr says)
  1  a checkpoint or the proof does not verify: the log is not append-only
     between these trees, or it sent something forged
  2  usage error, no server, sizes beyond the log, or a proof that cannot be
     verified with what was given (nothing is printed then)";

/// Arguments of `vellum consistency`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Print a consistency proof: the tree of one size extends the tree of another",
    long_about = "Print the RFC 6962 consistency proof from tree size N to tree size M \
        (default: the latest checkpoint), one base64 hash per line.\n\n\
        What is verified with --vkey or --policy:\n\
        \x20 --from-checkpoint F   F (a signed checkpoint of size N, e.g. one saved by\n\
        \x20                       'vellum checkpoint') is verified, and so is the checkpoint\n\
        \x20                       of size M (--to-checkpoint, or the log's latest); then the\n\
        \x20                       proof must show that M's tree extends N's. This is the\n\
        \x20                       full check.\n\
        \x20 --from N              the log serves only its latest checkpoint, so M must be\n\
        \x20                       the latest size. The latest checkpoint is verified, and\n\
        \x20                       the proof must lead from a tree of size N to its root;\n\
        \x20                       the root at size N that the proof implies is printed on\n\
        \x20                       stderr, to compare with a checkpoint of size N you hold.\n\
        \x20                       When N is a power of two that root is not in the proof\n\
        \x20                       (the proof starts from it), so nothing can be checked:\n\
        \x20                       give --from-checkpoint then.\n\
        Without --vkey or --policy the proof is printed as served, unverified.",
    after_help = CONSISTENCY_EXIT_HELP,
    group = clap::ArgGroup::new("old").args(["from", "from_checkpoint"]).required(true),
)]
pub struct Args {
    #[command(flatten)]
    remote: RemoteArgs,

    /// The old tree size.
    #[arg(long, value_name = "N")]
    from: Option<u64>,

    /// A signed checkpoint of the old tree (its size is N).
    #[arg(long, value_name = "FILE", value_parser = Source::parse)]
    from_checkpoint: Option<Source>,

    /// The new tree size (default: the latest checkpoint's).
    #[arg(long, value_name = "M", conflicts_with = "to_checkpoint")]
    to: Option<u64>,

    /// A signed checkpoint of the new tree (needs --from-checkpoint).
    #[arg(long, value_name = "FILE", value_parser = Source::parse, requires = "from_checkpoint")]
    to_checkpoint: Option<Source>,
}

/// Runs `vellum consistency`.
pub fn run(args: Args) -> CmdResult {
    let trust = args.remote.trust()?;
    let read = |src: &Option<Source>| -> anyhow::Result<Option<Vec<u8>>> {
        src.as_ref().map(|s| s.read(MAX_NOTE_SIZE)).transpose()
    };
    let old_note = read(&args.from_checkpoint)?;
    let new_note = read(&args.to_checkpoint)?;

    let proof = remote::runtime()?.block_on(async {
        let Some(trust) = trust else {
            if old_note.is_some() {
                return Err(anyhow!("--from-checkpoint needs --vkey or --policy to verify it").into());
            }
            let client = args.remote.connect_unverified().await?;
            let from = args.from.unwrap_or_default();
            let raw = client
                .consistency(from, args.to.unwrap_or(0))
                .await
                .map_err(remote::failure)?;
            eprintln!(
                "warning: NOT verified: proof from size {} to {} as served (give --vkey or --policy)",
                raw.from, raw.to
            );
            return Ok::<_, Failure>(raw.proof);
        };
        let client = args.remote.connect(trust).await?;
        let verify = |bytes: &[u8], what: &str| {
            client
                .verify_checkpoint(bytes, what)
                .map_err(remote::failure)
        };
        match old_note {
            Some(old) => {
                let old = verify(&old, "--from-checkpoint")?;
                let new = match &new_note {
                    Some(n) => verify(n, "--to-checkpoint")?,
                    None => client.checkpoint().await.map_err(remote::failure)?,
                };
                check_to(args.to, &new)?;
                let proof = client.consistency(&old, &new).await.map_err(remote::failure)?;
                eprintln!(
                    "verified: the tree of size {} (root {}) extends the tree of size {} (root {}), \
                     both checkpoints signed by {}",
                    new.size(),
                    b64(&new.root()),
                    old.size(),
                    b64(&old.root()),
                    new.log_key()
                );
                Ok(proof)
            }
            None => {
                let from = args.from.unwrap_or_default();
                let prefix = client.consistency_from(from).await.map_err(remote::failure)?;
                check_to(args.to, &prefix.checkpoint)?;
                let new = &prefix.checkpoint;
                let Some(old_root) = prefix.old_root else {
                    return Err(anyhow!(
                        "cannot verify the proof from size {from} to {}: {from} is a power of two, \
                         so its root is where the proof starts and is not in it; give \
                         --from-checkpoint with a checkpoint of size {from}",
                        new.size()
                    )
                    .into());
                };
                eprintln!(
                    "verified against the latest checkpoint (size {}, root {}, signed by {}): \
                     the proof leads to it from the tree of size {from} whose root is",
                    new.size(),
                    b64(&new.root()),
                    new.log_key()
                );
                eprintln!("  {}", b64(&old_root));
                eprintln!("compare it with the root of a checkpoint of size {from} you hold");
                Ok(prefix.proof)
            }
        }
    })?;

    let mut text = String::with_capacity(45 * proof.len());
    for h in &proof {
        text.push_str(&b64(h));
        text.push('\n');
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("cannot write to stdout")?;
    Ok(())
}

/// `--to M` must name the checkpoint that is verified against.
fn check_to(to: Option<u64>, new: &TrustedCheckpoint) -> Result<(), Failure> {
    match to {
        Some(m) if m != new.size().get() => Err(anyhow!(
            "the log serves only its latest checkpoint (size {}), so a proof to size {m} cannot \
             be verified: leave out --to, or run without --vkey/--policy to see it unverified",
            new.size()
        )
        .into()),
        _ => Ok(()),
    }
}

fn b64(h: &Hash) -> String {
    STANDARD.encode(h.as_bytes())
}
