//! `vellum export`: write the log's checkpoint, tiles and entry bundles to a
//! folder at their C2SP tlog-tiles paths, for any static web server, CDN or
//! object store to serve read-only.
//!
//! Wiring only: `vellum_server::export` does the work and documents the
//! order of writes and what a crash leaves.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use vellum_server::export::{ExportError, ExportReport, OpenError, export_data_dir};

use crate::exit::{CmdResult, Failure};

/// Exit statuses as this command uses them.
const EXPORT_EXIT_HELP: &str = "\
Exit status:
  0  the folder holds the log's latest checkpoint and every tile it needs
  1  the folder belongs to another log, or a file already in it differs from
     the log's bytes: nothing it already served was changed
  2  usage error, no log in --data (or a server is using it), or an I/O error";

/// Arguments of `vellum export`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Export the log as static tlog-tiles files (checkpoint, tiles, entry bundles)",
    long_about = "Write the log's latest checkpoint and every tile and entry bundle of its \
        tree to FOLDER, at exactly their C2SP tlog-tiles paths (checkpoint, \
        tile/<L>/<N>[.p/<W>], tile/entries/<N>[.p/<W>]), so that any static web server, \
        CDN or S3-compatible bucket serves the log read-only.\n\n\
        Incremental: the checkpoint already in FOLDER (checked to be an earlier state of \
        this same log) says what is there, and only what is new is written. Full tiles \
        are written once and never changed; a file already present is compared byte for \
        byte, and a difference stops the export. The checkpoint is replaced atomically, \
        last, after every tile is durable, so FOLDER is always consistent. Partial tiles \
        whose full tile now exists are removed, as tlog-tiles allows.\n\n\
        The log must not be running (the store is opened for the export): to export while \
        serving, use the server's continuous export instead.",
    after_help = EXPORT_EXIT_HELP,
)]
pub struct Args {
    /// The log's data folder (as given to `vellum serve --data`).
    #[arg(long, value_name = "DIR", default_value = "vellum-data")]
    data: PathBuf,

    /// The folder to export to (created if missing).
    #[arg(long, value_name = "FOLDER")]
    out: PathBuf,

    /// Compare (or write) every file the tree has, not only what is new
    /// since the folder's checkpoint.
    #[arg(long)]
    check_all: bool,
}

/// Runs `vellum export`.
pub fn run(args: Args) -> CmdResult {
    let report = match export_data_dir(&args.data, &args.out, args.check_all) {
        Ok(r) => r,
        Err(e @ (ExportError::Mismatch { .. } | ExportError::Folder { .. })) => {
            return Err(Failure::rejected(e));
        }
        Err(ExportError::Open(e @ OpenError::Locked { .. })) => {
            return Err(anyhow::Error::new(e)
                .context(
                    "the log is running: stop it, or export while serving with the server's \
                     continuous export",
                )
                .into());
        }
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context(format!("cannot export to {}", args.out.display()))
                .into());
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(summary(&report, &args.out).as_bytes())
        .and_then(|()| stdout.flush())
        .context("cannot write to stdout")?;
    Ok(())
}

/// The result, one fact per line.
fn summary(r: &ExportReport, out: &std::path::Path) -> String {
    let previous = r
        .previous
        .map_or_else(|| "none".to_owned(), |p| p.to_string());
    format!(
        "exported size {} to {}\n\
         previous size: {previous}\n\
         written: {} files, {} bytes\n\
         already there and identical: {} files\n\
         partial tiles removed: {}\n",
        r.size,
        out.display(),
        r.written,
        r.bytes,
        r.verified,
        r.removed_partials,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn summary_names_every_count() {
        let r = ExportReport {
            size: 70_000,
            previous: Some(256),
            written: 5,
            bytes: 40_000,
            verified: 1,
            removed_partials: 2,
        };
        let s = summary(&r, std::path::Path::new("/srv/log"));
        assert!(s.starts_with("exported size 70000 to /srv/log\n"));
        assert!(s.contains("previous size: 256\n"));
        assert!(s.contains("written: 5 files, 40000 bytes\n"));
    }
}
