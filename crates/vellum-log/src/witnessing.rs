//! Getting checkpoints cosigned by witnesses (C2SP tlog-witness), and
//! publishing the checkpoints that meet the log's trust policy.
//!
//! A witness round takes the latest signed checkpoint, sends it to every
//! witness in parallel with a consistency proof from the size that witness
//! last cosigned, merges the cosignatures that come back, and checks the
//! result against the policy. Witnesses that are down or slow time out; the
//! round goes on without them, and sequencing never waits for any of this.
//!
//! The log learns each witness's size from the witness itself: it starts by
//! assuming 0, and a `409 Conflict` names the size to prove from.
//!
//! A round ends by storing the checkpoint with its cosignatures (same note
//! text, more signature lines). If that write fails ambiguously the log
//! stops, as for any ambiguous storage error: whichever note the store
//! holds is a valid checkpoint, and start-up reloads it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use vellum_merkle::{Hash, TreeSize};
use vellum_note::{Note, NoteSignature, Policy};
use vellum_store::{LogStore, StoreError};

use crate::log::LogState;
use crate::publisher::{Published, publish_newer};
use crate::reader;
use crate::signer::BoxFuture;
use crate::stats::{Stats, WitnessStats};

/// Seconds since the Unix epoch (0 if the clock is before it).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Why a witness did not cosign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessFailure {
    /// The witness last cosigned another size; prove from that one.
    #[error("the witness last cosigned size {size}")]
    Conflict {
        /// The size the witness holds.
        size: u64,
    },
    /// Anything else: refused, unreachable, or an answer that did not verify.
    #[error("{0}")]
    Failed(String),
}

/// A witness, as seen by the log.
pub trait Witness: Send + Sync + 'static {
    /// The witness's name (its key name), for logs and policy matching.
    fn name(&self) -> &str;

    /// Asks for cosignatures on `signed_checkpoint`, proving it extends the
    /// witness's `old_size`. Returns the cosignature lines, already verified
    /// against the witness's key.
    fn add_checkpoint<'a>(
        &'a self,
        old_size: u64,
        proof: &'a [Hash],
        signed_checkpoint: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<NoteSignature>, WitnessFailure>>;
}

/// The log's witnesses and what it requires of them.
#[derive(Clone)]
pub struct Witnessing {
    /// The witnesses to ask.
    pub witnesses: Vec<Arc<dyn Witness>>,
    /// The trust policy a checkpoint must meet to count as witnessed.
    pub policy: Policy,
    /// Whether to serve checkpoints that do not (yet) meet the policy.
    pub publish_below_policy: bool,
    /// How long one round waits for the slowest witness.
    pub round_timeout: Duration,
    /// How soon a round that missed the policy is tried again when no new
    /// checkpoint comes.
    pub retry: Duration,
}

impl std::fmt::Debug for Witnessing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witnessing")
            .field(
                "witnesses",
                &self.witnesses.iter().map(|w| w.name()).collect::<Vec<_>>(),
            )
            .field("publish_below_policy", &self.publish_below_policy)
            .field("round_timeout", &self.round_timeout)
            .finish_non_exhaustive()
    }
}

pub(crate) struct WitnessTask {
    pub store: Arc<dyn LogStore>,
    pub cfg: Witnessing,
    pub signed: watch::Receiver<Option<Published>>,
    pub witnessed: watch::Sender<Option<Published>>,
    pub published: watch::Sender<Option<Published>>,
    /// What we believe each witness last cosigned.
    pub known: Vec<AtomicU64>,
    /// The log's state: an ambiguous storage error stops the log.
    pub state: watch::Sender<LogState>,
    pub stats: Arc<Stats>,
}

impl WitnessTask {
    pub async fn run(mut self) {
        let mut done: Option<TreeSize> = self.witnessed.borrow().as_ref().map(|p| p.size);
        loop {
            let latest = self.signed.borrow_and_update().clone();
            let Some(cp) = latest.filter(|cp| done.is_none_or(|d| d < cp.size)) else {
                if self.signed.changed().await.is_err() {
                    return;
                }
                continue;
            };
            let Some(met) = self.round(&cp).await else {
                // The store failed: the log has stopped.
                return;
            };
            if met {
                done = Some(cp.size);
            } else {
                // Below policy: try again after a pause, or sooner if a new
                // checkpoint comes.
                let _ = tokio::time::timeout(self.cfg.retry, self.signed.changed()).await;
            }
        }
    }

