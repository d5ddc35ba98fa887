//! The sequencer: one thread that turns pooled append requests into
//! committed rounds.
//!
//! Commit order of a round, and what a crash at each step leaves:
//!
//! 1. dedup lookup (reads only): nothing.
//! 2. integrate into the in-memory edge: nothing durable; the edge is
//!    rebuilt from storage at start-up.
//! 3. `store.commit` (one atomic, synced batch): before it returns, the
//!    round is either wholly stored or absent; no caller has an answer yet.
//! 4. publish the new head to the checkpoint publisher, then answer each
//!    caller: only now does anyone learn an index, and it is durable.
//!
//! Any error in 1 or 3 is fatal: the store's state may be unknown, so the
//! thread answers every pooled request with an error and stops. The process
//! reloads through the normal start-up path; there is no second recovery
//! path.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, oneshot, watch};
use vellum_merkle::{CompactRange, Hash, LeafIndex};
use vellum_store::{LogStore, TreeHead};

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

pub(crate) enum Msg {
    Append(Request),
    /// Cut a round now with whatever is pooled; answer when it is committed.
    Flush(oneshot::Sender<()>),
}

pub(crate) struct Sequencer {
    pub store: Arc<dyn LogStore>,
    pub edge: CompactRange,
    pub pool_max_entries: usize,
    pub pool_max_delay: Duration,
    pub committed: watch::Sender<TreeHead>,
    pub state: watch::Sender<LogState>,
    pub stats: Arc<Stats>,
}

impl Sequencer {
    /// Runs until every sender is gone (shutdown: whatever was queued is
    /// sequenced first) or a fatal error.
    pub fn run(mut self, rx: Receiver<Msg>) {
        // When the previous round ended: a round whose first request was
        // already waiting then ran back to back with it (a backlog), and its
        // entries over the time since are the rate the log can sequence.
        let mut last_end: Option<Instant> = None;
        loop {
            let Ok(first) = rx.recv() else {
                return;
            };
            let mut pool = Vec::new();
            let mut flushes = Vec::new();
            let mut count = 0;
            let mut backlog_since = None;
            let deadline = match first {
                Msg::Append(r) => {
                    backlog_since = last_end.filter(|end| r.enqueued <= *end);
                    count += r.entries.len();
                    let d = r.enqueued + self.pool_max_delay;
                    pool.push(r);
                    d
                }
                Msg::Flush(tx) => {
                    flushes.push(tx);
                    Instant::now()
                }
            };
            while count < self.pool_max_entries && flushes.is_empty() {
                let now = Instant::now();
                let next = if now >= deadline {
                    match rx.try_recv() {
                        Ok(m) => m,
                        Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                    }
                } else {
                    match rx.recv_timeout(deadline - now) {
                        Ok(m) => m,
                        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                    }
                };
                match next {
                    Msg::Append(r) => {
                        count += r.entries.len();
                        pool.push(r);
                    }
                    Msg::Flush(tx) => flushes.push(tx),
                }
            }
            if !pool.is_empty() {
                if let Err(e) = self.round(pool) {
                    tracing::error!(error = %e, "sequencer stopped");
                    self.state.send_replace(LogState::Failed(e.to_string()));
                    // Pending requests in the channel are dropped with it:
                    // their callers see the log stop.
                    return;
                }
                let end = Instant::now();
                if let Some(since) = backlog_since {
                    let secs = end.duration_since(since).as_secs_f64();
                    if secs > 0.0 {
                        self.stats.record_service_rate((count as f64 / secs) as u64);
                    }
                }
                last_end = Some(end);
            }
            for f in flushes {
                let _ = f.send(());
            }
        }
    }

    fn round(&mut self, pool: Vec<Request>) -> Result<(), LogError> {
        let started = Instant::now();
        match self.sequence(&pool) {
            Ok((head, results)) => {
                // The batch is durable: publish, then answer.
                self.committed.send_replace(head);
                let mut entries = 0;
                for (req, res) in pool.into_iter().zip(results) {
                    entries += res.len();
                    // Queue capacity goes back before the answer does, so a
                    // caller that appends again as soon as it hears back is
                    // not refused for room its own finished call still held.
                    let Request {
                        reply,
                        _permits,
                        enqueued: req_enqueued,
                        ..
                    } = req;
                    drop(_permits);
                    self.stats.sequencing_latency.record(req_enqueued.elapsed());
                    let _ = reply.send(Ok(res));
                }
                self.stats.rounds.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .round_entries
                    .fetch_add(entries as u64, Ordering::Relaxed);
                self.stats
                    .round_nanos
                    .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                for req in pool {
                    let _ = req.reply.send(Err(LogError::RoundFailed {
                        cause: e.to_string(),
                    }));
                }
                Err(e)
            }
        }
    }

    /// Dedups, integrates and commits the pool; returns the new head and the
    /// per-request results, in pool order.
    #[allow(clippy::type_complexity)]
    fn sequence(&mut self, pool: &[Request]) -> Result<(TreeHead, Vec<Vec<Assigned>>), LogError> {
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
            return Ok((*self.committed.borrow(), results));
        }
        let batch = integrate(&mut self.edge, new_entries).map_err(LogError::LogFull)?;
        let head = batch.new_head;
        self.store
            .commit(&batch)
            .map_err(storage("commit failed"))?;
        Ok((head, results))
    }
}
