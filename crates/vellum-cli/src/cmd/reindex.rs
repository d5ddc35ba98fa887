//! `vellum reindex`: rebuild a stopped events log's index from its
//! entries.
//!
//! Wiring only: `vellum_server::events::reindex` does the work and
//! documents how (built beside, made durable, renamed over).

use std::path::PathBuf;

use anyhow::anyhow;
use vellum_server::events;

use crate::exit::CmdResult;

/// Exit statuses as this command uses them.
const REINDEX_EXIT_HELP: &str = "\
Exit status:
  0  the index was rebuilt: `ok` on stdout, the counts on stderr
  2  it could not be: no store in the folder, the log is running (stop it
     first), a raw log (an entry that is not a recorded event), or an I/O
     error; the index that was there, if any, is left as it was";

/// Arguments of `vellum reindex`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Rebuild a stopped events log's index from its entries",
    long_about = "Rebuild the events index of a data folder (the log must be stopped) \
        from the log's entries: the histories by resource, actor, action and time, each \
        resource's head and the event ids kept for retries.\n\n\
        The index is derived data: the entries are the truth, and a start rebuilds a \
        missing or untrustworthy index, or catches up one that is behind, by itself. \
        Run this after `vellum fsck` reports an index that does not match the entries. \
        The new index is built beside the old one (events-index.new), made durable, \
        then renamed over it, so an interruption leaves the old index or none, never \
        half of one.",
    after_help = REINDEX_EXIT_HELP,
)]
pub struct Args {
    /// The data folder (as given to `vellum serve --data`).
    #[arg(long, value_name = "DIR", default_value = "vellum-data")]
    data: PathBuf,

    /// Rebuild the index of the log NAME of the folder (`[[logs]]` of
    /// `vellum serve`) instead of its default log's.
    #[arg(long, value_name = "NAME")]
    log: Option<String>,

    /// No progress bar and no counts on stderr.
    #[arg(short, long)]
    quiet: bool,
}

/// Runs `vellum reindex`.
pub fn run(args: Args) -> CmdResult {
    let layout = super::fsck::stored_layout(args.data)?;
    let bar = super::fsck::progress_bar(args.quiet);
    bar.set_message("entries");
    if let Some(name) = &args.log {
        vellum_proto::check_log_name(name).map_err(|e| anyhow!("--log: {e}"))?;
    }
    let result = events::reindex(&layout, args.log.as_deref(), &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    let report = result?;
    println!("ok");
    if !args.quiet {
        eprintln!(
            "reindex: {} events taken in: {} resources, {} actors, {} actions, {} event ids; \
             the index is {}",
            report.events,
            report.resources,
            report.actors,
            report.actions,
            report.event_ids,
            layout.events_index().display()
        );
    }
    Ok(())
}
