//! `vellum watch`: follow a log's checkpoints with a trusted state file,
//! and stop with the evidence when the log forks or rolls back.
//!
//! Wiring only: `vellum_client::Client::update_trusted` verifies each step
//! (signature, policy, consistency proof from the trusted checkpoint) and
//! keeps the state file; this command loops, reports, and saves evidence.
//! With `--audit-url` it also runs `vellum_audit` (what `vellum audit`
//! does) every `--audit-interval`, so one long-running process is a whole
//! monitor (the monitor of docker-compose.yml).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use vellum_audit::AuditOptions;
use vellum_client::{Client, ClientError, StatusCode, Step, Trust, TrustedState};

use crate::cmd::serve::duration;
use crate::exit::{CmdResult, Failure};
use crate::remote::{self, RemoteArgs};

/// Exit statuses as this command uses them.
const WATCH_EXIT_HELP: &str = "\
Exit status:
  0  with --once: the log's checkpoint verified and extends the trusted one
  1  the log forked or rolled back: two checkpoints of one size with different
     roots, a checkpoint that does not extend the trusted one, or a smaller
     one; the evidence (both signed checkpoints and the failed proof) is saved
     to --evidence and the state file is left as it was. With --audit-url:
     also when the log failed an audit (as `vellum audit` exits 1)
  2  usage error, unreadable or unwritable state file, bad key or policy, or
     (with --once) the log could not be reached";

/// Arguments of `vellum watch`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Follow a log's checkpoints; stop with evidence on a fork or rollback",
    long_about = "Follow a log's checkpoints with a trusted state file.\n\n\
        Each checkpoint the log serves must be signed by --vkey (or meet --policy) \
        and extend the trusted one: same size and root, or a consistency proof from \
        the trusted tree that verifies. Then the state file is replaced \
        (atomically) with it and one line goes to stdout. The first run on an \
        empty state trusts the log's current checkpoint.\n\n\
        A fork (same size, another root; or a proof that does not verify) or a \
        rollback (a smaller tree) stops the watch with exit 1: the evidence, \
        both signed checkpoints and the proof, is written to --evidence (default \
        <state>.evidence). Anyone holding the log's public key can check it; it \
        proves the log signed two incompatible histories.\n\n\
        A log that cannot be reached, or has not signed a checkpoint yet, is \
        reported on stderr and tried again at \
        the next interval (with --once it is an error).\n\n\
        With --audit-url the watch also audits the whole log through its tlog-tiles \
        URL, as `vellum audit` does, at the first check and then every \
        --audit-interval, remembering what it verified in --audit-state; one line \
        per audit goes to stdout. The audit uses the same trust, --ca and token (it \
        needs the audit role). An audit that cannot finish is reported and tried \
        again at the next audit interval.",
    after_help = WATCH_EXIT_HELP,
)]
pub struct Args {
    #[command(flatten)]
    remote: RemoteArgs,

    /// The trusted state: the last verified checkpoint (created if missing).
    #[arg(long, value_name = "FILE")]
    state: PathBuf,

    /// Where to write the evidence of a fork or rollback (default
    /// <state>.evidence).
    #[arg(long, value_name = "FILE")]
    evidence: Option<PathBuf>,

    /// Time between two checks.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "5s")]
    interval: Duration,

    /// Check once and exit (with --audit-url: and audit once).
    #[arg(long)]
    once: bool,

    /// Also audit the whole log through its tlog-tiles URL prefix (where
    /// `checkpoint` and `tile/` are), as `vellum audit --url` does.
    #[arg(long, value_name = "URL", help_heading = "Audit")]
    audit_url: Option<String>,

    /// Time between two audits.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "5m",
        requires = "audit_url", help_heading = "Audit")]
    audit_interval: Duration,

    /// The audit's state file, as `vellum audit --state` (default
    /// <state>.audit).
    #[arg(
        long,
        value_name = "FILE",
        requires = "audit_url",
        help_heading = "Audit"
    )]
    audit_state: Option<PathBuf>,
}

