//! The sequencer: one thread that turns pooled append requests into
//! committed rounds, for one log or for several at once ([`Sequencing`]).
//!
//! Commit order of a round, and what a crash at each step leaves:
//!
//! 1. dedup lookup (reads only), per log: nothing.
//! 2. integrate into each log's in-memory edge: nothing durable; the edge is
//!    rebuilt from storage at start-up.
//! 3. [`CommitGroup::commit_all`] of every log's batch (each atomic and
//!    synced; one write when the logs share a database): before it returns,
//!    each batch is either wholly stored or absent; no caller has an answer
//!    yet.
//! 4. publish each log's new head to its checkpoint publisher, then answer
//!    each caller: only now does anyone learn an index, and it is durable.
//!
//! Any error in 1 or 3 is fatal for every log the thread sequences: the
//! store's state may be unknown (and logs of one thread share a database),
//! so the thread answers every pooled request with an error, marks every
//! log failed, and stops. The process reloads through the normal start-up
//! path; there is no second recovery path.
//!
//! Why one thread for several logs: a server holding many logs, each
//! receiving a few appends at a time, would otherwise run one round per
//! log per append, each with its own wake-ups, lookups and synced write; a
//! shared round pays those once for everything pooled across the logs.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, oneshot, watch};
use vellum_merkle::{CompactRange, Hash, LeafIndex};
use vellum_store::{CommitBatch, CommitGroup, LogStore, TreeHead};

use crate::error::LogError;
use crate::integrate::integrate;
use crate::log::LogState;
use crate::stats::Stats;

/// Where an entry ended up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assigned {
    /// The entry's index.
    pub index: LeafIndex,
    /// Whether the same bytes were already in the log (or earlier in the
    /// same round), so that `index` is theirs.
    pub duplicate: bool,
}

/// One append call on its way to the sequencer.
pub(crate) struct Request {
    pub entries: Vec<(Bytes, Hash)>,
    pub reply: oneshot::Sender<Result<Vec<Assigned>, LogError>>,
    pub enqueued: Instant,
    /// Queue capacity held until the round that sequences the request ends.
    pub _permits: (OwnedSemaphorePermit, OwnedSemaphorePermit),
}

/// What the sequencer keeps of one log.
pub(crate) struct Member {
    pub store: Arc<dyn LogStore>,
    pub edge: CompactRange,
    pub pool_max_entries: usize,
    pub pool_max_delay: Duration,
    pub committed: watch::Sender<TreeHead>,
    pub state: watch::Sender<LogState>,
    pub stats: Arc<Stats>,
}

pub(crate) enum Msg {
    /// A log joins (its member number in the commit group, its state);
    /// answered once it may append.
    Join(usize, Box<Member>, oneshot::Sender<Result<(), String>>),
    /// An append for the log that is member `.0`.
    Append(usize, Request),
    /// Cut a round now with whatever is pooled; answer when it is committed.
    Flush(oneshot::Sender<()>),
    /// The log that is member `.0` stops: everything it queued before this
    /// message is sequenced first; answered once it is.
    Leave(usize, oneshot::Sender<()>),
}

/// The thread that sequences the logs of one [`CommitGroup`]: each round
/// takes what all of them have pooled, commits every log's batch with one
/// [`CommitGroup::commit_all`], then answers. A log on its own has a group
/// of one (made by [`LogBuilder::open`](crate::LogBuilder::open)); a server
/// holding several logs in one database starts one `Sequencing` for all of
/// them and opens each log with
/// [`LogBuilder::sequencing`](crate::LogBuilder::sequencing).
///
/// Cheap to clone. The thread runs until [`Sequencing::shutdown`] and every
/// member log has shut down (or a fatal error).
#[derive(Clone)]
pub struct Sequencing {
    pub(crate) inner: Arc<Shared>,
}

pub(crate) struct Shared {
    tx: Mutex<Option<mpsc::Sender<Msg>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Sequencing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequencing").finish_non_exhaustive()
    }
}

