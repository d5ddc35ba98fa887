//! The verifying client: every checkpoint it returns verified against the
//! [`Trust`], every proof against such a checkpoint.

use std::cmp::Ordering;
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use vellum_merkle::proof::{verify_consistency, verify_inclusion};
use vellum_merkle::{ConsistencyError, Hash, LeafIndex, TreeSize, leaf_hash};
use vellum_note::TlogProof;

use crate::error::{ClientError, ProofError};
use crate::evidence::{Evidence, EvidenceKind};
use crate::state::TrustedState;
use crate::trust::{Trust, TrustedCheckpoint};
use crate::unverified::{ClientOptions, RawInclusion, UnverifiedClient, Wait};

mod history;
mod record;

pub use history::{History, HistoryEvent, HistoryOf};
pub use record::RecordedEvent;

/// A connection to a log that verifies everything it returns.
///
/// The first checkpoint it verifies fixes the log it follows (its origin);
/// a checkpoint of another log, even one the trust accepts, is refused with
/// [`ClientError::OtherLog`]. It also remembers the largest checkpoint it has
/// seen, so that two different roots for one size are caught even without a
/// [`TrustedState`].
#[derive(Debug)]
pub struct Client {
    raw: UnverifiedClient,
    trust: Trust,
    origin: OnceLock<String>,
    largest: Mutex<Option<TrustedCheckpoint>>,
}

/// One appended entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The entry's index in the log.
    pub index: LeafIndex,
    /// True when the same bytes were already in the log, at `index`.
    pub duplicate: bool,
    /// With [`Wait::Checkpoint`] or [`Wait::Witnessed`]: a tlog-proof of the
    /// entry, verified against the trust.
    pub proof: Option<TlogProof>,
}

/// What [`Client::update_trusted`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The state was empty; it now holds the log's latest checkpoint
    /// (trusted on first use).
    Initialized {
        /// The checkpoint's size.
        size: TreeSize,
    },
    /// The log's latest checkpoint is the trusted one.
    Unchanged {
        /// Its size.
        size: TreeSize,
    },
    /// The log grew, a consistency proof showed it only appended, and the
    /// state now holds the new checkpoint.
    Advanced {
        /// The previous trusted size.
        from: TreeSize,
        /// The new trusted size.
        to: TreeSize,
    },
}

/// A consistency proof from a tree size to a verified checkpoint, from
/// [`Client::consistency_from`].
///
/// Without a signed checkpoint of size `from`, what is established is: the
/// proof is well formed for these sizes and, when `old_root` is `Some`, it
/// leads from that root at size `from` to the verified checkpoint's root.
/// So the tree of size `from` whose root is `old_root` is a prefix of the
/// verified tree. Whether `old_root` is the root *you* hold for that size is
/// for you to compare (or use [`Client::consistency`] with both checkpoints).
#[derive(Clone, Debug)]
pub struct PrefixProof {
    /// The old size.
    pub from: TreeSize,
    /// The latest checkpoint, verified.
    pub checkpoint: TrustedCheckpoint,
    /// The proof hashes.
    pub proof: Vec<Hash>,
    /// The root at size `from` that the proof leads from, when the proof
    /// determines it; `None` when `from` is a power of two, whose root is
    /// the proof's starting point: then nothing but the proof's length could
    /// be checked.
    pub old_root: Option<Hash>,
}

impl Client {
    /// Connects to the log at `url` (`http://host:port`).
    ///
    /// # Errors
    ///
    /// [`ClientError::BadTrust`], [`ClientError::InvalidUrl`],
    /// [`ClientError::Transport`].
    pub async fn connect(url: &str, trust: impl Into<Trust>) -> Result<Client, ClientError> {
        Self::connect_with(url, trust, &ClientOptions::default()).await
    }

    /// Connects with `options`.
    ///
    /// # Errors
    ///
    /// As [`Client::connect`].
    pub async fn connect_with(
        url: &str,
        trust: impl Into<Trust>,
        options: &ClientOptions,
    ) -> Result<Client, ClientError> {
        let trust = trust.into();
        // Refuse an unusable trust before any network traffic.
        trust.policy().map_err(ClientError::BadTrust)?;
        let raw = UnverifiedClient::connect_with(url, options).await?;
        Ok(Client {
            raw,
            trust,
            origin: OnceLock::new(),
            largest: Mutex::new(None),
        })
    }

