//! The log handle: how it is opened ([`LogBuilder`]), what it holds, its
//! state, and how it stops. Appends are in `append`, admission in
//! `admission`, reads in `reads`.

use std::sync::atomic::AtomicU64;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::{Semaphore, watch};
use vellum_note::VerifierKey;
use vellum_store::{LogStore, TreeHead};

use crate::config::LogConfig;
use crate::error::{LogError, StartupError};
use crate::publisher::{Published, Publisher};
use crate::self_audit::{self, SelfAuditStatus};
use crate::sequencer::{Member, Msg, Sequencing};
use crate::signer::Signer;
use crate::startup;
use crate::stats::Stats;
use crate::witnessing::{WitnessTask, Witnessing, meets_policy};

/// How long shutdown waits for the final checkpoint.
const SHUTDOWN_SIGNING: std::time::Duration = std::time::Duration::from_secs(10);

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

/// A running log. Cheap to clone; all clones share the same log.
#[derive(Clone)]
pub struct Log {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("origin", &self.inner.config.origin)
            .field("committed", &*self.inner.committed.borrow())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) config: LogConfig,
    pub(crate) store: Arc<dyn LogStore>,
    pub(crate) tx: RwLock<Option<mpsc::Sender<Msg>>>,
    pub(crate) entry_slots: Arc<Semaphore>,
    pub(crate) byte_slots: Arc<Semaphore>,
    pub(crate) committed: watch::Receiver<TreeHead>,
    /// Checkpoints as the log signs them.
    pub(crate) signed: watch::Receiver<Option<Published>>,
    /// What is served: the signed checkpoints, or (with witnesses) those
    /// that met the policy, or were allowed below it.
    pub(crate) published: watch::Receiver<Option<Published>>,
    /// Checkpoints that met the witness policy (`None` without witnesses).
    pub(crate) witnessed: Option<watch::Receiver<Option<Published>>>,
    pub(crate) state: watch::Sender<LogState>,
    /// The thread that sequences this log, and this log's member number in
    /// its commit group.
    sequencing: Sequencing,
    pub(crate) member: usize,
    /// Whether the thread is this log's alone (stopped with it).
    owns_sequencing: bool,
    workers: Mutex<Workers>,
    pub(crate) stats: Arc<Stats>,
    /// The self-audit's progress (`enabled: false` when it does not run).
    pub(crate) self_audit: watch::Sender<SelfAuditStatus>,
    /// Set at shutdown: the self-audit saves its progress and ends.
    audit_stop: watch::Sender<bool>,
}

#[derive(Default)]
struct Workers {
    publisher: Option<tokio::task::JoinHandle<()>>,
    witnessing: Option<tokio::task::JoinHandle<()>>,
    self_audit: Option<tokio::task::JoinHandle<()>>,
}

/// Opens a [`Log`]: `Log::builder(store, signer, log_key)`, then optionally
/// [`config`](LogBuilder::config) and [`witnessing`](LogBuilder::witnessing),
/// then [`open`](LogBuilder::open).
#[must_use = "a builder does nothing until `open` is called"]
pub struct LogBuilder {
    store: Arc<dyn LogStore>,
    signer: Arc<dyn Signer>,
    log_key: VerifierKey,
    config: LogConfig,
    witnessing: Option<Witnessing>,
    sequencing: Option<(Sequencing, usize)>,
}

impl std::fmt::Debug for LogBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogBuilder")
            .field("log_key", &self.log_key.name())
            .field("config", &self.config)
            .field("witnessing", &self.witnessing)
            .finish_non_exhaustive()
    }
}

impl LogBuilder {
    /// The log's limits (default: [`LogConfig::new`] for the key's name).
    pub fn config(mut self, config: LogConfig) -> LogBuilder {
        self.config = config;
        self
    }

    /// Witnesses cosigning every checkpoint (default: none). Takes a
    /// [`Witnessing`] or an `Option` of one.
    pub fn witnessing(mut self, witnessing: impl Into<Option<Witnessing>>) -> LogBuilder {
        self.witnessing = witnessing.into();
        self
    }

    /// Sequences this log on `sequencing`'s thread, in rounds shared with
    /// the other logs of its commit group, as member `member` (whose store
    /// must be this log's). Default: a thread of its own.
    pub fn sequencing(mut self, sequencing: &Sequencing, member: usize) -> LogBuilder {
        self.sequencing = Some((sequencing.clone(), member));
        self
    }

