//! `vellum append`: add entries to a log, print their indices (or their
//! verified tlog-proofs).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use bytes::Bytes;
use vellum_client::batch::batches;
use vellum_client::{Appended, Wait};

use crate::exit::{CmdResult, Failure};
use crate::input::Source;
use crate::remote::{self, RemoteArgs};

/// Exit statuses as this command uses them.
const APPEND_EXIT_HELP: &str = "\
Exit status:
  0  every entry was appended (and, with --wait checkpoint, its proof verified)
  1  the log answered with a checkpoint or proof that does not verify (the
     entries printed before the error are in the log)
  2  usage error, unreadable file, no server, or the log refused the append
     (e.g. RESOURCE_EXHAUSTED: nothing of that call was queued; retry)";

/// Largest entry: the tlog-tiles limit.
const MAX_ENTRY: usize = 65_535;
/// Largest standard input read.
const MAX_STDIN: usize = 256 << 20;

/// How long to wait, as the command line spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum WaitArg {
    /// The entries have indices and are synced to disk.
    Durable,
    /// A signed checkpoint covers them: proofs are available.
    Checkpoint,
    /// As checkpoint, with the witness cosignatures the log requires.
    Witnessed,
}

/// Arguments of `vellum append`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Append entries to a log: one per FILE, or one per line of stdin",
    long_about = "Append entries to a log.\n\n\
        Each FILE is one entry (at most 65535 bytes). With '-' or no FILE, each line \
        of standard input is one entry, without its newline. Prints one line per \
        entry, in order: '<index>', or '<index> duplicate' when the same bytes were \
        already in the log (at that index).\n\n\
        --wait checkpoint (or witnessed) waits until a signed checkpoint covers the \
        entries and checks each entry's inclusion proof against it; it needs --vkey \
        or --policy. Then:\n\
        \x20 with --proof-dir DIR   also write DIR/<index>.tlog-proof for each entry;\n\
        \x20 with one entry         print its tlog-proof instead of the index, so that\n\
        \x20                        'vellum append --wait checkpoint --vkey @log.vkey f > f.tlog-proof'\n\
        \x20                        gives a proof 'vellum verify' accepts.",
    after_help = APPEND_EXIT_HELP,
)]
pub struct Args {
    #[command(flatten)]
    remote: RemoteArgs,

    /// How long to wait before answering.
    #[arg(long, value_enum, default_value = "durable")]
    wait: WaitArg,

    /// Write each entry's verified tlog-proof to DIR/<index>.tlog-proof
    /// (needs --wait checkpoint or witnessed).
    #[arg(long, value_name = "DIR")]
    proof_dir: Option<PathBuf>,

    /// The entries: one per file; '-' for one per line of stdin.
    #[arg(value_name = "FILE", value_parser = Source::parse)]
    files: Vec<Source>,
}

/// Runs `vellum append`.
pub fn run(args: Args) -> CmdResult {
    let wait = match args.wait {
        WaitArg::Durable => Wait::Durable,
        WaitArg::Checkpoint => Wait::Checkpoint,
        WaitArg::Witnessed => Wait::Witnessed,
    };
    let trust = args.remote.trust()?;
    if wait != Wait::Durable && trust.is_none() {
        return Err(anyhow!(
            "--wait {} needs --vkey or --policy, to verify the proofs it brings",
            if wait == Wait::Checkpoint {
                "checkpoint"
            } else {
                "witnessed"
            }
        )
        .into());
    }
    if args.proof_dir.is_some() && wait == Wait::Durable {
        return Err(anyhow!("--proof-dir needs --wait checkpoint or witnessed").into());
    }
    let entries = read_entries(&args.files)?;
    if entries.is_empty() {
        return Err(anyhow!("nothing to append: the input has no entries").into());
    }
    let print_proof = wait != Wait::Durable && args.proof_dir.is_none();
    if print_proof && entries.len() > 1 {
        return Err(anyhow!(
            "{} entries with --wait and no --proof-dir: only one proof can go to stdout; \
             give --proof-dir DIR",
            entries.len()
        )
        .into());
    }
    if let Some(dir) = &args.proof_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }

    remote::runtime()?.block_on(async {
        let mut out = Output::new(print_proof, args.proof_dir.as_deref());
        match trust {
            Some(trust) => {
                let client = args.remote.connect(trust).await?;
                for call in batches(entries) {
                    let appended = client.append(call, wait).await.map_err(remote::failure)?;
                    out.write(&appended)?;
                }
            }
            None => {
                // A durable append brings nothing to verify: an index only.
                let client = args.remote.connect_unverified().await?;
                for call in batches(entries) {
                    let raw = client.append(call, wait).await.map_err(remote::failure)?;
                    for r in raw.results {
                        out.line(r.index, r.duplicate)?;
                    }
                }
            }
        }
        Ok::<(), Failure>(())
    })
}

