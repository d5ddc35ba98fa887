//! `vellum signer`: the checkpoint signer in its own process, so that the
//! log's key never lives in the sequencer's address space; or, with
//! `--list`, the signer's journal.
//!
//! Wiring only: the key file is checked (mode 0600) and loaded, the journal
//! opened, and `vellum_server::grpc::serve_signer` does the rest.

use std::path::PathBuf;

use anyhow::Context;
use vellum_note::{Checkpoint, Note};
use vellum_server::grpc::signer::{SignerAddr, SignerService};
use vellum_server::{Layered, LocalSigner, SignerServiceConfig, SignerSettings};
use vellum_signer::CheckpointSigner;
use vellum_signer::journal::{Journal, RecordKind};
use vellum_signer::keyfile::load_key;

use super::serve::set_some;
use crate::exit::CmdResult;

const SIGNER_EXIT_HELP: &str = "\
Exit status:
  0  stopped cleanly on Ctrl-C or SIGTERM (or the journal was listed)
  2  refused to start (key file unreadable or not mode 0600, journal of another
     key or corrupt, address in use, a setting missing or bad, a TCP address
     beyond loopback without mutual TLS, a TLS file unusable)";

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
        signatures. Over TCP, http:// is for loopback only; beyond it the signer needs \
        https:// with mutual TLS (--tls-cert, --tls-key, --tls-client-ca: only a peer with \
        a client certificate of that CA, the log with --signer-tls-cert, gets an answer), \
        and refuses to start without it unless --insecure-remote: whoever can reach an \
        open signer can have it sign a tree of their own that extends the log.\n\n\
        Settings may come from a TOML file (--config FILE; see examples/signer.toml and \
        docs/CONFIG.md) and from the environment (VELLUM_SIGNER_JOURNAL, \
        VELLUM_SIGNER_KEY, VELLUM_SIGNER_LISTEN, VELLUM_SIGNER_TLS_CERT, ...); a flag overrides both, the environment \
        overrides the file. `vellum config print signer` shows the result. Serving needs \
        the journal, the key and the address.\n\n\
        With --list, print the journal (one line per record: kind, size, root) and exit.",
    after_help = SIGNER_EXIT_HELP,
)]
pub struct Args {
    #[command(flatten)]
    flags: Flags,

    /// Print the journal and exit.
    #[arg(long, conflicts_with_all = ["key", "listen"])]
    list: bool,

    #[command(flatten)]
    log: crate::daemon::LogArgs,
}

/// The flags that configure `vellum signer` (shared with `vellum config
/// print signer`). Each overrides the file and the environment.
#[derive(Debug, clap::Args)]
pub struct Flags {
    /// A TOML configuration file (see examples/signer.toml and
    /// docs/CONFIG.md); environment variables and flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// The journal folder (created if missing). Required.
    #[arg(long, value_name = "DIR")]
    journal: Option<PathBuf>,

    /// The log's private key file (mode 0600). Required to serve.
    #[arg(long, value_name = "KEYFILE")]
    key: Option<PathBuf>,

    /// Where to listen: unix:/path/to/socket, http://127.0.0.1:PORT, or
    /// https://HOST:PORT with --tls-cert, --tls-key and (beyond loopback)
    /// --tls-client-ca. Required to serve.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    listen: Option<SignerAddr>,

    /// PEM certificate chain of the signer (for an https:// --listen).
    /// Needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert; mode 0600.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// PEM certificate(s) of the CA that the log's client certificate must
    /// chain to (mutual TLS): a peer without such a certificate fails the
    /// handshake. Required beyond loopback.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,

    /// Listen beyond loopback without mutual TLS: anyone who can reach the
    /// port can have the log's key sign a tree of their own. Never in
    /// production.
    #[arg(long)]
    insecure_remote: bool,
}

impl Flags {
    /// The effective configuration: the `--config` file, the environment
    /// over it, these flags over both.
    pub(crate) fn config(&self) -> anyhow::Result<SignerServiceConfig> {
        let mut c =
            SignerServiceConfig::load(self.config.as_deref(), |var| std::env::var(var).ok())?;
        self.overlay(&mut c);
        Ok(c)
    }

    fn overlay(&self, c: &mut SignerServiceConfig) {
        set_some(&mut c.journal, &self.journal);
        set_some(&mut c.key, &self.key);
        set_some(&mut c.listen, &self.listen);
        set_some(&mut c.tls.cert, &self.tls_cert);
        set_some(&mut c.tls.key, &self.tls_key);
        set_some(&mut c.tls.client_ca, &self.tls_client_ca);
        c.insecure_remote |= self.insecure_remote;
    }
}

