//! The recorder's task: it takes the waiting events in arrival order, a
//! batch at a time, reads what the index says about them (heads, event ids
//! already recorded), builds the entries, appends them in one call, writes
//! their index keys and only then answers (see the module docs of
//! [`super`]).

use std::collections::HashMap;
use std::sync::Weak;
use std::time::SystemTime;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use vellum_event::{Attested, Prev, Recorded, Timestamp};
use vellum_log::{Log, LogError, Wait};
use vellum_merkle::LeafIndex;

use super::index::{self, IndexDb};
use super::{Job, MAX_BATCH, RecordFailure, RecordedAt, Shared, State};

/// The recorder's task: batches of waiting events, one append each. It
/// holds the log and the index (`shared`) only while it works on a batch,
/// and lets go before it answers (see [`super::Shared`]).
pub(super) async fn run(
    shared: Weak<Shared>,
    mut state: State,
    taken: watch::Sender<u64>,
    mut jobs: mpsc::Receiver<Job>,
) {
    let mut stopped: Option<String> = None;
    while let Some(first) = jobs.recv().await {
        let Some(held) = shared.upgrade() else {
            let _ = first.reply.send(Err(RecordFailure::Stopped(
                "the server is shutting down".into(),
            )));
            continue;
        };
        let mut batch = vec![first];
        let max = MAX_BATCH.min(held.log.config().max_entries_per_call);
        while batch.len() < max {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        // Events recorded and indexed, shown to the detectors once their
        // callers have their answers.
        let mut indexed = Vec::new();
        let (replies, outcome) = match &stopped {
            Some(why) => stop_all(batch, why.clone()),
            None => round(&held, &mut state, &taken, batch, &mut indexed).await,
        };
        let (tap, stats) = (held.tap.get().cloned(), held.stats.clone());
        drop(held);
        for (reply, answer) in replies {
            let _ = reply.send(answer);
        }
        super::tap::send(tap.as_ref(), &stats, indexed.iter());
        if let (Err(why), None) = (outcome, &stopped) {
            tracing::error!(error = %why, "events recorder stopped");
            stopped = Some(why);
        }
    }
}

/// A caller's answer, to send once the round let go of the log.
type Reply = (
    oneshot::Sender<Result<RecordedAt, RecordFailure>>,
    Result<RecordedAt, RecordFailure>,
);

/// Every job of `batch` answered with the recorder's stop, and the stop.
fn stop_all(batch: Vec<Job>, why: String) -> (Vec<Reply>, Result<(), String>) {
    let replies = batch
        .into_iter()
        .map(|j| (j.reply, Err(RecordFailure::Stopped(why.clone()))))
        .collect();
    (replies, Err(why))
}

/// Where a job's answer comes from.
enum Answer {
    New(usize),
    Earlier(u64),
    SameBatch(usize),
    Refused(String),
}

/// What the index says about a batch before it is built: its resources'
/// heads and its (submitter, event id) pairs already recorded.
struct Known {
    heads: HashMap<(String, String), Prev>,
    seen: HashMap<(String, String), u64>,
}

/// Reads the heads and retry records `batch` needs, in one read each.
///
/// The round's index calls (these reads, and the write after the append)
/// run on the recorder's task: they are memtable and block-cache work, a
/// few hundred microseconds per round, and moving each to a blocking
/// thread cost more than the call (measured with 64 writers on a loaded
/// 2-core machine: 1.5 ms per round through `spawn_blocking`, 0.4 ms
/// inline). A history's scans, which may read much, do go to a blocking
/// thread.
fn known(index: &IndexDb, batch: &[Job]) -> Result<Known, String> {
    let mut resources: Vec<(String, String)> = batch
        .iter()
        .map(|j| {
            let r = j.event.resource();
            (r.kind.clone(), r.id.clone())
        })
        .collect();
    resources.sort_unstable();
    resources.dedup();
    let ids: Vec<(String, String)> = batch
        .iter()
        .filter_map(|j| {
            j.event
                .event_id()
                .map(|id| (j.submitter.clone(), id.to_owned()))
        })
        .collect();
    let heads = index.heads(&resources).map_err(|e| e.to_string())?;
    let seen = index.seen(&ids).map_err(|e| e.to_string())?;
    Ok(Known {
        heads: resources
            .into_iter()
            .zip(heads)
            .filter_map(|(r, h)| Some((r, h?)))
            .collect(),
        seen: ids
            .into_iter()
            .zip(seen)
            .filter_map(|(k, i)| Some((k, i?)))
            .collect(),
    })
}

/// One batch: the answers, and an error only when the recorder must stop.
///
/// Only this task writes the index, and it writes a round's keys before
/// the next round reads them: what the batch was built on still holds when
/// its answer comes.
async fn round(
    shared: &Shared,
    state: &mut State,
    taken: &watch::Sender<u64>,
    batch: Vec<Job>,
    indexed: &mut Vec<Recorded>,
) -> (Vec<Reply>, Result<(), String>) {
    let (log, index) = (&shared.log, &shared.index);
    let now = match Timestamp::from_system_time(SystemTime::now()) {
        Ok(t) => t,
        Err(e) => {
            return stop_all(
                batch,
                format!("the clock cannot be read as a timestamp: {e}"),
            );
        }
    };
    // Never behind the last event's: a clock stepped back is not a reason
    // for `received_at` to go backwards within the log.
    let received_at = match state.last_received {
        Some(last) if last > now => last,
        _ => now,
    };
    let known = match known(index, &batch) {
        Ok(k) => k,
        Err(why) => return stop_all(batch, format!("the events index cannot be read: {why}")),
    };
    // The batch is built on a copy: a refused append changes nothing.
    let first = state.next;
    let mut heads: HashMap<(String, String), Prev> = HashMap::new();
    let mut seen_now: HashMap<(String, String), usize> = HashMap::new();
    let mut leaves: Vec<Bytes> = Vec::new();
    let mut records: Vec<(Recorded, Bytes)> = Vec::new();
    let mut answers = Vec::with_capacity(batch.len());
    for job in &batch {
        let key = job
            .event
            .event_id()
            .map(|id| (job.submitter.clone(), id.to_owned()));
        if let Some(k) = &key {
            if let Some(&i) = known.seen.get(k) {
                answers.push(Answer::Earlier(i));
                continue;
            }
            if let Some(&n) = seen_now.get(k) {
                answers.push(Answer::SameBatch(n));
                continue;
            }
        }
        let res = (
            job.event.resource().kind.clone(),
            job.event.resource().id.clone(),
        );
        let prev = heads.get(&res).or_else(|| known.heads.get(&res)).copied();
        let attested = Attested {
            submitter: job.submitter.clone(),
            received_at,
            prev,
        };
        match Recorded::new(job.event.clone(), attested) {
            Err(e) => answers.push(Answer::Refused(e.to_string())),
            Ok(r) => {
                heads.insert(res, r.as_prev(first + records.len() as u64));
                let bytes = Bytes::copy_from_slice(r.canonical_bytes());
                if let Some(k) = key {
                    seen_now.insert(k, records.len());
                }
                leaves.push(bytes.clone());
                records.push((r, bytes));
                answers.push(Answer::New(records.len() - 1));
            }
        }
    }
    let mut result: Result<(), String> = Ok(());
    let mut appended: Result<(), LogError> = Ok(());
    let mut in_index = false;
    if !leaves.is_empty() {
        match log.append(leaves, Wait::Durable).await {
            Ok(a) => {
                for (k, r) in a.results.iter().enumerate() {
                    if r.index.get() != first + k as u64 || r.duplicate {
                        result = Err(format!(
                            "the log gave index {} (duplicate: {}) where {} was expected: \
                             something else writes this events log",
                            r.index.get(),
                            r.duplicate,
                            first + k as u64
                        ));
                    }
                }
                if result.is_ok() {
                    state.next = first + records.len() as u64;
                    state.last_received = Some(received_at);
                    // Before anyone is answered: an answered event is in
                    // the index (or the recorder stops and a restart takes
                    // it in from the log).
                    let (pairs, wm) = index::page_keys(first, records.iter().map(|(r, _)| r));
                    match index.write(&pairs, wm).map_err(|e| e.to_string()) {
                        Ok(()) => {
                            taken.send_replace(state.next);
                            in_index = true;
                        }
                        Err(why) => {
                            // The events are durable: their callers get
                            // their answer; the next events would miss
                            // these heads, so the recorder stops.
                            let why = format!("cannot write the events index: {why}");
                            tracing::error!(error = %why, "events index");
                            result = Err(why);
                        }
                    }
                }
            }
            Err(e) => {
                // What a failed append did is unknown unless nothing was
                // queued: only then may the recorder go on.
                if !nothing_queued(&e) {
                    result = Err(format!("an append failed and may have landed: {e}"));
                }
                appended = Err(e);
            }
        }
    }
    // The earlier recordings a retry is answered with.
    let mut earlier: HashMap<u64, Result<Bytes, LogError>> = HashMap::new();
    for a in &answers {
        if let Answer::Earlier(i) = a
            && !earlier.contains_key(i)
        {
            earlier.insert(*i, read_entry(log, *i).await);
        }
    }
    let stored = appended.is_ok() && state.next == first + records.len() as u64;
    let mut replies = Vec::with_capacity(batch.len());
    for (job, answer) in batch.into_iter().zip(answers) {
        let at = |n: usize, duplicate: bool| -> Result<RecordedAt, RecordFailure> {
            Ok(RecordedAt {
                index: LeafIndex::new(first + n as u64)
                    .map_err(|e| RecordFailure::Invalid(e.to_string()))?,
                bytes: records[n].1.clone(),
                duplicate,
            })
        };
        let reply = match (&answer, &appended) {
            (Answer::Earlier(i), _) => match earlier.get(i) {
                Some(Ok(bytes)) => LeafIndex::new(*i)
                    .map(|index| RecordedAt {
                        index,
                        bytes: bytes.clone(),
                        duplicate: true,
                    })
                    .map_err(|e| RecordFailure::Invalid(e.to_string())),
                Some(Err(e)) => Err(RecordFailure::Log(e.clone())),
                None => Err(RecordFailure::Stopped(format!("entry {i} was not read"))),
            },
            (Answer::Refused(why), _) => Err(RecordFailure::Invalid(why.clone())),
            (_, Err(e)) => Err(RecordFailure::Log(e.clone())),
            (Answer::New(n), Ok(())) if stored => at(*n, false),
            (Answer::SameBatch(n), Ok(())) if stored => at(*n, true),
            (_, Ok(())) => Err(RecordFailure::Stopped(
                result.clone().err().unwrap_or_default(),
            )),
        };
        replies.push((job.reply, reply));
    }
    if in_index {
        indexed.extend(records.into_iter().map(|(r, _)| r));
    }
    (replies, result)
}

/// One stored entry.
async fn read_entry(log: &Log, i: u64) -> Result<Bytes, LogError> {
    let index = LeafIndex::new(i).map_err(|e| LogError::Fatal(e.to_string()))?;
    log.entries(index, 1)
        .await?
        .pop()
        .ok_or_else(|| LogError::Fatal(format!("entry {i} cannot be read")))
}

/// Whether the log refused an append before queueing any of it: then the
/// recorder's prediction still holds.
fn nothing_queued(e: &LogError) -> bool {
    matches!(
        e,
        LogError::QueueFull { .. }
            | LogError::NoEntries
            | LogError::TooManyEntries { .. }
            | LogError::EntryTooLarge { .. }
    )
}
