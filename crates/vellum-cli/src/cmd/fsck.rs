//! `vellum fsck`: re-verify a stopped log's data folder offline, from the
//! entries up to every stored checkpoint, and an events log's index
//! against its entries.
//!
//! Wiring only: `vellum_log::fsck` does the work and documents what is
//! checked; `vellum_server::embedded::fsck` opens the folder;
//! `vellum_server::events::check_index` compares the events index.

use std::path::PathBuf;

use anyhow::anyhow;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vellum_log::fsck::{Phase, Progress};
use vellum_note::VerifierKey;
use vellum_server::embedded::{self, Layout};
use vellum_server::events::{self, IndexCheckFailure};

use crate::exit::{CmdResult, Failure};
use crate::input;

/// Exit statuses as this command uses them.
const FSCK_EXIT_HELP: &str = "\
Exit status:
  0  every record verified: `ok` on stdout, the counts on stderr
  1  the data is corrupt: stderr names the first bad entry, node, dedup record,
     tree head or checkpoint, or the events index does not match the entries
     (the first missing, extra or different key: which index, which event)
  2  the check could not run: no store in the folder, the log is running (stop
     it first), unreadable vkey, or an I/O error";

/// Arguments of `vellum fsck`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Re-verify a stopped log's data folder: every entry, node and checkpoint, and \
        the events index",
    long_about = "Re-verify the store in a data folder (the log must be stopped) without \
        changing anything.\n\n\
        Every entry is hashed again and compared with its stored leaf hash; every \
        stored node is recomputed from its two children, level by level; every leaf \
        hash must find its own index in the dedup index; the root folded from the \
        checked nodes must be the stored tree head's; and every stored checkpoint must \
        verify with the log's key and sign the root the stored tree has at its size.\n\n\
        When the folder holds an events index (events-index/), it is compared key by \
        key with the index the entries make, up to the entries it says it has taken \
        in: a missing, extra or different key is named. An index behind the log is \
        not corruption (the next start or `vellum reindex` catches up); one that does \
        not match is rebuilt with `vellum reindex`.\n\n\
        Start-up checks only the right edge of the tree (enough to sign nothing on a \
        wrong tree); run fsck after a disk fault, a restore, or when clients report \
        proofs that do not verify.",
    after_help = FSCK_EXIT_HELP,
)]
pub struct Args {
    /// The data folder (as given to `vellum serve --data`).
    #[arg(long, value_name = "DIR", default_value = "vellum-data")]
    data: PathBuf,

    /// Check the log NAME of the folder (`[[logs]]` of `vellum serve`)
    /// instead of its default log.
    #[arg(long, value_name = "NAME")]
    log: Option<String>,

    /// The log's public key, inline or as @FILE (default: <data>/log.vkey,
    /// or <data>/logs/NAME/log.vkey with --log).
    #[arg(long, value_name = "VKEY", value_parser = input::vkey)]
    vkey: Option<VerifierKey>,

    /// No progress bar and no counts on stderr.
    #[arg(short, long)]
    quiet: bool,
}

/// Runs `vellum fsck`.
pub fn run(args: Args) -> CmdResult {
    let layout = stored_layout(args.data)?;
    let own = match &args.log {
        None => layout.clone(),
        Some(name) => {
            vellum_proto::check_log_name(name).map_err(|e| anyhow!("--log: {e}"))?;
            layout.named(name)
        }
    };
    let log = args.log.as_deref();
    let vkey = match args.vkey {
        Some(k) => k,
        None => input::vkey(&format!("@{}", own.vkey().display()))
            .map_err(|e| anyhow!("the log's vkey (give it with --vkey): {e}"))?,
    };
    let bar = progress_bar(args.quiet);
    let mut on_progress = |p: Progress| {
        bar.set_length(p.total);
        bar.set_position(p.done);
        bar.set_message(match p.phase {
            Phase::Tree => "entries, nodes and dedup records",
            Phase::Checkpoints => "checkpoint sizes",
        });
    };
    let result = embedded::fsck_log(&layout, log, &vkey, &mut on_progress);
    bar.finish_and_clear();
    let report = match result {
        Ok(r) => r,
        Err(e) if e.is_corruption() => return Err(Failure::rejected(e)),
        Err(e) => return Err(e.into()),
    };
    let index = if own.events_index().exists() {
        let bar = progress_bar(args.quiet);
        bar.set_message("entries for the events index");
        let checked = events::check_index(&layout, log, &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        });
        bar.finish_and_clear();
        match checked {
            Ok(c) => Some(c),
            Err(e @ IndexCheckFailure::Mismatch(_)) => return Err(Failure::rejected(e)),
            Err(IndexCheckFailure::Trouble(e)) => return Err(e.into()),
        }
    } else {
        None
    };
    println!("ok");
    if !args.quiet {
        eprintln!(
            "fsck: {} entries, {} nodes, {} dedup records and {} checkpoints verified; \
             tree size {} root {}",
            report.entries,
            report.nodes,
            report.dedup,
            report.checkpoints,
            report.head.size,
            report.head.root
        );
        if let Some(c) = index {
            eprintln!(
                "fsck: events index: {} keys for {} entries match the entries",
                c.keys, c.entries
            );
        }
    }
    // Not corruption, but worth knowing even when quiet.
    if let Some(c) = index
        && c.behind > 0
    {
        eprintln!(
            "fsck: events index behind by {} entries; the next start or `vellum reindex` \
             catches up",
            c.behind
        );
    }
    Ok(())
}

/// A progress bar on stderr (drawn only on a terminal), or none.
/// The layout of the data folder `data`, which must hold a store.
///
/// # Errors
///
/// A message naming the folder and the store it lacks.
pub(crate) fn stored_layout(data: PathBuf) -> anyhow::Result<Layout> {
    let layout = Layout::new(data);
    if !layout.store().is_dir() {
        return Err(anyhow!(
            "{} holds no log store (expected {})",
            layout.data.display(),
            layout.store().display()
        ));
    }
    Ok(layout)
}

/// A progress bar on stderr with a message slot, hidden when `quiet`.
pub(crate) fn progress_bar(quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} {msg} ({eta} left)",
    ) {
        bar.set_style(style);
    }
    bar
}
