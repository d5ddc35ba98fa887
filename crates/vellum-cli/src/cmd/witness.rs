//! `vellum witness`: a C2SP tlog-witness witness over HTTP; or, with
//! `--list`, the sizes it has cosigned.
//!
//! Wiring only: the cosigner key (mode 0600), the trusted logs (a tlog-policy
//! file of `log` lines) and the state folder go to `vellum_witness`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use vellum_config::Layered;
use vellum_note::CosignerKey;
use vellum_server::TlsFiles;
use vellum_signer::keyfile::load_key;
use vellum_witness::config::TrustedLogs;
use vellum_witness::state::WitnessState;
use vellum_witness::{HttpOptions, Witness, WitnessServiceConfig, WitnessSettings, WitnessTokens};

use super::serve::{set, set_some};
use crate::exit::CmdResult;

const WITNESS_EXIT_HELP: &str = "\
Exit status:
  0  stopped cleanly on Ctrl-C or SIGTERM (or the state was listed)
  2  refused to start (key not a witness key or not mode 0600, bad logs file,
     corrupt state, address in use, a setting missing or bad, an address beyond
     loopback without TLS and --auth, a TLS or token file unusable)";

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
        Settings may come from a TOML file (--config FILE; see examples/witness.toml and \
        docs/CONFIG.md) and from the environment (VELLUM_WITNESS_LOGS, \
        VELLUM_WITNESS_STATE, VELLUM_WITNESS_KEY, VELLUM_WITNESS_LISTEN, \
        VELLUM_WITNESS_TLS_CERT, ...); a flag \
        overrides both, the environment overrides the file. `vellum config print \
        witness` shows the result.\n\n\
        Beyond loopback the witness needs TLS (--tls-cert, --tls-key) and client \
        authentication (--auth: a file of token hashes, see `vellum token --witness`; the \
        log sends its token with `vellum serve --witness-credentials`), and refuses to \
        start without them unless --insecure-remote. The tlog-witness API is unchanged; \
        the token travels in the Authorization header, outside the specification.\n\n\
        With --list, print each log's cosigned size and root and exit.",
    after_help = WITNESS_EXIT_HELP,
)]
pub struct Args {
    #[command(flatten)]
    flags: Flags,

    /// Print each log's cosigned size and exit.
    #[arg(long, conflicts_with = "key")]
    list: bool,

    #[command(flatten)]
    log: crate::daemon::LogArgs,
}

/// The flags that configure `vellum witness` (shared with `vellum config
/// print witness`). Each overrides the file and the environment.
#[derive(Debug, clap::Args)]
pub struct Flags {
    /// A TOML configuration file (see examples/witness.toml and
    /// docs/CONFIG.md); environment variables and flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// The trusted logs: a C2SP tlog-policy file with `log <vkey>` lines.
    /// Required.
    #[arg(long, value_name = "FILE")]
    logs: Option<PathBuf>,

    /// The state folder (created if missing). Required.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,

    /// The witness's private key (type 0x04, mode 0600). Required to serve.
    #[arg(long, value_name = "KEYFILE")]
    key: Option<PathBuf>,

    /// The HTTP listen address [default: 127.0.0.1:6965]. Beyond loopback
    /// it needs --tls-cert, --tls-key and --auth (or --insecure-remote).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,

    /// PEM certificate chain: serve HTTPS. Needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert; mode 0600.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Token file: one line per client, `<sha256-hex of the token> <name>`
    /// (see `vellum token --witness`). POST /add-checkpoint then needs
    /// `Authorization: Bearer <token>`; GET / and /health stay open.
    #[arg(long, value_name = "FILE")]
    auth: Option<PathBuf>,

    /// Listen beyond loopback without TLS or --auth. Never in production.
    #[arg(long)]
    insecure_remote: bool,
}

impl Flags {
    /// The effective configuration: the `--config` file, the environment
    /// over it, these flags over both.
    pub(crate) fn config(&self) -> anyhow::Result<WitnessServiceConfig> {
        let mut c =
            WitnessServiceConfig::load(self.config.as_deref(), |var| std::env::var(var).ok())?;
        self.overlay(&mut c);
        Ok(c)
    }

    fn overlay(&self, c: &mut WitnessServiceConfig) {
        set_some(&mut c.logs, &self.logs);
        set_some(&mut c.state, &self.state);
        set_some(&mut c.key, &self.key);
        set(&mut c.listen, self.listen);
        set_some(&mut c.tls.cert, &self.tls_cert);
        set_some(&mut c.tls.key, &self.tls_key);
        set_some(&mut c.auth.tokens, &self.auth);
        c.insecure_remote |= self.insecure_remote;
    }
}

