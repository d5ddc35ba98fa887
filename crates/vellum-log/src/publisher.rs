//! Checkpoint publication: after rounds commit, get the newest tree head
//! signed and publish it.
//!
//! Order, and what a crash at each step leaves:
//!
//! 1. read the consistency proof from the signer's last size: nothing.
//! 2. the signer checks it, journals the checkpoint, signs: the signer now
//!    remembers the size even if we crash before hearing back; at start-up
//!    the log reads the signer's state and continues from it.
//! 3. `store.put_checkpoint` (synced): the checkpoint can be served after a
//!    restart without asking the signer.
//! 4. publish in memory: waiters get their proofs against it.
//!
//! Signing coalesces: while one signature is in flight, rounds keep
//! committing, and the next checkpoint covers all of them. A signer that is
//! down delays checkpoints, never sequencing. A signer that *refuses* means
//! our tree does not extend what was signed: fatal.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::watch;
use vellum_merkle::{Hash, TreeSize};
use vellum_note::{Checkpoint, SignedCheckpoint, VerifierKey};
use vellum_store::{LogStore, TreeHead};

use crate::log::LogState;
use crate::reader;
use crate::signer::{SignError, Signer};

/// A checkpoint the log has published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// Its tree size.
    pub size: TreeSize,
    /// Its root.
    pub root: Hash,
    /// The signed note, as served.
    pub note: Bytes,
}

pub(crate) struct Publisher {
    pub store: Arc<dyn LogStore>,
    pub signer: Arc<dyn Signer>,
    pub log_key: VerifierKey,
    pub origin: String,
    pub committed: watch::Receiver<TreeHead>,
    /// Every checkpoint the log signs, as soon as it is stored.
    pub signed_tx: watch::Sender<Option<Published>>,
    pub state: watch::Sender<LogState>,
    /// The signer's last signed size, as far as we know.
    pub signed_size: Option<TreeSize>,
    pub retry: std::time::Duration,
    /// The least time between the starts of two signatures
    /// ([`crate::LogConfig::checkpoint_interval`]).
    pub interval: std::time::Duration,
    /// The log's counters (signer failures).
    pub stats: Arc<crate::stats::Stats>,
}

/// The longest pause between attempts to reach the signer.
const MAX_BACKOFF: std::time::Duration = std::time::Duration::from_secs(5);

enum Failure {
    Retry(String),
    Fatal(String),
}

