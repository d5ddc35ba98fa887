//! Appends: queue the entries (after [`admission`](crate::admission)),
//! wait for the round that sequences them, then, if asked, for a checkpoint
//! that covers them, and answer with their inclusion proofs against it.

use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::oneshot;
use vellum_merkle::{Hash, LeafIndex, leaf_hash};

use crate::error::LogError;
use crate::log::{Log, LogState};
use crate::publisher::Published;
use crate::reader;
use crate::sequencer::{Assigned, Msg, Request};

/// Appends of at most this many entries read their inclusion proofs on the
/// calling task rather than the blocking pool.
const INLINE_PROOFS: usize = 16;

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

impl Log {
    /// Appends `entries` and waits as asked.
    ///
    /// # Errors
    ///
    /// Bad input ([`LogError::NoEntries`], [`LogError::TooManyEntries`],
    /// [`LogError::EntryTooLarge`]) and [`LogError::QueueFull`] queue
    /// nothing; [`LogError::NoWitnesses`] for a witness wait without
    /// witnesses; a stopping or stopped log says so
    /// ([`LogError::is_retryable`]); [`LogError::CheckpointTimeout`] when
    /// a checkpoint wait times out (the entries are sequenced).
    pub async fn append(&self, entries: Vec<Bytes>, wait: Wait) -> Result<Appended, LogError> {
        let permits = self.admit(&entries, wait)?;
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
            _permits: permits,
        };
        self.send(Msg::Append(self.inner.member, req))?;
        self.inner.stats.accepted.fetch_add(1, Ordering::Relaxed);
        let results = answer.await.map_err(|_| LogError::Unanswered)??;
        if wait == Wait::Durable {
            return Ok(Appended {
                results,
                proofs: None,
            });
        }
        let needed = results.iter().map(|a| a.index.get()).max().unwrap_or(0) + 1;
        let indices: Vec<LeafIndex> = results.iter().map(|a| a.index).collect();
        let checkpoint = self.wait_for_checkpoint(wait, needed, &indices).await?;
        let store = self.inner.store.clone();
        let size = checkpoint.size;
        // A few proofs are read in place, as the read calls do: their nodes
        // are recent (memtable or cache) and the read takes microseconds,
        // less than handing it to the blocking pool (a thread switch each
        // way, which a profile at 10k appends/s showed as a top cost).
        // Large calls read on the blocking pool.
        let proofs = if indices.len() <= INLINE_PROOFS {
            reader::inclusion_many(&*store, &indices, size)
        } else {
            tokio::task::spawn_blocking(move || reader::inclusion_many(&*store, &indices, size))
                .await
                .map_err(|e| LogError::Fatal(e.to_string()))?
        }
        .map_err(LogError::Read)?;
        Ok(Appended {
            results,
            proofs: Some((checkpoint, proofs)),
        })
    }

    async fn wait_for_checkpoint(
        &self,
        wait: Wait,
        needed: u64,
        sequenced: &[LeafIndex],
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
            Ok(None) => Err(LogError::StoppedBeforeCheckpoint {
                sequenced: sequenced.to_vec(),
            }),
            Err(_) => Err(LogError::CheckpointTimeout {
                waited: timeout,
                sequenced: sequenced.to_vec(),
            }),
        }
    }

    /// Cuts a round now with whatever is pooled and waits until it is
    /// committed (tests use it instead of sleeping through the pool delay).
    ///
    /// # Errors
    ///
    /// [`LogError::NotSequencing`] when the log is not sequencing.
    pub async fn flush(&self) -> Result<(), LogError> {
        let (tx, rx) = oneshot::channel();
        self.send(Msg::Flush(tx))?;
        rx.await.map_err(|_| LogError::NotSequencing)
    }
}
