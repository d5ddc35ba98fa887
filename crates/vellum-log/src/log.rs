// size: being split (issue 11)
//! The log handle: admission, appends with their wait levels, and reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{Semaphore, oneshot, watch};
use vellum_merkle::{Hash, LeafIndex, TreeSize, leaf_hash};
use vellum_note::VerifierKey;
use vellum_store::{LogStore, StoreError, TreeHead};

use crate::config::LogConfig;
use crate::error::{LogError, StartupError};
use crate::publisher::{Published, Publisher};
use crate::sequencer::{Assigned, Msg, Request, Sequencer};
use crate::signer::Signer;
use crate::witnessing::{WitnessTask, Witnessing, meets_policy};
use crate::{reader, startup};

/// Appends of at most this many entries read their inclusion proofs on the
/// calling task rather than the blocking pool.
const INLINE_PROOFS: usize = 16;

/// How long shutdown waits for the final checkpoint.
const SHUTDOWN_SIGNING: std::time::Duration = std::time::Duration::from_secs(10);

/// How long an append waits before answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Wait {
    /// Until the entries are sequenced and synced.
    #[default]
    Durable,
    /// Until a signed checkpoint covers them; the answer carries proofs.
    Checkpoint,
    /// Until a checkpoint meeting the witness policy covers them.
    Witnessed,
}

/// The answer to an append.
#[derive(Clone, Debug)]
pub struct Appended {
    /// One per entry, in order.
    pub results: Vec<Assigned>,
    /// With a checkpoint wait: the checkpoint, and each entry's inclusion
    /// proof against it (in the order of `results`).
    pub proofs: Option<(Published, Vec<Vec<Hash>>)>,
}

/// Whether the log is serving.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogState {
    /// Accepting appends.
    Running,
    /// Draining for shutdown: no new appends.
    Stopping,
    /// Stopped by a fatal error; restart the process.
    Failed(String),
}

/// Counters, for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct Stats {
    /// Rounds committed.
    pub rounds: AtomicU64,
    /// Entries answered by rounds (duplicates included).
    pub round_entries: AtomicU64,
    /// Time spent in rounds.
    pub round_nanos: AtomicU64,
    /// Entries that were already in the log.
    pub duplicates: AtomicU64,
    /// Appends refused for lack of queue space.
    pub pushbacks: AtomicU64,
    /// Append calls handed to the sequencer.
    pub accepted: AtomicU64,
    /// Entries per second the sequencer gets through while it has a
    /// backlog (a moving average over such rounds; 0 until the first).
    pub service_rate: AtomicU64,
    /// Time from an append call's acceptance into the queue to its answer
    /// by the round that sequenced it (queue wait plus the round): the
    /// log's share of an append's latency, without the network and RPC
    /// layers in front of it.
    pub sequencing_latency: crate::latency::LatencyHistogram,
}

impl Stats {
    /// Folds the rate of one backlogged round into
    /// [`Stats::service_rate`]: a quarter of the new sample, so that one odd
    /// round (a compaction stall) moves the estimate but does not set it.
    pub(crate) fn record_service_rate(&self, per_sec: u64) {
        let old = self.service_rate.load(Ordering::Relaxed);
        let new = if old == 0 {
            per_sec
        } else {
            (old * 3 + per_sec) / 4
        };
        self.service_rate.store(new.max(1), Ordering::Relaxed);
    }
}

/// A running log. Cheap to clone; all clones share the same log.
#[derive(Clone)]
pub struct Log {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("origin", &self.inner.config.origin)
            .field("committed", &*self.inner.committed.borrow())
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: LogConfig,
    store: Arc<dyn LogStore>,
    tx: RwLock<Option<mpsc::Sender<Msg>>>,
    entry_slots: Arc<Semaphore>,
    byte_slots: Arc<Semaphore>,
    committed: watch::Receiver<TreeHead>,
    /// Checkpoints as the log signs them.
    signed: watch::Receiver<Option<Published>>,
    /// What is served: the signed checkpoints, or (with witnesses) those
    /// that met the policy, or were allowed below it.
    published: watch::Receiver<Option<Published>>,
    /// Checkpoints that met the witness policy (`None` without witnesses).
    witnessed: Option<watch::Receiver<Option<Published>>>,
    state: watch::Sender<LogState>,
    workers: Mutex<Workers>,
    stats: Arc<Stats>,
}