impl Publisher {
    pub async fn run(mut self) {
        // Backoff between failed attempts: a signer that is down is asked
        // again soon, then less often, and its outage is logged once per try.
        let mut backoff = self.retry;
        loop {
            // A failed log (a storage error, a refusal, a self-audit
            // finding) signs nothing more.
            if self.failed() {
                return;
            }
            let head = *self.committed.borrow_and_update();
            let needs_signing = self.signed_size.is_none_or(|s| s < head.size);
            if !needs_signing {
                // Wait for the next round; an error means the sequencer is
                // gone (shutdown or failure) and everything it committed is
                // signed.
                if self.committed.changed().await.is_err() {
                    let head = *self.committed.borrow();
                    if self.signed_size.is_none_or(|s| s < head.size) {
                        continue;
                    }
                    return;
                }
                continue;
            }
            let started = tokio::time::Instant::now();
            match self.publish(head).await {
                Ok(()) => {
                    backoff = self.retry;
                    // Rounds committed meanwhile are covered by the next
                    // signature, which waits out the interval.
                    if !self.interval.is_zero() {
                        tokio::time::sleep_until(started + self.interval).await;
                    }
                }
                Err(Failure::Retry(m)) => {
                    tracing::warn!(reason = %m, retry_in = ?backoff, "checkpoint not signed yet");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(Failure::Fatal(m)) => {
                    tracing::error!(reason = %m, "checkpoint publication stopped the log");
                    self.state.send_replace(LogState::Failed(m));
                    return;
                }
            }
        }
    }

    async fn publish(&mut self, head: TreeHead) -> Result<(), Failure> {
        let from = self.signed_size.unwrap_or(TreeSize::ZERO);
        let proof = if self.signed_size.is_none() {
            Vec::new()
        } else {
            let store = self.store.clone();
            tokio::task::spawn_blocking(move || reader::consistency(&*store, from, head.size))
                .await
                .map_err(|e| Failure::Fatal(format!("proof task failed: {e}")))?
                .map_err(|e| Failure::Fatal(format!("reading the consistency proof: {e}")))?
        };
        let text = Checkpoint::new(&self.origin, head.size, head.root)
            .map_err(|e| Failure::Fatal(format!("cannot form checkpoint: {e}")))?
            .to_text();
        // The log may have failed while the proof was read (the self-audit
        // runs beside this task): then nothing is signed.
        if self.failed() {
            return Ok(());
        }
        let note = match self.signer.sign(&text, from, &proof).await {
            Ok(note) => note,
            Err(SignError::StaleOldSize { signed_size }) => {
                self.resync(signed_size).await?;
                return Ok(());
            }
            Err(SignError::Unavailable(m)) => {
                self.stats
                    .signer_failed(&format!("signer unavailable: {m}"));
                return Err(Failure::Retry(m));
            }
            Err(SignError::Refused(m)) => {
                self.stats
                    .signer_failed(&format!("signer refused checkpoint {}: {m}", head.size));
                return Err(Failure::Fatal(format!(
                    "the signer refused checkpoint {} of the stored tree: {m}",
                    head.size
                )));
            }
        };
        // Never publish what we did not check: the note must be the log
        // key's signature on exactly the text we asked for.
        let opened = SignedCheckpoint::open(&note, &self.log_key, &[])
            .map_err(|e| Failure::Fatal(format!("the signer returned a bad checkpoint: {e}")))?;
        if opened.checkpoint().to_text() != text {
            return Err(Failure::Fatal(
                "the signer returned a checkpoint for another tree".into(),
            ));
        }
        self.signed_size = Some(head.size);
        // Nor published, if it failed while the signer signed: the signer
        // remembers the checkpoint, which a restart takes up (as when its
        // answer is lost).
        if self.failed() {
            return Ok(());
        }
        self.store_and_publish(head.size, head.root, note).await
    }

    fn failed(&self) -> bool {
        matches!(*self.state.borrow(), LogState::Failed(_))
    }

    /// The signer says it is at another size than we thought (another
    /// instance signed, or our last request landed without an answer). Learn
    /// its state, and check that it is a tree we hold.
    async fn resync(&mut self, claimed: u64) -> Result<(), Failure> {
        let note = self
            .signer
            .last_signed()
            .await
            .map_err(|e| Failure::Retry(e.to_string()))?
            .ok_or_else(|| {
                Failure::Fatal(format!(
                    "signer claims size {claimed} but has no checkpoint"
                ))
            })?;
        let opened = SignedCheckpoint::open(&note, &self.log_key, &[]).map_err(|e| {
            Failure::Fatal(format!("the signer's last checkpoint does not verify: {e}"))
        })?;
        let cp = opened.checkpoint().clone();
        let head = *self.committed.borrow();
        if cp.size() > head.size {
            return Err(Failure::Fatal(format!(
                "the signer has signed size {} but this log has committed only {}",
                cp.size(),
                head.size
            )));
        }
        let store = self.store.clone();
        let size = cp.size();
        let root = tokio::task::spawn_blocking(move || reader::root_at(&*store, size))
            .await
            .map_err(|e| Failure::Fatal(e.to_string()))?
            .map_err(|e| Failure::Fatal(e.to_string()))?;
        if root != cp.root() {
            return Err(Failure::Fatal(format!(
                "the signer signed root {} for size {}, the store has {root}",
                cp.root(),
                cp.size()
            )));
        }
        self.signed_size = Some(cp.size());
        let newer = self
            .signed_tx
            .borrow()
            .as_ref()
            .is_none_or(|p| p.size < cp.size());
        if newer {
            self.store_and_publish(cp.size(), cp.root(), note).await?;
        }
        Ok(())
    }

    async fn store_and_publish(
        &mut self,
        size: TreeSize,
        root: Hash,
        note: Bytes,
    ) -> Result<(), Failure> {
        let store = self.store.clone();
        let stored = note.clone();
        tokio::task::spawn_blocking(move || store.put_checkpoint(size, &stored))
            .await
            .map_err(|e| Failure::Fatal(format!("checkpoint task failed: {e}")))?
            .map_err(|e| Failure::Fatal(format!("storing checkpoint {size}: {e}")))?;
        publish_newer(&self.signed_tx, Published { size, root, note });
        Ok(())
    }
}

/// Replaces a published checkpoint with `new` unless that would go back in
/// time: `new` must be larger, or the same checkpoint with more signature
/// lines (cosignatures arriving). Readers never see the size shrink.
pub(crate) fn publish_newer(tx: &watch::Sender<Option<Published>>, new: Published) {
    let lines = |n: &Bytes| n.iter().filter(|b| **b == b'\n').count();
    tx.send_if_modified(|cur| {
        let newer = match cur {
            None => true,
            Some(c) => {
                new.size > c.size || (new.size == c.size && lines(&new.note) > lines(&c.note))
            }
        };
        if newer {
            *cur = Some(new);
        }
        newer
    });
}