    /// The trust everything is verified against.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// The connection underneath, which verifies nothing.
    pub fn unverified(&self) -> &UnverifiedClient {
        &self.raw
    }

    /// Verifies a checkpoint note the server sent (`context` names the
    /// answer, for errors), pins the origin, and compares it with the
    /// largest checkpoint seen.
    ///
    /// # Errors
    ///
    /// [`ClientError::BadCheckpoint`], [`ClientError::OtherLog`],
    /// [`ClientError::SplitView`].
    pub fn verify_checkpoint(
        &self,
        note: &[u8],
        context: &str,
    ) -> Result<TrustedCheckpoint, ClientError> {
        let cp = self
            .trust
            .check(note)
            .map_err(|source| ClientError::BadCheckpoint {
                context: context.to_owned(),
                source,
            })?;
        let origin = self.origin.get_or_init(|| cp.origin().to_owned());
        if origin != cp.origin() {
            return Err(ClientError::OtherLog {
                expected: origin.clone(),
                found: cp.origin().to_owned(),
            });
        }
        let mut largest = self.largest.lock().unwrap_or_else(|e| e.into_inner());
        match largest.as_ref() {
            Some(l) if l.size() == cp.size() && l.root() != cp.root() => {
                return Err(split_view_same_size(l, &cp));
            }
            Some(l) if l.size() >= cp.size() => {}
            // Answers to concurrent calls arrive in any order, so a smaller
            // checkpoint here is not a rollback; only the trusted state,
            // advanced in order, can tell.
            _ => *largest = Some(cp.clone()),
        }
        Ok(cp)
    }

