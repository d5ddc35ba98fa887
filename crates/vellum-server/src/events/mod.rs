//! The events layer of a log: it turns validated audit events into the
//! leaves an events log stores (`vellum_event::Recorded`, docs/EVENTS.md).
//!
//! # One writer, so that every `prev` is right
//!
//! A recorded event names the previous event on its resource by index and
//! leaf hash, and both are only known once that event is sequenced. The
//! [`Recorder`] is therefore the only writer of an events log (raw appends
//! are refused on one) and predicts indices: one task takes the waiting
//! events in arrival order, gives each the next index, its resource's head
//! as `prev` and the log's clock as `received_at` (never behind the
//! previous one), and appends them in one call. The log answers with the
//! indices it gave; any other answer (a duplicate leaf, a gap) means the
//! prediction was wrong, and the recorder stops: nothing after it could
//! name its `prev` correctly.
//!
//! Its state (each resource's head, each (submitter, event id) seen, the
//! next index, the last `received_at`) is derived from the entries: a
//! start reads them all back ([`Recorder::start`]). What a failed append
//! did is not known, so a failure stops the recorder too; a restart
//! rebuilds the state from what is stored.
//!
//! Retries: an event whose (submitter, event id) was recorded is answered
//! with the first recording (index and bytes), marked as a duplicate.

mod history;

pub use history::{Cursor, Page, Query};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use tokio::sync::{Mutex, mpsc, oneshot, watch};
use vellum_event::{Attested, Event, Prev, Recorded, Timestamp};
use vellum_log::{Log, LogError, Wait};
use vellum_merkle::LeafIndex;

/// How many events one append call carries at most.
const MAX_BATCH: usize = 1024;

/// What an events log answered for one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedAt {
    /// Its index.
    pub index: LeafIndex,
    /// The stored entry.
    pub bytes: Bytes,
    /// The event was recorded before (same submitter and event id).
    pub duplicate: bool,
}

/// Why an event was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordFailure {
    /// The event with the log's fields does not make a valid entry (e.g.
    /// too large once attested).
    #[error("{0}")]
    Invalid(String),
    /// The log refused or failed the append; nothing is known to be stored
    /// unless the error says so.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The recorder stopped (see the module docs): restart the server.
    #[error("the events recorder stopped: {0}")]
    Stopped(String),
}

/// The derived state: what the next event needs to know.
#[derive(Debug, Default)]
struct State {
    next: u64,
    heads: HashMap<(String, String), Prev>,
    seen: HashMap<(String, String), (u64, Bytes)>,
    last_received: Option<Timestamp>,
    /// The secondary indexes, oldest first: derived from the entries like
    /// everything here, so a lost one loses no event.
    by_resource: HashMap<(String, String), Vec<u64>>,
    by_actor: HashMap<String, Vec<u64>>,
    by_action: HashMap<String, Vec<u64>>,
}

/// Which events a history query asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Select {
    /// Every version of one resource: its chain.
    Resource {
        /// Its kind.
        kind: String,
        /// Its id.
        id: String,
    },
    /// Everything one actor did.
    Actor(String),
    /// Every event with this action.
    Action(String),
}

impl State {
    /// Takes a stored event into the state.
    fn take(&mut self, index: u64, recorded: &Recorded, bytes: Bytes) {
        let e = recorded.event();
        let a = recorded.attested();
        let resource = (e.resource().kind.clone(), e.resource().id.clone());
        self.heads.insert(resource.clone(), recorded.as_prev(index));
        self.by_resource.entry(resource).or_default().push(index);
        self.by_actor
            .entry(e.actor().id.clone())
            .or_default()
            .push(index);
        self.by_action
            .entry(e.action().to_owned())
            .or_default()
            .push(index);
        if let Some(id) = e.event_id() {
            self.seen
                .insert((a.submitter.clone(), id.to_owned()), (index, bytes));
        }
        self.last_received = Some(match self.last_received {
            Some(t) if t > a.received_at => t,
            _ => a.received_at,
        });
        self.next = index + 1;
    }
}

struct Job {
    event: Event,
    submitter: String,
    reply: oneshot::Sender<Result<RecordedAt, RecordFailure>>,
}

/// The single writer of an events log.
#[derive(Clone, Debug)]
pub struct Recorder {
    jobs: mpsc::Sender<Job>,
    log: Log,
    state: Arc<Mutex<State>>,
    /// How many entries the state (and its indexes) has taken in.
    taken: watch::Receiver<u64>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").finish_non_exhaustive()
    }
}