#[derive(Default)]
struct Workers {
    sequencer: Option<std::thread::JoinHandle<()>>,
    publisher: Option<tokio::task::JoinHandle<()>>,
    witnessing: Option<tokio::task::JoinHandle<()>>,
}

fn store_err(e: StoreError) -> LogError {
    match e {
        StoreError::NotFound(m) => LogError::NotFound(m),
        e => LogError::Internal(e.to_string()),
    }
}

impl Log {
    /// Loads the log from `store`, checks it against the signed history (see
    /// the `startup` module) and starts sequencing, without witnesses. Must
    /// be called within a tokio runtime.
    ///
    /// # Errors
    ///
    /// A [`StartupError`] naming why the log must not run.
    pub async fn open(
        store: Arc<dyn LogStore>,
        signer: Arc<dyn Signer>,
        log_key: VerifierKey,
        config: LogConfig,
    ) -> Result<Log, StartupError> {
        Log::open_witnessed(store, signer, log_key, config, None).await
    }

    /// As [`Log::open`], with witnesses cosigning every checkpoint.
    ///
    /// # Errors
    ///
    /// A [`StartupError`] naming why the log must not run.
    pub async fn open_witnessed(
        store: Arc<dyn LogStore>,
        signer: Arc<dyn Signer>,
        log_key: VerifierKey,
        config: LogConfig,
        witnessing: Option<Witnessing>,
    ) -> Result<Log, StartupError> {
        config.validate().map_err(StartupError::Config)?;
        if log_key.name() != config.origin {
            return Err(StartupError::Config(format!(
                "the log key is named {:?} but the origin is {:?}; they must be the same",
                log_key.name(),
                config.origin
            )));
        }
        if let Some(w) = &witnessing
            && !w.policy.logs().iter().any(|l| l.key() == &log_key)
        {
            return Err(StartupError::Config(
                "the witness policy does not list this log's key".into(),
            ));
        }
        let rec = startup::recover(&store, &*signer, &log_key).await?;
        tracing::info!(
            size = rec.head.size.get(),
            root = %rec.head.root,
            checkpoint = rec.published.as_ref().map(|p| p.size.get()),
            "log loaded and verified"
        );
        let (committed_tx, committed_rx) = watch::channel(rec.head);
        let (signed_tx, signed_rx) = watch::channel(rec.published.clone());
        let (state_tx, _) = watch::channel(LogState::Running);
        let stats = Arc::new(Stats::default());
        let (tx, rx) = mpsc::channel();

        let sequencer = Sequencer {
            store: store.clone(),
            edge: rec.edge,
            pool_max_entries: config.pool_max_entries,
            pool_max_delay: config.pool_max_delay,
            committed: committed_tx,
            state: state_tx.clone(),
            stats: stats.clone(),
        };
        let seq_thread = std::thread::Builder::new()
            .name("vellum-sequencer".into())
            .spawn(move || sequencer.run(rx))
            .map_err(|e| StartupError::Config(format!("cannot start the sequencer thread: {e}")))?;
        let publisher = Publisher {
            store: store.clone(),
            signer,
            log_key,
            origin: config.origin.clone(),
            committed: committed_rx.clone(),
            signed_tx,
            state: state_tx.clone(),
            signed_size: rec.signed,
            retry: config.signer_retry,
        };
        let pub_task = tokio::spawn(publisher.run());

        let (published, witnessed, witness_task) = match witnessing {
            None => (signed_rx.clone(), None, None),
            Some(cfg) => {
                // A stored checkpoint that already meets the policy is
                // witnessed; otherwise the first round decides.
                let met = rec
                    .published
                    .clone()
                    .filter(|p| meets_policy(&cfg.policy, &p.note));
                let initial = if cfg.publish_below_policy {
                    rec.published.clone()
                } else {
                    met.clone()
                };
                let (published_tx, published_rx) = watch::channel(initial);
                let (witnessed_tx, witnessed_rx) = watch::channel(met);
                let task = WitnessTask {
                    store: store.clone(),
                    known: cfg.witnesses.iter().map(|_| AtomicU64::new(0)).collect(),
                    cfg,
                    signed: signed_rx.clone(),
                    witnessed: witnessed_tx,
                    published: published_tx,
                    state: state_tx.clone(),
                };
                (
                    published_rx,
                    Some(witnessed_rx),
                    Some(tokio::spawn(task.run())),
                )
            }
        };

        Ok(Log {
            inner: Arc::new(Inner {
                entry_slots: Arc::new(Semaphore::new(config.queue_max_entries)),
                byte_slots: Arc::new(Semaphore::new(config.queue_max_bytes)),
                config,
                store,
                tx: RwLock::new(Some(tx)),
                committed: committed_rx,
                signed: signed_rx,
                published,
                witnessed,
                state: state_tx,
                workers: Mutex::new(Workers {
                    sequencer: Some(seq_thread),
                    publisher: Some(pub_task),
                    witnessing: witness_task,
                }),
                stats,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LogConfig {
        &self.inner.config
    }

    /// Appends `entries` and waits as asked.
    ///
    /// # Errors
    ///
    /// [`LogError::InvalidArgument`] for bad input (nothing queued),
    /// [`LogError::ResourceExhausted`] when the queue is full (nothing
    /// queued), [`LogError::Unavailable`] when the log is stopping or failed,
    /// [`LogError::DeadlineExceeded`] when a checkpoint wait times out (the
    /// entries are sequenced), [`LogError::FailedPrecondition`] for a witness
    /// wait without witnesses.
    pub async fn append(&self, entries: Vec<Bytes>, wait: Wait) -> Result<Appended, LogError> {
        let cfg = &self.inner.config;
        self.check_running()?;
        if entries.is_empty() {
            return Err(LogError::InvalidArgument(
                "an append needs at least one entry".into(),
            ));
        }
        if entries.len() > cfg.max_entries_per_call {
            return Err(LogError::InvalidArgument(format!(
                "{} entries in one call; the limit is {}",
                entries.len(),
                cfg.max_entries_per_call
            )));
        }
        if let Some((i, e)) = entries
            .iter()
            .enumerate()
            .find(|(_, e)| e.len() > cfg.max_entry_size)
        {
            return Err(LogError::InvalidArgument(format!(
                "entry {i} is {} bytes; the limit is {} bytes",
                e.len(),
                cfg.max_entry_size
            )));
        }
        if wait == Wait::Witnessed && self.inner.witnessed.is_none() {
            return Err(LogError::FailedPrecondition(
                "this log has no witnesses configured; wait for a checkpoint instead".into(),
            ));
        }
        let bytes: usize = entries.iter().map(Bytes::len).sum();
        let pushback = |what: &str| {
            self.inner.stats.pushbacks.fetch_add(1, Ordering::Relaxed);
            LogError::ResourceExhausted(format!(
                "the log's queue is full ({what}); nothing was queued, retry later"
            ))
        };
        self.within_queue_delay(entries.len())
            .map_err(|why| pushback(&why))?;
        // INVARIANT: the config validated entries per call <= queue length,
        // so a single call can always fit an empty queue.
        let entry_permit = self
            .inner
            .entry_slots
            .clone()
            .try_acquire_many_owned(entries.len() as u32)
            .map_err(|_| pushback(&format!("{} entries waiting", cfg.queue_max_entries)))?;
        let byte_permit = self
            .inner
            .byte_slots
            .clone()
            .try_acquire_many_owned(bytes.max(1).min(u32::MAX as usize) as u32)
            .map_err(|_| pushback(&format!("{} bytes waiting", cfg.queue_max_bytes)))?;

        let hashed: Vec<(Bytes, Hash)> = entries
            .into_iter()
            .map(|e| {
                let h = leaf_hash(&e);
                (e, h)
            })
            .collect();
        let (reply, answer) = oneshot::channel();
        let req = Request {
            entries: hashed,
            reply,
            enqueued: Instant::now(),
            _permits: (entry_permit, byte_permit),
        };
        self.send(Msg::Append(req))?;
        self.inner.stats.accepted.fetch_add(1, Ordering::Relaxed);
        let results = answer.await.map_err(|_| {
            LogError::Unavailable(
                "the log stopped before answering; whether the entries were stored is unknown: \
                 retry (duplicates are detected)"
                    .into(),
            )
        })??;
        if wait == Wait::Durable {
            return Ok(Appended {
                results,
                proofs: None,
            });
        }
        let needed = results.iter().map(|a| a.index.get()).max().unwrap_or(0) + 1;
        let checkpoint = self.wait_for_checkpoint(wait, needed, &results).await?;
        let indices: Vec<LeafIndex> = results.iter().map(|a| a.index).collect();
        let store = self.inner.store.clone();
        let size = checkpoint.size;
        // A few proofs are read in place, as the read calls do: their nodes
        // are recent (memtable or cache) and the read takes microseconds,
        // less than handing it to the blocking pool (a thread switch each
        // way, which a profile at 10k appends/s showed as a top cost).
        // Large calls read on the blocking pool.
        let proofs = if indices.len() <= INLINE_PROOFS {
            reader::inclusion_many(&*store, &indices, size).map_err(store_err)?
        } else {
            tokio::task::spawn_blocking(move || reader::inclusion_many(&*store, &indices, size))
                .await
                .map_err(|e| LogError::Internal(e.to_string()))?
                .map_err(store_err)?
        };
        Ok(Appended {
            results,
            proofs: Some((checkpoint, proofs)),
        })
    }

    async fn wait_for_checkpoint(
        &self,
        wait: Wait,
        needed: u64,
        results: &[Assigned],
    ) -> Result<Published, LogError> {
        let mut published = match (wait, &self.inner.witnessed) {
            (Wait::Witnessed, Some(w)) => w.clone(),
            _ => self.inner.signed.clone(),
        };
        let mut state = self.inner.state.subscribe();
        let timeout = self.inner.config.checkpoint_wait_timeout;
        let covered = async {
            // Biased: a checkpoint that covers the entries is the answer
            // even if the log fails right after publishing it (e.g. while
            // storing a witness cosignature); it is signed and stored, so
            // its proofs hold. Unbiased, the two ready branches raced.
            tokio::select! {
                biased;
                r = published.wait_for(|p| p.as_ref().is_some_and(|p| p.size.get() >= needed)) => {
                    r.ok().and_then(|p| p.clone())
                }
                _ = state.wait_for(|s| matches!(s, LogState::Failed(_))) => None,
            }
        };
        match tokio::time::timeout(timeout, covered).await {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Err(LogError::Unavailable(format!(
                "the log stopped before a checkpoint covered the entries (sequenced at {})",
                describe(results)
            ))),
            Err(_) => Err(LogError::DeadlineExceeded(format!(
                "no checkpoint covered the entries within {timeout:?}; they are sequenced at {} \
                 and durable; ask for their proofs later",
                describe(results)
            ))),
        }
    }

    fn check_running(&self) -> Result<(), LogError> {
        match &*self.inner.state.borrow() {
            LogState::Running => Ok(()),
            LogState::Stopping => Err(LogError::Unavailable("the log is shutting down".into())),
            LogState::Failed(m) => Err(LogError::Unavailable(format!("the log has stopped: {m}"))),
        }
    }

    fn send(&self, msg: Msg) -> Result<(), LogError> {
        let tx = self.inner.tx.read().unwrap_or_else(|e| e.into_inner());
        match tx.as_ref() {
            Some(tx) if tx.send(msg).is_ok() => Ok(()),
            _ => Err(LogError::Unavailable("the log is not sequencing".into())),
        }
    }

    /// Cuts a round now with whatever is pooled and waits until it is
    /// committed (tests use it instead of sleeping through the pool delay).
    ///
    /// # Errors
    ///
    /// [`LogError::Unavailable`] when the log is not sequencing.
    pub async fn flush(&self) -> Result<(), LogError> {
        let (tx, rx) = oneshot::channel();
        self.send(Msg::Flush(tx))?;
        rx.await
            .map_err(|_| LogError::Unavailable("the log stopped".into()))
    }

    /// Stops accepting appends, sequences everything already queued, signs
    /// a final checkpoint, and stops. Acknowledged entries are durable
    /// whether or not this runs; it only lets queued ones finish.
    pub async fn shutdown(&self) {
        self.inner.state.send_if_modified(|s| {
            if *s == LogState::Running {
                *s = LogState::Stopping;
                true
            } else {
                false
            }
        });
        // Dropping the sender lets the sequencer drain the channel and exit.
        self.inner
            .tx
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let workers =
            std::mem::take(&mut *self.inner.workers.lock().unwrap_or_else(|e| e.into_inner()));
        if let Some(t) = workers.sequencer {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        if let Some(mut p) = workers.publisher {
            // The final checkpoint needs the signer; if it is down, queued
            // entries are durable anyway and will be signed after restart.
            if tokio::time::timeout(SHUTDOWN_SIGNING, &mut p)
                .await
                .is_err()
            {
                tracing::warn!(
                    "shutting down without a final checkpoint: the signer did not answer"
                );
                p.abort();
            }
        }
        // Witness rounds for the final checkpoint are best effort: a witness
        // that is down must not hold up shutdown.
        if let Some(w) = workers.witnessing {
            w.abort();
        }
    }

    /// The state, to watch for failure.
    pub fn state(&self) -> watch::Receiver<LogState> {
        self.inner.state.subscribe()
    }

    /// The tree head of the last committed round (not yet signed, perhaps).
    pub fn committed(&self) -> TreeHead {
        *self.inner.committed.borrow()
    }

    /// The latest published checkpoint.
    pub fn published(&self) -> Option<Published> {
        self.inner.published.borrow().clone()
    }

    /// The latest checkpoint that met the witness policy (`None` without
    /// witnesses or before the first).
    pub fn witnessed(&self) -> Option<Published> {
        self.inner
            .witnessed
            .as_ref()
            .and_then(|w| w.borrow().clone())
    }

    /// A receiver that sees every newly published checkpoint.
    pub fn subscribe_published(&self) -> watch::Receiver<Option<Published>> {
        self.inner.published.clone()
    }

    /// How many queued entries are allowed by the queue-delay limit: what
    /// the log sequences in `max_queue_delay` at its measured backlog rate,
    /// and never less than one full call (so any valid call fits an empty
    /// queue). `None` while there is no measurement or the limit is off.
    pub fn admission_limit(&self) -> Option<usize> {
        let delay = self.inner.config.max_queue_delay;
        let rate = self.inner.stats.service_rate.load(Ordering::Relaxed);
        if delay.is_zero() || rate == 0 {
            return None;
        }
        let by_delay = (rate as f64 * delay.as_secs_f64()) as usize;
        Some(by_delay.max(self.inner.config.max_entries_per_call))
    }

    /// Whether an append of even one entry would be refused for lack of
    /// room right now. The server asks before it decodes an append, so that
    /// a flood is refused without the cost of reading it; a call that gets
    /// past this is still checked exactly by [`Log::append`]. Counts the
    /// refusal as a pushback when it says yes.
    pub fn refuse_early(&self) -> bool {
        let full =
            self.inner.entry_slots.available_permits() == 0 || self.within_queue_delay(1).is_err();
        if full {
            self.inner.stats.pushbacks.fetch_add(1, Ordering::Relaxed);
        }
        full
    }

    /// Whether `n` more entries fit the queue-delay limit; if not, why.
    fn within_queue_delay(&self, n: usize) -> Result<(), String> {
        let Some(limit) = self.admission_limit() else {
            return Ok(());
        };
        let queued = self.queued_entries();
        if queued + n <= limit {
            return Ok(());
        }
        let rate = self.inner.stats.service_rate.load(Ordering::Relaxed).max(1);
        Err(format!(
            "{queued} entries waiting, about {} ms of work at the {rate} entries/s the log \
             sequences; the limit is {} ms",
            queued as u64 * 1000 / rate,
            self.inner.config.max_queue_delay.as_millis()
        ))
    }

    /// Entries accepted and not yet sequenced (the queue depth).
    pub fn queued_entries(&self) -> usize {
        self.inner.config.queue_max_entries - self.inner.entry_slots.available_permits()
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// The store, for readers that serve tiles.
    pub fn store(&self) -> &Arc<dyn LogStore> {
        &self.inner.store
    }

    /// Resolves a requested tree size: 0 means the latest checkpoint (which
    /// is returned too); anything else must not exceed the committed tree.
    ///
    /// # Errors
    ///
    /// [`LogError::FailedPrecondition`] when 0 is asked before any checkpoint,
    /// [`LogError::NotFound`] for a size beyond the tree.
    pub fn resolve_size(&self, size: u64) -> Result<(TreeSize, Option<Published>), LogError> {
        if size == 0 {
            let p = self.published().ok_or_else(|| {
                LogError::FailedPrecondition("the log has not signed a checkpoint yet".into())
            })?;
            return Ok((p.size, Some(p)));
        }
        let committed = self.committed().size;
        if size > committed.get() {
            return Err(LogError::NotFound(format!(
                "tree size {size} is beyond the log's {committed} entries"
            )));
        }
        // INVARIANT: size <= committed <= MAX_TREE_SIZE.
        let s = TreeSize::new(size).map_err(|e| LogError::InvalidArgument(e.to_string()))?;
        Ok((s, None))
    }

    /// The inclusion proof of `index` at `size` (0: the latest checkpoint).
    ///
    /// # Errors
    ///
    /// [`LogError::NotFound`] for an index not in the tree of that size.
    pub fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<(TreeSize, Vec<Hash>, Option<Published>), LogError> {
        let (size, cp) = self.resolve_size(size)?;
        if index >= size.get() {
            return Err(LogError::NotFound(format!(
                "index {index} is not in the tree of size {size}"
            )));
        }
        let index = LeafIndex::new(index).map_err(|e| LogError::InvalidArgument(e.to_string()))?;
        let proof = reader::inclusion(&*self.inner.store, index, size).map_err(store_err)?;
        Ok((size, proof, cp))
    }

    /// The checkpoint signed for exactly `size`, as stored (with whatever
    /// cosignatures it gathered), if the log signed one.
    ///
    /// # Errors
    ///
    /// A storage failure, or an out-of-range size.
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<Bytes>, LogError> {
        let size = TreeSize::new(size).map_err(|e| LogError::InvalidArgument(e.to_string()))?;
        self.inner.store.checkpoint_at(size).map_err(store_err)
    }

    /// The index of a leaf hash, if the log holds it.
    ///
    /// # Errors
    ///
    /// A storage failure.
    pub fn find_leaf(&self, leaf: &Hash) -> Result<Option<LeafIndex>, LogError> {
        let found = self
            .inner
            .store
            .find_leaves(std::slice::from_ref(leaf))
            .map_err(store_err)?;
        Ok(found.into_iter().next().flatten())
    }

    /// The consistency proof from `from` to `to` (0: the latest checkpoint).
    ///
    /// # Errors
    ///
    /// [`LogError::InvalidArgument`] when `from > to`, [`LogError::NotFound`]
    /// for sizes beyond the tree.
    pub fn consistency_proof(
        &self,
        from: u64,
        to: u64,
    ) -> Result<(TreeSize, TreeSize, Vec<Hash>, Option<Published>), LogError> {
        let (to, cp) = self.resolve_size(to)?;
        if from > to.get() {
            return Err(LogError::InvalidArgument(format!(
                "from size {from} is larger than to size {to}"
            )));
        }
        let from = TreeSize::new(from).map_err(|e| LogError::InvalidArgument(e.to_string()))?;
        let proof = reader::consistency(&*self.inner.store, from, to).map_err(store_err)?;
        Ok((from, to, proof, cp))
    }

    /// Up to `count` entries from `start` (bounded by the page limit and the
    /// end of the committed tree).
    ///
    /// # Errors
    ///
    /// [`LogError::NotFound`] when `start` is at or beyond the tree size.
    pub async fn entries(&self, start: u64, count: u64) -> Result<Vec<Bytes>, LogError> {
        let size = self.committed().size.get();
        if start >= size {
            return Err(LogError::NotFound(format!(
                "entry {start} is beyond the log's {size} entries"
            )));
        }
        if count == 0 {
            return Err(LogError::InvalidArgument("count must be at least 1".into()));
        }
        let count = count
            .min(self.inner.config.max_page as u64)
            .min(size - start);
        let start = LeafIndex::new(start).map_err(|e| LogError::InvalidArgument(e.to_string()))?;
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || store.read_entries(start, count))
            .await
            .map_err(|e| LogError::Internal(e.to_string()))?
            .map_err(store_err)
    }
}

fn describe(results: &[Assigned]) -> String {
    match (results.first(), results.last()) {
        (Some(a), Some(b)) if results.len() > 1 => format!("indices {}..={}", a.index, b.index),
        (Some(a), _) => format!("index {}", a.index),
        _ => "no index".into(),
    }
}
