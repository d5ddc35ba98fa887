//! `vellum record`: record one audit event on an events log; print its
//! index and the stored entry (canonical JSON), or write its tlog-proof.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use vellum_client::{RecordedEvent, Wait};
use vellum_event::{Actor, Outcome, OutcomeResult, Resource, Submitted, Timestamp};

use crate::exit::{CmdResult, Failure};
use crate::input::Source;
use crate::remote::{self, RemoteArgs};

/// Exit statuses as this command uses them.
const RECORD_EXIT_HELP: &str = "\
Exit status:
  0  the event was recorded (and, with --wait checkpoint, its proof verified)
  1  the log's answer does not verify: the entry is not the event sent, or
     its checkpoint or proof is wrong
  2  usage error or invalid event (nothing was sent), unreadable file, no
     server, or the log refused the event (e.g. a raw log; RESOURCE_EXHAUSTED)";

/// Largest --payload @FILE read; the log refuses more than 64 KiB anyway.
const MAX_PAYLOAD_FILE: usize = 1 << 20;

/// How long to wait, as the command line spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum WaitArg {
    /// The event has an index and is synced to disk.
    Durable,
    /// A signed checkpoint covers it: a proof is available.
    Checkpoint,
}

/// How the action ended, as the command line spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum OutcomeArg {
    Success,
    Failure,
    Denied,
}

/// Arguments of `vellum record`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Record an audit event (who did what, when, to what) on an events log",
    long_about = "Record one audit event on an events log (vellum serve --log-kind events).\n\n\
        The log validates the event, adds what only it can attest (submitter: the \
        authenticated caller; received_at: its clock; prev: the previous event on the \
        same resource) and stores the event as RFC 8785 canonical JSON (docs/EVENTS.md).\n\n\
        Prints two lines: '<index>' (or '<index> duplicate' when --event-id was recorded \
        before by the same submitter: the first recording is returned), then the stored \
        entry. --entry-out FILE writes the entry's exact bytes (no newline), the file \
        'vellum verify --entry' takes.\n\n\
        With --vkey or --policy the answer is checked: the entry must be the event sent; \
        with --wait checkpoint, its inclusion proof must verify. --proof FILE then writes \
        its tlog-proof.",
    after_help = RECORD_EXIT_HELP,
)]
pub struct Args {
    #[command(flatten)]
    remote: RemoteArgs,

    /// Who acted: the actor's id.
    #[arg(long, value_name = "ID")]
    actor: String,

    /// What kind of actor (lowercase: user, service, agent...).
    #[arg(long, value_name = "KIND", default_value = "user")]
    actor_kind: String,

    /// The actor this one acted for.
    #[arg(long, value_name = "ID")]
    on_behalf_of: Option<String>,

    /// What was done: a dotted verb, e.g. permission.grant.
    #[arg(long, value_name = "VERB")]
    action: String,

    /// What it was done to: KIND/ID, e.g. document/doc-7 (the id may hold
    /// more slashes).
    #[arg(long, value_name = "KIND/ID", value_parser = parse_resource)]
    resource: (String, String),

    /// How it ended.
    #[arg(long, value_enum, default_value = "success")]
    outcome: OutcomeArg,

    /// Why, in words.
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,

    /// Context, as KEY=VALUE (repeatable).
    #[arg(long = "attr", value_name = "K=V", value_parser = parse_attr)]
    attrs: Vec<(String, String)>,

    /// Any JSON object (e.g. the before and after of a change), inline or
    /// @FILE.
    #[arg(long, value_name = "JSON|@FILE")]
    payload: Option<String>,

    /// When it happened (RFC 3339) [default: now].
    #[arg(long, value_name = "TIME")]
    event_time: Option<String>,

    /// An id of yours for this event: a retry with the same id gets the
    /// first recording back.
    #[arg(long, value_name = "ID")]
    event_id: Option<String>,

