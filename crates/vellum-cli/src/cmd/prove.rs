//! `vellum prove`: a tlog-proof of an entry, against the latest checkpoint.

use std::io::Write;

use anyhow::{Context, anyhow};
use vellum_client::unverified::RawInclusion;
use vellum_merkle::LeafIndex;
use vellum_note::TlogProof;

use crate::exit::{CmdResult, Failure};
use crate::input::Source;
use crate::remote::{self, RemoteArgs};

/// Exit statuses as this command uses them.
const PROVE_EXIT_HELP: &str = "\
Exit status:
  0  the proof was printed (and, with --vkey or --policy, it verified)
  1  the log's checkpoint or proof does not verify
  2  usage error, no server, or no such entry in a signed checkpoint yet";

/// Largest entry file read (the tlog-tiles limit).
const MAX_ENTRY: usize = 65_535;

/// Arguments of `vellum prove`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Print a tlog-proof that an entry is in the log",
    long_about = "Print a C2SP tlog-proof (c2sp.org/tlog-proof@v1) that an entry is in the \
        log, against the log's latest signed checkpoint: 'vellum verify' (and other \
        C2SP tools) check it offline.\n\n\
        The entry is given by --index, or by its content with --entry FILE (found by \
        its leaf hash). With --vkey or --policy the proof is verified before it is \
        printed; without them it is printed as served and stderr says so.",
    after_help = PROVE_EXIT_HELP,
    group = clap::ArgGroup::new("which").args(["index", "entry"]).required(true),
)]
pub struct Args {
    #[command(flatten)]
    remote: RemoteArgs,

    /// The entry's index.
    #[arg(long, value_name = "N")]
    index: Option<u64>,

    /// The entry's bytes ('-' for stdin).
    #[arg(long, value_name = "FILE", value_parser = Source::parse)]
    entry: Option<Source>,
}

/// Runs `vellum prove`.
pub fn run(args: Args) -> CmdResult {
    let trust = args.remote.trust()?;
    let entry = match &args.entry {
        Some(src) => Some(
            src.read(MAX_ENTRY)
                .with_context(|| format!("{src} cannot be an entry (at most {MAX_ENTRY} bytes)"))?,
        ),
        None => None,
    };
    let proof = remote::runtime()?.block_on(async {
        match trust {
            Some(trust) => {
                let client = args.remote.connect(trust).await?;
                let proof = match (&entry, args.index) {
                    (Some(e), _) => client.prove_entry(e).await,
                    (None, Some(i)) => client.prove(i).await,
                    (None, None) => return Err(anyhow!("give --index or --entry").into()),
                }
                .map_err(remote::failure)?;
                eprintln!("verified: entry {} in the checkpoint below", proof.index());
                Ok::<_, Failure>(proof)
            }
            None => {
                let client = args.remote.connect_unverified().await?;
                let raw = match (&entry, args.index) {
                    (Some(e), _) => client.inclusion_of_entry(e, 0).await,
                    (None, Some(i)) => client.entry_and_proof(i, 0).await,
                    (None, None) => return Err(anyhow!("give --index or --entry").into()),
                }
                .map_err(remote::failure)?;
                let proof = unverified_proof(raw)?;
                eprintln!("warning: NOT verified (give --vkey or --policy to verify it)");
                Ok(proof)
            }
        }
    })?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(proof.format().as_bytes())
        .and_then(|()| stdout.flush())
        .context("cannot write to stdout")?;
    Ok(())
}

/// The tlog-proof file of an unverified answer; a malformed one is refused.
fn unverified_proof(raw: RawInclusion) -> Result<TlogProof, Failure> {
    let index = LeafIndex::new(raw.index).map_err(Failure::rejected)?;
    let note = raw
        .checkpoint
        .ok_or_else(|| Failure::rejected(anyhow!("the answer carries no checkpoint")))?;
    TlogProof::new(None, index, raw.proof, note.to_vec())
        .context("the log's answer is not a valid tlog-proof")
        .map_err(Failure::rejected)
}
