//! `vellum checkpoint`: the log's latest signed checkpoint.

use std::io::Write;

use anyhow::Context;

use crate::exit::{CmdResult, Failure};
use crate::remote::{self, RemoteArgs};

/// Exit statuses as this command uses them.
const CHECKPOINT_EXIT_HELP: &str = "\
Exit status:
  0  the checkpoint was printed (and, with --vkey or --policy, it verified)
  1  the checkpoint does not verify against --vkey or --policy
  2  usage error, no server, or the log has no checkpoint yet";

/// Arguments of `vellum checkpoint`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Print the log's latest signed checkpoint",
    long_about = "Print the log's latest checkpoint: the C2SP signed note (origin, tree \
        size, base64 root, then the signature lines), exactly as signed.\n\n\
        With --vkey or --policy it is verified first, and a summary goes to stderr. \
        Without them it is printed as served, and stderr says that it was not verified.",
    after_help = CHECKPOINT_EXIT_HELP,
)]
pub struct Args {
    #[command(flatten)]
    remote: RemoteArgs,
}

/// Runs `vellum checkpoint`.
pub fn run(args: Args) -> CmdResult {
    let trust = args.remote.trust()?;
    let note = remote::runtime()?.block_on(async {
        match trust {
            Some(trust) => {
                let client = args.remote.connect(trust).await?;
                let cp = client.checkpoint().await.map_err(remote::failure)?;
                eprintln!(
                    "verified: log {}, size {}, root {} (hex)",
                    cp.origin(),
                    cp.size(),
                    cp.root()
                );
                Ok::<_, Failure>(cp.note().to_vec())
            }
            None => {
                let client = args.remote.connect_unverified().await?;
                let note = client.checkpoint().await.map_err(remote::failure)?;
                eprintln!("warning: NOT verified (give --vkey or --policy to verify it)");
                Ok(note.to_vec())
            }
        }
    })?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&note)
        .and_then(|()| stdout.flush())
        .context("cannot write to stdout")?;
    Ok(())
}
