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
//! Its state is derived from the entries. The next index and the last
//! `received_at` are in memory (read from the log at start); each
//! resource's head, each (submitter, event id) seen and the history
//! indexes (by resource, actor, action and event time) are in the events
//! index, a RocksDB database of its own (`index.rs`, docs/EVENTS.md "The
//! index"): each round writes its keys there after the append is durable
//! and before anyone is answered. A start catches the index up from its
//! watermark, or rebuilds it from the entries ([`Recorder::start`]);
//! `vellum reindex` rebuilds it offline ([`reindex`]) and `vellum fsck`
//! compares it with the entries ([`check_index`]). What a failed append
//! did is not known, so a failure stops the recorder, as does a failed
//! index write; a restart takes in what is stored.
//!
//! Retries: an event whose (submitter, event id) was recorded is answered
//! with the first recording (index and bytes), marked as a duplicate.

mod history;
mod index;
mod keys;
mod rebuild;
mod round;
mod stats;
mod tap;

pub use history::{Cursor, MAX_PAGE, Page, Query};
pub use index::IndexError;
pub use rebuild::{IndexCheck, IndexCheckFailure, ReindexReport, check_index, reindex};
pub use stats::EventStats;
pub use tap::Sequenced;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use vellum_event::{Event, Recorded, Timestamp};
use vellum_log::{Log, LogError, Wait};
use vellum_merkle::LeafIndex;

use index::{IndexDb, Opened};

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

/// What the next event needs to know besides the index: kept by the
/// recorder's task alone.
#[derive(Debug, Default)]
struct State {
    next: u64,
    last_received: Option<Timestamp>,
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
    /// Every event whose `event_time` is within the query's `since` and
    /// `until` (at least one of them given).
    Time,
}

impl Select {
    /// The selection a history request's fields make (`Log.ListEvents`,
    /// `GET /events`): exactly one of a resource (kind and id), an actor
    /// or an action; or none of them, with a time bound (`timed`), for
    /// every event in a time range. Empty means not given.
    ///
    /// # Errors
    ///
    /// A message naming the combinations allowed.
    pub fn from_fields(
        resource: (String, String),
        actor: String,
        action: String,
        timed: bool,
    ) -> Result<Select, String> {
        let has = |s: &str| !s.is_empty();
        let ((kind, id), actor, action) = (resource, actor, action);
        match ((has(&kind), has(&id)), has(&actor), has(&action)) {
            ((true, true), false, false) => Ok(Select::Resource { kind, id }),
            ((false, false), true, false) => Ok(Select::Actor(actor)),
            ((false, false), false, true) => Ok(Select::Action(action)),
            ((false, false), false, false) if timed => Ok(Select::Time),
            _ => Err(
                "give exactly one of: a resource (kind and id), an actor, an action; or \
                      only since and/or until, for every event in a time range"
                    .into(),
            ),
        }
    }

    /// Whether `r` is an event this selection names (the time bounds
    /// aside).
    pub fn names(&self, r: &Recorded) -> bool {
        let e = r.event();
        match self {
            Select::Resource { kind, id } => e.resource().kind == *kind && e.resource().id == *id,
            Select::Actor(a) => e.actor().id == *a,
            Select::Action(a) => e.action() == a,
            Select::Time => true,
        }
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
    shared: Arc<Shared>,
    /// How many entries the index has taken in.
    taken: watch::Receiver<u64>,
}

/// The log and its index, held by the recorder's handles. The task holds
/// them only while it works on a batch, and lets go before it answers: so
/// once the last handle is gone and every call answered (a server's
/// shutdown), the index is closed and the log released, and a new start in
/// the same process finds neither still open.
#[derive(Debug)]
struct Shared {
    log: Log,
    index: IndexDb,
    stats: Arc<EventStats>,
    /// The detectors' feed, once set.
    tap: std::sync::OnceLock<mpsc::Sender<Sequenced>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").finish_non_exhaustive()
    }
}

/// Runs blocking index work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, index::IndexError> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("the events index task failed: {e}"))?
        .map_err(|e| e.to_string())
}

