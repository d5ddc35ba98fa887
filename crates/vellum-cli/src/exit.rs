//! Exit statuses, and how a failed command is reported.
//!
//! The statuses follow `diff` and `grep`: 0 when the answer is yes, 1 when
//! the command did its job and the answer is no (a proof, checkpoint or file
//! that does not verify), 2 when it could not do its job (usage, I/O, a bad
//! key or policy). A script can then tell "this is forged" from "I could not
//! check". Only [`Failure::rejected`] gives 1; every other error gives 2, so
//! an error a command forgets to classify can never pass for a verdict.

use std::process::ExitCode;

/// The exit statuses, as every command's `--help` shows them.
pub const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  success (for a check: it passed)
  1  the check ran and failed: what was checked is invalid
  2  usage error, unreadable or unwritable file, bad key or policy, or any
     other error that kept the command from doing its job";

/// Why a command stopped, and so its exit status.
#[derive(Debug)]
pub enum Failure {
    /// The input was checked and is invalid (exit 1).
    Rejected(anyhow::Error),
    /// The command could not do its job (exit 2).
    Trouble(anyhow::Error),
}

impl Failure {
    /// A verdict: what was checked is invalid (exit 1).
    pub fn rejected(error: impl Into<anyhow::Error>) -> Failure {
        Failure::Rejected(error.into())
    }

    /// The exit status for this failure.
    fn status(&self) -> u8 {
        match self {
            Failure::Rejected(_) => 1,
            Failure::Trouble(_) => 2,
        }
    }

    fn error(&self) -> &anyhow::Error {
        match self {
            Failure::Rejected(e) | Failure::Trouble(e) => e,
        }
    }
}

/// Any error raised with `?` is trouble (exit 2), never a verdict.
impl<E> From<E> for Failure
where
    E: Into<anyhow::Error>,
{
    fn from(error: E) -> Failure {
        Failure::Trouble(error.into())
    }
}

/// What a command returns.
pub type CmdResult = Result<(), Failure>;

/// Reports a command's outcome on stderr and turns it into the exit status.
pub fn finish(result: CmdResult) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", render(failure.error()));
            ExitCode::from(failure.status())
        }
    }
}

/// The error and its causes on one line, `outer: inner: innermost`.
///
/// Many library errors already print their source inside their own message
/// (`checkpoint rejected: {0}`); a cause whose text is already shown is not
/// repeated.
fn render(error: &anyhow::Error) -> String {
    let mut out = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn render_skips_causes_already_shown() {
        let inner = std::io::Error::other("disk on fire");
        let err = anyhow::Error::new(inner).context("reading x: disk on fire");
        assert_eq!(render(&err), "reading x: disk on fire");

        let err = anyhow::Error::new(std::io::Error::other("no such file")).context("reading x");
        assert_eq!(render(&err), "reading x: no such file");
    }

    #[test]
    fn only_rejected_exits_1() {
        let trouble: Failure = std::io::Error::other("x").into();
        assert_eq!(trouble.status(), 2);
        assert_eq!(Failure::rejected(anyhow::anyhow!("bad")).status(), 1);
    }
}
