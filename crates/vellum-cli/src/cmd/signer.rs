//! `vellum signer`: the checkpoint signer in its own process, so that the
//! log's key never lives in the sequencer's address space; or, with
//! `--list`, the signer's journal.
//!
//! Wiring only: the key file is checked (mode 0600) and loaded, the journal
//! opened, and `vellum_server::grpc::serve_signer` does the rest.

use std::path::PathBuf;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use vellum_note::{Checkpoint, Note};
use vellum_server::LocalSigner;
use vellum_server::grpc::signer::{SignerAddr, SignerService};
use vellum_signer::CheckpointSigner;
use vellum_signer::journal::{Journal, RecordKind};
use vellum_signer::keyfile::load_key;

use crate::exit::CmdResult;

const SIGNER_EXIT_HELP: &str = "\
Exit status:
  0  stopped cleanly on Ctrl-C or SIGTERM (or the journal was listed)
  2  refused to start (key file unreadable or not mode 0600, journal of another
     key or corrupt, address in use)";

/// Arguments of `vellum signer`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Run the checkpoint signer in its own process, or list its journal",
    long_about = "Run the checkpoint signer: it holds the log's private key and signs a \
        checkpoint only when the request proves, with a consistency proof, that the tree \
        extends the last checkpoint it signed. Its memory is its journal (--journal): \
        every checkpoint it signed and every request it refused, each durable before the \
        answer. A smaller size, the same size with another root, a bad proof or another \
        origin is refused and journaled.\n\n\
        Point a log at it with `vellum serve --signer ADDR`. A Unix socket (the default \
        form, unix:/path) is created with mode 0600, so only this user can ask for \
        signatures.\n\n\
        With --list, print the journal (one line per record: kind, size, root) and exit.",
    after_help = SIGNER_EXIT_HELP,
)]
pub struct Args {
    /// The journal folder (created if missing).
    #[arg(long, value_name = "DIR")]
    journal: PathBuf,

    /// The log's private key file (mode 0600). Required to serve.
    #[arg(long, value_name = "KEYFILE", required_unless_present = "list")]
    key: Option<PathBuf>,

    /// Where to listen: unix:/path/to/socket or http://127.0.0.1:PORT.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr, required_unless_present = "list")]
    listen: Option<SignerAddr>,

    /// Print the journal and exit.
    #[arg(long, conflicts_with_all = ["key", "listen"])]
    list: bool,
}

fn parse_addr(s: &str) -> Result<SignerAddr, String> {
    s.parse()
}

/// Runs `vellum signer`.
pub fn run(args: Args) -> CmdResult {
    if args.list {
        return list(&args.journal);
    }
    super::serve::init_tracing();
    let (Some(key_path), Some(addr)) = (args.key, args.listen) else {
        return Err(anyhow::anyhow!("--key and --listen are required to serve").into());
    };
    let key = load_key(&key_path)?;
    let vkey = key.verifier();
    let signer = CheckpointSigner::open(key, &args.journal).with_context(|| {
        format!(
            "cannot open the signer journal in {}",
            args.journal.display()
        )
    })?;
    let last = signer
        .last_signed()
        .map(|l| l.checkpoint.size().get().to_string())
        .unwrap_or_else(|| "nothing yet".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vellum-signer")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let service = SignerService::new(LocalSigner::new(signer), vkey.clone());
        // Printed once the address is bound: a log started after the banner
        // can connect.
        let banner = || {
            eprintln!("vellum: signer for {}", vkey.name());
            eprintln!("  vkey:    {vkey}");
            eprintln!("  listen:  {addr}");
            eprintln!(
                "  journal: {} (last signed size: {last})",
                args.journal.display()
            );
            eprintln!("  stop:    Ctrl-C or SIGTERM");
        };
        let stop = async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
        };
        vellum_server::grpc::serve_signer(&addr, service, banner, stop)
            .await
            .with_context(|| format!("signer on {addr}"))?;
        eprintln!("vellum: signer stopped");
        Ok(())
    })
}

/// One line per journal record: `signed <size> <root>`, `refused <reason>`
/// or `recovered <what and why>`.
fn list(dir: &std::path::Path) -> CmdResult {
    let records = Journal::read_all(dir)
        .with_context(|| format!("cannot read the signer journal in {}", dir.display()))?;
    for r in records {
        match r.kind {
            RecordKind::Signed => {
                let note =
                    Note::parse(&r.payload).context("a journal record is not a signed note")?;
                let cp = Checkpoint::parse(note.text())
                    .context("a journal record is not a checkpoint")?;
                // The root as checkpoints write it (base64), to compare by eye.
                let root = note.text().lines().nth(2).unwrap_or_default();
                println!("signed {} {root}", cp.size());
            }
            RecordKind::Refused => {
                let text = String::from_utf8_lossy(&r.payload);
                println!("refused {}", text.lines().next().unwrap_or(""));
            }
            RecordKind::Recovered => {
                let text = String::from_utf8_lossy(&r.payload);
                println!("recovered {}", text.lines().next().unwrap_or(""));
            }
        }
    }
    Ok(())
}
