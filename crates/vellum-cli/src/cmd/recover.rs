//! `vellum recover`: the explicit, recorded way back after a restore that
//! was meant. `vellum_server::recover` does the work and documents it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use vellum_log::memory::Remembered;
use vellum_server::embedded::Layout;
use vellum_server::recover::{RecoverOptions, recover};

use crate::cmd::serve::duration;
use crate::exit::CmdResult;

/// Exit statuses as this command uses them.
const RECOVER_EXIT_HELP: &str = "\
Exit status:
  0  recovered (or nothing was missing): `vellum serve` will start
  2  refused or failed: stderr says why; nothing after the failing step changed";

/// Arguments of `vellum recover`.
#[derive(Debug, clap::Args)]
#[command(
    about = "After a restore that was meant: fetch what is missing, check, and let the signer adopt the data",
    long_about = "After a restore that was meant (the data folder put back onto a new \
        machine, or an old copy after a disk loss), `vellum serve` refuses to start \
        when the signer, a witness or the export remembers more than the store holds. \
        This is the explicit way back; the log must be stopped.\n\n\
        1. --from-tiles FOLDER: the entries the store lacks are read from a tiles \
        export of this log (vellum serve --export, vellum export); they are written \
        only if they make the exported checkpoint's root.\n\
        2. --from-witnesses POLICY: each witness is shown the store's latest \
        checkpoint; one that remembers a larger or another tree stops the recovery, \
        and at least one must answer.\n\
        3. The signer's memory (<data>.signer, or --signer-state) adopts the store's \
        latest checkpoint if it is behind. It never moves back: a signer that \
        remembers more than the store holds stops the recovery.\n\n\
        The reason (--reason) and what was checked are recorded in the signer's \
        journal, before the adopted checkpoint. --trust-store adopts on your word \
        alone, with neither source, and records that.",
    after_help = RECOVER_EXIT_HELP,
)]
pub struct Args {
    /// The data folder (as given to `vellum serve --data`).
    #[arg(long, value_name = "DIR", default_value = "vellum-data")]
    data: PathBuf,

    /// The private key file, instead of <data>/log.key.
    #[arg(long, value_name = "KEYFILE")]
    key: Option<PathBuf>,

    /// The signer's memory, instead of <data>.signer.
    #[arg(long, value_name = "DIR", env = "VELLUM_SIGNER_STATE")]
    signer_state: Option<PathBuf>,

    /// A tiles export of this log to fetch missing entries from.
    #[arg(long, value_name = "FOLDER")]
    from_tiles: Option<PathBuf>,

    /// A C2SP tlog-policy naming the witnesses (with URLs) to ask.
    #[arg(long, value_name = "POLICY")]
    from_witnesses: Option<PathBuf>,

    /// How long to wait for each witness.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "5s")]
    witness_timeout: Duration,

    /// PEM CA certificate(s) of the witnesses' https:// certificates, as
    /// for `vellum serve --witness-tls-ca`.
    #[arg(long, value_name = "FILE", requires = "from_witnesses")]
    witness_tls_ca: Option<PathBuf>,

    /// The log's tokens for its witnesses (`<witness name> <token>` lines,
    /// mode 0600), as for `vellum serve --witness-credentials`.
    #[arg(long, value_name = "FILE", requires = "from_witnesses")]
    witness_credentials: Option<PathBuf>,

    /// Adopt the store's latest checkpoint with no witness and no export to
    /// check it against, on your word (recorded as such).
    #[arg(long)]
    trust_store: bool,

    /// Why: recorded in the signer's journal (e.g. "restored onto new host
    /// after disk loss, ticket 1234").
    #[arg(long, value_name = "TEXT", required = true)]
    reason: String,
}

/// Runs `vellum recover`.
pub fn run(args: Args) -> CmdResult {
    crate::daemon::init_tracing();
    let witnesses = match &args.from_witnesses {
        None => None,
        Some(path) => {
            let policy = vellum_server::witness::read_policy(path)
                .map_err(|e| anyhow::anyhow!("--from-witnesses: {e}"))?;
            Some(
                vellum_server::witness::witnessing_from_policy(
                    policy,
                    true,
                    args.witness_timeout,
                    &vellum_server::witness::WitnessAuth {
                        ca: args.witness_tls_ca.clone(),
                        credentials: args.witness_credentials.clone(),
                    },
                )
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("--from-witnesses {}", path.display()))?,
            )
        }
    };
    let opts = RecoverOptions {
        layout: Layout {
            data: args.data,
            signer_state: args.signer_state,
        },
        key: args.key,
        from_tiles: args.from_tiles,
        witnesses,
        trust_store: args.trust_store,
        reason: args.reason,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(recover(opts))?;
    for (name, answer) in &report.witnesses {
        let said = match answer {
            Remembered::Same => "cosigned this checkpoint".to_owned(),
            Remembered::Behind(n) => format!("remembers size {n} (behind: fine)"),
            Remembered::Unknown(why) => format!("no answer: {why}"),
            Remembered::Ahead(n) => format!("remembers size {n}"),
            Remembered::Forked => "remembers another tree".to_owned(),
        };
        eprintln!("vellum: witness {name}: {said}");
    }
    if report.fetched > 0 {
        eprintln!(
            "vellum: fetched {} entries from the tiles export",
            report.fetched
        );
    }
    let before = report
        .signer_before
        .map_or_else(|| "nothing".to_owned(), |s| format!("size {s}"));
    if report.adopted {
        eprintln!(
            "vellum: the signer remembered {before}; it adopted the store's checkpoint of size {} \
             (recorded in its journal)",
            report.size
        );
    } else {
        eprintln!(
            "vellum: the signer remembered {before}; the store's checkpoint of size {} needs no \
             adoption",
            report.size
        );
    }
    println!("ok {}", report.size);
    Ok(())
}