    /// One round for `cp`; whether the result met the policy, or `None` if
    /// storing it failed ambiguously and the log stopped.
    async fn round(&self, cp: &Published) -> Option<bool> {
        let asks = self
            .cfg
            .witnesses
            .iter()
            .enumerate()
            .map(|(i, w)| async move {
                let seen = self.stats.witnesses.get(i);
                let count = |c: fn(&WitnessStats) -> &AtomicU64, up: bool| {
                    if let Some(s) = seen {
                        c(s).fetch_add(1, Ordering::Relaxed);
                        s.up.store(u64::from(up), Ordering::Relaxed);
                    }
                };
                match tokio::time::timeout(self.cfg.round_timeout, self.ask(i, cp)).await {
                    Ok(Ok(sigs)) => {
                        if let Some(s) = seen {
                            s.cosigned_size.fetch_max(cp.size.get(), Ordering::Relaxed);
                            s.last_cosigned_unix.store(unix_now(), Ordering::Relaxed);
                        }
                        count(|s| &s.cosigned, true);
                        sigs
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(witness = w.name(), size = cp.size.get(), error = %e, "witness did not cosign");
                        count(|s| &s.failed, false);
                        Vec::new()
                    }
                    Err(_) => {
                        tracing::warn!(witness = w.name(), size = cp.size.get(), "witness timed out");
                        count(|s| &s.timed_out, false);
                        Vec::new()
                    }
                }
            });
        let cosignatures: Vec<NoteSignature> = futures::future::join_all(asks)
            .await
            .into_iter()
            .flatten()
            .collect();
        let merged = match Note::parse(&cp.note).and_then(|mut n| {
            n.add_signatures(cosignatures)?;
            Ok(n)
        }) {
            Ok(n) => Bytes::from(n.to_bytes()),
            Err(e) => {
                tracing::error!(error = %e, "cannot attach cosignatures to the checkpoint");
                return Some(false);
            }
        };
        let (met, unmet) = match self.cfg.policy.check_checkpoint(&merged) {
            Ok(v) => {
                let names = v
                    .cosignatures()
                    .iter()
                    .map(|c| c.witness().to_owned())
                    .collect();
                (
                    self.cfg.policy.evaluate(&names),
                    self.cfg.policy.unmet(&names),
                )
            }
            Err(e) => (false, vec![e.to_string()]),
        };
        let enriched = Published {
            size: cp.size,
            root: cp.root,
            note: merged.clone(),
        };
        // Same note text, more signatures: the store accepts the update.
        let store = self.store.clone();
        let size = cp.size;
        let stored = tokio::task::spawn_blocking(move || store.put_checkpoint(size, &merged))
            .await
            .unwrap_or_else(|e| Err(StoreError::Io(format!("checkpoint task failed: {e}"))));
        match stored {
            Ok(()) => {}
            // The store may or may not hold the cosigned note now: as every
            // ambiguous storage error, this stops the log, which reloads
            // through start-up (either note is a valid checkpoint for it).
            Err(e) if e.is_fatal() => {
                let m = format!("storing the cosigned checkpoint {size}: {e}");
                tracing::error!(reason = %m, "witness round stopped the log");
                self.state.send_replace(LogState::Failed(m));
                return None;
            }
            Err(e) => {
                tracing::error!(size = size.get(), error = %e, "could not store the cosigned checkpoint");
            }
        }
        // Served first, then witnessed: a caller woken by the witnessed
        // checkpoint must find it (or a newer one) served already.
        if met || self.cfg.publish_below_policy {
            publish_newer(&self.published, enriched.clone());
        }
        if met {
            publish_newer(&self.witnessed, enriched);
        } else {
            tracing::warn!(size = size.get(), unmet = ?unmet, "checkpoint does not meet the witness policy yet");
            self.stats
                .witness_rounds_below_policy
                .fetch_add(1, Ordering::SeqCst);
        }
        // Counted last: whoever sees the count sees the round's outcome.
        self.stats.witness_rounds.fetch_add(1, Ordering::SeqCst);
        Some(met)
    }

    async fn ask(&self, i: usize, cp: &Published) -> Result<Vec<NoteSignature>, WitnessFailure> {
        let witness = &self.cfg.witnesses[i];
        // One retry: the first answer may be a 409 naming the size to use.
        for _ in 0..2 {
            let old = self.known[i].load(Ordering::Relaxed);
            if old > cp.size.get() {
                return Err(WitnessFailure::Failed(format!(
                    "the witness has cosigned size {old}, beyond this checkpoint ({}): it has seen a \
                     larger tree of this log",
                    cp.size
                )));
            }
            let proof = self.proof(old, cp.size).await?;
            match witness.add_checkpoint(old, &proof, &cp.note).await {
                Ok(sigs) => {
                    self.known[i].store(cp.size.get(), Ordering::Relaxed);
                    return Ok(sigs);
                }
                Err(WitnessFailure::Conflict { size }) => {
                    // Not a failure by itself (a first contact, or a
                    // witness that restarted), but counted: a conflict on
                    // a running log may mean that the witness saw another
                    // tree.
                    if let Some(s) = self.stats.witnesses.get(i) {
                        s.conflicts.fetch_add(1, Ordering::Relaxed);
                        if size > cp.size.get() {
                            s.conflict_beyond.fetch_max(size, Ordering::Relaxed);
                        }
                    }
                    self.known[i].store(size, Ordering::Relaxed);
                }
                Err(e) => return Err(e),
            }
        }
        Err(WitnessFailure::Failed(
            "the witness's size kept changing".into(),
        ))
    }

    async fn proof(&self, old: u64, new: TreeSize) -> Result<Vec<Hash>, WitnessFailure> {
        let from = TreeSize::new(old).map_err(|e| WitnessFailure::Failed(e.to_string()))?;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || reader::consistency(&*store, from, new))
            .await
            .map_err(|e| WitnessFailure::Failed(e.to_string()))?
            .map_err(|e| WitnessFailure::Failed(format!("reading the proof: {e}")))
    }
}

/// Whether `note` is a checkpoint that meets `policy` (log signature and
/// witness quorum).
pub(crate) fn meets_policy(policy: &Policy, note: &[u8]) -> bool {
    policy.check_checkpoint(note).is_ok_and(|v| {
        let names = v
            .cosignatures()
            .iter()
            .map(|c| c.witness().to_owned())
            .collect();
        policy.evaluate(&names)
    })
}
