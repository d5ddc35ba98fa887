//! `vellum history`: every version of a resource, everything an actor
//! did, every event with an action, or every event in a time range,
//! verified; as a table or as JSON lines.

use std::io::Write;

use anyhow::anyhow;
use vellum_client::{HistoryEvent, HistoryOf};
use vellum_event::Timestamp;

use crate::exit::{CmdResult, Failure};
use crate::remote::{self, RemoteArgs};

/// Exit statuses as this command uses them.
const HISTORY_EXIT_HELP: &str = "\
Exit status:
  0  the history was listed and every check passed
  1  the answer does not verify; the error names the first event that fails
     (a proof, an event not asked for, out of order, or a resource's chain
     broken or cut short: a version was left out)
  2  usage error, no server, or the log refused the query";

/// Arguments of `vellum history`.
#[derive(Debug, clap::Args)]
#[command(
    about = "List and verify the history of a resource, an actor, an action or a time range",
    long_about = "List the events of an events log for one resource (every version, \
        following its chain), one actor, one action, or, with only --since and/or \
        --until, every event whose event time is in that range, newest first, and \
        verify the answer: one checkpoint the trust accepts (--vkey or --policy), every event's \
        inclusion proof against it, every event one that was asked for, and for a \
        resource an unbroken chain of prev links down to its first version, so that \
        a left-out version is caught.\n\n\
        Prints a table (time, submitter, actor, action, resource, outcome, what \
        changed), or with --json one line per event: \
        {\"index\": N, \"leaf_hash\": \"<hex>\", \"event\": <the stored event>}.",
    after_help = HISTORY_EXIT_HELP,
)]
#[command(group(clap::ArgGroup::new("of").args(["resource", "actor", "action"])))]
pub struct Args {
    #[command(flatten)]
    remote: RemoteArgs,

    /// Every version of this resource: KIND/ID.
    #[arg(long, value_name = "KIND/ID", value_parser = super::record::parse_resource)]
    resource: Option<(String, String)>,

    /// Everything this actor did.
    #[arg(long, value_name = "ID")]
    actor: Option<String>,

    /// Every event with this action.
    #[arg(long, value_name = "VERB")]
    action: Option<String>,

    /// Only events that happened at or after TIME (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = time)]
    since: Option<Timestamp>,

    /// Only events that happened before TIME (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = time)]
    until: Option<Timestamp>,

    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

fn time(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s).map_err(|e| e.to_string())
}

/// Runs `vellum history`.
pub fn run(args: Args) -> CmdResult {
    let of = match (args.resource, args.actor, args.action) {
        (Some((k, i)), None, None) => HistoryOf::Resource(k, i),
        (None, Some(a), None) => HistoryOf::Actor(a),
        (None, None, Some(a)) => HistoryOf::Action(a),
        (None, None, None) if args.since.is_some() || args.until.is_some() => HistoryOf::Time,
        _ => {
            return Err(anyhow!(
                "give one of --resource, --actor, --action, or only --since and/or --until for \
                 every event in a time range"
            )
            .into());
        }
    };
    if matches!(of, HistoryOf::Resource(..)) && (args.since.is_some() || args.until.is_some()) {
        return Err(anyhow!(
            "--since and --until do not apply to --resource: a chain is listed whole"
        )
        .into());
    }
    let trust = args
        .remote
        .trust()?
        .ok_or_else(|| anyhow!("give --vkey or --policy: a history is verified"))?;
    let history = remote::runtime()?.block_on(async {
        let client = args.remote.connect(trust).await?;
        client
            .history(&of, args.since, args.until)
            .await
            .map_err(remote::failure)
    })?;
    let mut out = std::io::stdout().lock();
    let text = if args.json {
        json_lines(&history.events)
    } else {
        table(&history.events)
    };
    out.write_all(text.as_bytes())
        .map_err(|e| Failure::Trouble(anyhow!("cannot write to stdout: {e}")))?;
    eprintln!(
        "vellum: {} event(s), verified against the checkpoint of size {}",
        history.events.len(),
        history.checkpoint.size()
    );
    Ok(())
}

fn json_lines(events: &[HistoryEvent]) -> String {
    let mut s = String::new();
    for e in events {
        // The stored bytes are canonical JSON already: embedded as they are.
        s.push_str(&format!(
            "{{\"index\":{},\"leaf_hash\":\"{}\",\"event\":{}}}\n",
            e.index,
            vellum_merkle::leaf_hash(&e.bytes),
            String::from_utf8_lossy(&e.bytes)
        ));
    }
    s
}

fn table(events: &[HistoryEvent]) -> String {
    let mut rows = vec![[
        "TIME".to_owned(),
        "SUBMITTER".to_owned(),
        "ACTOR".to_owned(),
        "ACTION".to_owned(),
        "RESOURCE".to_owned(),
        "OUTCOME".to_owned(),
        "WHAT CHANGED".to_owned(),
    ]];
    for e in events {
        let ev = e.recorded.event();
        let a = e.recorded.attested();
        let outcome = match ev.reason() {
            Some(r) => format!("{} ({r})", ev.result().as_str()),
            None => ev.result().as_str().to_owned(),
        };
        let changed = ev
            .payload()
            .map(|p| serde_json::Value::Object(p.clone()).to_string())
            .unwrap_or_default();
        rows.push([
            ev.event_time().to_string(),
            a.submitter.clone(),
            ev.actor().id.clone(),
            ev.action().to_owned(),
            format!("{}/{}", ev.resource().kind, ev.resource().id),
            outcome,
            changed,
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut s = String::new();
    for r in rows {
        for (c, w) in widths.iter().enumerate() {
            s.push_str(&format!("{:<w$}  ", r[c], w = *w));
        }
        s.push_str(&r[6]);
        s.push('\n');
    }
    s
}