fn parse_addr(s: &str) -> Result<SignerAddr, String> {
    s.parse()
}

/// Runs `vellum signer`.
pub fn run(args: Args) -> CmdResult {
    let config = args.flags.config()?;
    if args.list {
        return list(config.journal()?);
    }
    let settings = config.to_serve()?;
    match settings.check_safety() {
        Err(refusal) => return Err(anyhow::anyhow!(refusal).into()),
        Ok(Some(warning)) => eprintln!("vellum: {warning}"),
        Ok(None) => {}
    }
    crate::daemon::run("vellum-signer", args.log.log_format, |stop, hup| {
        hup.nothing_to_reload("the signer");
        serve(settings, stop)
    })
}

async fn serve(s: SignerSettings, stop: crate::daemon::Stop) -> CmdResult {
    let SignerSettings {
        journal,
        key,
        listen: addr,
        tls,
        insecure_remote: _,
    } = s;
    // TLS files first: a bad certificate refuses the start before the
    // journal is opened.
    let security = match &tls {
        None if matches!(addr, SignerAddr::Unix(_)) => "unix socket, mode 0600".to_owned(),
        None => "none (plain TCP)".to_owned(),
        Some(f) => match &f.client_ca {
            Some(ca) => format!("mutual TLS (client CA {})", ca.display()),
            None => "TLS, no client certificates".to_owned(),
        },
    };
    let tls = match &tls {
        None => None,
        Some(files) if files.client_ca.is_some() => {
            Some(vellum_server::tls::mtls_server_config(files, &[b"h2"]).context("signer TLS")?)
        }
        Some(files) => {
            Some(vellum_server::tls::server_config(files, &[b"h2"]).context("signer TLS")?)
        }
    };
    let key = load_key(&key)?;
    let vkey = key.verifier();
    let signer = CheckpointSigner::open(key, &journal)
        .with_context(|| format!("cannot open the signer journal in {}", journal.display()))?;
    let last = signer
        .last_signed()
        .map(|l| l.checkpoint.size().get().to_string())
        .unwrap_or_else(|| "nothing yet".into());
    let service = SignerService::new(LocalSigner::new(signer), vkey.clone());
    // Printed once the address is bound: a log started after the banner
    // can connect.
    let banner = || {
        if crate::daemon::json() {
            tracing::info!(
                origin = %vkey.name(),
                vkey = %vkey,
                listen = %addr,
                peers = %security,
                journal = %journal.display(),
                last_signed = %last,
                "serving"
            );
            return;
        }
        eprintln!("vellum: signer for {}", vkey.name());
        eprintln!("  vkey:    {vkey}");
        eprintln!("  listen:  {addr}");
        eprintln!("  peers:   {security}");
        eprintln!(
            "  journal: {} (last signed size: {last})",
            journal.display()
        );
        eprintln!("  stop:    Ctrl-C or SIGTERM");
    };
    let stop = async move {
        stop.await;
    };
    vellum_server::grpc::serve_signer(&addr, tls, service, banner, stop)
        .await
        .with_context(|| format!("signer on {addr}"))?;
    if crate::daemon::json() {
        tracing::info!("stopped cleanly");
    } else {
        eprintln!("vellum: signer stopped");
    }
    Ok(())
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn args(list: &[&str]) -> Result<Args, clap::Error> {
        Cli::try_parse_from(std::iter::once("signer").chain(list.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn a_flag_overrides_the_configuration_and_no_flag_keeps_it() {
        let mut c = SignerServiceConfig::every_key();
        args(&[]).unwrap().flags.overlay(&mut c);
        assert_eq!(c, SignerServiceConfig::every_key());
        args(&["--journal", "j", "--listen", "http://127.0.0.1:1"])
            .unwrap()
            .flags
            .overlay(&mut c);
        assert_eq!(c.journal, Some(PathBuf::from("j")));
        assert_eq!(c.listen.unwrap().to_string(), "http://127.0.0.1:1");
        assert_eq!(c.key, SignerServiceConfig::every_key().key);
    }

    #[test]
    fn list_still_conflicts_with_serving_flags() {
        assert!(args(&["--journal", "j", "--list", "--key", "k"]).is_err());
        assert!(args(&["--journal", "j", "--list", "--listen", "unix:s"]).is_err());
        assert!(args(&["--journal", "j", "--list"]).unwrap().list);
        assert!(args(&["--listen", "tcp:1"]).is_err());
    }
}