    /// How long to wait before answering (checkpoint needs --vkey or
    /// --policy).
    #[arg(long, value_enum, default_value = "durable")]
    wait: WaitArg,

    /// Write the event's verified tlog-proof here (needs --wait checkpoint).
    #[arg(long, value_name = "FILE")]
    proof: Option<PathBuf>,

    /// Write the stored entry's exact bytes here.
    #[arg(long, value_name = "FILE")]
    entry_out: Option<PathBuf>,
}

pub(crate) fn parse_resource(s: &str) -> Result<(String, String), String> {
    match s.split_once('/') {
        Some((kind, id)) if !kind.is_empty() && !id.is_empty() => {
            Ok((kind.to_owned(), id.to_owned()))
        }
        _ => Err(format!("{s:?} is not KIND/ID (e.g. document/doc-7)")),
    }
}

fn parse_attr(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// Runs `vellum record`.
pub fn run(args: Args) -> CmdResult {
    let wait = match args.wait {
        WaitArg::Durable => Wait::Durable,
        WaitArg::Checkpoint => Wait::Checkpoint,
    };
    let trust = args.remote.trust()?;
    if wait == Wait::Checkpoint && trust.is_none() {
        return Err(
            anyhow!("--wait checkpoint needs --vkey or --policy, to verify the proof").into(),
        );
    }
    if args.proof.is_some() && wait != Wait::Checkpoint {
        return Err(anyhow!("--proof needs --wait checkpoint").into());
    }
    let payload = match &args.payload {
        None => None,
        Some(p) => Some(match p.strip_prefix('@') {
            Some(file) => Source::parse(file)
                .unwrap_or_else(|e| match e {})
                .read(MAX_PAYLOAD_FILE)
                .with_context(|| format!("--payload @{file}"))?,
            None => p.as_bytes().to_vec(),
        }),
    };
    let event_time = match args.event_time {
        Some(t) => t,
        None => Timestamp::from_system_time(std::time::SystemTime::now())
            .map_err(|e| anyhow!("the clock: {e}"))?
            .to_string(),
    };
    let event = Submitted {
        actor: Actor {
            id: args.actor,
            kind: args.actor_kind,
            on_behalf_of: args.on_behalf_of,
        },
        action: args.action,
        resource: Resource {
            kind: args.resource.0,
            id: args.resource.1,
        },
        outcome: Outcome {
            result: Some(match args.outcome {
                OutcomeArg::Success => OutcomeResult::Success,
                OutcomeArg::Failure => OutcomeResult::Failure,
                OutcomeArg::Denied => OutcomeResult::Denied,
            }),
            reason: args.reason,
        },
        event_time,
        attributes: args.attrs.into_iter().collect::<BTreeMap<_, _>>(),
        payload,
        event_id: args.event_id,
    };
    // Refused here, with the field named, before anything is sent.
    event
        .validate(&vellum_event::Limits::default())
        .map_err(|e| anyhow!("invalid event: {e}"))?;
    let recorded: RecordedEvent = remote::runtime()?.block_on(async {
        match trust {
            Some(trust) => {
                let client = args.remote.connect(trust).await?;
                client.record(&event, wait).await.map_err(remote::failure)
            }
            None => {
                let client = args.remote.connect_unverified().await?;
                client.record(&event, wait).await.map_err(remote::failure)
            }
        }
    })?;
    if let Some(path) = &args.entry_out {
        std::fs::write(path, &recorded.bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let (Some(path), Some(proof)) = (&args.proof, &recorded.proof) {
        std::fs::write(path, proof.format())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut out = std::io::stdout().lock();
    let line = if recorded.duplicate {
        format!("{} duplicate\n", recorded.index)
    } else {
        format!("{}\n", recorded.index)
    };
    out.write_all(line.as_bytes())
        .and_then(|()| out.write_all(&recorded.bytes))
        .and_then(|()| out.write_all(b"\n"))
        .map_err(|e| Failure::Trouble(anyhow!("cannot write to stdout: {e}")))?;
    Ok(())
}
