//! `vellum audit`: check a whole log through its tlog-tiles HTTP API (the
//! server's, or a static export's), and with a state file that it only
//! ever grew.
//!
//! Wiring only: `vellum_audit` does the work and documents what is checked.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use base64::Engine;
use vellum_audit::{AuditError, AuditOptions, AuditReport};
use vellum_note::VerifierKey;

use crate::exit::{CmdResult, Failure};
use crate::input::{self, Source};
use crate::remote;

/// Exit statuses as this command uses them.
const AUDIT_EXIT_HELP: &str = "\
Exit status:
  0  everything checked out: the report is on stdout
  1  the log failed the audit: stderr names the first tile, bundle or entry that
     did not match (by its tlog-tiles path) and what did not match, or the
     checkpoint that does not verify, or a rollback or fork against --state
  2  usage error, bad --vkey or --policy, unreachable server, or an unreadable or
     unwritable state file: the audit did not finish (with --state, a later run
     continues where it stopped)";

/// Arguments of `vellum audit`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Audit a log over tlog-tiles HTTP: recompute the whole tree from its entries",
    long_about = "Audit a log through its C2SP tlog-tiles HTTP API alone (the log's own \
        server, or any static web server holding a `vellum export`).\n\n\
        The checkpoint must verify against --vkey (and, with --policy, be cosigned to the \
        policy's witness quorum). Then every entry bundle is fetched, every leaf hash \
        recomputed, every level-0 tile checked against the entries and every higher tile \
        against the tiles below, and the root recomputed from the entries must be the \
        signed root.\n\n\
        With --state FILE the audit remembers what it verified: the next run checks that \
        the new checkpoint extends it (a smaller tree, a different root, or a changed \
        hash is a failure) and fetches only what is new. Progress is saved while it \
        runs, so an interrupted audit continues where it stopped.\n\n\
        A vkey is given inline (example.com/log+1234abcd+AQ...) or as @FILE.",
    after_help = AUDIT_EXIT_HELP,
)]
pub struct Args {
    /// The log's tlog-tiles URL prefix (where `checkpoint` and `tile/` are).
    #[arg(long, value_name = "URL")]
    url: String,

    /// The log's public key, inline or as @FILE.
    #[arg(long, value_name = "VKEY", value_parser = input::vkey)]
    vkey: VerifierKey,

    /// A C2SP tlog-policy file: the checkpoint must meet its witness quorum
    /// (the policy must list --vkey).
    #[arg(long, value_name = "FILE", value_parser = Source::parse)]
    policy: Option<Source>,

    /// Keep what was verified in FILE (created if missing): consistency with
    /// the last audit, only new tiles fetched, interrupted audits resumed.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,

    /// No progress bar and no notes on stderr (the report still goes to stdout).
    #[arg(short, long)]
    quiet: bool,

    /// Entry bundles (with their tiles) fetched at once.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    parallel: u16,

    /// PEM certificate of the CA that an https:// server's certificate must
    /// chain to (a private CA); default: the public web PKI roots.
    #[arg(long, value_name = "FILE", help_heading = "TLS and access")]
    ca: Option<PathBuf>,

    /// A file holding the bearer token (role audit) to send; without it,
    /// the VELLUM_TOKEN environment variable, if set.
    #[arg(long, value_name = "FILE", help_heading = "TLS and access")]
    token_file: Option<PathBuf>,
}

/// Runs `vellum audit`.
pub fn run(args: Args) -> CmdResult {
    // The --policy file (which must list --vkey), else "this log, no quorum".
    let policy = remote::load_policy(Some(&args.vkey), args.policy.as_ref())?;
    let mut opts = AuditOptions::new(&args.url, policy);
    opts.log_key = Some(args.vkey.clone());
    opts.state = args.state.clone();
    opts.parallel = usize::from(args.parallel);
    opts.progress = !args.quiet;
    if let Some(ca) = &args.ca {
        opts.ca_pem =
            Some(std::fs::read(ca).with_context(|| format!("cannot read --ca {}", ca.display()))?);
    }
    opts.token = match &args.token_file {
        Some(f) => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("cannot read --token-file {}", f.display()))?,
        ),
        None => std::env::var(crate::remote::TOKEN_ENV).ok(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vellum-audit")
        .build()
        .context("cannot start the async runtime")?;
    let report = match runtime.block_on(vellum_audit::audit(&opts)) {
        Ok(r) => r,
        Err(e) => return Err(classify(e, &args.url)),
    };
    if !args.quiet
        && let Some(resumed) = report.resumed_at
    {
        eprintln!("note: continued an interrupted audit from size {resumed}");
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(summary(&report).as_bytes())
        .and_then(|()| stdout.flush())
        .context("cannot write to stdout")?;
    Ok(())
}

/// A verdict on the log exits 1; trouble exits 2.
fn classify(e: AuditError, url: &str) -> Failure {
    if e.is_verdict() {
        Failure::rejected(
            anyhow::Error::new(e).context(format!("the log at {url} failed the audit")),
        )
    } else {
        Failure::from(anyhow::Error::new(e).context("the audit did not finish"))
    }
}

/// What was verified, one fact per line.
fn summary(r: &AuditReport) -> String {
    let root = base64::engine::general_purpose::STANDARD.encode(r.root.as_bytes());
    let mut s = format!(
        "ok\n\
         origin: {}\n\
         size: {}\n\
         root: {root}\n",
        r.origin, r.size
    );
    match r.previous {
        Some(p) => s.push_str(&format!(
            "consistent with: size {p} (from the state file)\n"
        )),
        None => s.push_str("consistent with: (no earlier audit)\n"),
    }
    s.push_str(&format!(
        "fetched and checked: {} entries, {} entry bundles, {} hash tiles ({} bytes, {} requests, {:.2} s)\n",
        r.entries,
        r.bundles,
        r.hash_tiles,
        r.bytes,
        r.requests,
        r.elapsed.as_secs_f64()
    ));
    if !r.cosigners.is_empty() {
        s.push_str(&format!("cosigned by: {}\n", r.cosigners.join(", ")));
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn summary_reports_what_was_verified() {
        let r = AuditReport {
            origin: "example.com/log".into(),
            size: 66_536,
            root: vellum_merkle::Hash([0; 32]),
            previous: Some(1000),
            resumed_at: None,
            entries: 65_536,
            hash_tiles: 263,
            bundles: 257,
            bytes: 123,
            requests: 520,
            elapsed: std::time::Duration::from_millis(1500),
            cosigners: vec![],
        };
        let s = summary(&r);
        assert!(s.starts_with("ok\norigin: example.com/log\nsize: 66536\nroot: AAAA"));
        assert!(s.contains("consistent with: size 1000"));
        assert!(s.contains("65536 entries, 257 entry bundles, 263 hash tiles"));
    }
}