/// Runs `vellum witness`.
pub fn run(args: Args) -> CmdResult {
    let s = args.flags.config()?.to_run(!args.list)?;
    let text = vellum_server::witness::read_policy_text(&s.logs)
        .map_err(|e| anyhow::anyhow!("the logs file: {e}"))?;
    let logs =
        TrustedLogs::parse(&text).with_context(|| format!("logs file {}", s.logs.display()))?;
    if args.list {
        let state = WitnessState::open(&s.state, logs.origins())
            .with_context(|| format!("cannot open the witness state in {}", s.state.display()))?;
        for st in state.list() {
            match st.latest() {
                None => println!("{} 0 -", st.origin()),
                Some(cp) => {
                    let root = cp
                        .note()
                        .text()
                        .lines()
                        .nth(2)
                        .unwrap_or_default()
                        .to_owned();
                    println!("{} {} {root}", st.origin(), cp.size());
                }
            }
        }
        return Ok(());
    }
    match s.check_safety() {
        Err(refusal) => return Err(anyhow::anyhow!(refusal).into()),
        Ok(Some(warning)) => eprintln!("vellum: {warning}"),
        Ok(None) => {}
    }
    crate::daemon::run("vellum-witness", args.log.log_format, |stop, hup| {
        hup.nothing_to_reload("the witness");
        serve(s, logs, stop)
    })
}

async fn serve(s: WitnessSettings, logs: TrustedLogs, stop: crate::daemon::Stop) -> CmdResult {
    let Some(key_path) = &s.key else {
        return Err(anyhow::anyhow!("--key is required to serve").into());
    };
    let key = CosignerKey::new(load_key(key_path)?).with_context(|| {
        format!(
            "{} is not a witness key (make one with vellum keygen --witness)",
            key_path.display()
        )
    })?;
    // TLS and tokens before the state: a bad file changes nothing.
    let tls = match &s.tls {
        None => None,
        Some((cert, key)) => Some(
            vellum_server::tls::server_config(
                &TlsFiles::new(cert.clone(), key.clone()),
                &[b"h2", b"http/1.1"],
            )
            .context("witness TLS")?,
        ),
    };
    let tokens = match &s.tokens {
        None => None,
        Some(path) => Some(Arc::new(WitnessTokens::load(path).context("--auth")?)),
    };
    let witness = Witness::open(key, logs, &s.state)
        .with_context(|| format!("cannot open the witness state in {}", s.state.display()))?;
    let listener = tokio::net::TcpListener::bind(s.listen)
        .await
        .with_context(|| format!("cannot listen on {}", s.listen))?;
    let addr = listener.local_addr().context("listener address")?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let clients = match &s.tokens {
        Some(path) => format!("bearer tokens listed in {}", path.display()),
        None => "anyone (no --auth)".to_owned(),
    };
    if crate::daemon::json() {
        tracing::info!(
            origin = %witness.name(),
            vkey = %witness.vkey(),
            http = format!("{scheme}://{addr}"),
            clients = %clients,
            logs = %s.logs.display(),
            state = %s.state.display(),
            "serving"
        );
    } else {
        eprintln!("vellum: witness {}", witness.name());
        eprintln!("  vkey:   {}", witness.vkey());
        eprintln!("  http:   {scheme}://{addr}");
        eprintln!("  asks:   {clients}");
        eprintln!("  logs:   {}", s.logs.display());
        eprintln!("  state:  {}", s.state.display());
        eprintln!("  stop:   Ctrl-C or SIGTERM");
    }
    let stop = async move {
        stop.await;
    };
    // The log's own accept loop: connection limit, idle timeout, TLS.
    let limits = vellum_server::Limits::default();
    let conns = vellum_server::net::accept(listener, &limits, tls, Arc::default());
    let options = HttpOptions {
        tokens,
        ..HttpOptions::default()
    };
    let app = vellum_witness::http::router_with(Arc::new(witness), &options);
    vellum_server::http::serve_conns(conns, app, &limits, stop)
        .await
        .context("witness HTTP server")?;
    if crate::daemon::json() {
        tracing::info!("stopped cleanly");
    } else {
        eprintln!("vellum: witness stopped");
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
        Cli::try_parse_from(std::iter::once("witness").chain(list.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn a_flag_overrides_the_configuration_and_no_flag_keeps_it() {
        let mut c = WitnessServiceConfig::every_key();
        args(&[]).unwrap().flags.overlay(&mut c);
        assert_eq!(c, WitnessServiceConfig::every_key());
        args(&["--state", "s", "--listen", "127.0.0.1:0"])
            .unwrap()
            .flags
            .overlay(&mut c);
        assert_eq!(c.state, Some(PathBuf::from("s")));
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.logs, WitnessServiceConfig::every_key().logs);
    }

    #[test]
    fn list_still_conflicts_with_key() {
        assert!(args(&["--list", "--key", "k"]).is_err());
        assert!(
            args(&["--logs", "l", "--state", "s", "--list"])
                .unwrap()
                .list
        );
    }
}