    /// Loads the log from the store, checks it against the signed history
    /// (see the `startup` module) and starts sequencing. Must be called
    /// within a tokio runtime.
    ///
    /// # Errors
    ///
    /// A [`StartupError`] naming why the log must not run.
    pub async fn open(self) -> Result<Log, StartupError> {
        let LogBuilder {
            store,
            signer,
            log_key,
            config,
            witnessing,
            sequencing,
        } = self;
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
        // Before anything new is signed: a witness that remembers a larger
        // tree means the data (and the signer's memory) went back in time.
        if let (Some(w), Some(p)) = (&witnessing, &rec.published) {
            crate::memory::check_witnesses(w, &p.note, p.size).await?;
        }
        // Also before anything is signed: a finding the self-audit saved
        // before the restart is checked again.
        let audit = if config.self_audit.is_on() {
            let signed = rec.published.as_ref().map(|p| p.size.get());
            Some(self_audit::prepare(&store, &log_key, &config.self_audit, rec.head, signed).await?)
        } else {
            None
        };
        tracing::info!(
            size = rec.head.size.get(),
            root = %rec.head.root,
            checkpoint = rec.published.as_ref().map(|p| p.size.get()),
            "log loaded and verified"
        );
        let (committed_tx, committed_rx) = watch::channel(rec.head);
        let (signed_tx, signed_rx) = watch::channel(rec.published.clone());
        let (state_tx, _) = watch::channel(LogState::Running);
        let stats = Arc::new(Stats::with_witnesses(
            witnessing
                .iter()
                .flat_map(|w| w.witnesses.iter().map(|w| w.name())),
        ));
        let (sequencing, member, owns_sequencing) = match sequencing {
            Some((s, m)) => (s, m, false),
            None => {
                let group = vellum_store::EachStore(vec![store.clone()]);
                let s = Sequencing::start(Arc::new(group)).map_err(|e| {
                    StartupError::Config(format!("cannot start the sequencer thread: {e}"))
                })?;
                (s, 0, true)
            }
        };
        let tx = sequencing.sender().ok_or_else(|| {
            StartupError::Config("the sequencing thread has been shut down".into())
        })?;
        if owns_sequencing {
            // Only this log's sender keeps its thread alive: dropping the log
            // without a shutdown stops the thread too.
            sequencing.close();
        }
        let (joined_tx, joined) = tokio::sync::oneshot::channel();
        let joining = Member {
            store: store.clone(),
            edge: rec.edge,
            pool_max_entries: config.pool_max_entries,
            pool_max_delay: config.pool_max_delay,
            committed: committed_tx,
            state: state_tx.clone(),
            stats: stats.clone(),
        };
        let stopped = || StartupError::Config("the sequencing thread has stopped".into());
        tx.send(Msg::Join(member, Box::new(joining), joined_tx))
            .map_err(|_| stopped())?;
        joined
            .await
            .map_err(|_| stopped())?
            .map_err(StartupError::Config)?;
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
            interval: config.checkpoint_interval,
            stats: stats.clone(),
        };
        let pub_task = tokio::spawn(publisher.run());

        let (audit_tx, _) = watch::channel(
            audit
                .as_ref()
                .map(self_audit::Prepared::status)
                .unwrap_or_default(),
        );
        let (audit_stop, audit_stopped) = watch::channel(false);
        let audit_task = audit.map(|prepared| {
            let task = self_audit::Task::new(
                prepared,
                committed_rx.clone(),
                signed_rx.clone(),
                state_tx.clone(),
                audit_tx.clone(),
                audit_stopped,
            );
            tokio::spawn(task.run())
        });

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
                    stats: stats.clone(),
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
                sequencing,
                member,
                owns_sequencing,
                workers: Mutex::new(Workers {
                    publisher: Some(pub_task),
                    witnessing: witness_task,
                    self_audit: audit_task,
                }),
                stats,
                self_audit: audit_tx,
                audit_stop,
            }),
        })
    }
}

impl Log {
    /// Starts opening the log held by `store`, whose checkpoints `signer`
    /// signs with the key `log_key` verifies: see [`LogBuilder`].
    pub fn builder(
        store: Arc<dyn LogStore>,
        signer: Arc<dyn Signer>,
        log_key: VerifierKey,
    ) -> LogBuilder {
        LogBuilder {
            config: LogConfig::new(log_key.name()),
            store,
            signer,
            log_key,
            witnessing: None,
            sequencing: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LogConfig {
        &self.inner.config
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
        // No new appends; the sequencer answers everything this log queued
        // before the leave message, then forgets the log.
        let tx = self
            .inner
            .tx
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(tx) = tx {
            let (left_tx, left) = tokio::sync::oneshot::channel();
            if tx.send(Msg::Leave(self.inner.member, left_tx)).is_ok() {
                let _ = left.await;
            }
        }
        // (The sender is dropped here: a thread of this log's own ends.)
        if self.inner.owns_sequencing {
            self.inner.sequencing.shutdown().await;
        }
        let workers =
            std::mem::take(&mut *self.inner.workers.lock().unwrap_or_else(|e| e.into_inner()));
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
        // The self-audit ends after its page in flight and saves where it
        // is, so that the next start goes on from there.
        self.inner.audit_stop.send_replace(true);
        if let Some(a) = workers.self_audit {
            let _ = a.await;
        }
    }

    /// Ok while the log takes appends; otherwise why not.
    pub(crate) fn check_running(&self) -> Result<(), LogError> {
        match &*self.inner.state.borrow() {
            LogState::Running => Ok(()),
            LogState::Stopping => Err(LogError::ShuttingDown),
            LogState::Failed(m) => Err(LogError::Stopped { reason: m.clone() }),
        }
    }

    /// Hands `msg` to the sequencer.
    pub(crate) fn send(&self, msg: Msg) -> Result<(), LogError> {
        let tx = self.inner.tx.read().unwrap_or_else(|e| e.into_inner());
        match tx.as_ref() {
            Some(tx) if tx.send(msg).is_ok() => Ok(()),
            _ => Err(LogError::NotSequencing),
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

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// The store, for readers that serve tiles.
    pub fn store(&self) -> &Arc<dyn LogStore> {
        &self.inner.store
    }
}