    /// Appends `entries` in one call. With [`Wait::Checkpoint`] or
    /// [`Wait::Witnessed`], each result carries a tlog-proof that has been
    /// verified: the checkpoint against the trust, the inclusion of the
    /// entry's exact bytes against its root.
    ///
    /// # Errors
    ///
    /// [`ClientError::Status`] (e.g. `RESOURCE_EXHAUSTED`: nothing was
    /// queued; `DEADLINE_EXCEEDED`: the entries are sequenced but no
    /// checkpoint came in time), [`ClientError::BadCheckpoint`],
    /// [`ClientError::BadProof`], [`ClientError::BadResponse`],
    /// [`ClientError::InvalidArgument`] for an empty `entries`.
    pub async fn append(
        &self,
        entries: Vec<Bytes>,
        wait: Wait,
    ) -> Result<Vec<Appended>, ClientError> {
        if entries.is_empty() {
            return Err(ClientError::InvalidArgument(
                "an append needs at least one entry".into(),
            ));
        }
        let raw = self.raw.append(entries.clone(), wait).await?;
        let indices = raw
            .results
            .iter()
            .map(|r| {
                LeafIndex::new(r.index)
                    .map_err(|e| ClientError::BadResponse(format!("append result: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let Some(note) = raw.checkpoint else {
            return Ok(indices
                .into_iter()
                .zip(raw.results)
                .map(|(index, r)| Appended {
                    index,
                    duplicate: r.duplicate,
                    proof: None,
                })
                .collect());
        };
        let context = format!("append answer (entries at {})", describe(&indices));
        let cp = self.verify_checkpoint(&note, &context)?;
        let mut out = Vec::with_capacity(entries.len());
        for ((entry, r), index) in entries.iter().zip(raw.results).zip(indices) {
            // One signature check for the whole answer; each entry's bytes
            // are then checked against the verified root.
            verify_inclusion(&leaf_hash(entry), index, cp.size(), &r.proof, &cp.root()).map_err(
                |e| ClientError::BadProof {
                    context: format!("append answer, entry {index}"),
                    source: ProofError::Inclusion(e.into()),
                },
            )?;
            let proof = TlogProof::new(None, index, r.proof, note.to_vec()).map_err(|e| {
                ClientError::BadProof {
                    context: format!("append answer, entry {index}"),
                    source: ProofError::Inclusion(e),
                }
            })?;
            out.push(Appended {
                index,
                duplicate: r.duplicate,
                proof: Some(proof),
            });
        }
        Ok(out)
    }

    /// The log's latest checkpoint, verified.
    ///
    /// # Errors
    ///
    /// [`ClientError::Status`] (`FAILED_PRECONDITION` before the log's first
    /// checkpoint), [`ClientError::BadCheckpoint`], [`ClientError::OtherLog`],
    /// [`ClientError::SplitView`].
    pub async fn checkpoint(&self) -> Result<TrustedCheckpoint, ClientError> {
        let note = self.raw.checkpoint().await?;
        self.verify_checkpoint(&note, "latest checkpoint")
    }

    /// A tlog-proof that the entry at `index` is in the log, against the
    /// latest checkpoint, verified.
    ///
    /// # Errors
    ///
    /// As [`Client::entry_and_proof`].
    pub async fn prove(&self, index: u64) -> Result<TlogProof, ClientError> {
        Ok(self.entry_and_proof(index).await?.1)
    }

    /// The entry at `index` and a verified tlog-proof of it against the
    /// latest checkpoint.
    ///
    /// # Errors
    ///
    /// [`ClientError::Status`] (`NOT_FOUND` for an index no checkpoint covers
    /// yet), [`ClientError::BadCheckpoint`], [`ClientError::BadProof`],
    /// [`ClientError::BadResponse`].
    pub async fn entry_and_proof(&self, index: u64) -> Result<(Bytes, TlogProof), ClientError> {
        let raw = self.raw.entry_and_proof(index, 0).await?;
        let entry = raw
            .entry
            .clone()
            .ok_or_else(|| ClientError::BadResponse("no entry in the answer".into()))?;
        let proof = self.verified_inclusion(raw, &entry, &format!("entry {index}"))?;
        Ok((entry, proof))
    }

    /// A tlog-proof that the log holds `entry` (found by its leaf hash),
    /// against the latest checkpoint, verified.
    ///
    /// # Errors
    ///
    /// [`ClientError::Status`] (`NOT_FOUND` when the log does not hold the
    /// entry or no checkpoint covers it yet), [`ClientError::BadCheckpoint`],
    /// [`ClientError::BadProof`], [`ClientError::BadResponse`].
    pub async fn prove_entry(&self, entry: &[u8]) -> Result<TlogProof, ClientError> {
        let raw = self.raw.inclusion_of_entry(entry, 0).await?;
        let context = format!("entry with leaf hash {}", leaf_hash(entry));
        self.verified_inclusion(raw, entry, &context)
    }

    fn verified_inclusion(
        &self,
        raw: RawInclusion,
        entry: &[u8],
        context: &str,
    ) -> Result<TlogProof, ClientError> {
        // INVARIANT: asked at size 0, so the shape check required a checkpoint.
        let note = raw
            .checkpoint
            .ok_or_else(|| ClientError::BadResponse("no checkpoint in the answer".into()))?;
        let cp = self.verify_checkpoint(&note, context)?;
        if raw.tree_size != cp.size().get() {
            return Err(ClientError::BadResponse(format!(
                "{context}: a proof at size {} against a checkpoint of size {}",
                raw.tree_size,
                cp.size()
            )));
        }
        let index = LeafIndex::new(raw.index)
            .map_err(|e| ClientError::BadResponse(format!("{context}: {e}")))?;
        let bad = |source| ClientError::BadProof {
            context: context.to_owned(),
            source: ProofError::Inclusion(source),
        };
        let proof = TlogProof::new(None, index, raw.proof, note.to_vec()).map_err(bad)?;
        let policy = self.trust.policy().map_err(ClientError::BadTrust)?;
        proof.verify(entry, &policy).map_err(bad)?;
        Ok(proof)
    }

    /// The consistency proof from `old` to `new`, verified: `new` extends
    /// `old`. Both checkpoints must already be verified (from this client or
    /// [`Trust::check`]).
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidArgument`] when `old` is larger than `new`,
    /// [`ClientError::OtherLog`] for checkpoints of two logs,
    /// [`ClientError::SplitView`] with evidence when they are of the same
    /// size with different roots or the log's proof does not verify,
    /// [`ClientError::Status`].
    pub async fn consistency(
        &self,
        old: &TrustedCheckpoint,
        new: &TrustedCheckpoint,
    ) -> Result<Vec<Hash>, ClientError> {
        if old.size() > new.size() {
            return Err(ClientError::InvalidArgument(format!(
                "the old checkpoint (size {}) is larger than the new one (size {})",
                old.size(),
                new.size()
            )));
        }
        self.check_extends(old, new).await
    }

    /// The consistency proof from the tree of size `from` to the log's
    /// latest checkpoint, checked as far as it can be without a checkpoint
    /// of size `from` (the log serves only its latest one). See
    /// [`PrefixProof`] for what is established.
    ///
    /// # Errors
    ///
    /// [`ClientError::Status`] (`INVALID_ARGUMENT` or `NOT_FOUND` when `from`
    /// is beyond the latest checkpoint), [`ClientError::BadCheckpoint`],
    /// [`ClientError::BadProof`] when the proof cannot lead to the
    /// checkpoint's root, [`ClientError::BadResponse`].
    pub async fn consistency_from(&self, from: u64) -> Result<PrefixProof, ClientError> {
        let raw = self.raw.consistency(from, 0).await?;
        // INVARIANT: asked with `to` 0, so the shape check required a checkpoint.
        let note = raw
            .checkpoint
            .ok_or_else(|| ClientError::BadResponse("no checkpoint in the answer".into()))?;
        let checkpoint = self.verify_checkpoint(&note, "consistency proof answer")?;
        if raw.to != checkpoint.size().get() {
            return Err(ClientError::BadResponse(format!(
                "a proof to size {} against a checkpoint of size {}",
                raw.to,
                checkpoint.size()
            )));
        }
        let from = TreeSize::new(from).map_err(|e| ClientError::InvalidArgument(e.to_string()))?;
        let old_root = implied_old_root(from, &checkpoint, &raw.proof).map_err(|source| {
            ClientError::BadProof {
                context: format!(
                    "consistency proof from size {from} to the checkpoint of size {}",
                    checkpoint.size()
                ),
                source: ProofError::Consistency(source),
            }
        })?;
        Ok(PrefixProof {
            from,
            checkpoint,
            proof: raw.proof,
            old_root,
        })
    }

    /// Checks that `new` extends `old`: equal, or a verified consistency
    /// proof. Anything else is a conflict, returned with its evidence.
    async fn check_extends(
        &self,
        old: &TrustedCheckpoint,
        new: &TrustedCheckpoint,
    ) -> Result<Vec<Hash>, ClientError> {
        if old.origin() != new.origin() {
            return Err(ClientError::OtherLog {
                expected: old.origin().to_owned(),
                found: new.origin().to_owned(),
            });
        }
        match new.size().cmp(&old.size()) {
            Ordering::Equal if new.root() == old.root() => Ok(Vec::new()),
            Ordering::Equal => Err(split_view_same_size(old, new)),
            Ordering::Less => Err(ClientError::Rollback(Box::new(Evidence::new(
                EvidenceKind::Rollback,
                format!(
                    "the log served a checkpoint of size {} after one of size {}",
                    new.size(),
                    old.size()
                ),
                old,
                new,
                None,
            )))),
            Ordering::Greater => {
                let raw = self
                    .raw
                    .consistency(old.size().get(), new.size().get())
                    .await?;
                match verify_consistency(
                    old.size(),
                    &old.root(),
                    new.size(),
                    &new.root(),
                    &raw.proof,
                ) {
                    Ok(()) => Ok(raw.proof),
                    Err(e) => Err(ClientError::SplitView(Box::new(Evidence::new(
                        EvidenceKind::Inconsistent,
                        format!(
                            "the log's consistency proof from size {} to {} does not verify: {e}",
                            old.size(),
                            new.size()
                        ),
                        old,
                        new,
                        Some(raw.proof),
                    )))),
                }
            }
        }
    }

    /// Fetches the log's latest checkpoint and advances `state` to it, only
    /// through a consistency proof from the trusted checkpoint that
    /// verifies. An empty state trusts the latest checkpoint (first use).
    ///
    /// The state file is replaced atomically before this returns
    /// [`Step::Advanced`] or [`Step::Initialized`]; on any error it is left
    /// as it was.
    ///
    /// # Errors
    ///
    /// [`ClientError::SplitView`] (same size, different root; or a proof
    /// that does not verify) and [`ClientError::Rollback`] (a smaller
    /// checkpoint) with their [`Evidence`]; [`ClientError::OtherLog`] when
    /// the state is of another log; [`ClientError::State`] when the file
    /// cannot be written; the errors of [`Client::checkpoint`].
    pub async fn update_trusted(&self, state: &mut TrustedState) -> Result<Step, ClientError> {
        let latest = self.checkpoint().await?;
        let Some(trusted) = state.checkpoint().cloned() else {
            let size = latest.size();
            state.replace(latest)?;
            return Ok(Step::Initialized { size });
        };
        self.check_extends(&trusted, &latest).await?;
        if latest.size() == trusted.size() {
            return Ok(Step::Unchanged {
                size: trusted.size(),
            });
        }
        let step = Step::Advanced {
            from: trusted.size(),
            to: latest.size(),
        };
        state.replace(latest)?;
        Ok(step)
    }

    /// Up to `count` entries from `start`, as the log serves them. They are
    /// **not** verified: to rely on an entry, get its proof with
    /// [`Client::prove`] (or recompute the tree from all entries and compare
    /// with a verified checkpoint).
    ///
    /// # Errors
    ///
    /// [`ClientError::Status`] (`NOT_FOUND` past the end of the log),
    /// [`ClientError::BadResponse`].
    pub async fn entries(&self, start: u64, count: u32) -> Result<Vec<Bytes>, ClientError> {
        self.raw.entries(start, count).await
    }
}

/// The root of the tree of size `from` that `proof` leads from, checked to
/// lead to `new`'s root; `None` when `from` is a power of two (and neither 0
/// nor `new`'s size), whose root is where the proof starts and so not in it.
fn implied_old_root(
    from: TreeSize,
    new: &TrustedCheckpoint,
    proof: &[Hash],
) -> Result<Option<Hash>, ConsistencyError> {
    let (m, n, new_root) = (from.get(), new.size(), new.root());
    if m == 0 {
        verify_consistency(from, &Hash::empty_root(), n, &new_root, proof)?;
        return Ok(Some(Hash::empty_root()));
    }
    if m == n.get() {
        verify_consistency(from, &new_root, n, &new_root, proof)?;
        return Ok(Some(new_root));
    }
    if m.is_power_of_two() {
        // Still refuse a proof that cannot be one (wrong length, sizes out
        // of order): any root then gives the same error.
        match verify_consistency(from, &Hash::empty_root(), n, &new_root, proof) {
            Err(
                e @ (ConsistencyError::WrongLength { .. }
                | ConsistencyError::SizesOutOfOrder { .. }),
            ) => {
                return Err(e);
            }
            _ => return Ok(None),
        }
    }
    // Otherwise the proof holds the old root's parts: a first check with any
    // root reports the root the proof leads to, a second one checks that
    // the same proof then leads to the new root.
    let probe = Hash::default();
    match verify_consistency(from, &probe, n, &new_root, proof) {
        Ok(()) => Ok(Some(probe)),
        Err(ConsistencyError::OldRootMismatch { calculated, .. }) => {
            verify_consistency(from, &calculated, n, &new_root, proof)?;
            Ok(Some(calculated))
        }
        Err(e) => Err(e),
    }
}

fn split_view_same_size(old: &TrustedCheckpoint, new: &TrustedCheckpoint) -> ClientError {
    ClientError::SplitView(Box::new(Evidence::new(
        EvidenceKind::SplitView,
        format!(
            "two checkpoints of size {} with different roots: {} and {}",
            old.size(),
            old.root(),
            new.root()
        ),
        old,
        new,
        None,
    )))
}

fn describe(indices: &[LeafIndex]) -> String {
    match (indices.first(), indices.last()) {
        (Some(a), Some(b)) if indices.len() > 1 => format!("indices {a}..={b}"),
        (Some(a), _) => format!("index {a}"),
        _ => "no index".into(),
    }
}