impl Recorder {
    /// Opens the events index in `index_dir` (the data folder's
    /// `events-index`), brings it level with `log` (catching up from its
    /// watermark, or rebuilding it from the entries when it is missing,
    /// unreadable, of another format or ahead of the log), and starts the
    /// recorder's task.
    ///
    /// # Errors
    ///
    /// An entry that is not a recorded event (the log is not an events
    /// log), the index held by another process, or a read or write error.
    pub async fn start(log: Log, index_dir: &Path) -> Result<Recorder, String> {
        let size = log.committed().size.get();
        let store = log.store().clone();
        let dir = index_dir.to_path_buf();
        let (index, opened) = blocking(move || index::open_for_log(&dir, &*store, size)).await?;
        match &opened {
            Opened::Current => tracing::debug!(entries = size, "events index up to date"),
            Opened::CaughtUp(n) => {
                tracing::info!(entries = size, "events index caught up {n} entries")
            }
            Opened::Rebuilt(n, why) => {
                tracing::info!(
                    entries = size,
                    "events index rebuilt from {n} entries: {why}"
                )
            }
        }
        let mut state = State {
            next: size,
            last_received: None,
        };
        if size > 0 {
            // Every round's received_at is at or after the one before: the
            // last entry's is the latest.
            let last = LeafIndex::new(size - 1).map_err(|e| e.to_string())?;
            let bytes = log
                .entries(last, 1)
                .await
                .map_err(|e| format!("cannot read entry {}: {e}", size - 1))?
                .pop()
                .ok_or_else(|| format!("entry {} cannot be read", size - 1))?;
            let r = Recorded::parse(&bytes).map_err(|e| {
                format!(
                    "entry {} is not a recorded audit event ({e}): not an events log",
                    size - 1
                )
            })?;
            state.last_received = Some(r.attested().received_at);
        }
        let shared = Arc::new(Shared {
            log,
            index,
            stats: Arc::default(),
            tap: std::sync::OnceLock::new(),
        });
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        let (taken_tx, taken) = watch::channel(state.next);
        tokio::spawn(round::run(Arc::downgrade(&shared), state, taken_tx, rx));
        Ok(Recorder {
            jobs,
            shared,
            taken,
        })
    }

    /// The log this recorder writes.
    pub fn log(&self) -> &Log {
        &self.shared.log
    }

    /// Waits until the index has taken in every entry below `size`: an
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

    /// Up to `limit` indices of the events `select` names below `below`,
    /// newest first, whose `event_time` is within [`since`, `until`), from
    /// the index (see [`Recorder::covering`] for which entries it holds).
    ///
    /// # Errors
    ///
    /// [`RecordFailure::Stopped`] when the index cannot be read.
    pub async fn lookup(
        &self,
        select: &Select,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        below: u64,
        limit: usize,
    ) -> Result<Vec<u64>, RecordFailure> {
        let shared = self.shared.clone();
        let prefix = match select {
            Select::Resource { kind, id } => Some(keys::resource_prefix(kind, id)),
            Select::Actor(a) => Some(keys::actor_prefix(a)),
            Select::Action(a) => Some(keys::action_prefix(a)),
            Select::Time => None,
        };
        blocking(move || match prefix {
            Some(p) => shared.index.scan_back(&p, below, since, until, limit),
            None => shared.index.scan_time(since, until, below, limit),
        })
        .await
        .map_err(RecordFailure::Stopped)
    }

    /// Records `event` for `submitter`; the answer comes once the event is
    /// durable.
    ///
    /// # Errors
    ///
    /// [`RecordFailure`].
    pub async fn record(&self, event: Event, submitter: &str) -> Result<RecordedAt, RecordFailure> {
        let outcome = event.result();
        let answer = self.record_uncounted(event, submitter).await;
        let stats = &self.shared.stats;
        match &answer {
            Ok(at) if at.duplicate => {
                stats.duplicates.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => stats.count_recorded(outcome),
            Err(_) => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        answer
    }

    /// Shows every event recorded from now on to `tap` (the guard's
    /// detectors); only the first tap set counts.
    pub fn set_tap(&self, tap: mpsc::Sender<Sequenced>) {
        let _ = self.shared.tap.set(tap);
    }

    /// What this recorder counted (shared: it counts on).
    pub fn stats(&self) -> &Arc<EventStats> {
        &self.shared.stats
    }

    async fn record_uncounted(
        &self,
        event: Event,
        submitter: &str,
    ) -> Result<RecordedAt, RecordFailure> {
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
        let mut published = self.log().subscribe_published();
        let index = at.index.get();
        let p = published
            .wait_for(|p| p.as_ref().is_some_and(|p| p.size.get() > index))
            .await
            .map_err(|_| RecordFailure::Stopped("the log stopped".into()))?
            .clone()
            .ok_or_else(|| RecordFailure::Stopped("no checkpoint".into()))?;
        let proof = self
            .log()
            .inclusion_proof(at.index, vellum_log::At::Size(p.size))?;
        Ok((at, Some((p.note.clone(), proof.proof))))
    }
}