/// Runs `vellum watch`.
pub fn run(args: Args) -> CmdResult {
    let trust = args.remote.trust()?.ok_or_else(|| {
        anyhow::anyhow!("give --vkey or --policy: a watch verifies every checkpoint")
    })?;
    let evidence_path = args.evidence.clone().unwrap_or_else(|| {
        let mut name = args.state.clone().into_os_string();
        name.push(".evidence");
        PathBuf::from(name)
    });
    let mut state = TrustedState::open(&args.state, &trust).map_err(remote::failure)?;
    let audit = audit_options(&args, &trust)?;
    remote::runtime()?.block_on(async {
        let options = args.remote.options()?;
        // A log that is down at start is waited for, like one that goes
        // down later (with --once it is an error).
        let client = loop {
            match Client::connect_with(&args.remote.server, trust.clone(), &options).await {
                Ok(c) => break c,
                Err(e) if !args.once && e.is_retryable() => {
                    eprintln!("warning: {e} (trying again in {:?})", args.interval);
                    tokio::time::sleep(args.interval).await;
                }
                Err(e) => return Err(remote::failure(e)),
            }
        };
        let mut next_audit = tokio::time::Instant::now();
        loop {
            match client.update_trusted(&mut state).await {
                Ok(step) => report(&step, &state)?,
                Err(e) => {
                    if let Some(evidence) = e.evidence() {
                        let saved = save_evidence(&evidence_path, &evidence.to_file_text())?;
                        return Err(Failure::rejected(anyhow::Error::new(e).context(format!(
                            "the log signed two incompatible histories (evidence saved to {})",
                            saved.display()
                        ))));
                    }
                    if args.once || !(e.is_retryable() || not_signed_yet(&e)) {
                        return Err(remote::failure(e));
                    }
                    eprintln!("warning: {e} (trying again in {:?})", args.interval);
                }
            }
            if let Some(opts) = &audit
                && tokio::time::Instant::now() >= next_audit
            {
                next_audit = tokio::time::Instant::now() + args.audit_interval;
                run_audit(opts, args.once, args.audit_interval).await?;
            }
            if args.once {
                return Ok(());
            }
            tokio::time::sleep(args.interval).await;
        }
    })
}

/// What `--audit-url` asks for, as `vellum audit` would run it: the
/// watch's trust as the policy, its CA and its token.
fn audit_options(args: &Args, trust: &Trust) -> anyhow::Result<Option<AuditOptions>> {
    let Some(url) = &args.audit_url else {
        return Ok(None);
    };
    let policy = trust.policy().context("--vkey is not a log key")?;
    let mut opts = AuditOptions::new(url, policy);
    opts.log_key = args.remote.vkey.clone();
    opts.state = Some(args.audit_state.clone().unwrap_or_else(|| {
        let mut name = args.state.clone().into_os_string();
        name.push(".audit");
        PathBuf::from(name)
    }));
    if let Some(ca) = &args.remote.ca {
        opts.ca_pem =
            Some(std::fs::read(ca).with_context(|| format!("cannot read --ca {}", ca.display()))?);
    }
    opts.token = match &args.remote.token_file {
        Some(f) => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("cannot read --token-file {}", f.display()))?,
        ),
        None => std::env::var(remote::TOKEN_ENV).ok(),
    };
    Ok(Some(opts))
}

/// One audit: a line on stdout when it passed; a failed audit stops the
/// watch (exit 1); one that could not finish is a warning (an error with
/// --once).
async fn run_audit(opts: &AuditOptions, once: bool, interval: Duration) -> Result<(), Failure> {
    match vellum_audit::audit(opts).await {
        Ok(r) => {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "audited size {} ({} new entries recomputed from the tiles, root matches the signed one)",
                r.size, r.entries
            )
            .and_then(|()| out.flush())
            .context("cannot write to stdout")?;
            Ok(())
        }
        Err(e) if e.is_verdict() => Err(Failure::rejected(
            anyhow::Error::new(e).context(format!("the log at {} failed the audit", opts.url)),
        )),
        Err(e) if once => Err(anyhow::Error::new(e)
            .context("the audit did not finish")
            .into()),
        Err(e) => {
            eprintln!("warning: the audit did not finish: {e} (trying again in {interval:?})");
            Ok(())
        }
    }
}

/// A new log answers FAILED_PRECONDITION until it signs its first
/// checkpoint: a watch waits for it.
fn not_signed_yet(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Status {
            code: StatusCode::FailedPrecondition,
            ..
        }
    )
}

/// One line per verified step on stdout; an unchanged log says nothing.
fn report(step: &Step, state: &TrustedState) -> anyhow::Result<()> {
    let root = state
        .checkpoint()
        .map(|cp| cp.root().to_string())
        .unwrap_or_default();
    let line = match step {
        Step::Initialized { size } => {
            format!("trusted size {size} root {root} (first use: nothing to compare with)")
        }
        Step::Advanced { from, to } => {
            format!("verified size {from} -> {to} root {root} (consistency proof checked)")
        }
        Step::Unchanged { .. } => return Ok(()),
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .context("cannot write to stdout")
}

/// Writes the evidence file; an existing one is kept (it may be the only
/// copy of an earlier fork's evidence), so `<path>.1`, `<path>.2`, ... is
/// used instead. Returns the file written.
fn save_evidence(path: &Path, text: &[u8]) -> anyhow::Result<PathBuf> {
    let mut target = path.to_path_buf();
    let mut n = 1;
    while target.exists() {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        target = PathBuf::from(name);
        n += 1;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target)
        .with_context(|| format!("cannot create the evidence file {}", target.display()))?;
    f.write_all(text)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write the evidence file {}", target.display()))?;
    Ok(target)
}
