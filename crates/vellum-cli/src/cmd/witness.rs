//! `vellum witness`: a C2SP tlog-witness witness over HTTP; or, with
//! `--list`, the sizes it has cosigned.
//!
//! Wiring only: the cosigner key (mode 0600), the trusted logs (a tlog-policy
//! file of `log` lines) and the state folder go to `vellum_witness`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use vellum_note::CosignerKey;
use vellum_signer::keyfile::load_key;
use vellum_witness::Witness;
use vellum_witness::config::TrustedLogs;
use vellum_witness::state::WitnessState;

use crate::exit::CmdResult;

const WITNESS_EXIT_HELP: &str = "\
Exit status:
  0  stopped cleanly on Ctrl-C or SIGTERM (or the state was listed)
  2  refused to start (key not a witness key or not mode 0600, bad logs file,
     corrupt state, address in use)";

/// Arguments of `vellum witness`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Run a tlog-witness witness, or list the sizes it has cosigned",
    long_about = "Run a witness (C2SP tlog-witness): POST /add-checkpoint with an old size, a \
        consistency proof and a signed checkpoint; the witness checks the log's signature and \
        that the checkpoint extends the last one it cosigned for that log, records it \
        durably, and answers with a timestamped cosignature (C2SP tlog-cosignature).\n\n\
        --key is a witness key (vellum keygen --witness). --logs lists the logs it serves, \
        as a tlog-policy file of `log <vkey>` lines. --state keeps, per log, the last \
        checkpoint cosigned: a restarted witness keeps its sizes. Never delete or restore \
        an old copy of the state: that is what lets a log fork past the witness.\n\n\
        With --list, print each log's cosigned size and root and exit.",
    after_help = WITNESS_EXIT_HELP,
)]
pub struct Args {
    /// The trusted logs: a C2SP tlog-policy file with `log <vkey>` lines.
    #[arg(long, value_name = "FILE")]
    logs: PathBuf,

    /// The state folder (created if missing).
    #[arg(long, value_name = "DIR")]
    state: PathBuf,

    /// The witness's private key (type 0x04, mode 0600). Required to serve.
    #[arg(long, value_name = "KEYFILE", required_unless_present = "list")]
    key: Option<PathBuf>,

    /// The HTTP listen address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:6965")]
    listen: SocketAddr,

    /// Print each log's cosigned size and exit.
    #[arg(long, conflicts_with = "key")]
    list: bool,
}

/// Runs `vellum witness`.
pub fn run(args: Args) -> CmdResult {
    let text = std::fs::read_to_string(&args.logs)
        .with_context(|| format!("cannot read the logs file {}", args.logs.display()))?;
    let logs =
        TrustedLogs::parse(&text).with_context(|| format!("logs file {}", args.logs.display()))?;
    if args.list {
        let state = WitnessState::open(&args.state, logs.origins()).with_context(|| {
            format!("cannot open the witness state in {}", args.state.display())
        })?;
        for s in state.list() {
            match s.latest() {
                None => println!("{} 0 -", s.origin()),
                Some(cp) => {
                    let root = cp
                        .note()
                        .text()
                        .lines()
                        .nth(2)
                        .unwrap_or_default()
                        .to_owned();
                    println!("{} {} {root}", s.origin(), cp.size());
                }
            }
        }
        return Ok(());
    }
    super::serve::init_tracing();
    let Some(key_path) = args.key else {
        return Err(anyhow::anyhow!("--key is required to serve").into());
    };
    let key = CosignerKey::new(load_key(&key_path)?).with_context(|| {
        format!(
            "{} is not a witness key (make one with vellum keygen --witness)",
            key_path.display()
        )
    })?;
    let witness = Witness::open(key, logs, &args.state)
        .with_context(|| format!("cannot open the witness state in {}", args.state.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vellum-witness")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr().context("listener address")?;
        eprintln!("vellum: witness {}", witness.name());
        eprintln!("  vkey:   {}", witness.vkey());
        eprintln!("  http:   http://{addr}");
        eprintln!("  logs:   {}", args.logs.display());
        eprintln!("  state:  {}", args.state.display());
        eprintln!("  stop:   Ctrl-C or SIGTERM");
        let stop = async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
        };
        vellum_witness::http::serve(listener, Arc::new(witness), stop)
            .await
            .context("witness HTTP server")?;
        eprintln!("vellum: witness stopped");
        Ok(())
    })
}
