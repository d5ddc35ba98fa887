//! `vellum doctor`: the checks of `vellum_server::doctor` on the
//! configuration `vellum serve` would run with the same flags.

use vellum_server::doctor::{Severity, doctor, worst};

use crate::exit::{CmdResult, Failure};

/// Exit statuses as this command uses them.
const DOCTOR_EXIT_HELP: &str = "\
Exit status:
  0  nothing to report, or warnings only (fine for a demo or a test)
  1  at least one error: fix it before others rely on the log
  2  the flags could not be read";

/// Arguments of `vellum doctor`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Check a deployment's configuration for ways the log could be rolled back or exposed",
    long_about = "Check the configuration `vellum serve` would run with the same flags, \
        without starting anything, and say what could let the log be rolled back, \
        changed or read by someone it should not be.\n\n\
        Checks: rollback (a log that signs in-process with no witness and no \
        publication is a single point of rollback: a warning on loopback, an error \
        beyond it), signer-state (the signer's memory outside the data folder, mode \
        0700), listeners (TLS and authentication beyond loopback), signer-transport (a \
        remote signer reached beyond loopback over plain http://, or over https:// without \
        a client certificate: an error), witness-transport (a witness reached beyond \
        loopback over plain http://: an error; over https:// without a token from \
        --witness-credentials: a warning).\n\n\
        `vellum serve` logs the same findings as warnings when it starts.",
    after_help = DOCTOR_EXIT_HELP,
)]
pub struct Args {
    /// Print the findings as one JSON object on stdout.
    #[arg(long)]
    json: bool,

    /// The flags of `vellum serve` (see `vellum serve --help`).
    #[command(flatten)]
    serve: crate::cmd::serve::Flags,
}

/// Runs `vellum doctor`.
pub fn run(args: Args) -> CmdResult {
    let opts = args.serve.options()?;
    let findings = doctor(&opts);
    let verdict = worst(&findings);
    if args.json {
        let list: Vec<_> = findings
            .iter()
            .map(|f| {
                serde_json::json!({
                    "check": f.check,
                    "severity": f.severity.as_str(),
                    "message": f.message,
                })
            })
            .collect();
        let out = serde_json::json!({ "verdict": verdict.as_str(), "findings": list });
        println!("{out}");
    } else {
        for f in &findings {
            println!("{:<8} {:<13} {}", f.severity.as_str(), f.check, f.message);
        }
    }
    if verdict == Severity::Error {
        return Err(Failure::rejected(anyhow::anyhow!(
            "the configuration has errors (see above)"
        )));
    }
    Ok(())
}