impl Sequencing {
    /// Starts the sequencing thread for the logs of `group`.
    ///
    /// # Errors
    ///
    /// The thread cannot be started.
    pub fn start(group: Arc<dyn CommitGroup>) -> std::io::Result<Sequencing> {
        let (tx, rx) = mpsc::channel();
        let sequencer = Sequencer {
            group,
            members: Vec::new(),
        };
        let thread = std::thread::Builder::new()
            .name("vellum-sequencer".into())
            .spawn(move || sequencer.run(rx))?;
        Ok(Sequencing {
            inner: Arc::new(Shared {
                tx: Mutex::new(Some(tx)),
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    /// A sender to the thread, while it is not shut down.
    pub(crate) fn sender(&self) -> Option<mpsc::Sender<Msg>> {
        self.inner
            .tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Takes no more logs: the thread stops once the logs that joined have
    /// all shut down or been dropped.
    pub(crate) fn close(&self) {
        self.inner
            .tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }

    /// Lets the thread stop once every member log has shut down (each
    /// [`Log::shutdown`](crate::Log::shutdown) sequences what its log
    /// queued), and waits for it.
    pub async fn shutdown(&self) {
        self.close();
        let thread = self
            .inner
            .thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(t) = thread {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

struct Sequencer {
    group: Arc<dyn CommitGroup>,
    /// By member number; `None` for a log that left or never joined.
    members: Vec<Option<Member>>,
}

/// A round's pool: the requests of each member, in arrival order.
type Pool = BTreeMap<usize, Vec<Request>>;

impl Sequencer {
    /// Runs until every sender is gone (shutdown: whatever was queued is
    /// sequenced first) or a fatal error.
    fn run(mut self, rx: Receiver<Msg>) {
        // When the previous round ended: a round whose first request was
        // already waiting then ran back to back with it (a backlog), and its
        // entries over the time since are the rate the log can sequence.
        let mut last_end: Option<Instant> = None;
        loop {
            let Ok(first) = rx.recv() else {
                return;
            };
            let mut pool = Pool::new();
            let mut flushes = Vec::new();
            let mut leaves = Vec::new();
            let mut count = 0;
            let mut backlog_since = None;
            let mut limit = usize::MAX;
            let mut deadline = None;
            let mut cut = false;
            let mut next = Some(first);
            loop {
                if let Some(msg) = next.take() {
                    match msg {
                        Msg::Append(m, r) => {
                            let Some(member) = self.members.get(m).and_then(Option::as_ref) else {
                                let _ = r.reply.send(Err(LogError::NotSequencing));
                                continue;
                            };
                            if deadline.is_none() {
                                backlog_since = last_end.filter(|end| r.enqueued <= *end);
                                deadline = Some(r.enqueued + member.pool_max_delay);
                                limit = member.pool_max_entries;
                            }
                            count += r.entries.len();
                            pool.entry(m).or_default().push(r);
                        }
                        Msg::Join(m, member, reply) => {
                            let _ = reply.send(self.join(m, *member));
                        }
                        Msg::Flush(tx) => {
                            flushes.push(tx);
                            cut = true;
                        }
                        Msg::Leave(m, tx) => {
                            leaves.push((m, tx));
                            cut = true;
                        }
                    }
                }
                if cut || count >= limit {
                    break;
                }
                let now = Instant::now();
                next = match deadline {
                    // Nothing pooled yet (a join): wait for the first append.
                    None => match rx.recv() {
                        Ok(m) => Some(m),
                        Err(_) => break,
                    },
                    Some(d) if now >= d => match rx.try_recv() {
                        Ok(m) => Some(m),
                        Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                    },
                    Some(d) => match rx.recv_timeout(d - now) {
                        Ok(m) => Some(m),
                        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                    },
                };
                if next.is_none() {
                    break;
                }
            }
            if !pool.is_empty() {
                let counts = match self.round(pool) {
                    Ok(counts) => counts,
                    Err(e) => {
                        tracing::error!(error = %e, "sequencer stopped");
                        for m in self.members.iter().flatten() {
                            m.state.send_replace(LogState::Failed(e.to_string()));
                        }
                        // Pending requests in the channel are dropped with
                        // it: their callers see the log stop.
                        return;
                    }
                };
                let end = Instant::now();
                if let Some(since) = backlog_since {
                    let secs = end.duration_since(since).as_secs_f64();
                    for (m, n) in counts {
                        if let Some(member) = self.members.get(m).and_then(Option::as_ref)
                            && secs > 0.0
                        {
                            // Each log's share of the round over the time:
                            // the rate at which its own queue drains.
                            member.stats.record_service_rate((n as f64 / secs) as u64);
                        }
                    }
                }
                last_end = Some(end);
            }
            for f in flushes {
                let _ = f.send(());
            }
            for (m, tx) in leaves {
                if let Some(slot) = self.members.get_mut(m) {
                    *slot = None;
                }
                let _ = tx.send(());
            }
        }
    }

    fn join(&mut self, m: usize, member: Member) -> Result<(), String> {
        let Some(store) = self.group.member(m) else {
            return Err(format!("the commit group has no member {m}"));
        };
        if !Arc::ptr_eq(&store, &member.store) {
            return Err(format!(
                "member {m} of the commit group is not the log's store"
            ));
        }
        if self.members.len() <= m {
            self.members.resize_with(m + 1, || None);
        }
        if self.members[m].is_some() {
            return Err(format!(
                "member {m} of the commit group is already sequenced"
            ));
        }
        self.members[m] = Some(member);
        Ok(())
    }

    /// Sequences and commits one round; returns how many entries each
    /// member's callers got answered.
    fn round(&mut self, mut pool: Pool) -> Result<Vec<(usize, usize)>, LogError> {
        let started = Instant::now();
        let mut sequenced = Vec::with_capacity(pool.len());
        let mut failure = None;
        for (&m, reqs) in &pool {
            let Some(member) = self.members.get_mut(m).and_then(Option::as_mut) else {
                continue;
            };
            match member.sequence(reqs) {
                Ok((batch, results)) => sequenced.push((m, batch, results)),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let failure = failure.or_else(|| {
            let batches: Vec<(usize, &CommitBatch)> = sequenced
                .iter()
                .filter_map(|(m, b, _)| b.as_ref().map(|b| (*m, b)))
                .collect();
            if batches.is_empty() {
                return None;
            }
            self.group
                .commit_all(&batches)
                .err()
                .map(|error| LogError::Storage {
                    during: "commit failed",
                    error,
                })
        });
        if let Some(e) = failure {
            for req in pool.into_values().flatten() {
                let _ = req.reply.send(Err(LogError::RoundFailed {
                    cause: e.to_string(),
                }));
            }
            return Err(e);
        }
        let elapsed = started.elapsed();
        let mut counts = Vec::with_capacity(sequenced.len());
        for (m, batch, results) in sequenced {
            let (Some(member), Some(reqs)) = (
                self.members.get(m).and_then(Option::as_ref),
                pool.remove(&m),
            ) else {
                continue;
            };
            // The batch is durable: publish, then answer.
            if let Some(b) = &batch {
                member.committed.send_replace(b.new_head);
            }
            counts.push((m, results.iter().map(Vec::len).sum()));
            member.answer(reqs, results, elapsed);
        }
        Ok(counts)
    }
}

impl Member {
    /// Answers the requests of a committed round.
    fn answer(&self, reqs: Vec<Request>, results: Vec<Vec<Assigned>>, elapsed: Duration) {
        let mut entries = 0;
        for (req, res) in reqs.into_iter().zip(results) {
            entries += res.len();
            // Queue capacity goes back before the answer does, so a caller
            // that appends again as soon as it hears back is not refused for
            // room its own finished call still held.
            let Request {
                reply,
                _permits,
                enqueued,
                ..
            } = req;
            drop(_permits);
            self.stats.sequencing_latency.record(enqueued.elapsed());
            let _ = reply.send(Ok(res));
        }
        self.stats.round_duration.record(elapsed);
        self.stats.round_sizes.record(entries as u64);
        self.stats.rounds.fetch_add(1, Ordering::Relaxed);
        self.stats
            .round_entries
            .fetch_add(entries as u64, Ordering::Relaxed);
        self.stats
            .round_nanos
            .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Dedups and integrates this log's share of the pool; returns the
    /// batch to commit (`None` when every entry was a duplicate) and the
    /// per-request results, in pool order.
    #[allow(clippy::type_complexity)]
    fn sequence(
        &mut self,
        pool: &[Request],
    ) -> Result<(Option<CommitBatch>, Vec<Vec<Assigned>>), LogError> {
        let storage = |during: &'static str| move |error| LogError::Storage { during, error };
        // Distinct leaf hashes of the round, in first-seen order.
        let mut seen: HashMap<Hash, usize> = HashMap::new();
        let mut distinct: Vec<Hash> = Vec::new();
        for req in pool {
            for (_, h) in &req.entries {
                seen.entry(*h).or_insert_with(|| {
                    distinct.push(*h);
                    distinct.len() - 1
                });
            }
        }
        let existing = self
            .store
            .find_leaves(&distinct)
            .map_err(storage("dedup lookup failed"))?;

        // Slot of each distinct hash: an existing index, or a new position.
        let base = self.edge.size().get();
        let mut slot: Vec<Option<LeafIndex>> = existing;
        let mut new_entries = Vec::new();
        let mut first_new: Vec<bool> = vec![false; distinct.len()];
        for req in pool {
            for (entry, h) in &req.entries {
                let d = seen[h];
                if slot[d].is_none() {
                    let index = LeafIndex::new(base + new_entries.len() as u64)
                        .map_err(LogError::LogFull)?;
                    slot[d] = Some(index);
                    first_new[d] = true;
                    new_entries.push((entry.clone(), *h));
                }
            }
        }
        let mut results = Vec::with_capacity(pool.len());
        let mut claimed = vec![false; distinct.len()];
        for req in pool {
            let mut res = Vec::with_capacity(req.entries.len());
            for (_, h) in &req.entries {
                let d = seen[h];
                // INVARIANT: every distinct hash got a slot in the loop above.
                let Some(index) = slot[d] else {
                    unreachable!("every distinct leaf has a slot")
                };
                let duplicate = !first_new[d] || claimed[d];
                claimed[d] = true;
                res.push(Assigned { index, duplicate });
            }
            results.push(res);
        }
        let duplicates = pool.iter().map(|r| r.entries.len()).sum::<usize>() - new_entries.len();
        self.stats
            .duplicates
            .fetch_add(duplicates as u64, Ordering::Relaxed);

        if new_entries.is_empty() {
            return Ok((None, results));
        }
        let batch = integrate(&mut self.edge, new_entries).map_err(LogError::LogFull)?;
        Ok((Some(batch), results))
    }
}