impl Recorder {
    /// Reads every entry of `log` back into the recorder's state and starts
    /// its task.
    ///
    /// # Errors
    ///
    /// An entry that is not a recorded event (the log is not an events
    /// log), or the log's read error.
    pub async fn start(log: Log) -> Result<Recorder, String> {
        let size = log.committed().size.get();
        let mut state = State::default();
        let mut i = 0;
        while i < size {
            let start = LeafIndex::new(i).map_err(|e| e.to_string())?;
            let page = log
                .entries(start, (size - i).min(1000))
                .await
                .map_err(|e| format!("cannot read entry {i}: {e}"))?;
            if page.is_empty() {
                return Err(format!("entry {i} of {size} cannot be read"));
            }
            for bytes in page {
                let recorded = Recorded::parse(&bytes).map_err(|e| {
                    format!("entry {i} is not a recorded audit event ({e}): not an events log")
                })?;
                state.take(i, &recorded, bytes);
                i += 1;
            }
        }
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        let (taken_tx, taken) = watch::channel(state.next);
        let state = Arc::new(Mutex::new(state));
        tokio::spawn(run(log.clone(), state.clone(), taken_tx, rx));
        Ok(Recorder {
            jobs,
            log,
            state,
            taken,
        })
    }

    /// The log this recorder writes.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// Waits until the state has taken in every entry below `size`: an
    /// append is taken in a moment after it returns, and a checkpoint may
    /// cover it before that.
    ///
    /// # Errors
    ///
    /// [`RecordFailure::Stopped`] when the recorder stopped first.
    pub async fn covering(&self, size: u64) -> Result<(), RecordFailure> {
        let mut taken = self.taken.clone();
        taken
            .wait_for(|&n| n >= size)
            .await
            .map(|_| ())
            .map_err(|_| RecordFailure::Stopped("it stopped before indexing the checkpoint".into()))
    }

    /// The indices of the events `select` names, below `below`, newest
    /// first, among those taken in (see [`Recorder::covering`]).
    pub async fn lookup(&self, select: &Select, below: u64) -> Vec<u64> {
        let state = self.state.lock().await;
        let list = match select {
            Select::Resource { kind, id } => state.by_resource.get(&(kind.clone(), id.clone())),
            Select::Actor(a) => state.by_actor.get(a),
            Select::Action(a) => state.by_action.get(a),
        };
        list.map(|l| l.iter().rev().copied().filter(|&i| i < below).collect())
            .unwrap_or_default()
    }

    /// Records `event` for `submitter`; the answer comes once the event is
    /// durable.
    ///
    /// # Errors
    ///
    /// [`RecordFailure`].
    pub async fn record(&self, event: Event, submitter: &str) -> Result<RecordedAt, RecordFailure> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            event,
            submitter: submitter.to_owned(),
            reply,
        };
        self.jobs
            .send(job)
            .await
            .map_err(|_| RecordFailure::Stopped("it is not running".into()))?;
        answer
            .await
            .map_err(|_| RecordFailure::Stopped("it ended without an answer".into()))?
    }

    /// As [`Recorder::record`], with the answer's wait: durable, or a
    /// checkpoint covering the event (then its inclusion proof against it).
    ///
    /// # Errors
    ///
    /// [`RecordFailure`]; a checkpoint that does not come within `timeout`
    /// is [`LogError`]'s deadline error.
    pub async fn record_and_wait(
        &self,
        event: Event,
        submitter: &str,
        wait: Wait,
    ) -> Result<(RecordedAt, Option<(Bytes, Vec<vellum_merkle::Hash>)>), RecordFailure> {
        let at = self.record(event, submitter).await?;
        if wait == Wait::Durable {
            return Ok((at, None));
        }
        let mut published = self.log.subscribe_published();
        let index = at.index.get();
        let p = published
            .wait_for(|p| p.as_ref().is_some_and(|p| p.size.get() > index))
            .await
            .map_err(|_| RecordFailure::Stopped("the log stopped".into()))?
            .clone()
            .ok_or_else(|| RecordFailure::Stopped("no checkpoint".into()))?;
        let proof = self
            .log
            .inclusion_proof(at.index, vellum_log::At::Size(p.size))?;
        Ok((at, Some((p.note.clone(), proof.proof))))
    }
}