/// Where results go.
struct Output<'a> {
    stdout: std::io::StdoutLock<'static>,
    print_proof: bool,
    proof_dir: Option<&'a Path>,
}

impl<'a> Output<'a> {
    fn new(print_proof: bool, proof_dir: Option<&'a Path>) -> Output<'a> {
        Output {
            stdout: std::io::stdout().lock(),
            print_proof,
            proof_dir,
        }
    }

    fn write(&mut self, appended: &[Appended]) -> Result<(), Failure> {
        for a in appended {
            match (&a.proof, self.proof_dir) {
                (Some(p), Some(dir)) => {
                    let path = dir.join(format!("{}.tlog-proof", a.index));
                    std::fs::write(&path, p.format())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
                (Some(p), None) if self.print_proof => {
                    self.stdout
                        .write_all(p.format().as_bytes())
                        .and_then(|()| self.stdout.flush())
                        .context("cannot write to stdout")?;
                    continue;
                }
                _ => {}
            }
            self.line(a.index.get(), a.duplicate)?;
        }
        Ok(())
    }

    fn line(&mut self, index: u64, duplicate: bool) -> Result<(), Failure> {
        let text = if duplicate {
            format!("{index} duplicate\n")
        } else {
            format!("{index}\n")
        };
        // Flushed per line: a script sees each index as soon as it is durable.
        self.stdout
            .write_all(text.as_bytes())
            .and_then(|()| self.stdout.flush())
            .context("cannot write to stdout")?;
        Ok(())
    }
}

/// The entries, in command-line order: each file whole, stdin line by line.
fn read_entries(files: &[Source]) -> anyhow::Result<Vec<Bytes>> {
    let stdin_only = [Source::Stdin];
    let files = if files.is_empty() {
        &stdin_only[..]
    } else {
        files
    };
    if files.iter().filter(|f| **f == Source::Stdin).count() > 1 {
        anyhow::bail!("'-' (stdin) can be given only once");
    }
    let mut entries = Vec::new();
    for f in files {
        match f {
            Source::Stdin => {
                let all = f.read(MAX_STDIN)?;
                for (n, line) in lines(&all).enumerate() {
                    if line.len() > MAX_ENTRY {
                        anyhow::bail!(
                            "line {} of standard input is {} bytes; an entry is at most {MAX_ENTRY}",
                            n + 1,
                            line.len()
                        );
                    }
                    entries.push(Bytes::copy_from_slice(line));
                }
            }
            Source::File(path) => {
                let bytes = f.read(MAX_ENTRY).with_context(|| {
                    format!(
                        "{} cannot be an entry (at most {MAX_ENTRY} bytes)",
                        path.display()
                    )
                })?;
                entries.push(Bytes::from(bytes));
            }
        }
    }
    Ok(entries)
}

/// Lines without their `\n`; a last line without one counts, the empty
/// remainder after a final newline does not.
fn lines(all: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = all.strip_suffix(b"\n").unwrap_or(all);
    let empty = all.is_empty();
    body.split(|&b| b == b'\n').filter(move |_| !empty)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn stdin_lines() {
        let l = |s: &[u8]| lines(s).map(<[u8]>::to_vec).collect::<Vec<_>>();
        assert!(l(b"").is_empty());
        assert_eq!(l(b"a"), [b"a".to_vec()]);
        assert_eq!(l(b"a\n"), [b"a".to_vec()]);
        assert_eq!(l(b"a\n\nb"), [b"a".to_vec(), vec![], b"b".to_vec()]);
        assert_eq!(l(b"\n"), [Vec::<u8>::new()]);
        assert_eq!(l(b"a\r\n"), [b"a\r".to_vec()]);
    }
}