/// The recorder's task: batches of waiting events, one append each.
async fn run(
    log: Log,
    state: Arc<Mutex<State>>,
    taken: watch::Sender<u64>,
    mut jobs: mpsc::Receiver<Job>,
) {
    let mut stopped: Option<String> = None;
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        let max = MAX_BATCH.min(log.config().max_entries_per_call);
        while batch.len() < max {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        if let Some(why) = &stopped {
            for j in batch {
                let _ = j.reply.send(Err(RecordFailure::Stopped(why.clone())));
            }
            continue;
        }
        if let Err(why) = round(&log, &state, &taken, batch).await {
            tracing::error!(error = %why, "events recorder stopped");
            stopped = Some(why);
        }
    }
}

/// One batch. Returns an error only when the recorder must stop.
///
/// The state is locked while the batch is built and while it is taken in,
/// not while the log works: a history query never waits for a round. Only
/// this task changes the state, so what the batch was built on still holds
/// when its answer comes.
async fn round(
    log: &Log,
    shared: &Mutex<State>,
    taken: &watch::Sender<u64>,
    batch: Vec<Job>,
) -> Result<(), String> {
    let state = shared.lock().await;
    let now = Timestamp::from_system_time(SystemTime::now())
        .map_err(|e| format!("the clock cannot be read as a timestamp: {e}"))?;
    // Never behind the last event's: a clock stepped back is not a reason
    // for `received_at` to go backwards within the log.
    let received_at = match state.last_received {
        Some(last) if last > now => last,
        _ => now,
    };
    // The batch is built on a copy: a refused append changes nothing.
    let mut next = state.next;
    let mut heads: HashMap<(String, String), Prev> = HashMap::new();
    let mut seen_now: HashMap<(String, String), usize> = HashMap::new();
    let mut leaves: Vec<Bytes> = Vec::new();
    let mut records: Vec<(Recorded, Bytes)> = Vec::new();
    // For each job: where its answer comes from.
    enum Answer {
        New(usize),
        Earlier(u64, Bytes),
        SameBatch(usize),
        Refused(String),
    }
    let mut answers = Vec::with_capacity(batch.len());
    for job in &batch {
        let key = job
            .event
            .event_id()
            .map(|id| (job.submitter.clone(), id.to_owned()));
        if let Some(k) = &key {
            if let Some((i, b)) = state.seen.get(k) {
                answers.push(Answer::Earlier(*i, b.clone()));
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
        let prev = heads.get(&res).or_else(|| state.heads.get(&res)).copied();
        let attested = Attested {
            submitter: job.submitter.clone(),
            received_at,
            prev,
        };
        match Recorded::new(job.event.clone(), attested) {
            Err(e) => answers.push(Answer::Refused(e.to_string())),
            Ok(r) => {
                heads.insert(res, r.as_prev(next));
                let bytes = Bytes::copy_from_slice(r.canonical_bytes());
                if let Some(k) = key {
                    seen_now.insert(k, records.len());
                }
                leaves.push(bytes.clone());
                records.push((r, bytes));
                answers.push(Answer::New(records.len() - 1));
                next += 1;
            }
        }
    }
    let first = state.next;
    drop(state);
    let mut result: Result<(), String> = Ok(());
    let mut appended: Result<(), LogError> = Ok(());
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
                    let mut state = shared.lock().await;
                    for (k, (r, bytes)) in records.iter().enumerate() {
                        state.take(first + k as u64, r, bytes.clone());
                    }
                    taken.send_replace(state.next);
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
    for (job, answer) in batch.into_iter().zip(answers) {
        let reply = match (&answer, &appended, &result) {
            (Answer::Earlier(i, b), _, _) => Ok(RecordedAt {
                index: LeafIndex::new(*i).map_err(|e| e.to_string())?,
                bytes: b.clone(),
                duplicate: true,
            }),
            (Answer::Refused(why), _, _) => Err(RecordFailure::Invalid(why.clone())),
            (_, _, Err(why)) => Err(RecordFailure::Stopped(why.clone())),
            (_, Err(e), _) => Err(RecordFailure::Log(e.clone())),
            (Answer::New(n), Ok(()), Ok(())) => Ok(RecordedAt {
                index: LeafIndex::new(first + *n as u64).map_err(|e| e.to_string())?,
                bytes: records[*n].1.clone(),
                duplicate: false,
            }),
            (Answer::SameBatch(n), Ok(()), Ok(())) => Ok(RecordedAt {
                index: LeafIndex::new(first + *n as u64).map_err(|e| e.to_string())?,
                bytes: records[*n].1.clone(),
                duplicate: true,
            }),
        };
        let _ = job.reply.send(reply);
    }
    result
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
